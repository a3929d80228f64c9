/* linux.seccomp through libseccomp.  The filter is parsed and compiled to BPF
 * in the runtime process before the container is cloned; the container's init
 * only installs the ready program (one syscall) just before execve. */
#ifndef HUSK_SECCOMP_H
#define HUSK_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct json_object;

typedef struct husk_seccomp husk_seccomp;

typedef struct husk_seccomp_prog {
  void *filter;       /* struct sock_filter[] */
  size_t len;         /* number of instructions */
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* from the spec's "flags" */
} husk_seccomp_prog;

/* Parse the linux.seccomp object.  Error messages already carry the field
 * path ("linux.seccomp.syscalls[3].action: unknown action ..."), so callers
 * should not prefix them again.  Syscall names unknown to libseccomp are
 * skipped (as runc and crun do); see husk_seccomp_skipped(). */
int husk_seccomp_parse(struct json_object *obj, husk_seccomp **out, husk_err *err);
void husk_seccomp_free(husk_seccomp *s);

/* Number of syscall names skipped because libseccomp does not know them, and
 * the i-th such name (i < husk_seccomp_skipped()). */
size_t husk_seccomp_skipped(const husk_seccomp *s);
const char *husk_seccomp_skipped_name(const husk_seccomp *s, size_t i);

int husk_seccomp_compile(const husk_seccomp *s, husk_seccomp_prog *out, husk_err *err);
/* husk_seccomp_compile through an on-disk cache of compiled programs in
 * cache_dirfd (e.g. <state root>/seccomp-cache, mode 0700): a hit costs
 * ~0.1 ms instead of ~15 ms for a podman-like x86_64+x86+x32 profile.  The
 * directory and its entries must be owned by the effective uid and not
 * writable by group/others (an entry is trusted as a filter).  Entries are
 * keyed by the resolved filter, the libseccomp version and the kernel, and
 * compared in full on load.  Failing to store an entry is not an error.
 * cache_dirfd < 0 compiles without the cache. */
int husk_seccomp_compile_cached(const husk_seccomp *s, int cache_dirfd, husk_seccomp_prog *out,
                                husk_err *err);
/* Install with seccomp(2) (falls back to prctl when flags are 0).  Does not
 * allocate on the success path.  The caller sets no_new_privs first unless
 * it has CAP_SYS_ADMIN. */
int husk_seccomp_install(const husk_seccomp_prog *prog, husk_err *err);
void husk_seccomp_prog_clear(husk_seccomp_prog *prog);

#endif
