// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* husk-trace, kernel side: follow a process tree by host tgid, time every
 * syscall it makes (per-syscall log2 histograms) and emit decoded events for
 * the syscalls that set up a container.
 *
 * Attach points (all tp_btf: no kprobes, no fentry, no tracefs needed): sys_enter,
 * sys_exit, sched_process_fork/exec/exit, cgroup_mkdir, cgroup_rmdir.  Strings are read at syscall
 * entry (the caller's memory may be gone at exit); the event waits in task storage until the
 * syscall returns, then goes out through the ring buffer with its latency and return value. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "husk-trace.h"

/* GPL-compatible: bpf_probe_read_* and task storage are GPL-only helpers */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CGROUP_SUPER_MAGIC  0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270
#define PR_SET_NAME         15
#define SECCOMP_MODE_FILTER 1
#define FSCONFIG_SET_STRING 1
#define HOST_NAME_MAX       64
#define MAX_ERRNO           4095
#define CLONE_THREAD        0x00010000
#define AT_REMOVEDIR        0x200
#define MOVE_MOUNT_T_EMPTY  0x40

/* Set by the loader before load. */
const volatile __u8 sys_kind[HUSK_MAX_NR] = {}; /* enum husk_kind per syscall number */
const volatile __u64 prctl_mask = 0;            /* prctl options (< 64) that make events */

__u64 dropped_events = 0;    /* ring buffer full */
__u64 dropped_processes = 0; /* tracked map full */

struct inflight {
  __u64 start_ns; /* 0: no syscall in flight that we saw enter */
  __u32 nr;
  __u32 kind;
  __u32 emit;  /* send ev at sys_exit */
  __u32 retry; /* s0..s3 whose read failed at entry (page not resident): retry at exit */
  __u64 retry_ptr[4];
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

#define RINGBUF_BYTES        (4 << 20)
#define RINGBUF_WAKEUP_BYTES (RINGBUF_BYTES / 4)

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, RINGBUF_BYTES);
} events SEC(".maps");

/* Wake the loader only when the buffer fills up: it polls every 50 ms anyway,
 * and a wakeup per event would compete with the traced start for the CPU. */
static __always_inline __u64 wakeup_flag(void)
{
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > RINGBUF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
                                                                              : BPF_RB_NO_WAKEUP;
}

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

static __always_inline char *slot_buf(struct husk_event *ev, int slot)
{
  switch (slot) {
  case 0:
    return ev->s0;
  case 1:
    return ev->s1;
  case 2:
    return ev->s2;
  default:
    return ev->s3;
  }
}

/* A string argument into s<slot>.  bpf_probe_read_user cannot fault pages in:
 * a string in a page the tracee has not touched yet (a binary's .rodata) fails
 * here and is read again at sys_exit, after the kernel has faulted it in. */
static __always_inline void read_ustr(struct inflight *st, int slot, __u32 size, __u64 uptr)
{
  char *dst = slot_buf(&st->ev, slot);

  dst[0] = '\0';
  if (!uptr)
    return;
  long n = bpf_probe_read_user_str(dst, size, (const void *)uptr);
  if (n < 0) {
    dst[0] = '\0';
    st->retry |= 1U << slot;
    st->retry_ptr[slot & 3] = uptr;
  } else if ((__u32)n == size) {
    st->ev.flags |= HUSK_EVF_TRUNCATED;
  }
}

