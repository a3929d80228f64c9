/* Private to the cgroup module (cgroup.c, cgroup_v1.c, cgroup_v2.c,
 * cgroup_devices_bpf.c, cli_cgroup.c) and its unit tests. */
#ifndef HUSK_CGROUP_INTERNAL_H
#define HUSK_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

/* cgroup v1 hierarchies husk knows (directory names under /sys/fs/cgroup). */
enum husk_cg_ctrl {
  HUSK_CG_CPUSET,
  HUSK_CG_CPU,
  HUSK_CG_CPUACCT,
  HUSK_CG_BLKIO,
  HUSK_CG_MEMORY,
  HUSK_CG_DEVICES,
  HUSK_CG_FREEZER,
  HUSK_CG_NET_CLS,
  HUSK_CG_NET_PRIO,
  HUSK_CG_PERF_EVENT,
  HUSK_CG_HUGETLB,
  HUSK_CG_PIDS,
  HUSK_CG_RDMA,
  HUSK_CG_MISC,
  HUSK_CG_SYSTEMD, /* the named hierarchy name=systemd */
  HUSK_CG_N
};

extern const char *const husk_cg_ctrl_names[HUSK_CG_N];

/* ---- parsed linux.resources ---- */

typedef struct husk_dev_rule {
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1: any */
  char access[4];       /* subset of "rwm", NUL terminated */
} husk_dev_rule;

typedef struct husk_weight_dev {
  int64_t major, minor;
  bool has_weight, has_leaf_weight;
  uint16_t weight, leaf_weight;
} husk_weight_dev;

typedef struct husk_throttle_dev {
  int64_t major, minor;
  uint64_t rate;
} husk_throttle_dev;

enum husk_throttle_kind {
  HUSK_THROTTLE_READ_BPS,
  HUSK_THROTTLE_WRITE_BPS,
  HUSK_THROTTLE_READ_IOPS,
  HUSK_THROTTLE_WRITE_IOPS,
  HUSK_THROTTLE_N
};

typedef struct husk_hugepage_limit {
  char *page_size; /* "2MB" */
  uint64_t limit;
} husk_hugepage_limit;

typedef struct husk_net_prio {
  char *name;
  uint32_t priority;
} husk_net_prio;

typedef struct husk_rdma_limit {
  char *device;
  bool has_handles, has_objects;
  uint32_t handles, objects;
} husk_rdma_limit;

typedef struct husk_unified_kv {
  char *key, *value;
} husk_unified_kv;

/* Every field has a has_ flag: only what the spec gives is written.  As in
 * runc, a value of 0 for memory/cpu numbers means "leave unchanged". */
struct husk_resources {
  /* memory */
  bool has_mem_limit, has_mem_reservation, has_mem_swap, has_mem_kernel, has_mem_kernel_tcp;
  int64_t mem_limit, mem_reservation, mem_swap, mem_kernel, mem_kernel_tcp;
  bool has_swappiness;
  uint64_t swappiness;
  bool has_disable_oom, disable_oom;
  bool has_use_hierarchy, use_hierarchy;
  bool check_before_update;

  /* cpu */
  bool has_cpu_shares, has_cpu_quota, has_cpu_period, has_cpu_burst;
  uint64_t cpu_shares, cpu_period, cpu_burst;
  int64_t cpu_quota;
  bool has_rt_runtime, has_rt_period;
  int64_t rt_runtime;
  uint64_t rt_period;
  bool has_cpu_idle;
  int64_t cpu_idle;
  char *cpus, *mems; /* cpuset, NULL when absent */

  /* pids */
  bool has_pids_limit;
  int64_t pids_limit;

  /* blockIO */
  bool has_blkio_weight, has_blkio_leaf_weight;
  uint16_t blkio_weight, blkio_leaf_weight;
  husk_weight_dev *weight_devs;
  size_t n_weight_devs;
  husk_throttle_dev *throttle[HUSK_THROTTLE_N];
  size_t n_throttle[HUSK_THROTTLE_N];

  husk_hugepage_limit *hugepages;
  size_t n_hugepages;

  /* network */
  bool has_net_classid;
  uint32_t net_classid;
  husk_net_prio *net_prios;
  size_t n_net_prios;

  husk_rdma_limit *rdma;
  size_t n_rdma;

  husk_unified_kv *unified;
  size_t n_unified;

  bool has_devices; /* the "devices" array was given */
  husk_dev_rule *devices;
  size_t n_devices;
};

