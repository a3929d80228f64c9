/* config.json parsing: valid configs, every unsupported field, bad types,
 * malformed JSON, names of namespaces, capabilities and rlimits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "spec.h"
#include "util.h"

#define CAP(n) (UINT64_C(1) << (n))

static char *data_path(const char *name)
{
  const char *dir = getenv("HUSK_TEST_DATA");
  assert_non_null(dir);
  return husk_xasprintf("%s/spec/%s", dir, name);
}

static husk_spec *load_ok(const char *name)
{
  _cleanup_free_ char *p = data_path(name);
  husk_err err = {0};
  husk_spec *s = NULL;
  int r = husk_spec_load(p, &s, &err);
  if (r < 0)
    fail_msg("%s: %s", name, err.msg);
  assert_non_null(s);
  return s;
}

static husk_spec *parse_ok(const char *json)
{
  husk_err err = {0};
  husk_spec *s = NULL;
  if (husk_spec_parse(json, strlen(json), &s, &err) < 0)
    fail_msg("unexpected error: %s\nconfig: %s", err.msg, json);
  assert_non_null(s);
  return s;
}

static void parse_fails(const char *json, const char *want)
{
  husk_err err = {0};
  husk_spec *s = (husk_spec *)0x1;
  int r = husk_spec_parse(json, strlen(json), &s, &err);
  if (r >= 0)
    fail_msg("expected \"%s\", parse succeeded for %s", want, json);
  assert_null(s);
  assert_true(err.code > 0);
  assert_int_equal(r, -err.code);
  if (strcmp(err.msg, want) != 0)
    fail_msg("error mismatch\n  want: %s\n  got:  %s", want, err.msg);
}

/* Load data/spec/<base>, set the JSON pointer `ptr` to `value` (JSON text),
 * serialise and parse it. */
static char *mutated(const char *base, const char *ptr, const char *value)
{
  _cleanup_free_ char *p = data_path(base);
  struct json_object *root = json_object_from_file(p);
  assert_non_null(root);
  struct json_object *v = json_tokener_parse(value);
  if (v == NULL && strcmp(value, "null") != 0)
    fail_msg("bad test value %s", value);
  if (json_pointer_set(&root, ptr, v) < 0)
    fail_msg("json_pointer_set %s failed", ptr);
  char *txt = husk_xstrdup(json_object_to_json_string(root));
  json_object_put(root);
  return txt;
}

static void mutation_fails(const char *base, const char *ptr, const char *value, const char *want)
{
  _cleanup_free_ char *txt = mutated(base, ptr, value);
  parse_fails(txt, want);
}

static husk_spec *mutation_ok(const char *base, const char *ptr, const char *value)
{
  _cleanup_free_ char *txt = mutated(base, ptr, value);
  return parse_ok(txt);
}

/* ------------------------------------------------------------------------ */

static void test_minimal_config(void **state)
{
  (void)state;
  _cleanup_spec_ husk_spec *s = load_ok("minimal.json");
  assert_string_equal(s->oci_version, "1.0.0");
  assert_string_equal(s->root_path, "rootfs");
  assert_false(s->root_readonly);
  assert_int_equal(s->n_mounts, 0);
  assert_true(s->has_process);
  assert_string_equal(s->process.cwd, "/");
  assert_string_equal(s->process.args[0], "/bin/true");
  assert_null(s->process.args[1]);
  assert_null(s->process.env);
  assert_false(s->process.terminal);
  assert_false(s->process.caps.present);
  assert_int_equal(s->process.user.uid, 0);
  assert_null(s->hostname);
  for (int i = 0; i < HUSK_NS_COUNT; i++)
    assert_false(s->ns[i].present);
  assert_null(s->resources);
  assert_null(s->seccomp);
  assert_null(s->masked_paths);
  assert_int_equal(s->rootfs_propagation, 0);
  assert_false(s->has_personality);
  assert_false(s->has_time_offsets);
}

