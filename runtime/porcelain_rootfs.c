/* A careful rm -rf for the container directory (the overlay mounts are in
 * overlay.c). */
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
