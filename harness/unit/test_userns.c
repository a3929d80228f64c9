/* Rootless helpers: subordinate id files, the maps built from them, user
 * namespace detection, and the spawn helper newuidmap runs through. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "userns.h"
#include "util.h"

static char *write_tmp(const char *content)
{
  char *path = husk_xstrdup("/tmp/husk-test-subid-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(husk_write_all(fd, content, strlen(content)), 0);
  close(fd);
  return path;
}

static void test_subid_range_finds_the_user(void **state)
{
  (void)state;
  _cleanup_free_ char *p = write_tmp("# comment\n"
                                     "alice:100000:65536\n"
                                     "bob:x:10\n"            /* malformed: skipped */
                                     "carol:4294967295:10\n" /* overflows: skipped */
                                     "carol:200000:0\n"      /* empty: skipped */
                                     "carol:300000:1000\n"   /* the first good one */
                                     "1234:400000:5\n"       /* by uid */
                                     "carol:500000:1000\n");
  uint32_t s = 0, n = 0;
  assert_int_equal(husk_subid_range(p, "alice", 999, &s, &n), 0);
  assert_int_equal(s, 100000);
  assert_int_equal(n, 65536);
  assert_int_equal(husk_subid_range(p, "carol", 999, &s, &n), 0);
  assert_int_equal(s, 300000);
  assert_int_equal(n, 1000);
  assert_int_equal(husk_subid_range(p, "dave", 1234, &s, &n), 0);
  assert_int_equal(s, 400000);
  assert_int_equal(husk_subid_range(p, NULL, 1234, &s, &n), 0);
  assert_int_equal(husk_subid_range(p, "bob", 999, &s, &n), -ENOENT);
  assert_int_equal(husk_subid_range(p, "nobody", 1, &s, &n), -ENOENT);
  assert_int_equal(husk_subid_range("/nonexistent/subuid", "alice", 1, &s, &n), -ENOENT);
  unlink(p);
}

static void test_rootless_maps_own_id_then_the_range(void **state)
{
  (void)state;
  char line[64];
  snprintf(line, sizeof(line), "%u:700000:4096\n", (unsigned)geteuid());
  _cleanup_free_ char *uidf = write_tmp(line);
  snprintf(line, sizeof(line), "%u:800000:2048\n", (unsigned)geteuid());
  _cleanup_free_ char *gidf = write_tmp(line);
  husk_idmap u[2], g[2];
  size_t nu = 0, ng = 0;
  husk_rootless_idmaps(uidf, gidf, u, &nu, g, &ng);
  assert_int_equal(nu, 2);
  assert_int_equal(u[0].container_id, 0);
  assert_int_equal(u[0].host_id, geteuid());
  assert_int_equal(u[0].size, 1);
  assert_int_equal(u[1].container_id, 1);
  assert_int_equal(u[1].host_id, 700000);
  assert_int_equal(u[1].size, 4096);
  assert_int_equal(ng, 2);
  assert_int_equal(g[0].host_id, getegid());
  assert_int_equal(g[1].host_id, 800000);
  assert_int_equal(g[1].size, 2048);
  /* no range granted: only our own id */
  husk_rootless_idmaps("/nonexistent/subuid", "/nonexistent/subgid", u, &nu, g, &ng);
  assert_int_equal(nu, 1);
  assert_int_equal(ng, 1);
  unlink(uidf);
  unlink(gidf);
}

static void test_in_userns_only_inside_one(void **state)
{
  (void)state;
  /* a child that has not asked before, in a new user namespace */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWUSER) < 0)
      _exit(77);
    _exit(husk_in_userns() && husk_rootless() ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77)
    skip();
  assert_int_equal(WEXITSTATUS(status), 0);
  /* the test itself runs in the initial one */
  assert_false(husk_in_userns());
  assert_int_equal(husk_rootless(), geteuid() != 0);
}

static void test_spawn_capture(void **state)
{
  (void)state;
  /* valgrind 3.19 turns posix_spawn's clone(CLONE_VM|CLONE_VFORK) into a
   * fork whose child never reaches execve: it cannot run this one */
  const char *preload = getenv("LD_PRELOAD");
  if (preload && strstr(preload, "vgpreload"))
    skip();
  husk_err err = {0};
  char out[64];
  int status = -1;
  char *sh[] = {(char *)"sh", (char *)"-c", (char *)"cat; echo err >&2; exit 3", NULL};
  assert_int_equal(husk_spawn_capture(sh, "in\n", out, sizeof(out), &status, &err), 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 3);
  assert_string_equal(out, "in\nerr\n");
  /* long output is truncated, the child still finishes */
  char *yes[] = {(char *)"/bin/sh", (char *)"-c", (char *)"seq 1 100000", NULL};
  assert_int_equal(husk_spawn_capture(yes, NULL, out, 8, &status, &err), 0);
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_string_equal(out, "1\n2\n3\n4");
  char *missing[] = {(char *)"husk-no-such-program", NULL};
  assert_int_equal(husk_spawn_capture(missing, NULL, out, sizeof(out), &status, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "husk-no-such-program"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subid_range_finds_the_user),
      cmocka_unit_test(test_rootless_maps_own_id_then_the_range),
      cmocka_unit_test(test_in_userns_only_inside_one),
      cmocka_unit_test(test_spawn_capture),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
