/* The container's root filesystem: spec mounts, /dev, pivot_root, masked and
 * readonly paths.  Every destination is resolved inside the new root with
 * openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd/N, so symlinks
 * (or a rootfs changing under us) cannot redirect a mount outside the root. */
#ifndef HUSK_MOUNTS_H
#define HUSK_MOUNTS_H

#include <stdbool.h>

#include "cgroup.h"
#include "error.h"
#include "spec.h"

typedef struct husk_rootfs {
  const husk_spec *spec;
  const char *rootfs; /* absolute host path */
  const char *bundle; /* absolute; relative bind sources resolve against it */
  bool userns;        /* a new user namespace: bind host devices, no mknod */
  husk_cgroup_layout cgroup_layout;
  int rootfd; /* set by husk_rootfs_prepare */
} husk_rootfs;

/* Open `path` (absolute or relative, inside the root rootfd) with
 * openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS). Returns fd or -errno. */
int husk_open_in_root(int rootfd, const char *path, int flags);

/* Create the missing components of `path` inside rootfd (the last one as a
 * directory, or as an empty file when as_file), and return an O_PATH fd of it. */
int husk_mkpath_in_root(int rootfd, const char *path, bool as_file, int *out, husk_err *err);

/* Before pivot_root, in the new mount namespace: make / private (or slave),
 * bind the rootfs, perform the spec's mounts and create /dev. */
int husk_rootfs_prepare(husk_rootfs *r, husk_err *err);
/* pivot_root into the rootfs and lazily detach the old root (chroot without a
 * mount namespace). */
int husk_rootfs_pivot(husk_rootfs *r, bool has_mount_ns, husk_err *err);
/* After pivot_root: masked and readonly paths, readonly root, rootfsPropagation. */
int husk_rootfs_finish(husk_rootfs *r, husk_err *err);

/* Write linux.sysctl entries to /proc/sys (after pivot_root). */
int husk_apply_sysctl(const husk_spec *spec, husk_err *err);

#endif
