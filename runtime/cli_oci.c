/* The runc-compatible command line: `husk oci CMD` and `husk-oci CMD`. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cli.h"
#include "container.h"
#include "spec.h"
#include "state.h"
#include "util.h"

/* ---- logging ------------------------------------------------------------------ */

void husk_cli_log(const husk_global *g, const char *level, const char *msg)
{
  if (g == NULL || g->log_path == NULL)
    return;
  _cleanup_close_ int fd = open(g->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  char ts[64];
  husk_rfc3339_now(ts, sizeof(ts));
  if (g->log_json) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "level", json_object_new_string(level));
    json_object_object_add(o, "msg", json_object_new_string(msg));
    json_object_object_add(o, "time", json_object_new_string(ts));
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    dprintf(fd, "%s\n", s);
    json_object_put(o);
  } else {
    dprintf(fd, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level, msg);
  }
}

void husk_cli_report(const husk_global *g, const husk_err *err)
{
  const char *msg = err->msg[0] ? err->msg : strerror(err->code ? err->code : EINVAL);
  fprintf(stderr, "husk: %s\n", msg);
  husk_cli_log(g, "error", msg);
}

static void cli_warn(void *arg, const char *msg)
{
  fprintf(stderr, "husk: warning: %s\n", msg);
  husk_cli_log(arg, "warning", msg);
}

/* ---- option helpers --------------------------------------------------------------- */

static int usage_error(husk_err *err, const char *cmd, const char *what)
{
  return husk_errorf_plain(err, EINVAL, "%s: %s (see `husk oci %s --help`)", cmd, what, cmd);
}

static int need_id(int argc, char **argv, const char *cmd, const char **id, husk_err *err)
{
  if (optind >= argc)
    return usage_error(err, cmd, "missing container id");
  *id = argv[optind++];
  return husk_validate_id(*id, err);
}

static int parse_int_opt(const char *s, const char *name, int *out, husk_err *err)
{
  int64_t v;
  if (husk_parse_i64(s, &v) < 0 || v < 0 || v > INT_MAX)
    return husk_errorf_plain(err, EINVAL, "invalid value for --%s: %s", name, s);
  *out = (int)v;
  return 0;
}

static int listen_fds(void)
{
  const char *s = getenv("LISTEN_FDS");
  int64_t v;
  if (s && husk_parse_i64(s, &v) == 0 && v > 0 && v < 1024)
    return (int)v;
  return 0;
}

/* ---- create / run ----------------------------------------------------------------- */

static const char create_help[] =
    "Usage: husk oci %s [OPTIONS] ID\n"
    "  -b, --bundle DIR         bundle directory (default: current directory)\n"
    "      --config FILE        config file (default: BUNDLE/config.json)\n"
    "      --pid-file FILE      write the container's init pid here\n"
    "      --console-socket S   send the pty master to this unix socket\n"
    "      --preserve-fds N     pass N extra file descriptors (3..3+N-1)\n"
    "%s";

