/* husk error object: every fallible function returns a negative errno-style
 * code and fills a husk_err with context.  The library never prints. */
#ifndef HUSK_ERROR_H
#define HUSK_ERROR_H

#include <stdarg.h>

typedef struct husk_err {
  int code;       /* positive errno value (0 when unset) */
  char msg[1024]; /* human readable, one line, no trailing newline */
} husk_err;

/* Set err to "<fmt...>: strerror(code)" (the suffix is omitted when code is 0).
 * Returns -code (or -1 when code is 0) so callers can `return husk_errorf(...)`. */
int husk_errorf(husk_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like husk_errorf but without the strerror suffix. */
int husk_errorf_plain(husk_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context: "<fmt...>: <previous message>".  Returns -err->code (or -1). */
int husk_error_wrap(husk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The return value matching err (negative). */
int husk_error_ret(const husk_err *err);

void husk_error_clear(husk_err *err);

#endif
