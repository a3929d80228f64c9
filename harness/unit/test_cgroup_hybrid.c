/* A hybrid host (like this machine): v1 controllers plus a cgroup2 mount at
 * unified carrying only hugetlb.  The v1 backend sets the limits, the unified
 * part gives CLONE_INTO_CGROUP, cgroup.kill and hugetlb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_cgroup_fake.h"

static void test_cgroup_hybrid_limits_on_v1_unified_untouched(void **state)
{
  (void)state;
  fake f;
  fake_hybrid(&f);
  husk_resources *r = res_parse("{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":20},"
                                "\"cpu\":{\"shares\":1024}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  assert_journal("memory/husk/c1/memory.limit_in_bytes=1048576");
  assert_journal("pids/husk/c1/pids.max=20");
  assert_journal("cpu/husk/c1/cpu.shares=1024"); /* v1: shares as given */
  assert_no_journal("unified/");                 /* nothing to delegate there */
  assert_true(fake_exists(&f, "unified/husk/c1"));
  assert_true(husk_cgroup_clone_fd(cg) >= 0);

  husk_err err = {0};
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_enter(cg, 77, true, &err), 0);
  assert_int_equal(journal_count("/cgroup.procs=77"), 8); /* the v1 hierarchies */
  assert_no_journal("unified/husk/c1/cgroup.procs");
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_enter(cg, 78, false, &err), 0);
  assert_journal("unified/husk/c1/cgroup.procs=78");

  /* v1 freezer for pause; the unified part lists the processes */
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_freeze(cg, true, &err), 0);
  assert_string_equal(husk_cgroup_journal(), "freezer/husk/c1/freezer.state=FROZEN\n");
  assert_true(husk_cgroup_is_frozen(cg));
  fake_file(&f, "unified/husk/c1/cgroup.procs", "5\n6\n");
  pid_t *pids = NULL;
  size_t n = 0;
  assert_int_equal(husk_cgroup_pids(cg, &pids, &n, &err), 0);
  assert_int_equal(n, 2);
  free(pids);

  /* delete: cgroup.kill on the unified part, every directory removed */
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  assert_journal("unified/husk/c1/cgroup.kill=1");
  static const char *const dirs[] = {"unified", "memory", "pids",   "cpu,cpuacct", "freezer",
                                     "devices", "blkio",  "cpuset", "systemd"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dirs); i++) {
    char rel[128];
    snprintf(rel, sizeof(rel), "%s/husk/c1", dirs[i]);
    if (fake_exists(&f, rel))
      fail_msg("%s left after destroy", rel);
  }
  husk_cgroup_free(cg);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_hybrid_hugetlb_on_unified(void **state)
{
  (void)state;
  fake f;
  fake_hybrid(&f);
  husk_resources *r = res_parse("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304},"
                                "{\"pageSize\":\"1GB\",\"limit\":0}]}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  assert_journal("unified/cgroup.subtree_control=+hugetlb");
  assert_journal("unified/husk/cgroup.subtree_control=+hugetlb");
  assert_journal("unified/husk/c1/hugetlb.2MB.max=4194304");
  assert_journal("unified/husk/c1/hugetlb.1GB.max=0");
  husk_err err = {0};
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);
  husk_resources_free(r);

  /* a page size the kernel does not have: named */
  r = res_parse("{\"hugepageLimits\":[{\"pageSize\":\"16GB\",\"limit\":0}]}");
  const char *msg = fake_create_error("c2", r);
  assert_non_null(strstr(msg, "linux.resources.hugepageLimits"));
  assert_non_null(strstr(msg, "hugetlb.16GB.max"));
  assert_false(fake_exists(&f, "unified/husk/c2"));
  assert_false(fake_exists(&f, "memory/husk/c2"));
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_hybrid_unified_keys_only_for_unified_controllers(void **state)
{
  (void)state;
  fake f;
  fake_hybrid(&f);
  husk_resources *r = res_parse("{\"unified\":{\"memory.high\":\"1000000\"}}");
  const char *msg = fake_create_error("c1", r);
  assert_non_null(strstr(msg, "linux.resources.unified.memory.high"));
  assert_non_null(strstr(msg, "hybrid"));
  husk_resources_free(r);

  r = res_parse("{\"unified\":{\"hugetlb.2MB.max\":\"2097152\"}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  husk_err err = {0};
  assert_journal("unified/cgroup.subtree_control=+hugetlb");
  assert_journal("unified/husk/c1/hugetlb.2MB.max=2097152");
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_hybrid_open_saved_path(void **state)
{
  (void)state;
  fake f;
  fake_hybrid(&f);
  husk_cgroup *cg = fake_create_ok("c1", NULL, NULL);
  husk_cgroup *again = NULL;
  husk_err err = {0};
  assert_int_equal(husk_cgroup_open(husk_cgroup_path(cg), &again, &err), 0);
  assert_true(husk_cgroup_clone_fd(again) >= 0);
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_enter(again, 9, false, &err), 0);
  assert_int_equal(journal_count("/cgroup.procs=9"), 9);
  assert_int_equal(husk_cgroup_destroy(again, &err), 0);
  assert_false(fake_exists(&f, "unified/husk/c1"));
  husk_cgroup_free(again);
  husk_cgroup_free(cg);
  fake_done(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_hybrid_limits_on_v1_unified_untouched),
      cmocka_unit_test(test_cgroup_hybrid_hugetlb_on_unified),
      cmocka_unit_test(test_cgroup_hybrid_unified_keys_only_for_unified_controllers),
      cmocka_unit_test(test_cgroup_hybrid_open_saved_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
