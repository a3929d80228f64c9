/* The docker-like porcelain (`husk run`, ps, logs, exec, stop, kill, rm,
 * inspect, volume): container records, names, volumes, spec generation,
 * overlay root filesystems, the network hook and the detached monitor.
 *
 * Everything here turns an image and flags into an OCI spec and runs it
 * through the same core as `husk oci` (container.h).
 *
 * On disk, under the data root (--data-root, $HUSK_DATA_ROOT, /var/lib/husk):
 *   containers/<id>/container.json   the record (docker-inspect shaped)
 *   containers/<id>/config.json      the generated OCI spec
 *   containers/<id>/{upper,work}     overlay upper and work dirs
 *   containers/<id>/rootfs           the overlay mount point (mounted while it runs)
 *   containers/<id>/ctr.log          output of detached containers
 *   containers/.names/<name>         symlink to the id: the name index
 *   volumes/<name>/_data             named volumes (volume.json next to _data)
 * The per-container lock is flock() on the containers/<id> directory. */
#ifndef HUSK_PORCELAIN_H
#define HUSK_PORCELAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "image.h"
#include "overlay.h"

struct json_object;

#define HUSK_ID_LEN       64 /* container ids: 64 lowercase hex digits */
#define HUSK_SHORT_ID_LEN 12

/* Where porcelain containers live. */
typedef struct husk_home {
  const char *data_root;  /* absolute */
  const char *state_root; /* OCI state root of the core (--root) */
} husk_home;

/* ---- names and ids (porcelain_store.c) ----------------------------------- */

/* Container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (like docker), at most 128. */
int husk_container_name_validate(const char *name, husk_err *err);
/* Volume names: the same rule. */
int husk_volume_name_validate(const char *name, husk_err *err);
/* A fresh random id (64 hex digits + NUL). */
void husk_id_generate(char out[HUSK_ID_LEN + 1]);
bool husk_is_full_id(const char *s);

/* ---- volume specs (porcelain_spec.c) ------------------------------------- */

typedef enum husk_vol_kind { HUSK_VOL_BIND, HUSK_VOL_NAMED, HUSK_VOL_TMPFS } husk_vol_kind;

typedef struct husk_volspec {
  husk_vol_kind kind;
  char *name;        /* named volume */
  char *source;      /* bind: host path as given; named: its _data dir once resolved */
  char *destination; /* absolute path in the container */
  bool readonly;
  char *propagation; /* bind/named: "rprivate" unless given */
  bool nocopy;       /* named: do not fill a new volume from the image */
  char *options;     /* tmpfs: extra comma separated mount options, or NULL */
} husk_volspec;

/* -v SRC:DST[:OPTS] (OPTS: ro, rw, z, Z, nocopy and propagation modes;
 * SRC absolute: bind mount; SRC a name: named volume). */
int husk_volspec_parse(const char *s, husk_volspec *out, husk_err *err);
/* --tmpfs DST[:OPTS] */
int husk_tmpfs_parse(const char *s, husk_volspec *out, husk_err *err);
void husk_volspec_clear(husk_volspec *v);

/* ---- run options and spec generation (porcelain_spec.c) ------------------ */

/* container: join the network namespace of another (running) container;
 * the network name is then the whole "container:NAME" */
typedef enum husk_net_mode {
  HUSK_NET_NONE,
  HUSK_NET_HOST,
  HUSK_NET_BRIDGE,
  HUSK_NET_CONTAINER,
  HUSK_NET_SLIRP /* a new namespace connected by slirp4netns (user-mode, rootless) */
} husk_net_mode;

typedef struct husk_run_opts {
  const char *image;   /* as the user wrote it */
  char **cmd;          /* CMD... after the image; NULL or empty: the image's Cmd */
  bool has_entrypoint; /* --entrypoint given ("" clears the image's) */
  const char *entrypoint;
  char **env;           /* KEY=VALUE from --env-file then -e, applied in order */
  const char *workdir;  /* -w */
  const char *user;     /* -u */
  const char *hostname; /* --hostname */
  const char *name;     /* --name */
  const char *stop_signal;
  husk_net_mode network;
  const char *network_name;    /* bridge: the network (NULL: "bridge") */
  struct husk_port_map *ports; /* -p, bridge only */
  size_t n_ports;
  bool rm, detach, interactive, tty, read_only;
  bool has_memory, has_memory_swap, has_cpus, has_pids_limit;
  uint64_t memory;                /* bytes */
  int64_t memory_swap;            /* bytes of memory+swap, -1: unlimited */
  uint64_t cpu_quota, cpu_period; /* from --cpus */
  uint64_t nano_cpus;             /* --cpus * 1e9, for inspect */
  const char *cpuset_cpus;
  int64_t pids_limit;    /* <= 0: unlimited */
  husk_volspec *volumes; /* -v and --tmpfs, in order */
  size_t n_volumes;
  unsigned console_rows, console_cols; /* -t: the initial size, 0 when unknown */
  /* security (like docker): docker's 14 default capabilities and the default
   * seccomp profile unless changed here */
  bool privileged;        /* all capabilities, no seccomp, no masked/readonly paths */
  char **cap_add;         /* --cap-add names (with or without CAP_, any case, ALL) */
  char **cap_drop;        /* --cap-drop */
  const char *seccomp;    /* --security-opt seccomp=: NULL default, "unconfined", or a file */
  bool no_new_privileges; /* --security-opt no-new-privileges */
  /* told when the container runs without something asked for */
  void (*warn)(void *arg, const char *msg);
  void *warn_arg;
} husk_run_opts;

