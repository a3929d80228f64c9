/* husk-trace: trace what a container start costs, syscall by syscall.
 *
 *   husk-trace [--json] [--hist] [--top N] [-o FILE] [--pid PID | -- COMMAND ...]
 *
 * Loader flow (libbpf-bootstrap): open the skeleton, set the read-only knobs
 * (which syscalls to decode), load, attach, start COMMAND stopped (it waits on
 * a pipe until its pid is in the tracked set) or add PID and its descendants,
 * poll the ring buffer until every tracked process has exited, then print.
 *
 * This is a separate binary on purpose: husk itself never loads libbpf. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "error.h"
#include "husk-trace.h"
#include "husk-trace.skel.h"
#include "trace_format.h"
#include "util.h"

#define TEXT_REORDER_NS (500ULL * 1000 * 1000) /* hold timeline lines this long to sort them */
#define PRUNE_EVERY_NS  (1000ULL * 1000 * 1000)
#define POLL_MS         50 /* the BPF side wakes us only when its buffer fills up */
#define DEFAULT_PATH    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct options {
  bool json;
  bool hist;
  bool verbose;
  size_t top;
  pid_t pid;
  const char *output;
  char **command;
};

struct tracer {
  struct options opt;
  struct husk_trace_bpf *skel;
  struct ring_buffer *rb;
  int tracked_fd;
  FILE *out;
  struct trace_fmt fmt;
  const struct husk_event **evs; /* text: not yet printed; json: all */
  size_t nev, cap;
};

static volatile sig_atomic_t g_stop;
static bool g_verbose;

static void on_signal(int sig)
{
  g_stop = sig;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
  (void)level;
  if (!g_verbose)
    return 0; /* the loader reports one line; -v shows libbpf's details */
  return vfprintf(stderr, fmt, ap);
}

static uint64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
  fprintf(f, "Usage: husk-trace [OPTIONS] -- COMMAND [ARG...]\n"
             "       husk-trace [OPTIONS] --pid PID\n"
             "\n"
             "Trace COMMAND (or the running process PID) and every process it forks until\n"
             "they all exit: a timeline of namespace and container setup (clone/unshare\n"
             "flags, setns, mounts, pivot_root, sethostname, execve, capset, prctl, seccomp,\n"
             "cgroup writes) and per-syscall latency statistics.\n"
             "\n"
             "Options:\n"
             "  -j, --json         print one JSON document (events and syscall statistics)\n"
             "  -H, --hist         after the timeline, per-syscall counts and log2 latency\n"
             "                     histograms of the top N syscalls by total time\n"
             "  -t, --top N        how many syscalls --hist shows (default 10)\n"
             "  -p, --pid PID      follow the running process PID and its descendants\n"
             "  -o, --output FILE  write the trace to FILE instead of stdout\n"
             "  -v, --verbose      show libbpf's messages\n"
             "  -h, --help         show this help\n"
             "  -V, --version      show the version\n"
             "\n"
             "Exit status: COMMAND's (128+N when killed by signal N), 0 with --pid,\n"
             "1 on errors, 2 on usage errors, 127 when COMMAND cannot be run.\n"
             "Needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF.\n");
}

static int parse_options(int argc, char **argv, struct options *o, husk_err *err)
{
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},
      {"hist", no_argument, NULL, 'H'},
      {"top", required_argument, NULL, 't'},
      {"pid", required_argument, NULL, 'p'},
      {"output", required_argument, NULL, 'o'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  int c;

  o->top = 10;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+jHt:p:o:vhV", longopts, NULL)) != -1) {
    uint64_t v;
    switch (c) {
    case 'j':
      o->json = true;
      break;
    case 'H':
      o->hist = true;
      break;
    case 't':
      if (husk_parse_u64(optarg, &v) < 0 || v == 0 || v > 100000)
        return husk_errorf_plain(err, EINVAL, "--top: not a positive number: %s", optarg);
      o->top = (size_t)v;
      break;
    case 'p':
      if (husk_parse_u64(optarg, &v) < 0 || v == 0 || v > 0x7fffffff)
        return husk_errorf_plain(err, EINVAL, "--pid: not a process id: %s", optarg);
      o->pid = (pid_t)v;
      break;
    case 'o':
      o->output = optarg;
      break;
    case 'v':
      o->verbose = true;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    case 'V':
      printf("husk-trace %s\n", HUSK_VERSION);
      exit(0);
    default:
      if (optopt)
        return husk_errorf_plain(err, EINVAL, "unknown option -%c (see --help)", optopt);
      return husk_errorf_plain(err, EINVAL, "unknown option %s (see --help)", argv[optind - 1]);
    }
  }
  if (optind < argc)
    o->command = &argv[optind];
  if (o->pid && o->command)
    return husk_errorf_plain(err, EINVAL, "give either --pid or a COMMAND, not both");
  if (!o->pid && !o->command)
    return husk_errorf_plain(err, EINVAL, "nothing to trace: give a COMMAND or --pid PID");
  return 0;
}

