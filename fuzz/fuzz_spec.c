/* libFuzzer target: config.json (husk_spec_parse). */
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  husk_err err = {0};
  husk_spec *spec = NULL;
  if (husk_spec_parse((const char *)data, size, &spec, &err) == 0)
    husk_spec_free(spec);
  return 0;
}