/* --cpus "0.5" -> quota/period (period 100000 us); more than the host's CPUs is an error. */
int husk_cpus_parse(const char *s, uint64_t *quota, uint64_t *period, uint64_t *nano,
                    husk_err *err);

/* --cap-add/--cap-drop NAME: "ALL" (*all set, *bit 0) or a capability, with
 * or without CAP_, any case (*bit its mask bit).  flag names the option in errors. */
int husk_cap_flag_parse(const char *flag, const char *name, uint64_t *bit, bool *all,
                        husk_err *err);

/* A user resolved against the container's /etc/passwd and /etc/group. */
typedef struct husk_puser {
  uint32_t uid, gid;
  uint32_t *gids; /* supplementary groups */
  size_t n_gids;
  char *home; /* NULL when unknown */
} husk_puser;

/* "uid", "uid:gid", "name", "name:group" (names looked up inside the root
 * rootfd, which may be -1: then only numbers are accepted). */
int husk_user_resolve(int rootfd, const char *user, husk_puser *out, husk_err *err);
void husk_puser_clear(husk_puser *u);
/* The OCI process.user object of u (uid, gid, additionalGids). */
struct json_object *husk_puser_json(const husk_puser *u);
/* process.consoleSize of the OCI process object proc, when rows and cols are
 * both known (not 0). */
void husk_proc_console_size(struct json_object *proc, unsigned rows, unsigned cols);

typedef struct husk_spec_input {
  const husk_run_opts *opts;
  const husk_image_config *image;
  const char *id;
  const char *rootfs;     /* absolute path of the container's root */
  int rootfd;             /* the same, opened (user names, HOME); -1 to skip */
  const char *netns_path; /* join this network namespace; NULL: a new one (or none for host) */
  const char *name;       /* annotation */
  /* files bind-mounted on /etc/hosts, /etc/resolv.conf, /etc/hostname (NULL: none) */
  const char *hosts_file, *resolv_file, *hostname_file;
} husk_spec_input;

/* The OCI config as a json-c document: husk_spec_default_json(false) with the
 * image config and the flags applied.  Named volumes must have source set. */
int husk_pspec_build(const husk_spec_input *in, struct json_object **out, husk_err *err);

/* The merged command line: entrypoint + cmd (NULL-terminated, malloc'ed). */
char **husk_pspec_args(const husk_run_opts *o, const husk_image_config *image);

/* Merge KEY=VALUE into env (replacing the same key). */
void husk_env_set(char ***env, const char *kv);

/* Read an --env-file: KEY=VALUE lines, # comments, a bare KEY takes the host's
 * value (skipped when unset).  Appends to *env. */
int husk_env_file_read(const char *path, char ***env, husk_err *err);

/* ---- overlay root filesystems (porcelain_rootfs.c) ------------------------ */

/* rm -rf dirfd/name without crossing into other filesystems (a mount point
 * below it is an error, so a still-mounted rootfs is never emptied). */
int husk_rm_rf_at(int dirfd, const char *name, husk_err *err);

/* ---- container records (porcelain_store.c) --------------------------------- */

typedef enum husk_pstatus {
  HUSK_P_CREATED,
  HUSK_P_RUNNING,
  HUSK_P_PAUSED,
  HUSK_P_EXITED,
  HUSK_P_REMOVING,
} husk_pstatus;

const char *husk_pstatus_name(husk_pstatus s);

typedef struct husk_pctr {
  char id[HUSK_ID_LEN + 1];
  struct json_object *doc; /* container.json */
  int dirfd;               /* containers/<id>, O_DIRECTORY */
  int lockfd;              /* >= 0 while locked (the same directory) */
} husk_pctr;

/* Live status: the record, corrected by the core's state (a container whose
 * process is gone but whose exit was never recorded is "exited", code -1). */
typedef struct husk_plive {
  husk_pstatus status;
  pid_t pid;
  char started[64]; /* RFC 3339, "" when unknown */
  int exit_code;
  bool exit_known;
} husk_plive;

