/* Unit tests of husk-trace's user-space side: flag decoding, log2 bucketing,
 * event decoding, timeline/histogram text and the JSON document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "trace_format.h"

#define F_NEWNS   0x00020000ULL
#define F_NEWUTS  0x04000000ULL
#define F_NEWIPC  0x08000000ULL
#define F_NEWPID  0x20000000ULL
#define F_NEWNET  0x40000000ULL
#define F_NEWCG   0x02000000ULL
#define F_NEWUSER 0x10000000ULL
#define F_SIGCHLD 17ULL

static char buf[4096];

static void clone_flags_decode_namespaces_and_signal(void **state)
{
  (void)state;
  assert_string_equal(
      trace_clone_flags(F_NEWNS | F_NEWPID | F_NEWUTS | F_NEWIPC | F_NEWNET | F_SIGCHLD, true, buf,
                        sizeof(buf)),
      "CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET|SIGCHLD");
  assert_string_equal(trace_clone_flags(F_SIGCHLD, true, buf, sizeof(buf)), "SIGCHLD");
  assert_string_equal(trace_clone_flags(0, true, buf, sizeof(buf)), "0");
  /* threads: the usual pthread_create flags */
  assert_string_equal(trace_clone_flags(0x3d0f00, true, buf, sizeof(buf)),
                      "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|"
                      "CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID");
}

static void unshare_flags_decode_newtime_and_unknown_bits(void **state)
{
  (void)state;
  assert_string_equal(trace_clone_flags(F_NEWNS | F_NEWCG | F_NEWUSER, false, buf, sizeof(buf)),
                      "CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUSER");
  /* 0x80 is CLONE_NEWTIME for unshare and clone3, an exit signal for clone */
  assert_string_equal(trace_clone_flags(0x80 | F_NEWNS, false, buf, sizeof(buf)),
                      "CLONE_NEWTIME|CLONE_NEWNS");
  assert_string_equal(trace_clone_flags(0x80, false, buf, sizeof(buf)), "CLONE_NEWTIME");
  assert_string_equal(trace_clone_flags(1ULL << 40 | F_NEWPID, false, buf, sizeof(buf)),
                      "CLONE_NEWPID|0x10000000000");
  assert_string_equal(trace_clone_flags(0x200000000ULL, false, buf, sizeof(buf)),
                      "CLONE_INTO_CGROUP");
}

static void setns_type_decodes_one_namespace(void **state)
{
  (void)state;
  assert_string_equal(trace_setns_type(F_NEWNET, buf, sizeof(buf)), "CLONE_NEWNET");
  assert_string_equal(trace_setns_type(0, buf, sizeof(buf)), "0");
}

static void mount_flags_decode(void **state)
{
  (void)state;
  assert_string_equal(trace_mount_flags(4096 | 16384, buf, sizeof(buf)), "MS_BIND|MS_REC");
  assert_string_equal(trace_mount_flags(2 | 4 | 8, buf, sizeof(buf)),
                      "MS_NOSUID|MS_NODEV|MS_NOEXEC");
  assert_string_equal(trace_mount_flags((1 << 18) | 16384, buf, sizeof(buf)), "MS_REC|MS_PRIVATE");
  assert_string_equal(trace_mount_flags(0xc0ed0000 | 1, buf, sizeof(buf)), "MS_MGC_VAL|MS_RDONLY");
  assert_string_equal(trace_mount_flags(0, buf, sizeof(buf)), "0");
  assert_string_equal(trace_umount_flags(2, buf, sizeof(buf)), "MNT_DETACH");
  assert_string_equal(trace_seccomp_flags(1 | 8, buf, sizeof(buf)),
                      "SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_NEW_LISTENER");
}