/* Which controllers a resources object puts a limit on (bitmask of 1u << HUSK_CG_*).
 * v2 names map onto the v1 bits: io = BLKIO, cpu = CPU. */
uint32_t husk_resources_controllers(const husk_resources *r);

/* ---- an open container cgroup ---- */

typedef struct husk_cg_dir {
  uint32_t ctrls; /* bitmask of HUSK_CG_* carried by this hierarchy (v1) */
  char *label;    /* "memory/husk/id" (v1) or "unified/husk/id", for messages */
  char *hier;     /* directory under the cgroup root: "memory", "unified", "" (v2) */
  char *path;     /* cgroup path inside the hierarchy: "/husk/id" */
  int fd;         /* the cgroup directory (O_PATH for v1), -1 when not open */
  bool created;   /* made by this process (removed again on failure) */
} husk_cg_dir;

struct husk_cgroup {
  husk_cgroup_layout layout;
  char *saved; /* husk_cgroup_path() */
  husk_cg_dir v1[HUSK_CG_N];
  size_t n_v1;
  int by_ctrl[HUSK_CG_N]; /* index into v1[], -1 when the controller is absent */
  husk_cg_dir v2;         /* pure v2, or the unified part of a hybrid host; fd -1 when absent */
  bool has_v2;
};

/* ---- helpers shared by the backends (cgroup.c) ---- */

/* The cgroup filesystem root ("/sys/fs/cgroup" unless testing). */
const char *husk_cg_root(void);
bool husk_cg_testing(void);
/* Record a write in the testing journal (no-op otherwise). */
void husk_cg_journal(const char *label, const char *file, const char *val);

