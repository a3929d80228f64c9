/* cgroup v2 backend: one directory on the unified hierarchy; controllers are
 * delegated down through cgroup.subtree_control; devices are an eBPF program
 * (cgroup_devices_bpf.c).  On a hybrid host the same code drives the unified
 * part (hugetlb there, unified keys). */
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- conversions (same formulas as runc and crun) ---- */

uint64_t husk_cg_shares_to_weight(uint64_t shares)
{
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  /* [2, 262144] -> [1, 10000] */
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t husk_cg_blkio_to_io_weight(uint64_t weight)
{
  if (weight == 0)
    return 0;
  if (weight < 10)
    weight = 10;
  if (weight > 1000)
    weight = 1000;
  /* [10, 1000] -> [1, 10000] */
  return 1 + ((weight - 10) * 9999) / 990;
}

int husk_cg_swap_to_v2(int64_t swap, int64_t memory, int64_t *out, husk_err *err)
{
  /* v1 semantics: swap is memory+swap.  Returns 1 and *out (-1 = "max") when
   * memory.swap.max is to be written, 0 to leave it. */
  if (memory == -1 && swap == 0) {
    *out = -1; /* unlimited memory, swap not given: unlimited swap too */
    return 1;
  }
  if (swap == 0)
    return 0;
  if (swap == -1) {
    *out = -1;
    return 1;
  }
  if (memory == 0 || memory == -1)
    return husk_errorf_plain(err, EINVAL,
                             "linux.resources.memory.swap: cannot set a swap limit without a "
                             "memory limit");
  if (swap < memory)
    return husk_errorf_plain(err, EINVAL,
                             "linux.resources.memory.swap: the memory+swap limit %" PRId64
                             " must not be below memory.limit %" PRId64,
                             swap, memory);
  *out = swap - memory;
  return 1;
}

/* ---- controllers ---- */

static const char *v2_name(int c)
{
  switch (c) {
  case HUSK_CG_CPU:
    return "cpu";
  case HUSK_CG_CPUSET:
    return "cpuset";
  case HUSK_CG_BLKIO:
    return "io";
  case HUSK_CG_MEMORY:
    return "memory";
  case HUSK_CG_HUGETLB:
    return "hugetlb";
  case HUSK_CG_PIDS:
    return "pids";
  case HUSK_CG_RDMA:
    return "rdma";
  case HUSK_CG_MISC:
    return "misc";
  default:
    return NULL;
  }
}

static int v2_ctrl(const char *name, size_t len)
{
  for (int c = 0; c < HUSK_CG_N; c++) {
    const char *n = v2_name(c);
    if (n && strlen(n) == len && strncmp(n, name, len) == 0)
      return c;
  }
  return -1;
}

/* "cpu io memory" (or the fake tree's "+cpu +io") -> bits */
static uint32_t parse_ctrl_list(const char *s)
{
  uint32_t m = 0;
  while (*s) {
    while (*s == ' ' || *s == '+' || *s == '\n')
      s++;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\n')
      e++;
    int c = v2_ctrl(s, (size_t)(e - s));
    if (c >= 0)
      m |= 1u << c;
    s = e;
  }
  return m;
}

uint32_t husk_cg_v2_needed(const husk_resources *r)
{
  if (r == NULL)
    return 0;
  uint32_t all = husk_resources_controllers(r);
  uint32_t m = all & ((1u << HUSK_CG_CPU) | (1u << HUSK_CG_CPUSET) | (1u << HUSK_CG_BLKIO) |
                      (1u << HUSK_CG_MEMORY) | (1u << HUSK_CG_HUGETLB) | (1u << HUSK_CG_PIDS) |
                      (1u << HUSK_CG_RDMA));
  /* options with no v2 file do not need the controller */
  if (m & (1u << HUSK_CG_MEMORY)) {
    bool real = (r->has_mem_limit && r->mem_limit) ||
                (r->has_mem_reservation && r->mem_reservation) || (r->has_mem_swap && r->mem_swap);
    if (!real)
      m &= ~(1u << HUSK_CG_MEMORY);
  }
  for (size_t i = 0; i < r->n_unified; i++) {
    const char *dot = strchr(r->unified[i].key, '.');
    int c = dot ? v2_ctrl(r->unified[i].key, (size_t)(dot - r->unified[i].key)) : -1;
    if (c >= 0)
      m |= 1u << c;
  }
  return m;
}

/* Make sure dir_rel's subtree_control has the controllers in want. */
static int ensure_subtree(int rootfd, const char *dir_rel, uint32_t want, uint32_t need,
                          husk_err *err)
{
  husk_cg_dir d = {.label = (char *)(strcmp(dir_rel, ".") ? dir_rel : ""), .fd = -1};
  _cleanup_close_ int fd = openat(rootfd, dir_rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s/%s", husk_cg_root(), dir_rel);
  d.fd = fd;
  _cleanup_free_ char *cur = NULL;
  if (husk_cg_read(&d, "cgroup.subtree_control", &cur, err) < 0)
    return husk_error_ret(err);
  uint32_t missing = want & ~parse_ctrl_list(cur);
  if (missing == 0)
    return 0;
  char buf[256] = "";
  size_t o = 0;
  for (int c = 0; c < HUSK_CG_N; c++)
    if (missing & (1u << c))
      o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s+%s", o ? " " : "", v2_name(c));
  if (husk_cg_write(&d, "cgroup.subtree_control", buf, err) == 0)
    return 0;
  /* one at a time: only the ones the spec needs must succeed */
  for (int c = 0; c < HUSK_CG_N; c++) {
    if (!(missing & (1u << c)))
      continue;
    char one[32];
    snprintf(one, sizeof(one), "+%s", v2_name(c));
    int r = husk_cg_write(&d, "cgroup.subtree_control", one, err);
    if (r < 0 && (need & (1u << c)))
      return husk_error_wrap(err, "%s: enable the %s controller", husk_cg_ctrl_field(c),
                             v2_name(c));
  }
  return 0;
}

int husk_cg_v2_prepare(husk_cgroup *cg, int rootfd, uint32_t want, uint32_t need, husk_err *err)
{
  husk_cg_dir *d = &cg->v2;
  const char *rel = d->label;
  size_t hl = strlen(d->hier);
  const char *root_rel = hl ? d->hier : ".";
  int ret;
  bool created = false;

  if (want) {
    husk_cg_dir root = {.label = (char *)(hl ? d->hier : ""), .fd = -1};
    _cleanup_close_ int rfd = openat(rootfd, root_rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
      return husk_errorf(err, errno, "open %s/%s", husk_cg_root(), root_rel);
    root.fd = rfd;
    _cleanup_free_ char *avail_s = NULL;
    if (husk_cg_read(&root, "cgroup.controllers", &avail_s, err) < 0)
      return husk_error_ret(err);
    uint32_t avail = parse_ctrl_list(avail_s);
    uint32_t lack = need & ~avail;
    for (int c = 0; c < HUSK_CG_N; c++)
      if (lack & (1u << c))
        return husk_errorf_plain(err, ENODEV,
                                 "%s: the %s cgroup controller is not available on this host "
                                 "(not in %s/%s%scgroup.controllers)",
                                 husk_cg_ctrl_field(c), v2_name(c), husk_cg_root(), root.label,
                                 hl ? "/" : "");
    want &= avail;
  }

  /* fast path: the parent exists and already delegates everything */
  _cleanup_free_ char *parent = husk_xstrdup(rel);
  char *slash = strrchr(parent, '/');
  bool parent_ready = false;
  if (slash) {
    *slash = '\0';
    if (want == 0) {
      parent_ready = faccessat(rootfd, parent, F_OK, 0) == 0;
    } else {
      char p[PATH_MAX];
      snprintf(p, sizeof(p), "%s/cgroup.subtree_control", parent);
      _cleanup_free_ char *cur = NULL;
      if (husk_read_file_at(rootfd, p, &cur, NULL, NULL) == 0)
        parent_ready = (want & ~parse_ctrl_list(cur)) == 0;
    }
  } else {
    parent_ready = want == 0;
  }

  if (!parent_ready) {
    if (want && (ret = ensure_subtree(rootfd, root_rel, want, need, err)) < 0)
      return ret;
    _cleanup_free_ char *buf = husk_xstrdup(rel);
    char *start = buf + (hl ? hl + 1 : 0);
    for (char *p = start; *p; p++) {
      if (*p != '/')
        continue;
      *p = '\0';
      bool c = false;
      if ((ret = husk_cg_mkdir(rootfd, buf, &c, err)) < 0)
        return ret;
      if (want && (ret = ensure_subtree(rootfd, buf, want, need, err)) < 0)
        return ret;
      *p = '/';
    }
  }
  if ((ret = husk_cg_mkdir(rootfd, rel, &created, err)) < 0)
    return ret;
  d->created = created;
  d->fd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d->fd < 0)
    return husk_errorf(err, errno, "open %s/%s", husk_cg_root(), rel);
  return 0;
}

/* ---- limits ---- */

static int wr_max(const husk_cg_dir *d, const char *field, const char *file, int64_t v,
                  husk_err *err)
{
  char buf[32];
  if (v < 0)
    snprintf(buf, sizeof(buf), "max");
  else
    snprintf(buf, sizeof(buf), "%" PRId64, v);
  return husk_cg_wr(d, field, file, buf, err);
}

static int set_memory(const husk_cg_dir *d, const husk_resources *r, bool update, husk_err *err)
{
  int ret;
  int64_t limit = r->has_mem_limit ? r->mem_limit : 0;
  int64_t swap = r->has_mem_swap ? r->mem_swap : 0;
  if (limit && (ret = wr_max(d, "linux.resources.memory.limit", "memory.max", limit, err)) < 0)
    return ret;
  if (swap || limit == -1) {
    int64_t mem = limit;
    if (mem == 0 && update) {
      uint64_t cur;
      if (husk_cg_read_u64(d, "memory.max", &cur) == 0)
        mem = cur == UINT64_MAX ? -1 : (int64_t)cur;
    }
    int64_t v2swap = 0;
    if ((ret = husk_cg_swap_to_v2(swap, mem, &v2swap, err)) < 0)
      return ret;
    if (ret == 1) {
      bool has = husk_cg_has_file(d, "memory.swap.max");
      if (!has && v2swap != -1)
        return husk_errorf_plain(err, ENOTSUP,
                                 "linux.resources.memory.swap: swap accounting is not enabled on "
                                 "this host (no memory.swap.max in %s/%s)",
                                 husk_cg_root(), d->label);
      if (has &&
          (ret = wr_max(d, "linux.resources.memory.swap", "memory.swap.max", v2swap, err)) < 0)
        return ret;
    }
  }
  if (r->has_mem_reservation && r->mem_reservation &&
      (ret = wr_max(d, "linux.resources.memory.reservation", "memory.low", r->mem_reservation,
                    err)) < 0)
    return ret;
  /* swappiness, disableOOMKiller, kernel, kernelTCP and useHierarchy have no
   * cgroup v2 file: ignored as runc and crun do */
  return 0;
}

static int set_cpu(const husk_cg_dir *d, const husk_resources *r, bool update, husk_err *err)
{
  int ret;
  if ((r->has_rt_runtime && r->rt_runtime) || (r->has_rt_period && r->rt_period))
    return husk_errorf_plain(err, ENOTSUP,
                             "linux.resources.cpu.%s: realtime scheduling limits are not "
                             "supported by cgroup v2",
                             r->has_rt_runtime && r->rt_runtime ? "realtimeRuntime"
                                                                : "realtimePeriod");
  if (r->cpus && (ret = husk_cg_wr(d, "linux.resources.cpu.cpus", "cpuset.cpus", r->cpus, err)) < 0)
    return ret;
  if (r->mems && (ret = husk_cg_wr(d, "linux.resources.cpu.mems", "cpuset.mems", r->mems, err)) < 0)
    return ret;
  if (r->has_cpu_shares && r->cpu_shares) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, husk_cg_shares_to_weight(r->cpu_shares));
    if ((ret = husk_cg_wr(d, "linux.resources.cpu.shares", "cpu.weight", buf, err)) < 0)
      return ret;
  }
  int64_t quota = r->has_cpu_quota ? r->cpu_quota : 0;
  uint64_t period = r->has_cpu_period ? r->cpu_period : 0;
  if (quota || period) {
    char buf[64];
    if (quota > 0) {
      snprintf(buf, sizeof(buf), "%" PRId64, quota);
    } else if (quota < 0) {
      snprintf(buf, sizeof(buf), "max");
    } else {
      /* only the period: keep the current quota */
      _cleanup_free_ char *cur = NULL;
      snprintf(buf, sizeof(buf), "max");
      if (update && husk_cg_read(d, "cpu.max", &cur, NULL) == 0) {
        char *sp = strchr(cur, ' ');
        if (sp)
          *sp = '\0';
        snprintf(buf, sizeof(buf), "%.30s", cur);
      }
    }
    if (period) {
      size_t o = strlen(buf);
      snprintf(buf + o, sizeof(buf) - o, " %" PRIu64, period);
    }
    if ((ret = husk_cg_wr(d, quota ? "linux.resources.cpu.quota" : "linux.resources.cpu.period",
                          "cpu.max", buf, err)) < 0)
      return ret;
  }
  if (r->has_cpu_burst) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, r->cpu_burst);
    if ((ret = husk_cg_wr(d, "linux.resources.cpu.burst", "cpu.max.burst", buf, err)) < 0)
      return ret;
  }
  if (r->has_cpu_idle) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, r->cpu_idle);
    if ((ret = husk_cg_wr(d, "linux.resources.cpu.idle", "cpu.idle", buf, err)) < 0)
      return ret;
  }
  return 0;
}

