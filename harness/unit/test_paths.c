/* Mount targets are resolved inside the container root: symlinks and ".."
 * never lead outside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

static char base[PATH_MAX], rootfs[PATH_MAX], outside[PATH_MAX];

static int setup(void **state)
{
  (void)state;
  snprintf(base, sizeof(base), "/tmp/husk-test-paths-XXXXXX");
  if (mkdtemp(base) == NULL)
    return -1;
  snprintf(rootfs, sizeof(rootfs), "%s/rootfs", base);
  snprintf(outside, sizeof(outside), "%s/outside", base);
  mkdir(rootfs, 0755);
  mkdir(outside, 0755);
  char p[PATH_MAX];
  snprintf(p, sizeof(p), "%s/etc", rootfs);
  mkdir(p, 0755);
  /* absolute and relative symlinks that point out of the root */
  snprintf(p, sizeof(p), "%s/evil", rootfs);
  if (symlink(outside, p) < 0)
    return -1;
  snprintf(p, sizeof(p), "%s/up", rootfs);
  if (symlink("../../..", p) < 0)
    return -1;
  snprintf(p, sizeof(p), "%s/dangling", rootfs);
  if (symlink("/nonexistent/x", p) < 0)
    return -1;
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
  return system(cmd) == 0 ? 0 : -1;
}

static bool outside_is_empty(void)
{
  char p[PATH_MAX];
  snprintf(p, sizeof(p), "%s/x", outside);
  struct stat st;
  snprintf(p, sizeof(p), "%s/data", outside);
  if (lstat(p, &st) == 0)
    return false;
  snprintf(p, sizeof(p), "%s/file", outside);
  return lstat(p, &st) != 0;
}

static void test_symlink_target_stays_inside(void **state)
{
  (void)state;
  int rootfd = open(rootfs, O_PATH | O_DIRECTORY);
  assert_true(rootfd >= 0);
  husk_err err;
  int fd = -1;
  /* /evil -> <outside>: resolved as <rootfs>/<outside path> instead */
  char link[64], real[PATH_MAX];
  ssize_t n;
  int r = husk_mkpath_in_root(rootfd, "/evil/data", false, &fd, &err);
  assert_true(outside_is_empty());
  if (r == 0) {
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, real, sizeof(real) - 1);
    assert_true(n > 0);
    real[n] = '\0';
    assert_memory_equal(real, rootfs, strlen(rootfs));
    close(fd);
  } else {
    /* refused: the symlink's target does not exist inside the root */
    assert_non_null(strstr(err.msg, "evil"));
  }
  /* ../ through a symlink is clamped at the root */
  assert_int_equal(husk_mkpath_in_root(rootfd, "/up/file", true, &fd, &err), 0);
  n = readlink((snprintf(link, sizeof(link), "/proc/self/fd/%d", fd), link), real,
               sizeof(real) - 1);
  real[n] = '\0';
  char want[PATH_MAX];
  snprintf(want, sizeof(want), "%s/file", rootfs);
  assert_string_equal(real, want);
  close(fd);
  assert_true(outside_is_empty());
  close(rootfd);
}

static void test_dotdot_is_clamped(void **state)
{
  (void)state;
  int rootfd = open(rootfs, O_PATH | O_DIRECTORY);
  int fd = husk_open_in_root(rootfd, "../../../../etc", O_PATH);
  assert_true(fd >= 0);
  char link[64], real[PATH_MAX];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, real, sizeof(real) - 1);
  real[n] = '\0';
  char want[PATH_MAX];
  snprintf(want, sizeof(want), "%s/etc", rootfs);
  assert_string_equal(real, want);
  close(fd);
  close(rootfd);
}

static void test_dangling_symlink_is_an_error(void **state)
{
  (void)state;
  int rootfd = open(rootfs, O_PATH | O_DIRECTORY);
  husk_err err;
  int fd = -1;
  /* the link's target would be created inside the root: accepted, but it
   * must never be created on the host */
  int r = husk_mkpath_in_root(rootfd, "/dangling", false, &fd, &err);
  if (r == 0)
    close(fd);
  else
    assert_non_null(strstr(err.msg, "dangling"));
  struct stat st;
  assert_int_not_equal(stat("/nonexistent/x", &st), 0);
  close(rootfd);
}

static void test_nested_create(void **state)
{
  (void)state;
  int rootfd = open(rootfs, O_PATH | O_DIRECTORY);
  husk_err err;
  int fd = -1;
  assert_int_equal(husk_mkpath_in_root(rootfd, "a/b/c/d", false, &fd, &err), 0);
  close(fd);
  char p[PATH_MAX];
  snprintf(p, sizeof(p), "%s/a/b/c/d", rootfs);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  /* a file where a directory component is expected */
  assert_int_equal(husk_mkpath_in_root(rootfd, "a/f", true, &fd, &err), 0);
  close(fd);
  assert_true(husk_mkpath_in_root(rootfd, "a/f/x", false, &fd, &err) < 0);
  close(rootfd);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_symlink_target_stays_inside),
      cmocka_unit_test(test_dotdot_is_clamped),
      cmocka_unit_test(test_dangling_symlink_is_an_error),
      cmocka_unit_test(test_nested_create),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