static void test_runc_default_config(void **state)
{
  (void)state;
  _cleanup_spec_ husk_spec *s = load_ok("runc-default.json");
  assert_string_equal(s->oci_version, "1.0.2-dev");
  assert_true(s->root_readonly);
  assert_string_equal(s->hostname, "runc");
  assert_true(s->process.terminal);
  assert_true(s->process.no_new_privileges);
  assert_string_equal(s->process.env[1], "TERM=xterm");
  uint64_t want = CAP(29) | CAP(5) | CAP(10); /* AUDIT_WRITE, KILL, NET_BIND_SERVICE */
  assert_true(s->process.caps.present);
  assert_int_equal(s->process.caps.bounding, want);
  assert_int_equal(s->process.caps.effective, want);
  assert_int_equal(s->process.caps.inheritable, want);
  assert_int_equal(s->process.caps.permitted, want);
  assert_int_equal(s->process.caps.ambient, want);
  assert_int_equal(s->process.n_rlimits, 1);
  assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal(s->process.rlimits[0].soft, 1024);
  assert_int_equal(s->process.rlimits[0].hard, 1024);

  assert_int_equal(s->n_mounts, 7);
  husk_mount *proc = &s->mounts[0];
  assert_string_equal(proc->destination, "/proc");
  assert_string_equal(proc->type, "proc");
  assert_null(proc->options);
  assert_int_equal(proc->flags, 0);
  assert_null(proc->data);
  husk_mount *pts = &s->mounts[2];
  assert_string_equal(pts->destination, "/dev/pts");
  assert_int_equal(pts->flags, MS_NOSUID | MS_NOEXEC);
  assert_string_equal(pts->data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  assert_false(pts->bind);
  husk_mount *sys = &s->mounts[5];
  assert_int_equal(sys->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
  assert_null(sys->data);
  husk_mount *cg = &s->mounts[6];
  assert_int_equal(cg->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);

  static const enum husk_ns_type present[] = {HUSK_NS_PID, HUSK_NS_NET,   HUSK_NS_IPC,
                                              HUSK_NS_UTS, HUSK_NS_MOUNT, HUSK_NS_CGROUP};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(present); i++) {
    assert_true(s->ns[present[i]].present);
    assert_null(s->ns[present[i]].path);
  }
  assert_false(s->ns[HUSK_NS_USER].present);
  assert_false(s->ns[HUSK_NS_TIME].present);
  assert_int_equal(husk_strv_len(s->masked_paths), 10);
  assert_string_equal(s->masked_paths[0], "/proc/acpi");
  assert_int_equal(husk_strv_len(s->readonly_paths), 5);
  assert_string_equal(s->readonly_paths[4], "/proc/sysrq-trigger");
}

static void test_podman_like_config(void **state)
{
  (void)state;
  _cleanup_spec_ husk_spec *s = load_ok("podman.json");
  husk_process *p = &s->process;
  assert_string_equal(p->cwd, "/root");
  assert_int_equal(husk_strv_len(p->args), 3);
  assert_string_equal(p->args[2], "echo hello");
  assert_true(p->user.has_umask);
  assert_int_equal(p->user.umask, 022);
  assert_int_equal(p->user.n_additional_gids, 7);
  assert_int_equal(p->user.additional_gids[6], 10);
  assert_int_equal(__builtin_popcountll(p->caps.bounding), 11);
  assert_true(p->caps.bounding & CAP(18)); /* CAP_SYS_CHROOT */
  assert_int_equal(p->caps.inheritable, 0);
  assert_int_equal(p->caps.ambient, 0);
  assert_int_equal(p->n_rlimits, 3);
  assert_int_equal(p->rlimits[1].resource, RLIMIT_NPROC);
  assert_int_equal(p->rlimits[1].soft, 4194304);
  assert_int_equal(p->rlimits[2].resource, RLIMIT_CORE);
  assert_true(p->rlimits[2].hard == UINT64_MAX);
  assert_int_equal(p->rlimits[2].soft, 0);
  assert_true(p->has_oom_score_adj);
  assert_int_equal(p->oom_score_adj, 0);
  assert_string_equal(p->apparmor_profile, "containers-default-0.50.1");

  assert_int_equal(s->n_mounts, 9);
  husk_mount *hn = &s->mounts[5];
  assert_string_equal(hn->destination, "/etc/hostname");
  assert_true(hn->bind);
  assert_int_equal(hn->flags, MS_BIND);
  assert_int_equal(hn->propagation, MS_PRIVATE | MS_REC);
  husk_mount *shm = &s->mounts[7];
  assert_int_equal(shm->flags, MS_BIND | MS_NOSUID | MS_NOEXEC | MS_NODEV);

  assert_int_equal(s->n_annotations, 3);
  assert_string_equal(s->annotations[0].key, "io.container.manager");
  assert_string_equal(s->annotations[0].value, "libpod");
  assert_int_equal(s->n_sysctl, 1);
  assert_string_equal(s->sysctl[0].key, "net.ipv4.ping_group_range");
  assert_string_equal(s->sysctl[0].value, "0 0");
  assert_string_equal(s->cgroups_path, "machine.slice:libpod:4f0c0e5a2d2b");
  assert_true(s->ns[HUSK_NS_NET].present);
  assert_string_equal(s->ns[HUSK_NS_NET].path, "/run/netns/netns-1234");
  assert_null(s->ns[HUSK_NS_PID].path);
  assert_non_null(s->seccomp);
  assert_int_equal(husk_strv_len(s->masked_paths), 11);
  assert_string_equal(s->masked_paths[10], "/sys/dev/block");
  assert_int_equal(husk_strv_len(s->readonly_paths), 6);
}

static void test_every_field(void **state)
{
  (void)state;
  _cleanup_spec_ husk_spec *s = load_ok("full.json");
  assert_string_equal(s->oci_version, "1.3.0");
  assert_string_equal(s->domainname, "example.org");
  assert_string_equal(s->mounts[0].source, "/srv/data");
  assert_int_equal(s->mounts[0].flags, MS_BIND | MS_REC | MS_RDONLY);
  assert_int_equal(s->mounts[0].propagation, MS_SLAVE | MS_REC);
  assert_true(s->mounts[0].bind);
  /* relative destinations are taken relative to / (as runc does) */
  assert_string_equal(s->mounts[1].destination, "/tmp");

  husk_process *p = &s->process;
  assert_int_equal(p->console_height, 25);
  assert_int_equal(p->console_width, 80);
  assert_string_equal(p->cwd, "/work");
  assert_int_equal(p->user.uid, 1000);
  assert_int_equal(p->user.gid, 1001);
  assert_int_equal(p->user.umask, 077);
  assert_int_equal(p->caps.bounding, CAP(21) | CAP(39));
  assert_int_equal(p->caps.effective, CAP(40));
  assert_int_equal(p->caps.inheritable, CAP(0));
  assert_int_equal(p->caps.ambient, 0);
  assert_int_equal(p->rlimits[0].resource, RLIMIT_MEMLOCK);
  assert_int_equal(p->rlimits[0].hard, 131072);
  assert_int_equal(p->oom_score_adj, -500);
  assert_true(p->scheduler.present);
  assert_int_equal(p->scheduler.policy, SCHED_FIFO);
  assert_int_equal(p->scheduler.nice, -5);
  assert_int_equal(p->scheduler.priority, 10);
  assert_int_equal(p->scheduler.flags, 0x01 | 0x08);
  assert_true(p->has_io_priority);
  assert_int_equal(p->io_priority_class, 2);
  assert_int_equal(p->io_priority_level, 4);
  assert_string_equal(p->exec_cpu_affinity_initial, "0");
  assert_string_equal(p->exec_cpu_affinity_final, "0-1,3");

  assert_int_equal(s->hooks.count[HUSK_HOOK_PRESTART], 1);
  husk_hook *h = &s->hooks.list[HUSK_HOOK_PRESTART][0];
  assert_string_equal(h->path, "/bin/pre");
  assert_string_equal(h->args[1], "x");
  assert_string_equal(h->env[0], "K=V");
  assert_int_equal(h->timeout, 5);
  assert_int_equal(s->hooks.count[HUSK_HOOK_CREATE_RUNTIME], 2);
  assert_string_equal(s->hooks.list[HUSK_HOOK_CREATE_RUNTIME][1].path, "/bin/cr2");
  assert_null(s->hooks.list[HUSK_HOOK_CREATE_RUNTIME][1].args);
  assert_int_equal(s->hooks.list[HUSK_HOOK_CREATE_RUNTIME][1].timeout, 0);
  assert_string_equal(s->hooks.list[HUSK_HOOK_CREATE_CONTAINER][0].path, "/bin/cc");
  assert_string_equal(s->hooks.list[HUSK_HOOK_START_CONTAINER][0].path, "/bin/sc");
  assert_string_equal(s->hooks.list[HUSK_HOOK_POSTSTART][0].path, "/bin/ps");
  assert_int_equal(s->hooks.list[HUSK_HOOK_POSTSTOP][0].timeout, 1);

  for (int i = 0; i < HUSK_NS_COUNT; i++)
    assert_true(s->ns[i].present);
  assert_int_equal(s->n_uid_mappings, 1);
  assert_int_equal(s->uid_mappings[0].host_id, 100000);
  assert_int_equal(s->uid_mappings[0].size, 65536);
  assert_int_equal(s->n_gid_mappings, 2);
  assert_int_equal(s->gid_mappings[1].container_id, 65536);
  assert_true(s->has_time_offsets);
  assert_int_equal(s->monotonic_secs, -3600);
  assert_int_equal(s->monotonic_nsecs, 5);
  assert_int_equal(s->boottime_secs, 86400);
  assert_int_equal(s->boottime_nsecs, 999999999);
  assert_int_equal(s->n_sysctl, 2);
  assert_string_equal(s->cgroups_path, "/husk/full");

  assert_int_equal(s->n_devices, 3);
  assert_string_equal(s->devices[0].path, "/dev/fuse");
  assert_int_equal(s->devices[0].type, 'c');
  assert_int_equal(s->devices[0].major, 10);
  assert_int_equal(s->devices[0].minor, 229);
  assert_true(s->devices[0].has_file_mode);
  assert_int_equal(s->devices[0].file_mode, 0666);
  assert_true(s->devices[0].has_uid);
  assert_int_equal(s->devices[1].type, 'b');
  assert_false(s->devices[1].has_file_mode);
  assert_false(s->devices[1].has_uid);
  assert_false(s->devices[1].has_gid);
  assert_int_equal(s->devices[2].type, 'p');

  assert_int_equal(s->rootfs_propagation, MS_SLAVE | MS_REC);
  assert_true(s->has_personality);
  assert_int_equal(s->personality, PER_LINUX32);
}

static void test_default_spec_parses(void **state)
{
  (void)state;
  _cleanup_free_ char *txt = husk_spec_default_json(false);
  assert_non_null(txt);
  assert_null(strstr(txt, "\\/")); /* slashes are not escaped */
  _cleanup_spec_ husk_spec *s = parse_ok(txt);
  assert_string_equal(s->process.args[0], "sh");
  assert_null(s->process.args[1]);
  assert_true(s->process.terminal);
  assert_int_equal(s->process.caps.bounding, CAP(29) | CAP(5) | CAP(10));
  assert_int_equal(s->process.n_rlimits, 1);
  assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
  assert_int_equal(s->process.rlimits[0].hard, 1024);
  assert_int_equal(s->n_mounts, 7);
  static const char *const dests[] = {"/proc",       "/dev", "/dev/pts",      "/dev/shm",
                                      "/dev/mqueue", "/sys", "/sys/fs/cgroup"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dests); i++)
    assert_string_equal(s->mounts[i].destination, dests[i]);
  assert_string_equal(s->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  assert_true(s->ns[HUSK_NS_PID].present);
  assert_true(s->ns[HUSK_NS_NET].present);
  assert_true(s->ns[HUSK_NS_IPC].present);
  assert_true(s->ns[HUSK_NS_UTS].present);
  assert_true(s->ns[HUSK_NS_MOUNT].present);
  assert_false(s->ns[HUSK_NS_USER].present);
  assert_true(husk_strv_len(s->masked_paths) >= 10);
  assert_int_equal(husk_strv_len(s->readonly_paths), 5);
}

static void test_default_rootless_spec_parses(void **state)
{
  (void)state;
  _cleanup_free_ char *txt = husk_spec_default_json(true);
  _cleanup_spec_ husk_spec *s = parse_ok(txt);
  assert_true(s->ns[HUSK_NS_USER].present);
  assert_false(s->ns[HUSK_NS_NET].present);
  assert_int_equal(s->n_uid_mappings, 1);
  assert_int_equal(s->uid_mappings[0].container_id, 0);
  assert_int_equal(s->uid_mappings[0].host_id, geteuid());
  assert_int_equal(s->uid_mappings[0].size, 1);
  assert_int_equal(s->gid_mappings[0].host_id, getegid());
  /* no gid= on devpts (the group may not be mapped) and /sys is a bind */
  assert_null(strstr(s->mounts[2].data, "gid="));
  assert_true(s->mounts[5].bind);
  assert_null(s->resources);
}

/* ------------------------------------------------------------------------ */

static void test_unsupported_fields_are_named(void **state)
{
  (void)state;
  static const struct {
    const char *ptr, *value, *want;
  } cases[] = {
      {"/linux/intelRdt", "{\"closID\":\"x\"}", "config.json: linux.intelRdt is not supported"},
      {"/linux/netDevices", "{\"eth0\":{}}", "config.json: linux.netDevices is not supported"},
      {"/linux/memoryPolicy", "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0\"}",
       "config.json: linux.memoryPolicy is not supported"},
      {"/linux/mountLabel", "\"system_u:object_r:container_file_t:s0\"",
       "config.json: linux.mountLabel is not supported"},
      {"/process/selinuxLabel", "\"system_u:system_r:container_t:s0\"",
       "config.json: process.selinuxLabel is not supported"},
      {"/windows", "{}", "config.json: windows is not supported"},
      {"/solaris", "{}", "config.json: solaris is not supported"},
      {"/vm", "{\"kernel\":{\"path\":\"/k\"}}", "config.json: vm is not supported"},
      {"/zos", "{}", "config.json: zos is not supported"},
      {"/mounts",
       "[{\"destination\":\"/a\",\"uidMappings\":[{\"containerID\":0,\"hostID\":1,"
       "\"size\":1}]}]",
       "config.json: mounts[0].uidMappings: idmapped mounts are not supported"},
      {"/mounts", "[{\"destination\":\"/a\"},{\"destination\":\"/b\",\"gidMappings\":[{}]}]",
       "config.json: mounts[1].gidMappings: idmapped mounts are not supported"},
      {"/mounts", "[{\"destination\":\"/a\",\"type\":\"bind\",\"options\":[\"idmap\"]}]",
       "config.json: mounts[0].options: mount option \"idmap\": idmapped mounts are not "
       "supported"},
      {"/mounts", "[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"tmpcopyup\"]}]",
       "config.json: mounts[0].options: mount option \"tmpcopyup\" is not supported"},
      {"/linux/personality", "{\"domain\":\"LINUX\",\"flags\":[\"ADDR_NO_RANDOMIZE\"]}",
       "config.json: linux.personality.flags[0]: flag ADDR_NO_RANDOMIZE is not supported"},
      {"/process/scheduler", "{\"policy\":\"SCHED_ISO\"}",
       "config.json: process.scheduler.policy: SCHED_ISO is not supported by Linux"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++)
    mutation_fails("minimal.json", cases[i].ptr, cases[i].value, cases[i].want);
}

static void test_ignored_fields(void **state)
{
  (void)state;
  /* Empty values of unsupported fields, username (Windows) and unknown keys are fine. */
  static const struct {
    const char *ptr, *value;
  } cases[] = {
      {"/linux/mountLabel", "\"\""},
      {"/process/selinuxLabel", "\"\""},
      {"/process/user", "{\"uid\":0,\"gid\":0,\"username\":\"root\"}"},
      {"/linux/netDevices", "{}"},
      {"/linux/intelRdt", "null"},
      {"/mounts", "[{\"destination\":\"/a\",\"uidMappings\":[]}]"},
      {"/notASpecKey", "{\"x\":[1,2]}"},
      {"/linux/futureThing", "42"},
      {"/process/futureThing", "\"x\""},
      {"/process/commandLine", "\"ignored on linux\""},
      {"/hostname", "null"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    husk_spec *s = mutation_ok("minimal.json", cases[i].ptr, cases[i].value);
    husk_spec_free(s);
  }
}

static void test_bad_types_name_the_field(void **state)
{
  (void)state;
  static const struct {
    const char *ptr, *value, *want;
  } cases[] = {
      {"/process/args", "[\"a\",\"b\",3]", "config.json: process.args[2]: expected a string"},
      {"/process/args", "\"sh\"", "config.json: process.args: expected an array"},
      {"/process/terminal", "\"yes\"", "config.json: process.terminal: expected a boolean"},
      {"/process/env", "[\"A=1\",null]", "config.json: process.env[1]: expected a string"},
      {"/process/cwd", "5", "config.json: process.cwd: expected a string"},
      {"/process/user", "{\"uid\":-1}", "config.json: process.user.uid: value out of range"},
      {"/process/user", "{\"uid\":4294967296}",
       "config.json: process.user.uid: value out of range"},
      {"/process/user", "{\"gid\":1.5}", "config.json: process.user.gid: expected an integer"},
      {"/process/user", "{\"additionalGids\":[1,\"2\"]}",
       "config.json: process.user.additionalGids[1]: expected an integer"},
      {"/process/capabilities", "{\"bounding\":\"CAP_KILL\"}",
       "config.json: process.capabilities.bounding: expected an array"},
      {"/process/capabilities", "{\"effective\":[\"CAP_KILL\",7]}",
       "config.json: process.capabilities.effective[1]: expected a string"},
      {"/process/rlimits", "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":-1,\"hard\":1}]",
       "config.json: process.rlimits[0].soft: value out of range"},
      {"/process/rlimits", "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1}]",
       "config.json: process.rlimits[0].hard: required"},
      {"/process/rlimits", "{}", "config.json: process.rlimits: expected an array"},
      {"/process/consoleSize", "{\"height\":1}",
       "config.json: process.consoleSize.width: required"},
      {"/process/oomScoreAdj", "1001", "config.json: process.oomScoreAdj: value out of range"},
      {"/process/noNewPrivileges", "1", "config.json: process.noNewPrivileges: expected a boolean"},
      {"/process/scheduler", "{\"policy\":\"SCHED_OTHER\",\"nice\":20}",
       "config.json: process.scheduler.nice: value out of range"},
      {"/process/scheduler", "{\"policy\":\"SCHED_OTHER\",\"priority\":5}",
       "config.json: process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR"},
      {"/process/scheduler", "{\"policy\":\"SCHED_RR\",\"runtime\":5}",
       "config.json: process.scheduler: runtime, deadline and period are only valid with "
       "SCHED_DEADLINE"},
      {"/process/scheduler", "{\"policy\":\"SCHED_MAGIC\"}",
       "config.json: process.scheduler.policy: unknown policy \"SCHED_MAGIC\""},
      {"/process/scheduler", "{\"nice\":1}", "config.json: process.scheduler.policy: required"},
      {"/process/scheduler", "{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_NOPE\"]}",
       "config.json: process.scheduler.flags[0]: unknown flag \"SCHED_FLAG_NOPE\""},
      {"/process/ioPriority", "{\"class\":\"IOPRIO_CLASS_XX\"}",
       "config.json: process.ioPriority.class: unknown class \"IOPRIO_CLASS_XX\""},
      {"/process/ioPriority", "{\"class\":\"IOPRIO_CLASS_RT\",\"priority\":8}",
       "config.json: process.ioPriority.priority: value out of range"},
      {"/process/execCPUAffinity", "{\"initial\":\"0-\"}",
       "config.json: process.execCPUAffinity.initial: invalid cpu list \"0-\""},
      {"/process/execCPUAffinity", "{\"final\":\"a\"}",
       "config.json: process.execCPUAffinity.final: invalid cpu list \"a\""},
      {"/root", "\"rootfs\"", "config.json: root: expected an object"},
      {"/root", "{\"path\":\"r\",\"readonly\":1}",
       "config.json: root.readonly: expected a boolean"},
      {"/root", "{}", "config.json: root.path: required"},
      {"/mounts", "{}", "config.json: mounts: expected an array"},
      {"/mounts", "[\"/proc\"]", "config.json: mounts[0]: expected an object"},
      {"/mounts", "[{\"type\":\"tmpfs\"}]", "config.json: mounts[0].destination: required"},
      {"/mounts", "[{\"destination\":\"/a\",\"options\":[\"ro\",false]}]",
       "config.json: mounts[0].options[1]: expected a string"},
      {"/hostname", "1", "config.json: hostname: expected a string"},
      {"/annotations", "{\"a\":1}", "config.json: annotations.a: expected a string"},
      {"/hooks", "[]", "config.json: hooks: expected an object"},
      {"/hooks", "{\"prestart\":[{\"args\":[]}]}", "config.json: hooks.prestart[0].path: required"},
      {"/hooks", "{\"poststop\":[{\"path\":\"rel/hook\"}]}",
       "config.json: hooks.poststop[0].path: must be an absolute path, got \"rel/hook\""},
      {"/hooks", "{\"createRuntime\":[{\"path\":\"/h\",\"timeout\":0}]}",
       "config.json: hooks.createRuntime[0].timeout: must be greater than zero"},
      {"/hooks", "{\"startContainer\":[{\"path\":\"/h\",\"args\":[\"h\",1]}]}",
       "config.json: hooks.startContainer[0].args[1]: expected a string"},
      {"/hooks", "{\"poststart\":{}}", "config.json: hooks.poststart: expected an array"},
      {"/linux", "[]", "config.json: linux: expected an object"},
      {"/linux/namespaces", "[{\"type\":\"pid\"},\"net\"]",
       "config.json: linux.namespaces[1]: expected an object"},
      {"/linux/namespaces", "[{\"type\":\"network\",\"path\":\"run/netns/x\"}]",
       "config.json: linux.namespaces[0].path: must be an absolute path, got \"run/netns/x\""},
      {"/linux/namespaces", "[{\"path\":\"/x\"}]",
       "config.json: linux.namespaces[0].type: required"},
      {"/linux/devices", "[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":\"1\",\"minor\":3}]",
       "config.json: linux.devices[0].major: expected an integer"},
      {"/linux/devices", "[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":1}]",
       "config.json: linux.devices[0].minor: required"},
      {"/linux/devices", "[{\"path\":\"dev/x\",\"type\":\"c\",\"major\":1,\"minor\":3}]",
       "config.json: linux.devices[0].path: must be an absolute path, got \"dev/x\""},
      {"/linux/devices", "[{\"path\":\"/dev/x\",\"type\":\"x\",\"major\":1,\"minor\":3}]",
       "config.json: linux.devices[0].type: unknown device type \"x\" (want c, b, u or p)"},
      {"/linux/devices", "[{\"path\":\"/dev/x\",\"major\":1,\"minor\":3}]",
       "config.json: linux.devices[0].type: required"},
      {"/linux/devices",
       "[{\"path\":\"/dev/x\",\"type\":\"u\",\"major\":1,\"minor\":3,"
       "\"fileMode\":65535}]",
       "config.json: linux.devices[0].fileMode: value out of range (permission bits only)"},
      {"/linux/uidMappings", "[{\"containerID\":0,\"hostID\":1000}]",
       "config.json: linux.uidMappings[0].size: required"},
      {"/linux/gidMappings", "[{\"containerID\":0,\"hostID\":\"1000\",\"size\":1}]",
       "config.json: linux.gidMappings[0].hostID: expected an integer"},
      {"/linux/timeOffsets", "{\"monotonic\":{\"secs\":\"1\"}}",
       "config.json: linux.timeOffsets.monotonic.secs: expected an integer"},
      {"/linux/timeOffsets", "{\"boottime\":{\"nanosecs\":1000000000}}",
       "config.json: linux.timeOffsets.boottime.nanosecs: value out of range"},
      {"/linux/timeOffsets", "{\"realtime\":{\"secs\":1}}",
       "config.json: linux.timeOffsets: unknown clock \"realtime\""},
      {"/linux/sysctl", "{\"net.core.somaxconn\":1024}",
       "config.json: linux.sysctl.net.core.somaxconn: expected a string"},
      {"/linux/resources", "[]", "config.json: linux.resources: expected an object"},
      {"/linux/seccomp", "\"unconfined\"", "config.json: linux.seccomp: expected an object"},
      {"/linux/cgroupsPath", "[]", "config.json: linux.cgroupsPath: expected a string"},
      {"/linux/rootfsPropagation", "\"sideways\"",
       "config.json: linux.rootfsPropagation: unknown propagation \"sideways\""},
      {"/linux/maskedPaths", "[\"/proc/kcore\",{}]",
       "config.json: linux.maskedPaths[1]: expected a string"},
      {"/linux/readonlyPaths", "\"/proc/sys\"",
       "config.json: linux.readonlyPaths: expected an array"},
      {"/linux/personality", "{\"domain\":\"BSD\"}",
       "config.json: linux.personality.domain: unknown domain \"BSD\" (want LINUX or LINUX32)"},
      {"/linux/personality", "{}", "config.json: linux.personality.domain: required"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++)
    mutation_fails("minimal.json", cases[i].ptr, cases[i].value, cases[i].want);
}

static void test_process_args_required(void **state)
{
  (void)state;
  mutation_fails("minimal.json", "/process/args", "[]",
                 "config.json: process.args: must not be empty");
  mutation_fails("minimal.json", "/process", "{\"cwd\":\"/\"}",
                 "config.json: process.args: required");
  mutation_fails("minimal.json", "/process/cwd", "\"tmp\"",
                 "config.json: process.cwd: must be an absolute path, got \"tmp\"");
  mutation_fails("minimal.json", "/process", "[]", "config.json: process: expected an object");
}

static void test_process_parse_directly(void **state)
{
  (void)state;
  /* `exec --process` files go through husk_process_parse alone. */
  struct json_object *o = json_tokener_parse(
      "{\"args\":[\"ls\",\"-l\"],\"cwd\":\"/tmp\",\"env\":[\"X=1\"],\"terminal\":true,"
      "\"user\":{\"uid\":5,\"gid\":6},\"capabilities\":{\"bounding\":[\"CAP_NET_RAW\"]}}");
  assert_non_null(o);
  husk_process p;
  husk_err err = {0};
  assert_int_equal(husk_process_parse(o, &p, &err), 0);
  assert_string_equal(p.args[1], "-l");
  assert_string_equal(p.cwd, "/tmp");
  assert_true(p.terminal);
  assert_int_equal(p.user.uid, 5);
  assert_int_equal(p.caps.bounding, CAP(13));
  husk_process_clear(&p);
  assert_null(p.args);
  json_object_put(o);

  /* failure leaves nothing allocated (LeakSanitizer checks) */
  o = json_tokener_parse("{\"args\":[\"ls\"],\"env\":[\"A\"],\"rlimits\":[{\"type\":\"RLIMIT_FOO\","
                         "\"soft\":1,\"hard\":1}]}");
  assert_true(husk_process_parse(o, &p, &err) < 0);
  assert_string_equal(err.msg, "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
  assert_null(p.args);
  json_object_put(o);
}

static void test_malformed_json(void **state)
{
  (void)state;
  parse_fails("{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": \"r\"\n  ,\n}\n",
              "config.json: invalid JSON at line 5: unexpected character");
  parse_fails("{\n\"ociVersion\": \"1.0.0\"\n\"root\": {}}",
              "config.json: invalid JSON at line 3: object value separator ',' expected");
  parse_fails("{\n\"process\": {\n\"terminal\": tru\n}}",
              "config.json: invalid JSON at line 3: boolean expected");
  parse_fails("{\"mounts\": [1, 2,\n\n",
              "config.json: invalid JSON at line 3: unexpected end of input");
  husk_err err = {0};
  husk_spec *s = NULL;
  static const char *const bad[] = {
      "",
      "{",
      "{\"ociVersion\": \"1.0.0\"",
      "{\"ociVersion\": '1.0.0'}",
      "{\"ociVersion\": \"1.0.0\", \"root\": {\"path\": \"r\"}} trailing",
      "{\"ociVersion\": \"1.0.0\",}",
      "nul",
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    int r = husk_spec_parse(bad[i], strlen(bad[i]), &s, &err);
    if (r >= 0)
      fail_msg("accepted malformed JSON: %s", bad[i]);
    assert_null(s);
    if (strncmp(err.msg, "config.json: invalid JSON at line 1: ", 37) != 0)
      fail_msg("unexpected message for %s: %s", bad[i], err.msg);
    assert_null(strchr(err.msg, '\n'));
  }
  parse_fails("[1,2]", "config.json: expected a JSON object at the top level");
  /* trailing whitespace is fine */
  husk_spec_free(parse_ok("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"}}\n\n  \n"));
}

static void test_oci_version(void **state)
{
  (void)state;
  mutation_fails("minimal.json", "/ociVersion", "\"2.0.0\"",
                 "config.json: ociVersion \"2.0.0\" is not supported (husk supports 1.x)");
  mutation_fails("minimal.json", "/ociVersion", "\"0.6.0\"",
                 "config.json: ociVersion \"0.6.0\" is not supported (husk supports 1.x)");
  mutation_fails("minimal.json", "/ociVersion", "\"10.0.0\"",
                 "config.json: ociVersion \"10.0.0\" is not supported (husk supports 1.x)");
  mutation_fails("minimal.json", "/ociVersion", "1", "config.json: ociVersion: expected a string");
  parse_fails("{\"root\":{\"path\":\"r\"}}", "config.json: ociVersion: required");
  static const char *const good[] = {"\"1.0.0\"", "\"1.0.2-dev\"", "\"1.1.0-rc.1\"", "\"1.2.1\"",
                                     "\"1.3.0\""};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(good); i++)
    husk_spec_free(mutation_ok("minimal.json", "/ociVersion", good[i]));
}

static void test_namespaces(void **state)
{
  (void)state;
  mutation_fails("minimal.json", "/linux/namespaces", "[{\"type\":\"pid\"},{\"type\":\"net\"}]",
                 "config.json: linux.namespaces[1].type: unknown namespace type \"net\"");
  mutation_fails("minimal.json", "/linux/namespaces", "[{\"type\":\"ipc\"},{\"type\":\"ipc\"}]",
                 "config.json: linux.namespaces[1].type: duplicate namespace \"ipc\"");
  mutation_fails("minimal.json", "/linux/namespaces", "[{\"type\":\"user\"}]",
                 "config.json: linux.namespaces: a new user namespace needs linux.uidMappings "
                 "and linux.gidMappings");
  mutation_fails("minimal.json", "/linux/uidMappings",
                 "[{\"containerID\":0,\"hostID\":1000,\"size\":1}]",
                 "config.json: linux.uidMappings: mappings given but there is no user namespace "
                 "in linux.namespaces");
  /* joining an existing user namespace needs no mappings; "" path means create */
  husk_spec *s = mutation_ok("minimal.json", "/linux/namespaces",
                             "[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"},"
                             "{\"type\":\"time\",\"path\":\"\"}]");
  assert_string_equal(s->ns[HUSK_NS_USER].path, "/proc/1/ns/user");
  assert_true(s->ns[HUSK_NS_TIME].present);
  assert_null(s->ns[HUSK_NS_TIME].path);
  husk_spec_free(s);

  mutation_fails("minimal.json", "/linux/timeOffsets", "{\"monotonic\":{\"secs\":1}}",
                 "config.json: linux.timeOffsets: needs a new time namespace in linux.namespaces");
  mutation_fails("full.json", "/linux/namespaces/7",
                 "{\"type\":\"time\",\"path\":\"/proc/1/ns/time\"}",
                 "config.json: linux.timeOffsets: needs a new time namespace in linux.namespaces");
}

static void test_hostname_needs_uts_namespace(void **state)
{
  (void)state;
  mutation_fails("minimal.json", "/hostname", "\"box\"",
                 "config.json: hostname: needs a uts namespace in linux.namespaces");
  mutation_fails("minimal.json", "/domainname", "\"example.org\"",
                 "config.json: domainname: needs a uts namespace in linux.namespaces");
  husk_spec *s = mutation_ok("minimal.json", "/hostname", "\"\"");
  assert_null(s->hostname);
  husk_spec_free(s);
  s = mutation_ok("runc-default.json", "/domainname", "\"\"");
  assert_string_equal(s->hostname, "runc");
  assert_null(s->domainname);
  husk_spec_free(s);
}

static void test_sysctl_needs_its_namespace(void **state)
{
  (void)state;
  /* runc-default has pid, network, ipc, uts, mount and cgroup namespaces */
  husk_spec *s = mutation_ok("runc-default.json", "/linux/sysctl",
                             "{\"net.ipv4.ip_forward\":\"1\",\"net/core/somaxconn\":\"512\","
                             "\"kernel.shmmax\":\"1\",\"kernel.sem\":\"1 2 3 4\","
                             "\"fs.mqueue.msg_max\":\"20\",\"kernel.domainname\":\"x\"}");
  assert_int_equal(s->n_sysctl, 6);
  husk_spec_free(s);

  mutation_fails("runc-default.json", "/linux/sysctl", "{\"kernel.panic\":\"1\"}",
                 "config.json: linux.sysctl.kernel.panic: not in a namespace the container owns "
                 "(it would change the host)");
  mutation_fails("runc-default.json", "/linux/sysctl", "{\"vm.swappiness\":\"1\"}",
                 "config.json: linux.sysctl.vm.swappiness: not in a namespace the container owns "
                 "(it would change the host)");
  mutation_fails("minimal.json", "/linux/sysctl", "{\"net.ipv4.ip_forward\":\"1\"}",
                 "config.json: linux.sysctl.net.ipv4.ip_forward: needs the network namespace in "
                 "linux.namespaces");
  mutation_fails("minimal.json", "/linux/sysctl", "{\"kernel.shmmax\":\"1\"}",
                 "config.json: linux.sysctl.kernel.shmmax: needs the ipc namespace in "
                 "linux.namespaces");
}

static void test_namespace_names(void **state)
{
  (void)state;
  static const struct {
    enum husk_ns_type t;
    const char *spec, *proc;
    int flag;
  } want[] = {
      {HUSK_NS_PID, "pid", "pid", CLONE_NEWPID},
      {HUSK_NS_NET, "network", "net", CLONE_NEWNET},
      {HUSK_NS_MOUNT, "mount", "mnt", CLONE_NEWNS},
      {HUSK_NS_IPC, "ipc", "ipc", CLONE_NEWIPC},
      {HUSK_NS_UTS, "uts", "uts", CLONE_NEWUTS},
      {HUSK_NS_USER, "user", "user", CLONE_NEWUSER},
      {HUSK_NS_CGROUP, "cgroup", "cgroup", CLONE_NEWCGROUP},
      {HUSK_NS_TIME, "time", "time", 0x80},
  };
  assert_int_equal(HUSK_ARRAY_SIZE(want), HUSK_NS_COUNT);
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(want); i++) {
    assert_string_equal(husk_ns_spec_name(want[i].t), want[i].spec);
    assert_string_equal(husk_ns_proc_name(want[i].t), want[i].proc);
    assert_int_equal(husk_ns_clone_flag(want[i].t), want[i].flag);
  }
  assert_null(husk_ns_spec_name(HUSK_NS_COUNT));
  assert_null(husk_ns_proc_name(HUSK_NS_COUNT));
  assert_int_equal(husk_ns_clone_flag(HUSK_NS_COUNT), 0);
}