static int cmd_create_or_run(const husk_global *g, int argc, char **argv, bool run, husk_err *err)
{
  static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                       {"config", required_argument, NULL, 'C'},
                                       {"pid-file", required_argument, NULL, 'p'},
                                       {"console-socket", required_argument, NULL, 's'},
                                       {"preserve-fds", required_argument, NULL, 'P'},
                                       {"detach", no_argument, NULL, 'd'},
                                       {"keep", no_argument, NULL, 'k'},
                                       {"no-pivot", no_argument, NULL, 'N'},
                                       {"no-new-keyring", no_argument, NULL, 'K'},
                                       {"no-subreaper", no_argument, NULL, 'R'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  husk_create_opts o = {.root = g->root, .cgroup_manager = g->cgroup_manager};
  int c;
  while ((c = getopt_long(argc, argv, "+b:dh", opts, NULL)) != -1) {
    switch (c) {
    case 'b':
      o.bundle = optarg;
      break;
    case 'C':
      o.config = optarg;
      break;
    case 'p':
      o.pid_file = optarg;
      break;
    case 's':
      o.console_socket = optarg;
      break;
    case 'P':
      if (parse_int_opt(optarg, "preserve-fds", &o.preserve_fds, err) < 0)
        return -EINVAL;
      break;
    case 'd':
      o.detach = true;
      break;
    case 'k':
      o.keep = true;
      break;
    case 'N':
    case 'K':
    case 'R':
      break;
    case 'h':
      printf(create_help, run ? "run" : "create",
             run ? "  -d, --detach             return once the container runs\n"
                   "      --keep               keep the state after the container exits\n"
                 : "");
      return 0;
    default:
      return usage_error(err, run ? "run" : "create", "invalid option");
    }
  }
  if ((!run && (o.detach || o.keep)))
    return usage_error(err, "create", "--detach and --keep are run options");
  if (need_id(argc, argv, run ? "run" : "create", &o.id, err) < 0)
    return -EINVAL;
  if (optind < argc)
    return usage_error(err, run ? "run" : "create", "too many arguments");
  int lf = listen_fds();
  if (lf > o.preserve_fds)
    o.preserve_fds = lf;
  o.warn = cli_warn;
  o.warn_arg = (void *)g;
  int code = 0;
  int r = run ? husk_container_run(&o, &code, err) : husk_container_create(&o, err);
  return r < 0 ? r : code;
}

static int cmd_create(const husk_global *g, int argc, char **argv, husk_err *err)
{
  return cmd_create_or_run(g, argc, argv, false, err);
}

static int cmd_run(const husk_global *g, int argc, char **argv, husk_err *err)
{
  return cmd_create_or_run(g, argc, argv, true, err);
}

/* ---- simple id commands ------------------------------------------------------------- */

static int only_id(int argc, char **argv, const char *cmd, const char *usage, const char **id,
                   husk_err *err)
{
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    if (c == 'h') {
      printf("Usage: husk oci %s %s\n", cmd, usage);
      return 1;
    }
    return usage_error(err, cmd, "invalid option");
  }
  if (need_id(argc, argv, cmd, id, err) < 0)
    return -EINVAL;
  if (optind < argc)
    return usage_error(err, cmd, "too many arguments");
  return 0;
}

static int cmd_start(const husk_global *g, int argc, char **argv, husk_err *err)
{
  const char *id = NULL;
  int r = only_id(argc, argv, "start", "ID", &id, err);
  if (r != 0)
    return r < 0 ? r : 0;
  r = husk_container_start(g->root, id, err);
  return r < 0 ? r : 0;
}

static int cmd_state(const husk_global *g, int argc, char **argv, husk_err *err)
{
  const char *id = NULL;
  int r = only_id(argc, argv, "state", "ID", &id, err);
  if (r != 0)
    return r < 0 ? r : 0;
  _cleanup_state_ husk_state *st = NULL;
  if ((r = husk_state_load(g->root, id, &st, err)) < 0)
    return r;
  _cleanup_free_ char *s = husk_state_to_json(st, husk_state_status(g->root, st), true);
  printf("%s\n", s);
  return 0;
}

