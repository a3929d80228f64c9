/* Small shared helpers: cleanup attributes, safe file I/O, string vectors. */
#ifndef HUSK_UTIL_H
#define HUSK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "error.h"

void husk_closep(int *fd);
void husk_freep(void *p); /* takes a pointer to a pointer */
void husk_strvfreep(char ***v);

#define _cleanup_close_ __attribute__((cleanup(husk_closep)))
#define _cleanup_free_  __attribute__((cleanup(husk_freep)))
#define _cleanup_strv_  __attribute__((cleanup(husk_strvfreep)))

/* Return the value and leave the variable empty, so cleanup does nothing. */
#define husk_steal_fd(fd)                                                                          \
  ({                                                                                               \
    int _tmp = (fd);                                                                               \
    (fd) = -1;                                                                                     \
    _tmp;                                                                                          \
  })
#define husk_steal_ptr(p)                                                                          \
  ({                                                                                               \
    __typeof__(p) _tmp = (p);                                                                      \
    (p) = NULL;                                                                                    \
    _tmp;                                                                                          \
  })

#define HUSK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that never returns NULL (aborts on OOM like most C runtimes do). */
void *husk_xmalloc(size_t n);
void *husk_xcalloc(size_t n, size_t m);
void *husk_xrealloc(void *p, size_t n);
char *husk_xstrdup(const char *s);
char *husk_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

size_t husk_strv_len(char *const *v);
void husk_strv_free(char **v);
/* s is one of the strings of the NULL-terminated vector v (v may be NULL). */
bool husk_strv_has(const char *const *v, const char *s);
/* Append a copy of s to the NULL-terminated vector *v (*v may be NULL; v NULL: no-op). */
void husk_strv_push(char ***v, const char *s);

/* Write all of buf; retries on EINTR / short writes. */
int husk_write_all(int fd, const void *buf, size_t len);
/* Read up to len-1 bytes and NUL terminate. Returns bytes read or -errno. */
ssize_t husk_read_all(int fd, void *buf, size_t len);

/* Write a value to dirfd/name (O_WRONLY|O_TRUNC unless append). */
int husk_write_file_at(int dirfd, const char *name, const char *val, size_t len, husk_err *err);
/* Read a whole (small or large) file into a malloc'ed NUL-terminated buffer. */
int husk_read_file_at(int dirfd, const char *name, char **out, size_t *len_out, husk_err *err);
/* Atomically replace dirfd/name with content (tmp file + fsync + rename). */
int husk_write_file_atomic(int dirfd, const char *name, const char *content, size_t len,
                           husk_err *err);

/* mkdir -p relative to dirfd (path may be absolute when dirfd == AT_FDCWD). */
int husk_mkdir_p(int dirfd, const char *path, mode_t mode, husk_err *err);

/* Parse unsigned / signed decimal integers strictly (whole string). */
int husk_parse_u64(const char *s, uint64_t *out);
int husk_parse_i64(const char *s, int64_t *out);

/* Parse a signal name or number: "9", "KILL", "SIGKILL", "sigterm", "RTMIN+3". */
int husk_parse_signal(const char *s);
/* Name of a signal without the SIG prefix ("KILL"), or NULL. */
const char *husk_signal_name(int sig);

/* Run argv (argv[0] searched in $PATH when it has no '/') with `input` (or
 * nothing) on its stdin, and collect its stdout+stderr into out (NUL
 * terminated, truncated to outlen-1; the rest is read and dropped).  Returns
 * the wait status in *status, or a negative error when it could not be run. */
int husk_spawn_capture(char *const argv[], const char *input, char *out, size_t outlen, int *status,
                       husk_err *err);

/* Monotonic time in nanoseconds. */
uint64_t husk_now_ns(void);
/* RFC 3339 UTC timestamp with nanoseconds into buf. */
void husk_rfc3339_now(char *buf, size_t len);

#endif
