#include "sync.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int husk_sync_send(int fd, int type, int value, const husk_err *err)
{
  husk_sync_msg m;
  m.type = type;
  m.value = value;
  if (err) {
    m.err.code = err->code;
    memcpy(m.err.msg, err->msg, sizeof(m.err.msg));
  } else {
    m.err.code = 0;
    m.err.msg[0] = '\0';
  }
  size_t len = err ? sizeof(m) : offsetof(husk_sync_msg, err.msg);
  for (;;) {
    ssize_t w = send(fd, &m, len, MSG_NOSIGNAL);
    if (w >= 0)
      return 0;
    if (errno != EINTR)
      return -errno;
  }
}

int husk_sync_send_fd(int sock, int type, int fd_to_send)
{
  husk_sync_msg m = {.type = type};
  struct iovec iov = {.iov_base = &m, .iov_len = offsetof(husk_sync_msg, err.msg)};
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
  memcpy(CMSG_DATA(c), &fd_to_send, sizeof(int));
  while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      return -errno;
  return 0;
}

int husk_sync_recv(int fd, husk_sync_msg *m, int *fd_out)
{
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  if (fd_out)
    *fd_out = -1;
  memset(m, 0, offsetof(husk_sync_msg, err.msg) + 1);
  ssize_t n;
  do
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  if (n == 0)
    return -EPIPE;
  if ((size_t)n < offsetof(husk_sync_msg, err.msg))
    return -EPROTO;
  if ((size_t)n < sizeof(*m))
    m->err.msg[0] = '\0';
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      memcpy(&got, CMSG_DATA(c), sizeof(int));
      if (fd_out)
        *fd_out = got;
      else
        close(got);
    }
  }
  return 0;
}
