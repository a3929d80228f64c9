/* Container records: containers/<id>/container.json, the name index in
 * containers/.names, per-container flock, listing, status and removal. */
#include "porcelain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "state.h"
#include "util.h"

#define RECORD       "container.json"
#define NAMES        ".names"
#define NAME_MAX_LEN 128

/* ---- names and ids --------------------------------------------------------- */

static int validate_name(const char *what, const char *name, husk_err *err)
{
  if (name == NULL || *name == '\0')
    return husk_errorf_plain(err, EINVAL, "%s name must not be empty", what);
  size_t len = strlen(name);
  if (len > NAME_MAX_LEN)
    return husk_errorf_plain(err, EINVAL, "%s name %.40s... is too long (at most %d characters)",
                             what, name, NAME_MAX_LEN);
  bool ok = len >= 2;
  for (size_t i = 0; ok && i < len; i++) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
  }
  if (!ok)
    return husk_errorf_plain(err, EINVAL,
                             "invalid %s name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-]+ is allowed",
                             what, name);
  return 0;
}

int husk_container_name_validate(const char *name, husk_err *err)
{
  return validate_name("container", name, err);
}

int husk_volume_name_validate(const char *name, husk_err *err)
{
  return validate_name("volume", name, err);
}

void husk_id_generate(char out[HUSK_ID_LEN + 1])
{
  unsigned char raw[HUSK_ID_LEN / 2];
  size_t got = 0;
  while (got < sizeof(raw)) {
    ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* no getrandom: time and pid are unique enough on one host */
      uint64_t t = husk_now_ns() ^ ((uint64_t)getpid() << 32);
      for (size_t i = got; i < sizeof(raw); i++) {
        t = t * 6364136223846793005ULL + 1442695040888963407ULL;
        raw[i] = (unsigned char)(t >> 56);
      }
      break;
    }
    got += (size_t)n;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof(raw); i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[HUSK_ID_LEN] = '\0';
}

static bool is_hex(const char *s)
{
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

bool husk_is_full_id(const char *s)
{
  return s && strlen(s) == HUSK_ID_LEN && is_hex(s);
}

/* ---- directories ------------------------------------------------------------ */

char *husk_containers_dir(const husk_home *h)
{
  return husk_xasprintf("%s/containers", h->data_root);
}

static int open_containers_dir(const husk_home *h, bool create, husk_err *err)
{
  _cleanup_free_ char *dir = husk_containers_dir(h);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create) {
    if (husk_mkdir_p(AT_FDCWD, dir, 0700, err) < 0)
      return husk_error_ret(err);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0) {
    if (errno == ENOENT)
      return -ENOENT;
    return husk_errorf(err, errno, "open %s", dir);
  }
  return fd;
}

