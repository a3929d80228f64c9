/* cgroup v2 backend against a fake unified tree: controller delegation, the
 * v1 -> v2 conversions as written, CLONE_INTO_CGROUP fd, freezer, kill,
 * missing controllers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_cgroup_fake.h"

static const char FULL[] =
    "{\"memory\":{\"limit\":67108864,\"reservation\":33554432,\"swap\":134217728,"
    "\"swappiness\":10,\"disableOOMKiller\":true},"
    "\"cpu\":{\"shares\":512,\"quota\":20000,\"period\":100000,\"cpus\":\"1-2\",\"mems\":\"0\"},"
    "\"pids\":{\"limit\":64},"
    "\"blockIO\":{\"weight\":300,\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":200}],"
    "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}],"
    "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":100}]},"
    "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
    "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}]}";

#define ALL "cpuset cpu io memory hugetlb pids rdma misc"

static void test_cgroup_v2_create_converts_and_delegates(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, ALL);
  husk_resources *r = res_parse(FULL);
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  assert_string_equal(husk_cgroup_path(cg), "/husk/c1");
  assert_true(husk_cgroup_clone_fd(cg) >= 0);

  /* every ancestor delegates what the spec needs plus cpu/io/memory/pids */
  assert_journal("cgroup.subtree_control=+cpuset +cpu +io +memory +hugetlb +pids");
  assert_journal("husk/cgroup.subtree_control=+cpuset +cpu +io +memory +hugetlb +pids");
  assert_no_journal("+rdma");
  assert_journal("husk/c1/cpuset.cpus=1-2");
  assert_journal("husk/c1/cpuset.mems=0");
  /* shares 512 -> 1 + (510 * 9999) / 262142 = 20 */
  assert_journal("husk/c1/cpu.weight=20");
  assert_journal("husk/c1/cpu.max=20000 100000");
  assert_journal("husk/c1/memory.max=67108864");
  /* v1 memory+swap 128M with memory 64M -> 64M of swap */
  assert_journal("husk/c1/memory.swap.max=67108864");
  assert_journal("husk/c1/memory.low=33554432");
  assert_journal("husk/c1/pids.max=64");
  /* blkio weight 300 -> 1 + (290 * 9999) / 990 = 2930; 200 -> 1920 */
  assert_journal("husk/c1/io.weight=default 2930");
  assert_journal("husk/c1/io.weight=8:0 1920");
  assert_journal("husk/c1/io.max=8:0 rbps=1048576");
  assert_journal("husk/c1/io.max=8:16 wiops=100");
  assert_journal("husk/c1/hugetlb.2MB.max=4194304");
  /* devices: one BPF program from the spec's rules + the defaults */
  const char *j = husk_cgroup_journal();
  const char *bpf = strstr(j, "husk/c1/bpf.cgroup_device=");
  assert_non_null(bpf);
  assert_non_null(strstr(bpf, "insns: deny a *:* rwm,allow c 1:3 rw,allow c *:* m,allow b *:* m,"));
  assert_non_null(strstr(bpf, "allow c 136:* rwm\n"));
  /* no v2 equivalent: not written */
  assert_no_journal("swappiness");
  assert_no_journal("oom");
  assert_no_journal("cgroup.procs");

  husk_err err = {0};
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_enter(cg, 99, true, &err), 0);
  assert_string_equal(husk_cgroup_journal(), ""); /* CLONE_INTO_CGROUP did it */
  assert_int_equal(husk_cgroup_enter(cg, 99, false, &err), 0);
  assert_string_equal(husk_cgroup_journal(), "husk/c1/cgroup.procs=99\n");

  /* the next container: ancestors already delegate, nothing to write */
  husk_cgroup_journal_reset();
  husk_cgroup *cg2 = fake_create_ok("c2", NULL, NULL);
  assert_string_equal(husk_cgroup_journal(), "");
  assert_true(fake_exists(&f, "husk/c2/memory.max"));

  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  assert_journal("husk/c1/cgroup.kill=1");
  assert_false(fake_exists(&f, "husk/c1"));
  assert_int_equal(husk_cgroup_destroy(cg2, &err), 0);
  assert_false(fake_exists(&f, "husk/c2"));
  assert_true(fake_exists(&f, "husk"));
  husk_cgroup_free(cg);
  husk_cgroup_free(cg2);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_v2_missing_controller(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, "cpu memory");
  husk_resources *r = res_parse("{\"pids\":{\"limit\":10}}");
  assert_non_null(strstr(fake_create_error("c1", r),
                         "linux.resources.pids: the pids cgroup controller is not available"));
  assert_false(fake_exists(&f, "husk"));
  husk_resources_free(r);

  /* not asked for: only the available ones are delegated */
  r = res_parse("{\"memory\":{\"limit\":4096000}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  husk_err err = {0};
  assert_journal("cgroup.subtree_control=+cpu +memory");
  assert_journal("husk/c1/memory.max=4096000");
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_v2_unsupported_v1_only_options(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, ALL);
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{\"cpu\":{\"realtimeRuntime\":1000}}", "linux.resources.cpu.realtimeRuntime"},
      {"{\"network\":{\"classID\":1}}", "linux.resources.network"},
      {"{\"memory\":{\"swap\":1000000}}", "without a memory limit"},
      {"{\"unified\":{\"memory.nosuchfile\":\"1\"}}", "linux.resources.unified.memory.nosuchfile"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    husk_resources *r = res_parse(cases[i].json);
    const char *msg = fake_create_error("c1", r);
    if (strstr(msg, cases[i].msg) == NULL)
      fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].json, msg, cases[i].msg);
    assert_false(fake_exists(&f, "husk/c1"));
    husk_resources_free(r);
  }
  fake_done(&f);
}

