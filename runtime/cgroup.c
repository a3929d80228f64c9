/* cgroups, the common part: layout detection, linux.resources parsing and
 * validation, cgroupsPath resolution, creating/opening/joining/removing the
 * container's cgroup directories, and dispatch to the v1 (cgroup_v1.c) and
 * v2 (cgroup_v2.c) backends.  A hybrid host (v1 controllers + a cgroup2 mount
 * at /sys/fs/cgroup/unified) uses the v1 backend for the controllers and the
 * v2 code for the unified part (hugetlb when it lives there, cgroup.kill,
 * CLONE_INTO_CGROUP). */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "spec.h"
#include "userns.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

const char *const husk_cg_ctrl_names[HUSK_CG_N] = {
    [HUSK_CG_CPUSET] = "cpuset",     [HUSK_CG_CPU] = "cpu",
    [HUSK_CG_CPUACCT] = "cpuacct",   [HUSK_CG_BLKIO] = "blkio",
    [HUSK_CG_MEMORY] = "memory",     [HUSK_CG_DEVICES] = "devices",
    [HUSK_CG_FREEZER] = "freezer",   [HUSK_CG_NET_CLS] = "net_cls",
    [HUSK_CG_NET_PRIO] = "net_prio", [HUSK_CG_PERF_EVENT] = "perf_event",
    [HUSK_CG_HUGETLB] = "hugetlb",   [HUSK_CG_PIDS] = "pids",
    [HUSK_CG_RDMA] = "rdma",         [HUSK_CG_MISC] = "misc",
    [HUSK_CG_SYSTEMD] = "systemd",
};

#define CG_BIT(c) (1u << (c))

/* ------------------------------------------------------------------ */
/* module state: the detected layout (once per run) and test overrides */

static struct {
  bool detected;
  husk_cgroup_layout layout;
  const char *unified_dir; /* "unified" (hybrid) */
  bool testing;
  char root[PATH_MAX];
  char *self_override;
  char *cpus_override, *mems_override;
  char *journal;
  size_t journal_len, journal_cap;
} G = {.root = "/sys/fs/cgroup", .unified_dir = "unified"};

const char *husk_cg_root(void)
{
  return G.root;
}

bool husk_cg_testing(void)
{
  return G.testing;
}

void husk_cgroup_set_root_for_testing(const char *root, husk_cgroup_layout layout)
{
  if (root == NULL) {
    snprintf(G.root, sizeof(G.root), "/sys/fs/cgroup");
    G.testing = false;
    G.detected = false;
    return;
  }
  snprintf(G.root, sizeof(G.root), "%s", root);
  G.testing = true;
  G.detected = true;
  G.layout = layout;
  G.unified_dir = "unified";
}

static void set_str(char **dst, const char *src)
{
  free(*dst);
  *dst = src ? husk_xstrdup(src) : NULL;
}

void husk_cgroup_set_self_for_testing(const char *proc_self_cgroup)
{
  set_str(&G.self_override, proc_self_cgroup);
}

void husk_cgroup_set_online_for_testing(const char *cpus, const char *mems)
{
  set_str(&G.cpus_override, cpus);
  set_str(&G.mems_override, mems);
}

const char *husk_cgroup_journal(void)
{
  return G.journal ? G.journal : "";
}

void husk_cgroup_journal_reset(void)
{
  G.journal_len = 0;
  if (G.journal)
    G.journal[0] = '\0';
}

static void journal_add(const char *label, const char *file, const char *val)
{
  char *line = husk_xasprintf("%s%s%s=%s\n", label, label[0] ? "/" : "", file, val);
  size_t n = strlen(line);
  if (G.journal_len + n + 1 > G.journal_cap) {
    G.journal_cap = (G.journal_len + n + 1) * 2;
    G.journal = husk_xrealloc(G.journal, G.journal_cap);
  }
  memcpy(G.journal + G.journal_len, line, n + 1);
  G.journal_len += n;
  free(line);
}

void husk_cg_journal(const char *label, const char *file, const char *val)
{
  if (G.testing)
    journal_add(label, file, val);
}

/* ------------------------------------------------------------------ */
/* file helpers */

int husk_cg_open_w(const husk_cg_dir *d, const char *file, husk_err *err)
{
  int fd = openat(d->fd, file, O_WRONLY | O_CLOEXEC | O_NOCTTY | (G.testing ? O_TRUNC : 0));
  if (fd < 0)
    return husk_errorf(err, errno, "open %s/%s/%s", G.root, d->label, file);
  return fd;
}

int husk_cg_write_fd(int fd, const husk_cg_dir *d, const char *file, const char *val, husk_err *err)
{
  if (G.testing)
    journal_add(d->label, file, val);
  int r = husk_write_all(fd, val, strlen(val));
  if (r < 0)
    return husk_errorf(err, -r, "write %s=%s in %s/%s", file, val, G.root, d->label);
  return 0;
}

int husk_cg_write(const husk_cg_dir *d, const char *file, const char *val, husk_err *err)
{
  _cleanup_close_ int fd = husk_cg_open_w(d, file, err);
  if (fd < 0)
    return fd;
  return husk_cg_write_fd(fd, d, file, val, err);
}

int husk_cg_writef(const husk_cg_dir *d, const char *file, husk_err *err, const char *fmt, ...)
{
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return husk_cg_write(d, file, buf, err);
}

int husk_cg_read(const husk_cg_dir *d, const char *file, char **out, husk_err *err)
{
  size_t len = 0;
  int r = husk_read_file_at(d->fd, file, out, &len, err);
  if (r < 0)
    return husk_error_wrap(err, "%s/%s", G.root, d->label);
  while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == ' '))
    (*out)[--len] = '\0';
  return 0;
}

int husk_cg_read_u64(const husk_cg_dir *d, const char *file, uint64_t *out)
{
  _cleanup_free_ char *s = NULL;
  if (husk_cg_read(d, file, &s, NULL) < 0)
    return -ENOENT;
  if (strcmp(s, "max") == 0) {
    *out = UINT64_MAX;
    return 0;
  }
  int64_t v;
  if (husk_parse_u64(s, out) == 0)
    return 0;
  if (husk_parse_i64(s, &v) == 0) { /* "-1" (v1 quota) */
    *out = UINT64_MAX;
    return 0;
  }
  return -EINVAL;
}

int husk_cg_read_keyed(const husk_cg_dir *d, const char *file, const char *key, uint64_t *out)
{
  _cleanup_free_ char *s = NULL;
  if (husk_cg_read(d, file, &s, NULL) < 0)
    return -ENOENT;
  size_t kl = strlen(key);
  for (char *line = s; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
      const char *v = line + kl + 1;
      if (strcmp(v, "max") == 0) {
        *out = UINT64_MAX;
        return 0;
      }
      return husk_parse_u64(v, out);
    }
    line = nl ? nl + 1 : NULL;
  }
  return -ENOENT;
}

bool husk_cg_has_file(const husk_cg_dir *d, const char *file)
{
  return d->fd >= 0 && faccessat(d->fd, file, F_OK, 0) == 0;
}

/* ------------------------------------------------------------------ */
/* cpu / memory node lists */

static int parse_list(const char *list, bool **set, size_t *n)
{
  size_t cap = 0;
  bool *bits = NULL;
  const char *p = list;
  if (*p == '\0')
    goto done;
  for (;;) {
    char *end;
    if (!isdigit((unsigned char)*p))
      goto bad;
    unsigned long a = strtoul(p, &end, 10), b = a;
    p = end;
    if (*p == '-') {
      p++;
      if (!isdigit((unsigned char)*p))
        goto bad;
      b = strtoul(p, &end, 10);
      p = end;
    }
    if (b < a || b > 65535)
      goto bad;
    if (b + 1 > cap) {
      bits = husk_xrealloc(bits, b + 1);
      memset(bits + cap, 0, b + 1 - cap);
      cap = b + 1;
    }
    for (unsigned long i = a; i <= b; i++)
      bits[i] = true;
    while (*p == ' ' || *p == '\n')
      p++;
    if (*p == '\0')
      break;
    if (*p != ',')
      goto bad;
    p++;
  }
done:
  *set = bits;
  *n = cap;
  return 0;
bad:
  free(bits);
  return -EINVAL;
}

int husk_cg_check_list(const char *field, const char *what, const char *list, const char *online,
                       husk_err *err)
{
  _cleanup_free_ bool *want = NULL, *have = NULL;
  size_t nw = 0, nh = 0;
  if (parse_list(list, &want, &nw) < 0 || nw == 0)
    return husk_errorf_plain(err, EINVAL, "%s: invalid list \"%s\" (expected e.g. \"0-2,4\")",
                             field, list);
  if (online == NULL)
    return 0;
  if (parse_list(online, &have, &nh) < 0)
    return 0; /* cannot judge: let the kernel decide */
  for (size_t i = 0; i < nw; i++)
    if (want[i] && (i >= nh || !have[i]))
      return husk_errorf_plain(err, EINVAL, "%s: %s %zu is not online (online: %s)", field, what, i,
                               online);
  return 0;
}

static char *read_online(const char *override, const char *path, const char *fallback)
{
  if (override)
    return husk_xstrdup(override);
  char *s = NULL;
  size_t len = 0;
  if (husk_read_file_at(AT_FDCWD, path, &s, &len, NULL) < 0)
    return fallback ? husk_xstrdup(fallback) : NULL;
  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
    s[--len] = '\0';
  return s;
}

/* ------------------------------------------------------------------ */
/* linux.resources */

static void resources_freep(husk_resources **r)
{
  husk_resources_free(*r);
  *r = NULL;
}

void husk_resources_free(husk_resources *r)
{
  if (r == NULL)
    return;
  free(r->cpus);
  free(r->mems);
  free(r->weight_devs);
  for (int i = 0; i < HUSK_THROTTLE_N; i++)
    free(r->throttle[i]);
  for (size_t i = 0; i < r->n_hugepages; i++)
    free(r->hugepages[i].page_size);
  free(r->hugepages);
  for (size_t i = 0; i < r->n_net_prios; i++)
    free(r->net_prios[i].name);
  free(r->net_prios);
  for (size_t i = 0; i < r->n_rdma; i++)
    free(r->rdma[i].device);
  free(r->rdma);
  for (size_t i = 0; i < r->n_unified; i++) {
    free(r->unified[i].key);
    free(r->unified[i].value);
  }
  free(r->unified);
  free(r->devices);
  free(r);
}

/* The member `key` of obj, NULL when absent or null. */
static json_object *jget(json_object *obj, const char *key)
{
  json_object *v = NULL;
  if (!json_object_object_get_ex(obj, key, &v))
    return NULL;
  return v;
}

static int j_obj(json_object *v, const char *field, husk_err *err)
{
  if (!json_object_is_type(v, json_type_object))
    return husk_errorf_plain(err, EINVAL, "%s: expected an object", field);
  return 0;
}

