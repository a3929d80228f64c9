/* cgroup v1 backend against a fake cgroupfs tree: the exact files and values
 * written, hierarchy discovery (comounted cpu,cpuacct), cpuset
 * initialisation, path resolution, missing controllers, cleanup. */
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
    "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}]},"
    "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
    "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}]}";

static void test_cgroup_v1_create_writes_exactly_the_spec(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_resources *r = res_parse(FULL);
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  assert_string_equal(husk_cgroup_path(cg), "/husk/c1");
  assert_int_equal(husk_cgroup_clone_fd(cg), -1);

  /* new cpuset levels inherit the parent's cpus/mems, then the spec's */
  assert_journal("cpuset/husk/cpuset.cpus=0-3");
  assert_journal("cpuset/husk/cpuset.mems=0");
  assert_journal("cpuset/husk/c1/cpuset.cpus=1-2");
  assert_journal("cpuset/husk/c1/cpuset.mems=0");
  assert_no_journal("cpuset/husk/c1/cpuset.cpus=0-3");
  /* cpu: the comounted cpu,cpuacct hierarchy, period before quota */
  assert_journal("cpu/husk/c1/cpu.shares=512");
  assert_before("cpu/husk/c1/cpu.cfs_period_us=100000", "cpu/husk/c1/cpu.cfs_quota_us=20000");
  assert_true(fake_exists(&f, "cpu,cpuacct/husk/c1"));
  /* memory: fresh cgroup, limit then memsw */
  assert_before("memory/husk/c1/memory.limit_in_bytes=67108864",
                "memory/husk/c1/memory.memsw.limit_in_bytes=134217728");
  assert_journal("memory/husk/c1/memory.soft_limit_in_bytes=33554432");
  assert_journal("memory/husk/c1/memory.swappiness=10");
  assert_journal("memory/husk/c1/memory.oom_control=1");
  assert_journal("pids/husk/c1/pids.max=64");
  assert_journal("blkio/husk/c1/blkio.weight=300");
  assert_journal("blkio/husk/c1/blkio.weight_device=8:0 200");
  assert_journal("blkio/husk/c1/blkio.throttle.read_bps_device=8:0 1048576");
  assert_journal("hugetlb/husk/c1/hugetlb.2MB.limit_in_bytes=4194304");
  /* devices: the spec's rules first, then the runtime's defaults */
  assert_before("devices/husk/c1/devices.deny=a", "devices/husk/c1/devices.allow=c 1:3 rw");
  assert_before("devices/husk/c1/devices.allow=c 1:3 rw", "devices/husk/c1/devices.allow=c *:* m");
  assert_journal("devices/husk/c1/devices.allow=c 136:* rwm");
  assert_journal("devices/husk/c1/devices.allow=c 1:9 rwm");
  /* nothing the spec did not ask for */
  assert_no_journal("freezer/");
  assert_no_journal("systemd/");
  assert_no_journal("kmem");
  assert_no_journal("use_hierarchy");
  assert_no_journal("cgroup.procs");
  assert_string_equal(fake_read(&f, "memory/husk/c1/memory.limit_in_bytes"), "67108864");

  husk_err err = {0};
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_enter(cg, 4242, false, &err), 0);
  /* one write per hierarchy: cpu and cpuacct share one */
  assert_int_equal(journal_count("/cgroup.procs=4242"), 9);
  assert_journal("cpu/husk/c1/cgroup.procs=4242");
  assert_no_journal("cpuacct/husk");

  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  static const char *const dirs[] = {"cpuset",  "cpu,cpuacct", "memory",  "pids",   "blkio",
                                     "devices", "freezer",     "hugetlb", "systemd"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dirs); i++) {
    char rel[128];
    snprintf(rel, sizeof(rel), "%s/husk/c1", dirs[i]);
    if (fake_exists(&f, rel))
      fail_msg("%s left after destroy", rel);
  }
  assert_true(fake_exists(&f, "memory/husk"));
  husk_cgroup_free(cg);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_v1_no_resources_writes_nothing(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_cgroup *cg = fake_create_ok("c0", NULL, NULL);
  /* only the cpuset inheritance that makes the cgroup usable */
  const char *j = husk_cgroup_journal();
  for (const char *l = j; *l;) {
    const char *nl = strchr(l, '\n');
    if (strncmp(l, "cpuset/husk", 11) != 0)
      fail_msg("unexpected write: %.*s", (int)(nl - l), l);
    l = nl + 1;
  }
  assert_true(fake_exists(&f, "freezer/husk/c0"));
  husk_err err = {0};
  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  husk_cgroup_free(cg);
  fake_done(&f);
}

