/* OCI hooks: each runs with the container state JSON on stdin and an optional
 * timeout. */
#ifndef HUSK_HOOKS_H
#define HUSK_HOOKS_H

#include "error.h"
#include "spec.h"

const char *husk_hook_kind_name(enum husk_hook_kind k);

/* Run every hook of `kind` in order; the first failure stops and is returned. */
int husk_hooks_run(const husk_spec *spec, enum husk_hook_kind kind, const char *state_json,
                   husk_err *err);

#endif
