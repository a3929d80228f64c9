/* `husk gc`: find and remove what faults left behind (see porcelain_gc.h).
 *
 * Passes, in order:
 *   containers  every containers/<id>: with no record (older than min_age):
 *               the directory; with a record whose runner (foreground husk
 *               run or monitor) is gone and whose init does not run: its
 *               runtime state, cgroup, overlay mount and network, and the
 *               whole container when it was --rm, half made, or being removed
 *   names       containers/.names entries of missing containers
 *   holds       image holds of missing containers
 *   leases      IPAM leases of missing containers that nothing holds
 *   oci         state-root directories of creates that never finished (and
 *               with --oci every stopped container)
 *   store       image-store temp files, and blobs and layers no image uses */
#include "porcelain_gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "image.h"
#include "ipam.h"
#include "network.h"
#include "state.h"
#include "util.h"

typedef struct gc_ctx {
  const husk_home *h;
  const husk_gc_opts *o;
  husk_gc_report_fn report;
  void *arg;
  husk_err first; /* the first failure */
  int ret;
  time_t now;
  husk_lease *leases; /* every lease of the data root */
  size_t n_leases;
} gc_ctx;

static void removed(gc_ctx *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void removed(gc_ctx *g, const char *fmt, ...)
{
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (g->report)
    g->report(g->arg, false, line);
}

static void failed(gc_ctx *g, const husk_err *e)
{
  if (g->report)
    g->report(g->arg, true, e->msg);
  if (g->ret == 0) {
    g->first = *e;
    g->ret = husk_error_ret(e);
  }
}

/* Older than min_age (by mtime, without following symlinks)? */
static bool old_enough(const gc_ctx *g, int dirfd, const char *name)
{
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return false;
  return g->now - st.st_mtime >= g->o->min_age;
}

static bool exists_at(int dirfd, const char *name)
{
  struct stat st;
  return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Entries of a directory (NULL-terminated, possibly empty; NULL when it
 * cannot be read). */
static char **list_dir(int dirfd, const char *path)
{
  int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return NULL;
  }
  char **v = husk_xcalloc(1, sizeof(char *));
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      husk_strv_push(&v, e->d_name);
  closedir(d);
  return v;
}

static bool has_lease(const gc_ctx *g, const char *id)
{
  for (size_t i = 0; i < g->n_leases; i++)
    if (g->leases[i].container && strcmp(g->leases[i].container, id) == 0)
      return true;
  return false;
}

static void add_what(char *buf, size_t len, const char *what)
{
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, "%s%s", n ? ", " : "", what);
}

/* ---- containers --------------------------------------------------------------- */

static void gc_recordless(gc_ctx *g, int cdir, const char *id)
{
  if (!old_enough(g, cdir, id))
    return;
  husk_err e = {0};
  char merged[PATH_MAX];
  snprintf(merged, sizeof(merged), "%s/containers/%s/rootfs", g->h->data_root, id);
  if (husk_is_mount_point(merged) && husk_overlay_umount(merged, &e) < 0) {
    failed(g, &e);
    return;
  }
  if (husk_rm_rf_at(cdir, id, &e) < 0) {
    husk_error_wrap(&e, "container directory %s without a record", id);
    failed(g, &e);
    return;
  }
  removed(g,
          "removed container directory %.12s: it has no record (a husk run was killed while "
          "making it)",
          id);
}

