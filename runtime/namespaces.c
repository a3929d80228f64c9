#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

void husk_ns_plan_close(husk_ns_plan *plan)
{
  for (int i = 0; i < HUSK_NS_COUNT; i++)
    husk_closep(&plan->fds[i]);
}

int husk_ns_plan_init(const husk_spec *spec, husk_ns_plan *plan, husk_err *err)
{
  memset(plan, 0, sizeof(*plan));
  for (int i = 0; i < HUSK_NS_COUNT; i++)
    plan->fds[i] = -1;
  bool join_user = spec->ns[HUSK_NS_USER].present && spec->ns[HUSK_NS_USER].path;
  for (int i = 0; i < HUSK_NS_COUNT; i++) {
    const husk_namespace *ns = &spec->ns[i];
    if (!ns->present)
      continue;
    int flag = husk_ns_clone_flag((enum husk_ns_type)i);
    if (ns->path) {
      int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        int e = errno;
        husk_ns_plan_close(plan);
        return husk_errorf(err, e, "linux.namespaces: open %s namespace %s",
                           husk_ns_spec_name((enum husk_ns_type)i), ns->path);
      }
      int type = ioctl(fd, NS_GET_NSTYPE);
      if (type >= 0 && type != flag) {
        close(fd);
        husk_ns_plan_close(plan);
        return husk_errorf_plain(err, EINVAL, "linux.namespaces: %s is not a %s namespace",
                                 ns->path, husk_ns_spec_name((enum husk_ns_type)i));
      }
      plan->fds[i] = fd;
      continue;
    }
    /* created: pid and user must be created by clone; time by the parent;
     * cgroup by the init once it is in its cgroup */
    if (i == HUSK_NS_TIME)
      continue;
    if (i == HUSK_NS_CGROUP) {
      plan->unshare_flags |= flag;
      continue;
    }
    if (join_user && i != HUSK_NS_PID)
      plan->unshare_flags |= flag; /* owned by the joined user namespace */
    else
      plan->clone_flags |= flag;
  }
  if (join_user && (plan->clone_flags & CLONE_NEWPID)) {
    husk_ns_plan_close(plan);
    return husk_errorf_plain(err, ENOTSUP,
                             "linux.namespaces: a new pid namespace inside a joined user "
                             "namespace is not supported");
  }
  return 0;
}

int husk_ns_prepare_parent(const husk_spec *spec, husk_ns_plan *plan, husk_err *err)
{
  if (plan->fds[HUSK_NS_PID] >= 0 && setns(plan->fds[HUSK_NS_PID], CLONE_NEWPID) < 0)
    return husk_errorf(err, errno, "join pid namespace %s", spec->ns[HUSK_NS_PID].path);
  if (plan->fds[HUSK_NS_TIME] >= 0 && setns(plan->fds[HUSK_NS_TIME], CLONE_NEWTIME) < 0)
    return husk_errorf(err, errno, "join time namespace %s", spec->ns[HUSK_NS_TIME].path);
  if (spec->ns[HUSK_NS_TIME].present && spec->ns[HUSK_NS_TIME].path == NULL) {
    if (unshare(CLONE_NEWTIME) < 0)
      return husk_errorf(err, errno, "create time namespace");
    if (spec->has_time_offsets) {
      char buf[128];
      int n = snprintf(buf, sizeof(buf), "monotonic %lld %u\nboottime %lld %u\n",
                       (long long)spec->monotonic_secs, spec->monotonic_nsecs,
                       (long long)spec->boottime_secs, spec->boottime_nsecs);
      if (husk_write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, (size_t)n, err) < 0)
        return husk_error_wrap(err, "linux.timeOffsets");
    }
  } else if (spec->has_time_offsets) {
    return husk_errorf_plain(err, EINVAL, "linux.timeOffsets needs a new time namespace");
  }
  return 0;
}

static int format_map(const char *file, const husk_idmap *maps, size_t n, char *buf, size_t cap,
                      husk_err *err)
{
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(buf + len, cap - len, "%u %u %u\n", maps[i].container_id, maps[i].host_id,
                     maps[i].size);
    if (w < 0 || (size_t)w >= cap - len)
      return husk_errorf_plain(err, E2BIG, "too many %s entries", file);
    len += (size_t)w;
  }
  return (int)len;
}

