/* The per-container monitor of detached containers (daemonless, like
 * podman's conmon): forked from `husk run -d`, it is the parent of the
 * container's init, keeps its output in ctr.log, records its exit code and
 * finish time, releases it and, with --rm, removes it. */
#include "porcelain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "state.h"
#include "util.h"

#define LOG_NAME "ctr.log"

typedef struct mon_msg {
  int code; /* 0: the container runs */
  char msg[sizeof(((husk_err *)0)->msg)];
} mon_msg;

/* err NULL: started (with warning's message when it has one) */
static void report(int fd, const husk_err *err, const husk_err *warning)
{
  if (fd < 0)
    return;
  mon_msg m = {0};
  if (err) {
    m.code = err->code ? err->code : EIO;
    snprintf(m.msg, sizeof(m.msg), "%s", err->msg);
  } else if (warning && warning->code) {
    snprintf(m.msg, sizeof(m.msg), "%s", warning->msg);
  }
  husk_write_all(fd, &m, sizeof(m));
}

/* Close every fd >= 3 but the ones in keep. */
static void close_fds_except(const int *keep, size_t n)
{
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return;
  int self = dirfd(d);
  int *to_close = NULL;
  size_t nc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    int fd = atoi(e->d_name);
    if (fd < 3 || fd == self)
      continue;
    bool kept = false;
    for (size_t i = 0; i < n && !kept; i++)
      kept = keep[i] == fd;
    if (!kept) {
      to_close = husk_xrealloc(to_close, (nc + 1) * sizeof(int));
      to_close[nc++] = fd;
    }
  }
  closedir(d);
  for (size_t i = 0; i < nc; i++)
    close(to_close[i]);
  free(to_close);
}

static int recv_fd(int sock)
{
  char data[1];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
      return fd;
    }
  }
  return -EBADMSG;
}

/* A listening socket for the pty master of -dt containers. */
static int console_listen(const husk_home *h, const char *id, char *path, size_t len, husk_err *err)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(path, len, "%s/containers/%s/console.sock", h->data_root, id);
  if (strlen(path) >= sizeof(addr.sun_path))
    snprintf(path, len, "/tmp/husk-console-%.12s.sock", id);
  unlink(path);
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return husk_errorf(err, errno, "console socket");
  if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 1) < 0) {
    int e = errno;
    close(s);
    return husk_errorf(err, e, "console socket %s", path);
  }
  return s;
}

static int status_code(int status)
{
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 255;
}

static int wait_init(pid_t pid, int master)
{
  int status = 0;
  if (master >= 0) {
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    char buf[16384];
    for (;;) {
      struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
      int n = poll(p, pidfd >= 0 ? 2 : 1, -1);
      if (n < 0 && errno != EINTR)
        break;
      if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = read(master, buf, sizeof(buf));
        if (r > 0)
          husk_write_all(1, buf, (size_t)r);
        else if (r == 0 || (errno != EINTR && errno != EAGAIN))
          break; /* EIO: every slave is closed */
      }
      if (n > 0 && pidfd >= 0 && (p[1].revents & POLLIN)) {
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        ssize_t r;
        while ((r = read(master, buf, sizeof(buf))) > 0)
          husk_write_all(1, buf, (size_t)r);
        break;
      }
    }
  }
  for (;;) {
    pid_t w = waitpid(pid, &status, 0);
    if (w == pid)
      return status_code(status);
    if (w < 0 && errno != EINTR)
      return -1;
  }
}

/* The start failed: remove the container (the monitor owns it now; it never
 * ran, so there is nobody to wait for). */
static void give_up(const husk_pmon_args *a)
{
  husk_err e;
  _cleanup_pctr_ husk_pctr *c = NULL;
  if (husk_pctr_open(a->home, a->id, true, &c, &e) == 0)
    husk_pctr_destroy(a->home, NULL, c, &e);
}

static void set_running(const husk_pmon_args *a, pid_t pid)
{
  _cleanup_pctr_ husk_pctr *c = NULL;
  husk_err e;
  if (husk_pctr_open(a->home, a->id, true, &c, &e) < 0)
    return;
  char now[64];
  husk_rfc3339_now(now, sizeof(now));
  husk_pctr_set(c, "State.Status", json_object_new_string("running"));
  husk_pctr_set(c, "State.Running", json_object_new_boolean(1));
  husk_pctr_set(c, "State.Pid", json_object_new_int64(pid));
  husk_pctr_set(c, "State.PidStartTime", json_object_new_int64((int64_t)husk_pid_start_time(pid)));
  husk_pctr_set(c, "State.StartedAt", json_object_new_string(now));
  husk_pctr_set(c, "State.MonitorPid", json_object_new_int64(getpid()));
  husk_pctr_set(c, "State.MonitorStartTime",
                json_object_new_int64((int64_t)husk_pid_start_time(getpid())));
  husk_pctr_save(c, &e);
}