static void test_cgroup_v2_update(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, ALL);
  husk_resources *r =
      res_parse("{\"memory\":{\"limit\":67108864},\"cpu\":{\"quota\":20000,\"period\":100000}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  husk_resources_free(r);
  husk_err err = {0};

  /* the period alone keeps the quota that is set */
  husk_cgroup_journal_reset();
  r = res_parse("{\"cpu\":{\"period\":50000}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_string_equal(husk_cgroup_journal(), "husk/c1/cpu.max=20000 50000\n");
  husk_resources_free(r);

  /* swap alone: converted against the current memory.max */
  husk_cgroup_journal_reset();
  r = res_parse("{\"memory\":{\"swap\":100663296}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_string_equal(husk_cgroup_journal(), "husk/c1/memory.swap.max=33554432\n");
  husk_resources_free(r);

  /* unlimited */
  husk_cgroup_journal_reset();
  r = res_parse("{\"memory\":{\"limit\":-1},\"cpu\":{\"quota\":-1},\"pids\":{\"limit\":-1}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_journal("husk/c1/memory.max=max");
  assert_journal("husk/c1/memory.swap.max=max");
  assert_journal("husk/c1/cpu.max=max");
  assert_journal("husk/c1/pids.max=max");
  husk_resources_free(r);

  /* unified keys are written as given */
  husk_cgroup_journal_reset();
  r = res_parse("{\"unified\":{\"memory.high\":\"50000000\"}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_string_equal(husk_cgroup_journal(), "husk/c1/memory.high=50000000\n");
  husk_resources_free(r);

  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);
  fake_done(&f);
}

static void test_cgroup_v2_freeze_and_open(void **state)
{
  (void)state;
  fake f;
  fake_v2(&f, ALL);
  husk_cgroup *cg = fake_create_ok("c1", NULL, NULL);
  husk_cgroup *again = NULL;
  husk_err err = {0};
  assert_int_equal(husk_cgroup_open("/husk/c1", &again, &err), 0);
  assert_true(husk_cgroup_clone_fd(again) >= 0);
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_freeze(again, true, &err), 0);
  assert_string_equal(husk_cgroup_journal(), "husk/c1/cgroup.freeze=1\n");
  assert_true(husk_cgroup_is_frozen(cg));
  assert_int_equal(husk_cgroup_freeze(again, false, &err), 0);
  assert_false(husk_cgroup_is_frozen(cg));
  fake_file(&f, "husk/c1/cgroup.procs", "42\n");
  pid_t *pids = NULL;
  size_t n = 0;
  assert_int_equal(husk_cgroup_pids(again, &pids, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_int_equal(pids[0], 42);
  free(pids);
  fake_file(&f, "husk/c1/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  fake_file(&f, "husk/c1/memory.current", "8192\n");
  fake_file(&f, "husk/c1/memory.max", "max\n");
  fake_file(&f, "husk/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  json_object *data = NULL, *v;
  assert_int_equal(husk_cgroup_stats(again, &data, &err), 0);
  assert_true(json_pointer_get(data, "/cpu/usage/total", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 1500000);
  assert_true(json_pointer_get(data, "/memory/usage/usage", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 8192);
  assert_true(json_pointer_get(data, "/memory/usage/failcnt", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 3);
  assert_true(json_pointer_get(data, "/memory/oomKill", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 1);
  json_object_put(data);
  assert_int_equal(husk_cgroup_destroy(again, &err), 0);
  assert_false(fake_exists(&f, "husk/c1"));
  husk_cgroup_free(again);
  husk_cgroup_free(cg);
  fake_done(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_v2_create_converts_and_delegates),
      cmocka_unit_test(test_cgroup_v2_missing_controller),
      cmocka_unit_test(test_cgroup_v2_unsupported_v1_only_options),
      cmocka_unit_test(test_cgroup_v2_update),
      cmocka_unit_test(test_cgroup_v2_freeze_and_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
