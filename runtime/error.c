#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int ret_for(int code)
{
  return code > 0 ? -code : -1;
}

static int vset(husk_err *err, int code, int with_errno, const char *fmt, va_list ap)
{
  if (err == NULL)
    return ret_for(code);
  err->code = code;
  int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  if (n < 0)
    n = 0;
  if ((size_t)n < sizeof(err->msg) && with_errno && code > 0)
    snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
  return ret_for(code);
}

int husk_errorf(husk_err *err, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int r = vset(err, code, 1, fmt, ap);
  va_end(ap);
  return r;
}

int husk_errorf_plain(husk_err *err, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int r = vset(err, code, 0, fmt, ap);
  va_end(ap);
  return r;
}

int husk_error_wrap(husk_err *err, const char *fmt, ...)
{
  if (err == NULL)
    return -1;
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof(prefix), fmt, ap);
  va_end(ap);
  char old[sizeof(err->msg)];
  memcpy(old, err->msg, sizeof(old));
  snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
  return ret_for(err->code);
}

int husk_error_ret(const husk_err *err)
{
  return err ? ret_for(err->code) : -1;
}

void husk_error_clear(husk_err *err)
{
  if (err) {
    err->code = 0;
    err->msg[0] = '\0';
  }
}
