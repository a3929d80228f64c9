# cmake -DIN=husk-dmz -DOUT=dmz_blob.c -P embed.cmake: the program as
# const unsigned char husk_dmz_blob[] (runtime/dmz.c execs it from a memfd).
file(READ ${IN} HEX HEX)
string(LENGTH "${HEX}" N)
math(EXPR N "${N} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${HEX}")
file(WRITE ${OUT} "/* generated from runtime/dmz/husk-dmz.c by runtime/dmz/embed.cmake */
#include <stddef.h>
extern const unsigned char husk_dmz_blob[];
extern const size_t husk_dmz_blob_len;
const unsigned char husk_dmz_blob[] = {${BYTES}};
const size_t husk_dmz_blob_len = ${N};
")
