/* The last steps of a container process before execve: limits, identity,
 * capabilities, no_new_privs and seccomp. */
#ifndef HUSK_PROCESS_H
#define HUSK_PROCESS_H

#include <stddef.h>

#include "error.h"
#include "husk_seccomp.h"
#include "spec.h"

/* Find args[0] like execvp would, with PATH from the process env.  Runs inside
 * the container (after pivot_root) so errors show up at create time. */
int husk_process_find_exec(const husk_process *p, char *out, size_t len, husk_err *err);

/* rlimits, oomScoreAdj, scheduler, ioPriority, personality: before the root
 * changes, while /proc is still the host's. */
int husk_process_apply_limits(const husk_process *p, const husk_spec *spec, husk_err *err);

/* cwd, umask, user, capabilities, no_new_privs, seccomp. */
int husk_process_finalize(const husk_process *p, const husk_seccomp_prog *seccomp, husk_err *err);

/* execve(path, args, env); only returns on failure. */
/* Exec path (from husk_process_find_exec) with p's args and env, through the
 * sealed exec stub in dmz_fd (dmz.h).  Returns only on failure. */
int husk_process_exec(const char *path, const husk_process *p, int dmz_fd, husk_err *err);

#endif