static int j_arr(json_object *v, const char *field, husk_err *err)
{
  if (!json_object_is_type(v, json_type_array))
    return husk_errorf_plain(err, EINVAL, "%s: expected an array", field);
  return 0;
}

static int j_i64(json_object *v, const char *field, int64_t *out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_int))
    return husk_errorf_plain(err, EINVAL, "%s: expected an integer", field);
  *out = json_object_get_int64(v);
  return 0;
}

static int j_u64(json_object *v, const char *field, uint64_t *out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_int))
    return husk_errorf_plain(err, EINVAL, "%s: expected an integer", field);
  int64_t s = json_object_get_int64(v);
  if (s < 0)
    return husk_errorf_plain(err, EINVAL, "%s: invalid value %" PRId64 " (must not be negative)",
                             field, s);
  *out = json_object_get_uint64(v);
  return 0;
}

static int j_bool(json_object *v, const char *field, bool *out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_boolean))
    return husk_errorf_plain(err, EINVAL, "%s: expected true or false", field);
  *out = json_object_get_boolean(v);
  return 0;
}

static int j_str(json_object *v, const char *field, char **out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_string))
    return husk_errorf_plain(err, EINVAL, "%s: expected a string", field);
  free(*out);
  *out = husk_xstrdup(json_object_get_string(v));
  return 0;
}

/* Optional members: set *has and the value when present. */
#define OPT(kind, obj, key, field, has, val)                                                       \
  do {                                                                                             \
    json_object *v_ = jget((obj), (key));                                                          \
    if (v_) {                                                                                      \
      int r_ = j_##kind(v_, (field), (val), err);                                                  \
      if (r_ < 0)                                                                                  \
        return r_;                                                                                 \
      *(has) = true;                                                                               \
    }                                                                                              \
  } while (0)

static int check_bytes(const char *field, int64_t v, husk_err *err)
{
  if (v < -1)
    return husk_errorf_plain(
        err, EINVAL, "%s: invalid value %" PRId64 " (bytes, or -1 for unlimited)", field, v);
  return 0;
}

static int parse_memory(json_object *m, husk_resources *r, husk_err *err)
{
  int ret = j_obj(m, "linux.resources.memory", err);
  if (ret < 0)
    return ret;
  OPT(i64, m, "limit", "linux.resources.memory.limit", &r->has_mem_limit, &r->mem_limit);
  OPT(i64, m, "reservation", "linux.resources.memory.reservation", &r->has_mem_reservation,
      &r->mem_reservation);
  OPT(i64, m, "swap", "linux.resources.memory.swap", &r->has_mem_swap, &r->mem_swap);
  OPT(i64, m, "kernel", "linux.resources.memory.kernel", &r->has_mem_kernel, &r->mem_kernel);
  OPT(i64, m, "kernelTCP", "linux.resources.memory.kernelTCP", &r->has_mem_kernel_tcp,
      &r->mem_kernel_tcp);
  OPT(u64, m, "swappiness", "linux.resources.memory.swappiness", &r->has_swappiness,
      &r->swappiness);
  OPT(bool, m, "disableOOMKiller", "linux.resources.memory.disableOOMKiller", &r->has_disable_oom,
      &r->disable_oom);
  OPT(bool, m, "useHierarchy", "linux.resources.memory.useHierarchy", &r->has_use_hierarchy,
      &r->use_hierarchy);
  bool dummy = false;
  OPT(bool, m, "checkBeforeUpdate", "linux.resources.memory.checkBeforeUpdate", &dummy,
      &r->check_before_update);

  if (r->has_mem_limit && (ret = check_bytes("linux.resources.memory.limit", r->mem_limit, err)))
    return ret;
  if (r->has_mem_reservation &&
      (ret = check_bytes("linux.resources.memory.reservation", r->mem_reservation, err)))
    return ret;
  if (r->has_mem_swap && (ret = check_bytes("linux.resources.memory.swap", r->mem_swap, err)))
    return ret;
  if (r->has_mem_kernel && (ret = check_bytes("linux.resources.memory.kernel", r->mem_kernel, err)))
    return ret;
  if (r->has_mem_kernel_tcp &&
      (ret = check_bytes("linux.resources.memory.kernelTCP", r->mem_kernel_tcp, err)))
    return ret;
  if (r->has_mem_swap && r->mem_swap > 0 && r->has_mem_limit && r->mem_limit > 0 &&
      r->mem_swap < r->mem_limit)
    return husk_errorf_plain(err, EINVAL,
                             "linux.resources.memory.swap: the memory+swap limit %" PRId64
                             " must not be below memory.limit %" PRId64,
                             r->mem_swap, r->mem_limit);
  if (r->has_swappiness && r->swappiness > 100)
    return husk_errorf_plain(
        err, EINVAL, "linux.resources.memory.swappiness: invalid value %" PRIu64 " (0 to 100)",
        r->swappiness);
  return 0;
}

