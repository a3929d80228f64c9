/* The runtime <-> container-init channel (a SOCK_SEQPACKET socketpair).
 * Errors in the container's init travel back as messages so the CLI prints
 * them once, with context. */
#ifndef HUSK_SYNC_H
#define HUSK_SYNC_H

#include "error.h"

enum husk_sync_type {
  HUSK_SYNC_GO = 1,     /* parent -> child: idmaps and cgroups are done */
  HUSK_SYNC_HOOKS,      /* child -> parent: run createRuntime/prestart hooks now */
  HUSK_SYNC_HOOKS_DONE, /* parent -> child */
  HUSK_SYNC_READY,      /* child -> parent: created, waiting for start (or exec'ing) */
  HUSK_SYNC_ERROR,      /* either way: err follows */
  HUSK_SYNC_TTY,        /* child -> parent: pty master attached (SCM_RIGHTS) */
};

typedef struct husk_sync_msg {
  int type;
  int value;
  husk_err err;
} husk_sync_msg;

int husk_sync_send(int fd, int type, int value, const husk_err *err);
/* Receives one message; returns -EPIPE at EOF. *fd_out gets a passed fd or -1. */
int husk_sync_recv(int fd, husk_sync_msg *m, int *fd_out);
int husk_sync_send_fd(int sock, int type, int fd_to_send);

#endif