static void test_capability_names(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    int cap;
  } want[] = {
      {"CAP_CHOWN", 0},
      {"CAP_DAC_OVERRIDE", 1},
      {"CAP_KILL", 5},
      {"CAP_SETUID", 7},
      {"CAP_NET_BIND_SERVICE", 10},
      {"CAP_NET_ADMIN", 12},
      {"CAP_NET_RAW", 13},
      {"CAP_SYS_CHROOT", 18},
      {"CAP_SYS_PTRACE", 19},
      {"CAP_SYS_ADMIN", 21},
      {"CAP_MKNOD", 27},
      {"CAP_AUDIT_WRITE", 29},
      {"CAP_SETFCAP", 31},
      {"CAP_SYSLOG", 34},
      {"CAP_AUDIT_READ", 37},
      {"CAP_PERFMON", 38},
      {"CAP_BPF", 39},
      {"CAP_CHECKPOINT_RESTORE", 40},
      {"cap_sys_admin", 21},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(want); i++)
    assert_int_equal(husk_cap_from_name(want[i].name), want[i].cap);
  static const char *const bad[] = {"SYS_ADMIN", "CAP_", "CAP_SYS_ADMINX", "CAP_FOO", "21", ""};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++)
    assert_int_equal(husk_cap_from_name(bad[i]), -1);
  assert_int_equal(husk_cap_from_name(NULL), -1);

  /* every capability libcap knows by name maps to the same number */
  for (int c = 0; c <= 40; c++) {
    char *name = cap_to_name((cap_value_t)c);
    assert_non_null(name);
    if (strncmp(name, "cap_", 4) != 0)
      fail_msg("libcap has no name for capability %d (%s)", c, name);
    assert_int_equal(husk_cap_from_name(name), c);
    cap_free(name);
  }

  struct json_object *arr = json_tokener_parse("[\"CAP_KILL\",\"CAP_SYS_ADMIN\",\"CAP_KILL\"]");
  uint64_t mask = 0;
  husk_err err = {0};
  assert_int_equal(husk_caps_parse_list(arr, "x.caps", &mask, &err), 0);
  assert_int_equal(mask, CAP(5) | CAP(21));
  json_object_put(arr);
  assert_int_equal(husk_caps_parse_list(NULL, "x.caps", &mask, &err), 0);
  assert_int_equal(mask, 0);

  mutation_fails("minimal.json", "/process/capabilities",
                 "{\"bounding\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\",\"CAP_WIZARD\"]}",
                 "config.json: process.capabilities.permitted[1]: unknown capability "
                 "\"CAP_WIZARD\"");
  mutation_fails("minimal.json", "/process/capabilities", "{\"ambient\":[\"NET_RAW\"]}",
                 "config.json: process.capabilities.ambient[0]: unknown capability \"NET_RAW\"");
}

