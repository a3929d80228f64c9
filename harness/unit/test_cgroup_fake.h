/* A fake cgroupfs tree in a temp directory for the cgroup unit tests
 * (test_cgroup_*.c).  The module is pointed at it with
 * husk_cgroup_set_root_for_testing(); in that mode a new cgroup directory
 * gets empty copies of its parent's files, and every write is journaled as
 * "LABEL/FILE=VALUE" lines (husk_cgroup_journal()). */
#ifndef HUSK_TEST_CGROUP_FAKE_H
#define HUSK_TEST_CGROUP_FAKE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

typedef struct fake {
  char root[PATH_MAX];
} fake;

static inline void fake_mkdirs(const char *path)
{
  char buf[PATH_MAX];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    mkdir(buf, 0755);
    *p = '/';
  }
  mkdir(buf, 0755);
}

/* Create root/rel (parents too) with content. */
static inline void fake_file(fake *f, const char *rel, const char *content)
{
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", f->root, rel);
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  fake_mkdirs(dir);
  FILE *fp = fopen(path, "w");
  if (fp == NULL)
    abort();
  fputs(content, fp);
  fclose(fp);
}

/* Several empty files in one directory: fake_files(f, "memory", "a", "b", NULL) */
static inline void fake_files(fake *f, const char *dir, ...)
{
  va_list ap;
  va_start(ap, dir);
  const char *name;
  while ((name = va_arg(ap, const char *))) {
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s%s%s", dir, dir[0] ? "/" : "", name);
    fake_file(f, rel, "");
  }
  va_end(ap);
}

static inline bool fake_exists(fake *f, const char *rel)
{
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", f->root, rel);
  return access(path, F_OK) == 0;
}

/* Contents of root/rel (static buffer), "" when missing. */
static inline const char *fake_read(fake *f, const char *rel)
{
  static char buf[4096];
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", f->root, rel);
  buf[0] = '\0';
  FILE *fp = fopen(path, "r");
  if (fp == NULL)
    return buf;
  size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  return buf;
}

static inline int fake_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Trees still there at exit (a failed assertion skips fake_done). */
static char fake_roots[64][PATH_MAX];
static size_t fake_n_roots;

