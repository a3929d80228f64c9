/* `husk run`: image + flags -> container record, overlay root, OCI spec, and
 * the same core as `husk oci` (foreground run, or the monitor for -d). */
#include "porcelain.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "ipam.h"
#include "mounts.h"
#include "spec.h"
#include "state.h"
#include "userns.h"
#include "util.h"

/* What a failed run must undo. */
typedef struct run_ctx {
  const husk_home *h;
  husk_store *store; /* may be NULL */
  bool held;
  char id[HUSK_ID_LEN + 1];
  char *name;
  char *dir;    /* containers/<id> */
  char *merged; /* containers/<id>/rootfs */
  int dirfd;
  bool mounted;
  char **new_volumes;
  husk_pnet net;
} run_ctx;

static void undo(run_ctx *c)
{
  husk_err e;
  /* a monitor that died after create leaves an init waiting for its start */
  husk_container_delete(c->h->state_root, c->id, true, &e);
  husk_pnet_close(&c->net);
  husk_pnet_release(c->h, c->id, c->net.mode);
  if (c->mounted && husk_overlay_umount(c->merged, &e) == 0)
    c->mounted = false;
  if (c->dir && !c->mounted) {
    _cleanup_free_ char *cdir = husk_containers_dir(c->h);
    _cleanup_close_ int fd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
      husk_rm_rf_at(fd, c->id, &e);
  }
  if (c->name)
    husk_name_release(c->h, c->name, c->id);
  if (c->held)
    husk_image_release(c->store, c->id, &e);
  for (char **v = c->new_volumes; v && *v; v++)
    husk_volume_remove(c->h, *v, &e);
}

/* docker's exit status of a container whose process could not be started */
static int start_failure_code(const husk_err *err)
{
  if (err->code == ENOENT)
    return 127;
  if (err->code == EACCES || err->code == ENOEXEC || err->code == EPERM)
    return 126;
  return 125;
}

/* A foreground container (not --rm) whose process could not be started stays,
 * like docker's, exited with that status and the error in State.Error; only
 * what it held at run time is released.  false: undo() it. */
static bool keep_failed(run_ctx *c, const husk_run_opts *o, husk_pctr *rec,
                        const husk_prun_result *res, const husk_err *err)
{
  if (o->detach || o->rm || !res->start_failed || rec == NULL ||
      husk_pctr_obj(rec, "Config") == NULL)
    return false;
  husk_err e;
  if (husk_pctr_lock(rec, &e) < 0)
    return false;
  husk_pnet_close(&c->net);
  husk_pctr_set(rec, "State.Error", json_object_new_string(err->msg));
  bool kept = husk_pctr_record_exit(rec, res->exit_code, &e) == 0;
  if (kept && husk_pctr_release(c->h, rec, &e) == 0)
    c->mounted = false;
  husk_pctr_unlock(rec);
  return kept;
}

static void ctx_free(run_ctx *c)
{
  free(c->name);
  free(c->dir);
  free(c->merged);
  husk_closep(&c->dirfd);
  husk_strv_free(c->new_volumes);
  husk_pnet_clear(&c->net);
}

static struct json_object *jstrv(char *const *v)
{
  if (v == NULL)
    return NULL;
  struct json_object *a = json_object_new_array();
  for (; *v; v++)
    json_object_array_add(a, json_object_new_string(*v));
  return a;
}

static struct json_object *jstr(const char *s)
{
  return s ? json_object_new_string(s) : NULL;
}