static void test_rlimit_names(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    int res;
  } want[] = {
      {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},
      {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK},
  };
  /* all sixteen in one config, in order */
  struct json_object *arr = json_object_new_array();
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(want); i++) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(want[i].name));
    json_object_object_add(o, "soft", json_object_new_int64((int64_t)i));
    json_object_object_add(o, "hard", json_object_new_int64((int64_t)i + 100));
    json_object_array_add(arr, o);
  }
  husk_spec *s = mutation_ok("minimal.json", "/process/rlimits", json_object_to_json_string(arr));
  json_object_put(arr);
  assert_int_equal(s->process.n_rlimits, HUSK_ARRAY_SIZE(want));
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(want); i++) {
    assert_int_equal(s->process.rlimits[i].resource, want[i].res);
    assert_int_equal(s->process.rlimits[i].soft, i);
    assert_int_equal(s->process.rlimits[i].hard, i + 100);
  }
  husk_spec_free(s);

  mutation_fails("minimal.json", "/process/rlimits",
                 "[{\"type\":\"RLIMIT_NOFILES\",\"soft\":1,\"hard\":1}]",
                 "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_NOFILES\"");
  mutation_fails("minimal.json", "/process/rlimits",
                 "[{\"type\":\"nofile\",\"soft\":1,\"hard\":1}]",
                 "config.json: process.rlimits[0].type: unknown rlimit \"nofile\"");
  mutation_fails("minimal.json", "/process/rlimits",
                 "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},"
                 "{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":2}]",
                 "config.json: process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
}