/* Write val to dir/file; error "write FILE=VAL in LABEL: ...". */
int husk_cg_write(const husk_cg_dir *d, const char *file, const char *val, husk_err *err);
int husk_cg_writef(const husk_cg_dir *d, const char *file, husk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Open once, write many (devices.allow, throttles): fd < 0 on error. */
int husk_cg_open_w(const husk_cg_dir *d, const char *file, husk_err *err);
int husk_cg_write_fd(int fd, const husk_cg_dir *d, const char *file, const char *val,
                     husk_err *err);
/* Read dir/file (malloc'ed, trailing newline stripped). */
int husk_cg_read(const husk_cg_dir *d, const char *file, char **out, husk_err *err);
/* Read a single unsigned number ("max" -> UINT64_MAX). */
int husk_cg_read_u64(const husk_cg_dir *d, const char *file, uint64_t *out);
/* Value of `key` in a "key value\n" file (memory.stat, cpu.stat, cgroup.events). */
int husk_cg_read_keyed(const husk_cg_dir *d, const char *file, const char *key, uint64_t *out);
bool husk_cg_has_file(const husk_cg_dir *d, const char *file);

/* A list of CPUs or memory nodes ("0-3,5") checked against an online list. */
int husk_cg_check_list(const char *field, const char *what, const char *list, const char *online,
                       husk_err *err);

/* The spec field a controller's limits come from, for errors
 * ("linux.resources.memory"; controllers only reachable through unified keys:
 * "linux.resources.unified"). */
const char *husk_cg_ctrl_field(int c);
/* linux.resources.blockIO.throttle*Device, by enum husk_throttle_kind. */
extern const char *const husk_cg_throttle_fields[HUSK_THROTTLE_N];

/* Write one limit of the spec field `field`: a missing file becomes ENOTSUP
 * ("FIELD: not supported on this host (no FILE in ROOT/LABEL)"), any other
 * error is prefixed with the field. */
int husk_cg_wr(const husk_cg_dir *d, const char *field, const char *file, const char *val,
               husk_err *err);
/* linux.resources.rdma into d's rdma.max (the same file in v1 and v2). */
int husk_cg_set_rdma(const husk_cg_dir *d, const husk_resources *r, husk_err *err);

/* ---- stats helpers shared by the backends (cgroup.c) ---- */
void husk_cg_put_u64(struct json_object *o, const char *k, uint64_t v);
/* o[k] = the number in d/file, when d is not NULL and the file reads. */
void husk_cg_put_file(struct json_object *o, const char *k, const husk_cg_dir *d, const char *file);
/* A "key value" file as an object of numbers; NULL when unreadable. */
struct json_object *husk_cg_keyed_object(const husk_cg_dir *d, const char *file);
/* o[k] as a number, 0 when o is NULL or has no k. */
uint64_t husk_cg_keyed_get(struct json_object *o, const char *k);
/* Append {"major","minor","op","value"} (runc's blkio entry) to arr. */
void husk_cg_blkio_entry(struct json_object *arr, unsigned major, unsigned minor, const char *op,
                         uint64_t v);
/* {"current","limit"} from pids.current and pids.max (limit 0: unlimited, as runc). */
struct json_object *husk_cg_pids_stats(const husk_cg_dir *d);

/* ---- v1 backend (cgroup_v1.c) ---- */
int husk_cg_v1_apply(husk_cgroup *cg, const husk_resources *r, bool update, husk_err *err);
int husk_cg_v1_freeze(husk_cgroup *cg, bool frozen, husk_err *err);
int husk_cg_v1_is_frozen(husk_cgroup *cg, bool *frozen);
int husk_cg_v1_stats(husk_cgroup *cg, struct json_object *data, husk_err *err);

/* ---- v2 backend (cgroup_v2.c) ---- */
/* Create cg->v2 (path levels under rootfd), making sure each ancestor of the
 * leaf delegates the controllers `want` (HUSK_CG_* bits); `need` is the subset
 * that must succeed.  Opens cg->v2.fd. */
int husk_cg_v2_prepare(husk_cgroup *cg, int rootfd, uint32_t want, uint32_t need, husk_err *err);
/* mkdir one cgroup level (rel to rootfd); in testing mode populate it. */
int husk_cg_mkdir(int rootfd, const char *rel, bool *created, husk_err *err);
int husk_cg_v2_apply(husk_cgroup *cg, const husk_resources *r, bool update, husk_err *err);
int husk_cg_v2_freeze(husk_cgroup *cg, bool frozen, husk_err *err);
int husk_cg_v2_is_frozen(husk_cgroup *cg, bool *frozen);
int husk_cg_v2_stats(husk_cgroup *cg, struct json_object *data, husk_err *err);
/* Controllers a v2 resources object needs (HUSK_CG_* bits). */
uint32_t husk_cg_v2_needed(const husk_resources *r);

/* conversions (as runc/crun) */
uint64_t husk_cg_shares_to_weight(uint64_t shares);
uint64_t husk_cg_blkio_to_io_weight(uint64_t weight);
/* memory.swap.max from the OCI memory+swap value: -1 = max, 0 = leave. */
int husk_cg_swap_to_v2(int64_t swap, int64_t memory, int64_t *out, husk_err *err);

/* ---- v2 device controller (cgroup_devices_bpf.c) ---- */
/* Build the BPF_PROG_TYPE_CGROUP_DEVICE program for rules (last match wins,
 * default allow unless a rule covers everything).  *insns is a malloc'ed
 * struct bpf_insn array. */
int husk_cg_bpf_build(const husk_dev_rule *rules, size_t n, void **insns, size_t *n_insns,
                      husk_err *err);
/* Load the program and attach it to the cgroup dirfd with BPF_F_ALLOW_MULTI,
 * replacing programs attached earlier by husk (update). */
int husk_cg_bpf_devices_apply(int cgfd, const char *label, const husk_dev_rule *rules, size_t n,
                              husk_err *err);

/* The rules a container gets: the spec's rules, then the runtime's defaults
 * (null, zero, full, random, urandom, tty, ptmx, pts, mknod) and linux.devices,
 * like runc.  Malloc'ed. */
int husk_cg_effective_devices(const husk_resources *r, const struct husk_device *devs,
                              size_t n_devs, husk_dev_rule **out, size_t *n_out);

/* ---- tests ---- */
/* Point the module at a fake cgroupfs tree and force the layout (root NULL:
 * back to the real /sys/fs/cgroup and detection).  In testing mode a new
 * cgroup directory gets empty copies of its parent's files (as the kernel
 * would create them), every write is recorded in a journal, BPF programs are
 * built but not loaded, and rmdir removes the files first. */
void husk_cgroup_set_root_for_testing(const char *root, husk_cgroup_layout layout);
/* Contents to use instead of /proc/self/cgroup (NULL: the real one). */
void husk_cgroup_set_self_for_testing(const char *proc_self_cgroup);
/* Online CPUs / memory nodes to validate cpusets against (NULL: sysfs). */
void husk_cgroup_set_online_for_testing(const char *cpus, const char *mems);
/* "LABEL/FILE=VALUE\n" for every write since the last reset. */
const char *husk_cgroup_journal(void);
void husk_cgroup_journal_reset(void);

#endif