static void test_cgroup_v1_missing_controller_named_when_asked(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, false); /* no pids hierarchy */
  husk_resources *r = res_parse("{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":10}}");
  const char *msg = fake_create_error("c1", r);
  assert_non_null(strstr(msg, "linux.resources.pids"));
  assert_non_null(strstr(msg, "pids cgroup controller is not available"));
  assert_false(fake_exists(&f, "memory/husk/c1"));
  husk_resources_free(r);

  /* not asked for: skipped silently */
  r = res_parse("{\"memory\":{\"limit\":1048576}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  husk_err err = {0};
  assert_journal("memory/husk/c1/memory.limit_in_bytes=1048576");
  assert_false(fake_exists(&f, "pids"));
  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  husk_cgroup_free(cg);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_v1_failure_leaves_nothing(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  /* no swap accounting: a swap limit cannot be honoured */
  char p[PATH_MAX];
  snprintf(p, sizeof(p), "%s/memory/memory.memsw.limit_in_bytes", f.root);
  unlink(p);
  husk_resources *r = res_parse("{\"memory\":{\"limit\":1048576,\"swap\":4194304}}");
  const char *msg = fake_create_error("c1", r);
  assert_non_null(strstr(msg, "linux.resources.memory.swap"));
  assert_non_null(strstr(msg, "swap accounting"));
  assert_false(fake_exists(&f, "memory/husk/c1"));
  assert_false(fake_exists(&f, "cpu,cpuacct/husk/c1"));
  assert_false(fake_exists(&f, "cpuset/husk/c1"));
  husk_resources_free(r);

  /* swap equal to the limit (no swap) is fine without memsw */
  r = res_parse("{\"memory\":{\"limit\":1048576,\"swap\":1048576}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  husk_err err = {0};
  assert_no_journal("memsw");
  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  husk_cgroup_free(cg);
  husk_resources_free(r);
  fake_done(&f);
}

static void test_cgroup_v1_existing_busy_cgroup_is_refused_and_kept(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  fake_file(&f, "memory/husk/c1/cgroup.procs", "123\n");
  assert_non_null(strstr(fake_create_error("c1", NULL), "already exists and is not empty"));
  assert_true(fake_exists(&f, "memory/husk/c1/cgroup.procs"));
  assert_false(fake_exists(&f, "pids/husk/c1"));
  fake_done(&f);
}

static void test_cgroup_v1_update_orders_memory_and_swap(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_resources *r = res_parse("{\"memory\":{\"limit\":104857600,\"swap\":209715200}}");
  husk_cgroup *cg = fake_create_ok("c1", NULL, r);
  husk_resources_free(r);
  husk_err err = {0};

  /* growing: memsw first, or the kernel refuses limit > memsw */
  husk_cgroup_journal_reset();
  r = res_parse("{\"memory\":{\"limit\":209715200,\"swap\":419430400}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_before("memory/husk/c1/memory.memsw.limit_in_bytes=419430400",
                "memory/husk/c1/memory.limit_in_bytes=209715200");
  husk_resources_free(r);

  /* shrinking: the limit first */
  husk_cgroup_journal_reset();
  r = res_parse("{\"memory\":{\"limit\":52428800,\"swap\":62914560}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_before("memory/husk/c1/memory.limit_in_bytes=52428800",
                "memory/husk/c1/memory.memsw.limit_in_bytes=62914560");
  husk_resources_free(r);

  /* unlimited memory without a swap value: unlimited swap too, first */
  husk_cgroup_journal_reset();
  r = res_parse("{\"memory\":{\"limit\":-1}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_before("memory/husk/c1/memory.memsw.limit_in_bytes=-1",
                "memory/husk/c1/memory.limit_in_bytes=-1");
  husk_resources_free(r);

  /* update touches only what it is given; pids "max" for a negative limit */
  husk_cgroup_journal_reset();
  r = res_parse("{\"pids\":{\"limit\":-1},\"cpu\":{\"quota\":50000}}");
  assert_int_equal(husk_cgroup_update(cg, r, &err), 0);
  assert_string_equal(husk_cgroup_journal(),
                      "cpu/husk/c1/cpu.cfs_quota_us=50000\npids/husk/c1/pids.max=max\n");
  husk_resources_free(r);

  assert_int_equal(husk_cgroup_destroy(cg, &err), 0);
  husk_cgroup_free(cg);
  fake_done(&f);
}

static void test_cgroup_v1_relative_path_per_hierarchy(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_cgroup_set_self_for_testing("9:name=systemd:/user.slice\n8:pids:/p\n4:memory:/outer/m\n"
                                   "1:cpu,cpuacct:/\n0::/\n");
  husk_resources *r = res_parse("{\"memory\":{\"limit\":1048576}}");
  husk_cgroup *cg = fake_create_ok("c2", "rel/c2", r);
  assert_journal("memory/outer/m/rel/c2/memory.limit_in_bytes=1048576");
  assert_true(fake_exists(&f, "pids/p/rel/c2"));
  assert_true(fake_exists(&f, "cpu,cpuacct/rel/c2"));
  assert_true(fake_exists(&f, "systemd/user.slice/rel/c2"));
  const char *saved = husk_cgroup_path(cg);
  assert_non_null(strstr(saved, "memory=/outer/m/rel/c2"));
  assert_non_null(strstr(saved, "pids=/p/rel/c2"));

  /* a later command finds every hierarchy from the saved string */
  husk_cgroup *again = NULL;
  husk_err err = {0};
  char *copy = husk_xstrdup(saved);
  assert_int_equal(husk_cgroup_open(copy, &again, &err), 0);
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_enter(again, 7, false, &err), 0);
  assert_journal("memory/outer/m/rel/c2/cgroup.procs=7");
  assert_journal("pids/p/rel/c2/cgroup.procs=7");
  assert_journal("systemd/user.slice/rel/c2/cgroup.procs=7");
  assert_int_equal(husk_cgroup_destroy(again, &err), 0);
  assert_false(fake_exists(&f, "memory/outer/m/rel/c2"));
  assert_false(fake_exists(&f, "pids/p/rel/c2"));
  husk_cgroup_free(again);
  husk_cgroup_free(cg);
  husk_resources_free(r);
  free(copy);
  fake_done(&f);
}

static void test_cgroup_v1_paths_podman_containerd_systemd(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_err err = {0};
  husk_cgroup *cg = fake_create_ok("x", "/libpod_parent/libpod-abc", NULL);
  assert_string_equal(husk_cgroup_path(cg), "/libpod_parent/libpod-abc");
  assert_true(fake_exists(&f, "memory/libpod_parent/libpod-abc"));
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);

  cg = fake_create_ok("x", "//default///ctr1/", NULL);
  assert_string_equal(husk_cgroup_path(cg), "/default/ctr1");
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);

  husk_cgroup_config cfg = {
      .id = "c3", .cgroups_path = "machine-test.slice:husk:c3", .manager = "systemd"};
  assert_int_equal(husk_cgroup_create(&cfg, &cg, &err), 0);
  assert_string_equal(husk_cgroup_path(cg), "/machine.slice/machine-test.slice/husk-c3.scope");
  assert_true(fake_exists(&f, "memory/machine.slice/machine-test.slice/husk-c3.scope"));
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);

  cfg.cgroups_path = ":husk:c4"; /* empty slice: system.slice */
  assert_int_equal(husk_cgroup_create(&cfg, &cg, &err), 0);
  assert_string_equal(husk_cgroup_path(cg), "/system.slice/husk-c4.scope");
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);

  /* the same string with cgroupfs is a plain path */
  cfg.manager = "cgroupfs";
  cfg.cgroups_path = "/a:b:c";
  assert_int_equal(husk_cgroup_create(&cfg, &cg, &err), 0);
  assert_string_equal(husk_cgroup_path(cg), "/a:b:c");
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);

  cfg.manager = "disabled";
  assert_int_equal(husk_cgroup_create(&cfg, &cg, &err), 0);
  assert_null(cg);

  static const char *const bad[] = {"/husk/../etc", "/", "..", "bad-.slice:x:y"};
  static const char *const why[] = {"\"..\" is not allowed", "root cgroup", "\"..\"",
                                    "invalid systemd slice"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    husk_cgroup_config b = {
        .id = "c5", .cgroups_path = bad[i], .manager = i == 3 ? "systemd" : "cgroupfs"};
    memset(&err, 0, sizeof(err));
    assert_true(husk_cgroup_create(&b, &cg, &err) < 0);
    if (strstr(err.msg, why[i]) == NULL || strstr(err.msg, "linux.cgroupsPath") == NULL)
      fail_msg("%s: unexpected error \"%s\"", bad[i], err.msg);
  }
  fake_done(&f);
}