static void test_rootfs_propagation(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    unsigned long flags;
  } want[] = {
      {"\"shared\"", MS_SHARED},
      {"\"rshared\"", MS_SHARED | MS_REC},
      {"\"slave\"", MS_SLAVE},
      {"\"rslave\"", MS_SLAVE | MS_REC},
      {"\"private\"", MS_PRIVATE},
      {"\"rprivate\"", MS_PRIVATE | MS_REC},
      {"\"unbindable\"", MS_UNBINDABLE},
      {"\"runbindable\"", MS_UNBINDABLE | MS_REC},
      {"\"\"", 0},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(want); i++) {
    husk_spec *s = mutation_ok("minimal.json", "/linux/rootfsPropagation", want[i].name);
    assert_int_equal(s->rootfs_propagation, want[i].flags);
    husk_spec_free(s);
  }
}

static void test_load_missing_file(void **state)
{
  (void)state;
  husk_err err = {0};
  husk_spec *s = (husk_spec *)0x1;
  assert_int_equal(husk_spec_load("/nonexistent/husk/config.json", &s, &err), -ENOENT);
  assert_null(s);
  assert_non_null(strstr(err.msg, "/nonexistent/husk/config.json"));
}

static void test_rejects_nul_in_strings(void **state)
{
  (void)state;
  static const char doc[] = "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\\u0000x\"}}";
  parse_fails(doc, "config.json: root.path: contains a NUL byte");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal_config),
      cmocka_unit_test(test_runc_default_config),
      cmocka_unit_test(test_podman_like_config),
      cmocka_unit_test(test_every_field),
      cmocka_unit_test(test_default_spec_parses),
      cmocka_unit_test(test_default_rootless_spec_parses),
      cmocka_unit_test(test_unsupported_fields_are_named),
      cmocka_unit_test(test_ignored_fields),
      cmocka_unit_test(test_bad_types_name_the_field),
      cmocka_unit_test(test_process_args_required),
      cmocka_unit_test(test_process_parse_directly),
      cmocka_unit_test(test_malformed_json),
      cmocka_unit_test(test_oci_version),
      cmocka_unit_test(test_namespaces),
      cmocka_unit_test(test_hostname_needs_uts_namespace),
      cmocka_unit_test(test_sysctl_needs_its_namespace),
      cmocka_unit_test(test_namespace_names),
      cmocka_unit_test(test_capability_names),
      cmocka_unit_test(test_rlimit_names),
      cmocka_unit_test(test_rootfs_propagation),
      cmocka_unit_test(test_load_missing_file),
      cmocka_unit_test(test_rejects_nul_in_strings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
