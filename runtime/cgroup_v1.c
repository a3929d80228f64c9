/* cgroup v1 backend: one directory per hierarchy (memory, cpu, cpuset, pids,
 * blkio, devices, freezer, ...).  Also used for the controllers of a hybrid
 * host; its unified part (hugetlb there, unified keys) goes through the v2
 * files of cg->v2. */
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static husk_cg_dir *dir_for(husk_cgroup *cg, int ctrl)
{
  return cg->by_ctrl[ctrl] >= 0 ? &cg->v1[cg->by_ctrl[ctrl]] : NULL;
}

static int missing(const char *field, int ctrl, husk_err *err)
{
  return husk_errorf_plain(err, ENODEV,
                           "%s: the %s cgroup controller is not available on this host", field,
                           husk_cg_ctrl_names[ctrl]);
}

static int wr_i64(const husk_cg_dir *d, const char *field, const char *file, int64_t v,
                  husk_err *err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, v);
  return husk_cg_wr(d, field, file, buf, err);
}

static int wr_u64(const husk_cg_dir *d, const char *field, const char *file, uint64_t v,
                  husk_err *err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRIu64, v);
  return husk_cg_wr(d, field, file, buf, err);
}

static int set_memory(husk_cgroup *cg, const husk_resources *r, bool update, husk_err *err)
{
  husk_cg_dir *d = dir_for(cg, HUSK_CG_MEMORY);
  int64_t limit = r->has_mem_limit ? r->mem_limit : 0;
  int64_t swap = r->has_mem_swap ? r->mem_swap : 0;
  bool any = limit || swap || (r->has_mem_reservation && r->mem_reservation) ||
             (r->has_mem_kernel_tcp && r->mem_kernel_tcp) || r->has_swappiness ||
             (r->has_disable_oom && (r->disable_oom || update)) || r->has_use_hierarchy;
  if (!any)
    return 0;
  if (d == NULL)
    return missing("linux.resources.memory", HUSK_CG_MEMORY, err);
  static const char *const LIMIT = "memory.limit_in_bytes", *const MEMSW =
                                                                "memory.memsw.limit_in_bytes";
  int ret;

  /* like runc: unlimited memory without a swap value means unlimited swap too */
  bool memsw = swap != 0 || limit == -1 ? husk_cg_has_file(d, MEMSW) : false;
  if (limit == -1 && swap == 0 && memsw)
    swap = -1;
  if (swap != 0 && !memsw) {
    if (swap != -1 && swap != limit)
      return husk_errorf_plain(err, ENOTSUP,
                               "linux.resources.memory.swap: swap accounting is not enabled on "
                               "this host (no %s in %s/%s)",
                               MEMSW, husk_cg_root(), d->label);
    swap = 0;
  }
  if (limit != 0 && swap != 0) {
    /* the kernel wants limit <= memsw at every step: order the two writes */
    uint64_t cur = UINT64_MAX;
    if (update)
      husk_cg_read_u64(d, LIMIT, &cur);
    if (swap == -1 || cur < (uint64_t)swap) {
      if ((ret = wr_i64(d, "linux.resources.memory.swap", MEMSW, swap, err)) < 0 ||
          (ret = wr_i64(d, "linux.resources.memory.limit", LIMIT, limit, err)) < 0)
        return ret;
    } else {
      if ((ret = wr_i64(d, "linux.resources.memory.limit", LIMIT, limit, err)) < 0 ||
          (ret = wr_i64(d, "linux.resources.memory.swap", MEMSW, swap, err)) < 0)
        return ret;
    }
  } else if (limit != 0) {
    if ((ret = wr_i64(d, "linux.resources.memory.limit", LIMIT, limit, err)) < 0)
      return ret;
  } else if (swap != 0) {
    if ((ret = wr_i64(d, "linux.resources.memory.swap", MEMSW, swap, err)) < 0)
      return ret;
  }
  if (r->has_mem_reservation && r->mem_reservation &&
      (ret = wr_i64(d, "linux.resources.memory.reservation", "memory.soft_limit_in_bytes",
                    r->mem_reservation, err)) < 0)
    return ret;
  /* memory.kernel is deprecated and ignored by the kernel since 5.16: skipped like runc */
  if (r->has_mem_kernel_tcp && r->mem_kernel_tcp &&
      (ret = wr_i64(d, "linux.resources.memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes",
                    r->mem_kernel_tcp, err)) < 0)
    return ret;
  if (r->has_swappiness && (ret = wr_u64(d, "linux.resources.memory.swappiness",
                                         "memory.swappiness", r->swappiness, err)) < 0)
    return ret;
  if (r->has_disable_oom && (r->disable_oom || update) &&
      (ret = husk_cg_wr(d, "linux.resources.memory.disableOOMKiller", "memory.oom_control",
                        r->disable_oom ? "1" : "0", err)) < 0)
    return ret;
  if (r->has_use_hierarchy &&
      (ret = husk_cg_wr(d, "linux.resources.memory.useHierarchy", "memory.use_hierarchy",
                        r->use_hierarchy ? "1" : "0", err)) < 0)
    return ret;
  return 0;
}

