/* Named volumes: volumes/<name>/_data with volume.json beside it.  They
 * outlive the containers that use them. */
#include "porcelain.h"

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

#include "util.h"

#define VOLUME_META "volume.json"

char *husk_volumes_dir(const husk_home *h)
{
  return husk_xasprintf("%s/volumes", h->data_root);
}

static int open_volumes_dir(const husk_home *h, bool create, husk_err *err)
{
  _cleanup_free_ char *dir = husk_volumes_dir(h);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create) {
    if (husk_mkdir_p(AT_FDCWD, dir, 0700, err) < 0)
      return husk_error_ret(err);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0)
    return errno == ENOENT ? -ENOENT : husk_errorf(err, errno, "open %s", dir);
  return fd;
}

/* A global lock over the volumes directory: create/remove vs. users. */
static int lock_volumes(int vdir, husk_err *err)
{
  int fd = dup(vdir);
  if (fd < 0)
    return husk_errorf(err, errno, "lock volumes");
  while (flock(fd, LOCK_EX) < 0) {
    if (errno != EINTR) {
      int e = errno;
      close(fd);
      return husk_errorf(err, e, "lock volumes");
    }
  }
  return fd;
}

int husk_volume_create(const husk_home *h, const char *name, bool *created, husk_err *err)
{
  *created = false;
  if (husk_volume_name_validate(name, err) < 0)
    return husk_error_ret(err);
  _cleanup_close_ int vdir = open_volumes_dir(h, true, err);
  if (vdir < 0)
    return vdir;
  _cleanup_close_ int lock = lock_volumes(vdir, err);
  if (lock < 0)
    return lock;
  struct stat st;
  char data[300];
  snprintf(data, sizeof(data), "%s/_data", name);
  if (fstatat(vdir, data, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
    return 0;
  if (mkdirat(vdir, name, 0700) < 0 && errno != EEXIST)
    return husk_errorf(err, errno, "create volume %s", name);
  if (mkdirat(vdir, data, 0755) < 0 && errno != EEXIST) {
    int e = errno;
    unlinkat(vdir, name, AT_REMOVEDIR);
    return husk_errorf(err, e, "create volume %s", name);
  }
  _cleanup_free_ char *dir = husk_volumes_dir(h);
  char now[64];
  husk_rfc3339_now(now, sizeof(now));
  struct json_object *meta = json_object_new_object();
  json_object_object_add(meta, "CreatedAt", json_object_new_string(now));
  json_object_object_add(meta, "Driver", json_object_new_string("local"));
  json_object_object_add(meta, "Labels", json_object_new_object());
  _cleanup_free_ char *mp = husk_xasprintf("%s/%s/_data", dir, name);
  json_object_object_add(meta, "Mountpoint", json_object_new_string(mp));
  json_object_object_add(meta, "Name", json_object_new_string(name));
  json_object_object_add(meta, "Options", json_object_new_object());
  json_object_object_add(meta, "Scope", json_object_new_string("local"));
  const char *txt = json_object_to_json_string_ext(
      meta, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
  _cleanup_close_ int one = openat(vdir, name, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  husk_err e;
  if (one >= 0)
    husk_write_file_atomic(one, VOLUME_META, txt, strlen(txt), &e); /* metadata only */
  json_object_put(meta);
  *created = true;
  return 0;
}

int husk_volume_path(const husk_home *h, const char *name, char **out, husk_err *err)
{
  if (husk_volume_name_validate(name, err) < 0)
    return husk_error_ret(err);
  _cleanup_free_ char *dir = husk_volumes_dir(h);
  _cleanup_free_ char *p = husk_xasprintf("%s/%s/_data", dir, name);
  struct stat st;
  if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
    return husk_errorf_plain(err, ENOENT, "no such volume: %s", name);
  *out = husk_steal_ptr(p);
  return 0;
}

/* ---- filling a new volume from the image ---- */

static int copy_file(int sfd, int dfd, husk_err *err, const char *name)
{
  for (;;) {
    ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, 1 << 30, 0);
    if (n == 0)
      return 0;
    if (n > 0)
      continue;
    if (errno == EINTR)
      continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return husk_errorf(err, errno, "copy %s into the volume", name);
    break;
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(sfd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return husk_errorf(err, errno, "copy %s into the volume", name);
    if (n == 0)
      return 0;
    int r = husk_write_all(dfd, buf, (size_t)n);
    if (r < 0)
      return husk_errorf(err, -r, "copy %s into the volume", name);
  }
}

static int copy_tree(int src, int dst, int depth, husk_err *err)
{
  if (depth > 128)
    return husk_errorf_plain(err, ELOOP, "copy into the volume: directories nested too deep");
  int fd = dup(src);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return husk_errorf(err, errno, "read a directory to copy into the volume");
  }
  int ret = 0;
  struct dirent *e;
  while (ret == 0 && (e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
      continue;
    struct stat st;
    if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    mode_t mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst, n, 0700) < 0) {
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
        break;
      }
      _cleanup_close_ int s2 = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      _cleanup_close_ int d2 = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s2 < 0 || d2 < 0) {
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
        break;
      }
      ret = copy_tree(s2, d2, depth + 1, err);
      if (ret == 0 && (fchown(d2, st.st_uid, st.st_gid) < 0 || fchmod(d2, mode) < 0))
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
    } else if (S_ISREG(st.st_mode)) {
      _cleanup_close_ int s2 = openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      _cleanup_close_ int d2 =
          openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (s2 < 0 || d2 < 0) {
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
        break;
      }
      ret = copy_file(s2, d2, err, n);
      if (ret == 0 && (fchown(d2, st.st_uid, st.st_gid) < 0 || fchmod(d2, mode) < 0))
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t len = readlinkat(src, n, target, sizeof(target) - 1);
      if (len < 0)
        continue;
      target[len] = '\0';
      if (symlinkat(target, dst, n) < 0 ||
          fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
    } else if (S_ISFIFO(st.st_mode)) {
      if (mkfifoat(dst, n, mode) < 0 ||
          fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        ret = husk_errorf(err, errno, "copy %s into the volume", n);
    }
    /* device nodes and sockets are not copied */
  }
  closedir(d);
  return ret;
}

int husk_volume_populate(int src, const char *data_path, husk_err *err)
{
  _cleanup_close_ int dst = open(data_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dst < 0)
    return husk_errorf(err, errno, "open %s", data_path);
  int r = copy_tree(src, dst, 0, err);
  if (r < 0)
    return r;
  /* the volume's root takes the directory's owner and mode, like docker */
  struct stat st;
  if (fstat(src, &st) == 0 &&
      (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0))
    return husk_errorf(err, errno, "set the owner of %s", data_path);
  return 0;
}

static bool record_uses(struct json_object *doc, const char *name)
{
  struct json_object *mounts = NULL;
  if (!json_object_object_get_ex(doc, "Mounts", &mounts) ||
      !json_object_is_type(mounts, json_type_array))
    return false;
  for (size_t i = 0; i < json_object_array_length(mounts); i++) {
    struct json_object *m = json_object_array_get_idx(mounts, i), *t = NULL, *n = NULL;
    if (json_object_object_get_ex(m, "Type", &t) && json_object_object_get_ex(m, "Name", &n) &&
        strcmp(json_object_get_string(t), "volume") == 0 &&
        strcmp(json_object_get_string(n), name) == 0)
      return true;
  }
  return false;
}

int husk_volume_users(const husk_home *h, const char *name, char ***ids, husk_err *err)
{
  _cleanup_strv_ char **all = NULL;
  int r = husk_pctr_list(h, &all, err);
  if (r < 0)
    return r;
  size_t n = 0;
  *ids = husk_xcalloc(husk_strv_len(all) + 1, sizeof(char *));
  for (char **i = all; *i; i++) {
    _cleanup_pctr_ husk_pctr *c = NULL;
    husk_err e;
    if (husk_pctr_open(h, *i, false, &c, &e) < 0)
      continue;
    if (record_uses(c->doc, name))
      (*ids)[n++] = husk_xstrdup(*i);
  }
  return 0;
}

int husk_volume_remove(const husk_home *h, const char *name, husk_err *err)
{
  if (husk_volume_name_validate(name, err) < 0)
    return husk_error_ret(err);
  _cleanup_close_ int vdir = open_volumes_dir(h, false, err);
  if (vdir == -ENOENT)
    return husk_errorf_plain(err, ENOENT, "no such volume: %s", name);
  if (vdir < 0)
    return vdir;
  _cleanup_close_ int lock = lock_volumes(vdir, err);
  if (lock < 0)
    return lock;
  struct stat st;
  if (fstatat(vdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
    return husk_errorf_plain(err, ENOENT, "no such volume: %s", name);
  _cleanup_strv_ char **users = NULL;
  int r = husk_volume_users(h, name, &users, err);
  if (r < 0)
    return r;
  if (users[0])
    return husk_errorf_plain(err, EBUSY, "volume %s is in use by container %.12s%s", name, users[0],
                             users[1] ? " and others" : "");
  return husk_rm_rf_at(vdir, name, err);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int husk_volume_list(const husk_home *h, char ***names, husk_err *err)
{
  *names = husk_xcalloc(1, sizeof(char *));
  int vdir = open_volumes_dir(h, false, err);
  if (vdir == -ENOENT)
    return 0;
  if (vdir < 0)
    return vdir;
  DIR *d = fdopendir(vdir);
  if (d == NULL) {
    close(vdir);
    return husk_errorf(err, errno, "list volumes");
  }
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    husk_err ignored;
    if (e->d_name[0] == '.' || husk_volume_name_validate(e->d_name, &ignored) < 0)
      continue;
    char data[300];
    snprintf(data, sizeof(data), "%s/_data", e->d_name);
    struct stat st;
    if (fstatat(dirfd(d), data, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
      continue;
    *names = husk_xrealloc(*names, (n + 2) * sizeof(char *));
    (*names)[n++] = husk_xstrdup(e->d_name);
    (*names)[n] = NULL;
  }
  closedir(d);
  qsort(*names, n, sizeof(char *), cmp_str);
  return 0;
}

int husk_volume_inspect(const husk_home *h, const char *name, struct json_object **out,
                        husk_err *err)
{
  _cleanup_free_ char *path = NULL;
  int r = husk_volume_path(h, name, &path, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *dir = husk_volumes_dir(h);
  _cleanup_free_ char *meta = husk_xasprintf("%s/%s/" VOLUME_META, dir, name);
  struct json_object *doc = json_object_from_file(meta);
  if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
    if (doc)
      json_object_put(doc);
    doc = json_object_new_object();
    json_object_object_add(doc, "Driver", json_object_new_string("local"));
    json_object_object_add(doc, "Labels", json_object_new_object());
    json_object_object_add(doc, "Options", json_object_new_object());
    json_object_object_add(doc, "Scope", json_object_new_string("local"));
  }
  json_object_object_add(doc, "Name", json_object_new_string(name));
  json_object_object_add(doc, "Mountpoint", json_object_new_string(path));
  *out = doc;
  return 0;
}
