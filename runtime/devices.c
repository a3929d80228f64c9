#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

static const struct {
  const char *name;
  unsigned major, minor;
} default_devices[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
  const char *name, *target;
} default_links[] = {
    {"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
};

/* Create one node named `name` in directory fd `dirfd` (already resolved
 * inside the root).  In a user namespace mknod is not allowed: bind the
 * host's node over an empty file instead. */
static int make_node(int dirfd, const char *name, const char *display, mode_t mode, dev_t dev,
                     bool userns, const char *host_path, husk_err *err)
{
  if (!userns) {
    if (mknodat(dirfd, name, mode, dev) == 0 || errno == EEXIST)
      return 0;
    if (errno != EPERM)
      return husk_errorf(err, errno, "mknod %s", display);
  }
  if (host_path == NULL)
    return husk_errorf(err, EPERM, "mknod %s", display);
  int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return husk_errorf(err, errno, "create %s", display);
  close(fd);
  _cleanup_close_ int target = openat(dirfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
  if (target < 0)
    return husk_errorf(err, errno, "open %s", display);
  char t[64];
  snprintf(t, sizeof(t), "/proc/self/fd/%d", target);
  if (mount(host_path, t, NULL, MS_BIND, NULL) < 0)
    return husk_errorf(err, errno, "bind %s on %s", host_path, display);
  return 0;
}

int husk_devices_setup(int rootfd, const husk_spec *spec, bool userns, bool dev_is_mount,
                       husk_err *err)
{
  mode_t old = umask(0);
  int ret = 0;
  if (dev_is_mount) {
    _cleanup_close_ int devfd = husk_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
    if (devfd < 0) {
      ret = husk_errorf(err, -devfd, "open /dev in the container");
      goto out;
    }
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(default_devices); i++) {
      char display[64], host[64];
      snprintf(display, sizeof(display), "/dev/%s", default_devices[i].name);
      snprintf(host, sizeof(host), "/dev/%s", default_devices[i].name);
      ret =
          make_node(devfd, default_devices[i].name, display, S_IFCHR | 0666,
                    makedev(default_devices[i].major, default_devices[i].minor), userns, host, err);
      if (ret < 0)
        goto out;
    }
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(default_links); i++) {
      if (symlinkat(default_links[i].target, devfd, default_links[i].name) < 0 && errno != EEXIST) {
        ret = husk_errorf(err, errno, "symlink /dev/%s", default_links[i].name);
        goto out;
      }
    }
    /* /dev/pts and /dev/shm usually come from the spec's mounts; make sure
     * the directories exist for images that expect them. */
    mkdirat(devfd, "pts", 0755);
    mkdirat(devfd, "shm", 01777);
  }

  for (size_t i = 0; i < spec->n_devices; i++) {
    const husk_device *d = &spec->devices[i];
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", d->path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash[1] == '\0') {
      ret = husk_errorf_plain(err, EINVAL, "linux.devices: invalid path %s", d->path);
      goto out;
    }
    const char *base = slash + 1;
    if (strcmp(base, "..") == 0 || strcmp(base, ".") == 0) {
      ret = husk_errorf_plain(err, EINVAL, "linux.devices: invalid path %s", d->path);
      goto out;
    }
    *slash = '\0';
    _cleanup_close_ int parent = -1;
    ret = husk_mkpath_in_root(rootfd, dir[0] ? dir : "/", false, &parent, err);
    if (ret < 0) {
      husk_error_wrap(err, "linux.devices %s", d->path);
      goto out;
    }
    _cleanup_close_ int pdir = openat(parent, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (pdir < 0) {
      ret = husk_errorf(err, errno, "linux.devices %s: parent is not a directory", d->path);
      goto out;
    }
    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    mode_t mode = type | (d->has_file_mode ? (d->file_mode & 07777) : 0666);
    dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
    char host[64];
    snprintf(host, sizeof(host), "/dev/char/%u:%u", (unsigned)d->major, (unsigned)d->minor);
    if (d->type == 'b')
      snprintf(host, sizeof(host), "/dev/block/%u:%u", (unsigned)d->major, (unsigned)d->minor);
    /* an existing node is replaced (runc semantics) */
    unlinkat(pdir, base, 0);
    ret = make_node(pdir, base, d->path, mode, dev, userns, d->type == 'p' ? NULL : host, err);
    if (ret < 0)
      goto out;
    if ((d->has_uid || d->has_gid) &&
        fchownat(pdir, base, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1,
                 AT_SYMLINK_NOFOLLOW) < 0 &&
        !userns) {
      ret = husk_errorf(err, errno, "chown %s", d->path);
      goto out;
    }
  }
out:
  umask(old);
  return ret;
}