static int set_cpu(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  int ret;
  if (r->cpus || r->mems) {
    husk_cg_dir *cs = dir_for(cg, HUSK_CG_CPUSET);
    if (cs == NULL)
      return missing(r->cpus ? "linux.resources.cpu.cpus" : "linux.resources.cpu.mems",
                     HUSK_CG_CPUSET, err);
    if (r->cpus &&
        (ret = husk_cg_wr(cs, "linux.resources.cpu.cpus", "cpuset.cpus", r->cpus, err)) < 0)
      return ret;
    if (r->mems &&
        (ret = husk_cg_wr(cs, "linux.resources.cpu.mems", "cpuset.mems", r->mems, err)) < 0)
      return ret;
  }
  bool any = (r->has_cpu_shares && r->cpu_shares) || (r->has_cpu_period && r->cpu_period) ||
             (r->has_cpu_quota && r->cpu_quota) || r->has_cpu_burst ||
             (r->has_rt_period && r->rt_period) || (r->has_rt_runtime && r->rt_runtime) ||
             r->has_cpu_idle;
  if (!any)
    return 0;
  husk_cg_dir *d = dir_for(cg, HUSK_CG_CPU);
  if (d == NULL)
    return missing("linux.resources.cpu", HUSK_CG_CPU, err);
  if (r->has_cpu_shares && r->cpu_shares) {
    uint64_t s = r->cpu_shares < 2 ? 2 : r->cpu_shares;
    if ((ret = wr_u64(d, "linux.resources.cpu.shares", "cpu.shares", s, err)) < 0)
      return ret;
  }
  if (r->has_cpu_period && r->cpu_period &&
      (ret = wr_u64(d, "linux.resources.cpu.period", "cpu.cfs_period_us", r->cpu_period, err)) < 0)
    return ret;
  if (r->has_cpu_quota && r->cpu_quota &&
      (ret = wr_i64(d, "linux.resources.cpu.quota", "cpu.cfs_quota_us", r->cpu_quota, err)) < 0)
    return ret;
  if (r->has_cpu_burst &&
      (ret = wr_u64(d, "linux.resources.cpu.burst", "cpu.cfs_burst_us", r->cpu_burst, err)) < 0)
    return ret;
  if (r->has_rt_period && r->rt_period &&
      (ret = wr_u64(d, "linux.resources.cpu.realtimePeriod", "cpu.rt_period_us", r->rt_period,
                    err)) < 0)
    return ret;
  if (r->has_rt_runtime && r->rt_runtime &&
      (ret = wr_i64(d, "linux.resources.cpu.realtimeRuntime", "cpu.rt_runtime_us", r->rt_runtime,
                    err)) < 0)
    return ret;
  if (r->has_cpu_idle &&
      (ret = wr_i64(d, "linux.resources.cpu.idle", "cpu.idle", r->cpu_idle, err)) < 0)
    return ret;
  return 0;
}

