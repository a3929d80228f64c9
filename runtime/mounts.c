#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices.h"
#include "util.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct husk_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

int husk_open_in_root(int rootfd, const char *path, int flags)
{
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  return fd < 0 ? -errno : (int)fd;
}

/* Create name in dirfd: an empty file or a directory; existing is fine. */
static int create_entry(int dirfd, const char *name, bool as_file)
{
  int r;
  if (as_file) {
    r = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (r >= 0)
      close(r);
  } else {
    r = mkdirat(dirfd, name, 0755);
  }
  return (r < 0 && errno != EEXIST) ? -errno : 0;
}

int husk_mkpath_in_root(int rootfd, const char *path, bool as_file, int *out, husk_err *err)
{
  int fd = husk_open_in_root(rootfd, path, O_PATH);
  if (fd >= 0) {
    *out = fd;
    return 0;
  }
  if (fd != -ENOENT)
    return husk_errorf(err, -fd, "resolve %s in the container root", path);

  /* Common case: only the last component is missing. */
  {
    char parent[PATH_MAX];
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
      plen--;
    const char *slash = memrchr(path, '/', plen);
    const char *base = slash ? slash + 1 : path;
    size_t blen = plen - (size_t)(base - path);
    if (blen > 0 && blen < NAME_MAX && !(blen == 2 && base[0] == '.' && base[1] == '.') &&
        !(blen == 1 && base[0] == '.') && (size_t)(base - path) < sizeof(parent)) {
      memcpy(parent, path, (size_t)(base - path));
      parent[base - path] = '\0';
      _cleanup_close_ int pfd =
          husk_open_in_root(rootfd, parent[0] ? parent : "/", O_PATH | O_DIRECTORY);
      if (pfd >= 0) {
        char name[NAME_MAX + 1];
        memcpy(name, base, blen);
        name[blen] = '\0';
        int r = create_entry(pfd, name, as_file);
        if (r < 0)
          return husk_errorf(err, -r, "create %s in the container root", path);
        fd = husk_open_in_root(rootfd, path, O_PATH);
        if (fd >= 0) {
          *out = fd;
          return 0;
        }
        if (fd == -ENOENT)
          return husk_errorf_plain(err, ENOENT, "%s in the container root is a dangling symlink",
                                   path);
        return husk_errorf(err, -fd, "resolve %s in the container root", path);
      }
    }
  }

  /* Walk and create one component at a time; each prefix is resolved inside
   * the root, so a symlink component cannot lead outside it. */
  size_t len = strlen(path);
  if (len >= PATH_MAX)
    return husk_errorf(err, ENAMETOOLONG, "%s", path);
  _cleanup_close_ int cur = husk_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
  if (cur < 0)
    return husk_errorf(err, -cur, "open container root");
  char prefix[PATH_MAX], comp[PATH_MAX];
  size_t i = 0;
  while (i < len) {
    while (i < len && path[i] == '/')
      i++;
    size_t start = i;
    while (i < len && path[i] != '/')
      i++;
    if (i == start)
      break;
    size_t end = i;
    while (i < len && path[i] == '/')
      i++;
    bool last = i >= len;
    memcpy(comp, path + start, end - start);
    comp[end - start] = '\0';
    if (strcmp(comp, ".") == 0 && !last)
      continue;
    memcpy(prefix, path, end);
    prefix[end] = '\0';
    int next = husk_open_in_root(rootfd, prefix, O_PATH);
    if (next == -ENOENT && strcmp(comp, "..") != 0 && strcmp(comp, ".") != 0) {
      int r = create_entry(cur, comp, last && as_file);
      if (r < 0)
        return husk_errorf(err, -r, "create %s in the container root", prefix);
      next = husk_open_in_root(rootfd, prefix, O_PATH);
      if (next == -ENOENT)
        return husk_errorf_plain(err, ENOENT, "%s in the container root is a dangling symlink",
                                 prefix);
    }
    if (next < 0)
      return husk_errorf(err, -next, "resolve %s in the container root", prefix);
    husk_closep(&cur);
    cur = next;
  }
  *out = husk_steal_fd(cur);
  return 0;
}

static int fd_path(int fd, char *buf, size_t len)
{
  snprintf(buf, len, "/proc/self/fd/%d", fd);
  return 0;
}

/* Flags that a bind remount must keep (the kernel refuses to clear locked
 * flags inherited from a more privileged mount namespace). */
static unsigned long locked_flags(const char *path)
{
  struct statvfs sv;
  if (statvfs(path, &sv) < 0)
    return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME)
    f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME)
    f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME)
    f |= MS_RELATIME;
  if (sv.f_flag & ST_RDONLY)
    f |= MS_RDONLY;
  return f;
}

static int set_recursive_ro(const char *target, husk_err *err)
{
  struct husk_mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
    return husk_errorf(err, errno, "make %s recursively read-only", target);
  return 0;
}

/* A destination whose ".." components climb above "/" is refused outright:
 * it can only be a mistake or an attack. */