static struct json_object *network_settings(const husk_pnet *n, const husk_run_opts *o)
{
  struct json_object *ns = json_object_new_object();
  struct json_object *nets = json_object_new_object();
  struct json_object *ports = json_object_new_array();
  for (size_t i = 0; i < o->n_ports; i++) {
    char buf[64];
    json_object_array_add(
        ports, json_object_new_string(husk_port_map_str(&o->ports[i], buf, sizeof(buf))));
  }
  json_object_object_add(ns, "Ports", ports);
  if (n->attached) {
    json_object_object_add(ns, "IPAddress", json_object_new_string(n->ip));
    json_object_object_add(ns, "IPPrefixLen", json_object_new_int(n->prefix));
    json_object_object_add(ns, "Gateway", json_object_new_string(n->gateway));
    json_object_object_add(ns, "Bridge", json_object_new_string(n->bridge));
    struct json_object *one = json_object_new_object();
    json_object_object_add(one, "IPAddress", json_object_new_string(n->ip));
    json_object_object_add(one, "IPPrefixLen", json_object_new_int(n->prefix));
    json_object_object_add(one, "Gateway", json_object_new_string(n->gateway));
    json_object_object_add(nets, n->network, one);
  } else {
    json_object_object_add(ns, "IPAddress", json_object_new_string(""));
    json_object_object_add(nets, husk_net_mode_name(n->mode), json_object_new_object());
  }
  json_object_object_add(ns, "Networks", nets);
  return ns;
}

