#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int unit_shift(const char *u, unsigned *shift)
{
  static const struct {
    const char *name;
    unsigned shift;
  } units[] = {
      {"", 0},    {"b", 0},    {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20},
      {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},
      {"tb", 40}, {"tib", 40}, {"p", 50}, {"pb", 50}, {"pib", 50},
  };
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcasecmp(u, units[i].name) == 0) {
      *shift = units[i].shift;
      return 0;
    }
  }
  return -EINVAL;
}

int husk_parse_size(const char *s, const char *what, uint64_t *out, husk_err *err)
{
  if (what == NULL)
    what = "size";
  if (s == NULL || *s == '\0')
    return husk_errorf_plain(err, EINVAL, "%s: empty size", what);
  const char *p = s;
  uint64_t whole = 0;
  size_t ndigits = 0;
  for (; isdigit((unsigned char)*p); p++, ndigits++) {
    uint64_t d = (uint64_t)(*p - '0');
    if (whole > UINT64_MAX / 10 || (whole == UINT64_MAX / 10 && d > UINT64_MAX % 10))
      return husk_errorf_plain(err, ERANGE, "%s: size %s is too large", what, s);
    whole = whole * 10 + d;
  }
  /* an optional fraction: up to 9 digits are kept */
  uint64_t frac = 0, frac_div = 1;
  size_t nfrac = 0;
  if (*p == '.') {
    p++;
    for (; isdigit((unsigned char)*p); p++, nfrac++) {
      if (frac_div < 1000000000ULL) {
        frac = frac * 10 + (uint64_t)(*p - '0');
        frac_div *= 10;
      }
    }
    if (nfrac == 0)
      return husk_errorf_plain(err, EINVAL, "%s: invalid size %s", what, s);
  }
  if (ndigits == 0)
    return husk_errorf_plain(err, EINVAL,
                             "%s: invalid size %s (want a number with an optional unit "
                             "b, k, m, g, t: 512k, 64m, 1g)",
                             what, s);
  unsigned shift;
  if (unit_shift(p, &shift) < 0)
    return husk_errorf_plain(
        err, EINVAL, "%s: invalid size %s: unknown unit \"%s\" (use b, k, m, g or t)", what, s, p);
  if (shift < 64 && whole > (UINT64_MAX >> shift))
    return husk_errorf_plain(err, ERANGE, "%s: size %s is too large", what, s);
  uint64_t v = whole << shift;
  if (frac) {
    /* frac/frac_div of a unit, in 128 bits: frac < 1e9 and the unit <= 2^50 */
    unsigned __int128 f = (unsigned __int128)frac << shift;
    f /= frac_div;
    if (v > UINT64_MAX - (uint64_t)f)
      return husk_errorf_plain(err, ERANGE, "%s: size %s is too large", what, s);
    v += (uint64_t)f;
  }
  *out = v;
  return 0;
}

void husk_format_size(uint64_t bytes, char *buf, size_t len)
{
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t u = 0;
  double v = (double)bytes;
  while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
    v /= 1024.0;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%lluB", (unsigned long long)bytes);
  else if (v == (double)(uint64_t)v)
    snprintf(buf, len, "%llu%s", (unsigned long long)v, units[u]);
  else
    snprintf(buf, len, "%.3g%s", v, units[u]);
}
