/* husk-trace, user-space side without BPF: decode events (namespace, mount,
 * clone, prctl... flags), bucket and sort syscall statistics, and print them as
 * a timeline, histograms or one JSON document.  Unit tested in
 * ebpf/tests/test_trace.c. */
#ifndef HUSK_TRACE_FORMAT_H
#define HUSK_TRACE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "husk-trace.h"

#define TRACE_MAX_ARGS 8
#define TRACE_ARG_LEN  2600 /* an escaped s0 (4 bytes per input byte) plus joins */
#define TRACE_MAX_CG   64   /* cgroup hierarchy ids we name */

/* What the formatter needs to know beyond the events. */
struct trace_fmt {
  uint64_t t0_ns;                     /* timeline zero, CLOCK_MONOTONIC */
  const char *cg_names[TRACE_MAX_CG]; /* cgroup hierarchy id -> "memory", "cpu,cpuacct" */
};

enum trace_arg_type {
  TRACE_ARG_STR, /* from the tracee's memory: quoted and escaped in the timeline */
  TRACE_ARG_SYM, /* decoded flags or a symbol: printed as is */
  TRACE_ARG_NUM, /* an integer */
};

struct trace_arg {
  const char *key;
  enum trace_arg_type type;
  int64_t num;
  char str[TRACE_ARG_LEN];
};

struct trace_args {
  size_t n;
  struct trace_arg a[TRACE_MAX_ARGS];
};

struct trace_stat {
  uint32_t nr;
  struct husk_hist h;
};

/* Everything about the run that goes into the JSON document. */
struct trace_run {
  char *const *command; /* NULL with --pid */
  int pid;              /* the traced command's or --pid's host pid */
  int exit_status;      /* -1: unknown (--pid, or interrupted) */
  uint64_t duration_ns;
  uint64_t dropped_events;
  uint64_t dropped_processes;
};

/* ---- flag decoding: "A|B|0x40", "0" when nothing is set; returns buf ---- */
/* clone/unshare/clone3 flags.  with_signal: the low byte is clone()'s exit
 * signal (clone); otherwise 0x80 is CLONE_NEWTIME (unshare, clone3). */
const char *trace_clone_flags(uint64_t flags, bool with_signal, char *buf, size_t len);
/* setns nstype: one CLONE_NEW* flag, or "0" (any type). */
const char *trace_setns_type(uint64_t nstype, char *buf, size_t len);
const char *trace_mount_flags(uint64_t flags, char *buf, size_t len);
const char *trace_umount_flags(uint64_t flags, char *buf, size_t len);
const char *trace_seccomp_flags(uint64_t flags, char *buf, size_t len);
/* Names or NULL. */
const char *trace_prctl_option(uint64_t option);
const char *trace_seccomp_op(uint64_t op);
/* "EPERM"; "E123" for unknown numbers. */
const char *trace_errno_name(int err, char *buf, size_t len);
/* "unshare"; "syscall_459" when unknown.  Cached, never NULL. */
const char *trace_syscall_name(uint32_t nr);
/* Escape a byte string for display: printable ASCII as is, \n \t \" \\, others \xNN. */
void trace_escape(const char *in, size_t inlen, char *out, size_t outlen);
/* Rebuild "/a/b/c" from the BPF side's leaf-first NUL-separated components. */
void trace_rev_path(const char *comp, size_t len, bool pseudo, char *out, size_t outlen);

/* ---- what the BPF side decodes, per syscall number ---- */
void trace_fill_kinds(uint8_t kinds[HUSK_MAX_NR]);
/* prctl options that make events (bit per option). */
uint64_t trace_prctl_event_mask(void);
/* Parse /proc/cgroups text into fmt->cg_names (strings are malloc'ed). */
void trace_fmt_set_cgroups(struct trace_fmt *fmt, const char *proc_cgroups);
void trace_fmt_free(struct trace_fmt *fmt);

/* ---- events ---- */
/* The event's name: the syscall's name, or "exit". */
const char *trace_event_name(const struct husk_event *ev);
void trace_decode(const struct trace_fmt *fmt, const struct husk_event *ev, struct trace_args *out);
/* Sort pointers to events by entry time (then thread id). */
void trace_events_sort(const struct husk_event **evs, size_t n);

/* ---- histograms ---- */
void trace_hist_add(struct husk_hist *sum, const struct husk_hist *h);
/* Bounds of a log2 slot in ns (inclusive); hi is UINT64_MAX for the last slot. */
void trace_hist_range(uint32_t slot, uint64_t *lo, uint64_t *hi);
/* Sort by total time, then count, both descending, then by number. */
void trace_stats_sort(struct trace_stat *st, size_t n);
/* "512ns", "4.1us", "16us", "1.0ms", "2.50s" */
const char *trace_fmt_ns(uint64_t ns, char *buf, size_t len);

/* ---- output ---- */
void trace_print_header(FILE *out);
void trace_print_event(FILE *out, const struct trace_fmt *fmt, const struct husk_event *ev);
/* Summary table of the top n syscalls by total time, then a histogram for each. */
void trace_print_hist(FILE *out, const struct trace_stat *st, size_t n, size_t top);

json_object *trace_event_json(const struct trace_fmt *fmt, const struct husk_event *ev);
json_object *trace_stats_json(const struct trace_stat *st, size_t n);
/* {"version":1, "command":..., "pid":..., "exit_status":..., "duration_ns":...,
 *  "events":[...], "syscalls":[...], "dropped_events":..., "dropped_processes":...} */
json_object *trace_doc_json(const struct trace_fmt *fmt, const struct trace_run *run,
                            const struct husk_event *const *evs, size_t nev,
                            const struct trace_stat *st, size_t nst);

#endif
