// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* husk-trace, kernel side: follow a process tree by host tgid, time every
 * syscall it makes (per-syscall log2 histograms) and emit decoded events for
 * the syscalls that set up a container.
 *
 * Attach points: tp_btf/sys_enter, tp_btf/sys_exit, tp_btf/sched_process_fork,
 * tp_btf/sched_process_exit, tp_btf/cgroup_mkdir, tp_btf/cgroup_rmdir.  No
 * kprobes, no fentry, no tracefs.  Strings are read at syscall entry (the
 * caller's memory may be gone at exit); the event waits in task storage until
 * the syscall returns, then goes out through the ring buffer with its latency
 * and return value. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "husk-trace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CGROUP_SUPER_MAGIC  0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270
#define PR_SET_NAME         15
#define SECCOMP_MODE_FILTER 1
#define FSCONFIG_SET_STRING 1
#define HOST_NAME_MAX       64
#define MAX_ERRNO           4095

/* Set by the loader before load. */
const volatile __u8 sys_kind[HUSK_MAX_NR] = {}; /* enum husk_kind per syscall number */
const volatile __u64 prctl_mask = 0;            /* prctl options (< 64) that make events */

__u64 dropped_events = 0;    /* ring buffer full */
__u64 dropped_processes = 0; /* tracked map full */

struct inflight {
  __u64 start_ns; /* 0: no syscall in flight that we saw enter */
  __u32 nr;
  __u32 kind;
  __u32 emit; /* send ev at sys_exit */
  __u32 pad;
  struct husk_event ev;
};

struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct inflight);
} inflight SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32); /* host tgid */
  __type(value, __u8);
} tracked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, HUSK_MAX_NR);
  __type(key, __u32);
  __type(value, struct husk_hist);
} hists SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} events SEC(".maps");

static __always_inline int is_tracked(__u32 tgid)
{
  return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

/* The thread group's pid as seen from its own (innermost) pid namespace. */
static __always_inline __u32 ns_tgid(struct task_struct *task)
{
  struct pid *p = BPF_CORE_READ(task, group_leader, thread_pid);
  unsigned int level = BPF_CORE_READ(p, level);
  struct upid up = {};

  bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level & 31]);
  return up.nr;
}

static __always_inline void read_ustr(struct husk_event *ev, char *dst, __u32 size, __u64 uptr)
{
  dst[0] = '\0';
  if (!uptr)
    return;
  long n = bpf_probe_read_user_str(dst, size, (const void *)uptr);
  if (n < 0)
    dst[0] = '\0';
  else if ((__u32)n == size)
    ev->flags |= HUSK_EVF_TRUNCATED;
}

static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = NULL;

  if (fd >= max_fds)
    return NULL;
  bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
  return f;
}

/* A d_path() for tracepoints: the components of (mnt, dentry) up to the root
 * of the mount namespace, leaf first, NUL separated, into ev->s0. */
static __always_inline void rev_path(struct husk_event *ev, struct vfsmount *vmnt,
                                     struct dentry *d)
{
  struct mount *mnt = (void *)vmnt - bpf_core_field_offset(struct mount, mnt);
  __u32 off = 0;

  for (int i = 0; i < 24; i++) {
    struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
    struct dentry *parent = BPF_CORE_READ(d, d_parent);

    if (d == mnt_root) {
      struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
      if (!up || up == mnt)
        break;
      d = BPF_CORE_READ(mnt, mnt_mountpoint);
      mnt = up;
      continue;
    }
    if (off > HUSK_PATH_LEN - HUSK_NAME_MAX) {
      ev->flags |= HUSK_EVF_TRUNCATED;
      break;
    }
    const unsigned char *name = BPF_CORE_READ(d, d_name.name);
    long n = bpf_probe_read_kernel_str(&ev->s0[off], HUSK_NAME_MAX, name);
    if (n <= 0)
      break;
    off += n;
    if (d == parent) { /* a pseudo file (nsfs, pipe): its own root */
      ev->flags |= HUSK_EVF_PSEUDO;
      break;
    }
    d = parent;
  }
  ev->s0_len = off;
  ev->flags |= HUSK_EVF_S0_REVPATH;
}

