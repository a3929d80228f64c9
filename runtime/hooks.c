#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

const char *husk_hook_kind_name(enum husk_hook_kind k)
{
  static const char *names[] = {"prestart",       "createRuntime", "createContainer",
                                "startContainer", "poststart",     "poststop"};
  return k < HUSK_HOOK_KIND_COUNT ? names[k] : "unknown";
}

static int run_one(const husk_hook *h, const char *kind, const char *state_json, husk_err *err)
{
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "%s hook %s: pipe", kind, h->path);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(pfd[0]);
    close(pfd[1]);
    return husk_errorf(err, e, "%s hook %s: fork", kind, h->path);
  }
  if (pid == 0) {
    dup2(pfd[0], 0);
    static char *empty[] = {NULL};
    char *argv0[] = {h->path, NULL};
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    execve(h->path, h->args ? h->args : argv0, h->env ? h->env : empty);
    _exit(127);
  }
  close(pfd[0]);
  /* The hook may not read its stdin; never block on a full pipe. */
  signal(SIGPIPE, SIG_IGN);
  husk_write_all(pfd[1], state_json, strlen(state_json));
  close(pfd[1]);

  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd >= 0 && h->timeout > 0) {
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int r;
    do
      r = poll(&p, 1, h->timeout * 1000);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      close(pidfd);
      return husk_errorf_plain(err, ETIMEDOUT, "%s hook %s timed out after %d s", kind, h->path,
                               h->timeout);
    }
  }
  if (pidfd >= 0)
    close(pidfd);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return husk_errorf(err, errno, "%s hook %s: wait", kind, h->path);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return husk_errorf_plain(err, ENOENT, "%s hook %s: could not be executed", kind, h->path);
  if (WIFEXITED(status))
    return husk_errorf_plain(err, EIO, "%s hook %s exited with status %d", kind, h->path,
                             WEXITSTATUS(status));
  return husk_errorf_plain(err, EIO, "%s hook %s killed by signal %d", kind, h->path,
                           WTERMSIG(status));
}

int husk_hooks_run(const husk_spec *spec, enum husk_hook_kind kind, const char *state_json,
                   husk_err *err)
{
  for (size_t i = 0; i < spec->hooks.count[kind]; i++) {
    int r = run_one(&spec->hooks.list[kind][i], husk_hook_kind_name(kind), state_json, err);
    if (r < 0)
      return r;
  }
  return 0;
}