static int parse_cpu(json_object *c, husk_resources *r, husk_err *err)
{
  int ret = j_obj(c, "linux.resources.cpu", err);
  if (ret < 0)
    return ret;
  OPT(u64, c, "shares", "linux.resources.cpu.shares", &r->has_cpu_shares, &r->cpu_shares);
  OPT(i64, c, "quota", "linux.resources.cpu.quota", &r->has_cpu_quota, &r->cpu_quota);
  OPT(u64, c, "burst", "linux.resources.cpu.burst", &r->has_cpu_burst, &r->cpu_burst);
  OPT(u64, c, "period", "linux.resources.cpu.period", &r->has_cpu_period, &r->cpu_period);
  OPT(i64, c, "realtimeRuntime", "linux.resources.cpu.realtimeRuntime", &r->has_rt_runtime,
      &r->rt_runtime);
  OPT(u64, c, "realtimePeriod", "linux.resources.cpu.realtimePeriod", &r->has_rt_period,
      &r->rt_period);
  OPT(i64, c, "idle", "linux.resources.cpu.idle", &r->has_cpu_idle, &r->cpu_idle);
  bool has = false;
  OPT(str, c, "cpus", "linux.resources.cpu.cpus", &has, &r->cpus);
  OPT(str, c, "mems", "linux.resources.cpu.mems", &has, &r->mems);

  if (r->has_cpu_quota && (r->cpu_quota < -1 || (r->cpu_quota > 0 && r->cpu_quota < 1000)))
    return husk_errorf_plain(err, EINVAL,
                             "linux.resources.cpu.quota: invalid value %" PRId64
                             " (at least 1000 microseconds, or -1 for unlimited)",
                             r->cpu_quota);
  if (r->has_cpu_period && r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
    return husk_errorf_plain(err, EINVAL,
                             "linux.resources.cpu.period: invalid value %" PRIu64
                             " (1000 to 1000000 microseconds)",
                             r->cpu_period);
  if (r->has_cpu_shares && r->cpu_shares > 262144)
    return husk_errorf_plain(err, EINVAL,
                             "linux.resources.cpu.shares: invalid value %" PRIu64 " (2 to 262144)",
                             r->cpu_shares);
  if (r->has_cpu_idle && r->cpu_idle != 0 && r->cpu_idle != 1)
    return husk_errorf_plain(
        err, EINVAL, "linux.resources.cpu.idle: invalid value %" PRId64 " (0 or 1)", r->cpu_idle);
  if (r->cpus && r->cpus[0] == '\0')
    free(husk_steal_ptr(r->cpus));
  if (r->mems && r->mems[0] == '\0')
    free(husk_steal_ptr(r->mems));
  if (r->cpus) {
    _cleanup_free_ char *online =
        read_online(G.cpus_override, "/sys/devices/system/cpu/online", NULL);
    if ((ret = husk_cg_check_list("linux.resources.cpu.cpus", "CPU", r->cpus, online, err)) < 0)
      return ret;
  }
  if (r->mems) {
    _cleanup_free_ char *online =
        read_online(G.mems_override, "/sys/devices/system/node/online", "0");
    if ((ret = husk_cg_check_list("linux.resources.cpu.mems", "memory node", r->mems, online,
                                  err)) < 0)
      return ret;
  }
  return 0;
}

static int parse_major_minor(json_object *e, const char *field, int64_t *major, int64_t *minor,
                             bool required, husk_err *err)
{
  char f[128];
  *major = *minor = -1;
  json_object *v;
  snprintf(f, sizeof(f), "%s.major", field);
  if ((v = jget(e, "major"))) {
    int r = j_i64(v, f, major, err);
    if (r < 0)
      return r;
  } else if (required) {
    return husk_errorf_plain(err, EINVAL, "%s: missing", f);
  }
  snprintf(f, sizeof(f), "%s.minor", field);
  if ((v = jget(e, "minor"))) {
    int r = j_i64(v, f, minor, err);
    if (r < 0)
      return r;
  } else if (required) {
    return husk_errorf_plain(err, EINVAL, "%s: missing", f);
  }
  if (*major < -1 || *minor < -1 || *major > UINT32_MAX || *minor > UINT32_MAX)
    return husk_errorf_plain(err, EINVAL, "%s: invalid device number %" PRId64 ":%" PRId64, field,
                             *major, *minor);
  if (required && (*major < 0 || *minor < 0))
    return husk_errorf_plain(err, EINVAL, "%s: invalid device number %" PRId64 ":%" PRId64, field,
                             *major, *minor);
  return 0;
}

static int parse_weight(json_object *v, const char *field, uint16_t *out, husk_err *err)
{
  uint64_t w = 0;
  int r = j_u64(v, field, &w, err);
  if (r < 0)
    return r;
  if (w != 0 && (w < 10 || w > 1000))
    return husk_errorf_plain(err, EINVAL, "%s: invalid value %" PRIu64 " (10 to 1000)", field, w);
  *out = (uint16_t)w;
  return 0;
}

static int parse_blkio(json_object *b, husk_resources *r, husk_err *err)
{
  int ret = j_obj(b, "linux.resources.blockIO", err);
  if (ret < 0)
    return ret;
  json_object *v;
  if ((v = jget(b, "weight"))) {
    if ((ret = parse_weight(v, "linux.resources.blockIO.weight", &r->blkio_weight, err)) < 0)
      return ret;
    r->has_blkio_weight = r->blkio_weight != 0;
  }
  if ((v = jget(b, "leafWeight"))) {
    if ((ret = parse_weight(v, "linux.resources.blockIO.leafWeight", &r->blkio_leaf_weight, err)) <
        0)
      return ret;
    r->has_blkio_leaf_weight = r->blkio_leaf_weight != 0;
  }
  if ((v = jget(b, "weightDevice"))) {
    if ((ret = j_arr(v, "linux.resources.blockIO.weightDevice", err)) < 0)
      return ret;
    size_t n = json_object_array_length(v);
    r->weight_devs = husk_xcalloc(n, sizeof(*r->weight_devs));
    for (size_t i = 0; i < n; i++) {
      char f[96];
      snprintf(f, sizeof(f), "linux.resources.blockIO.weightDevice[%zu]", i);
      json_object *e = json_object_array_get_idx(v, i);
      husk_weight_dev *w = &r->weight_devs[r->n_weight_devs++];
      if ((ret = j_obj(e, f, err)) < 0 ||
          (ret = parse_major_minor(e, f, &w->major, &w->minor, true, err)) < 0)
        return ret;
      json_object *x;
      char ff[128];
      if ((x = jget(e, "weight"))) {
        snprintf(ff, sizeof(ff), "%s.weight", f);
        if ((ret = parse_weight(x, ff, &w->weight, err)) < 0)
          return ret;
        w->has_weight = true;
      }
      if ((x = jget(e, "leafWeight"))) {
        snprintf(ff, sizeof(ff), "%s.leafWeight", f);
        if ((ret = parse_weight(x, ff, &w->leaf_weight, err)) < 0)
          return ret;
        w->has_leaf_weight = true;
      }
    }
  }
  static const char *const tkeys[HUSK_THROTTLE_N] = {
      "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
      "throttleWriteIOPSDevice"};
  for (int k = 0; k < HUSK_THROTTLE_N; k++) {
    if (!(v = jget(b, tkeys[k])))
      continue;
    char fa[96];
    snprintf(fa, sizeof(fa), "linux.resources.blockIO.%s", tkeys[k]);
    if ((ret = j_arr(v, fa, err)) < 0)
      return ret;
    size_t n = json_object_array_length(v);
    r->throttle[k] = husk_xcalloc(n, sizeof(*r->throttle[k]));
    for (size_t i = 0; i < n; i++) {
      char f[128], ff[160];
      snprintf(f, sizeof(f), "%s[%zu]", fa, i);
      json_object *e = json_object_array_get_idx(v, i);
      husk_throttle_dev *t = &r->throttle[k][r->n_throttle[k]++];
      if ((ret = j_obj(e, f, err)) < 0 ||
          (ret = parse_major_minor(e, f, &t->major, &t->minor, true, err)) < 0)
        return ret;
      snprintf(ff, sizeof(ff), "%s.rate", f);
      json_object *x = jget(e, "rate");
      if (x == NULL)
        return husk_errorf_plain(err, EINVAL, "%s: missing", ff);
      if ((ret = j_u64(x, ff, &t->rate, err)) < 0)
        return ret;
    }
  }
  return 0;
}

static int parse_hugepages(json_object *v, husk_resources *r, husk_err *err)
{
  int ret = j_arr(v, "linux.resources.hugepageLimits", err);
  if (ret < 0)
    return ret;
  size_t n = json_object_array_length(v);
  r->hugepages = husk_xcalloc(n, sizeof(*r->hugepages));
  for (size_t i = 0; i < n; i++) {
    char f[96], ff[128];
    snprintf(f, sizeof(f), "linux.resources.hugepageLimits[%zu]", i);
    json_object *e = json_object_array_get_idx(v, i);
    husk_hugepage_limit *h = &r->hugepages[r->n_hugepages++];
    if ((ret = j_obj(e, f, err)) < 0)
      return ret;
    json_object *x = jget(e, "pageSize");
    snprintf(ff, sizeof(ff), "%s.pageSize", f);
    if (x == NULL)
      return husk_errorf_plain(err, EINVAL, "%s: missing", ff);
    if ((ret = j_str(x, ff, &h->page_size, err)) < 0)
      return ret;
    const char *p = h->page_size;
    while (isdigit((unsigned char)*p))
      p++;
    if (p == h->page_size || (strcmp(p, "KB") && strcmp(p, "MB") && strcmp(p, "GB")))
      return husk_errorf_plain(err, EINVAL, "%s: invalid page size \"%s\" (e.g. \"2MB\")", ff,
                               h->page_size);
    x = jget(e, "limit");
    snprintf(ff, sizeof(ff), "%s.limit", f);
    if (x == NULL)
      return husk_errorf_plain(err, EINVAL, "%s: missing", ff);
    if ((ret = j_u64(x, ff, &h->limit, err)) < 0)
      return ret;
  }
  return 0;
}

static int parse_network(json_object *v, husk_resources *r, husk_err *err)
{
  int ret = j_obj(v, "linux.resources.network", err);
  if (ret < 0)
    return ret;
  json_object *x;
  if ((x = jget(v, "classID"))) {
    uint64_t id = 0;
    if ((ret = j_u64(x, "linux.resources.network.classID", &id, err)) < 0)
      return ret;
    if (id > UINT32_MAX)
      return husk_errorf_plain(err, EINVAL, "linux.resources.network.classID: out of range");
    r->net_classid = (uint32_t)id;
    r->has_net_classid = true;
  }
  if ((x = jget(v, "priorities"))) {
    if ((ret = j_arr(x, "linux.resources.network.priorities", err)) < 0)
      return ret;
    size_t n = json_object_array_length(x);
    r->net_prios = husk_xcalloc(n, sizeof(*r->net_prios));
    for (size_t i = 0; i < n; i++) {
      char f[96], ff[128];
      snprintf(f, sizeof(f), "linux.resources.network.priorities[%zu]", i);
      json_object *e = json_object_array_get_idx(x, i);
      husk_net_prio *p = &r->net_prios[r->n_net_prios++];
      if ((ret = j_obj(e, f, err)) < 0)
        return ret;
      json_object *y = jget(e, "name");
      snprintf(ff, sizeof(ff), "%s.name", f);
      if (y == NULL)
        return husk_errorf_plain(err, EINVAL, "%s: missing", ff);
      if ((ret = j_str(y, ff, &p->name, err)) < 0)
        return ret;
      if (p->name[0] == '\0' || strpbrk(p->name, " \n/"))
        return husk_errorf_plain(err, EINVAL, "%s: invalid interface name", ff);
      uint64_t prio = 0;
      snprintf(ff, sizeof(ff), "%s.priority", f);
      if ((y = jget(e, "priority")) && (ret = j_u64(y, ff, &prio, err)) < 0)
        return ret;
      if (prio > UINT32_MAX)
        return husk_errorf_plain(err, EINVAL, "%s: out of range", ff);
      p->priority = (uint32_t)prio;
    }
  }
  return 0;
}

static int parse_rdma(json_object *v, husk_resources *r, husk_err *err)
{
  int ret = j_obj(v, "linux.resources.rdma", err);
  if (ret < 0)
    return ret;
  r->rdma = husk_xcalloc((size_t)json_object_object_length(v), sizeof(*r->rdma));
  json_object_object_foreach(v, key, val)
  {
    char f[256], ff[300];
    snprintf(f, sizeof(f), "linux.resources.rdma.%s", key);
    husk_rdma_limit *l = &r->rdma[r->n_rdma++];
    l->device = husk_xstrdup(key);
    if (key[0] == '\0' || strpbrk(key, " \n/"))
      return husk_errorf_plain(err, EINVAL, "%s: invalid device name", f);
    if ((ret = j_obj(val, f, err)) < 0)
      return ret;
    json_object *x;
    uint64_t n = 0;
    snprintf(ff, sizeof(ff), "%s.hcaHandles", f);
    if ((x = jget(val, "hcaHandles"))) {
      if ((ret = j_u64(x, ff, &n, err)) < 0)
        return ret;
      l->handles = (uint32_t)n;
      l->has_handles = true;
    }
    snprintf(ff, sizeof(ff), "%s.hcaObjects", f);
    if ((x = jget(val, "hcaObjects"))) {
      if ((ret = j_u64(x, ff, &n, err)) < 0)
        return ret;
      l->objects = (uint32_t)n;
      l->has_objects = true;
    }
  }
  return 0;
}

static int parse_unified(json_object *v, husk_resources *r, husk_err *err)
{
  int ret = j_obj(v, "linux.resources.unified", err);
  if (ret < 0)
    return ret;
  r->unified = husk_xcalloc((size_t)json_object_object_length(v), sizeof(*r->unified));
  json_object_object_foreach(v, key, val)
  {
    char f[256];
    snprintf(f, sizeof(f), "linux.resources.unified.%s", key);
    husk_unified_kv *kv = &r->unified[r->n_unified++];
    kv->key = husk_xstrdup(key);
    const char *dot = strchr(key, '.');
    if (dot == NULL || dot == key || dot[1] == '\0' || strchr(key, '/') || strstr(key, ".."))
      return husk_errorf_plain(err, EINVAL, "%s: invalid cgroup file name", f);
    static const char *const forbidden[] = {"cgroup.procs",           "cgroup.threads",
                                            "cgroup.subtree_control", "cgroup.kill",
                                            "cgroup.freeze",          "cgroup.type"};
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(forbidden); i++)
      if (strcmp(key, forbidden[i]) == 0)
        return husk_errorf_plain(err, EINVAL, "%s: may not be set through unified", f);
    if ((ret = j_str(val, f, &kv->value, err)) < 0)
      return ret;
  }
  return 0;
}

static int parse_devices(json_object *v, husk_resources *r, husk_err *err)
{
  int ret = j_arr(v, "linux.resources.devices", err);
  if (ret < 0)
    return ret;
  size_t n = json_object_array_length(v);
  r->has_devices = true;
  r->devices = husk_xcalloc(n, sizeof(*r->devices));
  for (size_t i = 0; i < n; i++) {
    char f[96], ff[128];
    snprintf(f, sizeof(f), "linux.resources.devices[%zu]", i);
    json_object *e = json_object_array_get_idx(v, i);
    husk_dev_rule *d = &r->devices[r->n_devices++];
    if ((ret = j_obj(e, f, err)) < 0)
      return ret;
    json_object *x = jget(e, "allow");
    snprintf(ff, sizeof(ff), "%s.allow", f);
    if (x == NULL)
      return husk_errorf_plain(err, EINVAL, "%s: missing", ff);
    if ((ret = j_bool(x, ff, &d->allow, err)) < 0)
      return ret;
    d->type = 'a';
    if ((x = jget(e, "type"))) {
      snprintf(ff, sizeof(ff), "%s.type", f);
      _cleanup_free_ char *t = NULL;
      if ((ret = j_str(x, ff, &t, err)) < 0)
        return ret;
      if (strcmp(t, "a") && strcmp(t, "c") && strcmp(t, "b"))
        return husk_errorf_plain(err, EINVAL, "%s: invalid device type \"%s\" (a, c or b)", ff, t);
      d->type = t[0];
    }
    if ((ret = parse_major_minor(e, f, &d->major, &d->minor, false, err)) < 0)
      return ret;
    snprintf(d->access, sizeof(d->access), "rwm");
    if ((x = jget(e, "access"))) {
      snprintf(ff, sizeof(ff), "%s.access", f);
      _cleanup_free_ char *a = NULL;
      if ((ret = j_str(x, ff, &a, err)) < 0)
        return ret;
      bool rr = false, ww = false, mm = false;
      for (const char *p = a; *p; p++) {
        if (*p == 'r')
          rr = true;
        else if (*p == 'w')
          ww = true;
        else if (*p == 'm')
          mm = true;
        else
          return husk_errorf_plain(err, EINVAL, "%s: invalid access \"%s\" (letters r, w, m)", ff,
                                   a);
      }
      if (!rr && !ww && !mm)
        return husk_errorf_plain(err, EINVAL, "%s: empty access", ff);
      snprintf(d->access, sizeof(d->access), "%s%s%s", rr ? "r" : "", ww ? "w" : "", mm ? "m" : "");
    }
  }
  return 0;
}

