/* husk-trace: what the BPF side (husk-trace.bpf.c) and the loader (husk-trace.c)
 * share: the event record, the per-syscall histogram and the decoding kinds.
 * Only fixed-width __u64/__u32 types: the struct crosses the kernel boundary. */
#ifndef HUSK_TRACE_H
#define HUSK_TRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HUSK_COMM_LEN   16
#define HUSK_PATH_LEN   512 /* s0: paths (mount target, execve filename, cgroup file) */
#define HUSK_STR_LEN    256 /* s1..s3 */
#define HUSK_NAME_MAX   128 /* one path component copied from a dentry */
#define HUSK_MAX_NR     512 /* syscall numbers above this are counted nowhere */
#define HUSK_HIST_SLOTS 40  /* log2(ns) slots: the last one holds everything >= 2^39 ns */
#define HUSK_VALUE_LEN  128 /* bytes of a cgroup file write kept */

enum husk_event_type {
  HUSK_EV_SYSCALL = 1, /* a decoded syscall: entry time, duration, return value */
  HUSK_EV_EXIT = 2,    /* a traced process (thread group) exited: ret = wait status */
};

/* How the BPF side reads a syscall's arguments (set per syscall number by the
 * loader, so the BPF object needs no arch-specific __NR_ constants). */
enum husk_kind {
  HUSK_K_NONE = 0,      /* counted in the histogram only */
  HUSK_K_NORETURN,      /* exit/exit_group: counted at entry, never returns */
  HUSK_K_CLONE,         /* clone: flags in args[0] */
  HUSK_K_CLONE3,        /* clone3: extra[0] = flags, extra[1] = exit_signal, extra[2] = cgroup */
  HUSK_K_FORK,          /* fork/vfork */
  HUSK_K_UNSHARE,       /* unshare(flags) */
  HUSK_K_SETNS,         /* setns(fd, nstype): s0 = the fd's path, extra[0] = its inode */
  HUSK_K_MOUNT,         /* mount: s1 = source, s0 = target, s2 = fstype, s3 = data */
  HUSK_K_UMOUNT,        /* umount2(target, flags): s0 */
  HUSK_K_PIVOT_ROOT,    /* pivot_root(new_root, put_old): s0, s1 */
  HUSK_K_CHROOT,        /* chroot(path): s0 */
  HUSK_K_HOSTNAME,      /* sethostname/setdomainname(name, len): s0 */
  HUSK_K_EXECVE,        /* execve(filename, argv, envp): s0, argv[0..2] in s1..s3 */
  HUSK_K_EXECVEAT,      /* execveat(dirfd, pathname, argv, envp, flags) */
  HUSK_K_CAPSET,        /* capset: extra[0..2] = effective, permitted, inheritable (64 bit) */
  HUSK_K_PRCTL,         /* prctl: options in the loader's prctl_mask; PR_SET_NAME: s0 */
  HUSK_K_SECCOMP,       /* seccomp(op, flags, args): extra[0] = filter length */
  HUSK_K_WRITE,         /* write/pwrite64: only to cgroup files; s0 = path, s1 = value */
  HUSK_K_MKDIR,         /* mkdir(path, mode): emitted only when a cgroup is created */
  HUSK_K_MKDIRAT,       /* mkdirat(dfd, path, mode) */
  HUSK_K_RMDIR,         /* rmdir(path): emitted only when a cgroup is removed */
  HUSK_K_UNLINKAT,      /* unlinkat(dfd, path, AT_REMOVEDIR): the same */
  HUSK_K_OPEN_TREE,     /* open_tree(dfd, path, flags): s0 */
  HUSK_K_MOVE_MOUNT,    /* move_mount(from_dfd, from, to_dfd, to, flags): s1 = from, s0 = to */
  HUSK_K_FSOPEN,        /* fsopen(fstype, flags): s2 */
  HUSK_K_FSCONFIG,      /* fsconfig(fd, cmd, key, value, aux): s1 = key, s2 = value */
  HUSK_K_FSMOUNT,       /* fsmount(fd, flags, attr_flags) */
  HUSK_K_MOUNT_SETATTR, /* mount_setattr(dfd, path, flags, attr, size): s0 */
  HUSK_K_MAX,
};