/* What every record starts with: Id, Name and the creation time (now). */
static struct json_object *record_head(const run_ctx *c)
{
  struct json_object *r = json_object_new_object();
  char now[64];
  husk_rfc3339_now(now, sizeof(now));
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  json_object_object_add(r, "Id", json_object_new_string(c->id));
  json_object_object_add(r, "Name", json_object_new_string(c->name));
  json_object_object_add(r, "Created", json_object_new_string(now));
  json_object_object_add(r, "CreatedNs",
                         json_object_new_int64((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec));
  return r;
}

static struct json_object *early_record(const run_ctx *c, const husk_run_opts *o)
{
  struct json_object *r = record_head(c);
  json_object_object_add(r, "ImageName", json_object_new_string(o->image ? o->image : ""));
  struct json_object *state = json_object_new_object();
  json_object_object_add(state, "Status", json_object_new_string("created"));
  json_object_object_add(state, "MonitorPid", json_object_new_int64(getpid()));
  json_object_object_add(state, "MonitorStartTime",
                         json_object_new_int64((int64_t)husk_pid_start_time(getpid())));
  json_object_object_add(r, "State", state);
  struct json_object *hc = json_object_new_object();
  json_object_object_add(
      hc, "NetworkMode",
      json_object_new_string(o->network_name ? o->network_name : husk_net_mode_name(o->network)));
  json_object_object_add(r, "HostConfig", hc);
  struct json_object *gd = json_object_new_object(), *gdd = json_object_new_object();
  json_object_object_add(gdd, "MergedDir", json_object_new_string(c->merged));
  json_object_object_add(gd, "Data", gdd);
  json_object_object_add(r, "GraphDriver", gd);
  return r;
}

/* The record: docker-inspect shaped, so `husk inspect` prints it as is. */
static struct json_object *make_record(const run_ctx *c, const husk_run_opts *o,
                                       const husk_image *img, struct json_object *spec,
                                       const husk_run_opts *resolved)
{
  struct json_object *r = record_head(c);

  struct json_object *proc = NULL, *args = NULL, *env = NULL, *cwd = NULL, *host = NULL;
  json_object_object_get_ex(spec, "process", &proc);
  json_object_object_get_ex(proc, "args", &args);
  json_object_object_get_ex(proc, "env", &env);
  json_object_object_get_ex(proc, "cwd", &cwd);
  json_object_object_get_ex(spec, "hostname", &host);
  size_t nargs = args ? json_object_array_length(args) : 0;
  json_object_object_add(r, "Path",
                         nargs ? json_object_get(json_object_array_get_idx(args, 0))
                               : json_object_new_string(""));
  struct json_object *rest = json_object_new_array();
  for (size_t i = 1; i < nargs; i++)
    json_object_array_add(rest, json_object_get(json_object_array_get_idx(args, i)));
  json_object_object_add(r, "Args", rest);

  struct json_object *state = json_object_new_object();
  json_object_object_add(state, "Status", json_object_new_string("created"));
  json_object_object_add(state, "Running", json_object_new_boolean(0));
  json_object_object_add(state, "Pid", json_object_new_int(0));
  json_object_object_add(state, "ExitCode", json_object_new_int(0));
  json_object_object_add(state, "StartedAt", json_object_new_string(""));
  json_object_object_add(state, "FinishedAt", json_object_new_string(""));
  json_object_object_add(state, "MonitorPid", json_object_new_int64(getpid()));
  json_object_object_add(state, "MonitorStartTime",
                         json_object_new_int64((int64_t)husk_pid_start_time(getpid())));
  json_object_object_add(r, "State", state);

  json_object_object_add(r, "Image", json_object_new_string(img->id ? img->id : ""));
  json_object_object_add(r, "ImageName", json_object_new_string(o->image ? o->image : ""));
  json_object_object_add(r, "ImageReference", jstr(img->reference));

  struct json_object *cfg = json_object_new_object();
  json_object_object_add(cfg, "Hostname", json_object_get(host));
  json_object_object_add(
      cfg, "User",
      json_object_new_string(o->user ? o->user : (img->config.user ? img->config.user : "")));
  json_object_object_add(cfg, "Env", json_object_get(env));
  json_object_object_add(cfg, "Cmd",
                         o->cmd && o->cmd[0] ? jstrv(o->cmd)
                                             : (o->has_entrypoint ? NULL : jstrv(img->config.cmd)));
  if (o->has_entrypoint) {
    struct json_object *ep = json_object_new_array();
    if (o->entrypoint && *o->entrypoint)
      json_object_array_add(ep, json_object_new_string(o->entrypoint));
    json_object_object_add(cfg, "Entrypoint", ep);
  } else {
    json_object_object_add(cfg, "Entrypoint", jstrv(img->config.entrypoint));
  }
  json_object_object_add(cfg, "WorkingDir", json_object_get(cwd));
  json_object_object_add(cfg, "Tty", json_object_new_boolean(o->tty));
  json_object_object_add(cfg, "OpenStdin", json_object_new_boolean(o->interactive));
  json_object_object_add(cfg, "Image", json_object_new_string(o->image ? o->image : ""));
  const char *stop = o->stop_signal ? o->stop_signal : img->config.stop_signal;
  json_object_object_add(cfg, "StopSignal", json_object_new_string(stop ? stop : "SIGTERM"));
  json_object_object_add(r, "Config", cfg);

  struct json_object *hc = json_object_new_object();
  json_object_object_add(hc, "AutoRemove", json_object_new_boolean(o->rm));
  json_object_object_add(hc, "ReadonlyRootfs", json_object_new_boolean(o->read_only));
  json_object_object_add(
      hc, "NetworkMode",
      json_object_new_string(o->network_name ? o->network_name : husk_net_mode_name(o->network)));
  json_object_object_add(hc, "Memory",
                         json_object_new_int64(o->has_memory ? (int64_t)o->memory : 0));
  json_object_object_add(hc, "MemorySwap",
                         json_object_new_int64(o->has_memory_swap ? o->memory_swap : 0));
  json_object_object_add(hc, "NanoCpus",
                         json_object_new_int64(o->has_cpus ? (int64_t)o->nano_cpus : 0));
  json_object_object_add(hc, "CpuQuota",
                         json_object_new_int64(o->has_cpus ? (int64_t)o->cpu_quota : 0));
  json_object_object_add(hc, "CpuPeriod",
                         json_object_new_int64(o->has_cpus ? (int64_t)o->cpu_period : 0));
  json_object_object_add(hc, "CpusetCpus",
                         json_object_new_string(o->cpuset_cpus ? o->cpuset_cpus : ""));
  json_object_object_add(hc, "PidsLimit",
                         json_object_new_int64(o->has_pids_limit ? o->pids_limit : 0));
  struct json_object *binds = json_object_new_array(), *tmpfs = json_object_new_object();
  struct json_object *mounts = json_object_new_array();
  for (size_t i = 0; i < resolved->n_volumes; i++) {
    const husk_volspec *v = &resolved->volumes[i];
    struct json_object *m = json_object_new_object();
    if (v->kind == HUSK_VOL_TMPFS) {
      json_object_object_add(tmpfs, v->destination,
                             json_object_new_string(v->options ? v->options : ""));
      json_object_object_add(m, "Type", json_object_new_string("tmpfs"));
      json_object_object_add(m, "Source", json_object_new_string(""));
    } else {
      _cleanup_free_ char *b =
          husk_xasprintf("%s:%s%s", v->kind == HUSK_VOL_NAMED ? v->name : v->source, v->destination,
                         v->readonly ? ":ro" : "");
      json_object_array_add(binds, json_object_new_string(b));
      json_object_object_add(m, "Type",
                             json_object_new_string(v->kind == HUSK_VOL_NAMED ? "volume" : "bind"));
      if (v->name)
        json_object_object_add(m, "Name", json_object_new_string(v->name));
      json_object_object_add(m, "Source", json_object_new_string(v->source));
      json_object_object_add(m, "Propagation", json_object_new_string(v->propagation));
    }
    json_object_object_add(m, "Destination", json_object_new_string(v->destination));
    json_object_object_add(m, "RW", json_object_new_boolean(!v->readonly));
    json_object_array_add(mounts, m);
  }
  json_object_object_add(hc, "Binds", binds);
  json_object_object_add(hc, "Tmpfs", tmpfs);
  json_object_object_add(r, "HostConfig", hc);
  json_object_object_add(r, "Mounts", mounts);

  struct json_object *gd = json_object_new_object(), *gdd = json_object_new_object();
  json_object_object_add(gd, "Name", json_object_new_string("overlay"));
  size_t lower_len = 1;
  for (size_t i = 0; i < img->n_layers; i++)
    lower_len += strlen(img->layers[i]) + 1;
  char *lower = husk_xcalloc(1, lower_len);
  for (size_t i = img->n_layers; i-- > 0;) {
    strcat(lower, img->layers[i]);
    if (i)
      strcat(lower, ":");
  }
  json_object_object_add(gdd, "LowerDir", json_object_new_string(lower));
  free(lower);
  _cleanup_free_ char *upper = husk_xasprintf("%s/upper", c->dir);
  _cleanup_free_ char *work = husk_xasprintf("%s/work", c->dir);
  json_object_object_add(gdd, "UpperDir", json_object_new_string(upper));
  json_object_object_add(gdd, "WorkDir", json_object_new_string(work));
  json_object_object_add(gdd, "MergedDir", json_object_new_string(c->merged));
  json_object_object_add(gd, "Data", gdd);
  json_object_object_add(r, "GraphDriver", gd);
  _cleanup_free_ char *log = husk_xasprintf("%s/ctr.log", c->dir);
  json_object_object_add(r, "NetworkSettings", network_settings(&c->net, o));
  json_object_object_add(r, "LogPath", json_object_new_string(o->detach ? log : ""));
  json_object_object_add(r, "BundlePath", json_object_new_string(c->dir));
  json_object_object_add(r, "StateRoot", json_object_new_string(c->h->state_root));
  return r;
}

/* /etc/hostname, /etc/hosts (and for host networking /etc/resolv.conf),
 * written into the container's upper layer. */
static int write_in_root(int rootfd, const char *path, const char *content, husk_err *err)
{
  struct open_how how = {.flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                         .mode = 0644,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, rootfd, path + 1, &how, sizeof(how));
  if (fd < 0 && (errno == ELOOP || errno == EISDIR || errno == ENOTDIR))
    return 0; /* the image made it something else: leave it */
  if (fd < 0)
    return husk_errorf(err, errno, "write %s in the container", path);
  int r = husk_write_all(fd, content, strlen(content));
  close(fd);
  if (r < 0)
    return husk_errorf(err, -r, "write %s in the container", path);
  return 0;
}

static int write_etc(int rootfd, const char *hostname, husk_net_mode mode, husk_err *err)
{
  _cleanup_close_ int etc = -1;
  if (husk_mkpath_in_root(rootfd, "/etc", false, &etc, err) < 0)
    return husk_error_ret(err);
  if (mode == HUSK_NET_HOST) {
    _cleanup_free_ char *hosts = NULL, *resolv = NULL;
    husk_err e;
    if (husk_read_file_at(AT_FDCWD, "/etc/hosts", &hosts, NULL, &e) == 0 &&
        write_in_root(rootfd, "/etc/hosts", hosts, err) < 0)
      return husk_error_ret(err);
    if (husk_read_file_at(AT_FDCWD, "/etc/resolv.conf", &resolv, NULL, &e) == 0 &&
        write_in_root(rootfd, "/etc/resolv.conf", resolv, err) < 0)
      return husk_error_ret(err);
  } else {
    _cleanup_free_ char *hosts = husk_xasprintf("127.0.0.1\tlocalhost\n"
                                                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                                "127.0.1.1\t%s\n",
                                                hostname);
    if (write_in_root(rootfd, "/etc/hosts", hosts, err) < 0)
      return husk_error_ret(err);
  }
  _cleanup_free_ char *hn = husk_xasprintf("%s\n", hostname);
  return write_in_root(rootfd, "/etc/hostname", hn, err);
}

static int check_sources(const husk_run_opts *o, husk_err *err)
{
  for (size_t i = 0; i < o->n_volumes; i++) {
    const husk_volspec *v = &o->volumes[i];
    struct stat st;
    if (v->kind == HUSK_VOL_BIND && stat(v->source, &st) < 0)
      return husk_errorf(err, errno, "volume source %s", v->source);
  }
  return 0;
}

/* Foreground: run through the core and record the exit.  (The record stays
 * "created": the core's state tells that it runs, and when.) */
static int run_foreground(run_ctx *c, const husk_run_opts *o, const husk_spec *spec, husk_pctr *rec,
                          husk_prun_result *res, husk_err *err)
{
  husk_create_opts co = {.root = c->h->state_root,
                         .id = c->id,
                         .bundle = c->dir,
                         .spec = spec,
                         .warn = o->warn,
                         .warn_arg = o->warn_arg};
  char started[64];
  husk_rfc3339_now(started, sizeof(started));
  int r = husk_container_run(&co, &res->exit_code, err);
  husk_pnet_close(&c->net);
  if (r < 0) {
    res->start_failed = true;
    return r;
  }
  husk_err e;
  if (husk_pctr_lock(rec, &e) < 0)
    return 0; /* removed meanwhile (rm -f) */
  if (o->rm) {
    husk_pctr_destroy(c->h, c->store, rec, &e);
  } else {
    husk_pctr_set(rec, "State.StartedAt", json_object_new_string(started));
    husk_pctr_record_exit(rec, res->exit_code, &e);
    husk_pctr_release(c->h, rec, &e);
  }
  c->mounted = false;
  husk_pctr_unlock(rec);
  return 0;
}

/* Everything up to a parsed spec and a saved record; c and the outputs tell
 * undo() what to remove on failure. */
static int prepare(run_ctx *c, const husk_run_opts *o, husk_run_opts *ro, const husk_image *img,
                   struct json_object **spec_doc, husk_spec **spec, husk_pctr **rec, husk_err *err)
{
  const husk_home *h = c->h;
  int r = husk_name_reserve(h, o->name, c->id, &c->name, err);
  if (r < 0)
    return r;
  if (c->store && img->id) {
    if ((r = husk_image_hold(c->store, img->id, c->id, err)) < 0)
      return husk_error_wrap(err, "hold image %s", o->image ? o->image : img->id);
    c->held = true;
  }
  _cleanup_free_ char *cdir = husk_containers_dir(h);
  c->dir = husk_xasprintf("%s/%s", cdir, c->id);
  c->merged = husk_xasprintf("%s/rootfs", c->dir);
  if (mkdir(c->dir, 0700) < 0)
    return husk_errorf(err, errno, "create %s", c->dir);
  c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c->dirfd < 0 || mkdirat(c->dirfd, "upper", 0755) < 0 || mkdirat(c->dirfd, "work", 0700) < 0 ||
      mkdirat(c->dirfd, "rootfs", 0755) < 0)
    return husk_errorf(err, errno, "create the directories of %s", c->dir);
  /* a first record before anything that needs undoing, so that `husk rm`
   * finds what a crashed husk run left */
  husk_pctr *p = husk_xcalloc(1, sizeof(*p));
  p->lockfd = -1;
  p->dirfd = dup(c->dirfd);
  memcpy(p->id, c->id, sizeof(c->id));
  *rec = p;
  p->doc = early_record(c, o);
  if ((r = husk_pctr_save(p, err)) < 0)
    return r;

