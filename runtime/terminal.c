#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

int husk_console_socket_connect(const char *path, int *fd, husk_err *err)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path))
    return husk_errorf_plain(err, ENAMETOOLONG, "console socket path too long: %s", path);
  strcpy(addr.sun_path, path);
  _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return husk_errorf(err, errno, "console socket");
  if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    return husk_errorf(err, errno, "connect to console socket %s", path);
  *fd = husk_steal_fd(s);
  return 0;
}

int husk_tty_open(int *master, int *slave, unsigned rows, unsigned cols, int bind_console,
                  husk_err *err)
{
  _cleanup_close_ int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return husk_errorf(err, errno, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
    return husk_errorf(err, errno, "unlock pty");
  int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (s < 0)
    return husk_errorf(err, errno, "open pty peer");
  if (rows && cols) {
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(m, TIOCSWINSZ, &ws);
  }
  if (bind_console) {
    int n;
    if (ioctl(m, TIOCGPTN, &n) == 0) {
      char pts[64];
      snprintf(pts, sizeof(pts), "/dev/pts/%d", n);
      int c = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (c >= 0)
        close(c);
      if (mount(pts, "/dev/console", NULL, MS_BIND, NULL) < 0) {
        int e = errno;
        close(s);
        return husk_errorf(err, e, "bind %s on /dev/console", pts);
      }
    }
  }
  *slave = s;
  *master = husk_steal_fd(m);
  return 0;
}

int husk_tty_send(int sock, int master, husk_err *err)
{
  char byte = 0;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof(u));
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return husk_errorf(err, errno, "send pty to console socket");
  return 0;
}

int husk_tty_make_stdio(int slave, husk_err *err)
{
  if (setsid() < 0)
    return husk_errorf(err, errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return husk_errorf(err, errno, "set controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0)
      return husk_errorf(err, errno, "dup2 pty to fd %d", fd);
  if (slave > 2)
    close(slave);
  return 0;
}

static int copy_once(int from, int to)
{
  char buf[8192];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0)
    return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
  return husk_write_all(to, buf, (size_t)n) < 0 ? -1 : 0;
}

int husk_tty_proxy(int master, int child_pidfd)
{
  struct termios saved;
  bool raw = isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0)
      ioctl(master, TIOCSWINSZ, &ws);
  }
  bool in_open = true;
  for (;;) {
    struct pollfd p[3] = {{.fd = master, .events = POLLIN},
                          {.fd = in_open ? 0 : -1, .events = POLLIN},
                          {.fd = child_pidfd, .events = POLLIN}};
    int r = poll(p, 3, -1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (copy_once(master, 1) < 0)
        break;
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      char buf[4096];
      ssize_t n = read(0, buf, sizeof(buf));
      if (n <= 0) {
        in_open = false;
        char eof = 4; /* ^D to the terminal */
        if (write(master, &eof, 1) < 0)
          break;
      } else if (husk_write_all(master, buf, (size_t)n) < 0) {
        break;
      }
    }
    if ((p[2].revents & POLLIN) && !(p[0].revents & POLLIN)) {
      /* drain what is left, then stop */
      int fl = fcntl(master, F_GETFL);
      fcntl(master, F_SETFL, fl | O_NONBLOCK);
      char buf[8192];
      ssize_t n;
      while ((n = read(master, buf, sizeof(buf))) > 0)
        if (husk_write_all(1, buf, (size_t)n) < 0)
          break;
      break;
    }
  }
  if (raw)
    tcsetattr(0, TCSANOW, &saved);
  return 0;
}