/* write(2) to a cgroup file: path and value. */
static __always_inline int decode_cgroup_write(struct husk_event *ev, struct task_struct *task)
{
  struct file *f = fd_file(task, ev->args[0]);
  if (!f)
    return 0;
  struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
  unsigned long magic = BPF_CORE_READ(d, d_sb, s_magic);
  if (magic == CGROUP2_SUPER_MAGIC)
    ev->flags |= HUSK_EVF_CGROUP2;
  else if (magic != CGROUP_SUPER_MAGIC)
    return 0;
  rev_path(ev, BPF_CORE_READ(f, f_path.mnt), d);

  __u64 len = ev->args[2];
  if (len > HUSK_VALUE_LEN - 1) {
    len = HUSK_VALUE_LEN - 1;
    ev->flags |= HUSK_EVF_TRUNCATED;
  }
  len &= HUSK_VALUE_LEN - 1;
  if (bpf_probe_read_user(ev->s1, len, (const void *)ev->args[1]) < 0)
    len = 0;
  ev->s1[len] = '\0';
  ev->extra[0] = len;
  return 1;
}

static __always_inline void read_argv(struct husk_event *ev, __u64 argv)
{
  const char *p[4] = {};

  if (!argv)
    return;
  bpf_probe_read_user(&p, sizeof(p), (const void *)argv);
  /* stop at the first NULL: argv ends there */
  if (!p[0])
    return;
  read_ustr(ev, ev->s1, HUSK_STR_LEN, (__u64)p[0]);
  ev->extra[0] = 1;
  if (!p[1])
    return;
  read_ustr(ev, ev->s2, HUSK_STR_LEN, (__u64)p[1]);
  ev->extra[0] = 2;
  if (!p[2])
    return;
  read_ustr(ev, ev->s3, HUSK_STR_LEN, (__u64)p[2]);
  ev->extra[0] = 3;
  ev->extra[1] = p[3] != NULL; /* more arguments follow */
}

/* Fill the event at syscall entry.  Returns 1 when the syscall makes an event. */
static __always_inline int decode_enter(struct inflight *st, struct pt_regs *regs,
                                        struct task_struct *task, __u64 pid_tgid)
{
  struct husk_event *ev = &st->ev;
  __u32 kind = st->kind;

