/* Pseudo-terminals: created inside the container from its own devpts, and
 * handed to the caller over --console-socket with SCM_RIGHTS. */
#ifndef HUSK_TERMINAL_H
#define HUSK_TERMINAL_H

#include <stddef.h>

#include "error.h"

int husk_console_socket_connect(const char *path, int *fd, husk_err *err);

/* Open a pty from /dev/ptmx (after pivot_root); bind the slave on /dev/console
 * when bind_console. */
int husk_tty_open(int *master, int *slave, unsigned rows, unsigned cols, int bind_console,
                  husk_err *err);

/* Send the master over the console socket. */
int husk_tty_send(int sock, int master, husk_err *err);

/* setsid, make the slave the controlling terminal and stdin/stdout/stderr. */
int husk_tty_make_stdio(int slave, husk_err *err);

#endif
