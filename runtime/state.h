/* Container state on disk: <root>/<id>/state.json, written atomically, and a
 * per-container lock serializing concurrent commands on one id. */
#ifndef HUSK_STATE_H
#define HUSK_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

typedef enum husk_status {
  HUSK_STATUS_CREATING,
  HUSK_STATUS_CREATED,
  HUSK_STATUS_RUNNING,
  HUSK_STATUS_PAUSED,
  HUSK_STATUS_STOPPED,
} husk_status;

typedef struct husk_state {
  char *id;
  char *bundle;      /* absolute */
  char *rootfs;      /* absolute */
  char *oci_version; /* of the config */
  pid_t pid;
  uint64_t pid_start_time; /* /proc/PID/stat field 22, guards against pid reuse */
  char *created;           /* RFC 3339 */
  char *owner;
  char *cgroup_path; /* husk_cgroup_path(), or NULL */
  husk_kv *annotations;
  size_t n_annotations;
  bool detached_exit_recorded;
  int exit_status; /* when known */
  bool has_exit_status;
  bool use_terminal;
} husk_state;

const char *husk_status_name(husk_status s);

/* The default state root: /run/husk for root; rootless $XDG_RUNTIME_DIR/husk,
 * else /run/user/UID/husk when that exists, else /tmp/husk-run-UID (the
 * state root must then be owned by the user, see husk_state_dir_open). */
const char *husk_default_state_root(void);

/* Validate a container id (no '/', not "." or "..", printable, <= 1024). */
int husk_validate_id(const char *id, husk_err *err);

int husk_state_dir_open(const char *root, const char *id, bool create, int *dirfd, husk_err *err);
int husk_state_save(int dirfd, const husk_state *st, husk_err *err);
int husk_state_load(const char *root, const char *id, husk_state **out, husk_err *err);
void husk_state_free(husk_state *st);
void husk_state_freep(husk_state **st);
#define _cleanup_state_ __attribute__((cleanup(husk_state_freep)))

/* Serialize to the OCI state JSON (ociVersion,id,status,pid,bundle,annotations). */
char *husk_state_to_json(const husk_state *st, husk_status status, bool pretty);
int husk_state_from_json(const char *json, husk_state **out, husk_err *err);

/* Current status from the pid, its start time, the exec fifo and the freezer. */
husk_status husk_state_status(const char *root, const husk_state *st);

/* Take an exclusive lock on <root>/<id>; returns a fd to close to release. */
int husk_state_lock(const char *root, const char *id, int *lockfd, husk_err *err);

/* Start time (clock ticks since boot) of pid from /proc, 0 when gone. */
uint64_t husk_pid_start_time(pid_t pid);

#endif