static int cmd_kill(const husk_global *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
  bool all = false;
  int c;
  while ((c = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
    if (c == 'a') {
      all = true;
    } else if (c == 'h') {
      printf("Usage: husk oci kill [--all] ID [SIGNAL]\n  SIGNAL: a number or a name (TERM, "
             "SIGKILL, ...); default TERM\n");
      return 0;
    } else {
      return usage_error(err, "kill", "invalid option");
    }
  }
  const char *id = NULL;
  if (need_id(argc, argv, "kill", &id, err) < 0)
    return -EINVAL;
  int sig = 15;
  if (optind < argc) {
    sig = husk_parse_signal(argv[optind++]);
    if (sig < 0)
      return husk_errorf_plain(err, EINVAL, "kill: invalid signal %s", argv[optind - 1]);
  }
  if (optind < argc)
    return usage_error(err, "kill", "too many arguments");
  int r = husk_container_kill(g->root, id, sig, all, err);
  return r < 0 ? r : 0;
}

static int cmd_delete(const husk_global *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {
      {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
  bool force = false;
  int c;
  while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
    if (c == 'f') {
      force = true;
    } else if (c == 'h') {
      printf("Usage: husk oci delete [--force] ID\n");
      return 0;
    } else {
      return usage_error(err, "delete", "invalid option");
    }
  }
  const char *id = NULL;
  if (optind >= argc)
    return usage_error(err, "delete", "missing container id");
  id = argv[optind++];
  if (husk_validate_id(id, err) < 0)
    return force ? 0 : -EINVAL;
  int r = husk_container_delete(g->root, id, force, err);
  return r < 0 ? r : 0;
}

/* ---- exec ----------------------------------------------------------------------------- */

static int parse_user(const char *s, husk_process *p, husk_err *err)
{
  char buf[64];
  snprintf(buf, sizeof(buf), "%s", s);
  char *colon = strchr(buf, ':');
  if (colon)
    *colon = '\0';
  uint64_t uid, gid;
  if (husk_parse_u64(buf, &uid) < 0 || uid > UINT32_MAX)
    return husk_errorf_plain(err, EINVAL, "exec: invalid --user %s (want UID[:GID])", s);
  p->user.uid = (uint32_t)uid;
  if (colon) {
    if (husk_parse_u64(colon + 1, &gid) < 0 || gid > UINT32_MAX)
      return husk_errorf_plain(err, EINVAL, "exec: invalid --user %s (want UID[:GID])", s);
    p->user.gid = (uint32_t)gid;
  }
  return 0;
}

static char **strv_dup(char **v)
{
  size_t n = husk_strv_len(v);
  char **r = husk_xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    r[i] = husk_xstrdup(v[i]);
  return r;
}

/* Set or replace KEY=... in env. */
static char **env_set(char **env, const char *kv)
{
  const char *eq = strchr(kv, '=');
  size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
  for (char **e = env; e && *e; e++) {
    if (strncmp(*e, kv, kl) == 0 && (*e)[kl] == '=') {
      free(*e);
      *e = husk_xstrdup(kv);
      return env;
    }
  }
  husk_strv_push(&env, kv);
  return env;
}

static int cmd_exec(const husk_global *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"process", required_argument, NULL, 'p'},
                                       {"console-socket", required_argument, NULL, 's'},
                                       {"cwd", required_argument, NULL, 'w'},
                                       {"env", required_argument, NULL, 'e'},
                                       {"tty", no_argument, NULL, 't'},
                                       {"user", required_argument, NULL, 'u'},
                                       {"additional-gids", required_argument, NULL, 'g'},
                                       {"cap", required_argument, NULL, 'c'},
                                       {"no-new-privs", no_argument, NULL, 'n'},
                                       {"detach", no_argument, NULL, 'd'},
                                       {"pid-file", required_argument, NULL, 'P'},
                                       {"process-label", required_argument, NULL, 'L'},
                                       {"apparmor", required_argument, NULL, 'A'},
                                       {"preserve-fds", required_argument, NULL, 'F'},
                                       {"ignore-paused", no_argument, NULL, 'I'},
                                       {"cgroup", required_argument, NULL, 'G'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  const char *process_file = NULL, *cwd = NULL, *user = NULL, *apparmor = NULL;
  char **envs = NULL, **caps = NULL, **gids = NULL;
  bool tty = false, nnp = false;
  husk_exec_opts eo = {0};
  int c, r = 0;
  while ((c = getopt_long(argc, argv, "+p:w:e:tu:g:c:dh", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      process_file = optarg;
      break;
    case 's':
      eo.console_socket = optarg;
      break;
    case 'w':
      cwd = optarg;
      break;
    case 'e':
      husk_strv_push(&envs, optarg);
      break;
    case 't':
      tty = true;
      break;
    case 'u':
      user = optarg;
      break;
    case 'g':
      husk_strv_push(&gids, optarg);
      break;
    case 'c':
      husk_strv_push(&caps, optarg);
      break;
    case 'n':
      nnp = true;
      break;
    case 'd':
      eo.detach = true;
      break;
    case 'P':
      eo.pid_file = optarg;
      break;
    case 'A':
      apparmor = optarg;
      break;
    case 'F':
      if (parse_int_opt(optarg, "preserve-fds", &eo.preserve_fds, err) < 0)
        r = -EINVAL;
      break;
    case 'L':
    case 'I':
    case 'G':
      break;
    case 'h':
      printf("Usage: husk oci exec [OPTIONS] ID [COMMAND [ARG...]]\n"
             "  -p, --process FILE   process.json to run (instead of COMMAND)\n"
             "  -e, --env K=V        set an environment variable\n"
             "  -w, --cwd DIR        working directory\n"
             "  -u, --user UID[:GID] user to run as\n"
             "  -g, --additional-gids GID\n"
             "  -c, --cap CAP        add a capability\n"
             "      --no-new-privs   set no_new_privs\n"
             "  -t, --tty            allocate a pty\n"
             "      --console-socket S, -d/--detach, --pid-file F, --preserve-fds N\n");
      goto done;
    default:
      r = usage_error(err, "exec", "invalid option");
    }
    if (r < 0)
      goto done;
  }
  const char *id = NULL;
  if ((r = need_id(argc, argv, "exec", &id, err)) < 0)
    goto done;

  husk_process proc = {0};
  bool have_proc = false;
  if (process_file) {
    _cleanup_free_ char *buf = NULL;
    if ((r = husk_read_file_at(AT_FDCWD, process_file, &buf, NULL, err)) < 0)
      goto done;
    json_object *obj = json_tokener_parse(buf);
    if (obj == NULL) {
      r = husk_errorf_plain(err, EINVAL, "exec: %s is not valid JSON", process_file);
      goto done;
    }
    r = husk_process_parse(obj, &proc, err);
    json_object_put(obj);
    if (r < 0) {
      husk_error_wrap(err, "exec: %s", process_file);
      goto done;
    }
    have_proc = true;
  } else {
    if (optind >= argc) {
      r = usage_error(err, "exec", "missing command (or --process)");
      goto done;
    }
    /* based on the container's own process, like runc */
    _cleanup_spec_ husk_spec *spec = NULL;
    if ((r = husk_container_load_spec(g->root, id, &spec, err)) < 0)
      goto done;
    if (spec && spec->has_process) {
      proc = spec->process;
      memset(&spec->process, 0, sizeof(spec->process)); /* steal it */
    }
    husk_strv_free(proc.args);
    proc.args = strv_dup(argv + optind);
    proc.terminal = false;
    have_proc = true;
    if (proc.env == NULL)
      husk_strv_push(&proc.env,
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  if (tty)
    proc.terminal = true;
  if (cwd) {
    free(proc.cwd);
    proc.cwd = husk_xstrdup(cwd);
  }
  for (char **e = envs; e && *e; e++)
    proc.env = env_set(proc.env, *e);
  if (user && (r = parse_user(user, &proc, err)) < 0)
    goto cleanup;
  for (char **gg = gids; gg && *gg; gg++) {
    uint64_t v;
    if (husk_parse_u64(*gg, &v) < 0 || v > UINT32_MAX) {
      r = husk_errorf_plain(err, EINVAL, "exec: invalid --additional-gids %s", *gg);
      goto cleanup;
    }
    proc.user.additional_gids =
        husk_xrealloc(proc.user.additional_gids, (proc.user.n_additional_gids + 1) * sizeof(gid_t));
    proc.user.additional_gids[proc.user.n_additional_gids++] = (gid_t)v;
  }
  for (char **cp = caps; cp && *cp; cp++) {
    int cap = husk_cap_from_name(*cp);
    if (cap < 0) {
      r = husk_errorf_plain(err, EINVAL, "exec: unknown capability %s", *cp);
      goto cleanup;
    }
    uint64_t bit = 1ull << cap;
    proc.caps.present = true;
    proc.caps.bounding |= bit;
    proc.caps.effective |= bit;
    proc.caps.permitted |= bit;
    proc.caps.inheritable |= bit;
    proc.caps.ambient |= bit;
  }
  if (nnp)
    proc.no_new_privileges = true;
  if (apparmor) {
    free(proc.apparmor_profile);
    proc.apparmor_profile = husk_xstrdup(apparmor);
  }
  if (proc.terminal && eo.detach && !eo.console_socket) {
    r = husk_errorf_plain(err, EINVAL, "exec: --tty with --detach needs --console-socket");
    goto cleanup;
  }
  int lf = listen_fds();
  if (lf > eo.preserve_fds)
    eo.preserve_fds = lf;
  eo.process = &proc;
  int code = 0;
  r = husk_container_exec(g->root, id, &eo, &code, err);
  if (r == 0)
    r = code;
cleanup:
  if (have_proc)
    husk_process_clear(&proc);
done:
  husk_strv_free(envs);
  husk_strv_free(caps);
  husk_strv_free(gids);
  return r;
}

/* ---- list / ps ------------------------------------------------------------------------ */

static int parse_format(int argc, char **argv, const char *cmd, bool *json, bool *quiet,
                        husk_err *err)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "+f:qh", opts, NULL)) != -1) {
    if (c == 'f') {
      if (strcmp(optarg, "json") == 0)
        *json = true;
      else if (strcmp(optarg, "table") == 0)
        *json = false;
      else
        return husk_errorf_plain(err, EINVAL, "%s: invalid format %s (table or json)", cmd, optarg);
    } else if (c == 'q' && quiet) {
      *quiet = true;
    } else if (c == 'h') {
      printf("Usage: husk oci %s [--format table|json]%s\n", cmd,
             quiet ? " [--quiet]" : " ID [PS ARGS...]");
      return 1;
    } else {
      return usage_error(err, cmd, "invalid option");
    }
  }
  return 0;
}

/* The user owning a container's state directory (computed here, not at
 * create: the name lookup loads NSS). */
static const char *owner_of(const char *root, const char *id)
{
  static char name[64];
  char path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof(path), "%s/%s", root, id);
  if (stat(path, &st) < 0)
    return "";
  struct passwd *pw = getpwuid(st.st_uid);
  if (pw)
    snprintf(name, sizeof(name), "%s", pw->pw_name);
  else
    snprintf(name, sizeof(name), "#%u", (unsigned)st.st_uid);
  return name;
}

