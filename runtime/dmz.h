/* The sealed exec stub (dmz/husk-dmz.c): the container's program is exec'd
 * through a tiny static program in a sealed memfd, never directly from the
 * husk binary, so /proc/self/exe tricks inside the container reach only that
 * sealed copy (the runc CVE-2019-5736 class; see dmz/husk-dmz.c). */
#ifndef HUSK_DMZ_H
#define HUSK_DMZ_H

#include "error.h"

/* A new sealed, executable memfd holding husk-dmz (close-on-exec).  In the
 * runtime before it clones the init or an exec process; costs a few
 * microseconds (the program is ~10 KB). */
int husk_dmz_open(husk_err *err);

/* Exec path with argv/envp through the stub in dmz_fd (after everything
 * else: credentials, seccomp).  Returns only on failure, with errno set. */
void husk_dmz_exec(int dmz_fd, const char *path, char *const argv[], char *const envp[]);

#endif
