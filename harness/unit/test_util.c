/* Signal parsing, integer parsing, error formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "error.h"
#include "util.h"

static void test_signal_numbers(void **state)
{
  (void)state;
  assert_int_equal(husk_parse_signal("9"), 9);
  assert_int_equal(husk_parse_signal("15"), 15);
  assert_int_equal(husk_parse_signal("1"), 1);
  assert_true(husk_parse_signal("0") < 0);
  assert_true(husk_parse_signal("65") < 0);
  assert_true(husk_parse_signal("-9") < 0);
  assert_true(husk_parse_signal("9x") < 0);
  assert_true(husk_parse_signal("") < 0);
  assert_true(husk_parse_signal(NULL) < 0);
}

static void test_signal_names(void **state)
{
  (void)state;
  assert_int_equal(husk_parse_signal("KILL"), SIGKILL);
  assert_int_equal(husk_parse_signal("SIGKILL"), SIGKILL);
  assert_int_equal(husk_parse_signal("sigterm"), SIGTERM);
  assert_int_equal(husk_parse_signal("term"), SIGTERM);
  assert_int_equal(husk_parse_signal("HUP"), SIGHUP);
  assert_int_equal(husk_parse_signal("SIGWINCH"), SIGWINCH);
  assert_int_equal(husk_parse_signal("RTMIN"), SIGRTMIN);
  assert_int_equal(husk_parse_signal("RTMIN+3"), SIGRTMIN + 3);
  assert_int_equal(husk_parse_signal("SIGRTMAX-1"), SIGRTMAX - 1);
  assert_true(husk_parse_signal("RTMAX+1") < 0);
  assert_true(husk_parse_signal("RTMIN+") < 0);
  assert_true(husk_parse_signal("SIGFOO") < 0);
  assert_true(husk_parse_signal("SIG") < 0);
  assert_string_equal(husk_signal_name(SIGTERM), "TERM");
  assert_null(husk_signal_name(0));
}

static void test_parse_integers(void **state)
{
  (void)state;
  uint64_t u;
  int64_t i;
  assert_int_equal(husk_parse_u64("18446744073709551615", &u), 0);
  assert_true(u == UINT64_MAX);
  assert_true(husk_parse_u64("18446744073709551616", &u) < 0);
  assert_true(husk_parse_u64("-1", &u) < 0);
  assert_true(husk_parse_u64(" 1", &u) < 0);
  assert_int_equal(husk_parse_i64("-42", &i), 0);
  assert_true(i == -42);
  assert_true(husk_parse_i64("--1", &i) < 0);
  assert_true(husk_parse_i64("1e3", &i) < 0);
}

static void test_error_context(void **state)
{
  (void)state;
  husk_err err = {0};
  int r = husk_errorf(&err, EPERM, "mount %s on %s", "proc", "/proc");
  assert_int_equal(r, -EPERM);
  assert_string_equal(err.msg, "mount proc on /proc: Operation not permitted");
  r = husk_error_wrap(&err, "create container %s", "c1");
  assert_int_equal(r, -EPERM);
  assert_string_equal(err.msg, "create container c1: mount proc on /proc: Operation not permitted");
  r = husk_errorf_plain(&err, EINVAL, "bad %d", 3);
  assert_int_equal(r, -EINVAL);
  assert_string_equal(err.msg, "bad 3");
  assert_int_equal(husk_errorf(NULL, ENOENT, "x"), -ENOENT);
  /* very long messages are truncated, never overflow */
  char big[4096];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  husk_errorf(&err, EIO, "%s", big);
  assert_true(strlen(err.msg) < sizeof(err.msg));
  husk_error_wrap(&err, "%s", big);
  assert_true(strlen(err.msg) < sizeof(err.msg));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signal_numbers),
      cmocka_unit_test(test_signal_names),
      cmocka_unit_test(test_parse_integers),
      cmocka_unit_test(test_error_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