static void test_cgroup_v1_freezer_and_state(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_cgroup *cg = fake_create_ok("c1", NULL, NULL);
  husk_err err = {0};
  husk_cgroup_journal_reset();
  assert_int_equal(husk_cgroup_freeze(cg, true, &err), 0);
  assert_journal("freezer/husk/c1/freezer.state=FROZEN");
  assert_true(husk_cgroup_is_frozen(cg));
  assert_int_equal(husk_cgroup_freeze(cg, false, &err), 0);
  assert_journal("freezer/husk/c1/freezer.state=THAWED");
  assert_false(husk_cgroup_is_frozen(cg));
  husk_cgroup_destroy(cg, &err);
  husk_cgroup_free(cg);
  fake_done(&f);
}

static void test_cgroup_v1_pids_and_stats(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_cgroup *cg = fake_create_ok("c1", NULL, NULL);
  fake_file(&f, "pids/husk/c1/cgroup.procs", "11\n12\n");
  fake_file(&f, "pids/husk/c1/sub/cgroup.procs", "13\n");
  fake_file(&f, "pids/husk/c1/pids.current", "3\n");
  fake_file(&f, "pids/husk/c1/pids.max", "max\n");
  fake_file(&f, "memory/husk/c1/memory.usage_in_bytes", "1234\n");
  fake_file(&f, "memory/husk/c1/memory.limit_in_bytes", "4096\n");
  fake_file(&f, "memory/husk/c1/memory.stat", "cache 77\nrss 99\n");
  fake_file(&f, "cpu,cpuacct/husk/c1/cpuacct.usage", "5000\n");
  fake_file(&f, "cpu,cpuacct/husk/c1/cpu.stat",
            "nr_periods 10\nnr_throttled 4\n"
            "throttled_time 999\n");
  pid_t *pids = NULL;
  size_t n = 0;
  husk_err err = {0};
  assert_int_equal(husk_cgroup_pids(cg, &pids, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_int_equal(pids[0], 11);
  assert_int_equal(pids[2], 13);
  free(pids);

  json_object *data = NULL;
  assert_int_equal(husk_cgroup_stats(cg, &data, &err), 0);
  const char *s = json_object_to_json_string(data);
  json_object *v;
  assert_true(json_pointer_get(data, "/memory/usage/usage", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 1234);
  assert_true(json_pointer_get(data, "/memory/usage/limit", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 4096);
  assert_true(json_pointer_get(data, "/memory/raw/rss", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 99);
  assert_true(json_pointer_get(data, "/memory/cache", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 77);
  assert_true(json_pointer_get(data, "/pids/current", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 3);
  assert_true(json_pointer_get(data, "/pids/limit", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 0);
  assert_true(json_pointer_get(data, "/cpu/usage/total", &v) == 0);
  assert_int_equal(json_object_get_int64(v), 5000);
  if (json_pointer_get(data, "/cpu/throttling/throttledPeriods", &v) != 0)
    fail_msg("no throttling in %s", s);
  assert_int_equal(json_object_get_int64(v), 4);
  json_object_put(data);

  husk_cgroup_destroy(cg, &err);
  assert_false(fake_exists(&f, "pids/husk/c1"));
  husk_cgroup_free(cg);
  fake_done(&f);
}

static void test_cgroup_v1_open_missing_is_enoent(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_cgroup *cg = NULL;
  husk_err err = {0};
  assert_int_equal(husk_cgroup_open("/husk/nope", &cg, &err), -ENOENT);
  assert_null(cg);
  assert_non_null(strstr(err.msg, "/husk/nope"));
  fake_done(&f);
}

static void test_cgroup_v1_unified_keys_need_v2(void **state)
{
  (void)state;
  fake f;
  fake_v1(&f, true);
  husk_resources *r = res_parse("{\"unified\":{\"memory.high\":\"1000000\"}}");
  assert_non_null(strstr(fake_create_error("c1", r), "linux.resources.unified"));
  assert_false(fake_exists(&f, "memory/husk/c1"));
  husk_resources_free(r);
  fake_done(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_v1_create_writes_exactly_the_spec),
      cmocka_unit_test(test_cgroup_v1_no_resources_writes_nothing),
      cmocka_unit_test(test_cgroup_v1_missing_controller_named_when_asked),
      cmocka_unit_test(test_cgroup_v1_failure_leaves_nothing),
      cmocka_unit_test(test_cgroup_v1_existing_busy_cgroup_is_refused_and_kept),
      cmocka_unit_test(test_cgroup_v1_update_orders_memory_and_swap),
      cmocka_unit_test(test_cgroup_v1_relative_path_per_hierarchy),
      cmocka_unit_test(test_cgroup_v1_paths_podman_containerd_systemd),
      cmocka_unit_test(test_cgroup_v1_freezer_and_state),
      cmocka_unit_test(test_cgroup_v1_pids_and_stats),
      cmocka_unit_test(test_cgroup_v1_open_missing_is_enoent),
      cmocka_unit_test(test_cgroup_v1_unified_keys_need_v2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