int husk_resources_parse(struct json_object *obj, husk_resources **out, husk_err *err)
{
  *out = NULL;
  if (obj == NULL)
    return 0;
  int ret = j_obj(obj, "linux.resources", err);
  if (ret < 0)
    return ret;
  __attribute__((cleanup(resources_freep))) husk_resources *r = husk_xcalloc(1, sizeof(*r));
  json_object *v;
  if ((v = jget(obj, "memory")) && (ret = parse_memory(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "cpu")) && (ret = parse_cpu(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "pids"))) {
    if ((ret = j_obj(v, "linux.resources.pids", err)) < 0)
      return ret;
    OPT(i64, v, "limit", "linux.resources.pids.limit", &r->has_pids_limit, &r->pids_limit);
  }
  if ((v = jget(obj, "blockIO")) && (ret = parse_blkio(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "hugepageLimits")) && (ret = parse_hugepages(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "network")) && (ret = parse_network(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "rdma")) && (ret = parse_rdma(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "unified")) && (ret = parse_unified(v, r, err)) < 0)
    return ret;
  if ((v = jget(obj, "devices")) && (ret = parse_devices(v, r, err)) < 0)
    return ret;
  *out = husk_steal_ptr(r);
  return 0;
}

uint32_t husk_resources_controllers(const husk_resources *r)
{
  uint32_t m = 0;
  if (r == NULL)
    return 0;
  if ((r->has_mem_limit && r->mem_limit) || (r->has_mem_reservation && r->mem_reservation) ||
      (r->has_mem_swap && r->mem_swap) || r->has_swappiness ||
      (r->has_disable_oom && r->disable_oom))
    m |= CG_BIT(HUSK_CG_MEMORY);
  if ((r->has_cpu_shares && r->cpu_shares) || (r->has_cpu_quota && r->cpu_quota) ||
      (r->has_cpu_period && r->cpu_period) || r->has_cpu_burst ||
      (r->has_rt_runtime && r->rt_runtime) || (r->has_rt_period && r->rt_period) || r->has_cpu_idle)
    m |= CG_BIT(HUSK_CG_CPU);
  if (r->cpus || r->mems)
    m |= CG_BIT(HUSK_CG_CPUSET);
  if (r->has_pids_limit && r->pids_limit)
    m |= CG_BIT(HUSK_CG_PIDS);
  bool thr = false;
  for (int i = 0; i < HUSK_THROTTLE_N; i++)
    thr |= r->n_throttle[i] > 0;
  if (r->has_blkio_weight || r->has_blkio_leaf_weight || r->n_weight_devs || thr)
    m |= CG_BIT(HUSK_CG_BLKIO);
  if (r->n_hugepages)
    m |= CG_BIT(HUSK_CG_HUGETLB);
  if (r->has_net_classid)
    m |= CG_BIT(HUSK_CG_NET_CLS);
  if (r->n_net_prios)
    m |= CG_BIT(HUSK_CG_NET_PRIO);
  if (r->n_rdma)
    m |= CG_BIT(HUSK_CG_RDMA);
  if (r->n_devices)
    m |= CG_BIT(HUSK_CG_DEVICES);
  return m;
}

const char *husk_cg_ctrl_field(int c)
{
  switch (c) {
  case HUSK_CG_MEMORY:
    return "linux.resources.memory";
  case HUSK_CG_CPU:
    return "linux.resources.cpu";
  case HUSK_CG_CPUSET:
    return "linux.resources.cpu.cpus/mems";
  case HUSK_CG_PIDS:
    return "linux.resources.pids";
  case HUSK_CG_BLKIO:
    return "linux.resources.blockIO";
  case HUSK_CG_HUGETLB:
    return "linux.resources.hugepageLimits";
  case HUSK_CG_NET_CLS:
    return "linux.resources.network.classID";
  case HUSK_CG_NET_PRIO:
    return "linux.resources.network.priorities";
  case HUSK_CG_RDMA:
    return "linux.resources.rdma";
  case HUSK_CG_DEVICES:
    return "linux.resources.devices";
  case HUSK_CG_MISC: /* v2 only, and only through linux.resources.unified */
    return "linux.resources.unified";
  default:
    return "linux.resources";
  }
}

const char *const husk_cg_throttle_fields[HUSK_THROTTLE_N] = {
    "linux.resources.blockIO.throttleReadBpsDevice",
    "linux.resources.blockIO.throttleWriteBpsDevice",
    "linux.resources.blockIO.throttleReadIOPSDevice",
    "linux.resources.blockIO.throttleWriteIOPSDevice"};

/* ------------------------------------------------------------------ */
/* writing limits and reading stats: helpers of both backends */

int husk_cg_wr(const husk_cg_dir *d, const char *field, const char *file, const char *val,
               husk_err *err)
{
  int r = husk_cg_write(d, file, val, err);
  if (r == -ENOENT)
    return husk_errorf_plain(err, ENOTSUP, "%s: not supported on this host (no %s in %s/%s)", field,
                             file, G.root, d->label);
  if (r < 0)
    return husk_error_wrap(err, "%s", field);
  return 0;
}

int husk_cg_set_rdma(const husk_cg_dir *d, const husk_resources *r, husk_err *err)
{
  for (size_t i = 0; i < r->n_rdma; i++) {
    const husk_rdma_limit *l = &r->rdma[i];
    char buf[256], h[24] = "max", o[24] = "max";
    if (l->has_handles)
      snprintf(h, sizeof(h), "%u", l->handles);
    if (l->has_objects)
      snprintf(o, sizeof(o), "%u", l->objects);
    snprintf(buf, sizeof(buf), "%s hca_handle=%s hca_object=%s", l->device, h, o);
    int ret = husk_cg_wr(d, "linux.resources.rdma", "rdma.max", buf, err);
    if (ret < 0)
      return ret;
  }
  return 0;
}

void husk_cg_put_u64(json_object *o, const char *k, uint64_t v)
{
  json_object_object_add(o, k, json_object_new_uint64(v));
}

void husk_cg_put_file(json_object *o, const char *k, const husk_cg_dir *d, const char *file)
{
  uint64_t v;
  if (d && husk_cg_read_u64(d, file, &v) == 0)
    husk_cg_put_u64(o, k, v);
}

json_object *husk_cg_keyed_object(const husk_cg_dir *d, const char *file)
{
  _cleanup_free_ char *s = NULL;
  if (husk_cg_read(d, file, &s, NULL) < 0)
    return NULL;
  json_object *o = json_object_new_object();
  char *save = NULL;
  for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char *sp = strchr(l, ' ');
    uint64_t v;
    if (sp == NULL)
      continue;
    *sp = '\0';
    if (husk_parse_u64(sp + 1, &v) == 0)
      husk_cg_put_u64(o, l, v);
  }
  return o;
}

uint64_t husk_cg_keyed_get(json_object *o, const char *k)
{
  json_object *v;
  return o && json_object_object_get_ex(o, k, &v) ? json_object_get_uint64(v) : 0;
}

void husk_cg_blkio_entry(json_object *arr, unsigned major, unsigned minor, const char *op,
                         uint64_t v)
{
  json_object *e = json_object_new_object();
  husk_cg_put_u64(e, "major", major);
  husk_cg_put_u64(e, "minor", minor);
  json_object_object_add(e, "op", json_object_new_string(op));
  husk_cg_put_u64(e, "value", v);
  json_object_array_add(arr, e);
}

json_object *husk_cg_pids_stats(const husk_cg_dir *d)
{
  json_object *pids = json_object_new_object();
  husk_cg_put_file(pids, "current", d, "pids.current");
  uint64_t lim;
  if (husk_cg_read_u64(d, "pids.max", &lim) == 0)
    husk_cg_put_u64(pids, "limit", lim == UINT64_MAX ? 0 : lim); /* 0: unlimited, as runc */
  return pids;
}

/* ------------------------------------------------------------------ */
/* layout */

static bool is_cgroup2(const char *path)
{
  struct statfs fs;
  return statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

husk_cgroup_layout husk_cgroup_detect(void)
{
  if (G.detected)
    return G.layout;
  struct statfs fs;
  husk_cgroup_layout l = HUSK_CGROUP_UNKNOWN;
  if (statfs(G.root, &fs) == 0) {
    if (fs.f_type == CGROUP2_SUPER_MAGIC) {
      l = HUSK_CGROUP_V2;
    } else if (fs.f_type == TMPFS_MAGIC) {
      char p[PATH_MAX + 16];
      snprintf(p, sizeof(p), "%s/unified", G.root);
      if (is_cgroup2(p)) {
        l = HUSK_CGROUP_HYBRID;
        G.unified_dir = "unified";
      } else {
        /* systemd v232-v233 put the cgroup2 mount at .../systemd */
        snprintf(p, sizeof(p), "%s/systemd", G.root);
        if (is_cgroup2(p)) {
          l = HUSK_CGROUP_HYBRID;
          G.unified_dir = "systemd";
        } else {
          l = HUSK_CGROUP_V1;
        }
      }
    }
  }
  /* debugging knob: treat a hybrid host as plain v1 (ignore the unified mount) */
  const char *force = getenv("HUSK_CGROUP_LAYOUT");
  if (force && strcmp(force, "v1") == 0 && l == HUSK_CGROUP_HYBRID)
    l = HUSK_CGROUP_V1;
  G.layout = l;
  G.detected = true;
  return l;
}

/* ------------------------------------------------------------------ */
/* paths */

/* Clean a cgroup path: collapse slashes, drop ".", refuse "..". */
static int clean_path(const char *in, char **out, husk_err *err)
{
  size_t n = strlen(in);
  char *res = husk_xmalloc(n + 2);
  size_t o = 0;
  const char *p = in;
  bool abs = *p == '/';
  while (*p) {
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    const char *e = strchrnul(p, '/');
    size_t len = (size_t)(e - p);
    if (len == 1 && p[0] == '.') {
      p = e;
      continue;
    }
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      free(res);
      return husk_errorf_plain(err, EINVAL, "linux.cgroupsPath \"%s\": \"..\" is not allowed", in);
    }
    if (o > 0 || abs)
      res[o++] = '/';
    memcpy(res + o, p, len);
    o += len;
    p = e;
  }
  res[o] = '\0';
  if (o == 0) {
    free(res);
    return husk_errorf_plain(err, EINVAL,
                             "linux.cgroupsPath \"%s\": refers to the %s cgroup, not a new one", in,
                             abs ? "root" : "runtime's own");
  }
  if (strchr(res, '\n')) {
    free(res);
    return husk_errorf_plain(err, EINVAL, "linux.cgroupsPath: contains a newline");
  }
  *out = res;
  return 0;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "". */
static int expand_slice(const char *slice, char **out, husk_err *err)
{
  size_t n = strlen(slice);
  if (n < 6 || strcmp(slice + n - 6, ".slice") != 0 || strchr(slice, '/'))
    return husk_errorf_plain(err, EINVAL, "linux.cgroupsPath: invalid systemd slice \"%s\"", slice);
  if (strcmp(slice, "-.slice") == 0) {
    *out = husk_xstrdup("");
    return 0;
  }
  size_t base = n - 6;
  char *res = husk_xmalloc(n * (n + 8) + 1);
  size_t o = 0;
  for (size_t i = 0; i <= base; i++) {
    if (i == base || slice[i] == '-') {
      if (i == 0 || slice[i - 1] == '-' || (i < base && slice[i + 1] == '-'))
        goto bad;
      o += (size_t)sprintf(res + o, "/%.*s.slice", (int)i, slice);
    }
  }
  *out = res;
  return 0;
bad:
  free(res);
  return husk_errorf_plain(err, EINVAL, "linux.cgroupsPath: invalid systemd slice \"%s\"", slice);
}

/* systemd-style "slice:prefix:name" -> a cgroupfs path (there is no systemd to
 * ask for a scope unit: husk manages the directories itself). */
static int systemd_path(const char *spec, char **out, husk_err *err)
{
  const char *c1 = strchr(spec, ':');
  const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ':'))
    return husk_errorf_plain(err, EINVAL,
                             "linux.cgroupsPath \"%s\": expected \"slice:prefix:name\" with the "
                             "systemd cgroup manager",
                             spec);
  _cleanup_free_ char *slice = strndup(spec, (size_t)(c1 - spec));
  _cleanup_free_ char *prefix = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
  const char *name = c2 + 1;
  if (name[0] == '\0' || strchr(name, '/') || strchr(prefix, '/'))
    return husk_errorf_plain(err, EINVAL, "linux.cgroupsPath \"%s\": invalid name", spec);
  _cleanup_free_ char *expanded = NULL;
  int r = expand_slice(slice[0] ? slice : "system.slice", &expanded, err);
  if (r < 0)
    return r;
  size_t nl = strlen(name);
  if (nl > 6 && strcmp(name + nl - 6, ".slice") == 0)
    *out = husk_xasprintf("%s/%s", expanded, name);
  else if (prefix[0])
    *out = husk_xasprintf("%s/%s-%s.scope", expanded, prefix, name);
  else
    *out = husk_xasprintf("%s/%s.scope", expanded, name);
  return 0;
}