static const char *const io_keys[HUSK_THROTTLE_N] = {"rbps", "wbps", "riops", "wiops"};

static int set_io(const husk_cg_dir *d, const husk_resources *r, husk_err *err)
{
  int ret;
  bool bfq = (r->has_blkio_weight || r->n_weight_devs) && husk_cg_has_file(d, "io.bfq.weight");
  if (r->has_blkio_weight) {
    char buf[48];
    /* BFQ takes the v1 value as is; io.weight wants the converted one */
    if (bfq)
      snprintf(buf, sizeof(buf), "%u", r->blkio_weight);
    else
      snprintf(buf, sizeof(buf), "default %" PRIu64, husk_cg_blkio_to_io_weight(r->blkio_weight));
    if ((ret = husk_cg_wr(d, "linux.resources.blockIO.weight", bfq ? "io.bfq.weight" : "io.weight",
                          buf, err)) < 0)
      return ret;
  }
  for (size_t i = 0; i < r->n_weight_devs; i++) {
    const husk_weight_dev *w = &r->weight_devs[i];
    if (!w->has_weight || !w->weight)
      continue;
    char buf[64];
    snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
             bfq ? w->weight : husk_cg_blkio_to_io_weight(w->weight));
    if ((ret = husk_cg_wr(d, "linux.resources.blockIO.weightDevice",
                          bfq ? "io.bfq.weight" : "io.weight", buf, err)) < 0)
      return ret;
  }
  for (int k = 0; k < HUSK_THROTTLE_N; k++) {
    for (size_t i = 0; i < r->n_throttle[k]; i++) {
      const husk_throttle_dev *t = &r->throttle[k][i];
      char buf[96];
      snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t->major, t->minor,
               io_keys[k], t->rate);
      if ((ret = husk_cg_wr(d, husk_cg_throttle_fields[k], "io.max", buf, err)) < 0)
        return ret;
    }
  }
  return 0;
}

