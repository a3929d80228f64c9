/* The OCI commands that work on a container's cgroup: update, pause, resume,
 * events and stats (runc's flags and output). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cli.h"
#include "state.h"
#include "util.h"

static const char *root_of(const husk_global *g)
{
  return g && g->root ? g->root : husk_default_state_root();
}

static int usage(husk_err *err, const char *cmd, const char *what)
{
  return husk_errorf_plain(err, EINVAL, "%s: %s (see `husk oci %s --help`)", cmd, what, cmd);
}

static void cg_freep(husk_cgroup **cg)
{
  husk_cgroup_free(*cg);
  *cg = NULL;
}
#define _cleanup_cgroup_ __attribute__((cleanup(cg_freep)))

/* The container's state and its cgroup. */
static int open_container(const husk_global *g, const char *id, husk_state **st, husk_cgroup **cg,
                          husk_err *err)
{
  int r = husk_validate_id(id, err);
  if (r < 0)
    return r;
  if ((r = husk_state_load(root_of(g), id, st, err)) < 0)
    return r;
  if ((*st)->cgroup_path == NULL)
    return husk_errorf_plain(err, ENOENT,
                             "container %s has no cgroup (created with --cgroup-manager "
                             "disabled, or rootless without cgroup access)",
                             id);
  if ((r = husk_cgroup_open((*st)->cgroup_path, cg, err)) < 0)
    return husk_error_wrap(err, "container %s", id);
  return 0;
}

/* Options, then exactly one ID. */
static int take_id(int argc, char **argv, const char *cmd, const char **id, husk_err *err)
{
  if (optind >= argc)
    return usage(err, cmd, "missing container id");
  *id = argv[optind++];
  if (optind < argc)
    return usage(err, cmd, "too many arguments");
  return 0;
}

/* ---- update ---- */

static const char update_help[] =
    "Usage: husk oci update [OPTIONS] ID\n"
    "Change the resource limits of a running container.\n\n"
    "  -r, --resources FILE        OCI linux.resources JSON from FILE (\"-\": stdin);\n"
    "                              the options below override it\n"
    "      --memory BYTES          memory limit (suffixes k, m, g, t; -1: unlimited)\n"
    "      --memory-reservation BYTES  soft limit\n"
    "      --memory-swap BYTES     memory+swap limit (-1: unlimited)\n"
    "      --kernel-memory-tcp BYTES   TCP buffer limit (cgroup v1)\n"
    "      --cpu-shares N          relative CPU weight (v2: converted to cpu.weight)\n"
    "      --cpu-quota US          CPU time per period in microseconds (-1: none)\n"
    "      --cpu-period US         CFS period in microseconds\n"
    "      --cpu-rt-period US      realtime period (cgroup v1)\n"
    "      --cpu-rt-runtime US     realtime runtime (cgroup v1)\n"
    "      --cpuset-cpus LIST      CPUs to run on (\"0-2,4\")\n"
    "      --cpuset-mems LIST      memory nodes\n"
    "      --pids-limit N          maximum number of processes (-1: unlimited)\n"
    "      --blkio-weight N        block I/O weight 10..1000\n";

/* "512m", "1g", "1024", "-1": bytes, binary multipliers like runc. */
static int parse_bytes(const char *s, int64_t *out)
{
  if (strcmp(s, "-1") == 0) {
    *out = -1;
    return 0;
  }
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)*s))
    return -EINVAL;
  double v = strtod(s, &end);
  if (errno || end == s)
    return -EINVAL;
  double mult = 1;
  switch (tolower((unsigned char)*end)) {
  case 'k':
    mult = 1024.0;
    end++;
    break;
  case 'm':
    mult = 1024.0 * 1024;
    end++;
    break;
  case 'g':
    mult = 1024.0 * 1024 * 1024;
    end++;
    break;
  case 't':
    mult = 1024.0 * 1024 * 1024 * 1024;
    end++;
    break;
  case 'p':
    mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
    end++;
    break;
  default:
    break;
  }
  if (mult > 1 && tolower((unsigned char)*end) == 'i')
    end++;
  if (tolower((unsigned char)*end) == 'b')
    end++;
  if (*end != '\0')
    return -EINVAL;
  double b = v * mult;
  if (b >= 9.2e18)
    return -ERANGE;
  *out = (int64_t)b;
  return 0;
}

static json_object *sub_object(json_object *o, const char *key)
{
  json_object *v = NULL;
  if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object))
    return v;
  v = json_object_new_object();
  json_object_object_add(o, key, v);
  return v;
}