/* PATH lookup like execvp, done before loading anything so a typo is a clear error. */
static int resolve_command(const char *name, char **out, husk_err *err)
{
  struct stat st;

  if (name[0] == '\0')
    return husk_errorf_plain(err, ENOENT, "command not found: ''");
  if (strchr(name, '/')) {
    if (stat(name, &st) < 0)
      return husk_errorf(err, errno, "cannot run %s", name);
    if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0)
      return husk_errorf(err, EACCES, "cannot run %s", name);
    *out = husk_xstrdup(name);
    return 0;
  }
  const char *path = getenv("PATH");
  if (!path || !*path)
    path = DEFAULT_PATH;
  _cleanup_free_ char *copy = husk_xstrdup(path);
  char *save = NULL;
  for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    _cleanup_free_ char *cand = husk_xasprintf("%s/%s", *dir ? dir : ".", name);
    if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
      *out = husk_steal_ptr(cand);
      return 0;
    }
  }
  return husk_errorf_plain(err, ENOENT, "command not found: %s", name);
}

static int on_event(void *ctx, void *data, size_t len)
{
  struct tracer *t = ctx;

  if (len < sizeof(struct husk_event))
    return 0;
  if (t->nev == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 256;
    t->evs = husk_xrealloc(t->evs, t->cap * sizeof(*t->evs));
  }
  struct husk_event *ev = husk_xmalloc(sizeof(*ev));
  memcpy(ev, data, sizeof(*ev));
  t->evs[t->nev++] = ev;
  return 0;
}

static int load_bpf(struct tracer *t, husk_err *err)
{
  int r;

  libbpf_set_print(libbpf_print);
  t->skel = husk_trace_bpf__open();
  if (!t->skel)
    return husk_errorf(err, errno, "open BPF object");
  trace_fill_kinds((uint8_t *)t->skel->rodata->sys_kind);
  t->skel->rodata->prctl_mask = trace_prctl_event_mask();

  r = husk_trace_bpf__load(t->skel);
  if (r == -EPERM || r == -EACCES)
    return husk_errorf_plain(err, -r,
                             "cannot load BPF programs: %s (run as root, or with CAP_BPF and "
                             "CAP_PERFMON; -v shows libbpf's log)",
                             strerror(-r));
  if (r < 0)
    return husk_errorf_plain(err, -r,
                             "cannot load BPF programs: %s (needs a kernel with BTF, tp_btf, "
                             "task storage and bpf_loop: 5.17 or newer; -v shows libbpf's log)",
                             strerror(-r));
  r = husk_trace_bpf__attach(t->skel);
  if (r < 0)
    return husk_errorf_plain(err, -r, "cannot attach BPF programs: %s (-v shows libbpf's log)",
                             strerror(-r));
  t->tracked_fd = bpf_map__fd(t->skel->maps.tracked);
  t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event, t, NULL);
  if (!t->rb)
    return husk_errorf(err, errno, "create ring buffer");
  return 0;
}

static int track(struct tracer *t, pid_t pid, husk_err *err)
{
  __u32 key = (__u32)pid;
  __u8 one = 1;

  if (bpf_map_update_elem(t->tracked_fd, &key, &one, BPF_ANY) < 0)
    return husk_errorf(err, errno, "track pid %d", pid);
  return 0;
}