static bool container_exists(int cdir, const char *id)
{
  struct stat st;
  return fstatat(cdir, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---- name index -------------------------------------------------------------- */

static int read_name(int cdir, const char *name, char id[HUSK_ID_LEN + 1])
{
  char path[NAME_MAX_LEN + sizeof(NAMES) + 2];
  snprintf(path, sizeof(path), NAMES "/%s", name);
  char buf[HUSK_ID_LEN + 2];
  ssize_t n = readlinkat(cdir, path, buf, sizeof(buf));
  if (n < 0)
    return -errno;
  if (n != HUSK_ID_LEN)
    return -EINVAL;
  memcpy(id, buf, HUSK_ID_LEN);
  id[HUSK_ID_LEN] = '\0';
  return husk_is_full_id(id) ? 0 : -EINVAL;
}

static const char *const adjectives[] = {
    "brave",  "calm",   "eager",  "fancy", "gentle", "happy",  "jolly",  "keen",
    "lucid",  "merry",  "nimble", "proud", "quiet",  "rapid",  "sharp",  "tidy",
    "upbeat", "vivid",  "witty",  "zesty", "bold",   "crisp",  "dapper", "elated",
    "frosty", "gritty", "hardy",  "icy",   "jaunty", "lively", "mellow", "noble",
};
static const char *const nouns[] = {
    "acorn", "badger", "cedar",   "dingo", "ember",  "falcon", "gecko",  "heron",
    "ibis",  "jackal", "kestrel", "lemur", "marten", "newt",   "otter",  "panda",
    "quail", "raven",  "sable",   "tapir", "urchin", "vole",   "walrus", "yak",
    "zebra", "bison",  "coyote",  "dove",  "egret",  "ferret", "gopher", "husky",
};

static void random_name(char *buf, size_t len, unsigned attempt)
{
  unsigned char r[2];
  if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
    uint64_t t = husk_now_ns();
    r[0] = (unsigned char)t;
    r[1] = (unsigned char)(t >> 8);
  }
  const char *a = adjectives[r[0] % HUSK_ARRAY_SIZE(adjectives)];
  const char *n = nouns[r[1] % HUSK_ARRAY_SIZE(nouns)];
  if (attempt < 8)
    snprintf(buf, len, "%s_%s", a, n);
  else
    snprintf(buf, len, "%s_%s%u", a, n, attempt);
}

static int reserve_one(int namesfd, int cdir, const char *name, const char *id, husk_err *err)
{
  for (int tries = 0; tries < 2; tries++) {
    if (symlinkat(id, namesfd, name) == 0)
      return 0;
    if (errno != EEXIST)
      return husk_errorf(err, errno, "reserve container name %s", name);
    char other[HUSK_ID_LEN + 1];
    char path[NAME_MAX_LEN + sizeof(NAMES) + 2];
    snprintf(path, sizeof(path), NAMES "/%s", name);
    int r = read_name(cdir, name, other);
    if (r == 0 && container_exists(cdir, other))
      return husk_errorf_plain(err, EEXIST,
                               "the container name \"%s\" is already in use by container %.12s",
                               name, other);
    /* a stale entry (its container is gone): take it over */
    if (unlinkat(cdir, path, 0) < 0 && errno != ENOENT)
      return husk_errorf(err, errno, "remove stale name %s", name);
  }
  return husk_errorf_plain(err, EEXIST, "the container name \"%s\" is already in use", name);
}

int husk_name_reserve(const husk_home *h, const char *name, const char *id, char **out,
                      husk_err *err)
{
  if (name && husk_container_name_validate(name, err) < 0)
    return husk_error_ret(err);
  _cleanup_close_ int cdir = open_containers_dir(h, true, err);
  if (cdir < 0)
    return cdir == -ENOENT ? husk_errorf(err, ENOENT, "containers directory") : cdir;
  if (mkdirat(cdir, NAMES, 0700) < 0 && errno != EEXIST)
    return husk_errorf(err, errno, "create the container name index");
  _cleanup_close_ int namesfd = openat(cdir, NAMES, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (namesfd < 0)
    return husk_errorf(err, errno, "open the container name index");
  if (name) {
    int r = reserve_one(namesfd, cdir, name, id, err);
    if (r < 0)
      return r;
    *out = husk_xstrdup(name);
    return 0;
  }
  for (unsigned attempt = 0; attempt < 64; attempt++) {
    char buf[64];
    random_name(buf, sizeof(buf), attempt);
    husk_err e = {0};
    int r = reserve_one(namesfd, cdir, buf, id, &e);
    if (r == 0) {
      *out = husk_xstrdup(buf);
      return 0;
    }
    if (e.code != EEXIST) {
      *err = e;
      return r;
    }
  }
  return husk_errorf_plain(err, EEXIST, "could not pick a free container name");
}

void husk_name_release(const husk_home *h, const char *name, const char *id)
{
  if (name == NULL)
    return;
  husk_err e;
  _cleanup_close_ int cdir = open_containers_dir(h, false, &e);
  if (cdir < 0)
    return;
  char other[HUSK_ID_LEN + 1];
  if (read_name(cdir, name, other) == 0 && strcmp(other, id) == 0) {
    char path[NAME_MAX_LEN + sizeof(NAMES) + 2];
    snprintf(path, sizeof(path), NAMES "/%s", name);
    unlinkat(cdir, path, 0);
  }
}

/* ---- lookup -------------------------------------------------------------------- */

int husk_pctr_resolve(const husk_home *h, const char *ref, char id[HUSK_ID_LEN + 1], husk_err *err)
{
  if (ref == NULL || *ref == '\0')
    return husk_errorf_plain(err, EINVAL, "empty container name");
  _cleanup_close_ int cdir = open_containers_dir(h, false, err);
  if (cdir == -ENOENT)
    return husk_errorf_plain(err, ENOENT, "no such container: %s", ref);
  if (cdir < 0)
    return cdir;
  if (husk_is_full_id(ref) && container_exists(cdir, ref)) {
    memcpy(id, ref, HUSK_ID_LEN + 1);
    return 0;
  }
  if (strlen(ref) <= NAME_MAX_LEN && strchr(ref, '/') == NULL && ref[0] != '.' &&
      read_name(cdir, ref, id) == 0 && container_exists(cdir, id))
    return 0;
  if (is_hex(ref) && strlen(ref) < HUSK_ID_LEN) {
    int dfd = dup(cdir);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
      if (dfd >= 0)
        close(dfd);
      return husk_errorf(err, errno, "list containers");
    }
    size_t len = strlen(ref), found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (husk_is_full_id(e->d_name) && strncmp(e->d_name, ref, len) == 0) {
        if (found++ == 0)
          memcpy(id, e->d_name, HUSK_ID_LEN + 1);
      }
    }
    closedir(d);
    if (found == 1)
      return 0;
    if (found > 1)
      return husk_errorf_plain(err, EINVAL, "container id prefix %s is ambiguous (%zu matches)",
                               ref, found);
  }
  return husk_errorf_plain(err, ENOENT, "no such container: %s", ref);
}