/* containers/ (created on demand). */
char *husk_containers_dir(const husk_home *h);

/* Resolve a name, full id or unique id prefix to a full id. */
int husk_pctr_resolve(const husk_home *h, const char *ref, char id[HUSK_ID_LEN + 1], husk_err *err);
/* Open (and with lock, flock) a container; ENOENT "no such container". */
int husk_pctr_open(const husk_home *h, const char *id, bool lock, husk_pctr **out, husk_err *err);
/* Resolve + open. */
int husk_pctr_get(const husk_home *h, const char *ref, bool lock, husk_pctr **out, husk_err *err);
void husk_pctr_free(husk_pctr *c);
void husk_pctr_freep(husk_pctr **c);
#define _cleanup_pctr_ __attribute__((cleanup(husk_pctr_freep)))

int husk_pctr_lock(husk_pctr *c, husk_err *err);
void husk_pctr_unlock(husk_pctr *c);
/* Write container.json (atomically; no fsync: records are cheap to lose). */
int husk_pctr_save(husk_pctr *c, husk_err *err);

/* Reserve a name (or pick a random one when name is NULL) for id; the chosen
 * name is returned in *out (malloc'ed).  EEXIST: "name already in use". */
int husk_name_reserve(const husk_home *h, const char *name, const char *id, char **out,
                      husk_err *err);
void husk_name_release(const husk_home *h, const char *name, const char *id);

/* Every container id (sorted by creation, newest first). */
int husk_pctr_list(const husk_home *h, char ***ids, husk_err *err);

/* (When the process is gone but its runner has not recorded the exit yet,
 * this waits for the record, at most 2 s, and reloads c->doc.) */
void husk_pctr_live(const husk_home *h, husk_pctr *c, husk_plive *out);
/* The same without waiting (for callers holding the lock). */
void husk_pctr_live_now(const husk_home *h, const husk_pctr *c, husk_plive *out);

/* Record fields (doc paths like "State.Pid"). */
const char *husk_pctr_str(const husk_pctr *c, const char *path);
int64_t husk_pctr_int(const husk_pctr *c, const char *path, int64_t dflt);
/* The process waiting for the container (foreground husk run or monitor)
 * lives: the container is being made, run or removed by it. */
bool husk_pctr_runner_alive(const husk_pctr *c);
bool husk_pctr_bool(const husk_pctr *c, const char *path);
struct json_object *husk_pctr_obj(const husk_pctr *c, const char *path);
/* Set a field, creating the intermediate objects; takes ownership of v. */
void husk_pctr_set(husk_pctr *c, const char *path, struct json_object *v);

/* The record is marked exited with code (finish time now), under the lock. */
int husk_pctr_record_exit(husk_pctr *c, int code, husk_err *err);

/* Tear down what a stopped container still holds: the core's state and
 * cgroup, the overlay mount and the network.  Caller holds the lock. */
int husk_pctr_release(const husk_home *h, husk_pctr *c, husk_err *err);

/* Remove a container completely (state, cgroup, mount, upper dir, log, name,
 * record, its hold on the image).  A running one is an error unless force
 * (then it is killed). */
int husk_pctr_remove(const husk_home *h, const char *id, bool force, husk_err *err);

/* The removal itself, for a stopped container whose lock the caller holds
 * (store: to drop the image hold, NULL to open it). */
int husk_pctr_destroy(const husk_home *h, husk_store *store, husk_pctr *c, husk_err *err);

/* Wait until the process waiting for the container (foreground husk run or
 * the monitor) has recorded its exit, at most timeout_ms. */
void husk_pctr_wait_recorded(const husk_home *h, const char *id, int timeout_ms);

/* ---- named volumes (porcelain_volume.c) ------------------------------------- */

char *husk_volumes_dir(const husk_home *h);
/* Create a named volume; *created tells whether it is new.  Existing is not an error. */
int husk_volume_create(const husk_home *h, const char *name, bool *created, husk_err *err);
/* The _data directory of a volume (malloc'ed); ENOENT when it does not exist. */
int husk_volume_path(const husk_home *h, const char *name, char **out, husk_err *err);
/* Fill a new, empty volume with the image's content at its mount point (like
 * docker): files, directories, symlinks and fifos with their modes and
 * owners.  src is that directory opened in the container's root. */
int husk_volume_populate(int src, const char *data_path, husk_err *err);
/* Remove a volume; EBUSY when a container uses it. */
int husk_volume_remove(const husk_home *h, const char *name, husk_err *err);
int husk_volume_list(const husk_home *h, char ***names, husk_err *err);
int husk_volume_inspect(const husk_home *h, const char *name, struct json_object **out,
                        husk_err *err);