enum {
  OPT_MEMORY = 256,
  OPT_MEMORY_RES,
  OPT_MEMORY_SWAP,
  OPT_KMEM,
  OPT_KMEM_TCP,
  OPT_CPU_SHARES,
  OPT_CPU_QUOTA,
  OPT_CPU_PERIOD,
  OPT_RT_PERIOD,
  OPT_RT_RUNTIME,
  OPT_CPUSET_CPUS,
  OPT_CPUSET_MEMS,
  OPT_PIDS,
  OPT_BLKIO,
  OPT_INTEL_RDT,
};

static int read_resources(const char *file, json_object **out, husk_err *err)
{
  _cleanup_free_ char *text = NULL;
  size_t len = 0;
  int r;
  if (strcmp(file, "-") == 0)
    r = husk_read_file_at(AT_FDCWD, "/dev/stdin", &text, &len, err);
  else
    r = husk_read_file_at(AT_FDCWD, file, &text, &len, err);
  if (r < 0)
    return husk_error_wrap(err, "update: --resources");
  enum json_tokener_error je = json_tokener_success;
  json_object *o = json_tokener_parse_verbose(text, &je);
  if (o == NULL)
    return husk_errorf_plain(err, EINVAL, "update: --resources %s: invalid JSON (%s)", file,
                             json_tokener_error_desc(je));
  if (!json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "update: --resources %s: expected a JSON object", file);
  }
  *out = o;
  return 0;
}

static void json_putp(json_object **o)
{
  if (*o)
    json_object_put(*o);
}