static int cmd_list(const husk_global *g, int argc, char **argv, husk_err *err)
{
  bool json = false, quiet = false;
  int r = parse_format(argc, argv, "list", &json, &quiet, err);
  if (r != 0)
    return r < 0 ? r : 0;
  json_object *arr = json_object_new_array();
  DIR *d = opendir(g->root);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.')
        continue;
      husk_state *st = NULL;
      husk_err ignore;
      if (husk_state_load(g->root, e->d_name, &st, &ignore) < 0)
        continue;
      husk_status s = husk_state_status(g->root, st);
      json_object *o = json_object_new_object();
      json_object_object_add(o, "ociVersion",
                             json_object_new_string(st->oci_version ? st->oci_version : ""));
      json_object_object_add(o, "id", json_object_new_string(st->id));
      json_object_object_add(o, "pid", json_object_new_int(s == HUSK_STATUS_STOPPED ? 0 : st->pid));
      json_object_object_add(o, "status", json_object_new_string(husk_status_name(s)));
      json_object_object_add(o, "bundle", json_object_new_string(st->bundle ? st->bundle : ""));
      json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs ? st->rootfs : ""));
      json_object_object_add(o, "created", json_object_new_string(st->created ? st->created : ""));
      json_object_object_add(o, "owner", json_object_new_string(owner_of(g->root, e->d_name)));
      json_object_array_add(arr, o);
      husk_state_free(st);
    }
    closedir(d);
  }
  size_t n = json_object_array_length(arr);
  if (json) {
    printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
  } else if (quiet) {
    for (size_t i = 0; i < n; i++)
      printf("%s\n", json_object_get_string(
                         json_object_object_get(json_object_array_get_idx(arr, i), "id")));
  } else {
    int w = 2;
    for (size_t i = 0; i < n; i++) {
      int l = (int)strlen(
          json_object_get_string(json_object_object_get(json_object_array_get_idx(arr, i), "id")));
      if (l > w)
        w = l;
    }
    printf("%-*s   %-8s %-10s %-40s %-32s %s\n", w, "ID", "PID", "STATUS", "BUNDLE", "CREATED",
           "OWNER");
    for (size_t i = 0; i < n; i++) {
      json_object *o = json_object_array_get_idx(arr, i);
#define F(k) json_object_get_string(json_object_object_get(o, k))
      printf("%-*s   %-8s %-10s %-40s %-32s %s\n", w, F("id"), F("pid"), F("status"), F("bundle"),
             F("created"), F("owner"));
#undef F
    }
  }
  json_object_put(arr);
  return 0;
}

