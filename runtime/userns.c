/* Rootless: subordinate id ranges and the porcelain's own user namespace. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "namespaces.h"
#include "util.h"

static int in_userns_cached = -1;

bool husk_in_userns(void)
{
  int cached = in_userns_cached;
  if (cached >= 0)
    return cached;
  char buf[256];
  int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = husk_read_all(fd, buf, sizeof(buf));
  close(fd);
  unsigned a, b, c;
  /* the initial namespace: one line "0 0 4294967295" */
  cached = !(n > 0 && sscanf(buf, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b == 0 &&
             c == 4294967295u && strchr(buf, '\n') == buf + strlen(buf) - 1);
  in_userns_cached = cached;
  return cached;
}

bool husk_rootless(void)
{
  return geteuid() != 0 || husk_in_userns();
}

int husk_subid_range(const char *path, const char *user, uid_t uid, uint32_t *start,
                     uint32_t *count)
{
  _cleanup_free_ char *buf = NULL;
  husk_err e;
  if (husk_read_file_at(AT_FDCWD, path, &buf, NULL, &e) < 0)
    return -ENOENT;
  char uidstr[16];
  snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (line[0] == '#' || c2 == NULL)
      continue;
    *c1 = *c2 = '\0';
    if (strcmp(line, uidstr) != 0 && (user == NULL || strcmp(line, user) != 0))
      continue;
    uint64_t s, n;
    if (husk_parse_u64(c1 + 1, &s) < 0 || husk_parse_u64(c2 + 1, &n) < 0 || n == 0 ||
        s > UINT32_MAX || n > UINT32_MAX - s)
      continue;
    *start = (uint32_t)s;
    *count = (uint32_t)n;
    return 0;
  }
  return -ENOENT;
}

static void fill_map(const char *path, const char *user, uid_t self, uid_t subject, husk_idmap m[2],
                     size_t *n)
{
  m[0] = (husk_idmap){.container_id = 0, .host_id = (uint32_t)self, .size = 1};
  *n = 1;
  uint32_t start, count;
  if (husk_subid_range(path, user, subject, &start, &count) == 0) {
    m[1] = (husk_idmap){.container_id = 1, .host_id = start, .size = count};
    *n = 2;
  }
}

void husk_rootless_idmaps(const char *path_subuid, const char *path_subgid, husk_idmap uid[2],
                          size_t *n_uid, husk_idmap gid[2], size_t *n_gid)
{
  uid_t u = geteuid();
  char name[256] = "";
  struct passwd pw, *res = NULL;
  char pwbuf[4096];
  if (getpwuid_r(u, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
    snprintf(name, sizeof(name), "%s", res->pw_name);
  /* newgidmap looks the user (not the group) up in /etc/subgid */
  fill_map(path_subuid ? path_subuid : "/etc/subuid", name[0] ? name : NULL, u, u, uid, n_uid);
  fill_map(path_subgid ? path_subgid : "/etc/subgid", name[0] ? name : NULL, getegid(), u, gid,
           n_gid);
}

/* The helper child: wait until the parent has unshared, write its maps. */
static void map_parent(pid_t parent, int go, int report, const husk_idmap *uid, size_t nu,
                       const husk_idmap *gid, size_t ng)
{
  char c;
  husk_err err = {0};
  if (read(go, &c, 1) != 1)
    _exit(1);
  if (husk_ns_write_maps(parent, uid, nu, gid, ng, &err) < 0) {
    husk_write_all(report, err.msg, strlen(err.msg));
    _exit(1);
  }
  _exit(0);
}

int husk_userns_enter(husk_err *err)
{
  husk_idmap uid[2], gid[2];
  size_t nu, ng;
  husk_rootless_idmaps(NULL, NULL, uid, &nu, gid, &ng);
  int go[2], rep[2];
  if (pipe2(go, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  _cleanup_close_ int go_r = go[0], go_w = go[1];
  if (pipe2(rep, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  _cleanup_close_ int rep_r = rep[0], rep_w = rep[1];
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0)
    return husk_errorf(err, errno, "fork");
  if (child == 0)
    map_parent(parent, go_r, rep_w, uid, nu, gid, ng);
  husk_closep(&go_r);
  husk_closep(&rep_w);
  int r = unshare(CLONE_NEWUSER) < 0 ? -errno : 0;
  if (r == 0)
    husk_write_all(go_w, "1", 1);
  husk_closep(&go_w);
  char msg[512];
  ssize_t got = husk_read_all(rep_r, msg, sizeof(msg));
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR)
    ;
  if (r < 0)
    return husk_errorf(err, -r, "rootless: create a user namespace");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return husk_errorf_plain(err, EPERM, "rootless: map the user namespace: %s",
                             got > 0 ? msg : "the helper failed");
  in_userns_cached = 1;
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    return husk_errorf(err, errno, "rootless: become root in the user namespace");
  if (ng > 1 && setgroups(0, NULL) < 0)
    return husk_errorf(err, errno, "rootless: setgroups");
  if (unshare(CLONE_NEWNS) < 0)
    return husk_errorf(err, errno, "rootless: create a mount namespace");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    return husk_errorf(err, errno, "rootless: make / a slave mount");
  return 0;
}