  ev->args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
  ev->args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
  ev->args[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
  ev->args[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
  ev->args[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
  ev->args[5] = 0;
  ev->extra[0] = ev->extra[1] = ev->extra[2] = ev->extra[3] = 0;
  ev->flags = 0;
  ev->s0_len = 0;
  ev->s0[0] = ev->s1[0] = ev->s2[0] = ev->s3[0] = '\0';

  switch (kind) {
  case HUSK_K_CLONE:
  case HUSK_K_FORK:
  case HUSK_K_UNSHARE:
  case HUSK_K_FSMOUNT:
    break;
  case HUSK_K_CLONE3: {
    __u64 ca[11] = {}; /* struct clone_args: flags ... exit_signal ... cgroup */
    __u64 size = ev->args[1] >= sizeof(ca) ? sizeof(ca) : 64;
    bpf_probe_read_user(ca, size, (const void *)ev->args[0]);
    ev->extra[0] = ca[0];
    ev->extra[1] = ca[4];
    ev->extra[2] = ca[10];
    break;
  }
  case HUSK_K_SETNS: {
    struct file *f = fd_file(task, ev->args[0]);
    if (f)
      rev_path(ev, BPF_CORE_READ(f, f_path.mnt), BPF_CORE_READ(f, f_path.dentry));
    break;
  }
  case HUSK_K_MOUNT:
    read_ustr(ev, ev->s1, HUSK_STR_LEN, ev->args[0]);
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[1]);
    read_ustr(ev, ev->s2, HUSK_STR_LEN, ev->args[2]);
    read_ustr(ev, ev->s3, HUSK_STR_LEN, ev->args[4]);
    break;
  case HUSK_K_UMOUNT:
  case HUSK_K_CHROOT:
  case HUSK_K_MKDIR:
  case HUSK_K_RMDIR:
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[0]);
    break;
  case HUSK_K_PIVOT_ROOT:
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[0]);
    read_ustr(ev, ev->s1, HUSK_STR_LEN, ev->args[1]);
    break;
  case HUSK_K_HOSTNAME: {
    __u64 len = ev->args[1];
    if (len > HOST_NAME_MAX)
      len = HOST_NAME_MAX;
    if (bpf_probe_read_user(ev->s0, len & 127, (const void *)ev->args[0]) < 0)
      len = 0;
    ev->s0[len & 127] = '\0';
    break;
  }
  case HUSK_K_EXECVE:
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[0]);
    read_argv(ev, ev->args[1]);
    break;
  case HUSK_K_EXECVEAT:
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[1]);
    read_argv(ev, ev->args[2]);
    break;
  case HUSK_K_CAPSET: {
    __u32 hdr[2] = {};  /* version, pid */
    __u32 data[6] = {}; /* 2 x {effective, permitted, inheritable} */
    bpf_probe_read_user(hdr, sizeof(hdr), (const void *)ev->args[0]);
    if (ev->args[1]) {
      /* version 1 passes one struct, versions 2 and 3 two */
      if (hdr[0] == 0x19980330)
        bpf_probe_read_user(data, 12, (const void *)ev->args[1]);
      else
        bpf_probe_read_user(data, sizeof(data), (const void *)ev->args[1]);
    }
    ev->extra[0] = data[0] | (__u64)data[3] << 32;
    ev->extra[1] = data[1] | (__u64)data[4] << 32;
    ev->extra[2] = data[2] | (__u64)data[5] << 32;
    ev->extra[3] = hdr[0] | (__u64)hdr[1] << 32;
    break;
  }
  case HUSK_K_PRCTL: {
    __u64 opt = ev->args[0];
    if (opt >= 64 || !(prctl_mask & (1ULL << opt)))
      return 0;
    if (opt == PR_SET_NAME)
      read_ustr(ev, ev->s0, HUSK_COMM_LEN, ev->args[1]);
    break;
  }
  case HUSK_K_SECCOMP:
    if (ev->args[0] == SECCOMP_MODE_FILTER && ev->args[2]) {
      __u16 len = 0;
      bpf_probe_read_user(&len, sizeof(len), (const void *)ev->args[2]);
      ev->extra[0] = len;
    }
    break;
  case HUSK_K_WRITE:
    return decode_cgroup_write(ev, task);
  case HUSK_K_MKDIRAT:
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[1]);
    break;
  case HUSK_K_OPEN_TREE:
  case HUSK_K_MOUNT_SETATTR:
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[1]);
    if (kind == HUSK_K_MOUNT_SETATTR && ev->args[4] >= 32)
      bpf_probe_read_user(ev->extra, 32, (const void *)ev->args[3]);
    break;
  case HUSK_K_MOVE_MOUNT:
    read_ustr(ev, ev->s1, HUSK_STR_LEN, ev->args[1]);
    read_ustr(ev, ev->s0, HUSK_PATH_LEN, ev->args[3]);
    break;
  case HUSK_K_FSOPEN:
    read_ustr(ev, ev->s2, HUSK_STR_LEN, ev->args[0]);
    break;
  case HUSK_K_FSCONFIG:
    read_ustr(ev, ev->s1, HUSK_STR_LEN, ev->args[2]);
    if (ev->args[1] == FSCONFIG_SET_STRING)
      read_ustr(ev, ev->s2, HUSK_STR_LEN, ev->args[3]);
    break;
  default:
    return 0;
  }

  /* mkdir/rmdir become events only when the cgroup tracepoint fires */
  if (kind == HUSK_K_MKDIR || kind == HUSK_K_MKDIRAT || kind == HUSK_K_RMDIR)
    return 0;
  return 1;
}