int husk_cg_v2_apply(husk_cgroup *cg, const husk_resources *r, bool update, husk_err *err)
{
  const husk_cg_dir *d = &cg->v2;
  int ret;
  if (!cg->has_v2 || d->fd < 0)
    return husk_errorf_plain(err, ENOENT, "cgroup v2 directory of %s is missing",
                             cg->saved ? cg->saved : "the container");
  if (r->has_net_classid || r->n_net_prios)
    return husk_errorf_plain(err, ENOTSUP,
                             "linux.resources.network: net_cls/net_prio do not exist in cgroup "
                             "v2 (use a network namespace or eBPF instead)");
  if ((ret = set_cpu(d, r, update, err)) < 0 || (ret = set_memory(d, r, update, err)) < 0)
    return ret;
  if (r->has_pids_limit && r->pids_limit &&
      (ret = wr_max(d, "linux.resources.pids.limit", "pids.max", r->pids_limit, err)) < 0)
    return ret;
  if ((ret = set_io(d, r, err)) < 0)
    return ret;
  for (size_t i = 0; i < r->n_hugepages; i++) {
    char file[64];
    snprintf(file, sizeof(file), "hugetlb.%s.max", r->hugepages[i].page_size);
    if ((ret = wr_max(d, "linux.resources.hugepageLimits", file, (int64_t)r->hugepages[i].limit,
                      err)) < 0)
      return ret;
  }
  if ((ret = husk_cg_set_rdma(d, r, err)) < 0)
    return ret;
  if (r->n_devices &&
      (ret = husk_cg_bpf_devices_apply(d->fd, d->label, r->devices, r->n_devices, err)) < 0)
    return husk_error_wrap(err, "linux.resources.devices");
  for (size_t i = 0; i < r->n_unified; i++) {
    ret = husk_cg_write(d, r->unified[i].key, r->unified[i].value, err);
    if (ret == -ENOENT)
      return husk_errorf_plain(err, ENOTSUP,
                               "linux.resources.unified.%s: no such cgroup file in %s/%s (is the "
                               "controller enabled?)",
                               r->unified[i].key, husk_cg_root(), d->label);
    if (ret < 0)
      return husk_error_wrap(err, "linux.resources.unified.%s", r->unified[i].key);
  }
  return 0;
}