static void option_and_error_names(void **state)
{
  (void)state;
  assert_string_equal(trace_prctl_option(15), "PR_SET_NAME");
  assert_string_equal(trace_prctl_option(38), "PR_SET_NO_NEW_PRIVS");
  assert_null(trace_prctl_option(1000));
  assert_string_equal(trace_seccomp_op(1), "SECCOMP_SET_MODE_FILTER");
  assert_string_equal(trace_errno_name(1, buf, sizeof(buf)), "EPERM");
  assert_string_equal(trace_errno_name(100000, buf, sizeof(buf)), "E100000");
  assert_string_equal(trace_syscall_name(SYS_unshare), "unshare");
  assert_string_equal(trace_syscall_name(SYS_pivot_root), "pivot_root");
  assert_string_equal(trace_syscall_name(HUSK_MAX_NR - 1), "syscall_511");
}

static void kinds_cover_the_setup_syscalls(void **state)
{
  uint8_t kinds[HUSK_MAX_NR];
  (void)state;
  trace_fill_kinds(kinds);
  assert_int_equal(kinds[SYS_unshare], HUSK_K_UNSHARE);
  assert_int_equal(kinds[SYS_clone], HUSK_K_CLONE);
  assert_int_equal(kinds[SYS_mount], HUSK_K_MOUNT);
  assert_int_equal(kinds[SYS_execve], HUSK_K_EXECVE);
  assert_int_equal(kinds[SYS_exit_group], HUSK_K_NORETURN);
  assert_int_equal(kinds[SYS_write], HUSK_K_WRITE);
  assert_int_equal(kinds[SYS_getpid], HUSK_K_NONE);
  uint64_t mask = trace_prctl_event_mask();
  assert_true(mask & (1ULL << 15));  /* PR_SET_NAME */
  assert_true(mask & (1ULL << 38));  /* PR_SET_NO_NEW_PRIVS */
  assert_false(mask & (1ULL << 24)); /* PR_CAPBSET_DROP: histogram only */
}

static uint32_t slow_log2(uint64_t v)
{
  uint32_t r = 0;
  while (v > 1) {
    v >>= 1;
    r++;
  }
  return r;
}

static void hist_slot_is_floor_log2_capped(void **state)
{
  (void)state;
  assert_int_equal(husk_hist_slot(0), 0);
  assert_int_equal(husk_hist_slot(1), 0);
  assert_int_equal(husk_hist_slot(2), 1);
  assert_int_equal(husk_hist_slot(3), 1);
  assert_int_equal(husk_hist_slot(4), 2);
  assert_int_equal(husk_hist_slot(1023), 9);
  assert_int_equal(husk_hist_slot(1024), 10);
  assert_int_equal(husk_hist_slot(0xffffffffULL), 31);
  assert_int_equal(husk_hist_slot(1ULL << 32), 32);
  assert_int_equal(husk_hist_slot(1ULL << 39), 39);
  assert_int_equal(husk_hist_slot(UINT64_MAX), HUSK_HIST_SLOTS - 1);
  /* every power of two and its neighbours land where a plain loop says */
  for (uint32_t k = 0; k < 64; k++) {
    uint64_t p = 1ULL << k;
    uint64_t vals[3] = {p - 1, p, p + 1};
    for (int i = 0; i < 3; i++) {
      uint32_t want = slow_log2(vals[i]);
      if (want > HUSK_HIST_SLOTS - 1)
        want = HUSK_HIST_SLOTS - 1;
      assert_int_equal(husk_hist_slot(vals[i]), want);
      uint64_t lo, hi;
      trace_hist_range(husk_hist_slot(vals[i]), &lo, &hi);
      assert_true(lo <= vals[i] && vals[i] <= hi);
    }
  }
}