static int cmd_ps(const husk_global *g, int argc, char **argv, husk_err *err)
{
  bool json = false;
  int r = parse_format(argc, argv, "ps", &json, NULL, err);
  if (r != 0)
    return r < 0 ? r : 0;
  const char *id = NULL;
  if (need_id(argc, argv, "ps", &id, err) < 0)
    return -EINVAL;
  _cleanup_state_ husk_state *st = NULL;
  if ((r = husk_state_load(g->root, id, &st, err)) < 0)
    return r;
  pid_t *pids = NULL;
  size_t n = 0;
  if (st->cgroup_path) {
    husk_cgroup *cg = NULL;
    if ((r = husk_cgroup_open(st->cgroup_path, &cg, err)) < 0)
      return r;
    r = husk_cgroup_pids(cg, &pids, &n, err);
    husk_cgroup_free(cg);
    if (r < 0)
      return r;
  } else if (husk_state_status(g->root, st) != HUSK_STATUS_STOPPED) {
    pids = husk_xmalloc(sizeof(pid_t));
    pids[0] = st->pid;
    n = 1;
  }
  if (json) {
    printf("[");
    for (size_t i = 0; i < n; i++)
      printf("%s%d", i ? "," : "", (int)pids[i]);
    printf("]\n");
    free(pids);
    return 0;
  }
  /* table: run ps with the given arguments (default -ef) and keep our rows */
  char *args[64] = {"ps"};
  int na = 1;
  if (optind >= argc)
    args[na++] = "-ef";
  for (int i = optind; i < argc && na < 62; i++)
    args[na++] = argv[i];
  args[na] = NULL;
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) {
    free(pids);
    return husk_errorf(err, errno, "pipe");
  }
  pid_t child = fork();
  if (child == 0) {
    dup2(pfd[1], 1);
    execvp("ps", args);
    _exit(127);
  }
  close(pfd[1]);
  FILE *f = fdopen(pfd[0], "r");
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (f && fgets(line, sizeof(line), f)) {
    if (header) {
      fputs(line, stdout);
      char tmp[4096];
      snprintf(tmp, sizeof(tmp), "%s", line);
      int col = 0;
      for (char *save, *t = strtok_r(tmp, " \t\n", &save); t;
           t = strtok_r(NULL, " \t\n", &save), col++)
        if (strcmp(t, "PID") == 0)
          pid_col = col;
      header = false;
      continue;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", line);
    int col = 0;
    for (char *save, *t = strtok_r(tmp, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save), col++) {
      if (col != pid_col)
        continue;
      int p = atoi(t);
      for (size_t i = 0; i < n; i++)
        if (pids[i] == p)
          fputs(line, stdout);
      break;
    }
  }
  if (f)
    fclose(f);
  waitpid(child, NULL, 0);
  free(pids);
  if (pid_col < 0)
    return husk_errorf_plain(err, EINVAL, "ps: no PID column in the output of ps");
  return 0;
}

