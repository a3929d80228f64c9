/* Rootless: the user's id ranges (/etc/subuid, /etc/subgid) and a user
 * namespace for the porcelain to be "root" in, like podman's rootless mode. */
#ifndef HUSK_USERNS_H
#define HUSK_USERNS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "spec.h"

/* True in a user namespace other than the initial one (uid_map is not the
 * identity), i.e. without real privileges on the host even as uid 0. */
bool husk_in_userns(void);
/* Not privileged on the host: euid != 0, or inside a user namespace. */
bool husk_rootless(void);

/* The maps of a rootless container: 0 -> the caller's uid (gid), and 1.. ->
 * the first range of the subuid (subgid) file for the user, when there is
 * one and newuidmap/newgidmap can use it.  path_subuid/path_subgid: NULL for
 * the system files (tests pass others).  Writes up to 2 entries each. */
void husk_rootless_idmaps(const char *path_subuid, const char *path_subgid, husk_idmap uid[2],
                          size_t *n_uid, husk_idmap gid[2], size_t *n_gid);

/* Parse one subuid-style file for the user (name or numeric uid):
 * returns the first range in *start and *count, or -ENOENT. */
int husk_subid_range(const char *path, const char *user, uid_t uid, uint32_t *start,
                     uint32_t *count);

/* Move the calling (single-threaded) process into a new user namespace
 * with husk_rootless_idmaps() (written by a helper child with newuidmap /
 * newgidmap), become uid/gid 0 there, and into a new mount namespace whose
 * mounts do not propagate back.  After this the porcelain can mount overlays
 * and chown files to the mapped ids; the host sees the user's own ids. */
int husk_userns_enter(husk_err *err);

#endif