static void hist_ranges_and_sums(void **state)
{
  uint64_t lo, hi;
  (void)state;
  trace_hist_range(0, &lo, &hi);
  assert_true(lo == 0 && hi == 1);
  trace_hist_range(10, &lo, &hi);
  assert_true(lo == 1024 && hi == 2047);
  trace_hist_range(HUSK_HIST_SLOTS - 1, &lo, &hi);
  assert_true(lo == 1ULL << (HUSK_HIST_SLOTS - 1) && hi == UINT64_MAX);

  struct husk_hist a = {.count = 2, .errors = 1, .total_ns = 300, .max_ns = 200};
  struct husk_hist b = {.count = 3, .total_ns = 700, .max_ns = 500};
  a.slots[7] = 2;
  b.slots[7] = 1;
  b.slots[8] = 2;
  struct husk_hist sum = {0};
  trace_hist_add(&sum, &a);
  trace_hist_add(&sum, &b);
  assert_int_equal(sum.count, 5);
  assert_int_equal(sum.errors, 1);
  assert_int_equal(sum.total_ns, 1000);
  assert_int_equal(sum.max_ns, 500);
  assert_int_equal(sum.slots[7], 3);
  assert_int_equal(sum.slots[8], 2);

  struct trace_stat st[3] = {{.nr = 1, .h = {.count = 10, .total_ns = 50}},
                             {.nr = 2, .h = {.count = 1, .total_ns = 900}},
                             {.nr = 3, .h = {.count = 20, .total_ns = 50}}};
  trace_stats_sort(st, 3);
  assert_int_equal(st[0].nr, 2);
  assert_int_equal(st[1].nr, 3);
  assert_int_equal(st[2].nr, 1);
}

static void durations_format_with_units(void **state)
{
  (void)state;
  assert_string_equal(trace_fmt_ns(512, buf, sizeof(buf)), "512ns");
  assert_string_equal(trace_fmt_ns(1500, buf, sizeof(buf)), "1.5us");
  assert_string_equal(trace_fmt_ns(16384, buf, sizeof(buf)), "16us");
  assert_string_equal(trace_fmt_ns(2500000, buf, sizeof(buf)), "2.5ms");
  assert_string_equal(trace_fmt_ns(3000000000ULL, buf, sizeof(buf)), "3.0s");
}

static void paths_and_strings_are_rebuilt_and_escaped(void **state)
{
  static const char comp[] = "cgroup.procs\0ctr1\0memory\0cgroup\0fs\0sys";
  (void)state;
  trace_rev_path(comp, sizeof(comp), false, buf, sizeof(buf));
  assert_string_equal(buf, "/sys/fs/cgroup/memory/ctr1/cgroup.procs");
  trace_rev_path("net:[4026532208]", 17, true, buf, sizeof(buf));
  assert_string_equal(buf, "net:[4026532208]");
  trace_rev_path("", 0, false, buf, sizeof(buf));
  assert_string_equal(buf, "/");
  trace_escape("a\nb\"\x01\xff", 6, buf, sizeof(buf));
  assert_string_equal(buf, "a\\nb\\\"\\x01\\xff");
  char small[4];
  trace_escape("abcdef", 6, small, sizeof(small));
  assert_string_equal(small, "abc");
}