static __always_inline void fill_header(struct husk_event *ev, struct task_struct *task,
                                        __u64 pid_tgid, __u32 type)
{
  ev->type = type;
  ev->pid = pid_tgid >> 32;
  ev->tid = (__u32)pid_tgid;
  ev->nspid = ns_tgid(task);
  bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

static __always_inline void count_call(__u32 nr)
{
  struct husk_hist *h = bpf_map_lookup_elem(&hists, &nr);
  if (h)
    h->count++;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(husk_sys_enter, struct pt_regs *regs, long id)
{
  __u64 pid_tgid = bpf_get_current_pid_tgid();

  if (!is_tracked(pid_tgid >> 32))
    return 0;
  if (id < 0 || id >= HUSK_MAX_NR)
    return 0;

  __u32 nr = id;
  __u32 kind = sys_kind[nr];
  if (kind == HUSK_K_NORETURN) {
    count_call(nr);
    return 0;
  }

  struct task_struct *task = bpf_get_current_task_btf();
  struct inflight *st =
      bpf_task_storage_get(&inflight, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!st)
    return 0;
  st->nr = nr;
  st->kind = kind;
  st->emit = 0;
  if (kind != HUSK_K_NONE && kind < HUSK_K_MAX) {
    st->emit = decode_enter(st, regs, task, pid_tgid);
    st->ev.nr = nr;
    st->ev.kind = kind;
    fill_header(&st->ev, task, pid_tgid, HUSK_EV_SYSCALL);
  }
  /* last, so the decoding above is not part of the latency */
  st->start_ns = bpf_ktime_get_ns();
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(husk_sys_exit, struct pt_regs *regs, long ret)
{
  __u64 now = bpf_ktime_get_ns();
  struct task_struct *task = bpf_get_current_task_btf();
  struct inflight *st = bpf_task_storage_get(&inflight, task, NULL, 0);

  if (!st || !st->start_ns)
    return 0;

  __u64 dur = now - st->start_ns;
  __u32 nr = st->nr;
  __u64 start = st->start_ns;
  st->start_ns = 0;

  struct husk_hist *h = bpf_map_lookup_elem(&hists, &nr);
  if (h) {
    h->count++;
    h->total_ns += dur;
    if (dur > h->max_ns)
      h->max_ns = dur;
    if (ret < 0 && ret >= -MAX_ERRNO)
      h->errors++;
    __u32 slot = husk_hist_slot(dur);
    if (slot < HUSK_HIST_SLOTS)
      h->slots[slot]++;
  }

  if (st->emit) {
    st->emit = 0;
    st->ev.ts_ns = start;
    st->ev.dur_ns = dur;
    st->ev.ret = ret;
    if (bpf_ringbuf_output(&events, &st->ev, sizeof(st->ev), 0) < 0)
      __sync_fetch_and_add(&dropped_events, 1);
  }
  return 0;
}

/* A cgroup was created or removed by the syscall in flight: make it an event. */
static __always_inline int cgroup_event(struct cgroup *cgrp, const char *path)
{
  __u64 pid_tgid = bpf_get_current_pid_tgid();

  if (!is_tracked(pid_tgid >> 32))
    return 0;
  struct task_struct *task = bpf_get_current_task_btf();
  struct inflight *st = bpf_task_storage_get(&inflight, task, NULL, 0);
  if (!st || !st->start_ns)
    return 0;
  if (st->kind != HUSK_K_MKDIR && st->kind != HUSK_K_MKDIRAT && st->kind != HUSK_K_RMDIR)
    return 0;
  bpf_probe_read_kernel_str(st->ev.s1, HUSK_STR_LEN, path);
  st->ev.extra[0] = BPF_CORE_READ(cgrp, root, hierarchy_id);
  st->emit = 1;
  return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(husk_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
  return cgroup_event(cgrp, path);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(husk_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
  return cgroup_event(cgrp, path);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(husk_fork, struct task_struct *parent, struct task_struct *child)
{
  __u32 ptgid = BPF_CORE_READ(parent, tgid);
  __u32 ctgid = BPF_CORE_READ(child, tgid);
  __u8 one = 1;

  if (ptgid == ctgid || !is_tracked(ptgid))
    return 0;
  if (bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY) < 0)
    __sync_fetch_and_add(&dropped_processes, 1);
  return 0;
}

/* Only the first argument: 6.18 added a second one (group_dead). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(husk_exit, struct task_struct *task)
{
  __u32 tgid = BPF_CORE_READ(task, tgid);

  if (!is_tracked(tgid))
    return 0;
  if (BPF_CORE_READ(task, signal, live.counter) > 0)
    return 0; /* other threads of the group are still running */

  struct husk_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (ev) {
    __builtin_memset(ev, 0, offsetof(struct husk_event, s0));
    ev->s0[0] = ev->s1[0] = ev->s2[0] = ev->s3[0] = '\0';
    ev->ts_ns = bpf_ktime_get_ns();
    ev->ret = BPF_CORE_READ(task, exit_code);
    fill_header(ev, task, bpf_get_current_pid_tgid(), HUSK_EV_EXIT);
    bpf_ringbuf_submit(ev, 0);
  } else {
    __sync_fetch_and_add(&dropped_events, 1);
  }
  bpf_map_delete_elem(&tracked, &tgid);
  return 0;
}