int husk_oci_cmd_update(const husk_global *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {
      {"resources", required_argument, NULL, 'r'},
      {"memory", required_argument, NULL, OPT_MEMORY},
      {"memory-reservation", required_argument, NULL, OPT_MEMORY_RES},
      {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
      {"kernel-memory", required_argument, NULL, OPT_KMEM},
      {"kernel-memory-tcp", required_argument, NULL, OPT_KMEM_TCP},
      {"cpu-share", required_argument, NULL, OPT_CPU_SHARES},
      {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
      {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
      {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
      {"cpu-rt-period", required_argument, NULL, OPT_RT_PERIOD},
      {"cpu-rt-runtime", required_argument, NULL, OPT_RT_RUNTIME},
      {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
      {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
      {"pids-limit", required_argument, NULL, OPT_PIDS},
      {"blkio-weight", required_argument, NULL, OPT_BLKIO},
      {"l3-cache-schema", required_argument, NULL, OPT_INTEL_RDT},
      {"mem-bw-schema", required_argument, NULL, OPT_INTEL_RDT},
      {"help", no_argument, NULL, 'h'},
      {0, 0, 0, 0}};
  struct {
    int opt;
    const char *arg;
  } given[32];
  size_t n_given = 0;
  const char *resources = NULL;
  int c;
  while ((c = getopt_long(argc, argv, "+r:h", opts, NULL)) != -1) {
    switch (c) {
    case 'r':
      resources = optarg;
      break;
    case 'h':
      fputs(update_help, stdout);
      return 0;
    case OPT_INTEL_RDT:
      return husk_errorf_plain(err, ENOTSUP, "update: Intel RDT is not supported by husk");
    case '?':
    case ':':
      return usage(err, "update", "invalid option or missing value");
    default:
      if (n_given == HUSK_ARRAY_SIZE(given))
        return usage(err, "update", "too many options");
      given[n_given].opt = c;
      given[n_given++].arg = optarg;
      break;
    }
  }
  const char *id = NULL;
  int r = take_id(argc, argv, "update", &id, err);
  if (r < 0)
    return r;
  if (resources == NULL && n_given == 0)
    return usage(err, "update", "nothing to update: give --resources or a limit option");

  __attribute__((cleanup(json_putp))) json_object *obj = NULL;
  if (resources && (r = read_resources(resources, &obj, err)) < 0)
    return r;
  if (obj == NULL)
    obj = json_object_new_object();
  for (size_t i = 0; i < n_given; i++) {
    const char *a = given[i].arg;
    int64_t v = 0;
    const char *name = NULL;
    for (const struct option *o = opts; o->name; o++)
      if (o->val == given[i].opt) {
        name = o->name;
        break;
      }
    switch (given[i].opt) {
    case OPT_MEMORY:
    case OPT_MEMORY_RES:
    case OPT_MEMORY_SWAP:
    case OPT_KMEM:
    case OPT_KMEM_TCP:
      if (parse_bytes(a, &v) < 0)
        return husk_errorf_plain(err, EINVAL, "update: invalid value for --%s: %s", name, a);
      break;
    case OPT_CPUSET_CPUS:
    case OPT_CPUSET_MEMS:
      break;
    default:
      if (husk_parse_i64(a, &v) < 0)
        return husk_errorf_plain(err, EINVAL, "update: invalid value for --%s: %s", name, a);
    }
    static const struct {
      int opt;
      const char *obj, *key;
    } map[] = {
        {OPT_MEMORY, "memory", "limit"},
        {OPT_MEMORY_RES, "memory", "reservation"},
        {OPT_MEMORY_SWAP, "memory", "swap"},
        {OPT_KMEM, "memory", "kernel"},
        {OPT_KMEM_TCP, "memory", "kernelTCP"},
        {OPT_CPU_SHARES, "cpu", "shares"},
        {OPT_CPU_QUOTA, "cpu", "quota"},
        {OPT_CPU_PERIOD, "cpu", "period"},
        {OPT_RT_PERIOD, "cpu", "realtimePeriod"},
        {OPT_RT_RUNTIME, "cpu", "realtimeRuntime"},
        {OPT_CPUSET_CPUS, "cpu", "cpus"},
        {OPT_CPUSET_MEMS, "cpu", "mems"},
        {OPT_PIDS, "pids", "limit"},
        {OPT_BLKIO, "blockIO", "weight"},
    };
    for (size_t k = 0; k < HUSK_ARRAY_SIZE(map); k++) {
      if (map[k].opt != given[i].opt)
        continue;
      json_object *sub = sub_object(obj, map[k].obj);
      json_object *val = (given[i].opt == OPT_CPUSET_CPUS || given[i].opt == OPT_CPUSET_MEMS)
                             ? json_object_new_string(a)
                             : json_object_new_int64(v);
      json_object_object_add(sub, map[k].key, val);
    }
  }

  husk_resources *res = NULL;
  if ((r = husk_resources_parse(obj, &res, err)) < 0)
    return husk_error_wrap(err, "update");
  _cleanup_state_ husk_state *st = NULL;
  _cleanup_cgroup_ husk_cgroup *cg = NULL;
  _cleanup_close_ int lock = -1;
  if ((r = husk_state_lock(root_of(g), id, &lock, err)) < 0 ||
      (r = open_container(g, id, &st, &cg, err)) < 0) {
    husk_resources_free(res);
    return r;
  }
  if (husk_state_status(root_of(g), st) == HUSK_STATUS_STOPPED) {
    husk_resources_free(res);
    return husk_errorf_plain(err, EINVAL, "update: container %s is stopped", id);
  }
  r = husk_cgroup_update(cg, res, err);
  husk_resources_free(res);
  if (r < 0)
    return husk_error_wrap(err, "update %s", id);
  return 0;
}

/* ---- pause / resume ---- */

static int pause_resume(const husk_global *g, int argc, char **argv, bool pause, husk_err *err)
{
  const char *cmd = pause ? "pause" : "resume";
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("Usage: husk oci %s ID\n%s\n", cmd,
             pause ? "Freeze every process of a running container (cgroup freezer)."
                   : "Thaw a paused container.");
      return 0;
    }
    return usage(err, cmd, "invalid option");
  }
  const char *id = NULL;
  int r = take_id(argc, argv, cmd, &id, err);
  if (r < 0)
    return r;
  _cleanup_close_ int lock = -1;
  if ((r = husk_validate_id(id, err)) < 0 || (r = husk_state_lock(root_of(g), id, &lock, err)) < 0)
    return r;
  _cleanup_state_ husk_state *st = NULL;
  _cleanup_cgroup_ husk_cgroup *cg = NULL;
  if ((r = open_container(g, id, &st, &cg, err)) < 0)
    return r;
  husk_status s = husk_state_status(root_of(g), st);
  if (pause && s != HUSK_STATUS_RUNNING)
    return husk_errorf_plain(err, EINVAL, "pause: container %s is %s, not running", id,
                             husk_status_name(s));
  if (!pause && s != HUSK_STATUS_PAUSED)
    return husk_errorf_plain(err, EINVAL, "resume: container %s is %s, not paused", id,
                             husk_status_name(s));
  if ((r = husk_cgroup_freeze(cg, pause, err)) < 0)
    return husk_error_wrap(err, "%s %s", cmd, id);
  return 0;
}

int husk_oci_cmd_pause(const husk_global *g, int argc, char **argv, husk_err *err)
{
  return pause_resume(g, argc, argv, true, err);
}

int husk_oci_cmd_resume(const husk_global *g, int argc, char **argv, husk_err *err)
{
  return pause_resume(g, argc, argv, false, err);
}

/* ---- events / stats ---- */

/* {"type":"stats","id":ID,"data":{...}} */
static int stats_event(husk_cgroup *cg, const char *id, json_object **out, husk_err *err)
{
  json_object *data = NULL;
  int r = husk_cgroup_stats(cg, &data, err);
  if (r < 0)
    return husk_error_wrap(err, "stats of %s", id);
  json_object *ev = json_object_new_object();
  json_object_object_add(ev, "type", json_object_new_string("stats"));
  json_object_object_add(ev, "id", json_object_new_string(id));
  json_object_object_add(ev, "data", data);
  *out = ev;
  return 0;
}

static void print_json(json_object *o, bool pretty)
{
  int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (pretty ? JSON_C_TO_STRING_PRETTY : 0);
  printf("%s\n", json_object_to_json_string_ext(o, flags));
  fflush(stdout);
}

/* Go-style duration: "5s", "500ms", "1m", "1.5s"; a bare number is seconds. */
/* One stats document on stdout (events --stats, stats). */
static int print_stats(husk_cgroup *cg, const char *id, bool pretty, husk_err *err)
{
  json_object *ev = NULL;
  int r = stats_event(cg, id, &ev, err);
  if (r < 0)
    return r;
  print_json(ev, pretty);
  json_object_put(ev);
  return 0;
}

/* The container named by the one operand of cmd, with its cgroup. */
static int open_arg(const husk_global *g, int argc, char **argv, const char *cmd, const char **id,
                    husk_state **st, husk_cgroup **cg, husk_err *err)
{
  int r = take_id(argc, argv, cmd, id, err);
  if (r < 0)
    return r;
  return open_container(g, *id, st, cg, err);
}

static int parse_duration(const char *s, double *secs)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0 || isnan(v))
    return -EINVAL;
  static const struct {
    const char *unit;
    double mult;
  } units[] = {{"", 1},      {"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6},
               {"ms", 1e-3}, {"s", 1},     {"m", 60},    {"h", 3600}};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(units); i++)
    if (strcmp(end, units[i].unit) == 0) {
      *secs = v * units[i].mult;
      return 0;
    }
  return -EINVAL;
}

static uint64_t oom_count(json_object *ev)
{
  json_object *data, *mem, *v;
  if (json_object_object_get_ex(ev, "data", &data) &&
      json_object_object_get_ex(data, "memory", &mem) &&
      json_object_object_get_ex(mem, "oomKill", &v))
    return json_object_get_uint64(v);
  return 0;
}

int husk_oci_cmd_events(const husk_global *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"stats", no_argument, NULL, 's'},
                                       {"interval", required_argument, NULL, 'i'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  bool once = false;
  double interval = 5;
  int c;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      once = true;
      break;
    case 'i':
      if (parse_duration(optarg, &interval) < 0 || interval <= 0)
        return husk_errorf_plain(err, EINVAL, "events: invalid --interval %s (e.g. 5s, 500ms)",
                                 optarg);
      break;
    case 'h':
      printf("Usage: husk oci events [--stats] [--interval 5s] ID\n"
             "Print resource usage as JSON: with --stats one document, otherwise one line\n"
             "every interval (and {\"type\":\"oom\"} when the OOM killer strikes) until the\n"
             "container stops.\n");
      return 0;
    default:
      return usage(err, "events", "invalid option or missing value");
    }
  }
  const char *id = NULL;
  _cleanup_state_ husk_state *st = NULL;
  _cleanup_cgroup_ husk_cgroup *cg = NULL;
  int r = open_arg(g, argc, argv, "events", &id, &st, &cg, err);
  if (r < 0)
    return r;
  if (once)
    return print_stats(cg, id, false, err);
  uint64_t ooms = UINT64_MAX;
  for (;;) {
    if (husk_state_status(root_of(g), st) == HUSK_STATUS_STOPPED)
      return 0;
    json_object *ev = NULL;
    if ((r = stats_event(cg, id, &ev, err)) < 0)
      return r;
    uint64_t now = oom_count(ev);
    if (ooms != UINT64_MAX && now > ooms) {
      json_object *oom = json_object_new_object();
      json_object_object_add(oom, "type", json_object_new_string("oom"));
      json_object_object_add(oom, "id", json_object_new_string(id));
      print_json(oom, false);
      json_object_put(oom);
    }
    ooms = now;
    print_json(ev, false);
    json_object_put(ev);
    struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

int husk_oci_cmd_stats(const husk_global *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("Usage: husk oci stats ID\n"
             "Print the container's cpu, memory, pids and block I/O usage as one JSON\n"
             "document (the same as `events --stats`).\n");
      return 0;
    }
    return usage(err, "stats", "invalid option");
  }
  const char *id = NULL;
  _cleanup_state_ husk_state *st = NULL;
  _cleanup_cgroup_ husk_cgroup *cg = NULL;
  int r = open_arg(g, argc, argv, "stats", &id, &st, &cg, err);
  if (r < 0)
    return r;
  return print_stats(cg, id, true, err);
}