/* ---- spec / features ------------------------------------------------------------------ */

static int cmd_spec(const husk_global *g, int argc, char **argv, husk_err *err)
{
  (void)g;
  static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                       {"rootless", no_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  const char *bundle = ".";
  bool rootless = false;
  int c;
  while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
    if (c == 'b')
      bundle = optarg;
    else if (c == 'r')
      rootless = true;
    else if (c == 'h') {
      printf("Usage: husk oci spec [--bundle DIR] [--rootless]\n  writes DIR/config.json\n");
      return 0;
    } else
      return usage_error(err, "spec", "invalid option");
  }
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/config.json", bundle);
  _cleanup_free_ char *s = husk_spec_default_json(rootless);
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST)
      return husk_errorf_plain(err, EEXIST, "spec: %s already exists", path);
    return husk_errorf(err, errno, "spec: create %s", path);
  }
  if (husk_write_all(fd, s, strlen(s)) < 0 || husk_write_all(fd, "\n", 1) < 0)
    return husk_errorf(err, errno, "spec: write %s", path);
  return 0;
}

static json_object *str_array(const char *const *v)
{
  json_object *a = json_object_new_array();
  for (; *v; v++)
    json_object_array_add(a, json_object_new_string(*v));
  return a;
}

static int cmd_features(const husk_global *g, int argc, char **argv, husk_err *err)
{
  (void)g;
  (void)argc;
  (void)argv;
  (void)err;
  static const char *hooks[] = {
      "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
      NULL};
  static const char *mount_opts[] = {
      "async",         "atime",       "bind",     "defaults",   "dev",
      "diratime",      "dirsync",     "exec",     "mand",       "noatime",
      "nodev",         "nodiratime",  "noexec",   "nomand",     "norelatime",
      "nostrictatime", "nosuid",      "private",  "rbind",      "relatime",
      "remount",       "ro",          "rprivate", "rro",        "rshared",
      "rslave",        "runbindable", "rw",       "shared",     "slave",
      "strictatime",   "suid",        "sync",     "unbindable", NULL};
  static const char *namespaces[] = {"cgroup", "ipc",  "mount", "network", "pid",
                                     "time",   "user", "uts",   NULL};
  static const char *actions[] = {"SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
                                  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                  "SCMP_ACT_TRACE",        "SCMP_ACT_TRAP",        NULL};
  static const char *ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL};
  static const char *archs[] = {"SCMP_ARCH_X86_64",  "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};
  static const char *flags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                "SECCOMP_FILTER_FLAG_SPEC_ALLOW", NULL};
  json_object *o = json_object_new_object();
  json_object_object_add(o, "ociVersionMin", json_object_new_string("1.0.0"));
  json_object_object_add(o, "ociVersionMax", json_object_new_string("1.3.0"));
  json_object_object_add(o, "hooks", str_array(hooks));
  json_object_object_add(o, "mountOptions", str_array(mount_opts));
  json_object *lx = json_object_new_object();
  json_object_object_add(lx, "namespaces", str_array(namespaces));
  json_object *caps = json_object_new_array();
  for (int i = 0; i <= (int)cap_max_bits() - 1; i++) {
    char *n = cap_to_name((cap_value_t)i);
    if (n == NULL)
      continue;
    char upper[64];
    size_t k = 0;
    for (; n[k] && k < sizeof(upper) - 1; k++)
      upper[k] = (char)toupper((unsigned char)n[k]);
    upper[k] = '\0';
    cap_free(n);
    if (strncmp(upper, "CAP_", 4) == 0)
      json_object_array_add(caps, json_object_new_string(upper));
  }
  json_object_object_add(lx, "capabilities", caps);
  json_object *cg = json_object_new_object();
  json_object_object_add(cg, "v1", json_object_new_boolean(1));
  json_object_object_add(cg, "v2", json_object_new_boolean(1));
  json_object_object_add(cg, "systemd", json_object_new_boolean(0));
  json_object_object_add(cg, "systemdUser", json_object_new_boolean(0));
  json_object_object_add(lx, "cgroup", cg);
  json_object *sc = json_object_new_object();
  json_object_object_add(sc, "enabled", json_object_new_boolean(1));
  json_object_object_add(sc, "actions", str_array(actions));
  json_object_object_add(sc, "operators", str_array(ops));
  json_object_object_add(sc, "archs", str_array(archs));
  json_object_object_add(sc, "knownFlags", str_array(flags));
  json_object_object_add(sc, "supportedFlags", str_array(flags));
  json_object_object_add(lx, "seccomp", sc);
  json_object *aa = json_object_new_object();
  json_object_object_add(
      aa, "enabled", json_object_new_boolean(access("/sys/kernel/security/apparmor", F_OK) == 0));
  json_object_object_add(lx, "apparmor", aa);
  json_object *se = json_object_new_object();
  json_object_object_add(se, "enabled", json_object_new_boolean(0));
  json_object_object_add(lx, "selinux", se);
  json_object_object_add(o, "linux", lx);
  json_object *ann = json_object_new_object();
  json_object_object_add(ann, "org.opencontainers.runc.checkpoint.enabled",
                         json_object_new_string("false"));
  json_object_object_add(ann, "io.github.husk.version", json_object_new_string(HUSK_VERSION));
  json_object_object_add(o, "annotations", ann);
  printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(o);
  return 0;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static const struct {
  const char *name;
  husk_cmd_fn fn;
  const char *help;
} commands[] = {
    {"create", cmd_create, "create a container (its process waits for start)"},
    {"start", cmd_start, "start the process of a created container"},
    {"run", cmd_run, "create and start a container, wait for it, delete it"},
    {"state", cmd_state, "print the state of a container as JSON"},
    {"kill", cmd_kill, "send a signal to the container's init (or --all)"},
    {"delete", cmd_delete, "delete a container and everything it holds"},
    {"exec", cmd_exec, "run a new process inside a container"},
    {"list", cmd_list, "list containers"},
    {"ps", cmd_ps, "show the processes of a container"},
    {"spec", cmd_spec, "write a default config.json"},
    {"features", cmd_features, "print the features husk supports as JSON"},
    {"update", husk_oci_cmd_update, "change the resource limits of a container"},
    {"pause", husk_oci_cmd_pause, "freeze every process of a container"},
    {"resume", husk_oci_cmd_resume, "thaw a paused container"},
    {"events", husk_oci_cmd_events, "print container statistics (--stats)"},
    {"stats", husk_oci_cmd_stats, "print memory, cpu and pids usage as JSON"},
};