static void cgroup_hierarchies_are_named_from_proc_cgroups(void **state)
{
  struct trace_fmt fmt = {0};
  (void)state;
  trace_fmt_set_cgroups(&fmt,
                        "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                        "cpu\t3\t1\t1\ncpuacct\t3\t1\t1\nmemory\t5\t12\t1\nhugetlb\t0\t1\t1\n");
  assert_string_equal(fmt.cg_names[3], "cpu,cpuacct");
  assert_string_equal(fmt.cg_names[5], "memory");
  assert_null(fmt.cg_names[4]);
  trace_fmt_free(&fmt);
}

static const struct trace_arg *find_arg(const struct trace_args *args, const char *key)
{
  for (size_t i = 0; i < args->n; i++)
    if (strcmp(args->a[i].key, key) == 0)
      return &args->a[i];
  return NULL;
}

static struct husk_event make_event(uint32_t nr, uint32_t kind)
{
  struct husk_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.type = HUSK_EV_SYSCALL;
  ev.nr = nr;
  ev.kind = kind;
  ev.pid = 4242;
  ev.tid = 4242;
  ev.nspid = 1;
  ev.ts_ns = 1000000 + 2500000;
  ev.dur_ns = 734210;
  snprintf(ev.comm, sizeof(ev.comm), "husk:init");
  return ev;
}

static void events_decode_to_named_args(void **state)
{
  struct trace_args args;
  const struct trace_arg *a;
  (void)state;

  struct husk_event ev = make_event(SYS_mount, HUSK_K_MOUNT);
  ev.args[0] = 0x1000; /* non-NULL pointers */
  ev.args[1] = 0x2000;
  ev.args[2] = 0x3000;
  ev.args[3] = 2 | 4 | 8;
  snprintf(ev.s1, sizeof(ev.s1), "proc");
  snprintf(ev.s0, sizeof(ev.s0), "/run/b/rootfs/proc");
  snprintf(ev.s2, sizeof(ev.s2), "proc");
  trace_decode(NULL, &ev, &args);
  assert_int_equal(args.n, 4); /* data NULL: omitted */
  assert_string_equal(find_arg(&args, "target")->str, "/run/b/rootfs/proc");
  assert_string_equal(find_arg(&args, "fstype")->str, "proc");
  assert_string_equal(find_arg(&args, "flags")->str, "MS_NOSUID|MS_NODEV|MS_NOEXEC");

  /* a mount onto "/proc/self/fd/17": the BPF side resolved the fd's path */
  static const char rootfs_proc[] = "proc\0rootfs\0b\0run";
  memcpy(ev.s0, rootfs_proc, sizeof(rootfs_proc));
  ev.s0_len = sizeof(rootfs_proc);
  ev.flags = HUSK_EVF_S0_REVPATH | HUSK_EVF_VIAFD;
  ev.extra[0] = 17;
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "target")->str, "/run/b/rootfs/proc");
  assert_int_equal(find_arg(&args, "target_fd")->num, 17);

  ev = make_event(SYS_mount, HUSK_K_MOUNT);
  ev.args[1] = 0x2000;
  ev.args[3] = 4096 | 16384;
  trace_decode(NULL, &ev, &args);
  a = find_arg(&args, "source");
  assert_int_equal(a->type, TRACE_ARG_SYM);
  assert_string_equal(a->str, "NULL");

  ev = make_event(SYS_sethostname, HUSK_K_HOSTNAME);
  ev.args[0] = 0x1000;
  snprintf(ev.s0, sizeof(ev.s0), "box1");
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "name")->str, "box1");

  ev = make_event(SYS_write, HUSK_K_WRITE);
  static const char comp[] = "memory.limit_in_bytes\0ctr\0memory\0cgroup\0fs\0sys";
  memcpy(ev.s0, comp, sizeof(comp));
  ev.s0_len = sizeof(comp);
  ev.flags = HUSK_EVF_S0_REVPATH;
  snprintf(ev.s1, sizeof(ev.s1), "1048576\n");
  ev.extra[0] = 8;
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "file")->str,
                      "/sys/fs/cgroup/memory/ctr/memory.limit_in_bytes");
  assert_string_equal(find_arg(&args, "value")->str, "1048576\\n");
  assert_string_equal(find_arg(&args, "fs")->str, "cgroup");

  ev = make_event(SYS_execve, HUSK_K_EXECVE);
  ev.args[0] = 0x1000;
  snprintf(ev.s0, sizeof(ev.s0), "/bin/sh");
  snprintf(ev.s1, sizeof(ev.s1), "sh");
  snprintf(ev.s2, sizeof(ev.s2), "-c");
  snprintf(ev.s3, sizeof(ev.s3), "echo hi");
  ev.extra[0] = 3;
  ev.extra[1] = 1;
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "filename")->str, "/bin/sh");
  assert_string_equal(find_arg(&args, "argv")->str, "sh -c 'echo hi' ...");

  /* after a successful execve: the whole argv block of the new program */
  static const char block[] = "runc\0--root\0/run/x y\0run\0";
  memcpy(ev.argblock, block, sizeof(block));
  ev.extra[0] = sizeof(block) - 1;
  ev.extra[1] = 4;
  ev.flags = HUSK_EVF_ARGBLOCK;
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "argv")->str, "runc --root '/run/x y' run");
  ev.extra[1] = 5; /* one more than the block holds: truncated */
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "argv")->str, "runc --root '/run/x y' run ...");

  ev = make_event(SYS_prctl, HUSK_K_PRCTL);
  ev.args[0] = 15;
  ev.args[1] = 0x1000;
  snprintf(ev.s0, sizeof(ev.s0), "runc:[2:INIT]");
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "option")->str, "PR_SET_NAME");
  assert_string_equal(find_arg(&args, "name")->str, "runc:[2:INIT]");

  ev = make_event(SYS_setns, HUSK_K_SETNS);
  ev.args[0] = 5;
  ev.args[1] = F_NEWNET;
  snprintf(ev.s0, sizeof(ev.s0), "net:[4026532208]");
  ev.s0_len = 17;
  ev.flags = HUSK_EVF_S0_REVPATH | HUSK_EVF_PSEUDO;
  trace_decode(NULL, &ev, &args);
  assert_int_equal(find_arg(&args, "fd")->num, 5);
  assert_string_equal(find_arg(&args, "ns")->str, "net:[4026532208]");
  assert_string_equal(find_arg(&args, "nstype")->str, "CLONE_NEWNET");

  ev = make_event(SYS_fsconfig, HUSK_K_FSCONFIG);
  ev.args[0] = 19;
  ev.args[1] = 1;
  ev.args[2] = ev.args[3] = 0x1000;
  snprintf(ev.s1, sizeof(ev.s1), "mode");
  snprintf(ev.s2, sizeof(ev.s2), "755");
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "cmd")->str, "FSCONFIG_SET_STRING");
  assert_string_equal(find_arg(&args, "value")->str, "755");

  ev = make_event(SYS_move_mount, HUSK_K_MOVE_MOUNT);
  ev.args[0] = 20;
  ev.args[1] = ev.args[3] = 0x1000;
  ev.args[2] = 18;
  ev.args[4] = 0x44;
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "flags")->str,
                      "MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH");
  assert_int_equal(find_arg(&args, "to_dfd")->num, 18);

  ev = make_event(SYS_capset, HUSK_K_CAPSET);
  ev.extra[0] = 0xa80425fb;
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "effective")->str, "0xa80425fb (14 caps)");

  struct trace_fmt fmt = {0};
  fmt.cg_names[5] = "memory";
  ev = make_event(SYS_mkdir, HUSK_K_MKDIR);
  ev.args[0] = 0x1000;
  snprintf(ev.s0, sizeof(ev.s0), "/sys/fs/cgroup/memory/ctr");
  snprintf(ev.s1, sizeof(ev.s1), "/ctr");
  ev.extra[0] = 5;
  trace_decode(&fmt, &ev, &args);
  assert_string_equal(find_arg(&args, "cgroup")->str, "memory:/ctr");

  ev = make_event(0, 0);
  ev.type = HUSK_EV_EXIT;
  ev.ret = 9; /* killed by SIGKILL */
  assert_string_equal(trace_event_name(&ev), "exit");
  trace_decode(NULL, &ev, &args);
  assert_string_equal(find_arg(&args, "signal")->str, "SIGKILL");
  ev.ret = 3 << 8;
  trace_decode(NULL, &ev, &args);
  assert_int_equal(find_arg(&args, "status")->num, 3);
}

