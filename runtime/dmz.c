/* The sealed exec stub: see dmz.h. */
#include "dmz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

extern const unsigned char husk_dmz_blob[];
extern const size_t husk_dmz_blob_len;

int husk_dmz_open(husk_err *err)
{
  /* MFD_EXEC: executable even where vm.memfd_noexec makes memfds NOEXEC by
   * default (kernels before 6.3 do not know the flag) */
  _cleanup_close_ int fd = memfd_create("husk-dmz", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create("husk-dmz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return husk_errorf(err, errno, "memfd_create for the exec stub");
  int r = husk_write_all(fd, husk_dmz_blob, husk_dmz_blob_len);
  if (r < 0)
    return husk_errorf(err, -r, "write the exec stub");
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return husk_errorf(err, errno, "seal the exec stub");
  return husk_steal_fd(fd);
}

void husk_dmz_exec(int dmz_fd, const char *path, char *const argv[], char *const envp[])
{
  size_t n = 0;
  while (argv[n])
    n++;
  /* "husk-dmz" PATH ARGV... (on the stack: no allocation this late) */
  const char *args[n + 3];
  args[0] = "husk-dmz";
  args[1] = path;
  for (size_t i = 0; i <= n; i++)
    args[i + 2] = argv[i];
  /* by path through the container's /proc, so that the system call is
   * execve, which every seccomp profile that lets the container start allows */
  char self[64];
  snprintf(self, sizeof(self), "/proc/self/fd/%d", dmz_fd);
  execve(self, (char *const *)args, envp);
  if (errno != ENOENT && errno != EACCES)
    return;
  /* no /proc in the container: the fd itself */
  syscall(SYS_execveat, dmz_fd, "", (char *const *)args, envp, AT_EMPTY_PATH);
}