  _cleanup_free_ char *upper = husk_xasprintf("%s/upper", c->dir);
  _cleanup_free_ char *work = husk_xasprintf("%s/work", c->dir);
  husk_overlay ov = {.layers = img->layers,
                     .n_layers = img->n_layers,
                     .upper = upper,
                     .work = work,
                     .volatile_upper = o->rm,
                     /* rootless: opaque dirs are user.overlay.* (see extract.c) */
                     .userxattr = husk_in_userns()};
  if ((r = husk_overlay_mount(&ov, c->merged, err)) < 0)
    return r;
  c->mounted = true;

  _cleanup_close_ int rootfd = open(c->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return husk_errorf(err, errno, "open %s", c->merged);

  /* named volumes: created on first use, filled from the image like docker's */
  for (size_t i = 0; i < ro->n_volumes; i++) {
    husk_volspec *v = &ro->volumes[i];
    if (v->kind != HUSK_VOL_NAMED)
      continue;
    bool created = false;
    if ((r = husk_volume_create(h, v->name, &created, err)) < 0)
      return r;
    if (created) {
      size_t n = husk_strv_len(c->new_volumes);
      c->new_volumes = husk_xrealloc(c->new_volumes, (n + 2) * sizeof(char *));
      c->new_volumes[n] = husk_xstrdup(v->name);
      c->new_volumes[n + 1] = NULL;
    }
    free(v->source);
    v->source = NULL;
    if ((r = husk_volume_path(h, v->name, &v->source, err)) < 0)
      return r;
    if (created && !v->nocopy) {
      int src = husk_open_in_root(rootfd, v->destination, O_RDONLY | O_DIRECTORY);
      if (src >= 0) {
        r = husk_volume_populate(src, v->source, err);
        close(src);
        if (r < 0)
          return husk_error_wrap(err, "volume %s", v->name);
      }
    }
  }

  /* the hostname: --hostname, the host's with --network host, else the short id */
  char hostbuf[65] = "";
  if (o->hostname)
    snprintf(hostbuf, sizeof(hostbuf), "%s", o->hostname);
  else if (o->network != HUSK_NET_HOST || gethostname(hostbuf, 64) < 0)
    snprintf(hostbuf, HUSK_SHORT_ID_LEN + 1, "%s", c->id);
  ro->hostname = hostbuf;

  husk_pnet_opts no = {.id = c->id,
                       .mode = o->network,
                       .network = o->network_name,
                       .name = c->name,
                       .hostname = hostbuf,
                       .ports = o->ports,
                       .n_ports = o->n_ports,
                       .dir = c->dir};
  if ((r = husk_pnet_prepare(h, &no, &c->net, err)) < 0)
    return r;

  husk_spec_input in = {.opts = ro,
                        .image = &img->config,
                        .id = c->id,
                        .rootfs = c->merged,
                        .rootfd = rootfd,
                        .netns_path = c->net.ns_path[0] ? c->net.ns_path : NULL,
                        .name = c->name,
                        .hosts_file = c->net.hosts_path,
                        .resolv_file = c->net.resolv_path,
                        .hostname_file = c->net.hostname_path};
  r = husk_pspec_build(&in, spec_doc, err);
  ro->hostname = o->hostname;
  if (r < 0)
    return r;

  /* the working directory exists (docker creates it) */
  struct json_object *proc = NULL, *cwd = NULL, *hostname = NULL;
  json_object_object_get_ex(*spec_doc, "process", &proc);
  json_object_object_get_ex(proc, "cwd", &cwd);
  json_object_object_get_ex(*spec_doc, "hostname", &hostname);
  if (cwd && strcmp(json_object_get_string(cwd), "/") != 0) {
    _cleanup_close_ int fd = -1;
    if ((r = husk_mkpath_in_root(rootfd, json_object_get_string(cwd), false, &fd, err)) < 0)
      return husk_error_wrap(err, "working directory");
  }
  if (o->network != HUSK_NET_BRIDGE && o->network != HUSK_NET_SLIRP &&
      (r = write_etc(rootfd, json_object_get_string(hostname), o->network, err)) < 0)
    return r;

  const char *txt = json_object_to_json_string_ext(*spec_doc, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
  size_t len = strlen(txt);
  if ((r = husk_spec_parse(txt, len, spec, err)) < 0)
    return husk_error_wrap(err, "generated spec");
  _cleanup_close_ int cfd =
      openat(c->dirfd, "config.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (cfd < 0 || (r = husk_write_all(cfd, txt, len)) < 0)
    return husk_errorf(err, cfd < 0 ? errno : -r, "write %s/config.json", c->dir);

  json_object_put(p->doc);
  p->doc = make_record(c, o, img, *spec_doc, ro);
  return husk_pctr_save(p, err);
}

int husk_prun(const husk_home *h, husk_store *store, const husk_run_opts *o, const husk_image *img,
              husk_prun_result *res, husk_err *err)
{
  memset(res, 0, sizeof(*res));
  int r = check_sources(o, err);
  if (r < 0)
    return r;
  if (img->n_layers == 0 || img->layers == NULL)
    return husk_errorf_plain(err, EINVAL, "image %s has no layers", o->image ? o->image : "");

  run_ctx c = {.h = h, .store = store, .dirfd = -1};
  husk_pnet_init(&c.net);
  c.new_volumes = husk_xcalloc(1, sizeof(char *));
  husk_id_generate(c.id);

  /* a copy of the options with the volume sources to resolve */
  husk_run_opts ro = *o;
  husk_volspec *vols = husk_xcalloc(o->n_volumes + 1, sizeof(husk_volspec));
  for (size_t i = 0; i < o->n_volumes; i++) {
    const husk_volspec *v = &o->volumes[i];
    vols[i] = *v;
    vols[i].name = v->name ? husk_xstrdup(v->name) : NULL;
    vols[i].source = v->source ? husk_xstrdup(v->source) : NULL;
    vols[i].destination = husk_xstrdup(v->destination);
    vols[i].propagation = v->propagation ? husk_xstrdup(v->propagation) : NULL;
    vols[i].options = v->options ? husk_xstrdup(v->options) : NULL;
  }
  ro.volumes = vols;

  struct json_object *spec_doc = NULL;
  husk_spec *spec = NULL;
  _cleanup_pctr_ husk_pctr *rec = NULL;
  r = prepare(&c, o, &ro, img, &spec_doc, &spec, &rec, err);
  if (r == 0) {
    memcpy(res->id, c.id, sizeof(c.id));
    if (o->detach) {
      husk_err warning = {0};
      husk_pmon_args ma = {.home = h,
                           .id = c.id,
                           .spec = spec,
                           .bundle = c.dir,
                           .net = &c.net,
                           .tty = o->tty,
                           .auto_remove = o->rm,
                           .warning = &warning};
      r = husk_pmon_spawn(&ma, err); /* on failure the monitor has removed it */
      if (r == 0 && warning.code && o->warn)
        o->warn(o->warn_arg, warning.msg);
      res->start_failed = r < 0;
    } else {
      r = run_foreground(&c, o, spec, rec, res, err);
    }
  }
  if (r < 0 && res->start_failed)
    res->exit_code = start_failure_code(err);
  if (r < 0 && !keep_failed(&c, o, rec, res, err))
    undo(&c);
  husk_spec_free(spec);
  if (spec_doc)
    json_object_put(spec_doc);
  for (size_t i = 0; i < o->n_volumes; i++)
    husk_volspec_clear(&vols[i]);
  free(vols);
  ctx_free(&c);
  return r;
}
