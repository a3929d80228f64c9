/* `husk run|ps|logs|exec|stop|kill|rm|inspect`: parse flags, call the
 * porcelain, print.  Errors come back in husk_err and are printed by the
 * dispatcher (cli_husk.c); commands over several containers print each
 * failure and go on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "container.h"
#include "image.h"
#include "ipam.h"
#include "porcelain.h"
#include "porcelain_gc.h"
#include "size.h"
#include "spec.h"
#include "state.h"
#include "userns.h"
#include "util.h"

/* ---- shared ---------------------------------------------------------------------- */

int husk_home_from_global(const husk_pglobal *g, husk_home *h, char **data_root_out, husk_err *err)
{
  const char *dr = husk_data_root(g->data_root);
  char *abs;
  if (dr[0] == '/') {
    abs = husk_xstrdup(dr);
  } else {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
      return husk_errorf(err, errno, "getcwd");
    abs = husk_xasprintf("%s/%s", cwd, dr);
  }
  size_t n = strlen(abs);
  while (n > 1 && abs[n - 1] == '/')
    abs[--n] = '\0';
  h->data_root = abs;
  h->state_root = g->state_root ? g->state_root : husk_default_state_root();
  *data_root_out = abs;
  return 0;
}

#define HOME_OR_RETURN(g, h, err)                                                                  \
  husk_home h;                                                                                     \
  _cleanup_free_ char *h##_data_root = NULL;                                                       \
  do {                                                                                             \
    int _r = husk_home_from_global(g, &h, &h##_data_root, err);                                    \
    if (_r < 0)                                                                                    \
      return _r;                                                                                   \
  } while (0)

static void print_error(const char *cmd, const husk_err *err)
{
  fprintf(stderr, "husk %s: %s\n", cmd, err->msg[0] ? err->msg : strerror(err->code));
}

static bool in_path(const char *prog)
{
  const char *path = getenv("PATH");
  _cleanup_free_ char *copy = husk_xstrdup(path && *path ? path : "/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    _cleanup_free_ char *p = husk_xasprintf("%s/%s", d, prog);
    if (access(p, X_OK) == 0)
      return true;
  }
  return false;
}

static void run_warn(void *arg, const char *msg)
{
  (void)arg;
  fprintf(stderr, "husk run: warning: %s\n", msg);
}

static int usage_error(husk_err *err, const char *cmd, const char *msg)
{
  return husk_errorf_plain(err, EINVAL, "%s (see husk %s --help)", msg, cmd);
}

static void jputp(struct json_object **o)
{
  if (o && *o) {
    json_object_put(*o);
    *o = NULL;
  }
}
#define _cleanup_json_ __attribute__((cleanup(jputp)))

static void storep(husk_store **s)
{
  if (s && *s) {
    husk_store_close(*s);
    *s = NULL;
  }
}

static void imagep(husk_image **i)
{
  if (i && *i) {
    husk_image_free(*i);
    *i = NULL;
  }
}

/* RFC 3339 -> seconds since the epoch (0 when empty or malformed). */
static time_t parse_time(const char *s)
{
  if (s == NULL || *s == '\0')
    return 0;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == NULL)
    return 0;
  return timegm(&tm);
}

/* docker's HumanDuration */
static void human_duration(time_t secs, char *buf, size_t len)
{
  if (secs < 1)
    snprintf(buf, len, "Less than a second");
  else if (secs == 1)
    snprintf(buf, len, "1 second");
  else if (secs < 60)
    snprintf(buf, len, "%ld seconds", (long)secs);
  else if (secs / 60 == 1)
    snprintf(buf, len, "About a minute");
  else if (secs < 46 * 60)
    snprintf(buf, len, "%ld minutes", (long)(secs / 60));
  else if (secs < 90 * 60)
    snprintf(buf, len, "About an hour");
  else if (secs < 48 * 3600)
    snprintf(buf, len, "%ld hours", (long)((secs + 1800) / 3600));
  else if (secs < 7 * 2 * 86400)
    snprintf(buf, len, "%ld days", (long)(secs / 86400));
  else if (secs < 30 * 3 * 86400)
    snprintf(buf, len, "%ld weeks", (long)(secs / (7 * 86400)));
  else if (secs < 365 * 2 * 86400)
    snprintf(buf, len, "%ld months", (long)(secs / (30 * 86400)));
  else
    snprintf(buf, len, "%ld years", (long)(secs / (365 * 86400)));
}

/* "Up 5 seconds", "Exited (0) 3 seconds ago", "Created" */
static void status_text(const husk_pctr *c, const husk_plive *l, char *buf, size_t len)
{
  time_t now = time(NULL);
  char d[64];
  switch (l->status) {
  case HUSK_P_CREATED:
    snprintf(buf, len, "Created");
    return;
  case HUSK_P_RUNNING:
  case HUSK_P_PAUSED: {
    time_t t = parse_time(husk_pctr_str(c, "State.StartedAt"));
    if (t == 0)
      t = parse_time(l->started);
    human_duration(t ? now - t : 0, d, sizeof(d));
    snprintf(buf, len, "Up %s%s", d, l->status == HUSK_P_PAUSED ? " (Paused)" : "");
    return;
  }
  case HUSK_P_EXITED: {
    time_t t = parse_time(husk_pctr_str(c, "State.FinishedAt"));
    if (t) {
      human_duration(now - t, d, sizeof(d));
      snprintf(buf, len, "Exited (%d) %s ago", l->exit_code, d);
    } else if (l->exit_known) {
      snprintf(buf, len, "Exited (%d)", l->exit_code);
    } else {
      snprintf(buf, len, "Exited (unknown)");
    }
    return;
  }
  case HUSK_P_REMOVING:
    snprintf(buf, len, "Removal In Progress");
    return;
  }
  snprintf(buf, len, "Unknown");
}

static char *command_text(const husk_pctr *c)
{
  size_t cap = 256, n = 0;
  char *out = husk_xcalloc(1, cap);
  const char *path = husk_pctr_str(c, "Path");
  struct json_object *args = husk_pctr_obj(c, "Args");
  size_t na =
      args && json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
  for (size_t i = 0; i <= na; i++) {
    const char *a = i == 0 ? (path ? path : "")
                           : json_object_get_string(json_object_array_get_idx(args, i - 1));
    size_t l = strlen(a) + 2;
    if (n + l + 1 > cap) {
      cap = (n + l + 1) * 2;
      out = husk_xrealloc(out, cap);
    }
    n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", a);
  }
  return out;
}

static void console_size(unsigned *rows, unsigned *cols)
{
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0) {
    *rows = ws.ws_row;
    *cols = ws.ws_col;
  }
}

static int stdin_devnull(husk_err *err)
{
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open /dev/null");
  if (fd != 0) {
    dup2(fd, 0);
    close(fd);
  }
  return 0;
}

