/* OCI runtime-spec config.json, parsed into plain C structs.
 *
 * Accepts any 1.x ociVersion.  Every field of the spec is recognised; a field
 * that husk does not implement yet makes the parse fail with an error naming
 * it.  Unknown (non-spec) fields are ignored as the spec requires. */
#ifndef HUSK_SPEC_H
#define HUSK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct json_object;
struct husk_resources; /* cgroup.h */
struct husk_seccomp;   /* seccomp.h */

typedef struct husk_idmap {
  uint32_t container_id, host_id, size;
} husk_idmap;

enum husk_ns_type {
  HUSK_NS_PID,
  HUSK_NS_NET,
  HUSK_NS_MOUNT,
  HUSK_NS_IPC,
  HUSK_NS_UTS,
  HUSK_NS_USER,
  HUSK_NS_CGROUP,
  HUSK_NS_TIME,
  HUSK_NS_COUNT
};

typedef struct husk_namespace {
  bool present;
  char *path; /* NULL: create a new one */
} husk_namespace;

typedef struct husk_mount {
  char *destination;
  char *type; /* may be NULL (bind) */
  char *source;
  char **options;            /* NULL terminated, as given */
  unsigned long flags;       /* MS_* to set */
  unsigned long clear;       /* MS_* flags explicitly cleared (rw, suid, ...) */
  unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (|MS_REC) */
  bool bind;                 /* bind or rbind */
  bool recursive_ro;         /* "rro" */
  char *data;                /* comma separated filesystem options, or NULL */
} husk_mount;

typedef struct husk_device {
  char *path;
  char type; /* 'c', 'b', 'u', 'p' */
  int64_t major, minor;
  uint32_t file_mode;
  bool has_file_mode;
  uint32_t uid, gid;
  bool has_uid, has_gid;
} husk_device;

typedef struct husk_rlimit {
  int resource; /* RLIMIT_* */
  uint64_t soft, hard;
} husk_rlimit;

typedef struct husk_caps {
  bool present; /* process.capabilities given */
  uint64_t bounding, effective, inheritable, permitted, ambient;
} husk_caps;

typedef struct husk_user {
  uint32_t uid, gid;
  bool has_umask;
  uint32_t umask;
  gid_t *additional_gids;
  size_t n_additional_gids;
} husk_user;

typedef struct husk_scheduler {
  bool present;
  int policy;
  int32_t nice;
  int32_t priority;
  uint64_t flags;
  uint64_t runtime, deadline, period;
} husk_scheduler;

typedef struct husk_process {
  bool terminal;
  unsigned console_height, console_width;
  char *cwd;
  char **args; /* NULL terminated */
  char **env;  /* NULL terminated */
  husk_user user;
  husk_caps caps;
  husk_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile;
  husk_scheduler scheduler;
  bool has_io_priority;
  int io_priority_class, io_priority_level;
  char *exec_cpu_affinity_initial, *exec_cpu_affinity_final;
} husk_process;

typedef struct husk_hook {
  char *path;
  char **args; /* NULL terminated, may be NULL */
  char **env;  /* NULL terminated, may be NULL */
  int timeout; /* seconds, 0 = none */
} husk_hook;

enum husk_hook_kind {
  HUSK_HOOK_PRESTART,
  HUSK_HOOK_CREATE_RUNTIME,
  HUSK_HOOK_CREATE_CONTAINER,
  HUSK_HOOK_START_CONTAINER,
  HUSK_HOOK_POSTSTART,
  HUSK_HOOK_POSTSTOP,
  HUSK_HOOK_KIND_COUNT
};

typedef struct husk_hooks {
  husk_hook *list[HUSK_HOOK_KIND_COUNT];
  size_t count[HUSK_HOOK_KIND_COUNT];
} husk_hooks;

typedef struct husk_kv {
  char *key, *value;
} husk_kv;

typedef struct husk_spec {
  char *oci_version;
  char *root_path; /* as given */
  bool root_readonly;
  husk_mount *mounts;
  size_t n_mounts;
  bool has_process;
  husk_process process;
  char *hostname;
  char *domainname;
  husk_hooks hooks;
  husk_kv *annotations;
  size_t n_annotations;

  /* linux */
  husk_namespace ns[HUSK_NS_COUNT];
  husk_idmap *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  bool has_time_offsets;
  int64_t monotonic_secs, boottime_secs;
  uint32_t monotonic_nsecs, boottime_nsecs;
  husk_kv *sysctl;
  size_t n_sysctl;
  struct husk_resources *resources; /* NULL when absent */
  char *cgroups_path;               /* NULL when absent */
  husk_device *devices;
  size_t n_devices;
  struct husk_seccomp *seccomp;     /* NULL when absent */
  unsigned long rootfs_propagation; /* 0 when absent */
  char **masked_paths;
  char **readonly_paths;
  bool has_personality;
  unsigned long personality;
} husk_spec;

/* Parse a config.json document from memory. */
int husk_spec_parse(const char *json, size_t len, husk_spec **out, husk_err *err);
/* Read and parse a file. */
int husk_spec_load(const char *path, husk_spec **out, husk_err *err);
void husk_spec_free(husk_spec *spec);
void husk_spec_freep(husk_spec **spec);
#define _cleanup_spec_ __attribute__((cleanup(husk_spec_freep)))

/* Parse a process object (config.json's "process", or `exec --process` files). */
int husk_process_parse(struct json_object *obj, husk_process *out, husk_err *err);
void husk_process_clear(husk_process *p);

/* Parse mount options into flags/propagation/data (exposed for tests). */
int husk_mount_options_parse(husk_mount *m, husk_err *err);

/* Capability names ("CAP_SYS_ADMIN") to a bitmask; unknown names are an error. */
int husk_caps_parse_list(struct json_object *arr, const char *field, uint64_t *mask, husk_err *err);
int husk_cap_from_name(const char *name); /* -1 when unknown */

/* CLONE_NEW* flag for a namespace type, and the spec / /proc/PID/ns names. */
int husk_ns_clone_flag(enum husk_ns_type t);
const char *husk_ns_spec_name(enum husk_ns_type t);
const char *husk_ns_proc_name(enum husk_ns_type t);

/* The default config.json written by `husk oci spec` (malloc'ed). */
char *husk_spec_default_json(bool rootless);

#endif