static int set_pids(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  if (!r->has_pids_limit || r->pids_limit == 0)
    return 0;
  husk_cg_dir *d = dir_for(cg, HUSK_CG_PIDS);
  if (d == NULL)
    return missing("linux.resources.pids", HUSK_CG_PIDS, err);
  if (r->pids_limit < 0)
    return husk_cg_wr(d, "linux.resources.pids.limit", "pids.max", "max", err);
  return wr_i64(d, "linux.resources.pids.limit", "pids.max", r->pids_limit, err);
}

static const char *const throttle_files[HUSK_THROTTLE_N] = {
    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};

static int set_blkio(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  if (!(husk_resources_controllers(r) & (1u << HUSK_CG_BLKIO)))
    return 0;
  husk_cg_dir *d = dir_for(cg, HUSK_CG_BLKIO);
  if (d == NULL)
    return missing("linux.resources.blockIO", HUSK_CG_BLKIO, err);
  int ret;
  /* BFQ has its own weight files (CFQ's blkio.weight is gone since 5.0) */
  bool bfq = husk_cg_has_file(d, "blkio.bfq.weight");
  const char *wfile = bfq ? "blkio.bfq.weight" : "blkio.weight";
  const char *wdfile = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
  if ((r->has_blkio_weight || r->n_weight_devs) && !bfq && !husk_cg_has_file(d, "blkio.weight"))
    return husk_errorf_plain(err, ENOTSUP,
                             "linux.resources.blockIO.weight%s: not supported on this host (no "
                             "blkio.weight or blkio.bfq.weight in %s/%s: the I/O scheduler has "
                             "no weights)",
                             r->has_blkio_weight ? "" : "Device", husk_cg_root(), d->label);
  if (r->has_blkio_weight &&
      (ret = wr_u64(d, "linux.resources.blockIO.weight", wfile, r->blkio_weight, err)) < 0)
    return ret;
  if (r->has_blkio_leaf_weight &&
      (ret = wr_u64(d, "linux.resources.blockIO.leafWeight", "blkio.leaf_weight",
                    r->blkio_leaf_weight, err)) < 0)
    return ret;
  for (size_t i = 0; i < r->n_weight_devs; i++) {
    const husk_weight_dev *w = &r->weight_devs[i];
    char buf[64];
    if (w->has_weight && w->weight) {
      snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor, w->weight);
      if ((ret = husk_cg_wr(d, "linux.resources.blockIO.weightDevice", wdfile, buf, err)) < 0)
        return ret;
    }
    if (w->has_leaf_weight && w->leaf_weight) {
      snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor, w->leaf_weight);
      if ((ret = husk_cg_wr(d, "linux.resources.blockIO.weightDevice", "blkio.leaf_weight_device",
                            buf, err)) < 0)
        return ret;
    }
  }
  for (int k = 0; k < HUSK_THROTTLE_N; k++) {
    for (size_t i = 0; i < r->n_throttle[k]; i++) {
      const husk_throttle_dev *t = &r->throttle[k][i];
      char buf[64];
      snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, t->major, t->minor, t->rate);
      if ((ret = husk_cg_wr(d, husk_cg_throttle_fields[k], throttle_files[k], buf, err)) < 0)
        return ret;
    }
  }
  return 0;
}

static int set_hugetlb(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  if (r->n_hugepages == 0)
    return 0;
  husk_cg_dir *d = dir_for(cg, HUSK_CG_HUGETLB);
  bool v2 = false;
  if (d == NULL) {
    if (!cg->has_v2)
      return missing("linux.resources.hugepageLimits", HUSK_CG_HUGETLB, err);
    d = &cg->v2; /* hybrid: hugetlb on the unified hierarchy */
    v2 = true;
  }
  for (size_t i = 0; i < r->n_hugepages; i++) {
    char file[64];
    snprintf(file, sizeof(file), "hugetlb.%s.%s", r->hugepages[i].page_size,
             v2 ? "max" : "limit_in_bytes");
    int ret = wr_u64(d, "linux.resources.hugepageLimits", file, r->hugepages[i].limit, err);
    if (ret < 0)
      return ret;
  }
  return 0;
}