void husk_pctr_free(husk_pctr *c)
{
  if (c == NULL)
    return;
  if (c->doc)
    json_object_put(c->doc);
  husk_closep(&c->lockfd);
  husk_closep(&c->dirfd);
  free(c);
}

void husk_pctr_freep(husk_pctr **c)
{
  if (c && *c) {
    husk_pctr_free(*c);
    *c = NULL;
  }
}

static int load_doc(husk_pctr *c, husk_err *err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  if (husk_read_file_at(c->dirfd, RECORD, &buf, &len, err) < 0) {
    if (err->code == ENOENT)
      return husk_errorf_plain(err, ENOENT, "no such container: %.12s", c->id);
    return husk_error_wrap(err, "container %.12s", c->id);
  }
  struct json_tokener *tok = json_tokener_new();
  struct json_object *doc = json_tokener_parse_ex(tok, buf, (int)len);
  enum json_tokener_error je = json_tokener_get_error(tok);
  json_tokener_free(tok);
  if (doc == NULL || je != json_tokener_success || !json_object_is_type(doc, json_type_object)) {
    if (doc)
      json_object_put(doc);
    return husk_errorf_plain(err, EINVAL, "container %.12s: corrupt %s", c->id, RECORD);
  }
  if (c->doc)
    json_object_put(c->doc);
  c->doc = doc;
  return 0;
}

int husk_pctr_lock(husk_pctr *c, husk_err *err)
{
  if (c->lockfd >= 0)
    return 0;
  int fd = dup(c->dirfd);
  if (fd < 0)
    return husk_errorf(err, errno, "lock container %.12s", c->id);
  /* dup shares the open file description: flock on it is the directory's lock */
  while (flock(fd, LOCK_EX) < 0) {
    if (errno != EINTR) {
      int e = errno;
      close(fd);
      return husk_errorf(err, e, "lock container %.12s", c->id);
    }
  }
  c->lockfd = fd;
  /* it may have been removed while we waited */
  if (faccessat(c->dirfd, RECORD, F_OK, 0) < 0) {
    husk_pctr_unlock(c);
    return husk_errorf_plain(err, ENOENT, "no such container: %.12s", c->id);
  }
  return load_doc(c, err);
}

void husk_pctr_unlock(husk_pctr *c)
{
  if (c->lockfd >= 0) {
    flock(c->lockfd, LOCK_UN);
    husk_closep(&c->lockfd);
  }
}

