/* Container lifecycle: the one core that both faces (husk oci, and the
 * docker-like porcelain) call. */
#ifndef HUSK_CONTAINER_H
#define HUSK_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

typedef struct husk_create_opts {
  const char *root; /* state root, e.g. /run/husk */
  const char *id;
  const char *bundle;    /* NULL: current directory */
  const char *config;    /* NULL: <bundle>/config.json */
  const husk_spec *spec; /* already parsed spec (the porcelain); overrides config */
  const char *pid_file;
  const char *console_socket;
  const char *cgroup_manager; /* NULL/"cgroupfs", "systemd", "disabled" */
  int preserve_fds;
  bool detach; /* run: return once the process runs */
  bool keep;   /* run: keep the state after the process exits */
  /* optional: told (once, during create) when the container will run
   * without something it asked for (rootless limits without delegated cgroups) */
  void (*warn)(void *arg, const char *msg);
  void *warn_arg;
} husk_create_opts;

int husk_container_create(const husk_create_opts *o, husk_err *err);
int husk_container_start(const char *root, const char *id, husk_err *err);
/* create + start + wait; *exit_code is the process's status (128+signal when
 * killed).  With o->detach it returns once the process runs. */
int husk_container_run(const husk_create_opts *o, int *exit_code, husk_err *err);

int husk_container_kill(const char *root, const char *id, int sig, bool all, husk_err *err);
/* Processes that SIGKILL cannot end at once (uninterruptible sleep, a frozen
 * cgroup) are waited for at most husk_kill_timeout_ms(); then delete fails
 * with ETIMEDOUT naming them and keeps the state, so that a later delete can
 * finish. */
int husk_container_delete(const char *root, const char *id, bool force, husk_err *err);

/* SIGKILL the container's init and everything in its cgroup and wait until
 * they are gone, at most timeout_ms (< 0: husk_kill_timeout_ms()).  ETIMEDOUT
 * names what is left ("pid 123 (D, disk sleep)").  0 when it is not running. */
int husk_container_kill_wait(const char *root, const char *id, int timeout_ms, husk_err *err);

/* How long a kill waits for the processes to go: $HUSK_KILL_TIMEOUT seconds
 * (may be fractional; at least 0.1 s is waited), 10 s by default. */
int husk_kill_timeout_ms(void);

typedef struct husk_exec_opts {
  husk_process *process; /* the process to run (owned by caller) */
  const char *pid_file;
  const char *console_socket;
  bool detach;
  int preserve_fds;
  const char *name; /* process name of the runtime stage, default husk:exec */
} husk_exec_opts;

int husk_container_exec(const char *root, const char *id, const husk_exec_opts *o, int *exit_code,
                        husk_err *err);

/* Parse <root>/<id>/config.json (the copy saved at create). */
int husk_container_load_spec(const char *root, const char *id, husk_spec **out, husk_err *err);

#endif