static void events_sort_by_entry_time(void **state)
{
  struct husk_event evs[3];
  (void)state;
  evs[0] = make_event(SYS_execve, HUSK_K_EXECVE);
  evs[1] = make_event(SYS_unshare, HUSK_K_UNSHARE);
  evs[2] = make_event(SYS_mount, HUSK_K_MOUNT);
  evs[0].ts_ns = 300;
  evs[1].ts_ns = 100;
  evs[2].ts_ns = 200;
  const struct husk_event *p[3] = {&evs[0], &evs[1], &evs[2]};
  trace_events_sort(p, 3);
  assert_int_equal(p[0]->nr, SYS_unshare);
  assert_int_equal(p[1]->nr, SYS_mount);
  assert_int_equal(p[2]->nr, SYS_execve);
}

static char *capture(void (*fn)(FILE *, void *), void *arg)
{
  static char *text; /* static: the stream keeps pointers to these until fclose */
  static size_t len;
  text = NULL;
  len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  fn(f, arg);
  fclose(f);
  return text;
}

static void print_unshare(FILE *f, void *arg)
{
  struct trace_fmt *fmt = arg;
  struct husk_event ev = make_event(SYS_unshare, HUSK_K_UNSHARE);
  ev.args[0] = F_NEWNS | F_NEWPID;
  ev.ret = -1;
  trace_print_header(f);
  trace_print_event(f, fmt, &ev);
}

