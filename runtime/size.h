/* Size strings as docker takes them: "100" (bytes), "512k", "64m", "1g",
 * "1.5g", "64MiB", "2gb" -- binary units, case-insensitive. */
#ifndef HUSK_SIZE_H
#define HUSK_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Parse a size into bytes.  `what` names the flag in the error message
 * ("--memory"). */
int husk_parse_size(const char *s, const char *what, uint64_t *out, husk_err *err);

/* Human readable size ("1.5GiB", "64MiB", "100B") into buf. */
void husk_format_size(uint64_t bytes, char *buf, size_t len);

#endif