static int check_destination(const char *dest, husk_err *err)
{
  if (dest == NULL || *dest == '\0')
    return husk_errorf_plain(err, EINVAL, "mount destination must not be empty");
  int depth = 0;
  const char *p = dest;
  while (*p) {
    while (*p == '/')
      p++;
    const char *s = p;
    while (*p && *p != '/')
      p++;
    size_t n = (size_t)(p - s);
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      if (--depth < 0)
        return husk_errorf_plain(err, EINVAL, "mount destination %s escapes the container root",
                                 dest);
    } else if (n > 0 && !(n == 1 && s[0] == '.')) {
      depth++;
    }
  }
  return 0;
}

static int do_bind_mount(const husk_rootfs *r, const husk_mount *m, husk_err *err)
{
  char src[PATH_MAX];
  if (m->source == NULL)
    return husk_errorf_plain(err, EINVAL, "mount %s: bind mount without a source", m->destination);
  if (m->source[0] == '/')
    snprintf(src, sizeof(src), "%s", m->source);
  else
    snprintf(src, sizeof(src), "%s/%s", r->bundle, m->source);
  struct stat st;
  if (stat(src, &st) < 0)
    return husk_errorf(err, errno, "mount %s on %s: stat source", src, m->destination);
  _cleanup_close_ int dst = -1;
  int ret = husk_mkpath_in_root(r->rootfd, m->destination, !S_ISDIR(st.st_mode), &dst, err);
  if (ret < 0)
    return husk_error_wrap(err, "mount %s", m->destination);
  char target[64];
  fd_path(dst, target, sizeof(target));
  unsigned long rec = (m->flags & MS_REC);
  if (mount(src, target, NULL, MS_BIND | rec, NULL) < 0)
    return husk_errorf(err, errno, "bind mount %s on %s", src, m->destination);
  /* Re-open the new mount so the remounts below apply to it, not to the
   * directory underneath. */
  husk_closep(&dst);
  dst = husk_open_in_root(r->rootfd, m->destination, O_PATH);
  if (dst < 0)
    return husk_errorf(err, -dst, "reopen %s after mounting", m->destination);
  fd_path(dst, target, sizeof(target));
  unsigned long want = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (want) {
    unsigned long keep = locked_flags(target) & ~m->clear;
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | want | keep, NULL) < 0)
      return husk_errorf(err, errno, "remount %s with its options", m->destination);
  }
  if (m->recursive_ro && set_recursive_ro(target, err) < 0)
    return husk_error_wrap(err, "mount %s", m->destination);
  if (m->propagation && mount(NULL, target, NULL, m->propagation, NULL) < 0)
    return husk_errorf(err, errno, "set propagation of %s", m->destination);
  return 0;
}

static int do_fs_mount(const husk_rootfs *r, const husk_mount *m, husk_err *err)
{
  _cleanup_close_ int dst = -1;
  int ret = husk_mkpath_in_root(r->rootfd, m->destination, false, &dst, err);
  if (ret < 0)
    return husk_error_wrap(err, "mount %s", m->destination);
  char target[64];
  fd_path(dst, target, sizeof(target));
  const char *type = m->type;
  if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
    ret = husk_cgroup_mount(r->cgroup_layout, target, m->flags, err);
    if (ret < 0)
      return husk_error_wrap(err, "mount cgroup on %s", m->destination);
    return 0;
  }
  unsigned long flags = m->flags & ~(MS_BIND | MS_REC);
  if (mount(m->source ? m->source : type, target, type, flags, m->data) < 0) {
    int e = errno;
    /* Without a network namespace of its own (or in a user namespace), sysfs
     * cannot be mounted: bind the host's like runc does. */
    if (strcmp(type, "sysfs") == 0 && (e == EPERM || e == EBUSY)) {
      if (mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0) {
        husk_closep(&dst);
        dst = husk_open_in_root(r->rootfd, m->destination, O_PATH);
        if (dst >= 0) {
          fd_path(dst, target, sizeof(target));
          mount(NULL, target, NULL,
                MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REC, NULL);
        }
        return 0;
      }
    }
    /* mqueue needs an ipc namespace of our own; skip it when joining the host's */
    if (strcmp(type, "mqueue") == 0 && (e == EPERM || e == EINVAL) &&
        !r->spec->ns[HUSK_NS_IPC].present)
      return 0;
    return husk_errorf(err, e, "mount %s on %s", type, m->destination);
  }
  if (m->propagation) {
    husk_closep(&dst);
    dst = husk_open_in_root(r->rootfd, m->destination, O_PATH);
    if (dst >= 0) {
      fd_path(dst, target, sizeof(target));
      if (mount(NULL, target, NULL, m->propagation, NULL) < 0)
        return husk_errorf(err, errno, "set propagation of %s", m->destination);
    }
  }
  return 0;
}

static bool mounts_dev(const husk_spec *spec, bool *bind)
{
  for (size_t i = 0; i < spec->n_mounts; i++) {
    const husk_mount *m = &spec->mounts[i];
    if (strcmp(m->destination, "/dev") == 0 || strcmp(m->destination, "/dev/") == 0) {
      *bind = m->bind;
      return true;
    }
  }
  *bind = false;
  return false;
}

