/* libFuzzer target: an OCI process object (husk_process_parse, as used by
 * `exec --process FILE`). */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spec.h"

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
  husk_process p;
  memset(&p, 0, sizeof(p));
  husk_process_parse(obj, &p, &err);
  husk_process_clear(&p);
  json_object_put(obj);
  return 0;
}
