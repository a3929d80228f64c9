/* Per-container overlayfs root filesystems, mounted in the host namespace
 * (like podman), and a careful rm -rf for the container directory. */
#include "porcelain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_FLAG   0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* The new mount API: one lowerdir+ per layer, so no page-size limit on the
 * option string (kernel >= 6.8). */
static int overlay_fsconfig(char *const *layers, size_t n, const char *upper, const char *work,
                            bool vol, const char *target, husk_err *err)
{
  _cleanup_close_ int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return husk_errorf(err, errno, "fsopen overlay");
  for (size_t i = n; i-- > 0;) {
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i], 0) < 0)
      return husk_errorf(err, errno, "overlay: lowerdir+ %s", layers[i]);
  }
  if (upper && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0)
    return husk_errorf(err, errno, "overlay: upperdir %s", upper);
  if (work && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
    return husk_errorf(err, errno, "overlay: workdir %s", work);
  if (upper && vol && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
    return husk_errorf(err, errno, "overlay: volatile");
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return husk_errorf(err, errno, "create overlay");
  _cleanup_close_ int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
  if (mnt < 0)
    return husk_errorf(err, errno, "fsmount overlay");
  if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return husk_errorf(err, errno, "move overlay to %s", target);
  return 0;
}

static bool needs_escape(const char *s)
{
  return strpbrk(s, ",:\\") != NULL;
}

int husk_overlay_mount(char *const *layers, size_t n_layers, const char *upper, const char *work,
                       bool volatile_upper, const char *target, husk_err *err)
{
  if (n_layers == 0)
    return husk_errorf_plain(err, EINVAL, "image has no layers");
  /* one mount(2) call when the option string fits a page */
  size_t len = 64 + (upper ? strlen(upper) : 0) + (work ? strlen(work) : 0);
  bool escape = (upper && needs_escape(upper)) || (work && needs_escape(work));
  for (size_t i = 0; i < n_layers; i++) {
    len += strlen(layers[i]) + 1;
    escape = escape || needs_escape(layers[i]);
  }
  if (len >= 4000 || escape)
    return overlay_fsconfig(layers, n_layers, upper, work, volatile_upper, target, err);

  _cleanup_free_ char *opts = husk_xmalloc(len);
  size_t off = (size_t)snprintf(opts, len, "lowerdir=");
  for (size_t i = n_layers; i-- > 0;)
    off += (size_t)snprintf(opts + off, len - off, "%s%s", layers[i], i ? ":" : "");
  if (upper && work)
    off += (size_t)snprintf(opts + off, len - off, ",upperdir=%s,workdir=%s%s", upper, work,
                            volatile_upper ? ",volatile" : "");
  if (mount("overlay", target, "overlay", 0, opts) < 0) {
    int e = errno;
    if (e == EINVAL || e == ENAMETOOLONG) {
      husk_err e2 = {0};
      if (overlay_fsconfig(layers, n_layers, upper, work, volatile_upper, target, &e2) == 0)
        return 0;
    }
    return husk_errorf(err, e, "mount overlay on %s", target);
  }
  return 0;
}

static bool is_mount_point(const char *path)
{
  struct stat st, parent;
  char up[PATH_MAX];
  snprintf(up, sizeof(up), "%s/..", path);
  if (stat(path, &st) < 0 || stat(up, &parent) < 0)
    return false;
  return st.st_dev != parent.st_dev;
}

int husk_overlay_umount(const char *target, husk_err *err)
{
  for (int i = 0; i < 8; i++) {
    if (umount2(target, UMOUNT_NOFOLLOW) == 0)
      continue; /* stacked mounts: until it is no mount point */
    if (errno == EINVAL || errno == ENOENT)
      return 0;
    if (errno == EBUSY) {
      if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        continue;
    }
    if (errno == EINVAL || errno == ENOENT)
      return 0;
    return husk_errorf(err, errno, "unmount %s", target);
  }
  if (is_mount_point(target))
    return husk_errorf_plain(err, EBUSY, "unmount %s: still mounted", target);
  return 0;
}

static int rm_rf_dir(int dfd, dev_t dev, const char *path, int depth, husk_err *err)
{
  if (depth > 256)
    return husk_errorf_plain(err, ELOOP, "remove %s: too deep", path);
  int fd = dup(dfd);
  if (fd < 0)
    return husk_errorf(err, errno, "remove %s", path);
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return husk_errorf(err, errno, "remove %s", path);
  }
  int ret = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      ret = husk_errorf(err, errno, "remove %s/%s", path, e->d_name);
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        ret = husk_errorf_plain(err, EBUSY, "remove %s/%s: a file system is mounted there", path,
                                e->d_name);
        break;
      }
      _cleanup_close_ int sub =
          openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        /* overlay's work/work is mode 000; root gets in anyway, others may not */
        ret = husk_errorf(err, errno, "remove %s/%s", path, e->d_name);
        break;
      }
      char sp[PATH_MAX];
      snprintf(sp, sizeof(sp), "%s/%s", path, e->d_name);
      if ((ret = rm_rf_dir(sub, dev, sp, depth + 1, err)) < 0)
        break;
      if (unlinkat(dfd, e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        if (errno == EBUSY)
          ret = husk_errorf_plain(err, EBUSY, "remove %s: a file system is mounted there", sp);
        else
          ret = husk_errorf(err, errno, "remove %s", sp);
        break;
      }
    } else if (unlinkat(dfd, e->d_name, 0) < 0 && errno != ENOENT) {
      ret = husk_errorf(err, errno, "remove %s/%s", path, e->d_name);
      break;
    }
  }
  closedir(d);
  return ret;
}

int husk_rm_rf_at(int dirfd, const char *name, husk_err *err)
{
  struct stat st, parent;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : husk_errorf(err, errno, "remove %s", name);
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
      return husk_errorf(err, errno, "remove %s", name);
    return 0;
  }
  if (fstat(dirfd, &parent) == 0 && parent.st_dev != st.st_dev)
    return husk_errorf_plain(err, EBUSY, "remove %s: a file system is mounted there", name);
  _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "remove %s", name);
  int r = rm_rf_dir(fd, st.st_dev, name, 0, err);
  if (r < 0)
    return r;
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "remove %s", name);
  return 0;
}