int husk_rootfs_prepare(husk_rootfs *r, husk_err *err)
{
  const husk_spec *spec = r->spec;
  /* Keep our mounts from propagating back to the host. */
  unsigned long prop = MS_REC | MS_SLAVE;
  if (spec->rootfs_propagation & (MS_PRIVATE | MS_UNBINDABLE))
    prop = MS_REC | MS_PRIVATE;
  if (mount(NULL, "/", NULL, prop, NULL) < 0)
    return husk_errorf(err, errno, "make / %s", prop & MS_PRIVATE ? "private" : "slave");
  if (mount(r->rootfs, r->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return husk_errorf(err, errno, "bind mount rootfs %s", r->rootfs);
  r->rootfd = open(r->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r->rootfd < 0)
    return husk_errorf(err, errno, "open rootfs %s", r->rootfs);

  for (size_t i = 0; i < spec->n_mounts; i++) {
    const husk_mount *m = &spec->mounts[i];
    if (check_destination(m->destination, err) < 0)
      return -EINVAL;
    int ret = m->bind || m->type == NULL ? do_bind_mount(r, m, err) : do_fs_mount(r, m, err);
    if (ret < 0)
      return ret;
  }

  bool dev_bind;
  bool has_dev = mounts_dev(spec, &dev_bind);
  if (!dev_bind) {
    int ret = husk_devices_setup(r->rootfd, spec, r->userns, has_dev, err);
    if (ret < 0)
      return ret;
  }
  return 0;
}

int husk_rootfs_pivot(husk_rootfs *r, bool has_mount_ns, husk_err *err)
{
  if (fchdir(r->rootfd) < 0)
    return husk_errorf(err, errno, "chdir to rootfs %s", r->rootfs);
  if (!has_mount_ns) {
    if (chroot(".") < 0)
      return husk_errorf(err, errno, "chroot %s", r->rootfs);
    if (chdir("/") < 0)
      return husk_errorf(err, errno, "chdir /");
    return 0;
  }
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return husk_errorf(err, errno, "pivot_root %s", r->rootfs);
  /* The old root is now stacked on top of the new one: make it a slave so the
   * detach does not propagate to the host, then drop it lazily (cheap). */
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return husk_errorf(err, errno, "make old root slave");
  if (umount2(".", MNT_DETACH) < 0)
    return husk_errorf(err, errno, "detach old root");
  if (chdir("/") < 0)
    return husk_errorf(err, errno, "chdir /");
  husk_closep(&r->rootfd);
  r->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r->rootfd < 0)
    return husk_errorf(err, errno, "open new root");
  return 0;
}

static int mask_path(const char *path, husk_err *err)
{
  /* One stat to choose: a failed bind of /dev/null onto a directory costs
   * ~80 us in the kernel, a stat ~2 us.  Missing paths are skipped. */
  struct stat st;
  if (stat(path, &st) < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return 0;
    return husk_errorf(err, errno, "mask %s", path);
  }
  int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs",
                                      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0k")
                              : mount("/dev/null", path, NULL, MS_BIND, NULL);
  if (r < 0)
    return husk_errorf(err, errno, "mask %s", path);
  return 0;
}

static int readonly_path(const char *path, husk_err *err)
{
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
    if (errno == ENOENT)
      return 0;
    return husk_errorf(err, errno, "bind %s for read-only", path);
  }
  /* mount_setattr only adds MOUNT_ATTR_RDONLY: locked flags stay as they are */
  if (set_recursive_ro(path, err) < 0)
    return husk_error_wrap(err, "make %s read-only", path);
  return 0;
}

int husk_rootfs_finish(husk_rootfs *r, husk_err *err)
{
  const husk_spec *spec = r->spec;
  int ret;
  for (char **p = spec->masked_paths; p && *p; p++)
    if ((ret = mask_path(*p, err)) < 0)
      return ret;
  for (char **p = spec->readonly_paths; p && *p; p++)
    if ((ret = readonly_path(*p, err)) < 0)
      return ret;
  if (spec->root_readonly) {
    unsigned long keep = locked_flags("/");
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
      return husk_errorf(err, errno, "remount root read-only");
  }
  if (spec->rootfs_propagation && mount(NULL, "/", NULL, spec->rootfs_propagation, NULL) < 0)
    return husk_errorf(err, errno, "set rootfs propagation");
  return 0;
}

int husk_apply_sysctl(const husk_spec *spec, husk_err *err)
{
  for (size_t i = 0; i < spec->n_sysctl; i++) {
    const char *key = spec->sysctl[i].key;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
    if (n < 0 || (size_t)n >= sizeof(path) || strstr(key, ".."))
      return husk_errorf_plain(err, EINVAL, "linux.sysctl: invalid key %s", key);
    for (char *p = path + 10; *p; p++)
      if (*p == '.')
        *p = '/';
    const char *v = spec->sysctl[i].value;
    if (husk_write_file_at(AT_FDCWD, path, v, strlen(v), err) < 0)
      return husk_error_wrap(err, "linux.sysctl %s", key);
  }
  return 0;
}