/* The containers (ids) whose record mounts the volume. */
int husk_volume_users(const husk_home *h, const char *name, char ***ids, husk_err *err);

/* ---- networking hook (porcelain_network.c) ------------------------------------
 * The one place that gives a container its network.  none: a new network
 * namespace with lo up; host: the host's; bridge (the network "bridge" or
 * one made by `husk network create`): the same new namespace, joined to the
 * bridge by the networking library (network.h) before the container exists,
 * with its /etc/hosts, /etc/resolv.conf and /etc/hostname kept in the
 * container's directory and bind-mounted. */

struct husk_port_map; /* ipam.h */

typedef struct husk_pnet_opts {
  const char *id;
  husk_net_mode mode;
  const char *network;  /* bridge: the network's name; NULL: "bridge" */
  const char *name;     /* the container's name (peers resolve it) */
  const char *hostname; /* the container's hostname */
  const struct husk_port_map *ports;
  size_t n_ports;
  const char *dir; /* the container's directory (bridge: the /etc files) */
} husk_pnet_opts;

typedef struct husk_pnet {
  husk_net_mode mode;
  int netns_fd;     /* the prepared namespace, -1 */
  char ns_path[64]; /* "/proc/self/fd/N" for the spec, "" when none is joined */
  bool attached;    /* bridge: connected, husk_pnet_release() undoes it */
  char network[64]; /* bridge: the network's name */
  char ip[16], gateway[16], bridge[16];
  int prefix;
  /* bridge: files in the container's directory to bind-mount (NULL: none) */
  char *hosts_path, *resolv_path, *hostname_path;
  /* slirp4netns: it exits when the last copy of this fd is closed (the
   * foreground husk run, or the monitor of a detached container) */
  int slirp_exit_fd;
} husk_pnet;

void husk_pnet_init(husk_pnet *n);
/* --network: none, host, bridge, slirp4netns, container:NAME, or the name of
 * a network (bridge mode). */
int husk_net_mode_parse(const char *s, husk_net_mode *mode, const char **network, husk_err *err);
const char *husk_net_mode_name(husk_net_mode m);
/* Before create: set up what the container will join. */
int husk_pnet_prepare(const husk_home *h, const husk_pnet_opts *o, husk_pnet *n, husk_err *err);
/* After the container's init exists (pid on the host). */
int husk_pnet_attach(const husk_home *h, const char *id, husk_pnet *n, pid_t pid, husk_err *err);
/* Drop the runtime's references (after create, or on failure); keeps what
 * husk_pnet_release() must undo. */
void husk_pnet_close(husk_pnet *n);
void husk_pnet_clear(husk_pnet *n);
/* When the container is stopped or removed, or its start failed: release
 * addresses, links, firewall rules (idempotent). */
void husk_pnet_release(const husk_home *h, const char *id, husk_net_mode mode);

/* ---- running (porcelain_run.c) ------------------------------------------------ */

typedef struct husk_prun_result {
  char id[HUSK_ID_LEN + 1];
  int exit_code;     /* foreground: the container's; start_failed: 127 (not found), 126 (not
                        executable) or 125, like docker's */
  bool start_failed; /* the error came from starting the process (exec); a foreground
                        container that is not --rm is then kept, exited with exit_code */
} husk_prun_result;

/* Create and run a container from img (held in store for the container's
 * life when store is not NULL).  Foreground: returns once it exited, with its
 * exit code.  Detached: starts the monitor and returns once the container
 * runs.  On error nothing is left behind. */
int husk_prun(const husk_home *h, husk_store *store, const husk_run_opts *o, const husk_image *img,
              husk_prun_result *res, husk_err *err);

/* ---- the monitor (porcelain_monitor.c) --------------------------------------- */

struct husk_spec;
typedef struct husk_pmon_args {
  const husk_home *home;
  const char *id;
  const struct husk_spec *spec;
  const char *bundle;
  husk_pnet *net;
  bool tty;
  bool auto_remove;
  husk_err *warning; /* out: the core's warning, when it has one */
} husk_pmon_args;

/* Fork the monitor: it creates and starts the container with its output in
 * ctr.log, waits for it, records the exit code, releases it and, with
 * auto_remove, removes it.  Returns once the container runs (or failed; then
 * the monitor has cleaned up). */
int husk_pmon_spawn(const husk_pmon_args *a, husk_err *err);

/* ---- commands (cli_container.c, cli_volume.c) ------------------------------------ */

struct husk_pglobal;
int husk_cmd_run(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_ps(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_logs(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_exec(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_stop(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_kill(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_rm(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_inspect(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_volume(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);

/* The porcelain's home from the global flags (data root made absolute). */
int husk_home_from_global(const struct husk_pglobal *g, husk_home *h, char **data_root_out,
                          husk_err *err);

#endif
