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
