#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

const char *husk_status_name(husk_status s)
{
  switch (s) {
  case HUSK_STATUS_CREATING:
    return "creating";
  case HUSK_STATUS_CREATED:
    return "created";
  case HUSK_STATUS_RUNNING:
    return "running";
  case HUSK_STATUS_PAUSED:
    return "paused";
  case HUSK_STATUS_STOPPED:
    return "stopped";
  }
  return "unknown";
}

int husk_validate_id(const char *id, husk_err *err)
{
  if (id == NULL || *id == '\0')
    return husk_errorf_plain(err, EINVAL, "container id must not be empty");
  size_t len = strlen(id);
  if (len > 1024)
    return husk_errorf_plain(err, EINVAL, "container id is too long (%zu bytes)", len);
  if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
    return husk_errorf_plain(err, EINVAL, "invalid container id %s", id);
  for (const char *p = id; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.' || c == '+'))
      return husk_errorf_plain(err, EINVAL,
                               "invalid container id %s: only [A-Za-z0-9_.+-] are allowed", id);
  }
  return 0;
}

const char *husk_default_state_root(void)
{
  static char buf[4096];
  if (geteuid() == 0)
    return "/run/husk";
  if (buf[0])
    return buf;
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  char user_run[64];
  snprintf(user_run, sizeof(user_run), "/run/user/%u", (unsigned)geteuid());
  if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(buf) - 8)
    snprintf(buf, sizeof(buf), "%s/husk", xdg);
  else if (stat(user_run, &st) == 0 && st.st_uid == geteuid())
    snprintf(buf, sizeof(buf), "%s/husk", user_run);
  else
    snprintf(buf, sizeof(buf), "/tmp/husk-run-%u", (unsigned)geteuid());
  return buf;
}

int husk_state_dir_open(const char *root, const char *id, bool create, int *dirfd, husk_err *err)
{
  int r = husk_validate_id(id, err);
  if (r < 0)
    return r;
  if (create) {
    r = husk_mkdir_p(AT_FDCWD, root, 0700, err);
    if (r < 0)
      return husk_error_wrap(err, "create state root");
  }
  _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    if (errno == ENOENT && !create)
      return husk_errorf_plain(err, ENOENT, "container %s does not exist", id);
    return husk_errorf(err, errno, "open state root %s", root);
  }
  struct stat st;
  if (geteuid() != 0 && fstat(rootfd, &st) == 0 && st.st_uid != geteuid())
    return husk_errorf_plain(err, EPERM, "state root %s is owned by uid %u, not by you (uid %u)",
                             root, (unsigned)st.st_uid, (unsigned)geteuid());
  if (create && mkdirat(rootfd, id, 0700) < 0) {
    if (errno == EEXIST)
      return husk_errorf_plain(err, EEXIST, "container %s already exists", id);
    return husk_errorf(err, errno, "create state directory %s/%s", root, id);
  }
  int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return husk_errorf_plain(err, ENOENT, "container %s does not exist", id);
    return husk_errorf(err, errno, "open state directory %s/%s", root, id);
  }
  *dirfd = fd;
  return 0;
}

int husk_state_lock(const char *root, const char *id, int *lockfd, husk_err *err)
{
  int fd = -1;
  int r = husk_state_dir_open(root, id, false, &fd, err);
  if (r < 0)
    return r;
  if (flock(fd, LOCK_EX) < 0) {
    int e = errno;
    close(fd);
    return husk_errorf(err, e, "lock container %s", id);
  }
  *lockfd = fd;
  return 0;
}

static void put_str(json_object *o, const char *k, const char *v)
{
  if (v)
    json_object_object_add(o, k, json_object_new_string(v));
}

