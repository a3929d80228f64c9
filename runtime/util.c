#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void husk_closep(int *fd)
{
  if (fd && *fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
    *fd = -1;
  }
}

void husk_freep(void *p)
{
  void **pp = p;
  if (pp && *pp) {
    free(*pp);
    *pp = NULL;
  }
}

void husk_strv_free(char **v)
{
  if (v == NULL)
    return;
  for (char **i = v; *i; i++)
    free(*i);
  free(v);
}

void husk_strvfreep(char ***v)
{
  if (v && *v) {
    husk_strv_free(*v);
    *v = NULL;
  }
}

bool husk_strv_has(const char *const *v, const char *s)
{
  for (; v && *v; v++)
    if (strcmp(*v, s) == 0)
      return true;
  return false;
}

void husk_strv_push(char ***v, const char *s)
{
  if (v == NULL) /* the caller does not want the list */
    return;
  size_t n = husk_strv_len(*v);
  *v = husk_xrealloc(*v, (n + 2) * sizeof(char *));
  (*v)[n] = husk_xstrdup(s);
  (*v)[n + 1] = NULL;
}

size_t husk_strv_len(char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

void *husk_xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    abort();
  return p;
}

void *husk_xcalloc(size_t n, size_t m)
{
  void *p = calloc(n ? n : 1, m ? m : 1);
  if (p == NULL)
    abort();
  return p;
}

void *husk_xrealloc(void *p, size_t n)
{
  void *r = realloc(p, n ? n : 1);
  if (r == NULL)
    abort();
  return r;
}

char *husk_xstrdup(const char *s)
{
  if (s == NULL)
    return NULL;
  char *r = strdup(s);
  if (r == NULL)
    abort();
  return r;
}

char *husk_xasprintf(const char *fmt, ...)
{
  va_list ap;
  char *r = NULL;
  va_start(ap, fmt);
  int n = vasprintf(&r, fmt, ap);
  va_end(ap);
  if (n < 0)
    abort();
  return r;
}

int husk_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

ssize_t husk_read_all(int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t got = 0;
  if (len == 0)
    return 0;
  while (got < len - 1) {
    ssize_t r = read(fd, p + got, len - 1 - got);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  p[got] = '\0';
  return (ssize_t)got;
}

int husk_write_file_at(int dirfd, const char *name, const char *val, size_t len, husk_err *err)
{
  _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", name);
  int r = husk_write_all(fd, val, len);
  if (r < 0)
    return husk_errorf(err, -r, "write %.*s to %s", (int)(len > 64 ? 64 : len), val, name);
  return 0;
}

int husk_read_file_at(int dirfd, const char *name, char **out, size_t *len_out, husk_err *err)
{
  _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", name);
  size_t cap = 4096, len = 0;
  _cleanup_free_ char *buf = husk_xmalloc(cap);
  for (;;) {
    if (len + 1 >= cap) {
      cap *= 2;
      buf = husk_xrealloc(buf, cap);
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return husk_errorf(err, errno, "read %s", name);
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  if (len_out)
    *len_out = len;
  *out = husk_steal_ptr(buf);
  return 0;
}

int husk_write_file_atomic(int dirfd, const char *name, const char *content, size_t len,
                           husk_err *err)
{
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid());
  _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return husk_errorf(err, errno, "create %s", tmp);
  int r = husk_write_all(fd, content, len);
  if (r < 0) {
    unlinkat(dirfd, tmp, 0);
    return husk_errorf(err, -r, "write %s", tmp);
  }
  if (renameat(dirfd, tmp, dirfd, name) < 0) {
    int e = errno;
    unlinkat(dirfd, tmp, 0);
    return husk_errorf(err, e, "rename %s to %s", tmp, name);
  }
  return 0;
}

int husk_mkdir_p(int dirfd, const char *path, mode_t mode, husk_err *err)
{
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof(buf))
    return husk_errorf(err, ENAMETOOLONG, "mkdir %s", path);
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdirat(dirfd, buf, mode) < 0 && errno != EEXIST)
      return husk_errorf(err, errno, "mkdir %s", buf);
    *p = '/';
  }
  if (mkdirat(dirfd, buf, mode) < 0 && errno != EEXIST)
    return husk_errorf(err, errno, "mkdir %s", buf);
  return 0;
}

int husk_parse_u64(const char *s, uint64_t *out)
{
  if (s == NULL || !isdigit((unsigned char)*s))
    return -EINVAL;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *out = v;
  return 0;
}

int husk_parse_i64(const char *s, int64_t *out)
{
  if (s == NULL || *s == '\0')
    return -EINVAL;
  const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
  if (!isdigit((unsigned char)*d))
    return -EINVAL;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *out = v;
  return 0;
}

static const struct {
  const char *name;
  int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int husk_parse_signal(const char *s)
{
  if (s == NULL || *s == '\0')
    return -EINVAL;
  uint64_t n;
  if (husk_parse_u64(s, &n) == 0)
    return (n >= 1 && n <= (uint64_t)SIGRTMAX) ? (int)n : -EINVAL;
  if (strncasecmp(s, "SIG", 3) == 0)
    s += 3;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(signals); i++)
    if (strcasecmp(s, signals[i].name) == 0)
      return signals[i].sig;
  int base = -1;
  const char *rest = NULL;
  if (strncasecmp(s, "RTMIN", 5) == 0) {
    base = SIGRTMIN;
    rest = s + 5;
  } else if (strncasecmp(s, "RTMAX", 5) == 0) {
    base = SIGRTMAX;
    rest = s + 5;
  }
  if (base < 0)
    return -EINVAL;
  if (*rest == '\0')
    return base;
  int64_t off;
  if ((*rest != '+' && *rest != '-') || husk_parse_i64(rest, &off) < 0)
    return -EINVAL;
  int64_t sig = base + off;
  if (sig < SIGRTMIN || sig > SIGRTMAX)
    return -EINVAL;
  return (int)sig;
}

const char *husk_signal_name(int sig)
{
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(signals); i++)
    if (signals[i].sig == sig)
      return signals[i].name;
  return NULL;
}

uint64_t husk_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void husk_rfc3339_now(char *buf, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

int husk_spawn_capture(char *const argv[], const char *input, char *out, size_t outlen, int *status,
                       husk_err *err)
{
  int in[2], op[2];
  if (pipe2(in, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  _cleanup_close_ int in_r = in[0], in_w = in[1];
  if (pipe2(op, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  _cleanup_close_ int out_r = op[0], out_w = op[1];
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w, 1);
  posix_spawn_file_actions_adddup2(&fa, out_w, 2);
  pid_t pid;
  int r = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)
                               : posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0)
    return husk_errorf(err, r, "run %s", argv[0]);
  husk_closep(&in_r);
  husk_closep(&out_w);
  if (input) {
    /* a child that exits without reading must not kill us with SIGPIPE */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    husk_write_all(in_w, input, strlen(input));
    sigaction(SIGPIPE, &old, NULL);
  }
  husk_closep(&in_w);
  ssize_t got = husk_read_all(out_r, out, outlen);
  out[got > 0 ? got : 0] = '\0';
  char drain[512];
  for (ssize_t n; (n = read(out_r, drain, sizeof(drain))) > 0 || (n < 0 && errno == EINTR);)
    ;
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR)
      return husk_errorf(err, errno, "wait for %s", argv[0]);
  return 0;
}
