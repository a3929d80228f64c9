/* Rootless cgroups against fake trees (v2 and hybrid) that cannot be
 * written: the fake root is bind-mounted read-only over itself in a private
 * mount namespace of this test process, so every mkdir fails with EROFS, as
 * a cgroup tree not delegated to the user does (with EACCES).  And a
 * writable (delegated) tree still gets the limits. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>

#include <cmocka.h>

#include "test_cgroup_fake.h"

static const char LIMITS[] = "{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":20}}";
static const char DEVICES_ONLY[] = "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}";

static int private_mount_ns(void **state)
{
  (void)state;
  if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
    return -1; /* not root: the group is skipped as failed setup */
  return 0;
}

static void make_readonly(fake *f)
{
  if (mount(f->root, f->root, "none", MS_BIND, NULL) < 0 ||
      mount("none", f->root, "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
    fail_msg("read-only bind of %s: %s", f->root, strerror(errno));
}

static void undo_readonly(fake *f)
{
  umount2(f->root, MNT_DETACH);
}

static int create(const char *id, const husk_resources *r, bool rootless, husk_err *warning,
                  husk_cgroup **cg, husk_err *err)
{
  husk_cgroup_config cfg = {.id = id, .resources = r, .rootless = rootless, .warning = warning};
  *cg = NULL;
  memset(err, 0, sizeof(*err));
  return husk_cgroup_create(&cfg, cg, err);
}

static void readonly_cases(fake *f)
{
  husk_err err, warning;
  husk_cgroup *cg = NULL;
  husk_resources *limits = res_parse(LIMITS);
  husk_resources *devices = res_parse(DEVICES_ONLY);
  make_readonly(f);

  /* no limits asked: no cgroup of its own, silently */
  memset(&warning, 0, sizeof(warning));
  assert_int_equal(create("c1", NULL, true, &warning, &cg, &err), 0);
  assert_null(cg);
  assert_int_equal(warning.code, 0);
  /* device rules only: a user namespace cannot make device nodes anyway */
  assert_int_equal(create("c2", devices, true, &warning, &cg, &err), 0);
  assert_null(cg);
  assert_int_equal(warning.code, 0);
  /* limits: run without them, with a warning naming the cause */
  assert_int_equal(create("c3", limits, true, &warning, &cg, &err), 0);
  assert_null(cg);
  assert_int_not_equal(warning.code, 0);
  assert_non_null(strstr(warning.msg, "rootless: resource limits ignored: cgroups are not "
                                      "delegated to this user"));
  assert_non_null(strstr(warning.msg, "Read-only file system"));
  /* ... but only when the caller can tell the user */
  assert_true(create("c4", limits, true, NULL, &cg, &err) < 0);
  assert_null(cg);
  assert_int_equal(err.code, EROFS);
  /* not rootless: an error, limits or not */
  assert_true(create("c5", NULL, false, &warning, &cg, &err) < 0);
  assert_int_equal(err.code, EROFS);

  undo_readonly(f);
  assert_false(fake_exists(f, "husk"));
  husk_resources_free(limits);
  husk_resources_free(devices);
}

static void test_cgroup_rootless_v2_not_delegated(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, "cpuset cpu io memory pids");
  readonly_cases(&f);
  fake_done(&f);
}

static void test_cgroup_rootless_hybrid_not_delegated(void **state)
{
  (void)state;
  fake f;
  fake_hybrid(&f);
  readonly_cases(&f);
  fake_done(&f);
}

static void test_cgroup_rootless_v2_delegated_gets_the_limits(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, "cpuset cpu io memory pids");
  husk_resources *limits = res_parse(LIMITS);
  husk_err err, warning = {0};
  husk_cgroup *cg = NULL;
  assert_int_equal(create("c6", limits, true, &warning, &cg, &err), 0);
  assert_non_null(cg);
  assert_int_equal(warning.code, 0);
  assert_journal("husk/c6/memory.max=67108864");
  assert_journal("husk/c6/pids.max=20");
  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  husk_cgroup_free(cg);
  husk_resources_free(limits);
  fake_done(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_rootless_v2_not_delegated),
      cmocka_unit_test(test_cgroup_rootless_hybrid_not_delegated),
      cmocka_unit_test(test_cgroup_rootless_v2_delegated_gets_the_limits),
  };
  return cmocka_run_group_tests(tests, private_mount_ns, NULL);
}