char *husk_state_to_json(const husk_state *st, husk_status status, bool pretty)
{
  json_object *o = json_object_new_object();
  put_str(o, "ociVersion", st->oci_version ? st->oci_version : "1.0.2");
  put_str(o, "id", st->id);
  put_str(o, "status", husk_status_name(status));
  json_object_object_add(o, "pid",
                         json_object_new_int(status == HUSK_STATUS_STOPPED ? 0 : st->pid));
  put_str(o, "bundle", st->bundle);
  json_object *ann = json_object_new_object();
  for (size_t i = 0; i < st->n_annotations; i++)
    json_object_object_add(ann, st->annotations[i].key,
                           json_object_new_string(st->annotations[i].value));
  json_object_object_add(o, "annotations", ann);
  /* husk-private fields (runc keeps similar ones in its own state file) */
  put_str(o, "rootfs", st->rootfs);
  put_str(o, "created", st->created);
  put_str(o, "owner", st->owner ? st->owner : "");
  json_object_object_add(o, "husk.pidStartTime", json_object_new_uint64(st->pid_start_time));
  put_str(o, "husk.cgroupPath", st->cgroup_path);
  if (st->has_exit_status)
    json_object_object_add(o, "husk.exitStatus", json_object_new_int(st->exit_status));
  if (st->use_terminal)
    json_object_object_add(o, "husk.terminal", json_object_new_boolean(1));
  char *s = husk_xstrdup(json_object_to_json_string_ext(
      o, (pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN) |
             JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(o);
  return s;
}

static char *get_str(json_object *o, const char *k)
{
  json_object *v;
  if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
    return NULL;
  return husk_xstrdup(json_object_get_string(v));
}

int husk_state_from_json(const char *json, husk_state **out, husk_err *err)
{
  json_object *o = json_tokener_parse(json);
  if (o == NULL || !json_object_is_type(o, json_type_object)) {
    if (o)
      json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "state.json is corrupt");
  }
  husk_state *st = husk_xcalloc(1, sizeof(*st));
  st->id = get_str(o, "id");
  st->bundle = get_str(o, "bundle");
  st->rootfs = get_str(o, "rootfs");
  st->oci_version = get_str(o, "ociVersion");
  st->created = get_str(o, "created");
  st->owner = get_str(o, "owner");
  st->cgroup_path = get_str(o, "husk.cgroupPath");
  json_object *v;
  if (json_object_object_get_ex(o, "pid", &v))
    st->pid = json_object_get_int(v);
  if (json_object_object_get_ex(o, "husk.pidStartTime", &v))
    st->pid_start_time = json_object_get_uint64(v);
  if (json_object_object_get_ex(o, "husk.exitStatus", &v)) {
    st->has_exit_status = true;
    st->exit_status = json_object_get_int(v);
  }
  if (json_object_object_get_ex(o, "husk.terminal", &v))
    st->use_terminal = json_object_get_boolean(v);
  if (json_object_object_get_ex(o, "annotations", &v) && json_object_is_type(v, json_type_object)) {
    size_t n = (size_t)json_object_object_length(v), i = 0;
    st->annotations = husk_xcalloc(n, sizeof(husk_kv));
    json_object_object_foreach(v, key, val)
    {
      st->annotations[i].key = husk_xstrdup(key);
      st->annotations[i].value = husk_xstrdup(json_object_get_string(val));
      i++;
    }
    st->n_annotations = i;
  }
  json_object_put(o);
  if (st->id == NULL) {
    husk_state_free(st);
    return husk_errorf_plain(err, EINVAL, "state.json has no id");
  }
  *out = st;
  return 0;
}

int husk_state_save(int dirfd, const husk_state *st, husk_err *err)
{
  _cleanup_free_ char *s = husk_state_to_json(st, HUSK_STATUS_CREATED, false);
  return husk_write_file_atomic(dirfd, "state.json", s, strlen(s), err);
}

int husk_state_load(const char *root, const char *id, husk_state **out, husk_err *err)
{
  _cleanup_close_ int dirfd = -1;
  int r = husk_state_dir_open(root, id, false, &dirfd, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *buf = NULL;
  r = husk_read_file_at(dirfd, "state.json", &buf, NULL, err);
  if (r < 0) {
    if (err && err->code == ENOENT)
      return husk_errorf_plain(err, ENOENT, "container %s does not exist", id);
    return husk_error_wrap(err, "container %s", id);
  }
  return husk_state_from_json(buf, out, err);
}

void husk_state_free(husk_state *st)
{
  if (st == NULL)
    return;
  free(st->id);
  free(st->bundle);
  free(st->rootfs);
  free(st->oci_version);
  free(st->created);
  free(st->owner);
  free(st->cgroup_path);
  for (size_t i = 0; i < st->n_annotations; i++) {
    free(st->annotations[i].key);
    free(st->annotations[i].value);
  }
  free(st->annotations);
  free(st);
}

void husk_state_freep(husk_state **st)
{
  if (st && *st) {
    husk_state_free(*st);
    *st = NULL;
  }
}

uint64_t husk_pid_start_time(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = husk_read_all(fd, buf, sizeof(buf));
  if (n <= 0)
    return 0;
  /* comm may contain spaces and parens: skip to the last ')' */
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] == '\0')
    return 0;
  p += 2; /* now at field 3 (state) */
  if (*p == 'Z' || *p == 'X')
    return 0; /* a zombie is a stopped container */
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p)
      p++;
  }
  if (p == NULL)
    return 0;
  return strtoull(p, NULL, 10);
}

husk_status husk_state_status(const char *root, const husk_state *st)
{
  if (st->pid <= 0)
    return HUSK_STATUS_STOPPED;
  uint64_t t = husk_pid_start_time(st->pid);
  if (t == 0 || (st->pid_start_time && t != st->pid_start_time))
    return HUSK_STATUS_STOPPED;
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s/exec.fifo", root, st->id);
  if (access(path, F_OK) == 0)
    return HUSK_STATUS_CREATED;
  if (st->cgroup_path) {
    husk_cgroup *cg = NULL;
    husk_err e;
    if (husk_cgroup_open(st->cgroup_path, &cg, &e) == 0) {
      bool frozen = husk_cgroup_is_frozen(cg);
      husk_cgroup_free(cg);
      if (frozen)
        return HUSK_STATUS_PAUSED;
    }
  }
  return HUSK_STATUS_RUNNING;
}
