/* Size strings of --memory / --memory-swap: units, fractions, case, and the
 * errors for everything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "size.h"

static uint64_t size_ok(const char *s)
{
  husk_err err = {0};
  uint64_t v = 0;
  if (husk_parse_size(s, "--memory", &v, &err) < 0)
    fail_msg("%s: unexpected error: %s", s, err.msg);
  return v;
}

static void size_fails(const char *s, int code, const char *want_substring)
{
  husk_err err = {0};
  uint64_t v = 12345;
  int r = husk_parse_size(s, "--memory", &v, &err);
  if (r >= 0)
    fail_msg("%s: parsed as %llu, expected an error", s ? s : "(null)", (unsigned long long)v);
  assert_int_equal(r, -code);
  assert_int_equal(err.code, code);
  assert_int_equal(v, 12345); /* untouched */
  if (strstr(err.msg, want_substring) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want_substring);
  if (strstr(err.msg, "--memory") == NULL)
    fail_msg("error \"%s\" does not name the flag", err.msg);
}

static void test_plain_bytes(void **state)
{
  (void)state;
  assert_int_equal(size_ok("100"), 100);
  assert_int_equal(size_ok("0"), 0);
  assert_int_equal(size_ok("100b"), 100);
  assert_int_equal(size_ok("100B"), 100);
}

static void test_binary_units(void **state)
{
  (void)state;
  assert_int_equal(size_ok("512k"), 512 * 1024);
  assert_int_equal(size_ok("64m"), 64 * 1024 * 1024);
  assert_int_equal(size_ok("1g"), 1024ULL * 1024 * 1024);
  assert_int_equal(size_ok("2t"), 2ULL << 40);
  assert_int_equal(size_ok("1p"), 1ULL << 50);
}

static void test_unit_spellings_and_case(void **state)
{
  (void)state;
  assert_int_equal(size_ok("64M"), 64 << 20);
  assert_int_equal(size_ok("64mb"), 64 << 20);
  assert_int_equal(size_ok("64MB"), 64 << 20);
  assert_int_equal(size_ok("64MiB"), 64 << 20);
  assert_int_equal(size_ok("64mib"), 64 << 20);
  assert_int_equal(size_ok("3KB"), 3 << 10);
  assert_int_equal(size_ok("1GiB"), 1 << 30);
}

static void test_fractions(void **state)
{
  (void)state;
  assert_int_equal(size_ok("1.5g"), 3ULL << 29);
  assert_int_equal(size_ok("0.5m"), 512 * 1024);
  assert_int_equal(size_ok("1.25k"), 1280);
  /* a fraction of a byte is dropped */
  assert_int_equal(size_ok("1.9"), 1);
}

static void test_bad_strings(void **state)
{
  (void)state;
  size_fails("", EINVAL, "empty");
  size_fails(NULL, EINVAL, "empty");
  size_fails("m", EINVAL, "invalid size m");
  size_fails("-1", EINVAL, "invalid size -1");
  size_fails("64x", EINVAL, "unknown unit \"x\"");
  size_fails("64 m", EINVAL, "unknown unit \" m\"");
  size_fails("64mm", EINVAL, "unknown unit \"mm\"");
  size_fails("1.g", EINVAL, "invalid size 1.g");
  size_fails(".5g", EINVAL, "invalid size .5g");
  size_fails("0x10", EINVAL, "unknown unit \"x10\"");
}

static void test_overflow(void **state)
{
  (void)state;
  size_fails("18446744073709551616", ERANGE, "too large");
  size_fails("16385p", ERANGE, "too large");
  assert_int_equal(size_ok("18446744073709551615"), UINT64_MAX);
  assert_int_equal(size_ok("16383p"), 16383ULL << 50);
}

static void test_format(void **state)
{
  (void)state;
  char buf[32];
  husk_format_size(100, buf, sizeof(buf));
  assert_string_equal(buf, "100B");
  husk_format_size(64 << 20, buf, sizeof(buf));
  assert_string_equal(buf, "64MiB");
  husk_format_size(3ULL << 29, buf, sizeof(buf));
  assert_string_equal(buf, "1.5GiB");
  /* format -> parse round trip */
  husk_format_size(512 << 10, buf, sizeof(buf));
  assert_int_equal(size_ok(buf), 512 << 10);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_bytes),
      cmocka_unit_test(test_binary_units),
      cmocka_unit_test(test_unit_spellings_and_case),
      cmocka_unit_test(test_fractions),
      cmocka_unit_test(test_bad_strings),
      cmocka_unit_test(test_overflow),
      cmocka_unit_test(test_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