/* The runtime's own cgroup per v1 controller and on the unified hierarchy. */
typedef struct self_paths {
  char *v1[HUSK_CG_N];
  char *unified;
} self_paths;

static void self_paths_clear(self_paths *s)
{
  for (int i = 0; i < HUSK_CG_N; i++)
    free(s->v1[i]);
  free(s->unified);
  memset(s, 0, sizeof(*s));
}

static int ctrl_from_name(const char *name, size_t len)
{
  if (len == 12 && strncmp(name, "name=systemd", 12) == 0)
    return HUSK_CG_SYSTEMD;
  for (int i = 0; i < HUSK_CG_N; i++)
    if (i != HUSK_CG_SYSTEMD && strlen(husk_cg_ctrl_names[i]) == len &&
        strncmp(husk_cg_ctrl_names[i], name, len) == 0)
      return i;
  return -1;
}

/* Parse /proc/self/cgroup content ("N:ctrl,ctrl:/path" lines). */
static void parse_self(const char *content, self_paths *s)
{
  _cleanup_free_ char *buf = husk_xstrdup(content);
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL)
      continue;
    const char *path = c2 + 1;
    if (c2 == c1 + 1) {
      set_str(&s->unified, path);
      continue;
    }
    for (char *p = c1 + 1; p < c2;) {
      char *e = memchr(p, ',', (size_t)(c2 - p));
      if (e == NULL)
        e = c2;
      int c = ctrl_from_name(p, (size_t)(e - p));
      if (c >= 0)
        set_str(&s->v1[c], path);
      p = e + 1;
    }
  }
}

static int load_self(self_paths *s, husk_err *err)
{
  if (G.self_override) {
    parse_self(G.self_override, s);
    return 0;
  }
  _cleanup_free_ char *content = NULL;
  int r = husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &content, NULL, err);
  if (r < 0)
    return r;
  parse_self(content, s);
  return 0;
}

static char *join_path(const char *base, const char *rel)
{
  if (base == NULL || strcmp(base, "/") == 0 || base[0] == '\0')
    return husk_xasprintf("/%s", rel);
  return husk_xasprintf("%s/%s", base, rel);
}

/* ------------------------------------------------------------------ */
/* the husk_cgroup object */

static husk_cgroup *cg_new(husk_cgroup_layout layout)
{
  husk_cgroup *cg = husk_xcalloc(1, sizeof(*cg));
  cg->layout = layout;
  for (int i = 0; i < HUSK_CG_N; i++) {
    cg->by_ctrl[i] = -1;
    cg->v1[i].fd = -1;
  }
  cg->v2.fd = -1;
  return cg;
}

static void dir_clear(husk_cg_dir *d)
{
  husk_closep(&d->fd);
  free(d->label);
  free(d->hier);
  free(d->path);
  d->label = d->hier = d->path = NULL;
}

void husk_cgroup_free(husk_cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n_v1; i++)
    dir_clear(&cg->v1[i]);
  dir_clear(&cg->v2);
  free(cg->saved);
  free(cg);
}

static void cg_freep(husk_cgroup **cg)
{
  husk_cgroup_free(*cg);
  *cg = NULL;
}

static void dir_set(husk_cg_dir *d, const char *hier, const char *path)
{
  d->hier = husk_xstrdup(hier);
  d->path = husk_xstrdup(path);
  d->label = hier[0] ? husk_xasprintf("%s%s", hier, path) : husk_xstrdup(path + 1);
}

/* Relative path of a dir below the cgroup root ("memory/husk/id", "husk/id"). */
static const char *dir_rel(const husk_cg_dir *d)
{
  return d->label;
}