static void finish(const husk_pmon_args *a, int code)
{
  {
    _cleanup_pctr_ husk_pctr *c = NULL;
    husk_err e;
    if (husk_pctr_open(a->home, a->id, true, &c, &e) < 0)
      return; /* removed meanwhile */
    husk_pctr_record_exit(c, code, &e);
    husk_pctr_release(a->home, c, &e);
  }
  if (a->auto_remove) {
    husk_err e;
    husk_pctr_remove(a->home, a->id, true, &e);
  }
}

static void keep_warning(void *arg, const char *msg)
{
  husk_errorf_plain(arg, EPERM, "%s", msg);
}

static _Noreturn void monitor_main(const husk_pmon_args *a, int logfd, int report_fd)
{
  setsid();
  prctl(PR_SET_NAME, "husk:monitor", 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    close(null);
  }
  dup2(logfd, 1);
  dup2(logfd, 2);
  close(logfd);
  int keep[] = {report_fd, a->net ? a->net->netns_fd : -1, a->net ? a->net->slirp_exit_fd : -1};
  close_fds_except(keep, HUSK_ARRAY_SIZE(keep));
  if (chdir("/") < 0) {
    /* keep going: only relative paths would suffer, and there are none */
  }

  husk_err err = {0}, warning = {0};
  char sock_path[PATH_MAX] = "";
  _cleanup_close_ int sock = -1;
  if (a->tty && (sock = console_listen(a->home, a->id, sock_path, sizeof(sock_path), &err)) < 0) {
    give_up(a);
    report(report_fd, &err, NULL);
    _exit(1);
  }
  husk_create_opts co = {.root = a->home->state_root,
                         .id = a->id,
                         .bundle = a->bundle,
                         .spec = a->spec,
                         .console_socket = a->tty ? sock_path : NULL,
                         .warn = keep_warning,
                         .warn_arg = &warning};
  int r = husk_container_create(&co, &err);
  if (a->net)
    husk_pnet_close(a->net);
  int master = -1;
  if (r == 0 && a->tty) {
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int conn = poll(&p, 1, 5000) > 0 ? accept4(sock, NULL, NULL, SOCK_CLOEXEC) : -1;
    master = conn >= 0 ? recv_fd(conn) : -1;
    if (conn >= 0)
      close(conn);
    if (master < 0)
      r = husk_errorf_plain(&err, EIO, "receive the container's terminal");
  }
  if (sock_path[0])
    unlink(sock_path);
  husk_closep(&sock);
  _cleanup_state_ husk_state *st = NULL;
  if (r == 0)
    r = husk_state_load(a->home->state_root, a->id, &st, &err);
  if (r == 0)
    r = husk_pnet_attach(a->home, a->id, a->net, st->pid, &err);
  if (r == 0)
    r = husk_container_start(a->home->state_root, a->id, &err);
  if (r < 0) {
    husk_closep(&master);
    give_up(a);
    report(report_fd, &err, NULL);
    _exit(1);
  }
  pid_t pid = st->pid;
  set_running(a, pid);
  report(report_fd, NULL, &warning);
  close(report_fd);

  int code = wait_init(pid, master);
  husk_closep(&master);
  finish(a, code);
  _exit(0);
}

int husk_pmon_spawn(const husk_pmon_args *a, husk_err *err)
{
  _cleanup_free_ char *log =
      husk_xasprintf("%s/containers/%s/" LOG_NAME, a->home->data_root, a->id);
  _cleanup_close_ int logfd =
      open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (logfd < 0)
    return husk_errorf(err, errno, "open %s", log);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return husk_errorf(err, e, "fork the monitor");
  }
  if (pid == 0) {
    close(p[0]);
    monitor_main(a, husk_steal_fd(logfd), p[1]);
  }
  close(p[1]);
  _cleanup_close_ int rfd = p[0];
  mon_msg m;
  ssize_t n;
  do
    n = read(rfd, &m, sizeof(m));
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof(m) && m.code == 0) {
    if (m.msg[0] && a->warning)
      husk_errorf_plain(a->warning, EPERM, "%s", m.msg);
    return 0;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (n != (ssize_t)sizeof(m))
    return husk_errorf_plain(err, EIO, "the monitor exited before the container started");
  err->code = m.code;
  snprintf(err->msg, sizeof(err->msg), "%s", m.msg);
  return -m.code;
}