static void oci_usage(FILE *f)
{
  fprintf(f, "Usage: husk oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID ...\n"
             "       husk-oci [GLOBAL OPTIONS] COMMAND ...   (runc-compatible)\n\n"
             "Global options:\n"
             "  --root DIR                state directory (default /run/husk; rootless:\n"
             "                            $XDG_RUNTIME_DIR/husk)\n"
             "  --log FILE                append errors and debug lines to FILE\n"
             "  --log-format text|json    format of --log lines\n"
             "  --debug                   more logging\n"
             "  --systemd-cgroup          accepted (cgroupfs is used)\n"
             "  --cgroup-manager M        cgroupfs (default), systemd, disabled\n"
             "  -v, --version             print the version\n\nCommands:\n");
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int husk_oci_main(int argc, char **argv)
{
  static const struct option opts[] = {{"root", required_argument, NULL, 'r'},
                                       {"log", required_argument, NULL, 'l'},
                                       {"log-format", required_argument, NULL, 'f'},
                                       {"debug", no_argument, NULL, 'D'},
                                       {"systemd-cgroup", no_argument, NULL, 's'},
                                       {"cgroup-manager", required_argument, NULL, 'm'},
                                       {"rootless", required_argument, NULL, 'R'},
                                       {"criu", required_argument, NULL, 'c'},
                                       {"version", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0, 0, 0, 0}};
  husk_global g = {.root = husk_default_state_root()};
  husk_err err = {0};
  const char *env_root = getenv("HUSK_ROOT");
  if (env_root && *env_root)
    g.root = env_root;
  int c;
  opterr = 0;
  optind = 0;
  while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
    switch (c) {
    case 'r':
      g.root = optarg;
      break;
    case 'l':
      g.log_path = optarg;
      break;
    case 'f':
      if (strcmp(optarg, "json") == 0)
        g.log_json = true;
      else if (strcmp(optarg, "text") != 0) {
        husk_errorf_plain(&err, EINVAL, "invalid --log-format %s (text or json)", optarg);
        husk_cli_report(&g, &err);
        return 1;
      }
      break;
    case 'D':
      g.debug = true;
      break;
    case 's':
      g.cgroup_manager = "systemd";
      break;
    case 'm':
      if (strcmp(optarg, "cgroupfs") && strcmp(optarg, "systemd") && strcmp(optarg, "disabled")) {
        husk_errorf_plain(&err, EINVAL, "invalid --cgroup-manager %s", optarg);
        husk_cli_report(&g, &err);
        return 1;
      }
      g.cgroup_manager = optarg;
      break;
    case 'R':
    case 'c':
      break;
    case 'v':
      printf("husk version %s\nspec: 1.2.0\n", HUSK_VERSION);
      return 0;
    case 'h':
      oci_usage(stdout);
      return 0;
    default:
      husk_errorf_plain(&err, EINVAL, "unknown global option %s", argv[optind - 1]);
      husk_cli_report(&g, &err);
      return 1;
    }
  }
  if (optind >= argc) {
    oci_usage(stderr);
    return 1;
  }
  const char *cmd = argv[optind];
  if (strcmp(cmd, "help") == 0) {
    oci_usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(commands); i++) {
    if (strcmp(commands[i].name, cmd) != 0)
      continue;
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0;
    if (g.debug) {
      char line[512];
      snprintf(line, sizeof(line), "husk %s invoked", cmd);
      husk_cli_log(&g, "debug", line);
    }
    int r = commands[i].fn(&g, sub_argc, sub_argv, &err);
    if (r < 0) {
      husk_cli_report(&g, &err);
      return 1;
    }
    return r;
  }
  husk_errorf_plain(&err, EINVAL, "unknown command %s (see husk oci --help)", cmd);
  husk_cli_report(&g, &err);
  return 1;
}
