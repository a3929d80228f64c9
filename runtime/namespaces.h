/* Namespaces: which to create, which to join by path, uid/gid maps and time
 * offsets. */
#ifndef HUSK_NAMESPACES_H
#define HUSK_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

typedef struct husk_ns_plan {
  int fds[HUSK_NS_COUNT]; /* namespaces to join (opened in the runtime), else -1 */
  int clone_flags;        /* CLONE_NEW* to create at clone time */
  int unshare_flags;      /* CLONE_NEW* the init unshares itself (cgroup, or after a user join) */
} husk_ns_plan;

/* Open the namespace paths of the spec, check their types, and work out the
 * flags.  Closes everything on failure. */
int husk_ns_plan_init(const husk_spec *spec, husk_ns_plan *plan, husk_err *err);
void husk_ns_plan_close(husk_ns_plan *plan);

/* In the runtime, before clone: enter the pid and time namespaces for the
 * children (setns/unshare only affect children for these two), and write
 * linux.timeOffsets. */
int husk_ns_prepare_parent(const husk_spec *spec, husk_ns_plan *plan, husk_err *err);

/* In the runtime, after clone: write uid_map/gid_map of the child. */
int husk_ns_write_idmaps(pid_t pid, const husk_spec *spec, husk_err *err);
/* The same for explicit maps.  Unprivileged callers write a map of only their
 * own id themselves (denying setgroups for gid_map) and use newuidmap /
 * newgidmap (Debian's uidmap) for anything else. */
int husk_ns_write_maps(pid_t pid, const husk_idmap *uid, size_t n_uid, const husk_idmap *gid,
                       size_t n_gid, husk_err *err);

/* In the init: join the namespaces opened by path (user first), then unshare
 * what has to be created after joining. */
int husk_ns_join_child(husk_ns_plan *plan, husk_err *err);

#endif