static bool tracked_empty(struct tracer *t)
{
  __u32 key;
  return bpf_map_get_next_key(t->tracked_fd, NULL, &key) < 0 && errno == ENOENT;
}

/* Process state from /proc/PID/stat, 0 when the process is gone. */
static char proc_state(pid_t pid, pid_t *ppid)
{
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = husk_read_all(fd, buf, sizeof(buf));
  if (n <= 0)
    return 0;
  char *p = strrchr(buf, ')');
  char state;
  int pp;
  if (!p || sscanf(p + 1, " %c %d", &state, &pp) != 2)
    return 0;
  if (ppid)
    *ppid = pp;
  return state;
}

/* Drop tracked pids that are gone without an exit event: --pid's scan can add a
 * process that exits before it is in the map. */
static void prune_tracked(struct tracer *t)
{
  __u32 key, next, *prev = NULL;
  __u32 dead[256];
  size_t ndead = 0;

  while (bpf_map_get_next_key(t->tracked_fd, prev, &next) == 0 && ndead < 256) {
    char st = proc_state((pid_t)next, NULL);
    if (st == 0 || st == 'Z' || st == 'X')
      dead[ndead++] = next;
    key = next;
    prev = &key;
  }
  for (size_t i = 0; i < ndead; i++)
    bpf_map_delete_elem(t->tracked_fd, &dead[i]);
}

/* The thread group of a thread id (itself for a process), 0 when gone. */
static pid_t tgid_of(pid_t pid)
{
  char path[64], buf[4096];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || husk_read_all(fd, buf, sizeof(buf)) <= 0)
    return 0;
  const char *p = strstr(buf, "\nTgid:");
  return p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
}

/* --pid: the process and everything below it right now; later forks are
 * followed by the BPF side. */
static int track_tree(struct tracer *t, pid_t root, husk_err *err)
{
  pid_t tgid = tgid_of(root);
  if (tgid <= 0)
    return husk_errorf_plain(err, ESRCH, "no such process: %d", root);
  root = tgid; /* a thread id follows its whole process */
  int r = track(t, root, err);
  if (r < 0)
    return r;

  DIR *d = opendir("/proc");
  if (!d)
    return husk_errorf(err, errno, "open /proc");
  pid_t(*pairs)[2] = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    uint64_t v;
    pid_t ppid = 0;
    if (husk_parse_u64(de->d_name, &v) < 0 || v > 0x7fffffff)
      continue;
    if (!proc_state((pid_t)v, &ppid))
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 512;
      pairs = husk_xrealloc(pairs, cap * sizeof(*pairs));
    }
    pairs[n][0] = (pid_t)v;
    pairs[n][1] = ppid;
    n++;
  }
  closedir(d);

  /* breadth first from root: pairs[i][1] == -1 marks "already tracked" */
  pid_t *queue = husk_xcalloc(n + 1, sizeof(*queue));
  size_t qh = 0, qt = 0;
  queue[qt++] = root;
  while (qh < qt) {
    pid_t p = queue[qh++];
    for (size_t i = 0; i < n; i++) {
      if (pairs[i][1] != p || pairs[i][0] == root)
        continue;
      pairs[i][1] = -1;
      if (track(t, pairs[i][0], NULL) == 0 && qt < n + 1)
        queue[qt++] = pairs[i][0];
    }
  }
  free(queue);
  free(pairs);
  return 0;
}

/* Fork COMMAND stopped on a pipe, track it, release it.  *pid_out is set as
 * soon as the child exists, so the caller can reap it on any error. */
