#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dmz.h"
#include "util.h"

static const char *env_get(char **env, const char *key)
{
  size_t kl = strlen(key);
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, key, kl) == 0 && (*e)[kl] == '=')
      return *e + kl + 1;
  return NULL;
}

static bool is_executable(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int husk_process_find_exec(const husk_process *p, char *out, size_t len, husk_err *err)
{
  const char *cmd = p->args[0];
  if (strchr(cmd, '/')) {
    if (access(cmd, F_OK) < 0)
      return husk_errorf(err, errno, "exec: \"%s\": stat %s", cmd, cmd);
    if (!is_executable(cmd))
      return husk_errorf(err, EACCES, "exec: \"%s\"", cmd);
    snprintf(out, len, "%s", cmd);
    return 0;
  }
  const char *path = env_get(p->env, "PATH");
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const char *s = path;
  while (*s) {
    const char *e = strchrnul(s, ':');
    int n = (int)(e - s);
    snprintf(out, len, "%.*s%s%s", n, n ? s : ".", "/", cmd);
    if (is_executable(out))
      return 0;
    s = *e ? e + 1 : e;
  }
  return husk_errorf_plain(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", cmd);
}

int husk_process_apply_limits(const husk_process *p, const husk_spec *spec, husk_err *err)
{
  for (size_t i = 0; i < p->n_rlimits; i++) {
    struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
    if (setrlimit(p->rlimits[i].resource, &rl) < 0)
      return husk_errorf(err, errno, "setrlimit %d (soft %llu, hard %llu)", p->rlimits[i].resource,
                         (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  }
  if (p->has_oom_score_adj) {
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
    if (husk_write_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, (size_t)n, err) < 0)
      return husk_error_wrap(err, "process.oomScoreAdj");
  }
  if (spec && spec->has_personality && personality(spec->personality) < 0)
    return husk_errorf(err, errno, "linux.personality");
  if (p->has_io_priority) {
    int prio = (p->io_priority_class << 13) | p->io_priority_level;
    if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, prio) < 0)
      return husk_errorf(err, errno, "process.ioPriority");
  }
  if (p->scheduler.present) {
    struct {
      uint32_t size, policy;
      uint64_t flags;
      int32_t nice;
      uint32_t priority;
      uint64_t runtime, deadline, period;
    } attr = {.size = 48,
              .policy = (uint32_t)p->scheduler.policy,
              .flags = p->scheduler.flags,
              .nice = p->scheduler.nice,
              .priority = (uint32_t)p->scheduler.priority,
              .runtime = p->scheduler.runtime,
              .deadline = p->scheduler.deadline,
              .period = p->scheduler.period};
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
      return husk_errorf(err, errno, "process.scheduler");
  }
  return 0;
}

static int drop_bounding(uint64_t keep, husk_err *err)
{
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ull << cap))
      continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
      break; /* past the last capability of this kernel */
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      return husk_errorf(err, errno, "drop capability %d from the bounding set", cap);
  }
  return 0;
}

static int set_caps(const husk_caps *c, husk_err *err)
{
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)c->effective;
  data[1].effective = (uint32_t)(c->effective >> 32);
  data[0].permitted = (uint32_t)c->permitted;
  data[1].permitted = (uint32_t)(c->permitted >> 32);
  data[0].inheritable = (uint32_t)c->inheritable;
  data[1].inheritable = (uint32_t)(c->inheritable >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0)
    return husk_errorf(err, errno, "capset");
  for (int cap = 0; cap < 64; cap++) {
    if (!(c->ambient & (1ull << cap)))
      continue;
    /* like crun: a cap missing from permitted or inheritable is skipped */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM &&
        errno != EINVAL)
      return husk_errorf(err, errno, "raise ambient capability %d", cap);
  }
  return 0;
}

int husk_process_finalize(const husk_process *p, const husk_seccomp_prog *seccomp, husk_err *err)
{
  /* CVE-2019-5736: from here until execve we are still the husk binary but
   * with the container's credentials, so the container's processes would
   * pass the ptrace access check of /proc/PID/exe and could open (then, once
   * no husk runs, overwrite) the host's binary.  Non-dumpable, that check
   * needs CAP_SYS_PTRACE in the initial user namespace.  execve resets it
   * for the container's own program. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return husk_errorf(err, errno, "prctl(PR_SET_DUMPABLE)");
  /* A session (and process group) of our own, like runc: otherwise the
   * container could signal the caller's process group on the host with
   * kill(0, ...), which the pid namespace does not stop.  With a terminal,
   * husk_tty_make_stdio already did it. */
  if (getpgid(0) != getpid() && setsid() < 0)
    return husk_errorf(err, errno, "setsid");
  if (p->cwd && chdir(p->cwd) < 0)
    return husk_errorf(err, errno, "chdir to cwd %s", p->cwd);
  umask(p->user.has_umask ? p->user.umask : 022);

  if (p->caps.present) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
      return husk_errorf(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (drop_bounding(p->caps.bounding, err) < 0)
      return husk_error_ret(err);
  }
  /* Without no_new_privs the filter must go in while we still hold
   * CAP_SYS_ADMIN; the profile has to allow the few calls that follow. */
  if (seccomp && seccomp->len && !p->no_new_privileges && husk_seccomp_install(seccomp, err) < 0)
    return husk_error_wrap(err, "linux.seccomp");

  if (setgroups(p->user.n_additional_gids, p->user.additional_gids) < 0 &&
      !(errno == EPERM && p->user.n_additional_gids == 0))
    return husk_errorf(err, errno, "setgroups");
  if (setresgid(p->user.gid, p->user.gid, p->user.gid) < 0)
    return husk_errorf(err, errno, "setgid %u", p->user.gid);
  if (setresuid(p->user.uid, p->user.uid, p->user.uid) < 0)
    return husk_errorf(err, errno, "setuid %u", p->user.uid);

  if (p->caps.present) {
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
      return husk_errorf(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (set_caps(&p->caps, err) < 0)
      return husk_error_ret(err);
  }
  if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return husk_errorf(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (p->apparmor_profile && *p->apparmor_profile) {
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "exec %s", p->apparmor_profile);
    if (husk_write_file_at(AT_FDCWD, "/proc/self/attr/apparmor/exec", buf, (size_t)n, err) < 0 &&
        husk_write_file_at(AT_FDCWD, "/proc/self/attr/exec", buf, (size_t)n, err) < 0)
      return husk_error_wrap(err, "process.apparmorProfile");
  }
  if (seccomp && seccomp->len && p->no_new_privileges && husk_seccomp_install(seccomp, err) < 0)
    return husk_error_wrap(err, "linux.seccomp");
  return 0;
}

int husk_process_exec(const char *path, const husk_process *p, int dmz_fd, husk_err *err)
{
  static char *empty_env[] = {NULL};
  husk_dmz_exec(dmz_fd, path, p->args, p->env ? p->env : empty_env);
  return husk_errorf(err, errno, "exec %s through the sealed exec stub", path);
}
