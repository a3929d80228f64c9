/* libFuzzer target: image references (husk_ref_parse and the printers). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = 0;
  husk_err err = {0};
  husk_ref r;
  memset(&r, 0, sizeof(r));
  if (husk_ref_parse(s, &r, &err) == 0) {
    free(husk_ref_repo(&r));
    free(husk_ref_familiar_repo(&r));
    char *full = husk_ref_string(&r);
    if (full) {
      free(husk_ref_familiar(full));
      free(full);
    }
    husk_ref_free(&r);
  }
  husk_digest_valid(s);
  husk_ref_is_domain(s, size);
  free(s);
  return 0;
}