static int start_command(struct tracer *t, const char *path, char *const *argv, pid_t *pid_out,
                         uint64_t *t0, husk_err *err)
{
  int go[2], fail[2];

  if (pipe2(go, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  if (pipe2(fail, O_CLOEXEC) < 0) {
    int e = errno;
    close(go[0]);
    close(go[1]);
    return husk_errorf(err, e, "pipe");
  }
  _cleanup_close_ int go_r = go[0], go_w = go[1], fail_r = fail[0], fail_w = fail[1];

  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return husk_errorf(err, errno, "fork");
  if (pid == 0) {
    char c;
    ssize_t n;
    do
      n = read(go_r, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
      _exit(126); /* the tracer went away before releasing us */
    execv(path, argv);
    int e = errno;
    (void)!write(fail_w, &e, sizeof(e));
    _exit(127);
  }
  *pid_out = pid;
  close(husk_steal_fd(go_r));
  close(husk_steal_fd(fail_w));

  int r = track(t, pid, err);
  if (r < 0)
    return r; /* closing go_w makes the child exit 126 */
  *t0 = mono_ns();
  if (husk_write_all(go_w, "x", 1) < 0)
    return husk_errorf(err, errno, "release %s", argv[0]);
  close(husk_steal_fd(go_w));

  int e = 0;
  ssize_t n;
  do
    n = read(fail_r, &e, sizeof(e));
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof(e))
    return husk_errorf(err, e, "cannot run %s", argv[0]);
  return 0;
}

/* Print the timeline lines older than cutoff (sorted), keep the rest. */
static void flush_text(struct tracer *t, uint64_t cutoff)
{
  size_t i = 0;

  trace_events_sort(t->evs, t->nev);
  for (; i < t->nev && t->evs[i]->ts_ns <= cutoff; i++) {
    trace_print_event(t->out, &t->fmt, t->evs[i]);
    free((void *)t->evs[i]);
  }
  memmove(t->evs, t->evs + i, (t->nev - i) * sizeof(*t->evs));
  t->nev -= i;
  fflush(t->out);
}

static size_t read_stats(struct tracer *t, struct trace_stat **out)
{
  int ncpu = libbpf_num_possible_cpus();
  int fd = bpf_map__fd(t->skel->maps.hists);
  struct trace_stat *st = NULL;
  size_t n = 0;

  if (ncpu <= 0)
    ncpu = 1;
  _cleanup_free_ struct husk_hist *vals = husk_xcalloc((size_t)ncpu, sizeof(*vals));
  for (__u32 nr = 0; nr < HUSK_MAX_NR; nr++) {
    struct husk_hist sum = {0};
    if (bpf_map_lookup_elem(fd, &nr, vals) < 0)
      continue;
    for (int c = 0; c < ncpu; c++)
      trace_hist_add(&sum, &vals[c]);
    if (sum.count == 0)
      continue;
    st = husk_xrealloc(st, (n + 1) * sizeof(*st));
    st[n].nr = nr;
    st[n].h = sum;
    n++;
  }
  trace_stats_sort(st, n);
  *out = st;
  return n;
}

static void load_cgroup_names(struct trace_fmt *fmt)
{
  _cleanup_free_ char *text = NULL;
  if (husk_read_file_at(AT_FDCWD, "/proc/cgroups", &text, NULL, NULL) == 0)
    trace_fmt_set_cgroups(fmt, text);
}

static void tracer_free(struct tracer *t)
{
  ring_buffer__free(t->rb);
  husk_trace_bpf__destroy(t->skel);
  trace_fmt_free(&t->fmt);
  for (size_t i = 0; i < t->nev; i++)
    free((void *)t->evs[i]);
  free(t->evs);
  if (t->out && t->out != stdout)
    fclose(t->out);
}

static int fail(struct tracer *t, const husk_err *err, int code)
{
  fprintf(stderr, "husk-trace: %s\n", err->msg);
  tracer_free(t);
  return code;
}

int main(int argc, char **argv)
{
  struct tracer t = {.tracked_fd = -1};
  husk_err err = {0};
  _cleanup_free_ char *path = NULL;
  pid_t child = 0;
  int status = 0, exit_code = 0;
  bool reaped = false;
  uint64_t t0 = 0;

  if (parse_options(argc, argv, &t.opt, &err) < 0) {
    fprintf(stderr, "husk-trace: %s\n", err.msg);
    return 2;
  }
  g_verbose = t.opt.verbose;

  if (t.opt.pid && kill(t.opt.pid, 0) < 0 && errno == ESRCH) {
    fprintf(stderr, "husk-trace: no such process: %d\n", t.opt.pid);
    return 1;
  }
  if (t.opt.command && resolve_command(t.opt.command[0], &path, &err) < 0) {
    fprintf(stderr, "husk-trace: %s\n", err.msg);
    return 127;
  }
  t.out = stdout;
  if (t.opt.output) {
    t.out = fopen(t.opt.output, "we");
    if (!t.out) {
      husk_errorf(&err, errno, "open %s", t.opt.output);
      return fail(&t, &err, 1);
    }
  }
  load_cgroup_names(&t.fmt);
  if (load_bpf(&t, &err) < 0)
    return fail(&t, &err, 1);

  if (!t.opt.json)
    trace_print_header(t.out);
  fflush(t.out);

  if (t.opt.command) {
    if (start_command(&t, path, t.opt.command, &child, &t0, &err) < 0) {
      if (child > 0)
        waitpid(child, NULL, 0);
      return fail(&t, &err, 127);
    }
  } else {
    if (track_tree(&t, t.opt.pid, &err) < 0)
      return fail(&t, &err, 1);
    t0 = mono_ns();
    if (proc_state(t.opt.pid, NULL) == 0) {
      husk_errorf_plain(&err, ESRCH, "no such process: %d", t.opt.pid);
      return fail(&t, &err, 1);
    }
    fprintf(stderr, "husk-trace: tracing pid %d and its descendants (Ctrl-C to stop)\n", t.opt.pid);
  }
  t.fmt.t0_ns = t0;

  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  uint64_t last_prune = mono_ns();
  while (!g_stop) {
    int r = ring_buffer__poll(t.rb, POLL_MS);
    if (r < 0 && r != -EINTR) {
      husk_errorf(&err, -r, "poll ring buffer");
      return fail(&t, &err, 1);
    }
    if (child > 0 && !reaped && waitpid(child, &status, WNOHANG) == child)
      reaped = true;
    if (tracked_empty(&t))
      break;
    uint64_t now = mono_ns();
    if (now - last_prune > PRUNE_EVERY_NS) {
      prune_tracked(&t);
      last_prune = now;
    }
    if (!t.opt.json)
      flush_text(&t, now - TEXT_REORDER_NS);
  }
  ring_buffer__consume(t.rb);
  uint64_t end = mono_ns();

  if (child > 0 && !reaped) {
    pid_t w;
    do
      w = waitpid(child, &status, g_stop ? WNOHANG : 0);
    while (w < 0 && errno == EINTR);
    reaped = w == child;
  }
  if (child > 0) {
    if (!reaped)
      exit_code = 128 + (int)g_stop;
    else if (WIFEXITED(status))
      exit_code = WEXITSTATUS(status);
    else
      exit_code = 128 + WTERMSIG(status);
  }

  struct trace_stat *st = NULL;
  size_t nst = read_stats(&t, &st);
  struct trace_run run = {
      .command = t.opt.command,
      .pid = child > 0 ? child : t.opt.pid,
      .exit_status = child > 0 && reaped ? exit_code : -1,
      .duration_ns = end - t0,
      .dropped_events = t.skel->bss->dropped_events,
      .dropped_processes = t.skel->bss->dropped_processes,
  };

  if (t.opt.json) {
    trace_events_sort(t.evs, t.nev);
    json_object *doc = trace_doc_json(&t.fmt, &run, t.evs, t.nev, st, nst);
    fprintf(t.out, "%s\n",
            json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
  } else {
    flush_text(&t, UINT64_MAX);
    if (t.opt.hist)
      trace_print_hist(t.out, st, nst, t.opt.top);
  }
  free(st);
  if (fflush(t.out) != 0 || ferror(t.out)) {
    husk_errorf(&err, errno ? errno : EIO, "write %s", t.opt.output ? t.opt.output : "stdout");
    return fail(&t, &err, 1);
  }
  if (run.dropped_events || run.dropped_processes)
    fprintf(stderr, "husk-trace: warning: %llu events and %llu processes dropped (buffers full)\n",
            (unsigned long long)run.dropped_events, (unsigned long long)run.dropped_processes);
  tracer_free(&t);
  return exit_code;
}