static int set_net(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  int ret;
  if (r->has_net_classid) {
    husk_cg_dir *d = dir_for(cg, HUSK_CG_NET_CLS);
    if (d == NULL)
      return missing("linux.resources.network.classID", HUSK_CG_NET_CLS, err);
    if ((ret = wr_u64(d, "linux.resources.network.classID", "net_cls.classid", r->net_classid,
                      err)) < 0)
      return ret;
  }
  if (r->n_net_prios) {
    husk_cg_dir *d = dir_for(cg, HUSK_CG_NET_PRIO);
    if (d == NULL)
      return missing("linux.resources.network.priorities", HUSK_CG_NET_PRIO, err);
    for (size_t i = 0; i < r->n_net_prios; i++) {
      char buf[128];
      snprintf(buf, sizeof(buf), "%s %u", r->net_prios[i].name, r->net_prios[i].priority);
      if ((ret = husk_cg_wr(d, "linux.resources.network.priorities", "net_prio.ifpriomap", buf,
                            err)) < 0)
        return ret;
    }
  }
  return 0;
}

/* "c 1:3 rwm"; "a" alone for the all-devices rule */
static void rule_string(const husk_dev_rule *d, char *buf, size_t len)
{
  if (d->type == 'a' && d->major < 0 && d->minor < 0) {
    snprintf(buf, len, "a");
    return;
  }
  char maj[24] = "*", min[24] = "*";
  if (d->major >= 0)
    snprintf(maj, sizeof(maj), "%" PRId64, d->major);
  if (d->minor >= 0)
    snprintf(min, sizeof(min), "%" PRId64, d->minor);
  snprintf(buf, len, "%c %s:%s %s", d->type, maj, min, d->access);
}

static int set_devices(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  if (r->n_devices == 0)
    return 0;
  husk_cg_dir *d = dir_for(cg, HUSK_CG_DEVICES);
  if (d == NULL)
    return missing("linux.resources.devices", HUSK_CG_DEVICES, err);
  /* one open per file, one write per rule */
  _cleanup_close_ int allow = -1, deny = -1;
  for (size_t i = 0; i < r->n_devices; i++) {
    const husk_dev_rule *rule = &r->devices[i];
    int *fd = rule->allow ? &allow : &deny;
    const char *file = rule->allow ? "devices.allow" : "devices.deny";
    if (*fd < 0 && (*fd = husk_cg_open_w(d, file, err)) < 0)
      return husk_error_wrap(err, "linux.resources.devices");
    char buf[64];
    rule_string(rule, buf, sizeof(buf));
    int ret = husk_cg_write_fd(*fd, d, file, buf, err);
    if (ret < 0)
      return husk_error_wrap(err, "linux.resources.devices[%zu]", i);
  }
  return 0;
}

static int set_unified(husk_cgroup *cg, const husk_resources *r, husk_err *err)
{
  if (r->n_unified == 0)
    return 0;
  if (!cg->has_v2)
    return husk_errorf_plain(err, ENOTSUP,
                             "linux.resources.unified: needs cgroup v2 (this host has only v1)");
  for (size_t i = 0; i < r->n_unified; i++) {
    int ret = husk_cg_write(&cg->v2, r->unified[i].key, r->unified[i].value, err);
    if (ret == -ENOENT)
      return husk_errorf_plain(err, ENOTSUP,
                               "linux.resources.unified.%s: not available on the cgroup v2 "
                               "hierarchy of this hybrid host (%s/%s has no such file)",
                               r->unified[i].key, husk_cg_root(), cg->v2.label);
    if (ret < 0)
      return husk_error_wrap(err, "linux.resources.unified.%s", r->unified[i].key);
  }
  return 0;
}

