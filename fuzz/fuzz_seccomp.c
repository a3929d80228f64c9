/* libFuzzer target: linux.seccomp (husk_seccomp_parse, then compiling the
 * parsed profile to BPF in memory). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "husk_seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 1 << 20)
    return 0;
  json_tokener *tok = json_tokener_new();
  json_object *obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
  json_tokener_free(tok);
  if (obj == NULL)
    return 0;
  husk_err err = {0};
  husk_seccomp *s = NULL;
  if (husk_seccomp_parse(obj, &s, &err) == 0 && s) {
    husk_seccomp_prog prog = {0};
    if (husk_seccomp_compile(s, &prog, &err) == 0)
      husk_seccomp_prog_clear(&prog);
    husk_seccomp_free(s);
  }
  json_object_put(obj);
  return 0;
}