static void fake_remove_all(void)
{
  for (size_t i = 0; i < fake_n_roots; i++)
    if (fake_roots[i][0])
      nftw(fake_roots[i], fake_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fake_init(fake *f)
{
  snprintf(f->root, sizeof(f->root), "/tmp/husk-cgfake-XXXXXX");
  if (mkdtemp(f->root) == NULL)
    abort();
  if (fake_n_roots == 0)
    atexit(fake_remove_all);
  if (fake_n_roots < HUSK_ARRAY_SIZE(fake_roots))
    snprintf(fake_roots[fake_n_roots++], PATH_MAX, "%s", f->root);
  husk_cgroup_journal_reset();
  husk_cgroup_set_online_for_testing("0-3", "0");
  husk_cgroup_set_self_for_testing("0::/\n");
}

static inline void fake_done(fake *f)
{
  nftw(f->root, fake_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  for (size_t i = 0; i < fake_n_roots; i++)
    if (strcmp(fake_roots[i], f->root) == 0)
      fake_roots[i][0] = '\0';
  husk_cgroup_set_root_for_testing(NULL, HUSK_CGROUP_UNKNOWN);
  husk_cgroup_set_online_for_testing(NULL, NULL);
  husk_cgroup_set_self_for_testing(NULL);
  husk_cgroup_journal_reset();
}

/* A v1 host like this machine's: cpu and cpuacct comounted at "cpu,cpuacct"
 * with symlinks, and the usual per-hierarchy files. */
static inline void fake_v1_hierarchies(fake *f, bool with_pids)
{
  fake_file(f, "cpuset/cpuset.cpus", "0-3\n");
  fake_file(f, "cpuset/cpuset.mems", "0\n");
  fake_files(f, "cpuset", "cgroup.procs", NULL);
  fake_files(f, "cpu,cpuacct", "cgroup.procs", "cpu.shares", "cpu.cfs_period_us",
             "cpu.cfs_quota_us", "cpu.cfs_burst_us", "cpu.rt_period_us", "cpu.rt_runtime_us",
             "cpu.idle", "cpu.stat", "cpuacct.usage", "cpuacct.stat", "cpuacct.usage_percpu", NULL);
  char a[PATH_MAX], b[PATH_MAX];
  snprintf(a, sizeof(a), "%s/cpu", f->root);
  snprintf(b, sizeof(b), "%s/cpuacct", f->root);
  if (symlink("cpu,cpuacct", a) < 0 || symlink("cpu,cpuacct", b) < 0)
    abort();
  fake_files(f, "memory", "cgroup.procs", "memory.limit_in_bytes", "memory.soft_limit_in_bytes",
             "memory.memsw.limit_in_bytes", "memory.swappiness", "memory.oom_control",
             "memory.use_hierarchy", "memory.kmem.tcp.limit_in_bytes", "memory.usage_in_bytes",
             "memory.stat", NULL);
  fake_files(f, "devices", "cgroup.procs", "devices.allow", "devices.deny", "devices.list", NULL);
  fake_files(f, "freezer", "cgroup.procs", "freezer.state", NULL);
  fake_files(f, "blkio", "cgroup.procs", "blkio.weight", "blkio.weight_device",
             "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
             "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device", NULL);
  if (with_pids)
    fake_files(f, "pids", "cgroup.procs", "pids.max", "pids.current", NULL);
  fake_files(f, "systemd", "cgroup.procs", NULL);
}

static inline void fake_v1(fake *f, bool with_pids)
{
  fake_init(f);
  fake_v1_hierarchies(f, with_pids);
  fake_files(f, "hugetlb", "cgroup.procs", "hugetlb.2MB.limit_in_bytes", NULL);
  husk_cgroup_set_root_for_testing(f->root, HUSK_CGROUP_V1);
  husk_cgroup_set_self_for_testing("8:pids:/\n4:memory:/\n1:cpu,cpuacct:/\n0::/\n");
}

/* The unified files a v2 cgroup has when `controllers` are enabled. */
static inline bool has_word(const char *list, const char *word)
{
  size_t n = strlen(word);
  for (const char *p = list; (p = strstr(p, word)); p++)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0' || p[n] == '\n'))
      return true;
  return false;
}

static inline void fake_v2_files(fake *f, const char *dir, const char *controllers)
{
  char rel[PATH_MAX];
  snprintf(rel, sizeof(rel), "%s%scgroup.controllers", dir, dir[0] ? "/" : "");
  fake_file(f, rel, controllers);
  fake_files(f, dir, "cgroup.subtree_control", "cgroup.procs", "cgroup.freeze", "cgroup.kill",
             "cgroup.events", "cgroup.type", "cpu.stat", NULL);
  if (has_word(controllers, "cpuset"))
    fake_files(f, dir, "cpuset.cpus", "cpuset.mems", NULL);
  if (has_word(controllers, "cpu"))
    fake_files(f, dir, "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", NULL);
  if (has_word(controllers, "memory"))
    fake_files(f, dir, "memory.max", "memory.low", "memory.high", "memory.swap.max",
               "memory.current", "memory.stat", "memory.events", NULL);
  if (has_word(controllers, "pids"))
    fake_files(f, dir, "pids.max", "pids.current", NULL);
  if (has_word(controllers, "io"))
    fake_files(f, dir, "io.weight", "io.max", "io.stat", NULL);
  if (has_word(controllers, "hugetlb"))
    fake_files(f, dir, "hugetlb.2MB.max", "hugetlb.1GB.max", NULL);
}

static inline void fake_v2(fake *f, const char *controllers)
{
  fake_init(f);
  fake_v2_files(f, "", controllers);
  husk_cgroup_set_root_for_testing(f->root, HUSK_CGROUP_V2);
}

/* This machine: v1 controllers, cgroup2 at unified with only hugetlb. */
static inline void fake_hybrid(fake *f)
{
  fake_init(f);
  fake_v1_hierarchies(f, true);
  fake_v2_files(f, "unified", "hugetlb");
  husk_cgroup_set_root_for_testing(f->root, HUSK_CGROUP_HYBRID);
  husk_cgroup_set_self_for_testing("8:pids:/\n4:memory:/\n1:cpu,cpuacct:/\n0::/\n");
}

/* husk_cgroup_create that must succeed (path NULL: the default /husk/ID).
 * Like the assert_* macros below, this wants <cmocka.h> included first. */
static inline husk_cgroup *fake_create_ok(const char *id, const char *path, const husk_resources *r)
{
  husk_cgroup_config cfg = {.id = id, .cgroups_path = path, .resources = r};
  husk_cgroup *cg = NULL;
  husk_err err = {0};
  if (husk_cgroup_create(&cfg, &cg, &err) < 0)
    fail_msg("create failed: %s", err.msg);
  assert_non_null(cg);
  return cg;
}

/* husk_cgroup_create that must fail: returns the error message (static). */
static inline const char *fake_create_error(const char *id, const husk_resources *r)
{
  static husk_err err;
  husk_cgroup_config cfg = {.id = id, .resources = r};
  husk_cgroup *cg = NULL;
  memset(&err, 0, sizeof(err));
  assert_true(husk_cgroup_create(&cfg, &cg, &err) < 0);
  assert_null(cg);
  return err.msg;
}

/* Parse a linux.resources JSON text (asserting success). */
static inline husk_resources *res_parse(const char *json)
{
  json_object *o = json_tokener_parse(json);
  if (o == NULL)
    abort();
  husk_resources *r = NULL;
  husk_err err = {0};
  int ret = husk_resources_parse(o, &r, &err);
  json_object_put(o);
  if (ret < 0) {
    fprintf(stderr, "parse failed: %s\n", err.msg);
    abort();
  }
  return r;
}

/* Parse expecting failure; returns the error message (static). */
static inline const char *res_parse_error(const char *json)
{
  static husk_err err;
  json_object *o = json_tokener_parse(json);
  if (o == NULL)
    abort();
  husk_resources *r = NULL;
  memset(&err, 0, sizeof(err));
  int ret = husk_resources_parse(o, &r, &err);
  json_object_put(o);
  if (ret >= 0) {
    husk_resources_free(r);
    return NULL;
  }
  return err.msg;
}

/* Does the journal contain this exact line? */
static inline bool journal_has(const char *line)
{
  const char *j = husk_cgroup_journal();
  size_t n = strlen(line);
  for (const char *p = j; (p = strstr(p, line)); p++)
    if ((p == j || p[-1] == '\n') && p[n] == '\n')
      return true;
  return false;
}

/* Position of a journal line (-1 when absent), to check order. */
static inline long journal_pos(const char *line)
{
  const char *j = husk_cgroup_journal();
  size_t n = strlen(line);
  for (const char *p = j; (p = strstr(p, line)); p++)
    if ((p == j || p[-1] == '\n') && p[n] == '\n')
      return p - j;
  return -1;
}

static inline size_t journal_count(const char *fragment)
{
  size_t n = 0;
  for (const char *p = husk_cgroup_journal(); (p = strstr(p, fragment)); p++)
    n++;
  return n;
}

#define assert_journal(line)                                                                       \
  do {                                                                                             \
    if (!journal_has(line))                                                                        \
      fail_msg("journal lacks \"%s\"; journal:\n%s", (line), husk_cgroup_journal());               \
  } while (0)

#define assert_no_journal(fragment)                                                                \
  do {                                                                                             \
    if (strstr(husk_cgroup_journal(), (fragment)))                                                 \
      fail_msg("journal has \"%s\"; journal:\n%s", (fragment), husk_cgroup_journal());             \
  } while (0)

#define assert_before(a, b)                                                                        \
  do {                                                                                             \
    long pa_ = journal_pos(a), pb_ = journal_pos(b);                                               \
    if (pa_ < 0 || pb_ < 0 || pa_ > pb_)                                                           \
      fail_msg("expected \"%s\" before \"%s\"; journal:\n%s", (a), (b), husk_cgroup_journal());    \
  } while (0)

#endif
