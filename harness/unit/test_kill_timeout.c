/* HUSK_KILL_TIMEOUT: how long a kill waits for processes SIGKILL cannot end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "container.h"

static void test_default_is_ten_seconds(void **state)
{
  (void)state;
  unsetenv("HUSK_KILL_TIMEOUT");
  assert_int_equal(husk_kill_timeout_ms(), 10000);
  setenv("HUSK_KILL_TIMEOUT", "", 1);
  assert_int_equal(husk_kill_timeout_ms(), 10000);
}

static void test_seconds_may_be_fractional(void **state)
{
  (void)state;
  setenv("HUSK_KILL_TIMEOUT", "1", 1);
  assert_int_equal(husk_kill_timeout_ms(), 1000);
  setenv("HUSK_KILL_TIMEOUT", "0.25", 1);
  assert_int_equal(husk_kill_timeout_ms(), 250);
  setenv("HUSK_KILL_TIMEOUT", "0", 1);
  assert_int_equal(husk_kill_timeout_ms(), 0);
  unsetenv("HUSK_KILL_TIMEOUT");
}

static void test_bad_values_fall_back_to_the_default(void **state)
{
  (void)state;
  static const char *const bad[] = {"-1", "ten", "5s", "1e9", "nan"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setenv("HUSK_KILL_TIMEOUT", bad[i], 1);
    assert_int_equal(husk_kill_timeout_ms(), 10000);
  }
  unsetenv("HUSK_KILL_TIMEOUT");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_is_ten_seconds),
      cmocka_unit_test(test_seconds_may_be_fractional),
      cmocka_unit_test(test_bad_values_fall_back_to_the_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