/* ---- freezer ---- */

int husk_cg_v2_is_frozen(husk_cgroup *cg, bool *frozen)
{
  uint64_t v = 0;
  *frozen = false;
  if (!cg->has_v2)
    return -ENODEV;
  if (husk_cg_testing()) {
    if (husk_cg_read_u64(&cg->v2, "cgroup.freeze", &v) < 0)
      return -ENOENT;
  } else if (husk_cg_read_keyed(&cg->v2, "cgroup.events", "frozen", &v) < 0) {
    return -ENOENT;
  }
  *frozen = v == 1;
  return 0;
}

int husk_cg_v2_freeze(husk_cgroup *cg, bool frozen, husk_err *err)
{
  const husk_cg_dir *d = &cg->v2;
  int r = husk_cg_write(d, "cgroup.freeze", frozen ? "1" : "0", err);
  if (r == -ENOENT)
    return husk_errorf_plain(err, ENOTSUP, "%s: the kernel has no cgroup v2 freezer (%s/%s)",
                             frozen ? "pause" : "resume", husk_cg_root(), d->label);
  if (r < 0)
    return r;
  if (husk_cg_testing())
    return 0;
  long delay = 100, waited = 0;
  for (;;) {
    uint64_t v = 2;
    if (husk_cg_read_keyed(d, "cgroup.events", "frozen", &v) == 0 && (v == 1) == frozen)
      return 0;
    if (waited > 5000000) {
      if (frozen) {
        husk_err ignore;
        husk_cg_write(d, "cgroup.freeze", "0", &ignore);
      }
      return husk_errorf_plain(err, ETIMEDOUT, "%s %s/%s: timed out", frozen ? "freeze" : "thaw",
                               husk_cg_root(), d->label);
    }
    struct timespec ts = {0, delay * 1000L};
    nanosleep(&ts, NULL);
    waited += delay;
    if (delay < 10000)
      delay *= 2;
  }
}

