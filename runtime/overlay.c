/* overlayfs root filesystems: the porcelain's per-container roots (image
 * layers + a writable upper dir), mounted in the namespace husk runs in (the
 * host's, or rootless its own user and mount namespaces, see userns.h). */
#include "overlay.h"

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
static int overlay_fsconfig(const husk_overlay *ov, const char *target, husk_err *err)
{
  char *const *layers = ov->layers;
  size_t n = ov->n_layers;
  const char *upper = ov->upper, *work = ov->work;
  bool vol = ov->volatile_upper;
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
  if (ov->userxattr && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
    return husk_errorf(err, errno, "overlay: userxattr");
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

int husk_overlay_mount(const husk_overlay *ov, const char *target, husk_err *err)
{
  if (ov->n_layers == 0)
    return husk_errorf_plain(err, EINVAL, "image has no layers");
  const char *upper = ov->upper, *work = ov->work;
  /* one mount(2) call when the option string fits a page */
  size_t len = 80 + (upper ? strlen(upper) : 0) + (work ? strlen(work) : 0);
  bool escape = (upper && needs_escape(upper)) || (work && needs_escape(work));
  for (size_t i = 0; i < ov->n_layers; i++) {
    len += strlen(ov->layers[i]) + 1;
    escape = escape || needs_escape(ov->layers[i]);
  }
  if (len >= 4000 || escape)
    return overlay_fsconfig(ov, target, err);

  _cleanup_free_ char *opts = husk_xmalloc(len);
  size_t off = (size_t)snprintf(opts, len, "lowerdir=");
  for (size_t i = ov->n_layers; i-- > 0;)
    off += (size_t)snprintf(opts + off, len - off, "%s%s", ov->layers[i], i ? ":" : "");
  if (upper && work)
    off += (size_t)snprintf(opts + off, len - off, ",upperdir=%s,workdir=%s%s", upper, work,
                            ov->volatile_upper ? ",volatile" : "");
  if (ov->userxattr)
    off += (size_t)snprintf(opts + off, len - off, ",userxattr");
  if (mount("overlay", target, "overlay", 0, opts) < 0) {
    int e = errno;
    if (e == EINVAL || e == ENAMETOOLONG) {
      husk_err e2 = {0};
      if (overlay_fsconfig(ov, target, &e2) == 0)
        return 0;
    }
    return husk_errorf(err, e, "mount overlay on %s", target);
  }
  return 0;
}

bool husk_is_mount_point(const char *path)
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
  if (husk_is_mount_point(target))
    return husk_errorf_plain(err, EBUSY, "unmount %s: still mounted", target);
  return 0;
}