/* Unprivileged: newuidmap/newgidmap (setuid helpers of Debian's uidmap) check
 * the ranges against /etc/subuid and /etc/subgid and write the map for us. */
static int write_map_helper(pid_t pid, const char *tool, const husk_idmap *maps, size_t n,
                            husk_err *err)
{
  char **argv = husk_xcalloc(3 * n + 3, sizeof(char *));
  size_t k = 0;
  argv[k++] = husk_xstrdup(tool);
  argv[k++] = husk_xasprintf("%d", (int)pid);
  for (size_t i = 0; i < n; i++) {
    argv[k++] = husk_xasprintf("%u", maps[i].container_id);
    argv[k++] = husk_xasprintf("%u", maps[i].host_id);
    argv[k++] = husk_xasprintf("%u", maps[i].size);
  }
  _cleanup_strv_ char **args = argv;
  char out[512];
  int status;
  int r = husk_spawn_capture(args, NULL, out, sizeof(out), &status, err);
  if (r == -ENOENT)
    return husk_errorf_plain(err, ENOENT,
                             "%s not found: rootless containers with more than one id mapped "
                             "need it (apt-get install uidmap)",
                             tool);
  if (r < 0)
    return r;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  char *nl = strchr(out, '\n');
  if (nl)
    *nl = '\0';
  return husk_errorf_plain(err, EPERM, "%s %d: %s", tool, (int)pid,
                           out[0] ? out : "failed (are the ranges in /etc/subuid, /etc/subgid?)");
}

/* Only our own id, once: an unprivileged process may write that map itself
 * (for gid_map after denying setgroups). */
static bool only_self(const husk_idmap *maps, size_t n, uint32_t self)
{
  return n == 1 && maps[0].size == 1 && maps[0].host_id == self;
}

static int write_map(pid_t pid, const char *file, const husk_idmap *maps, size_t n, husk_err *err)
{
  bool uid = strcmp(file, "uid_map") == 0;
  bool privileged = geteuid() == 0;
  bool self = only_self(maps, n, uid ? (uint32_t)geteuid() : (uint32_t)getegid());
  if (!privileged && !self)
    return write_map_helper(pid, uid ? "newuidmap" : "newgidmap", maps, n, err);
  char buf[4096];
  int len = format_map(file, maps, n, buf, sizeof(buf), err);
  if (len < 0)
    return len;
  char path[64];
  if (!privileged && !uid) {
    snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
    if (husk_write_file_at(AT_FDCWD, path, "deny", 4, err) < 0)
      return husk_error_wrap(err, "rootless gid_map");
  }
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  if (husk_write_file_at(AT_FDCWD, path, buf, (size_t)len, err) < 0)
    return husk_error_wrap(err, "write %s", file);
  return 0;
}

int husk_ns_write_maps(pid_t pid, const husk_idmap *uid, size_t n_uid, const husk_idmap *gid,
                       size_t n_gid, husk_err *err)
{
  if (n_uid && write_map(pid, "uid_map", uid, n_uid, err) < 0)
    return husk_error_ret(err);
  if (n_gid && write_map(pid, "gid_map", gid, n_gid, err) < 0)
    return husk_error_ret(err);
  return 0;
}

int husk_ns_write_idmaps(pid_t pid, const husk_spec *spec, husk_err *err)
{
  return husk_ns_write_maps(pid, spec->uid_mappings, spec->n_uid_mappings, spec->gid_mappings,
                            spec->n_gid_mappings, err);
}

int husk_ns_join_child(husk_ns_plan *plan, husk_err *err)
{
  static const int order[] = {HUSK_NS_USER, HUSK_NS_IPC,    HUSK_NS_UTS,
                              HUSK_NS_NET,  HUSK_NS_CGROUP, HUSK_NS_MOUNT};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(order); i++) {
    int t = order[i];
    if (plan->fds[t] < 0)
      continue;
    if (setns(plan->fds[t], husk_ns_clone_flag((enum husk_ns_type)t)) < 0)
      return husk_errorf(err, errno, "join %s namespace", husk_ns_spec_name((enum husk_ns_type)t));
    husk_closep(&plan->fds[t]);
  }
  int flags = plan->unshare_flags & ~CLONE_NEWCGROUP;
  if (flags && unshare(flags) < 0)
    return husk_errorf(err, errno, "unshare namespaces 0x%x", flags);
  return 0;
}