static void gc_container(gc_ctx *g, int cdir, const char *id)
{
  const husk_home *h = g->h;
  _cleanup_pctr_ husk_pctr *c = NULL;
  husk_err e = {0};
  if (husk_pctr_open(h, id, true, &c, &e) < 0) {
    if (e.code == ENOENT)
      gc_recordless(g, cdir, id);
    return; /* unreadable record: not ours to judge */
  }
  if (husk_pctr_runner_alive(c))
    return;
  const char *status = husk_pctr_str(c, "State.Status");
  const char *name = husk_pctr_str(c, "Name");
  bool exited = status && strcmp(status, "exited") == 0;

  /* what the runtime still holds */
  char statedir[PATH_MAX];
  snprintf(statedir, sizeof(statedir), "%s/%s", h->state_root, id);
  struct stat sb;
  bool has_state = stat(statedir, &sb) == 0;
  _cleanup_state_ husk_state *st = NULL;
  husk_status core = HUSK_STATUS_STOPPED;
  if (has_state && husk_state_load(h->state_root, id, &st, &e) == 0)
    core = husk_state_status(h->state_root, st);
  if (core == HUSK_STATUS_RUNNING || core == HUSK_STATUS_PAUSED)
    return; /* it runs without its runner: `husk stop` / `husk rm -f` are for that */
  char cgpath[PATH_MAX];
  snprintf(cgpath, sizeof(cgpath), "%s", st && st->cgroup_path ? st->cgroup_path : "");
  if (!cgpath[0])
    snprintf(cgpath, sizeof(cgpath), "/husk/%s", id);
  husk_cgroup *cg = NULL;
  bool has_cgroup = husk_cgroup_open(cgpath, &cg, &e) == 0;
  pid_t *pids = NULL;
  size_t n_pids = 0;
  if (has_cgroup && husk_cgroup_pids(cg, &pids, &n_pids, &e) < 0)
    n_pids = 0;
  free(pids);
  if (!has_state && n_pids > 0) {
    husk_cgroup_free(cg);
    return; /* processes run without runtime state (a lost /run): leave them */
  }
  const char *merged = husk_pctr_str(c, "GraphDriver.Data.MergedDir");
  bool mounted = merged && husk_is_mount_point(merged);
  bool leased = has_lease(g, id);

  char what[256] = "";
  if (has_state)
    add_what(what, sizeof(what),
             core == HUSK_STATUS_CREATED ? "an init waiting for a start" : "runtime state");
  if (has_cgroup)
    add_what(what, sizeof(what), "cgroup");
  if (mounted)
    add_what(what, sizeof(what), "overlay mount");
  if (leased)
    add_what(what, sizeof(what), "network lease");

  /* a cgroup whose state is gone: husk_pctr_release() cannot find it */
  if (has_cgroup && !has_state && husk_cgroup_destroy(cg, &e) < 0)
    failed(g, &e);
  husk_cgroup_free(cg);

  bool half_made = husk_pctr_obj(c, "Config") == NULL;
  bool auto_remove = husk_pctr_bool(c, "HostConfig.AutoRemove");
  bool removing = status && strcmp(status, "removing") == 0;
  char label[160];
  snprintf(label, sizeof(label), "%.12s%s%s%s", id, name ? " (" : "", name ? name : "",
           name ? ")" : "");
  if (half_made || auto_remove || removing) {
    if (husk_pctr_destroy(h, NULL, c, &e) < 0) {
      husk_error_wrap(&e, "remove container %.12s", id);
      failed(g, &e);
      return;
    }
    removed(g, "removed container %s: %s%s%s", label,
            half_made  ? "its husk run was killed before it was set up"
            : removing ? "its husk rm was interrupted"
                       : "run with --rm, its husk run or monitor is gone",
            what[0] ? "; with its " : "", what);
    return;
  }
  if (has_state || mounted || leased) {
    if (husk_pctr_release(h, c, &e) < 0) {
      husk_error_wrap(&e, "release container %.12s", id);
      failed(g, &e);
      return;
    }
  }
  if (!exited) {
    husk_pctr_set(
        c, "State.Error",
        json_object_new_string("its husk run or monitor was killed: exit status unknown"));
    if (husk_pctr_record_exit(c, 255, &e) < 0) {
      failed(g, &e);
      return;
    }
  }
  if (what[0] || !exited)
    removed(g, "released container %s: %s%s%s", label, what[0] ? what : "",
            what[0] ? "" : "recorded as exited (255)",
            exited ? "" : " (its husk run or monitor is gone; kept for husk ps -a / husk rm)");
}