int husk_pctr_open(const husk_home *h, const char *id, bool lock, husk_pctr **out, husk_err *err)
{
  if (!husk_is_full_id(id))
    return husk_errorf_plain(err, EINVAL, "invalid container id %s", id);
  _cleanup_close_ int cdir = open_containers_dir(h, false, err);
  if (cdir == -ENOENT)
    return husk_errorf_plain(err, ENOENT, "no such container: %.12s", id);
  if (cdir < 0)
    return cdir;
  _cleanup_pctr_ husk_pctr *c = husk_xcalloc(1, sizeof(*c));
  c->lockfd = -1;
  memcpy(c->id, id, HUSK_ID_LEN + 1);
  /* O_RDONLY (not O_PATH): flock needs a real open file */
  c->dirfd = openat(cdir, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (c->dirfd < 0) {
    if (errno == ENOENT)
      return husk_errorf_plain(err, ENOENT, "no such container: %.12s", id);
    return husk_errorf(err, errno, "open container %.12s", id);
  }
  int r = lock ? husk_pctr_lock(c, err) : load_doc(c, err);
  if (r < 0)
    return r;
  *out = husk_steal_ptr(c);
  return 0;
}

int husk_pctr_get(const husk_home *h, const char *ref, bool lock, husk_pctr **out, husk_err *err)
{
  char id[HUSK_ID_LEN + 1];
  int r = husk_pctr_resolve(h, ref, id, err);
  if (r < 0)
    return r;
  r = husk_pctr_open(h, id, lock, out, err);
  if (r < 0 && err->code == ENOENT)
    return husk_errorf_plain(err, ENOENT, "no such container: %s", ref);
  return r;
}

int husk_pctr_save(husk_pctr *c, husk_err *err)
{
  const char *txt = json_object_to_json_string_ext(
      c->doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
  size_t len = strlen(txt);
  static const char tmp[] = RECORD ".tmp";
  _cleanup_close_ int fd =
      openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return husk_errorf(err, errno, "write the record of %.12s", c->id);
  if (husk_write_all(fd, txt, len) < 0 || husk_write_all(fd, "\n", 1) < 0) {
    int e = errno;
    unlinkat(c->dirfd, tmp, 0);
    return husk_errorf(err, e, "write the record of %.12s", c->id);
  }
  if (renameat(c->dirfd, tmp, c->dirfd, RECORD) < 0) {
    int e = errno;
    unlinkat(c->dirfd, tmp, 0);
    return husk_errorf(err, e, "write the record of %.12s", c->id);
  }
  return 0;
}

/* ---- fields -------------------------------------------------------------------- */

static struct json_object *walk(struct json_object *o, const char *path, bool create,
                                const char **last)
{
  char key[128];
  const char *p = path;
  for (;;) {
    const char *dot = strchr(p, '.');
    if (dot == NULL) {
      *last = p;
      return o;
    }
    size_t n = (size_t)(dot - p);
    if (n >= sizeof(key))
      return NULL;
    memcpy(key, p, n);
    key[n] = '\0';
    struct json_object *next = NULL;
    if (!json_object_object_get_ex(o, key, &next) || !json_object_is_type(next, json_type_object)) {
      if (!create)
        return NULL;
      next = json_object_new_object();
      json_object_object_add(o, key, next);
    }
    o = next;
    p = dot + 1;
  }
}

struct json_object *husk_pctr_obj(const husk_pctr *c, const char *path)
{
  const char *last = NULL;
  struct json_object *parent = c->doc ? walk(c->doc, path, false, &last) : NULL;
  struct json_object *v = NULL;
  if (parent == NULL || !json_object_object_get_ex(parent, last, &v))
    return NULL;
  return v;
}

const char *husk_pctr_str(const husk_pctr *c, const char *path)
{
  struct json_object *v = husk_pctr_obj(c, path);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t husk_pctr_int(const husk_pctr *c, const char *path, int64_t dflt)
{
  struct json_object *v = husk_pctr_obj(c, path);
  return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : dflt;
}

bool husk_pctr_bool(const husk_pctr *c, const char *path)
{
  struct json_object *v = husk_pctr_obj(c, path);
  return v && json_object_get_boolean(v);
}

void husk_pctr_set(husk_pctr *c, const char *path, struct json_object *v)
{
  if (c->doc == NULL)
    c->doc = json_object_new_object();
  const char *last = NULL;
  struct json_object *parent = walk(c->doc, path, true, &last);
  if (parent == NULL) {
    json_object_put(v);
    return;
  }
  json_object_object_add(parent, last, v);
}

const char *husk_pstatus_name(husk_pstatus s)
{
  switch (s) {
  case HUSK_P_CREATED:
    return "created";
  case HUSK_P_RUNNING:
    return "running";
  case HUSK_P_PAUSED:
    return "paused";
  case HUSK_P_EXITED:
    return "exited";
  case HUSK_P_REMOVING:
    return "removing";
  }
  return "unknown";
}

/* ---- listing -------------------------------------------------------------------- */

typedef struct entry {
  char *id;
  int64_t created;
} entry;

static int cmp_entry(const void *a, const void *b)
{
  const entry *x = a, *y = b;
  if (x->created != y->created)
    return x->created < y->created ? 1 : -1;
  return strcmp(x->id, y->id);
}

int husk_pctr_list(const husk_home *h, char ***ids, husk_err *err)
{
  *ids = husk_xcalloc(1, sizeof(char *));
  int cdir = open_containers_dir(h, false, err);
  if (cdir == -ENOENT)
    return 0;
  if (cdir < 0)
    return cdir;
  DIR *d = fdopendir(cdir);
  if (d == NULL) {
    close(cdir);
    return husk_errorf(err, errno, "list containers");
  }
  entry *v = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!husk_is_full_id(e->d_name))
      continue;
    int64_t created = 0;
    _cleanup_free_ char *buf = NULL;
    char path[HUSK_ID_LEN + sizeof(RECORD) + 2];
    snprintf(path, sizeof(path), "%s/" RECORD, e->d_name);
    husk_err ignored;
    if (husk_read_file_at(dirfd(d), path, &buf, NULL, &ignored) < 0)
      continue; /* being created or removed */
    struct json_object *doc = json_tokener_parse(buf), *ns = NULL;
    if (doc && json_object_object_get_ex(doc, "CreatedNs", &ns))
      created = json_object_get_int64(ns);
    if (doc)
      json_object_put(doc);
    v = husk_xrealloc(v, (n + 1) * sizeof(*v));
    v[n].id = husk_xstrdup(e->d_name);
    v[n].created = created;
    n++;
  }
  closedir(d);
  if (n)
    qsort(v, n, sizeof(*v), cmp_entry);
  free(*ids);
  *ids = husk_xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    (*ids)[i] = v[i].id;
  free(v);
  return 0;
}

/* ---- status ----------------------------------------------------------------------- */

bool husk_pctr_runner_alive(const husk_pctr *c)
{
  pid_t pid = (pid_t)husk_pctr_int(c, "State.MonitorPid", 0);
  uint64_t start = (uint64_t)husk_pctr_int(c, "State.MonitorStartTime", 0);
  if (pid <= 0)
    return false;
  uint64_t now = husk_pid_start_time(pid);
  return now != 0 && (start == 0 || now == start);
}

void husk_pctr_live_now(const husk_home *h, const husk_pctr *c, husk_plive *out)
{
  memset(out, 0, sizeof(*out));
  out->exit_code = -1;
  const char *st = husk_pctr_str(c, "State.Status");
  bool recorded_exit = st && strcmp(st, "exited") == 0;
  if (recorded_exit) {
    out->status = HUSK_P_EXITED;
    out->exit_code = (int)husk_pctr_int(c, "State.ExitCode", -1);
    out->exit_known = out->exit_code >= 0;
    return;
  }
  if (st && strcmp(st, "removing") == 0) {
    out->status = HUSK_P_REMOVING;
    return;
  }
  _cleanup_state_ husk_state *state = NULL;
  husk_err e;
  if (husk_state_load(h->state_root, c->id, &state, &e) == 0) {
    husk_status s = husk_state_status(h->state_root, state);
    out->pid = state->pid;
    snprintf(out->started, sizeof(out->started), "%s", state->created ? state->created : "");
    switch (s) {
    case HUSK_STATUS_CREATING:
    case HUSK_STATUS_CREATED:
      out->status = HUSK_P_CREATED;
      return;
    case HUSK_STATUS_RUNNING:
      out->status = HUSK_P_RUNNING;
      return;
    case HUSK_STATUS_PAUSED:
      out->status = HUSK_P_PAUSED;
      return;
    case HUSK_STATUS_STOPPED:
      out->pid = 0;
      out->status = HUSK_P_EXITED;
      return;
    }
  }
  /* no state in the core: being set up (its runner lives) or gone */
  if (st && strcmp(st, "created") == 0 &&
      (husk_pctr_runner_alive(c) || husk_pctr_int(c, "State.MonitorPid", 0) == 0)) {
    out->status = HUSK_P_CREATED;
    return;
  }
  out->status = HUSK_P_EXITED;
}

void husk_pctr_live(const husk_home *h, husk_pctr *c, husk_plive *out)
{
  husk_pctr_live_now(h, c, out);
  if (out->status != HUSK_P_EXITED || out->exit_known || !husk_pctr_runner_alive(c))
    return;
  /* gone, and its runner is about to record the exit code: wait for it */
  husk_pctr_wait_recorded(h, c->id, 2000);
  husk_err e;
  if (load_doc(c, &e) == 0)
    husk_pctr_live_now(h, c, out);
}

int husk_pctr_record_exit(husk_pctr *c, int code, husk_err *err)
{
  char now[64];
  husk_rfc3339_now(now, sizeof(now));
  husk_pctr_set(c, "State.Status", json_object_new_string("exited"));
  husk_pctr_set(c, "State.Running", json_object_new_boolean(0));
  husk_pctr_set(c, "State.Pid", json_object_new_int(0));
  husk_pctr_set(c, "State.ExitCode", json_object_new_int(code));
  husk_pctr_set(c, "State.FinishedAt", json_object_new_string(now));
  return husk_pctr_save(c, err);
}

static const char *record_path(const husk_pctr *c, const char *what, char *buf, size_t len)
{
  const char *p = husk_pctr_str(c, what);
  if (p == NULL)
    return NULL;
  snprintf(buf, len, "%s", p);
  return buf;
}

int husk_pctr_release(const husk_home *h, husk_pctr *c, husk_err *err)
{
  husk_err e = {0};
  int ret = 0;
  if (husk_container_delete(h->state_root, c->id, true, &e) < 0 && e.code != ENOENT) {
    *err = e;
    ret = husk_error_wrap(err, "delete the runtime state of %.12s", c->id);
  }
  char merged[PATH_MAX];
  if (record_path(c, "GraphDriver.Data.MergedDir", merged, sizeof(merged)) &&
      husk_overlay_umount(merged, &e) < 0 && ret == 0) {
    *err = e;
    ret = husk_error_ret(err);
  }
  const char *mode = husk_pctr_str(c, "HostConfig.NetworkMode");
  husk_net_mode m = HUSK_NET_NONE;
  const char *netname = NULL;
  husk_err ignored;
  if (mode && husk_net_mode_parse(mode, &m, &netname, &ignored) == 0)
    husk_pnet_release(h, c->id, m);
  return ret;
}

void husk_pctr_wait_recorded(const husk_home *h, const char *id, int timeout_ms)
{
  uint64_t deadline = husk_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
  for (;;) {
    _cleanup_pctr_ husk_pctr *c = NULL;
    husk_err e;
    if (husk_pctr_open(h, id, false, &c, &e) < 0)
      return; /* removed (--rm) */
    const char *st = husk_pctr_str(c, "State.Status");
    if (st && strcmp(st, "exited") == 0)
      return;
    if (!husk_pctr_runner_alive(c))
      return;
    if (husk_now_ns() >= deadline)
      return;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Bounded ($HUSK_KILL_TIMEOUT): a process SIGKILL cannot end is an error. */
static int kill_and_wait(const husk_home *h, husk_pctr *c, husk_err *err)
{
  int r = husk_container_kill_wait(h->state_root, c->id, -1, err);
  return r < 0 && err->code == ENOENT ? 0 : r; /* no runtime state: nothing runs */
}

int husk_pctr_remove(const husk_home *h, const char *id, bool force, husk_err *err)
{
  _cleanup_pctr_ husk_pctr *c = NULL;
  int r = husk_pctr_open(h, id, true, &c, err);
  if (r < 0)
    return r;
  husk_plive live;
  husk_pctr_live_now(h, c, &live);
  bool active = live.status == HUSK_P_RUNNING || live.status == HUSK_P_PAUSED ||
                (live.status == HUSK_P_CREATED && husk_pctr_runner_alive(c));
  if (active && !force)
    return husk_errorf_plain(err, EBUSY, "container %s is %s: stop it first or use rm -f",
                             husk_pctr_str(c, "Name") ? husk_pctr_str(c, "Name") : id,
                             husk_pstatus_name(live.status));
  if (active) {
    /* let its runner (husk run or the monitor) see the exit and record it */
    husk_pctr_unlock(c);
    if ((r = kill_and_wait(h, c, err)) < 0)
      return r;
    husk_pctr_wait_recorded(h, id, 5000);
    if ((r = husk_pctr_lock(c, err)) < 0)
      return err->code == ENOENT ? 0 : r; /* it was --rm */
  }
  husk_pctr_set(c, "State.Status", json_object_new_string("removing"));
  husk_err e;
  husk_pctr_save(c, &e);
  return husk_pctr_destroy(h, NULL, c, err);
}

int husk_pctr_destroy(const husk_home *h, husk_store *store, husk_pctr *c, husk_err *err)
{
  int r = husk_pctr_release(h, c, err);
  if (r < 0)
    return r;
  husk_name_release(h, husk_pctr_str(c, "Name"), c->id);
  husk_err e;
  husk_store *own = NULL;
  if (store == NULL && husk_store_open(h->data_root, &own, &e) == 0)
    store = own;
  if (store)
    husk_image_release(store, c->id, &e);
  husk_store_close(own);
  _cleanup_close_ int cdir = open_containers_dir(h, false, err);
  if (cdir < 0)
    return cdir == -ENOENT ? 0 : cdir;
  if ((r = husk_rm_rf_at(cdir, c->id, err)) < 0)
    return husk_error_wrap(err, "remove container %.12s", c->id);
  return 0;
}