/* ---- run ------------------------------------------------------------------------------ */

static const char run_help[] =
    "Usage: husk run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
    "\n"
    "Create and run a container from an image.\n"
    "\n"
    "Options:\n"
    "  -d, --detach             run in the background and print the container id\n"
    "      --rm                 remove the container when it exits\n"
    "  -i, --interactive        keep stdin open\n"
    "  -t, --tty                allocate a pseudo-terminal\n"
    "      --name NAME          name the container\n"
    "  -e, --env KEY[=VALUE]    set an environment variable (KEY alone: the host's value)\n"
    "      --env-file FILE      read KEY=VALUE lines from a file\n"
    "  -w, --workdir DIR        working directory inside the container\n"
    "  -u, --user UID[:GID]     user (numeric, or a name from the image's /etc/passwd)\n"
    "  -h, --hostname NAME      hostname (default: the first 12 characters of the id)\n"
    "  -m, --memory SIZE        memory limit (e.g. 64m, 1g)\n"
    "      --memory-swap SIZE   memory + swap limit (-1: unlimited)\n"
    "      --cpus N             number of CPUs (e.g. 0.5)\n"
    "      --cpuset-cpus LIST   CPUs to run on (e.g. 0-1, 0,2)\n"
    "      --pids-limit N       maximum number of processes (0 or -1: unlimited)\n"
    "  -v, --volume SRC:DST[:OPTS]  bind mount a host path (it must exist) or mount a\n"
    "                           named volume (created on first use and filled with the\n"
    "                           image's DST; OPTS: ro, rw, nocopy, rshared, rslave, ...)\n"
    "      --tmpfs DST[:OPTS]   mount a tmpfs\n"
    "      --read-only          mount the root filesystem read-only\n"
    "      --entrypoint CMD     override the image's entrypoint (\"\" clears it)\n"
    "      --network MODE       bridge (the default), none (only lo), host, slirp4netns (the\n"
    "                           rootless default), container:NAME, or a network made by\n"
    "                           `husk network create`\n"
    "  -p, --publish [IP:]HOSTPORT:PORT[/udp]  publish a port (bridge networks, slirp4netns)\n"
    "      --stop-signal SIG    signal for `husk stop` (default: the image's, else SIGTERM)\n"
    "      --cap-add CAP        add a capability (CHOWN or CAP_CHOWN, any case; ALL: every one)\n"
    "      --cap-drop CAP       drop a capability of the default set (ALL: every one)\n"
    "      --privileged         every capability, no seccomp filter, no masked or read-only\n"
    "                           /proc paths, writable /sys, every device allowed (the host's\n"
    "                           device nodes are not added to /dev)\n"
    "      --security-opt OPT   seccomp=FILE (an OCI linux.seccomp JSON profile),\n"
    "                           seccomp=unconfined, no-new-privileges[=true|false]\n"
    "      --help               this help\n"
    "\n"
    "Security defaults (like docker): the capabilities CHOWN DAC_OVERRIDE FSETID FOWNER\n"
    "MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL\n"
    "AUDIT_WRITE, docker's default seccomp profile (no new user namespaces, mounts,\n"
    "kexec, module loading, keyctl, ...), masked and read-only /proc paths.\n";

enum {
  OPT_RM = 1000,
  OPT_NAME,
  OPT_ENV_FILE,
  OPT_MEMORY_SWAP,
  OPT_CPUS,
  OPT_CPUSET,
  OPT_PIDS,
  OPT_TMPFS,
  OPT_READ_ONLY,
  OPT_ENTRYPOINT,
  OPT_NETWORK,
  OPT_STOP_SIGNAL,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_PRIVILEGED,
  OPT_SECURITY_OPT,
  OPT_HELP,
  OPT_FORMAT,
  OPT_NO_TRUNC,
  OPT_TAIL,
};

typedef struct run_args {
  husk_run_opts o;
  char **env_flags;
  char **env_files;
  husk_volspec *vols;
  size_t n_vols;
  husk_port_map *ports;
  size_t n_ports;
  char **cap_add, **cap_drop;
} run_args;

static void run_args_clear(run_args *a)
{
  husk_strv_free(a->o.env);
  husk_strv_free(a->env_flags);
  husk_strv_free(a->env_files);
  for (size_t i = 0; i < a->n_vols; i++)
    husk_volspec_clear(&a->vols[i]);
  free(a->vols);
  free(a->ports);
  husk_strv_free(a->cap_add);
  husk_strv_free(a->cap_drop);
}

static char **push(char **v, const char *s)
{
  size_t n = husk_strv_len(v);
  v = husk_xrealloc(v, (n + 2) * sizeof(char *));
  v[n] = husk_xstrdup(s);
  v[n + 1] = NULL;
  return v;
}

static int add_volume(run_args *a, const char *s, bool tmpfs, husk_err *err)
{
  husk_volspec v;
  int r = tmpfs ? husk_tmpfs_parse(s, &v, err) : husk_volspec_parse(s, &v, err);
  if (r < 0)
    return r;
  a->vols = husk_xrealloc(a->vols, (a->n_vols + 1) * sizeof(husk_volspec));
  a->vols[a->n_vols++] = v;
  return 0;
}

static int check_cpuset(const char *s, husk_err *err)
{
  bool ok = *s != '\0';
  for (const char *p = s; *p && ok; p++)
    ok = (*p >= '0' && *p <= '9') || *p == ',' || *p == '-';
  if (!ok)
    return husk_errorf_plain(err, EINVAL, "--cpuset-cpus %s: invalid CPU list (e.g. 0-1,3)", s);
  return 0;
}

/* --security-opt seccomp=FILE|unconfined, no-new-privileges[=true|false]
 * (docker's older KEY:VALUE spelling too). */
static int security_opt(husk_run_opts *o, const char *s, husk_err *err)
{
  size_t klen = strcspn(s, "=:");
  const char *val = s[klen] ? s + klen + 1 : NULL;
  if (klen == 7 && strncmp(s, "seccomp", klen) == 0) {
    if (val == NULL || *val == '\0')
      return husk_errorf_plain(err, EINVAL,
                               "--security-opt %s: give seccomp=FILE or seccomp=unconfined", s);
    o->seccomp = val;
    return 0;
  }
  if (klen == 17 && strncmp(s, "no-new-privileges", klen) == 0) {
    if (val == NULL || strcmp(val, "true") == 0)
      o->no_new_privileges = true;
    else if (strcmp(val, "false") == 0)
      o->no_new_privileges = false;
    else
      return husk_errorf_plain(err, EINVAL, "--security-opt %s: expected true or false", s);
    return 0;
  }
  return husk_errorf_plain(err, EINVAL,
                           "--security-opt %s: unsupported (supported: seccomp=FILE, "
                           "seccomp=unconfined, no-new-privileges)",
                           s);
}