/* ---- stats ---- */

int husk_cg_v2_stats(husk_cgroup *cg, json_object *data, husk_err *err)
{
  (void)err;
  const husk_cg_dir *d = &cg->v2;
  if (!cg->has_v2)
    return 0;
  json_object *cpu = json_object_new_object();
  json_object *st = husk_cg_keyed_object(d, "cpu.stat");
  if (st) {
    json_object *usage = json_object_new_object();
    husk_cg_put_u64(usage, "total", husk_cg_keyed_get(st, "usage_usec") * 1000);
    husk_cg_put_u64(usage, "kernel", husk_cg_keyed_get(st, "system_usec") * 1000);
    husk_cg_put_u64(usage, "user", husk_cg_keyed_get(st, "user_usec") * 1000);
    json_object_object_add(cpu, "usage", usage);
    json_object *thr = json_object_new_object();
    husk_cg_put_u64(thr, "periods", husk_cg_keyed_get(st, "nr_periods"));
    husk_cg_put_u64(thr, "throttledPeriods", husk_cg_keyed_get(st, "nr_throttled"));
    husk_cg_put_u64(thr, "throttledTime", husk_cg_keyed_get(st, "throttled_usec") * 1000);
    json_object_object_add(cpu, "throttling", thr);
    json_object_put(st);
  }
  json_object_object_add(data, "cpu", cpu);

  if (husk_cg_has_file(d, "memory.current")) {
    json_object *mem = json_object_new_object();
    json_object *u = json_object_new_object();
    husk_cg_put_file(u, "usage", d, "memory.current");
    husk_cg_put_file(u, "limit", d, "memory.max");
    husk_cg_put_file(u, "max", d, "memory.peak");
    uint64_t fail = 0;
    husk_cg_read_keyed(d, "memory.events", "max", &fail);
    husk_cg_put_u64(u, "failcnt", fail);
    json_object_object_add(mem, "usage", u);
    if (husk_cg_has_file(d, "memory.swap.current")) {
      json_object *s = json_object_new_object();
      husk_cg_put_file(s, "usage", d, "memory.swap.current");
      husk_cg_put_file(s, "limit", d, "memory.swap.max");
      husk_cg_put_file(s, "max", d, "memory.swap.peak");
      json_object_object_add(mem, "swap", s);
    }
    json_object *raw = husk_cg_keyed_object(d, "memory.stat");
    if (raw) {
      husk_cg_put_u64(mem, "cache", husk_cg_keyed_get(raw, "file"));
      json_object_object_add(mem, "raw", raw);
    }
    uint64_t oom = 0;
    if (husk_cg_read_keyed(d, "memory.events", "oom_kill", &oom) == 0)
      husk_cg_put_u64(mem, "oomKill", oom);
    json_object_object_add(data, "memory", mem);
  }

  if (husk_cg_has_file(d, "pids.current"))
    json_object_object_add(data, "pids", husk_cg_pids_stats(d));

  _cleanup_free_ char *io = NULL;
  if (husk_cg_read(d, "io.stat", &io, NULL) == 0) {
    json_object *blkio = json_object_new_object();
    json_object *bytes = json_object_new_array(), *ops = json_object_new_array();
    char *save = NULL;
    for (char *l = strtok_r(io, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      unsigned maj, min;
      unsigned long long rb = 0, wb = 0, rio = 0, wio = 0;
      if (sscanf(l, "%u:%u", &maj, &min) != 2)
        continue;
      char *p;
      if ((p = strstr(l, "rbytes=")))
        rb = strtoull(p + 7, NULL, 10);
      if ((p = strstr(l, "wbytes=")))
        wb = strtoull(p + 7, NULL, 10);
      if ((p = strstr(l, "rios=")))
        rio = strtoull(p + 5, NULL, 10);
      if ((p = strstr(l, "wios=")))
        wio = strtoull(p + 5, NULL, 10);
      const struct {
        json_object *arr;
        const char *op;
        unsigned long long v;
      } ent[] = {
          {bytes, "Read", rb}, {bytes, "Write", wb}, {ops, "Read", rio}, {ops, "Write", wio}};
      for (size_t i = 0; i < HUSK_ARRAY_SIZE(ent); i++)
        husk_cg_blkio_entry(ent[i].arr, maj, min, ent[i].op, ent[i].v);
    }
    json_object_object_add(blkio, "ioServiceBytesRecursive", bytes);
    json_object_object_add(blkio, "ioServicedRecursive", ops);
    json_object_object_add(data, "blkio", blkio);
  }
  return 0;
}