static void timeline_line_has_every_column(void **state)
{
  struct trace_fmt fmt = {.t0_ns = 1000000};
  (void)state;
  char *text = capture(print_unshare, &fmt);
  assert_non_null(strstr(text, "TIME(ms)"));
  assert_non_null(strstr(text, "NSPID"));
  assert_non_null(strstr(text, "LAT(us)"));
  /* time 2.5 ms after t0, pid, nspid, comm, event, latency, errno, flags */
  char *line = strchr(text, '\n') + 1;
  assert_non_null(strstr(line, "2.500"));
  assert_non_null(strstr(line, "4242"));
  assert_non_null(strstr(line, " 1 "));
  assert_non_null(strstr(line, "husk:init"));
  assert_non_null(strstr(line, "unshare"));
  assert_non_null(strstr(line, "734.21"));
  assert_non_null(strstr(line, "-EPERM"));
  assert_non_null(strstr(line, "flags=CLONE_NEWNS|CLONE_NEWPID"));
  free(text);
}

static void print_hist_cb(FILE *f, void *arg)
{
  struct trace_stat *st = arg;
  trace_print_hist(f, st, 2, 1);
}

static void hist_text_shows_top_n_with_bars(void **state)
{
  struct trace_stat st[2] = {{.nr = SYS_unshare, .h = {.count = 3, .total_ns = 2100000}},
                             {.nr = SYS_getpid, .h = {.count = 9, .total_ns = 900}}};
  (void)state;
  st[0].h.slots[19] = 2; /* 512us..1ms */
  st[0].h.slots[20] = 1;
  st[0].h.max_ns = 1100000;
  st[1].h.slots[6] = 9;
  char *text = capture(print_hist_cb, st);
  assert_non_null(strstr(text, "top 1 of 2"));
  assert_non_null(strstr(text, "unshare"));
  assert_null(strstr(text, "getpid")); /* --top 1 */
  assert_non_null(strstr(text, "524us -> 1.0ms"));
  assert_non_null(strstr(text, "|****************************************|")); /* the peak */
  assert_non_null(strstr(text, "|********************                    |")); /* half */
  free(text);
}