static int parse_run(run_args *a, int argc, char **argv, bool *help, husk_err *err)
{
  static const struct option longopts[] = {
      {"detach", no_argument, NULL, 'd'},
      {"rm", no_argument, NULL, OPT_RM},
      {"interactive", no_argument, NULL, 'i'},
      {"tty", no_argument, NULL, 't'},
      {"name", required_argument, NULL, OPT_NAME},
      {"env", required_argument, NULL, 'e'},
      {"env-file", required_argument, NULL, OPT_ENV_FILE},
      {"workdir", required_argument, NULL, 'w'},
      {"user", required_argument, NULL, 'u'},
      {"hostname", required_argument, NULL, 'h'},
      {"memory", required_argument, NULL, 'm'},
      {"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
      {"cpus", required_argument, NULL, OPT_CPUS},
      {"cpuset-cpus", required_argument, NULL, OPT_CPUSET},
      {"pids-limit", required_argument, NULL, OPT_PIDS},
      {"volume", required_argument, NULL, 'v'},
      {"tmpfs", required_argument, NULL, OPT_TMPFS},
      {"read-only", no_argument, NULL, OPT_READ_ONLY},
      {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
      {"network", required_argument, NULL, OPT_NETWORK},
      {"net", required_argument, NULL, OPT_NETWORK},
      {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
      {"publish", required_argument, NULL, 'p'},
      {"cap-add", required_argument, NULL, OPT_CAP_ADD},
      {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
      {"privileged", no_argument, NULL, OPT_PRIVILEGED},
      {"security-opt", required_argument, NULL, OPT_SECURITY_OPT},
      {"help", no_argument, NULL, OPT_HELP},
      {NULL, 0, NULL, 0},
  };
  husk_run_opts *o = &a->o;
  /* docker's default is the bridge; $HUSK_NETWORK changes the default (the
   * test suite sets it to none so that it never touches the host's network) */
  const char *defnet = getenv("HUSK_NETWORK");
  /* rootless (like podman): slirp4netns when it is installed and may open
   * /dev/net/tun, else none */
  if (!husk_rootless())
    o->network = HUSK_NET_BRIDGE;
  else if (in_path("slirp4netns") && access("/dev/net/tun", R_OK | W_OK) == 0)
    o->network = HUSK_NET_SLIRP;
  else
    o->network = HUSK_NET_NONE;
  if (defnet && *defnet) {
    int r = husk_net_mode_parse(defnet, &o->network, &o->network_name, err);
    if (r < 0)
      return husk_error_wrap(err, "$HUSK_NETWORK");
  }
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+dite:w:u:h:m:v:p:", longopts, NULL)) != -1) {
    int r = 0;
    switch (c) {
    case 'd':
      o->detach = true;
      break;
    case OPT_RM:
      o->rm = true;
      break;
    case 'i':
      o->interactive = true;
      break;
    case 't':
      o->tty = true;
      break;
    case OPT_NAME:
      o->name = optarg;
      r = husk_container_name_validate(optarg, err);
      break;
    case 'e':
      if (*optarg == '=' || *optarg == '\0')
        return husk_errorf_plain(err, EINVAL, "-e %s: invalid environment variable", optarg);
      a->env_flags = push(a->env_flags, optarg);
      break;
    case OPT_ENV_FILE:
      a->env_files = push(a->env_files, optarg);
      break;
    case 'w':
      if (optarg[0] != '/')
        return husk_errorf_plain(err, EINVAL, "-w %s: the working directory must be absolute",
                                 optarg);
      o->workdir = optarg;
      break;
    case 'u':
      o->user = optarg;
      break;
    case 'h':
      o->hostname = optarg;
      break;
    case 'm':
      r = husk_parse_size(optarg, "--memory", &o->memory, err);
      if (r == 0 && o->memory < 6 * 1024 * 1024)
        r = husk_errorf_plain(err, EINVAL, "--memory %s: the minimum memory limit is 6m", optarg);
      o->has_memory = true;
      break;
    case OPT_MEMORY_SWAP:
      if (strcmp(optarg, "-1") == 0) {
        o->memory_swap = -1;
      } else {
        uint64_t v;
        r = husk_parse_size(optarg, "--memory-swap", &v, err);
        o->memory_swap = (int64_t)v;
      }
      o->has_memory_swap = true;
      break;
    case OPT_CPUS:
      r = husk_cpus_parse(optarg, &o->cpu_quota, &o->cpu_period, &o->nano_cpus, err);
      o->has_cpus = true;
      break;
    case OPT_CPUSET:
      r = check_cpuset(optarg, err);
      o->cpuset_cpus = optarg;
      break;
    case OPT_PIDS:
      if (husk_parse_i64(optarg, &o->pids_limit) < 0)
        r = husk_errorf_plain(err, EINVAL, "--pids-limit %s: not a number", optarg);
      o->has_pids_limit = true;
      break;
    case 'v':
      r = add_volume(a, optarg, false, err);
      break;
    case OPT_TMPFS:
      r = add_volume(a, optarg, true, err);
      break;
    case OPT_READ_ONLY:
      o->read_only = true;
      break;
    case OPT_ENTRYPOINT:
      o->has_entrypoint = true;
      o->entrypoint = optarg;
      break;
    case OPT_NETWORK:
      r = husk_net_mode_parse(optarg, &o->network, &o->network_name, err);
      break;
    case 'p': {
      husk_port_map pm;
      r = husk_port_map_parse(optarg, &pm, err);
      if (r == 0) {
        a->ports = husk_xrealloc(a->ports, (a->n_ports + 1) * sizeof(husk_port_map));
        a->ports[a->n_ports++] = pm;
      }
      break;
    }
    case OPT_STOP_SIGNAL:
      if (husk_parse_signal(optarg) <= 0)
        r = husk_errorf_plain(err, EINVAL, "--stop-signal %s: unknown signal", optarg);
      o->stop_signal = optarg;
      break;
    case OPT_CAP_ADD:
    case OPT_CAP_DROP: {
      uint64_t bit;
      bool all;
      bool add = c == OPT_CAP_ADD;
      r = husk_cap_flag_parse(add ? "--cap-add" : "--cap-drop", optarg, &bit, &all, err);
      if (r == 0 && add)
        a->cap_add = push(a->cap_add, optarg);
      else if (r == 0)
        a->cap_drop = push(a->cap_drop, optarg);
      break;
    }
    case OPT_PRIVILEGED:
      o->privileged = true;
      break;
    case OPT_SECURITY_OPT:
      r = security_opt(o, optarg, err);
      break;
    case OPT_HELP:
      *help = true;
      return 0;
    case '?':
      if (optopt && optopt < 256)
        return husk_errorf_plain(err, EINVAL,
                                 "unknown or incomplete option -%c (see husk run "
                                 "--help)",
                                 optopt);
      return husk_errorf_plain(err, EINVAL, "unknown or incomplete option %s (see husk run --help)",
                               argv[optind - 1]);
    default:
      return usage_error(err, "run", "bad option");
    }
    if (r < 0)
      return r;
  }
  if (optind >= argc)
    return usage_error(err, "run", "missing IMAGE");
  o->image = argv[optind];
  o->cmd = argv + optind + 1;
  if (o->has_memory_swap) {
    if (!o->has_memory)
      return husk_errorf_plain(err, EINVAL, "--memory-swap needs --memory");
    if (o->memory_swap >= 0 && (uint64_t)o->memory_swap < o->memory)
      return husk_errorf_plain(err, EINVAL,
                               "--memory-swap must be at least --memory (it is memory + swap)");
  }
  /* environment: --env-file first, then -e (docker's order) */
  for (char **f = a->env_files; f && *f; f++) {
    int r = husk_env_file_read(*f, &o->env, err);
    if (r < 0)
      return r;
  }
  for (char **e = a->env_flags; e && *e; e++) {
    if (strchr(*e, '=')) {
      o->env = push(o->env, *e);
    } else {
      const char *v = getenv(*e);
      if (v) {
        _cleanup_free_ char *kv = husk_xasprintf("%s=%s", *e, v);
        o->env = push(o->env, kv);
      }
    }
  }
  if (a->n_ports && o->network != HUSK_NET_BRIDGE && o->network != HUSK_NET_SLIRP)
    return husk_errorf_plain(err, EINVAL,
                             "--publish needs a bridge network (--network bridge) or slirp4netns");
  o->volumes = a->vols;
  o->n_volumes = a->n_vols;
  o->cap_add = a->cap_add;
  o->cap_drop = a->cap_drop;
  o->ports = a->ports;
  o->n_ports = a->n_ports;
  if (o->tty && o->interactive && !o->detach && !isatty(0))
    return husk_errorf_plain(err, ENOTTY, "the input device is not a TTY (drop -t or -i)");
  if (o->tty)
    console_size(&o->console_rows, &o->console_cols);
  return 0;
}

int husk_cmd_run(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  run_args a;
  memset(&a, 0, sizeof(a));
  bool help = false;
  int r = parse_run(&a, argc, argv, &help, err);
  if (r < 0 || help) {
    run_args_clear(&a);
    if (help)
      fputs(run_help, stdout);
    return r < 0 ? r : 0;
  }
  __attribute__((cleanup(storep))) husk_store *store = NULL;
  __attribute__((cleanup(imagep))) husk_image *img = NULL;
  if ((r = husk_store_open(home.data_root, &store, err)) < 0 ||
      (r = husk_image_get(store, a.o.image, &img, err)) < 0) {
    run_args_clear(&a);
    return r;
  }
  /* (with -it the core puts our terminal in raw mode while it proxies the pty) */
  if (!a.o.detach && !a.o.interactive && (r = stdin_devnull(err)) < 0) {
    run_args_clear(&a);
    return r;
  }
  husk_prun_result res;
  a.o.warn = run_warn;
  r = husk_prun(&home, store, &a.o, img, &res, err);
  run_args_clear(&a);
  if (r < 0) {
    if (res.start_failed) {
      print_error("run", err);
      return res.exit_code; /* 127, 126 or 125, like docker */
    }
    return r;
  }
  if (a.o.detach) {
    printf("%s\n", res.id);
    return 0;
  }
  return res.exit_code;
}

/* ---- ps ------------------------------------------------------------------------------- */

static const char ps_help[] = "Usage: husk ps [OPTIONS]\n"
                              "\n"
                              "List containers (running ones unless -a).\n"
                              "\n"
                              "Options:\n"
                              "  -a, --all          show every container\n"
                              "  -q, --quiet        only ids\n"
                              "      --format json  one JSON object per line\n"
                              "      --no-trunc     full ids and commands\n"
                              "      --help         this help\n";

typedef struct ps_row {
  char *cols[6];
} ps_row;

static char *truncate_cmd(const char *s, bool no_trunc)
{
  size_t n = strlen(s);
  if (no_trunc || n <= 20)
    return husk_xasprintf("\"%s\"", s);
  return husk_xasprintf("\"%.19s…\"", s);
}

int husk_cmd_ps(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {{"all", no_argument, NULL, 'a'},
                                           {"quiet", no_argument, NULL, 'q'},
                                           {"format", required_argument, NULL, OPT_FORMAT},
                                           {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  bool all = false, quiet = false, json = false, no_trunc = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+aq", longopts, NULL)) != -1) {
    switch (c) {
    case 'a':
      all = true;
      break;
    case 'q':
      quiet = true;
      break;
    case OPT_FORMAT:
      if (strcmp(optarg, "json") != 0 && strcmp(optarg, "{{json .}}") != 0)
        return husk_errorf_plain(err, EINVAL, "--format %s: only json is supported", optarg);
      json = true;
      break;
    case OPT_NO_TRUNC:
      no_trunc = true;
      break;
    case OPT_HELP:
      fputs(ps_help, stdout);
      return 0;
    default:
      return usage_error(err, "ps", "unknown option");
    }
  }
  if (optind < argc)
    return usage_error(err, "ps", "unexpected argument");
  _cleanup_strv_ char **ids = NULL;
  int r = husk_pctr_list(&home, &ids, err);
  if (r < 0)
    return r;
  ps_row *rows = NULL;
  size_t n = 0;
  for (char **id = ids; *id; id++) {
    _cleanup_pctr_ husk_pctr *ct = NULL;
    husk_err e;
    if (husk_pctr_open(&home, *id, false, &ct, &e) < 0)
      continue;
    husk_plive live;
    husk_pctr_live(&home, ct, &live);
    if (!all && live.status != HUSK_P_RUNNING && live.status != HUSK_P_PAUSED)
      continue;
    if (quiet) {
      printf("%.*s\n", no_trunc ? HUSK_ID_LEN : HUSK_SHORT_ID_LEN, *id);
      continue;
    }
    char status[128];
    status_text(ct, &live, status, sizeof(status));
    _cleanup_free_ char *cmd = command_text(ct);
    const char *name = husk_pctr_str(ct, "Name");
    const char *image = husk_pctr_str(ct, "ImageName");
    const char *created = husk_pctr_str(ct, "Created");
    char ago[64] = "";
    time_t ct_time = parse_time(created);
    if (ct_time) {
      char d[48];
      human_duration(time(NULL) - ct_time, d, sizeof(d));
      snprintf(ago, sizeof(ago), "%s ago", d);
    }
    if (json) {
      _cleanup_json_ struct json_object *o = json_object_new_object();
      json_object_object_add(o, "ID", json_object_new_string(*id));
      json_object_object_add(o, "Names", json_object_new_string(name ? name : ""));
      json_object_object_add(o, "Image", json_object_new_string(image ? image : ""));
      json_object_object_add(o, "Command", json_object_new_string(cmd));
      json_object_object_add(o, "CreatedAt", json_object_new_string(created ? created : ""));
      json_object_object_add(o, "RunningFor", json_object_new_string(ago));
      json_object_object_add(o, "State", json_object_new_string(husk_pstatus_name(live.status)));
      json_object_object_add(o, "Status", json_object_new_string(status));
      json_object_object_add(o, "Pid", json_object_new_int64(live.pid));
      if (live.status == HUSK_P_EXITED)
        json_object_object_add(o, "ExitCode", json_object_new_int(live.exit_code));
      printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
      continue;
    }
    rows = husk_xrealloc(rows, (n + 1) * sizeof(*rows));
    rows[n].cols[0] = husk_xasprintf("%.*s", no_trunc ? HUSK_ID_LEN : HUSK_SHORT_ID_LEN, *id);
    rows[n].cols[1] = husk_xstrdup(name ? name : "");
    rows[n].cols[2] = husk_xstrdup(image ? image : "");
    rows[n].cols[3] = truncate_cmd(cmd, no_trunc);
    rows[n].cols[4] = husk_xstrdup(ago);
    rows[n].cols[5] = husk_xstrdup(status);
    n++;
  }
  if (!quiet && !json) {
    static const char *const head[6] = {"CONTAINER ID", "NAME",    "IMAGE",
                                        "COMMAND",      "CREATED", "STATUS"};
    size_t w[6];
    for (int i = 0; i < 6; i++) {
      w[i] = strlen(head[i]);
      for (size_t k = 0; k < n; k++) {
        size_t l = strlen(rows[k].cols[i]);
        if (strstr(rows[k].cols[i], "…"))
          l -= 2; /* a three-byte character of width one */
        if (l > w[i])
          w[i] = l;
      }
    }
    for (int i = 0; i < 6; i++)
      printf(i < 5 ? "%-*s   " : "%-*s\n", i < 5 ? (int)w[i] : 0, head[i]);
    for (size_t k = 0; k < n; k++) {
      for (int i = 0; i < 6; i++) {
        size_t pad = w[i] + (strstr(rows[k].cols[i], "…") ? 2 : 0);
        if (i < 5)
          printf("%-*s   ", (int)pad, rows[k].cols[i]);
        else
          printf("%s\n", rows[k].cols[i]);
      }
    }
  }
  for (size_t k = 0; k < n; k++)
    for (int i = 0; i < 6; i++)
      free(rows[k].cols[i]);
  free(rows);
  return 0;
}

/* ---- logs ----------------------------------------------------------------------------- */

static const char logs_help[] = "Usage: husk logs [OPTIONS] CONTAINER\n"
                                "\n"
                                "Print the output of a detached container.\n"
                                "\n"
                                "Options:\n"
                                "  -f, --follow     keep printing new output until it exits\n"
                                "  -n, --tail N     only the last N lines\n"
                                "      --help       this help\n";

/* Offset where the last `lines` lines of fd start. */
static off_t tail_offset(int fd, long lines)
{
  struct stat st;
  if (fstat(fd, &st) < 0 || lines < 0)
    return 0;
  if (lines == 0)
    return st.st_size;
  off_t end = st.st_size;
  /* a final newline ends the last line, it does not start another */
  char last;
  if (end > 0 && pread(fd, &last, 1, end - 1) == 1 && last == '\n')
    end--;
  long seen = 0;
  char buf[4096];
  off_t pos = end;
  while (pos > 0) {
    size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
    pos -= (off_t)chunk;
    if (pread(fd, buf, chunk, pos) != (ssize_t)chunk)
      return 0;
    for (size_t i = chunk; i-- > 0;) {
      if (buf[i] == '\n' && ++seen == lines)
        return pos + (off_t)i + 1;
    }
  }
  return 0;
}

int husk_cmd_logs(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {{"follow", no_argument, NULL, 'f'},
                                           {"tail", required_argument, NULL, 'n'},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  bool follow = false;
  long tail = -1;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+fn:", longopts, NULL)) != -1) {
    switch (c) {
    case 'f':
      follow = true;
      break;
    case 'n': {
      int64_t v;
      if (strcmp(optarg, "all") == 0)
        tail = -1;
      else if (husk_parse_i64(optarg, &v) < 0 || v < 0)
        return husk_errorf_plain(err, EINVAL, "--tail %s: not a number of lines", optarg);
      else
        tail = (long)v;
      break;
    }
    case OPT_HELP:
      fputs(logs_help, stdout);
      return 0;
    default:
      return usage_error(err, "logs", "unknown option");
    }
  }
  if (optind + 1 != argc)
    return usage_error(err, "logs", "need exactly one CONTAINER");
  _cleanup_pctr_ husk_pctr *ct = NULL;
  int r = husk_pctr_get(&home, argv[optind], false, &ct, err);
  if (r < 0)
    return r;
  const char *log = husk_pctr_str(ct, "LogPath");
  if (log == NULL || *log == '\0') {
    fprintf(stderr,
            "husk logs: %s ran in the foreground: its output went to the terminal, not to a "
            "log\n",
            argv[optind]);
    return 0;
  }
  _cleanup_close_ int fd = open(log, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "open %s", log);
  if (fd >= 0 && tail >= 0)
    lseek(fd, tail_offset(fd, tail), SEEK_SET);
  char buf[65536];
  for (;;) {
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
    if (n > 0) {
      if (husk_write_all(1, buf, (size_t)n) < 0)
        return 0; /* reader went away */
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (!follow)
      break;
    /* at the end: stop once the container is gone and its output drained */
    _cleanup_pctr_ husk_pctr *now = NULL;
    husk_err e;
    if (husk_pctr_open(&home, ct->id, false, &now, &e) < 0)
      break;
    husk_plive live;
    husk_pctr_live(&home, now, &live);
    if (live.status == HUSK_P_EXITED || live.status == HUSK_P_REMOVING) {
      if (fd >= 0) {
        while ((n = read(fd, buf, sizeof(buf))) > 0)
          husk_write_all(1, buf, (size_t)n);
      }
      break;
    }
    if (fd < 0)
      fd = open(log, O_RDONLY | O_CLOEXEC);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* ---- exec ----------------------------------------------------------------------------- */

static const char exec_help[] =
    "Usage: husk exec [OPTIONS] CONTAINER COMMAND [ARG...]\n"
    "\n"
    "Run a command in a running container.\n"
    "\n"
    "Options:\n"
    "  -d, --detach            run it in the background\n"
    "  -i, --interactive       keep stdin open\n"
    "  -t, --tty               allocate a pseudo-terminal\n"
    "  -e, --env KEY[=VALUE]   set an environment variable\n"
    "  -w, --workdir DIR       working directory\n"
    "  -u, --user UID[:GID]    user (numeric or a name from the container's /etc/passwd)\n"
    "      --help              this help\n";

static void json_env_set(struct json_object *proc, const char *kv)
{
  struct json_object *env = NULL;
  if (!json_object_object_get_ex(proc, "env", &env) || !json_object_is_type(env, json_type_array)) {
    env = json_object_new_array();
    json_object_object_add(proc, "env", env);
  }
  const char *eq = strchr(kv, '=');
  size_t k = eq ? (size_t)(eq - kv) : strlen(kv);
  for (size_t i = 0; i < json_object_array_length(env); i++) {
    const char *e = json_object_get_string(json_object_array_get_idx(env, i));
    if (e && strncmp(e, kv, k) == 0 && e[k] == '=') {
      json_object_array_put_idx(env, i, json_object_new_string(kv));
      return;
    }
  }
  json_object_array_add(env, json_object_new_string(kv));
}

int husk_cmd_exec(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {
      {"detach", no_argument, NULL, 'd'},        {"interactive", no_argument, NULL, 'i'},
      {"tty", no_argument, NULL, 't'},           {"env", required_argument, NULL, 'e'},
      {"workdir", required_argument, NULL, 'w'}, {"user", required_argument, NULL, 'u'},
      {"help", no_argument, NULL, OPT_HELP},     {NULL, 0, NULL, 0}};
  bool detach = false, interactive = false, tty = false;
  const char *workdir = NULL, *user = NULL;
  _cleanup_strv_ char **env = NULL;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+dite:w:u:", longopts, NULL)) != -1) {
    switch (c) {
    case 'd':
      detach = true;
      break;
    case 'i':
      interactive = true;
      break;
    case 't':
      tty = true;
      break;
    case 'e':
      if (strchr(optarg, '=')) {
        env = push(env, optarg);
      } else if (getenv(optarg)) {
        _cleanup_free_ char *kv = husk_xasprintf("%s=%s", optarg, getenv(optarg));
        env = push(env, kv);
      }
      break;
    case 'w':
      if (optarg[0] != '/')
        return husk_errorf_plain(err, EINVAL, "-w %s: the working directory must be absolute",
                                 optarg);
      workdir = optarg;
      break;
    case 'u':
      user = optarg;
      break;
    case OPT_HELP:
      fputs(exec_help, stdout);
      return 0;
    default:
      return usage_error(err, "exec", "unknown option");
    }
  }
  if (optind + 2 > argc)
    return usage_error(err, "exec", "need CONTAINER and COMMAND");
  const char *ref = argv[optind];
  _cleanup_pctr_ husk_pctr *ct = NULL;
  int r = husk_pctr_get(&home, ref, false, &ct, err);
  if (r < 0)
    return r;
  husk_plive live;
  husk_pctr_live(&home, ct, &live);
  if (live.status != HUSK_P_RUNNING)
    return husk_errorf_plain(err, EINVAL, "container %s is not running (it is %s)", ref,
                             husk_pstatus_name(live.status));
  if (tty && interactive && !detach && !isatty(0))
    return husk_errorf_plain(err, ENOTTY, "the input device is not a TTY (drop -t or -i)");

  /* the container's process, with this command */
  _cleanup_free_ char *cfg = NULL;
  if (husk_read_file_at(ct->dirfd, "config.json", &cfg, NULL, err) < 0)
    return husk_error_wrap(err, "container %s", ref);
  _cleanup_json_ struct json_object *spec = json_tokener_parse(cfg);
  struct json_object *proc = NULL;
  if (spec == NULL || !json_object_object_get_ex(spec, "process", &proc))
    return husk_errorf_plain(err, EINVAL, "container %s: corrupt config.json", ref);
  struct json_object *args = json_object_new_array();
  for (int i = optind + 1; i < argc; i++)
    json_object_array_add(args, json_object_new_string(argv[i]));
  json_object_object_add(proc, "args", args);
  json_object_object_add(proc, "terminal", json_object_new_boolean(tty));
  json_object_object_del(proc, "consoleSize");
  if (tty) {
    unsigned rows = 0, cols = 0;
    console_size(&rows, &cols);
    husk_proc_console_size(proc, rows, cols);
    json_env_set(proc, "TERM=xterm");
  }
  for (char **e = env; e && *e; e++)
    json_env_set(proc, *e);
  if (workdir)
    json_object_object_add(proc, "cwd", json_object_new_string(workdir));
  if (user) {
    const char *merged = husk_pctr_str(ct, "GraphDriver.Data.MergedDir");
    _cleanup_close_ int rootfd = merged ? open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    husk_puser pu;
    if ((r = husk_user_resolve(rootfd, user, &pu, err)) < 0)
      return r;
    json_object_object_add(proc, "user", husk_puser_json(&pu));
    if (pu.home) {
      _cleanup_free_ char *h = husk_xasprintf("HOME=%s", pu.home);
      json_env_set(proc, h);
    }
    husk_puser_clear(&pu);
  }
  husk_process p;
  memset(&p, 0, sizeof(p));
  if ((r = husk_process_parse(proc, &p, err)) < 0) {
    husk_process_clear(&p);
    return husk_error_wrap(err, "exec");
  }
  if (detach || !interactive) {
    if ((r = stdin_devnull(err)) < 0) {
      husk_process_clear(&p);
      return r;
    }
  }
  husk_exec_opts eo = {.process = &p, .detach = detach};
  int code = 0;
  r = husk_container_exec(home.state_root, ct->id, &eo, &code, err);
  husk_process_clear(&p);
  if (r < 0) {
    print_error("exec", err);
    return err->code == ENOENT ? 127 : 126;
  }
  return code;
}

/* ---- stop / kill ---------------------------------------------------------------------- */

static bool wait_pid_exit(pid_t pid, uint64_t start, int timeout_ms)
{
  _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    return true;
  if (start && husk_pid_start_time(pid) != start)
    return true;
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int n;
  do
    n = poll(&p, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  return n > 0;
}

static int stop_one(const husk_home *h, const char *ref, int timeout, husk_err *err)
{
  _cleanup_pctr_ husk_pctr *ct = NULL;
  int r = husk_pctr_get(h, ref, false, &ct, err);
  if (r < 0)
    return r;
  husk_plive live;
  husk_pctr_live(h, ct, &live);
  if (live.status != HUSK_P_RUNNING && live.status != HUSK_P_PAUSED)
    return 0; /* docker: stopping a stopped container is fine */
  _cleanup_state_ husk_state *st = NULL;
  if ((r = husk_state_load(h->state_root, ct->id, &st, err)) < 0)
    return r;
  const char *signame = husk_pctr_str(ct, "Config.StopSignal");
  int sig = signame ? husk_parse_signal(signame) : SIGTERM;
  if (sig <= 0)
    sig = SIGTERM;
  husk_err e;
  bool gone = false;
  if (live.status == HUSK_P_PAUSED) {
    /* a frozen process cannot handle signals: kill it */
    timeout = 0;
  } else if (husk_container_kill(h->state_root, ct->id, sig, false, &e) < 0) {
    gone = true; /* it exited meanwhile */
  }
  if (!gone && timeout > 0)
    gone = wait_pid_exit(st->pid, st->pid_start_time, timeout * 1000);
  /* SIGKILL the init and everything in its cgroup, waiting at most
   * $HUSK_KILL_TIMEOUT for them (a process in uninterruptible sleep or a
   * frozen cgroup keeps SIGKILL pending) */
  if (!gone && (r = husk_container_kill_wait(h->state_root, ct->id, -1, err)) < 0 &&
      err->code != ENOENT)
    return r;
  husk_pctr_wait_recorded(h, ct->id, 5000);
  /* nobody waited for it (its husk run was killed): release it here */
  _cleanup_pctr_ husk_pctr *again = NULL;
  if (husk_pctr_open(h, ct->id, true, &again, &e) == 0) {
    const char *s = husk_pctr_str(again, "State.Status");
    if (s && strcmp(s, "exited") != 0) {
      husk_plive l2;
      husk_pctr_live_now(h, again, &l2);
      if (l2.status == HUSK_P_EXITED) {
        husk_pctr_record_exit(again, l2.exit_code >= 0 ? l2.exit_code : 137, &e);
        husk_pctr_release(h, again, &e);
      }
    }
  }
  return 0;
}

static const char stop_help[] =
    "Usage: husk stop [OPTIONS] CONTAINER [CONTAINER...]\n"
    "\n"
    "Stop containers: the stop signal (SIGTERM unless the image or\n"
    "--stop-signal says otherwise), then SIGKILL after a grace period.\n"
    "\n"
    "Options:\n"
    "  -t, --time SECS  grace period (default 10)\n"
    "      --help       this help\n";

int husk_cmd_stop(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {{"time", required_argument, NULL, 't'},
                                           {"timeout", required_argument, NULL, 't'},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  int timeout = 10;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+t:", longopts, NULL)) != -1) {
    switch (c) {
    case 't': {
      int64_t v;
      if (husk_parse_i64(optarg, &v) < 0 || v < 0 || v > 86400)
        return husk_errorf_plain(err, EINVAL, "-t %s: not a number of seconds", optarg);
      timeout = (int)v;
      break;
    }
    case OPT_HELP:
      fputs(stop_help, stdout);
      return 0;
    default:
      return usage_error(err, "stop", "unknown option");
    }
  }
  if (optind >= argc)
    return usage_error(err, "stop", "need at least one CONTAINER");
  int status = 0;
  for (int i = optind; i < argc; i++) {
    husk_err e = {0};
    if (stop_one(&home, argv[i], timeout, &e) < 0) {
      print_error("stop", &e);
      status = 1;
    } else {
      printf("%s\n", argv[i]);
      fflush(stdout);
    }
  }
  return status;
}

static const char kill_help[] = "Usage: husk kill [OPTIONS] CONTAINER [CONTAINER...]\n"
                                "\n"
                                "Send a signal to running containers.\n"
                                "\n"
                                "Options:\n"
                                "  -s, --signal SIG  the signal (default KILL)\n"
                                "      --help        this help\n";

int husk_cmd_kill(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {{"signal", required_argument, NULL, 's'},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  int sig = SIGKILL;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+s:", longopts, NULL)) != -1) {
    switch (c) {
    case 's':
      sig = husk_parse_signal(optarg);
      if (sig <= 0)
        return husk_errorf_plain(err, EINVAL, "-s %s: unknown signal", optarg);
      break;
    case OPT_HELP:
      fputs(kill_help, stdout);
      return 0;
    default:
      return usage_error(err, "kill", "unknown option");
    }
  }
  if (optind >= argc)
    return usage_error(err, "kill", "need at least one CONTAINER");
  int status = 0;
  for (int i = optind; i < argc; i++) {
    husk_err e = {0};
    _cleanup_pctr_ husk_pctr *ct = NULL;
    int r = husk_pctr_get(&home, argv[i], false, &ct, &e);
    if (r == 0) {
      husk_plive live;
      husk_pctr_live(&home, ct, &live);
      if (live.status != HUSK_P_RUNNING && live.status != HUSK_P_PAUSED)
        r = husk_errorf_plain(&e, EINVAL, "container %s is not running", argv[i]);
      else
        r = husk_container_kill(home.state_root, ct->id, sig, false, &e);
    }
    if (r < 0) {
      print_error("kill", &e);
      status = 1;
    } else {
      printf("%s\n", argv[i]);
    }
  }
  return status;
}

/* ---- rm ----------------------------------------------------------------------------- */

static const char rm_help[] = "Usage: husk rm [OPTIONS] CONTAINER [CONTAINER...]\n"
                              "\n"
                              "Remove containers: state, root filesystem, log, cgroup, name.\n"
                              "Named volumes are kept.\n"
                              "\n"
                              "Options:\n"
                              "  -f, --force    kill and remove running containers\n"
                              "  -v, --volumes  accepted for docker compatibility (named volumes "
                              "are kept)\n"
                              "      --help     this help\n";

int husk_cmd_rm(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {{"force", no_argument, NULL, 'f'},
                                           {"volumes", no_argument, NULL, 'v'},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  bool force = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+fv", longopts, NULL)) != -1) {
    switch (c) {
    case 'f':
      force = true;
      break;
    case 'v':
      break;
    case OPT_HELP:
      fputs(rm_help, stdout);
      return 0;
    default:
      return usage_error(err, "rm", "unknown option");
    }
  }
  if (optind >= argc)
    return usage_error(err, "rm", "need at least one CONTAINER");
  int status = 0;
  for (int i = optind; i < argc; i++) {
    husk_err e = {0};
    char id[HUSK_ID_LEN + 1];
    int r = husk_pctr_resolve(&home, argv[i], id, &e);
    if (r == 0)
      r = husk_pctr_remove(&home, id, force, &e);
    if (r < 0) {
      print_error("rm", &e);
      status = 1;
    } else {
      printf("%s\n", argv[i]);
    }
  }
  return status;
}

/* ---- inspect -------------------------------------------------------------------------- */

static const char inspect_help[] =
    "Usage: husk inspect [OPTIONS] CONTAINER [CONTAINER...]\n"
    "\n"
    "Print containers as JSON (an array, like docker inspect).\n"
    "\n"
    "Options:\n"
    "  -f, --format TEMPLATE  print TEMPLATE per container, with {{.Path.To.Field}}\n"
    "                         replaced by that field (e.g. {{.State.Status}})\n"
    "      --help             this help\n";

/* The record with its live state. */
static struct json_object *inspect_doc(const husk_home *h, husk_pctr *ct)
{
  husk_plive live;
  husk_pctr_live(h, ct, &live);
  husk_pctr_set(ct, "State.Status", json_object_new_string(husk_pstatus_name(live.status)));
  husk_pctr_set(
      ct, "State.Running",
      json_object_new_boolean(live.status == HUSK_P_RUNNING || live.status == HUSK_P_PAUSED));
  husk_pctr_set(ct, "State.Paused", json_object_new_boolean(live.status == HUSK_P_PAUSED));
  husk_pctr_set(ct, "State.Pid", json_object_new_int64(live.pid));
  const char *started = husk_pctr_str(ct, "State.StartedAt");
  if ((started == NULL || *started == '\0') && live.started[0])
    husk_pctr_set(ct, "State.StartedAt", json_object_new_string(live.started));
  if (live.status == HUSK_P_EXITED)
    husk_pctr_set(ct, "State.ExitCode", json_object_new_int(live.exit_code));
  struct json_object *doc = json_object_get(ct->doc);
  json_object_object_del(doc, "CreatedNs");
  return doc;
}

static void print_template(struct json_object *doc, const char *tpl)
{
  const char *p = tpl;
  while (*p) {
    const char *open = strstr(p, "{{");
    if (open == NULL) {
      fputs(p, stdout);
      break;
    }
    fwrite(p, 1, (size_t)(open - p), stdout);
    const char *close = strstr(open, "}}");
    if (close == NULL) {
      fputs(open, stdout);
      break;
    }
    char expr[256];
    size_t n = (size_t)(close - open - 2);
    if (n >= sizeof(expr))
      n = sizeof(expr) - 1;
    memcpy(expr, open + 2, n);
    expr[n] = '\0';
    char *e = expr;
    while (*e == ' ')
      e++;
    char *end = e + strlen(e);
    while (end > e && end[-1] == ' ')
      *--end = '\0';
    bool as_json = strncmp(e, "json ", 5) == 0;
    if (as_json)
      e += 5;
    struct json_object *v = doc;
    if (strcmp(e, ".") != 0) {
      for (char *tok = strtok(e, "."); tok && v; tok = strtok(NULL, ".")) {
        struct json_object *next = NULL;
        v = json_object_object_get_ex(v, tok, &next) ? next : NULL;
      }
    }
    if (v == NULL)
      fputs(as_json ? "null" : "<no value>", stdout);
    else if (!as_json && json_object_is_type(v, json_type_string))
      fputs(json_object_get_string(v), stdout);
    else
      fputs(json_object_to_json_string_ext(v,
                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
            stdout);
    p = close + 2;
  }
  putchar('\n');
}

int husk_cmd_inspect(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  static const struct option longopts[] = {{"format", required_argument, NULL, 'f'},
                                           {"type", required_argument, NULL, 1},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  const char *format = NULL;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+f:", longopts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 1:
      if (strcmp(optarg, "container") != 0)
        return husk_errorf_plain(
            err, EINVAL, "--type %s: only containers (husk image inspect for images)", optarg);
      break;
    case OPT_HELP:
      fputs(inspect_help, stdout);
      return 0;
    default:
      return usage_error(err, "inspect", "unknown option");
    }
  }
  if (optind >= argc)
    return usage_error(err, "inspect", "need at least one CONTAINER");
  _cleanup_json_ struct json_object *arr = json_object_new_array();
  int status = 0;
  for (int i = optind; i < argc; i++) {
    husk_err e = {0};
    _cleanup_pctr_ husk_pctr *ct = NULL;
    if (husk_pctr_get(&home, argv[i], false, &ct, &e) < 0) {
      print_error("inspect", &e);
      status = 1;
      continue;
    }
    struct json_object *doc = inspect_doc(&home, ct);
    if (format) {
      print_template(doc, format);
      json_object_put(doc);
    } else {
      json_object_array_add(arr, doc);
    }
  }
  if (!format)
    printf("%s\n",
           json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
  return status;
}

/* ---- gc ------------------------------------------------------------------------------- */

static const char gc_help[] =
    "Usage: husk gc [OPTIONS]\n"
    "\n"
    "Remove what crashed or killed husk commands left behind: runtime state,\n"
    "cgroups, overlay mounts and network leases of containers whose husk run or\n"
    "monitor is gone, containers run with --rm or never set up, container\n"
    "directories, names and image holds without a container, image-store temp\n"
    "files and unused layers, and state of `husk oci` creates that never\n"
    "finished.  Running containers and containers kept after they exited stay\n"
    "(husk rm removes those).  Prints one line per thing removed.\n"
    "\n"
    "Options:\n"
    "      --oci              also delete stopped `husk oci` containers of --root\n"
    "      --min-age SECONDS  leave ownerless leftovers younger than this alone (a\n"
    "                         husk run may be writing them; default 60)\n"
    "      --help             this help\n";

static void gc_print(void *arg, bool error, const char *line)
{
  (void)arg;
  if (error) {
    fflush(stdout);
    fprintf(stderr, "husk gc: %s\n", line);
  } else {
    printf("%s\n", line);
  }
}

int husk_cmd_gc(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  HOME_OR_RETURN(g, home, err);
  enum { OPT_OCI = 1000, OPT_MIN_AGE };
  static const struct option longopts[] = {{"oci", no_argument, NULL, OPT_OCI},
                                           {"min-age", required_argument, NULL, OPT_MIN_AGE},
                                           {"help", no_argument, NULL, OPT_HELP},
                                           {NULL, 0, NULL, 0}};
  husk_gc_opts o = {.oci = false, .min_age = HUSK_GC_MIN_AGE_DEFAULT};
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_OCI:
      o.oci = true;
      break;
    case OPT_MIN_AGE: {
      int64_t v;
      if (husk_parse_i64(optarg, &v) < 0 || v < 0 || v > 86400 * 365)
        return husk_errorf_plain(err, EINVAL, "--min-age %s: not a number of seconds", optarg);
      o.min_age = (int)v;
      break;
    }
    case OPT_HELP:
      fputs(gc_help, stdout);
      return 0;
    default:
      return usage_error(err, "gc", "unknown option");
    }
  }
  if (optind < argc)
    return usage_error(err, "gc", "gc takes no arguments");
  husk_err e = {0};
  int r = husk_gc(&home, &o, gc_print, NULL, &e);
  fflush(stdout);
  return r < 0 ? 1 : 0; /* the failures are printed already */
}
