/* /dev inside the container: the default device nodes, linux.devices and
 * the standard symlinks. */
#ifndef HUSK_DEVICES_H
#define HUSK_DEVICES_H

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* rootfd: the container root (before pivot_root).  userns: bind-mount host
 * nodes instead of mknod.  dev_is_mount: /dev is a (tmpfs) mount of the spec,
 * so the default nodes and symlinks are created in it. */
int husk_devices_setup(int rootfd, const husk_spec *spec, bool userns, bool dev_is_mount,
                       husk_err *err);

#endif