static void gc_containers(gc_ctx *g, int cdir)
{
  _cleanup_strv_ char **ids = list_dir(cdir, ".");
  for (char **p = ids; p && *p; p++) {
    struct stat st;
    if (!husk_is_full_id(*p) || fstatat(cdir, *p, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISDIR(st.st_mode))
      continue;
    gc_container(g, cdir, *p);
  }
}

/* ---- names, holds, leases -------------------------------------------------------- */

static void gc_names(gc_ctx *g, int cdir)
{
  _cleanup_close_ int nfd = openat(cdir, ".names", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (nfd < 0)
    return;
  _cleanup_strv_ char **names = list_dir(nfd, ".");
  for (char **p = names; p && *p; p++) {
    char target[HUSK_ID_LEN + 2];
    ssize_t n = readlinkat(nfd, *p, target, sizeof(target) - 1);
    if (n < 0)
      continue;
    target[n] = '\0';
    if (husk_is_full_id(target) && exists_at(cdir, target))
      continue;
    if (!old_enough(g, nfd, *p))
      continue;
    if (unlinkat(nfd, *p, 0) < 0 && errno != ENOENT) {
      husk_err e;
      husk_errorf(&e, errno, "remove the name %s", *p);
      failed(g, &e);
      continue;
    }
    removed(g, "removed name %s: its container %.12s does not exist", *p, target);
  }
}

static void gc_holds(gc_ctx *g, husk_store *s, int cdir)
{
  _cleanup_strv_ char **holders = list_dir(husk_store_dirfd(s), "holds");
  _cleanup_close_ int hfd = openat(husk_store_dirfd(s), "holds", O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (char **p = holders; hfd >= 0 && p && *p; p++) {
    husk_err e;
    if ((*p)[0] == '.' && strstr(*p, ".tmp.") && old_enough(g, hfd, *p)) {
      /* a hold being written (husk_write_file_atomic) by a husk run that died */
      if (unlinkat(hfd, *p, 0) == 0)
        removed(g, "removed half-written image hold %s", *p);
      continue;
    }
    if (!husk_is_full_id(*p) || exists_at(cdir, *p) || !old_enough(g, hfd, *p))
      continue;
    if (husk_image_release(s, *p, &e) < 0) {
      failed(g, &e);
      continue;
    }
    removed(g, "removed image hold of container %.12s: the container does not exist", *p);
  }
}

static void gc_leases(gc_ctx *g, int cdir)
{
  char **done = NULL;
  for (size_t i = 0; i < g->n_leases; i++) {
    const husk_lease *l = &g->leases[i];
    if (l->container == NULL || exists_at(cdir, l->container) || husk_lease_alive(l) ||
        husk_strv_has((const char *const *)done, l->container))
      continue;
    husk_err e;
    char ip[16];
    if (husk_net_teardown(g->h->data_root, l->container, &e) < 0) {
      failed(g, &e);
      continue;
    }
    husk_strv_push(&done, l->container);
    removed(g, "removed network lease %s (%s) of container %.12s: the container does not exist",
            husk_ip_str(l->addr, ip), l->network, l->container);
  }
  husk_strv_free(done);
  /* leases being written (husk_write_file_atomic) by a husk run that died */
  _cleanup_free_ char *nets = husk_xasprintf("%s/networks", g->h->data_root);
  _cleanup_strv_ char **names = list_dir(AT_FDCWD, nets);
  for (char **n = names; n && *n; n++) {
    _cleanup_free_ char *ldir = husk_xasprintf("%s/%s/leases", nets, *n);
    _cleanup_close_ int lfd = open(ldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_strv_ char **files = lfd >= 0 ? list_dir(lfd, ".") : NULL;
    for (char **f = files; f && *f; f++)
      if ((*f)[0] == '.' && strstr(*f, ".tmp.") && old_enough(g, lfd, *f) &&
          unlinkat(lfd, *f, 0) == 0)
        removed(g, "removed half-written network lease %s/%s", ldir, *f);
  }
}

/* ---- the OCI state root ---------------------------------------------------------- */

/* A bundle under <data root>/containers/: a porcelain container of ours (the
 * caller checked that its directory is gone). */
static bool is_our_bundle(const gc_ctx *g, const char *bundle)
{
  _cleanup_free_ char *prefix = husk_xasprintf("%s/containers/", g->h->data_root);
  size_t n = strlen(prefix);
  return strncmp(bundle, prefix, n) == 0 && husk_is_full_id(bundle + n);
}

static void gc_state_root(gc_ctx *g, int cdir)
{
  const char *root = g->h->state_root;
  _cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0)
    return;
  _cleanup_strv_ char **ids = list_dir(rfd, ".");
  for (char **p = ids; p && *p; p++) {
    const char *id = *p;
    if (id[0] == '.')
      continue; /* .seccomp-cache */
    if (cdir >= 0 && husk_is_full_id(id) && exists_at(cdir, id))
      continue; /* a porcelain container: the containers pass judged it */
    /* busy (a create, start or delete holds it): not debris */
    _cleanup_close_ int dfd = openat(rfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || flock(dfd, LOCK_EX | LOCK_NB) < 0)
      continue;
    _cleanup_state_ husk_state *st = NULL;
    husk_err e;
    const char *why = NULL;
    husk_status s = HUSK_STATUS_STOPPED;
    if (husk_state_load(root, id, &st, &e) < 0 || st->pid == 0) {
      if (old_enough(g, rfd, id))
        why = "a create that never finished";
    } else if ((s = husk_state_status(root, st)) != HUSK_STATUS_RUNNING &&
               s != HUSK_STATUS_PAUSED && st->bundle && is_our_bundle(g, st->bundle)) {
      why = "its porcelain container does not exist";
    } else if (g->o->oci && s == HUSK_STATUS_STOPPED) {
      why = "stopped (--oci)";
    }
    husk_closep(&dfd); /* delete takes the lock itself */
    if (why == NULL)
      continue;
    if (husk_container_delete(root, id, true, &e) < 0) {
      failed(g, &e);
      continue;
    }
    removed(g, "removed container state %s/%s: %s", root, id, why);
  }
}

/* ---- the image store -------------------------------------------------------------- */

static void gc_store(gc_ctx *g, husk_store *s)
{
  static const struct {
    const char *dir, *what;
  } dirs[] = {
      {"tmp", "store temp file"}, {"layers", "unused layer"}, {"blobs/sha256", "unused blob"}};
  char **before[HUSK_ARRAY_SIZE(dirs)];
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dirs); i++)
    before[i] = list_dir(husk_store_dirfd(s), dirs[i].dir);
  husk_err e;
  if (husk_store_gc(s, &e) < 0)
    failed(g, &e);
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dirs); i++) {
    for (char **p = before[i]; p && *p; p++) {
      char rel[PATH_MAX];
      snprintf(rel, sizeof(rel), "%s/%s", dirs[i].dir, *p);
      if (!exists_at(husk_store_dirfd(s), rel))
        removed(g, "removed %s %s", dirs[i].what, rel);
    }
    husk_strv_free(before[i]);
  }
}