static void json_document_round_trips(void **state)
{
  struct trace_fmt fmt = {.t0_ns = 1000000};
  char *cmd[] = {"unshare", "-fpimun", "true", NULL};
  struct trace_run run = {.command = cmd, .pid = 4242, .exit_status = 0, .duration_ns = 5000000};
  struct husk_event evs[2];
  struct trace_stat st[1] = {{.nr = SYS_unshare, .h = {.count = 1, .total_ns = 734210}}};
  (void)state;

  evs[0] = make_event(SYS_unshare, HUSK_K_UNSHARE);
  evs[0].args[0] = F_NEWNS | F_NEWPID;
  evs[1] = make_event(SYS_sethostname, HUSK_K_HOSTNAME);
  evs[1].args[0] = 0x1000;
  snprintf(evs[1].s0, sizeof(evs[1].s0), "we\"ird\x01");
  evs[1].ret = -13;
  st[0].h.slots[19] = 1;

  const struct husk_event *p[2] = {&evs[0], &evs[1]};
  json_object *doc = trace_doc_json(&fmt, &run, p, 2, st, 1);
  const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
  json_object *back = json_tokener_parse(text);
  assert_non_null(back);
  json_object *v, *events, *e0, *e1, *args, *sys, *s0, *hist;

  assert_true(json_object_object_get_ex(back, "version", &v));
  assert_int_equal(json_object_get_int(v), 1);
  assert_true(json_object_object_get_ex(back, "command", &v));
  assert_int_equal(json_object_array_length(v), 3);
  assert_true(json_object_object_get_ex(back, "exit_status", &v));
  assert_int_equal(json_object_get_int(v), 0);
  assert_true(json_object_object_get_ex(back, "events", &events));
  assert_int_equal(json_object_array_length(events), 2);
  e0 = json_object_array_get_idx(events, 0);
  assert_true(json_object_object_get_ex(e0, "event", &v));
  assert_string_equal(json_object_get_string(v), "unshare");
  assert_true(json_object_object_get_ex(e0, "time_ns", &v));
  assert_int_equal(json_object_get_int64(v), 2500000);
  assert_true(json_object_object_get_ex(e0, "duration_ns", &v));
  assert_int_equal(json_object_get_int64(v), 734210);
  assert_true(json_object_object_get_ex(e0, "nspid", &v));
  assert_int_equal(json_object_get_int(v), 1);
  assert_true(json_object_object_get_ex(e0, "comm", &v));
  assert_string_equal(json_object_get_string(v), "husk:init");
  assert_true(json_object_object_get_ex(e0, "args", &args));
  assert_true(json_object_object_get_ex(args, "flags", &v));
  assert_string_equal(json_object_get_string(v), "CLONE_NEWNS|CLONE_NEWPID");
  assert_false(json_object_object_get_ex(e0, "error", &v));

  e1 = json_object_array_get_idx(events, 1);
  assert_true(json_object_object_get_ex(e1, "error", &v));
  assert_string_equal(json_object_get_string(v), "EACCES");
  assert_true(json_object_object_get_ex(e1, "args", &args));
  assert_true(json_object_object_get_ex(args, "name", &v));
  assert_string_equal(json_object_get_string(v), "we\\\"ird\\x01");

  assert_true(json_object_object_get_ex(back, "syscalls", &sys));
  assert_int_equal(json_object_array_length(sys), 1);
  s0 = json_object_array_get_idx(sys, 0);
  assert_true(json_object_object_get_ex(s0, "name", &v));
  assert_string_equal(json_object_get_string(v), "unshare");
  assert_true(json_object_object_get_ex(s0, "total_ns", &v));
  assert_int_equal(json_object_get_int64(v), 734210);
  assert_true(json_object_object_get_ex(s0, "hist", &hist));
  assert_int_equal(json_object_array_length(hist), 1);
  assert_true(json_object_object_get_ex(json_object_array_get_idx(hist, 0), "lo_ns", &v));
  assert_int_equal(json_object_get_int64(v), 1 << 19);

  json_object_put(back);
  json_object_put(doc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(clone_flags_decode_namespaces_and_signal),
      cmocka_unit_test(unshare_flags_decode_newtime_and_unknown_bits),
      cmocka_unit_test(setns_type_decodes_one_namespace),
      cmocka_unit_test(mount_flags_decode),
      cmocka_unit_test(option_and_error_names),
      cmocka_unit_test(kinds_cover_the_setup_syscalls),
      cmocka_unit_test(hist_slot_is_floor_log2_capped),
      cmocka_unit_test(hist_ranges_and_sums),
      cmocka_unit_test(durations_format_with_units),
      cmocka_unit_test(paths_and_strings_are_rebuilt_and_escaped),
      cmocka_unit_test(cgroup_hierarchies_are_named_from_proc_cgroups),
      cmocka_unit_test(events_decode_to_named_args),
      cmocka_unit_test(events_sort_by_entry_time),
      cmocka_unit_test(timeline_line_has_every_column),
      cmocka_unit_test(hist_text_shows_top_n_with_bars),
      cmocka_unit_test(json_document_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