/* husk_event.flags
 * S0_REVPATH: s0 holds s0_len bytes of NUL-separated path components, leaf first
 * CGROUP2:    the cgroup file lives on cgroup2 (else cgroup v1)
 * TRUNCATED:  a string or path was cut
 * PSEUDO:     the s0 path ends at a pseudo file system's root (nsfs, pipefs)
 * ARGBLOCK:   execve: argblock holds extra[0] bytes of argv, extra[1] = argc
 * VIAFD:      mount target "/proc/self/fd/N" or move_mount's to_dfd: s0 is that
 *             fd's path (S0_REVPATH), extra[0] = N */
#define HUSK_EVF_S0_REVPATH 0x1
#define HUSK_EVF_CGROUP2    0x2
#define HUSK_EVF_TRUNCATED  0x4
#define HUSK_EVF_PSEUDO     0x8
#define HUSK_EVF_ARGBLOCK   0x10
#define HUSK_EVF_VIAFD      0x20

struct husk_event {
  __u64 ts_ns;  /* syscall entry, CLOCK_MONOTONIC (bpf_ktime_get_ns) */
  __u64 dur_ns; /* entry to exit */
  __s64 ret;    /* syscall return value; for HUSK_EV_EXIT the wait status */
  __u64 args[6];
  __u64 extra[4];
  __u32 type;  /* enum husk_event_type */
  __u32 nr;    /* syscall number */
  __u32 kind;  /* enum husk_kind */
  __u32 pid;   /* host tgid */
  __u32 tid;   /* host thread id */
  __u32 nspid; /* tgid inside the process's own pid namespace */
  __u32 s0_len;
  __u32 flags; /* HUSK_EVF_* */
  char comm[HUSK_COMM_LEN];
  char s0[HUSK_PATH_LEN];
  union {
    struct {
      char s1[HUSK_STR_LEN];
      char s2[HUSK_STR_LEN];
      char s3[HUSK_STR_LEN];
    };
    char argblock[3 * HUSK_STR_LEN]; /* HUSK_EVF_ARGBLOCK: argv, NUL separated */
  };
};

/* Per-syscall statistics (one per syscall number, per CPU; the loader sums). */
struct husk_hist {
  __u64 count;    /* calls started (exit/exit_group included) */
  __u64 errors;   /* returns in [-4095, -1] */
  __u64 total_ns; /* sum of latencies of the calls that returned */
  __u64 max_ns;
  __u64 slots[HUSK_HIST_SLOTS]; /* slot k: latency in [2^k, 2^(k+1)) ns; slot 0: [0, 2) */
};

/* floor(log2(v)), 0 for v <= 1: the same code buckets in the kernel and in tests. */
static inline __attribute__((always_inline)) __u32 husk_log2(__u32 v)
{
  __u32 r, shift;

  r = (v > 0xFFFF) << 4;
  v >>= r;
  shift = (v > 0xFF) << 3;
  v >>= shift;
  r |= shift;
  shift = (v > 0xF) << 2;
  v >>= shift;
  r |= shift;
  shift = (v > 0x3) << 1;
  v >>= shift;
  r |= shift;
  r |= (v >> 1);
  return r;
}

static inline __attribute__((always_inline)) __u32 husk_hist_slot(__u64 ns)
{
  __u32 hi = ns >> 32;
  __u32 slot = hi ? husk_log2(hi) + 32 : husk_log2((__u32)ns);
  return slot < HUSK_HIST_SLOTS ? slot : HUSK_HIST_SLOTS - 1;
}

#endif