int husk_gc(const husk_home *h, const husk_gc_opts *o, husk_gc_report_fn report, void *arg,
            husk_err *err)
{
  gc_ctx g = {.h = h, .o = o, .report = report, .arg = arg, .now = time(NULL)};
  husk_err e;
  if (husk_ipam_all_leases(h->data_root, &g.leases, &g.n_leases, &e) < 0) {
    failed(&g, &e);
    g.leases = NULL;
    g.n_leases = 0;
  }
  _cleanup_free_ char *cpath = husk_containers_dir(h);
  _cleanup_close_ int cdir = open(cpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cdir >= 0) {
    gc_containers(&g, cdir);
    gc_names(&g, cdir);
    /* again: the containers pass gave some back */
    husk_leases_free(g.leases, g.n_leases);
    g.leases = NULL;
    g.n_leases = 0;
    if (husk_ipam_all_leases(h->data_root, &g.leases, &g.n_leases, &e) == 0)
      gc_leases(&g, cdir);
  }
  gc_state_root(&g, cdir);
  husk_store *s = NULL;
  if (husk_store_open(h->data_root, &s, &e) < 0) {
    failed(&g, &e);
  } else {
    if (cdir >= 0)
      gc_holds(&g, s, cdir);
    gc_store(&g, s);
    husk_store_close(s);
  }
  husk_leases_free(g.leases, g.n_leases);
  if (g.ret < 0)
    *err = g.first;
  return g.ret;
}