int husk_cg_v1_apply(husk_cgroup *cg, const husk_resources *r, bool update, husk_err *err)
{
  int ret;
  if ((ret = set_cpu(cg, r, err)) < 0 || (ret = set_memory(cg, r, update, err)) < 0 ||
      (ret = set_pids(cg, r, err)) < 0 || (ret = set_blkio(cg, r, err)) < 0 ||
      (ret = set_hugetlb(cg, r, err)) < 0 || (ret = set_net(cg, r, err)) < 0)
    return ret;
  if (r->n_rdma) {
    husk_cg_dir *d = dir_for(cg, HUSK_CG_RDMA);
    if (d == NULL)
      return missing("linux.resources.rdma", HUSK_CG_RDMA, err);
    if ((ret = husk_cg_set_rdma(d, r, err)) < 0)
      return ret;
  }
  if ((ret = set_devices(cg, r, err)) < 0 || (ret = set_unified(cg, r, err)) < 0)
    return ret;
  return 0;
}

/* ---- freezer ---- */

static void sleep_us(long us)
{
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
  nanosleep(&ts, NULL);
}

int husk_cg_v1_freeze(husk_cgroup *cg, bool frozen, husk_err *err)
{
  husk_cg_dir *d = dir_for(cg, HUSK_CG_FREEZER);
  if (d == NULL)
    return missing(frozen ? "pause" : "resume", HUSK_CG_FREEZER, err);
  const char *want = frozen ? "FROZEN" : "THAWED";
  long delay = 100, waited = 0;
  for (int i = 0;; i++) {
    if (i % 10 == 0) {
      int r = husk_cg_write(d, "freezer.state", want, err);
      if (r < 0)
        return r;
    }
    _cleanup_free_ char *state = NULL;
    int r = husk_cg_read(d, "freezer.state", &state, err);
    if (r < 0)
      return r;
    if (strcmp(state, want) == 0)
      return 0;
    if (waited > 5000000) {
      if (frozen) {
        husk_err ignore;
        husk_cg_write(d, "freezer.state", "THAWED", &ignore);
      }
      return husk_errorf_plain(err, ETIMEDOUT, "%s: %s/%s stays %s", frozen ? "freeze" : "thaw",
                               husk_cg_root(), d->label, state);
    }
    sleep_us(delay);
    waited += delay;
    if (delay < 10000)
      delay *= 2;
  }
}

int husk_cg_v1_is_frozen(husk_cgroup *cg, bool *frozen)
{
  husk_cg_dir *d = dir_for(cg, HUSK_CG_FREEZER);
  *frozen = false;
  if (d == NULL)
    return -ENODEV;
  _cleanup_free_ char *state = NULL;
  if (husk_cg_read(d, "freezer.state", &state, NULL) < 0)
    return -ENOENT;
  *frozen = strcmp(state, "FROZEN") == 0;
  return 0;
}

/* ---- stats (the shape of runc's events --stats) ---- */

static json_object *mem_entry(const husk_cg_dir *d, const char *prefix)
{
  json_object *e = json_object_new_object();
  char f[96];
  snprintf(f, sizeof(f), "%s.usage_in_bytes", prefix);
  husk_cg_put_file(e, "usage", d, f);
  snprintf(f, sizeof(f), "%s.max_usage_in_bytes", prefix);
  husk_cg_put_file(e, "max", d, f);
  snprintf(f, sizeof(f), "%s.limit_in_bytes", prefix);
  husk_cg_put_file(e, "limit", d, f);
  snprintf(f, sizeof(f), "%s.failcnt", prefix);
  husk_cg_put_file(e, "failcnt", d, f);
  return e;
}

