/* Resource control: one interface over cgroup v1, v2 and hybrid hosts.
 * Backends live in cgroup_v1.c and cgroup_v2.c; this header is the only
 * surface the rest of the runtime uses.  (Owned by the cgroups work, issue 3;
 * the signatures below are what the core calls.) */
#ifndef HUSK_CGROUP_H
#define HUSK_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct json_object;
struct husk_device; /* spec.h */

typedef enum husk_cgroup_layout {
  HUSK_CGROUP_UNKNOWN = 0,
  HUSK_CGROUP_V1,
  HUSK_CGROUP_V2,
  HUSK_CGROUP_HYBRID,
} husk_cgroup_layout;

/* linux.resources, parsed.  Opaque to the core. */
typedef struct husk_resources husk_resources;

int husk_resources_parse(struct json_object *obj, husk_resources **out, husk_err *err);
void husk_resources_free(husk_resources *r);

typedef struct husk_cgroup husk_cgroup;

typedef struct husk_cgroup_config {
  const char *id;                  /* container id */
  const char *cgroups_path;        /* linux.cgroupsPath or NULL (default /husk/<id>) */
  const husk_resources *resources; /* may be NULL */
  const char *manager; /* "cgroupfs" (default), "systemd" (treated as cgroupfs), "disabled" */
  bool rootless;       /* euid != 0 (uid 0 in a user namespace is detected on failure) */
  /* optional out: set (code != 0) when rootless and the cgroups are not
   * delegated, so the limits are ignored (the container runs without a
   * cgroup of its own) */
  husk_err *warning;
  /* linux.devices: when resources has device rules, these devices are allowed
   * after them, like runc (optional, may be NULL). */
  const struct husk_device *devices;
  size_t n_devices;
} husk_cgroup_config;

/* Detect the host layout (cheap: one statfs or two). */
husk_cgroup_layout husk_cgroup_detect(void);

/* Create the container's cgroup(s) and apply resources.  On failure nothing is
 * left behind.  *out is NULL when the manager is "disabled". */
int husk_cgroup_create(const husk_cgroup_config *cfg, husk_cgroup **out, husk_err *err);

/* Re-open an existing container cgroup from what husk_cgroup_path() returned. */
int husk_cgroup_open(const char *saved_path, husk_cgroup **out, husk_err *err);

/* The string to save in state to find the cgroup again. */
const char *husk_cgroup_path(const husk_cgroup *cg);

/* fd of the v2 cgroup directory for clone3(CLONE_INTO_CGROUP), or -1. */
int husk_cgroup_clone_fd(const husk_cgroup *cg);

/* Move pid into the cgroup (every hierarchy).  `skip_unified` is true when the
 * process was already placed in the v2 cgroup with CLONE_INTO_CGROUP. */
int husk_cgroup_enter(husk_cgroup *cg, pid_t pid, bool skip_unified, husk_err *err);

/* The same for the calling process itself, which must be single-threaded:
 * much cheaper on v1 (see cgroup.c).  Needs write access to the host's
 * cgroup files, so not from inside a new user namespace. */
int husk_cgroup_enter_self(husk_cgroup *cg, bool skip_unified, husk_err *err);

/* Mount the container's view of cgroups at `target` (a path or /proc/self/fd/N
 * of the destination inside the new root), called inside the container's mount
 * and cgroup namespaces before pivot_root.  flags are MS_RDONLY etc. */
int husk_cgroup_mount(husk_cgroup_layout layout, const char *target, unsigned long flags,
                      husk_err *err);

/* Kill everything left in the cgroup and remove it (retrying busy rmdir). */
int husk_cgroup_destroy(husk_cgroup *cg, husk_err *err);

int husk_cgroup_update(husk_cgroup *cg, const husk_resources *r, husk_err *err);
int husk_cgroup_freeze(husk_cgroup *cg, bool frozen, husk_err *err);
/* true when the freezer reports frozen. */
bool husk_cgroup_is_frozen(husk_cgroup *cg);
/* Pids in the cgroup (malloc'ed array). */
int husk_cgroup_pids(husk_cgroup *cg, pid_t **pids, size_t *n, husk_err *err);
/* memory/cpu/pids usage as a json object (caller puts it). */
int husk_cgroup_stats(husk_cgroup *cg, struct json_object **out, husk_err *err);

void husk_cgroup_free(husk_cgroup *cg);

#endif