static __always_inline void retry_reads(struct inflight *st)
{
  struct husk_event *ev = &st->ev;

  if (st->retry & 1)
    bpf_probe_read_user_str(ev->s0, sizeof(ev->s0), (const void *)st->retry_ptr[0]);
  if (st->retry & 2)
    bpf_probe_read_user_str(ev->s1, sizeof(ev->s1), (const void *)st->retry_ptr[1]);
  if (st->retry & 4)
    bpf_probe_read_user_str(ev->s2, sizeof(ev->s2), (const void *)st->retry_ptr[2]);
  if (st->retry & 8)
    bpf_probe_read_user_str(ev->s3, sizeof(ev->s3), (const void *)st->retry_ptr[3]);
  st->retry = 0;
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
 * of the mount namespace, leaf first, NUL separated, into ev->s0.  One step per
 * bpf_loop() iteration: the verifier checks the step once, not 24 times. */
struct walk {
  struct husk_event *ev;
  struct mount *mnt;
  struct dentry *d;
  __u32 off;
};

static long walk_step(__u32 i, void *ctx)
{
  struct walk *w = ctx;
  struct husk_event *ev = w->ev;
  struct dentry *d = w->d;
  struct mount *mnt = w->mnt; /* a local: CO-RE must not relocate struct walk */
  struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
  struct dentry *parent = BPF_CORE_READ(d, d_parent);
  __u32 off = w->off;

  if (d == mnt_root) {
    struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
    if (!up || up == mnt)
      return 1;
    w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = up;
    return 0;
  }
  if (off > HUSK_PATH_LEN - HUSK_NAME_MAX) {
    ev->flags |= HUSK_EVF_TRUNCATED;
    return 1;
  }
  const unsigned char *name = BPF_CORE_READ(d, d_name.name);
  long n = bpf_probe_read_kernel_str(&ev->s0[off], HUSK_NAME_MAX, name);
  if (n <= 0)
    return 1;
  w->off = off + n;
  if (d == parent) { /* a pseudo file (nsfs, pipe): its own root */
    ev->flags |= HUSK_EVF_PSEUDO;
    return 1;
  }
  w->d = parent;
  return 0;
}

static __always_inline void rev_path(struct husk_event *ev, struct vfsmount *vmnt, struct dentry *d)
{
  struct walk w = {
      .ev = ev,
      .mnt = (void *)vmnt - bpf_core_field_offset(struct mount, mnt),
      .d = d,
  };

  bpf_loop(24, walk_step, &w, 0);
  ev->s0_len = w.off;
  ev->flags |= HUSK_EVF_S0_REVPATH;
}

/* "/proc/self/fd/N" -> N, else -1: runtimes mount onto O_PATH fds this way. */
static __always_inline int proc_self_fd(const char *s)
{
  const char prefix[] = "/proc/self/fd/";
  int fd = 0;

  for (int i = 0; i < sizeof(prefix) - 1; i++)
    if (s[i] != prefix[i])
      return -1;
  for (int i = sizeof(prefix) - 1; i < sizeof(prefix) + 6; i++) {
    char c = s[i];
    if (c == '\0')
      return i > sizeof(prefix) - 1 ? fd : -1;
    if (c < '0' || c > '9')
      return -1;
    fd = fd * 10 + (c - '0');
  }
  return -1;
}

/* s0 becomes the path of the tracee's fd (what "/proc/self/fd/N" names). */
static __always_inline void resolve_fd(struct husk_event *ev, struct task_struct *task, int fd)
{
  struct file *f = fd_file(task, fd);

  if (!f)
    return;
  rev_path(ev, BPF_CORE_READ(f, f_path.mnt), BPF_CORE_READ(f, f_path.dentry));
  ev->flags |= HUSK_EVF_VIAFD;
  ev->extra[0] = fd;
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

static __always_inline void read_argv(struct inflight *st, __u64 argv)
{
  struct husk_event *ev = &st->ev;
  const char *p[4] = {};

  if (!argv)
    return;
  bpf_probe_read_user(&p, sizeof(p), (const void *)argv);
  /* stop at the first NULL: argv ends there */
  if (!p[0])
    return;
  read_ustr(st, 1, HUSK_STR_LEN, (__u64)p[0]);
  ev->extra[0] = 1;
  if (!p[1])
    return;
  read_ustr(st, 2, HUSK_STR_LEN, (__u64)p[1]);
  ev->extra[0] = 2;
  if (!p[2])
    return;
  read_ustr(st, 3, HUSK_STR_LEN, (__u64)p[2]);
  ev->extra[0] = 3;
  ev->extra[1] = p[3] != NULL; /* more arguments follow */
}

static __always_inline int is_dir_kind(__u32 kind)
{
  return kind == HUSK_K_MKDIR || kind == HUSK_K_MKDIRAT || kind == HUSK_K_RMDIR ||
         kind == HUSK_K_UNLINKAT;
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
  st->retry = 0;

  switch (kind) {
  case HUSK_K_CLONE:
    if (ev->args[0] & CLONE_THREAD)
      return 0; /* threads are followed and counted, not shown */
    break;
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
    if (ca[0] & CLONE_THREAD)
      return 0;
    break;
  }
  case HUSK_K_SETNS: {
    struct file *f = fd_file(task, ev->args[0]);
    if (f) {
      rev_path(ev, BPF_CORE_READ(f, f_path.mnt), BPF_CORE_READ(f, f_path.dentry));
      ev->extra[0] = BPF_CORE_READ(f, f_inode, i_ino); /* the namespace's inode number */
    }
    break;
  }
  case HUSK_K_MOUNT:
    read_ustr(st, 1, HUSK_STR_LEN, ev->args[0]);
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[1]);
    read_ustr(st, 2, HUSK_STR_LEN, ev->args[2]);
    read_ustr(st, 3, HUSK_STR_LEN, ev->args[4]);
    {
      int fd = proc_self_fd(ev->s0);
      if (fd >= 0)
        resolve_fd(ev, task, fd);
    }
    break;
  case HUSK_K_UMOUNT:
  case HUSK_K_CHROOT:
  case HUSK_K_MKDIR:
  case HUSK_K_RMDIR:
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[0]);
    break;
  case HUSK_K_PIVOT_ROOT:
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[0]);
    read_ustr(st, 1, HUSK_STR_LEN, ev->args[1]);
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
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[0]);
    read_argv(st, ev->args[1]);
    break;
  case HUSK_K_EXECVEAT:
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[1]);
    read_argv(st, ev->args[2]);
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
    if (opt == PR_SET_NAME) {
      read_ustr(st, 0, HUSK_COMM_LEN, ev->args[1]);
      ev->flags &= ~HUSK_EVF_TRUNCATED; /* the kernel keeps 15 characters anyway */
    }
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
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[1]);
    break;
  case HUSK_K_UNLINKAT:
    if (ev->args[2] & AT_REMOVEDIR)
      read_ustr(st, 0, HUSK_PATH_LEN, ev->args[1]);
    break;
  case HUSK_K_OPEN_TREE:
  case HUSK_K_MOUNT_SETATTR:
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[1]);
    if (kind == HUSK_K_MOUNT_SETATTR && ev->args[4] >= 32)
      bpf_probe_read_user(ev->extra, 32, (const void *)ev->args[3]);
    break;
  case HUSK_K_MOVE_MOUNT:
    read_ustr(st, 1, HUSK_STR_LEN, ev->args[1]);
    read_ustr(st, 0, HUSK_PATH_LEN, ev->args[3]);
    if (ev->args[4] & MOVE_MOUNT_T_EMPTY)
      resolve_fd(ev, task, (int)ev->args[2]);
    break;
  case HUSK_K_FSOPEN:
    read_ustr(st, 2, HUSK_STR_LEN, ev->args[0]);
    break;
  case HUSK_K_FSCONFIG:
    read_ustr(st, 1, HUSK_STR_LEN, ev->args[2]);
    if (ev->args[1] == FSCONFIG_SET_STRING)
      read_ustr(st, 2, HUSK_STR_LEN, ev->args[3]);
    break;
  default:
    return 0;
  }

  /* mkdir/rmdir become events only when the cgroup tracepoint fires */
  if (is_dir_kind(kind))
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
  struct inflight *st = bpf_task_storage_get(&inflight, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
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
    /* after a successful execve the old strings are gone with the old mm;
     * husk_exec filled them from the new one */
    if (st->retry && !((st->kind == HUSK_K_EXECVE || st->kind == HUSK_K_EXECVEAT) && ret == 0))
      retry_reads(st);
    st->ev.ts_ns = start;
    st->ev.dur_ns = dur;
    st->ev.ret = ret;
    if (bpf_ringbuf_output(&events, &st->ev, sizeof(st->ev), wakeup_flag()) < 0)
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
  if (!is_dir_kind(st->kind))
    return 0;
  bpf_probe_read_kernel_str(st->ev.s1, HUSK_STR_LEN, path);
  st->ev.extra[0] = BPF_CORE_READ(cgrp, root, hierarchy_id);
  /* a named v1 hierarchy (name=systemd) is not in /proc/cgroups */
  bpf_probe_read_kernel_str(st->ev.s2, HUSK_STR_LEN, BPF_CORE_READ(cgrp, root, name));
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

/* A successful execve: the filename and argv from the kernel's side, always
 * readable (the entry-time read can miss non-resident pages). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(husk_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
  struct task_struct *task = bpf_get_current_task_btf();
  struct inflight *st = bpf_task_storage_get(&inflight, task, NULL, 0);

  if (!st || !st->start_ns || !st->emit)
    return 0;
  if (st->kind != HUSK_K_EXECVE && st->kind != HUSK_K_EXECVEAT)
    return 0;
  struct husk_event *ev = &st->ev;
  st->retry = 0;
  if (ev->s0[0] == '\0')
    bpf_probe_read_kernel_str(ev->s0, sizeof(ev->s0), BPF_CORE_READ(bprm, filename));

  /* the new program's argv: one NUL-separated block on its stack */
  __u64 arg = BPF_CORE_READ(task, mm, arg_start);
  __u64 len = BPF_CORE_READ(task, mm, arg_end) - arg;
  ev->flags &= ~HUSK_EVF_TRUNCATED;
  if (len > sizeof(ev->argblock) - 1) {
    len = sizeof(ev->argblock) - 1;
    ev->flags |= HUSK_EVF_TRUNCATED;
  }
  if (bpf_probe_read_user(ev->argblock, len, (const void *)arg) < 0)
    return 0; /* keep what sys_enter read */
  ev->argblock[len] = '\0';
  ev->extra[0] = len;
  ev->extra[1] = BPF_CORE_READ(bprm, argc);
  ev->flags |= HUSK_EVF_ARGBLOCK;
  return 0;
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
    bpf_ringbuf_submit(ev, wakeup_flag());
  } else {
    __sync_fetch_and_add(&dropped_events, 1);
  }
  bpf_map_delete_elem(&tracked, &tgid);
  return 0;
}