int husk_cg_v1_stats(husk_cgroup *cg, json_object *data, husk_err *err)
{
  (void)err;
  /* cpu */
  json_object *cpu = json_object_new_object();
  json_object *usage = json_object_new_object();
  husk_cg_dir *acct = dir_for(cg, HUSK_CG_CPUACCT);
  if (acct) {
    husk_cg_put_file(usage, "total", acct, "cpuacct.usage");
    _cleanup_free_ char *percpu = NULL;
    if (husk_cg_read(acct, "cpuacct.usage_percpu", &percpu, NULL) == 0) {
      json_object *arr = json_object_new_array();
      char *save = NULL;
      for (char *t = strtok_r(percpu, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
        uint64_t v;
        if (husk_parse_u64(t, &v) == 0)
          json_object_array_add(arr, json_object_new_uint64(v));
      }
      json_object_object_add(usage, "percpu", arr);
    }
    json_object *st = husk_cg_keyed_object(acct, "cpuacct.stat");
    if (st) {
      long hz = sysconf(_SC_CLK_TCK);
      uint64_t ns_per_tick = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
      husk_cg_put_u64(usage, "kernel", husk_cg_keyed_get(st, "system") * ns_per_tick);
      husk_cg_put_u64(usage, "user", husk_cg_keyed_get(st, "user") * ns_per_tick);
      json_object_put(st);
    }
  }
  json_object_object_add(cpu, "usage", usage);
  husk_cg_dir *cd = dir_for(cg, HUSK_CG_CPU);
  json_object *st = cd ? husk_cg_keyed_object(cd, "cpu.stat") : NULL;
  if (st) {
    json_object *thr = json_object_new_object();
    husk_cg_put_u64(thr, "periods", husk_cg_keyed_get(st, "nr_periods"));
    husk_cg_put_u64(thr, "throttledPeriods", husk_cg_keyed_get(st, "nr_throttled"));
    husk_cg_put_u64(thr, "throttledTime", husk_cg_keyed_get(st, "throttled_time"));
    json_object_object_add(cpu, "throttling", thr);
    json_object_put(st);
  }
  json_object_object_add(data, "cpu", cpu);

  /* memory */
  husk_cg_dir *md = dir_for(cg, HUSK_CG_MEMORY);
  if (md) {
    json_object *mem = json_object_new_object();
    json_object_object_add(mem, "usage", mem_entry(md, "memory"));
    if (husk_cg_has_file(md, "memory.memsw.usage_in_bytes"))
      json_object_object_add(mem, "swap", mem_entry(md, "memory.memsw"));
    if (husk_cg_has_file(md, "memory.kmem.usage_in_bytes"))
      json_object_object_add(mem, "kernel", mem_entry(md, "memory.kmem"));
    json_object *raw = husk_cg_keyed_object(md, "memory.stat");
    if (raw) {
      husk_cg_put_u64(mem, "cache", husk_cg_keyed_get(raw, "cache"));
      json_object_object_add(mem, "raw", raw);
    }
    uint64_t oom = 0;
    if (husk_cg_read_keyed(md, "memory.oom_control", "oom_kill", &oom) == 0)
      husk_cg_put_u64(mem, "oomKill", oom);
    json_object_object_add(data, "memory", mem);
  }

  /* pids */
  husk_cg_dir *pd = dir_for(cg, HUSK_CG_PIDS);
  if (pd)
    json_object_object_add(data, "pids", husk_cg_pids_stats(pd));

  /* blkio: bytes and operations per device */
  husk_cg_dir *bd = dir_for(cg, HUSK_CG_BLKIO);
  if (bd) {
    json_object *blkio = json_object_new_object();
    static const char *const files[][2] = {
        {"ioServiceBytesRecursive", "blkio.throttle.io_service_bytes_recursive"},
        {"ioServicedRecursive", "blkio.throttle.io_serviced_recursive"}};
    for (size_t f = 0; f < HUSK_ARRAY_SIZE(files); f++) {
      _cleanup_free_ char *s = NULL;
      if (husk_cg_read(bd, files[f][1], &s, NULL) < 0)
        continue;
      json_object *arr = json_object_new_array();
      char *save = NULL;
      for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        unsigned maj, min;
        char op[32];
        unsigned long long v;
        if (sscanf(l, "%u:%u %31s %llu", &maj, &min, op, &v) != 4)
          continue;
        husk_cg_blkio_entry(arr, maj, min, op, v);
      }
      json_object_object_add(blkio, files[f][0], arr);
    }
    json_object_object_add(data, "blkio", blkio);
  }
  return 0;
}
