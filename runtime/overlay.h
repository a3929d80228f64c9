/* overlayfs root filesystems (overlay.c). */
#ifndef HUSK_OVERLAY_H
#define HUSK_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct husk_overlay {
  char *const *layers; /* lower dirs, bottom layer first */
  size_t n_layers;
  const char *upper, *work; /* both or neither */
  bool volatile_upper;      /* no syncs: for containers removed on exit */
  bool userxattr;           /* user.overlay.* xattrs: mounted in a user namespace */
} husk_overlay;

/* Mount overlayfs at target. */
int husk_overlay_mount(const husk_overlay *ov, const char *target, husk_err *err);
/* path is on another filesystem than its parent (a mount point) */
bool husk_is_mount_point(const char *path);
/* Unmount target if it is a mount point (not an error when it is not). */
int husk_overlay_umount(const char *target, husk_err *err);

#endif