static int open_root(husk_err *err)
{
  int fd = open(G.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", G.root);
  return fd;
}

/* Find the v1 hierarchies: one directory per hierarchy under the root,
 * comounted controllers (cpu,cpuacct behind symlinks) counted once. */
static void discover_v1(husk_cgroup *cg, int rootfd)
{
  dev_t devs[HUSK_CG_N];
  ino_t inos[HUSK_CG_N];
  for (int c = 0; c < HUSK_CG_N; c++) {
    if (c == HUSK_CG_SYSTEMD && cg->layout == HUSK_CGROUP_HYBRID &&
        strcmp(G.unified_dir, "systemd") == 0)
      continue;
    struct stat st;
    if (fstatat(rootfd, husk_cg_ctrl_names[c], &st, 0) < 0 || !S_ISDIR(st.st_mode))
      continue;
    size_t j;
    for (j = 0; j < cg->n_v1; j++)
      if (devs[j] == st.st_dev && inos[j] == st.st_ino)
        break;
    if (j == cg->n_v1) {
      devs[j] = st.st_dev;
      inos[j] = st.st_ino;
      cg->v1[j].hier = husk_xstrdup(husk_cg_ctrl_names[c]);
      cg->n_v1++;
    }
    cg->v1[j].ctrls |= CG_BIT(c);
    cg->by_ctrl[c] = (int)j;
  }
}

/* Testing: give a new directory empty copies of its parent's files, the way
 * cgroupfs creates the interface files (cgroup.controllers of a v2 child is
 * the parent's subtree_control). */
static void populate_fake(int rootfd, const char *rel)
{
  _cleanup_free_ char *parent = husk_xstrdup(rel);
  char *slash = strrchr(parent, '/');
  if (slash)
    *slash = '\0';
  else
    strcpy(parent, ".");
  int pfd = openat(rootfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0)
    return;
  _cleanup_close_ int cfd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = fdopendir(pfd);
  if (dir == NULL) {
    close(pfd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (de->d_type != DT_REG)
      continue;
    _cleanup_close_ int f = openat(cfd, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (f >= 0 && strcmp(de->d_name, "cgroup.controllers") == 0) {
      _cleanup_free_ char *st = NULL;
      size_t len = 0;
      if (husk_read_file_at(dirfd(dir), "cgroup.subtree_control", &st, &len, NULL) == 0) {
        /* subtree_control holds "+a +b" in the fake; controllers lists "a b" */
        _cleanup_free_ char *norm = husk_xmalloc(len + 1);
        size_t o = 0;
        for (size_t i = 0; i < len; i++)
          if (st[i] != '+')
            norm[o++] = st[i];
        norm[o] = '\0';
        if (husk_write_all(f, norm, o) < 0)
          break;
      }
    }
  }
  closedir(dir);
}

int husk_cg_mkdir(int rootfd, const char *rel, bool *created, husk_err *err)
{
  *created = false;
  if (mkdirat(rootfd, rel, 0755) < 0) {
    if (errno == EEXIST)
      return 0;
    return husk_errorf(err, errno, "create cgroup %s/%s", G.root, rel);
  }
  *created = true;
  if (G.testing)
    populate_fake(rootfd, rel);
  return 0;
}

/* v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks; copy
 * the parent's values (like runc), unless the spec sets them right after. */
static int cpuset_inherit(int rootfd, const char *rel, int dirfd, bool cpus, bool mems,
                          husk_err *err)
{
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  bool want[] = {cpus, mems};
  _cleanup_free_ char *parent = husk_xstrdup(rel);
  char *slash = strrchr(parent, '/');
  if (slash == NULL)
    return 0;
  *slash = '\0';
  if (!cpus && !mems)
    return 0;
  husk_cg_dir d = {.label = (char *)rel, .fd = dirfd};
  _cleanup_close_ int fd = -1;
  if (dirfd < 0) {
    fd = openat(rootfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      return husk_errorf(err, errno, "open %s/%s", G.root, rel);
    d.fd = fd;
  }
  for (int i = 0; i < 2; i++) {
    if (!want[i])
      continue;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", parent, files[i]);
    _cleanup_free_ char *val = NULL;
    size_t len = 0;
    int r = husk_read_file_at(rootfd, path, &val, &len, err);
    if (r < 0)
      return husk_error_wrap(err, "cpuset of %s/%s", G.root, parent);
    while (len > 0 && val[len - 1] == '\n')
      val[--len] = '\0';
    if (len == 0)
      continue;
    if ((r = husk_cg_write(&d, files[i], val, err)) < 0)
      return r;
  }
  return 0;
}

/* mkdir -p of a v1 cgroup dir, cpuset levels initialised on the way. */
static int make_v1_dir(int rootfd, husk_cg_dir *d, bool cpuset, const husk_resources *r,
                       husk_err *err)
{
  const char *rel = dir_rel(d);
  bool created = false;
  int ret;
  if (mkdirat(rootfd, rel, 0755) == 0) {
    created = true;
    if (G.testing)
      populate_fake(rootfd, rel);
  } else if (errno == ENOENT) {
    _cleanup_free_ char *buf = husk_xstrdup(rel);
    size_t hl = strlen(d->hier);
    for (char *p = buf + hl + 1;; p++) {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      bool c = false;
      if ((ret = husk_cg_mkdir(rootfd, buf, &c, err)) < 0)
        return ret;
      bool leaf = saved == '\0';
      if (c && leaf)
        created = true;
      else if (c && cpuset && (ret = cpuset_inherit(rootfd, buf, -1, true, true, err)) < 0)
        return ret;
      if (leaf)
        break;
      *p = saved;
    }
  } else if (errno != EEXIST) {
    return husk_errorf(err, errno, "create cgroup %s/%s", G.root, rel);
  }
  d->created = created;
  d->fd = openat(rootfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d->fd < 0)
    return husk_errorf(err, errno, "open %s/%s", G.root, rel);
  if (created && cpuset &&
      (ret = cpuset_inherit(rootfd, rel, d->fd, !(r && r->cpus), !(r && r->mems), err)) < 0)
    return ret;
  return 0;
}

static bool dir_populated(const husk_cg_dir *d)
{
  _cleanup_free_ char *procs = NULL;
  if (husk_cg_read(d, "cgroup.procs", &procs, NULL) < 0)
    return false;
  return procs[0] != '\0';
}

static int rmdir_tree(int dfd, const char *name, int depth, husk_err *err);

/* Undo a failed create: remove only the leaf directories this process made
 * (nothing can run in them yet); pre-existing cgroups are left alone. */
static void cg_remove_created(husk_cgroup *cg, int rootfd)
{
  husk_err ignore;
  for (size_t i = 0; i < cg->n_v1; i++)
    if (cg->v1[i].created && cg->v1[i].label) {
      husk_closep(&cg->v1[i].fd);
      rmdir_tree(rootfd, cg->v1[i].label, 0, &ignore);
    }
  if (cg->has_v2 && cg->v2.created && cg->v2.label) {
    husk_closep(&cg->v2.fd);
    rmdir_tree(rootfd, cg->v2.label, 0, &ignore);
  }
}

/* Make the saved string: the common path, or "hier=path;..." when relative
 * paths resolved differently per hierarchy. */
static void make_saved(husk_cgroup *cg)
{
  const char *common = cg->has_v2 ? cg->v2.path : (cg->n_v1 ? cg->v1[0].path : NULL);
  bool same = true;
  for (size_t i = 0; i < cg->n_v1; i++)
    same &= strcmp(cg->v1[i].path, common) == 0;
  if (same) {
    cg->saved = husk_xstrdup(common);
    return;
  }
  size_t cap = 1;
  for (size_t i = 0; i < cg->n_v1; i++)
    cap += strlen(cg->v1[i].hier) + strlen(cg->v1[i].path) + 2;
  if (cg->has_v2)
    cap += strlen(cg->v2.hier) + strlen(cg->v2.path) + 4;
  char *s = husk_xmalloc(cap);
  size_t o = 0;
  for (size_t i = 0; i < cg->n_v1; i++)
    o += (size_t)sprintf(s + o, "%s%s=%s", o ? ";" : "", cg->v1[i].hier, cg->v1[i].path);
  if (cg->has_v2)
    o += (size_t)sprintf(s + o, "%s%s=%s", o ? ";" : "", cg->v2.hier[0] ? cg->v2.hier : "0",
                         cg->v2.path);
  s[o] = '\0';
  cg->saved = s;
}

static int check_v1_controllers(husk_cgroup *cg, uint32_t need, husk_err *err)
{
  for (int c = 0; c < HUSK_CG_N; c++) {
    if (!(need & CG_BIT(c)) || cg->by_ctrl[c] >= 0)
      continue;
    /* hybrid: hugetlb may live on the unified hierarchy (checked there) */
    if (cg->layout == HUSK_CGROUP_HYBRID && c == HUSK_CG_HUGETLB)
      continue;
    return husk_errorf_plain(err, ENODEV,
                             "%s: the %s cgroup controller is not available on this host "
                             "(no %s/%s hierarchy)",
                             husk_cg_ctrl_field(c), husk_cg_ctrl_names[c], G.root,
                             husk_cg_ctrl_names[c]);
  }
  return 0;
}

/* The first application of the spec's resources at create. */
static int apply_initial(husk_cgroup *cg, const husk_cgroup_config *cfg, husk_err *err)
{
  const husk_resources *r = cfg->resources;
  if (r == NULL)
    return 0;
  husk_resources eff = *r;
  _cleanup_free_ husk_dev_rule *rules = NULL;
  if (r->n_devices) {
    /* the spec's rules + the runtime's defaults + linux.devices */
    husk_cg_effective_devices(r, cfg->devices, cfg->n_devices, &rules, &eff.n_devices);
    eff.devices = rules;
  }
  if (cg->layout == HUSK_CGROUP_V2)
    return husk_cg_v2_apply(cg, &eff, false, err);
  return husk_cg_v1_apply(cg, &eff, false, err);
}

/* Rootless and the cgroup cannot be created (not delegated to us): run
 * without a cgroup of our own; with limits asked for, only with a warning. */
static bool rootless_fallback(const husk_cgroup_config *cfg, uint32_t need, const husk_err *err)
{
  if (err->code != EACCES && err->code != EPERM && err->code != EROFS)
    return false;
  /* (uid 0 in a user namespace is rootless too: checked only here, on the
   * error path, to keep the read of uid_map off every start) */
  if (!cfg->rootless && !husk_rootless())
    return false;
  /* device rules: a user namespace cannot create device nodes anyway (runc
   * drops them rootless too) */
  need &= ~CG_BIT(HUSK_CG_DEVICES);
  const husk_resources *r = cfg->resources;
  if (!need && !(r && r->n_unified))
    return true;
  if (cfg->warning == NULL)
    return false;
  husk_errorf_plain(cfg->warning, err->code,
                    "rootless: resource limits ignored: cgroups are not delegated to this user "
                    "(%s)",
                    err->msg);
  return true;
}

int husk_cgroup_create(const husk_cgroup_config *cfg, husk_cgroup **out, husk_err *err)
{
  *out = NULL;
  const husk_resources *r = cfg->resources;
  if (cfg->manager && strcmp(cfg->manager, "disabled") == 0)
    return 0;
  husk_cgroup_layout layout = husk_cgroup_detect();
  uint32_t need = husk_resources_controllers(r);
  if (layout == HUSK_CGROUP_UNKNOWN) {
    if (need || (r && r->n_unified))
      return husk_errorf_plain(err, ENODEV, "linux.resources: no cgroup filesystem mounted at %s",
                               G.root);
    return 0;
  }

  /* the path */
  _cleanup_free_ char *path = NULL;
  int ret;
  const char *given = cfg->cgroups_path && cfg->cgroups_path[0] ? cfg->cgroups_path : NULL;
  if (given == NULL) {
    if (cfg->id == NULL || cfg->id[0] == '\0' || strchr(cfg->id, '/'))
      return husk_errorf_plain(err, EINVAL, "cgroup: invalid container id");
    path = husk_xasprintf("/husk/%s", cfg->id);
  } else if (cfg->manager && strcmp(cfg->manager, "systemd") == 0 && strchr(given, ':')) {
    _cleanup_free_ char *sp = NULL;
    if ((ret = systemd_path(given, &sp, err)) < 0)
      return ret;
    if ((ret = clean_path(sp, &path, err)) < 0)
      return ret;
  } else if ((ret = clean_path(given, &path, err)) < 0) {
    return ret;
  }
  bool relative = path[0] != '/';
  self_paths self = {0};
  if (relative && (ret = load_self(&self, err)) < 0)
    return husk_error_wrap(err, "linux.cgroupsPath %s", path);

  _cleanup_close_ int rootfd = open_root(err);
  if (rootfd < 0) {
    self_paths_clear(&self);
    return rootfd;
  }
  __attribute__((cleanup(cg_freep))) husk_cgroup *cg = cg_new(layout);

  if (layout != HUSK_CGROUP_V2) {
    discover_v1(cg, rootfd);
    if ((ret = check_v1_controllers(cg, need, err)) < 0)
      goto fail;
    for (size_t i = 0; i < cg->n_v1; i++) {
      husk_cg_dir *d = &cg->v1[i];
      _cleanup_free_ char *p = NULL;
      if (relative) {
        int c = 0;
        while (!(d->ctrls & CG_BIT(c)))
          c++;
        p = join_path(self.v1[c], path);
      }
      _cleanup_free_ char *hier = husk_steal_ptr(d->hier);
      dir_set(d, hier, p ? p : path);
    }
  }
  if (layout != HUSK_CGROUP_V1) {
    _cleanup_free_ char *p = relative ? join_path(self.unified, path) : NULL;
    dir_set(&cg->v2, layout == HUSK_CGROUP_HYBRID ? G.unified_dir : "", p ? p : path);
    cg->has_v2 = true;
  }
  self_paths_clear(&self);

  /* directories */
  for (size_t i = 0; i < cg->n_v1; i++) {
    husk_cg_dir *d = &cg->v1[i];
    ret = make_v1_dir(rootfd, d, d->ctrls & CG_BIT(HUSK_CG_CPUSET), r, err);
    if (ret == 0 && !d->created && dir_populated(d))
      ret = husk_errorf_plain(err, EEXIST, "cgroup %s/%s already exists and is not empty", G.root,
                              d->label);
    if (ret < 0) {
      if (rootless_fallback(cfg, need, err)) {
        cg_remove_created(cg, rootfd);
        return 0;
      }
      goto fail;
    }
  }
  if (cg->has_v2) {
    uint32_t want = 0, v2need = 0;
    if (layout == HUSK_CGROUP_V2) {
      v2need = husk_cg_v2_needed(r);
      want = v2need | CG_BIT(HUSK_CG_CPU) | CG_BIT(HUSK_CG_MEMORY) | CG_BIT(HUSK_CG_PIDS) |
             CG_BIT(HUSK_CG_BLKIO);
    } else if (r && r->n_hugepages && cg->by_ctrl[HUSK_CG_HUGETLB] < 0) {
      v2need = want = CG_BIT(HUSK_CG_HUGETLB);
    }
    if (layout == HUSK_CGROUP_HYBRID && r && r->n_unified)
      want |= husk_cg_v2_needed(r) & ~husk_resources_controllers(r);
    ret = husk_cg_v2_prepare(cg, rootfd, want, v2need, err);
    if (ret == 0 && !cg->v2.created && dir_populated(&cg->v2))
      ret = husk_errorf_plain(err, EEXIST, "cgroup %s/%s already exists and is not empty", G.root,
                              cg->v2.label);
    if (ret < 0) {
      if (layout == HUSK_CGROUP_HYBRID && !v2need && !(r && r->n_unified) &&
          (err->code == EACCES || err->code == EPERM || err->code == EROFS)) {
        /* the unified part of a hybrid host is optional */
        dir_clear(&cg->v2);
        cg->has_v2 = false;
      } else if (layout == HUSK_CGROUP_V2 && rootless_fallback(cfg, need, err)) {
        cg_remove_created(cg, rootfd);
        return 0;
      } else {
        goto fail;
      }
    }
  }

  /* limits */
  if ((ret = apply_initial(cg, cfg, err)) < 0)
    goto fail;

  make_saved(cg);
  *out = husk_steal_ptr(cg);
  return 0;

fail:;
  husk_err saved_err = *err;
  cg_remove_created(cg, rootfd);
  *err = saved_err;
  return husk_error_ret(err);
}

int husk_cgroup_open(const char *saved_path, husk_cgroup **out, husk_err *err)
{
  *out = NULL;
  if (saved_path == NULL || saved_path[0] == '\0')
    return husk_errorf_plain(err, EINVAL, "cgroup: empty path");
  husk_cgroup_layout layout = husk_cgroup_detect();
  if (layout == HUSK_CGROUP_UNKNOWN)
    return husk_errorf_plain(err, ENODEV, "cgroup %s: no cgroup filesystem at %s", saved_path,
                             G.root);
  _cleanup_close_ int rootfd = open_root(err);
  if (rootfd < 0)
    return rootfd;
  __attribute__((cleanup(cg_freep))) husk_cgroup *cg = cg_new(layout);
  bool multi = saved_path[0] != '/';
  /* "hier=path;hier=path" */
  struct {
    char *hier, *path;
  } ent[HUSK_CG_N + 1];
  size_t n_ent = 0;
  _cleanup_free_ char *buf = husk_xstrdup(saved_path);
  if (multi) {
    char *save = NULL;
    for (char *e = strtok_r(buf, ";", &save); e && n_ent < HUSK_ARRAY_SIZE(ent);
         e = strtok_r(NULL, ";", &save)) {
      char *eq = strchr(e, '=');
      if (eq == NULL || eq[1] != '/')
        return husk_errorf_plain(err, EINVAL, "cgroup: invalid saved path \"%s\"", saved_path);
      *eq = '\0';
      ent[n_ent].hier = e;
      ent[n_ent++].path = eq + 1;
    }
  }
  if (layout != HUSK_CGROUP_V2)
    discover_v1(cg, rootfd);
  size_t kept = 0;
  for (size_t i = 0; i < cg->n_v1; i++) {
    husk_cg_dir d = cg->v1[i];
    const char *p = multi ? NULL : saved_path;
    for (size_t k = 0; multi && k < n_ent; k++)
      if (strcmp(ent[k].hier, d.hier) == 0)
        p = ent[k].path;
    _cleanup_free_ char *hier = d.hier;
    memset(&cg->v1[i], 0, sizeof(cg->v1[i]));
    cg->v1[i].fd = -1;
    if (p == NULL)
      continue;
    husk_cg_dir nd = {.ctrls = d.ctrls, .fd = -1};
    dir_set(&nd, hier, p);
    nd.fd = openat(rootfd, nd.label, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (nd.fd < 0) {
      dir_clear(&nd);
      continue;
    }
    cg->v1[kept++] = nd;
  }
  cg->n_v1 = kept;
  for (int c = 0; c < HUSK_CG_N; c++)
    cg->by_ctrl[c] = -1;
  for (size_t i = 0; i < cg->n_v1; i++)
    for (int c = 0; c < HUSK_CG_N; c++)
      if (cg->v1[i].ctrls & CG_BIT(c))
        cg->by_ctrl[c] = (int)i;
  if (layout != HUSK_CGROUP_V1) {
    const char *hier = layout == HUSK_CGROUP_HYBRID ? G.unified_dir : "";
    const char *p = multi ? NULL : saved_path;
    for (size_t k = 0; multi && k < n_ent; k++)
      if (strcmp(ent[k].hier, hier[0] ? hier : "0") == 0)
        p = ent[k].path;
    if (p) {
      dir_set(&cg->v2, hier, p);
      cg->v2.fd = openat(rootfd, cg->v2.label, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (cg->v2.fd >= 0)
        cg->has_v2 = true;
      else
        dir_clear(&cg->v2);
    }
  }
  if (cg->n_v1 == 0 && !cg->has_v2)
    return husk_errorf(err, ENOENT, "cgroup %s", saved_path);
  cg->saved = husk_xstrdup(saved_path);
  *out = husk_steal_ptr(cg);
  return 0;
}

const char *husk_cgroup_path(const husk_cgroup *cg)
{
  return cg ? cg->saved : NULL;
}

int husk_cgroup_clone_fd(const husk_cgroup *cg)
{
  return cg && cg->has_v2 ? cg->v2.fd : -1;
}

int husk_cgroup_enter(husk_cgroup *cg, pid_t pid, bool skip_unified, husk_err *err)
{
  if (cg == NULL)
    return 0;
  char buf[24];
  snprintf(buf, sizeof(buf), "%d", (int)pid);
  for (size_t i = 0; i < cg->n_v1; i++) {
    int r = husk_cg_write(&cg->v1[i], "cgroup.procs", buf, err);
    if (r < 0)
      return husk_error_wrap(err, "join cgroup");
  }
  if (cg->has_v2 && !skip_unified) {
    int r = husk_cg_write(&cg->v2, "cgroup.procs", buf, err);
    if (r < 0)
      return husk_error_wrap(err, "join cgroup");
  }
  return 0;
}

/* The calling (single-threaded) process moves itself.  On v1, writing "0"
 * to `tasks` migrates only the current thread, which spares the kernel the
 * global threadgroup lock that a cgroup.procs write takes (an RCU grace
 * period, 5-15 ms here after an idle moment).  For a single-threaded process
 * that is the whole process. */
int husk_cgroup_enter_self(husk_cgroup *cg, bool skip_unified, husk_err *err)
{
  if (cg == NULL)
    return 0;
  for (size_t i = 0; i < cg->n_v1; i++) {
    int r = husk_cg_write(&cg->v1[i], "tasks", "0", err);
    if (r < 0)
      return husk_error_wrap(err, "join cgroup");
  }
  if (cg->has_v2 && !skip_unified) {
    int r = husk_cg_write(&cg->v2, "cgroup.procs", "0", err);
    if (r < 0)
      return husk_error_wrap(err, "join cgroup");
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* processes, kill, remove */

static void pids_add(pid_t **pids, size_t *n, size_t *cap, pid_t p)
{
  for (size_t i = 0; i < *n; i++)
    if ((*pids)[i] == p)
      return;
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *pids = husk_xrealloc(*pids, *cap * sizeof(pid_t));
  }
  (*pids)[(*n)++] = p;
}

/* cgroup.procs of dirfd and of every cgroup below it. */
static int collect_pids(int dfd, pid_t **pids, size_t *n, size_t *cap, int depth)
{
  _cleanup_free_ char *procs = NULL;
  if (husk_read_file_at(dfd, "cgroup.procs", &procs, NULL, NULL) == 0) {
    for (char *p = procs; *p;) {
      char *e;
      long v = strtol(p, &e, 10);
      if (e == p)
        break;
      if (v > 0)
        pids_add(pids, n, cap, (pid_t)v);
      p = e;
      while (*p == '\n' || *p == ' ')
        p++;
    }
  }
  if (depth > 64)
    return 0;
  int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    close(fd);
    return 0;
  }
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.')
      continue;
    _cleanup_close_ int sub = openat(dirfd(dir), de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (sub >= 0)
      collect_pids(sub, pids, n, cap, depth + 1);
  }
  closedir(dir);
  return 0;
}

/* The directory that lists the container's processes best. */
static const husk_cg_dir *procs_dir(const husk_cgroup *cg)
{
  if (cg->has_v2 && cg->v2.fd >= 0)
    return &cg->v2;
  static const int pref[] = {HUSK_CG_PIDS, HUSK_CG_FREEZER, HUSK_CG_MEMORY, HUSK_CG_CPU};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(pref); i++)
    if (cg->by_ctrl[pref[i]] >= 0)
      return &cg->v1[cg->by_ctrl[pref[i]]];
  return cg->n_v1 ? &cg->v1[0] : NULL;
}

int husk_cgroup_pids(husk_cgroup *cg, pid_t **pids, size_t *n, husk_err *err)
{
  *pids = NULL;
  *n = 0;
  if (cg == NULL)
    return 0;
  const husk_cg_dir *d = procs_dir(cg);
  if (d == NULL || d->fd < 0)
    return husk_errorf_plain(err, ENOENT, "cgroup %s: no hierarchy to list processes from",
                             cg->saved ? cg->saved : "");
  size_t cap = 0;
  if (!G.testing && faccessat(d->fd, "cgroup.procs", R_OK, 0) < 0)
    return husk_errorf(err, errno, "read %s/%s/cgroup.procs", G.root, d->label);
  collect_pids(d->fd, pids, n, &cap, 0);
  return 0;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* SIGKILL everything in the cgroup (and below it). */
static void kill_all(husk_cgroup *cg)
{
  husk_err ignore;
  if (cg->has_v2 && cg->v2.fd >= 0 && husk_cg_has_file(&cg->v2, "cgroup.kill")) {
    if (husk_cg_write(&cg->v2, "cgroup.kill", "1", &ignore) == 0)
      return;
  }
  if (G.testing)
    return;
  /* no cgroup.kill: freeze, kill each process, thaw, until empty */
  bool froze = husk_cgroup_freeze(cg, true, &ignore) == 0;
  for (int round = 0; round < 50; round++) {
    pid_t *pids = NULL;
    size_t n = 0;
    if (husk_cgroup_pids(cg, &pids, &n, &ignore) < 0 || n == 0) {
      free(pids);
      break;
    }
    for (size_t i = 0; i < n; i++)
      kill(pids[i], SIGKILL);
    free(pids);
    if (froze) {
      husk_cgroup_freeze(cg, false, &ignore);
      froze = false;
    }
    sleep_ms(round < 10 ? 1 : 10);
  }
  if (froze)
    husk_cgroup_freeze(cg, false, &ignore);
}

static void unlink_fake_files(int dfd)
{
  int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    close(fd);
    return;
  }
  struct dirent *de;
  while ((de = readdir(dir)))
    if (de->d_type == DT_REG)
      unlinkat(dirfd(dir), de->d_name, 0);
  closedir(dir);
}

/* rmdir dfd/name after removing the cgroups below it; EBUSY is retried. */
static int rmdir_tree(int dfd, const char *name, int depth, husk_err *err)
{
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : husk_errorf(err, errno, "open %s", name);
  if (G.testing)
    unlink_fake_files(fd);
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    close(fd);
    return husk_errorf(err, errno, "opendir %s", name);
  }
  struct dirent *de;
  int ret = 0;
  while ((de = readdir(dir))) {
    if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (depth < 64) {
      int r = rmdir_tree(dirfd(dir), de->d_name, depth + 1, err);
      if (r < 0 && ret == 0)
        ret = r;
    }
  }
  closedir(dir);
  long delay = 1, waited = 0;
  for (;;) {
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
      return ret;
    if (errno != EBUSY || waited >= 5000)
      return husk_errorf(err, errno, "remove cgroup %s", name);
    sleep_ms(delay);
    waited += delay;
    delay = delay < 64 ? delay * 2 : 100;
  }
}

int husk_cgroup_destroy(husk_cgroup *cg, husk_err *err)
{
  if (cg == NULL)
    return 0;
  kill_all(cg);
  _cleanup_close_ int rootfd = open_root(err);
  if (rootfd < 0)
    return rootfd;
  int ret = 0;
  husk_err first = {0};
  for (size_t i = 0; i < cg->n_v1 + 1; i++) {
    husk_cg_dir *d = i < cg->n_v1 ? &cg->v1[i] : (cg->has_v2 ? &cg->v2 : NULL);
    if (d == NULL || d->label == NULL)
      continue;
    husk_closep(&d->fd);
    int r = rmdir_tree(rootfd, d->label, 0, err);
    if (r < 0 && ret == 0) {
      ret = r;
      husk_errorf(&first, err->code, "remove cgroup %s/%s", G.root, d->label);
    }
  }
  if (ret < 0)
    *err = first;
  return ret;
}

/* ------------------------------------------------------------------ */
/* update, freezer, stats */

int husk_cgroup_update(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  if (cg == NULL || r == NULL)
    return 0;
  /* like runc, update leaves the device rules alone: the container's
   * linux.devices are not known here */
  husk_resources copy = *r;
  copy.devices = NULL;
  copy.n_devices = 0;
  uint32_t need = husk_resources_controllers(&copy);
  if (cg->layout == HUSK_CGROUP_V2)
    return husk_cg_v2_apply(cg, &copy, true, err);
  int ret = check_v1_controllers(cg, need, err);
  if (ret < 0)
    return ret;
  return husk_cg_v1_apply(cg, &copy, true, err);
}

int husk_cgroup_freeze(husk_cgroup *cg, bool frozen, husk_err *err)
{
  if (cg == NULL)
    return husk_errorf_plain(err, ENOENT, "the container has no cgroup");
  if (cg->by_ctrl[HUSK_CG_FREEZER] >= 0)
    return husk_cg_v1_freeze(cg, frozen, err);
  if (cg->has_v2)
    return husk_cg_v2_freeze(cg, frozen, err);
  return husk_errorf_plain(err, ENODEV,
                           "%s: the freezer cgroup controller is not available on this host",
                           frozen ? "pause" : "resume");
}

bool husk_cgroup_is_frozen(husk_cgroup *cg)
{
  bool f = false;
  if (cg == NULL)
    return false;
  if (cg->by_ctrl[HUSK_CG_FREEZER] >= 0)
    return husk_cg_v1_is_frozen(cg, &f) == 0 && f;
  if (cg->has_v2)
    return husk_cg_v2_is_frozen(cg, &f) == 0 && f;
  return false;
}

int husk_cgroup_stats(husk_cgroup *cg, struct json_object **out, husk_err *err)
{
  *out = NULL;
  if (cg == NULL)
    return husk_errorf_plain(err, ENOENT, "the container has no cgroup");
  json_object *data = json_object_new_object();
  int r = cg->layout == HUSK_CGROUP_V2 ? husk_cg_v2_stats(cg, data, err)
                                       : husk_cg_v1_stats(cg, data, err);
  if (r < 0) {
    json_object_put(data);
    return r;
  }
  *out = data;
  return 0;
}

/* ------------------------------------------------------------------ */
/* the container's view: a cgroup mount at target
 *
 * The target comes as /proc/self/fd/N: a magic link lands on the directory
 * under any mount made on top of it, so everything is done with the new
 * mount API on file descriptors: fsmount() a fresh hierarchy (rooted at the
 * cgroup namespace's root), clone the caller's own subdirectory out of it
 * when there is no cgroup namespace, and move_mount() the result in place. */

static unsigned mount_attrs(unsigned long flags)
{
  unsigned a = 0;
  if (flags & MS_RDONLY)
    a |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID)
    a |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV)
    a |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC)
    a |= MOUNT_ATTR_NOEXEC;
  return a;
}

static int attach_at(int mntfd, int dstfd, const char *what, husk_err *err)
{
  if (move_mount(mntfd, "", dstfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return husk_errorf(err, errno, "attach %s", what);
  return 0;
}

/* fsmount a cgroup ("memory,cpu" / "name=systemd") or cgroup2 hierarchy. */
static int fresh_cgroup(const char *fstype, const char *ctrls, unsigned attrs, husk_err *err)
{
  _cleanup_close_ int fs = fsopen(fstype, FSOPEN_CLOEXEC);
  if (fs < 0)
    return husk_errorf(err, errno, "fsopen %s", fstype);
  if (ctrls) {
    _cleanup_free_ char *list = husk_xstrdup(ctrls);
    char *save = NULL;
    for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
      int r;
      if (strncmp(c, "name=", 5) == 0)
        r = fsconfig(fs, FSCONFIG_SET_FLAG, "none", NULL, 0) < 0 ||
                    fsconfig(fs, FSCONFIG_SET_STRING, "name", c + 5, 0) < 0
                ? -1
                : 0;
      else
        r = fsconfig(fs, FSCONFIG_SET_FLAG, c, NULL, 0);
      if (r < 0)
        return husk_errorf(err, errno, "cgroup option %s", c);
    }
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return husk_errorf(err, errno, "create %s mount (%s)", fstype, ctrls ? ctrls : "");
  int m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  if (m < 0)
    return husk_errorf(err, errno, "fsmount %s", fstype);
  return m;
}

/* Mount one hierarchy on dstfd, showing the caller's cgroup `self`. */
static int mount_hierarchy(const char *fstype, const char *ctrls, const char *self,
                           const char *host_dir, int dstfd, unsigned attrs, husk_err *err)
{
  bool sub = self && strcmp(self, "/") != 0 && self[0] == '/';
  _cleanup_close_ int m = fresh_cgroup(fstype, ctrls, attrs, err);
  if (m < 0) {
    if (err->code != EPERM && err->code != EACCES)
      return m;
    /* a user namespace may not create a cgroup v1 superblock: bind the
     * host's directory of this cgroup instead */
    _cleanup_free_ char *src = husk_xasprintf("%s/%s%s", G.root, host_dir, sub ? self : "");
    _cleanup_close_ int t = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t < 0)
      return husk_errorf(err, errno, "bind %s", src);
    struct mount_attr a = {.attr_set = attrs};
    if (attrs && mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
      return husk_errorf(err, errno, "set attributes of %s", src);
    return attach_at(t, dstfd, src, err);
  }
  if (!sub)
    return attach_at(m, dstfd, fstype, err);
  _cleanup_close_ int t = open_tree(m, self + 1, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (t < 0) {
    /* older kernels cannot clone out of a detached mount: attach it first,
     * then stack the subdirectory on top of it */
    int ret = attach_at(m, dstfd, fstype, err);
    if (ret < 0)
      return ret;
    t = open_tree(m, self + 1, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t < 0)
      return husk_errorf(err, errno, "clone %s of the %s mount", self, fstype);
    _cleanup_close_ int top = open_tree(m, "", OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    return attach_at(t, top >= 0 ? top : dstfd, self, err);
  }
  return attach_at(t, dstfd, self, err);
}

int husk_cgroup_mount(husk_cgroup_layout layout, const char *target, unsigned long flags,
                      husk_err *err)
{
  if (layout == HUSK_CGROUP_UNKNOWN)
    layout = husk_cgroup_detect();
  if (layout == HUSK_CGROUP_UNKNOWN)
    return husk_errorf_plain(err, ENODEV, "cgroup mount: no cgroup filesystem on this host");
  _cleanup_free_ char *content = NULL;
  int ret = husk_read_file_at(AT_FDCWD, "/proc/self/cgroup", &content, NULL, err);
  if (ret < 0)
    return husk_error_wrap(err, "cgroup mount");
  _cleanup_close_ int dst = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dst < 0)
    return husk_errorf(err, errno, "open %s", target);
  unsigned attrs = mount_attrs(flags);

  if (layout == HUSK_CGROUP_V2) {
    const char *self = NULL;
    for (char *l = strtok(content, "\n"); l; l = strtok(NULL, "\n"))
      if (strncmp(l, "0::", 3) == 0)
        self = l + 3;
    return mount_hierarchy("cgroup2", NULL, self, "", dst, attrs, err);
  }

  /* v1 / hybrid: a tmpfs with one mount per hierarchy, read-only at the end */
  _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return husk_errorf(err, errno, "fsopen tmpfs");
  if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "755", 0) < 0 ||
      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return husk_errorf(err, errno, "create tmpfs for %s", target);
  _cleanup_close_ int tm = fsmount(fs, FSMOUNT_CLOEXEC, attrs & ~MOUNT_ATTR_RDONLY);
  if (tm < 0)
    return husk_errorf(err, errno, "fsmount tmpfs");
  if ((ret = attach_at(tm, dst, "tmpfs", err)) < 0)
    return ret;
  char *save = NULL;
  for (char *l = strtok_r(content, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char *c1 = strchr(l, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL)
      continue;
    *c2 = '\0';
    const char *ctrls = c1 + 1, *self = c2 + 1;
    bool unified = ctrls[0] == '\0';
    if (unified && layout != HUSK_CGROUP_HYBRID)
      continue;
    const char *dirname = unified                           ? G.unified_dir
                          : strncmp(ctrls, "name=", 5) == 0 ? ctrls + 5
                                                            : ctrls;
    if (mkdirat(tm, dirname, 0755) < 0 && errno != EEXIST)
      return husk_errorf(err, errno, "mkdir %s/%s", target, dirname);
    _cleanup_close_ int sub = openat(tm, dirname, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (sub < 0)
      return husk_errorf(err, errno, "open %s/%s", target, dirname);
    ret = mount_hierarchy(unified ? "cgroup2" : "cgroup", unified ? NULL : ctrls, self, dirname,
                          sub, attrs, err);
    if (ret < 0)
      return husk_error_wrap(err, "%s/%s", target, dirname);
    /* comounted controllers get symlinks: cpu -> cpu,cpuacct */
    if (!unified && strchr(dirname, ',') && strncmp(ctrls, "name=", 5) != 0) {
      _cleanup_free_ char *names = husk_xstrdup(dirname);
      char *s2 = NULL;
      for (char *n = strtok_r(names, ",", &s2); n; n = strtok_r(NULL, ",", &s2))
        if (symlinkat(dirname, tm, n) < 0 && errno != EEXIST)
          return husk_errorf(err, errno, "symlink %s/%s", target, n);
    }
  }
  if (attrs & MOUNT_ATTR_RDONLY) {
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(tm, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
      return husk_errorf(err, errno, "make %s read-only", target);
  }
  return 0;
}
