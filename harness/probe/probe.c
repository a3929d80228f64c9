/* probe: a small static program run inside test containers.
 *
 * `probe [report] [--check PATH]... [--read PATH]...` prints one JSON document
 * describing what the process sees (ids, capabilities, mounts, cgroups,
 * rlimits, network interfaces, namespaces, ...).  The pytest harness asserts
 * on that report.  Other subcommands give tests simple, checkable behaviour:
 *
 *   probe write PATH [DATA]           create/truncate PATH and write DATA
 *   probe sleep SECONDS               sleep (fractions allowed)
 *   probe exit CODE                   exit with CODE
 *   probe signal-wait [--ready PATH] [--out PATH]
 *                                     catch every catchable signal, write PATH
 *                                     once ready, print {"signal":N,...} on the
 *                                     first one and exit 128+N
 *   probe try OP ARGS...              attempt one privileged operation and
 *                                     print {"op":..,"result":"ok"|"EPERM"..}
 *                                     (only operations harmless to the host
 *                                     if a runtime bug let them through)
 *
 * Dependency-free on purpose (hand-written JSON): it must run in an empty
 * busybox rootfs, so it is linked statically and never touches NSS. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_DEPTH 32

/* ---- a tiny JSON emitter on stdout ---- */

static int j_depth;
static bool j_need_comma[MAX_DEPTH];
static bool j_after_key;

static void j_sep(void)
{
  if (j_after_key) {
    j_after_key = false;
    return;
  }
  if (j_depth > 0) {
    if (j_need_comma[j_depth])
      putchar(',');
    j_need_comma[j_depth] = true;
  }
}

static void j_raw_string(const char *s, size_t len)
{
  putchar('"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"':
      fputs("\\\"", stdout);
      break;
    case '\\':
      fputs("\\\\", stdout);
      break;
    case '\n':
      fputs("\\n", stdout);
      break;
    case '\t':
      fputs("\\t", stdout);
      break;
    case '\r':
      fputs("\\r", stdout);
      break;
    default:
      /* Control bytes and non-ASCII bytes are escaped one by one, so the
       * document is valid JSON whatever the bytes were. */
      if (c < 0x20 || c >= 0x7f)
        printf("\\u%04x", c);
      else
        putchar(c);
    }
  }
  putchar('"');
}

static void j_open(char c)
{
  j_sep();
  putchar(c);
  if (j_depth < MAX_DEPTH - 1)
    j_depth++;
  j_need_comma[j_depth] = false;
}

static void j_close(char c)
{
  if (j_depth > 0)
    j_depth--;
  putchar(c);
}

static void j_key(const char *k)
{
  j_sep();
  j_raw_string(k, strlen(k));
  putchar(':');
  j_after_key = true;
}

static void j_str(const char *s)
{
  j_sep();
  if (s == NULL)
    fputs("null", stdout);
  else
    j_raw_string(s, strlen(s));
}

static void j_strn(const char *s, size_t n)
{
  j_sep();
  j_raw_string(s, n);
}

static void j_int(long long v)
{
  j_sep();
  printf("%lld", v);
}

static void j_uint(unsigned long long v)
{
  j_sep();
  printf("%llu", v);
}

static void j_bool(bool v)
{
  j_sep();
  fputs(v ? "true" : "false", stdout);
}

static void j_null(void)
{
  j_sep();
  fputs("null", stdout);
}

static void j_kstr(const char *k, const char *v)
{
  j_key(k);
  j_str(v);
}

static void j_kint(const char *k, long long v)
{
  j_key(k);
  j_int(v);
}

/* errno as its symbolic name ("EROFS"), or "ok" for 0. */
static const char *err_name(int e)
{
  if (e == 0)
    return "ok";
  const char *n = strerrorname_np(e);
  return n ? n : "EUNKNOWN";
}

/* ---- small file helpers ---- */

/* Read up to cap-1 bytes of path into buf (NUL-terminated).  Returns the
 * number of bytes read or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t off = 0;
  while (off + 1 < cap) {
    ssize_t n = read(fd, buf + off, cap - 1 - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      close(fd);
      return -e;
    }
    if (n == 0)
      break;
    off += (size_t)n;
  }
  buf[off] = '\0';
  close(fd);
  return (ssize_t)off;
}

static void trim_newline(char *s)
{
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
    s[--n] = '\0';
}

/* Decode the octal escapes (\040) of a mountinfo field in place. */
static void unescape_octal(char *s)
{
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

/* ---- report sections ---- */

static char big_buf[1 << 20];

static void report_ids(void)
{
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  j_kint("uid", ruid);
  j_kint("euid", euid);
  j_kint("suid", suid);
  j_kint("gid", rgid);
  j_kint("egid", egid);
  j_kint("sgid", sgid);

  gid_t groups[NGROUPS_MAX];
  int n = getgroups(NGROUPS_MAX, groups);
  j_key("groups");
  j_open('[');
  for (int i = 0; i < n; i++)
    j_int(groups[i]);
  j_close(']');
}

static void report_status(void)
{
  static const struct {
    const char *field, *key;
  } fields[] = {
      {"CapInh:", "inheritable"}, {"CapPrm:", "permitted"}, {"CapEff:", "effective"},
      {"CapBnd:", "bounding"},    {"CapAmb:", "ambient"},
  };
  char buf[16384];
  ssize_t n = read_file("/proc/self/status", buf, sizeof buf);
  long nnp = -1, seccomp = -1, seccomp_filters = -1;
  char name[64] = "";

  j_key("caps");
  j_open('{');
  if (n >= 0) {
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
      const char *p = strstr(buf, fields[i].field);
      if (p == NULL)
        continue;
      p += strlen(fields[i].field);
      while (*p == ' ' || *p == '\t')
        p++;
      size_t len = strcspn(p, "\n");
      j_key(fields[i].key);
      j_strn(p, len);
    }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (sscanf(line, "NoNewPrivs: %ld", &nnp) == 1)
        continue;
      if (sscanf(line, "Seccomp: %ld", &seccomp) == 1)
        continue;
      if (sscanf(line, "Seccomp_filters: %ld", &seccomp_filters) == 1)
        continue;
      if (strncmp(line, "Name:", 5) == 0) {
        const char *p = line + 5;
        while (*p == ' ' || *p == '\t')
          p++;
        snprintf(name, sizeof name, "%s", p);
      }
    }
  }
  j_close('}');
  j_kint("no_new_privs", nnp);
  j_kint("seccomp", seccomp);
  j_kint("seccomp_filters", seccomp_filters);
  j_kstr("comm", name);
}

static void report_rlimits(void)
{
  static const struct {
    int res;
    const char *name;
  } lims[] = {
      {RLIMIT_AS, "RLIMIT_AS"},
      {RLIMIT_CORE, "RLIMIT_CORE"},
      {RLIMIT_CPU, "RLIMIT_CPU"},
      {RLIMIT_DATA, "RLIMIT_DATA"},
      {RLIMIT_FSIZE, "RLIMIT_FSIZE"},
      {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
      {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
      {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
      {RLIMIT_NICE, "RLIMIT_NICE"},
      {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
      {RLIMIT_NPROC, "RLIMIT_NPROC"},
      {RLIMIT_RSS, "RLIMIT_RSS"},
      {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
      {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
      {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
      {RLIMIT_STACK, "RLIMIT_STACK"},
  };
  j_key("rlimits");
  j_open('{');
  for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
    struct rlimit rl;
    if (getrlimit(lims[i].res, &rl) < 0)
      continue;
    j_key(lims[i].name);
    j_open('{');
    j_key("soft");
    j_uint((unsigned long long)rl.rlim_cur);
    j_key("hard");
    j_uint((unsigned long long)rl.rlim_max);
    j_close('}');
  }
  j_close('}');
}

/* One parsed /proc/self/mountinfo line; fields point into a line buffer. */
struct mnt {
  char *id, *parent, *devno, *root, *point, *opts, *optional, *fstype, *source, *super;
};

static bool parse_mountinfo_line(char *line, struct mnt *m)
{
  char *f[6];
  char *save = NULL;
  char *tok = strtok_r(line, " ", &save);
  for (int i = 0; i < 6; i++) {
    if (tok == NULL)
      return false;
    f[i] = tok;
    tok = strtok_r(NULL, " ", &save);
  }
  m->id = f[0];
  m->parent = f[1];
  m->devno = f[2];
  m->root = f[3];
  m->point = f[4];
  m->opts = f[5];
  /* optional fields up to "-" */
  static char optional[512];
  optional[0] = '\0';
  while (tok && strcmp(tok, "-") != 0) {
    if (optional[0])
      strncat(optional, " ", sizeof optional - strlen(optional) - 1);
    strncat(optional, tok, sizeof optional - strlen(optional) - 1);
    tok = strtok_r(NULL, " ", &save);
  }
  if (tok == NULL)
    return false;
  m->optional = optional;
  m->fstype = strtok_r(NULL, " ", &save);
  m->source = strtok_r(NULL, " ", &save);
  m->super = strtok_r(NULL, " ", &save);
  if (m->fstype == NULL)
    return false;
  if (m->source == NULL)
    m->source = (char *)"";
  if (m->super == NULL)
    m->super = (char *)"";
  unescape_octal(m->root);
  unescape_octal(m->point);
  unescape_octal(m->source);
  return true;
}

static void report_mounts(void)
{
  ssize_t n = read_file("/proc/self/mountinfo", big_buf, sizeof big_buf);
  j_key("mounts");
  j_open('[');
  if (n > 0) {
    char *save = NULL;
    for (char *line = strtok_r(big_buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      struct mnt m;
      if (!parse_mountinfo_line(line, &m))
        continue;
      j_open('{');
      j_kint("id", atoll(m.id));
      j_kint("parent", atoll(m.parent));
      j_kstr("root", m.root);
      j_kstr("mount_point", m.point);
      j_kstr("options", m.opts);
      j_kstr("propagation", m.optional);
      j_kstr("fstype", m.fstype);
      j_kstr("source", m.source);
      j_kstr("super_options", m.super);
      j_close('}');
    }
  }
  j_close(']');
}

/* ---- cgroups ---- */

#define MAX_CG 32

struct cg_entry {
  char controllers[256];
  char path[PATH_MAX];
  int hierarchy;
};

struct cg_mount {
  char point[PATH_MAX];
  char super[512];
  bool v2;
};

static const char *const cg_files_v2[] = {
    "memory.max", "memory.high", "memory.low",  "memory.swap.max", "pids.max",  "cpu.max",
    "cpu.weight", "cpuset.cpus", "cpuset.mems", "io.max",          "io.weight",
};
static const char *const cg_files_v1[] = {
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.swappiness",
    "pids.max",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.shares",
    "cpuset.cpus",
    "cpuset.mems",
    "blkio.weight",
};

/* Does the comma-separated controller list `ctrls` appear in the super
 * options of a v1 mount (e.g. "rw,memory" or "rw,name=systemd")? */
static bool v1_mount_has(const char *super, const char *ctrls)
{
  if (ctrls[0] == '\0')
    return false;
  char copy[256];
  size_t clen = strnlen(ctrls, sizeof copy - 1);
  memcpy(copy, ctrls, clen);
  copy[clen] = '\0';
  char *save = NULL;
  for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    const char *p = super;
    bool found = false;
    size_t len = strlen(c);
    while ((p = strstr(p, c)) != NULL) {
      bool start_ok = p == super || p[-1] == ',';
      bool end_ok = p[len] == '\0' || p[len] == ',';
      if (start_ok && end_ok) {
        found = true;
        break;
      }
      p += len;
    }
    if (!found)
      return false;
  }
  return true;
}

static int dump_cg_dir(const char *dir, bool v2, int budget)
{
  const char *const *files = v2 ? cg_files_v2 : cg_files_v1;
  size_t nfiles =
      v2 ? sizeof cg_files_v2 / sizeof cg_files_v2[0] : sizeof cg_files_v1 / sizeof cg_files_v1[0];
  for (size_t i = 0; i < nfiles && budget > 0; i++) {
    char path[PATH_MAX + 64];
    char buf[4096];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    ssize_t n = read_file(path, buf, sizeof buf);
    if (n < 0)
      continue;
    trim_newline(buf);
    j_kstr(path, buf);
    budget--;
  }
  return budget;
}

static void report_cgroup(void)
{
  static struct cg_entry entries[MAX_CG];
  static struct cg_mount mounts[MAX_CG];
  size_t n_entries = 0, n_mounts = 0;
  char buf[8192];

  j_key("cgroup");
  j_open('{');
  ssize_t n = read_file("/proc/self/cgroup", buf, sizeof buf);
  j_key("proc_self_cgroup");
  if (n >= 0)
    j_str(buf);
  else
    j_null();

  j_key("entries");
  j_open('[');
  if (n > 0) {
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && n_entries < MAX_CG;
         line = strtok_r(NULL, "\n", &save)) {
      char *c1 = strchr(line, ':');
      char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c1 = *c2 = '\0';
      struct cg_entry *e = &entries[n_entries++];
      e->hierarchy = atoi(line);
      snprintf(e->controllers, sizeof e->controllers, "%s", c1 + 1);
      snprintf(e->path, sizeof e->path, "%s", c2 + 1);
      j_open('{');
      j_kint("hierarchy", e->hierarchy);
      j_kstr("controllers", e->controllers);
      j_kstr("path", e->path);
      j_close('}');
    }
  }
  j_close(']');

  /* cgroup mounts visible here */
  n = read_file("/proc/self/mountinfo", big_buf, sizeof big_buf);
  if (n > 0) {
    char *save = NULL;
    for (char *line = strtok_r(big_buf, "\n", &save); line && n_mounts < MAX_CG;
         line = strtok_r(NULL, "\n", &save)) {
      struct mnt m;
      if (!parse_mountinfo_line(line, &m))
        continue;
      bool v2 = strcmp(m.fstype, "cgroup2") == 0;
      if (!v2 && strcmp(m.fstype, "cgroup") != 0)
        continue;
      struct cg_mount *cm = &mounts[n_mounts++];
      snprintf(cm->point, sizeof cm->point, "%s", m.point);
      snprintf(cm->super, sizeof cm->super, "%s", m.super);
      cm->v2 = v2;
    }
  }

  /* Limit files: in each cgroup mount, at its top and at the path of the
   * matching /proc/self/cgroup entry (the two differ without a cgroup ns). */
  j_key("files");
  j_open('{');
  int budget = 256;
  for (size_t i = 0; i < n_mounts; i++) {
    struct cg_mount *cm = &mounts[i];
    budget = dump_cg_dir(cm->point, cm->v2, budget);
    for (size_t k = 0; k < n_entries; k++) {
      struct cg_entry *e = &entries[k];
      bool match = cm->v2 ? e->hierarchy == 0 && e->controllers[0] == '\0'
                          : v1_mount_has(cm->super, e->controllers);
      if (!match || strcmp(e->path, "/") == 0)
        continue;
      char dir[2 * PATH_MAX + 2];
      snprintf(dir, sizeof dir, "%s%s", cm->point, e->path);
      struct stat st;
      if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        budget = dump_cg_dir(dir, cm->v2, budget);
    }
  }
  j_close('}');
  j_close('}');
}

/* ---- network ---- */

static void report_net(void)
{
  static const struct {
    unsigned flag;
    const char *name;
  } flags[] = {
      {IFF_UP, "UP"},
      {IFF_BROADCAST, "BROADCAST"},
      {IFF_LOOPBACK, "LOOPBACK"},
      {IFF_POINTOPOINT, "POINTOPOINT"},
      {IFF_RUNNING, "RUNNING"},
      {IFF_NOARP, "NOARP"},
      {IFF_PROMISC, "PROMISC"},
      {IFF_MULTICAST, "MULTICAST"},
  };
  struct ifaddrs *ifa = NULL;
  j_key("net");
  j_open('[');
  if (getifaddrs(&ifa) < 0) {
    j_close(']');
    j_kstr("net_error", err_name(errno));
    return;
  }
  /* one object per interface name, in first-seen order */
  const char *names[256];
  size_t n_names = 0;
  for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
    bool seen = false;
    for (size_t i = 0; i < n_names; i++)
      if (strcmp(names[i], a->ifa_name) == 0)
        seen = true;
    if (!seen && n_names < 256)
      names[n_names++] = a->ifa_name;
  }
  for (size_t i = 0; i < n_names; i++) {
    unsigned ifflags = 0;
    for (struct ifaddrs *a = ifa; a; a = a->ifa_next)
      if (strcmp(a->ifa_name, names[i]) == 0)
        ifflags |= a->ifa_flags;
    j_open('{');
    j_kstr("name", names[i]);
    j_key("flags");
    j_open('[');
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
      if (ifflags & flags[f].flag)
        j_str(flags[f].name);
    j_close(']');
    for (int fam = 0; fam < 2; fam++) {
      int af = fam == 0 ? AF_INET : AF_INET6;
      j_key(fam == 0 ? "ipv4" : "ipv6");
      j_open('[');
      for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
        if (strcmp(a->ifa_name, names[i]) != 0 || a->ifa_addr == NULL ||
            a->ifa_addr->sa_family != af)
          continue;
        char addr[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 16];
        int prefix = 0;
        if (af == AF_INET) {
          struct sockaddr_in *sin = (struct sockaddr_in *)a->ifa_addr;
          inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
          if (a->ifa_netmask)
            prefix = __builtin_popcount(((struct sockaddr_in *)a->ifa_netmask)->sin_addr.s_addr);
        } else {
          struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)a->ifa_addr;
          inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
          if (a->ifa_netmask) {
            struct sockaddr_in6 *m6 = (struct sockaddr_in6 *)a->ifa_netmask;
            for (int b = 0; b < 16; b++)
              prefix += __builtin_popcount(m6->sin6_addr.s6_addr[b]);
          }
        }
        snprintf(out, sizeof out, "%s/%d", addr, prefix);
        j_str(out);
      }
      j_close(']');
    }
    j_close('}');
  }
  j_close(']');
  freeifaddrs(ifa);
}

/* ---- namespaces, /proc, tty ---- */

static void report_ns(void)
{
  static const char *const types[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
  j_key("ns");
  j_open('{');
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    char path[64], link[128];
    snprintf(path, sizeof path, "/proc/self/ns/%s", types[i]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    j_key(types[i]);
    if (n < 0) {
      j_null();
      continue;
    }
    link[n] = '\0';
    const char *lb = strchr(link, '[');
    j_uint(lb ? strtoull(lb + 1, NULL, 10) : 0);
  }
  j_close('}');

  char buf[4096];
  j_key("uid_map");
  if (read_file("/proc/self/uid_map", buf, sizeof buf) >= 0)
    j_str(buf);
  else
    j_null();
  j_key("gid_map");
  if (read_file("/proc/self/gid_map", buf, sizeof buf) >= 0)
    j_str(buf);
  else
    j_null();
  j_key("oom_score_adj");
  if (read_file("/proc/self/oom_score_adj", buf, sizeof buf) >= 0)
    j_int(atoll(buf));
  else
    j_null();
}

/* Seconds of CLOCK_MONOTONIC and CLOCK_BOOTTIME (offset by a time namespace). */
static void report_clocks(void)
{
  static const struct {
    clockid_t id;
    const char *name;
  } clocks[] = {{CLOCK_MONOTONIC, "monotonic"}, {CLOCK_BOOTTIME, "boottime"}};
  j_key("clocks");
  j_open('{');
  for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
    struct timespec ts;
    j_key(clocks[i].name);
    if (clock_gettime(clocks[i].id, &ts) < 0)
      j_null();
    else
      j_int((long long)ts.tv_sec);
  }
  j_close('}');
}

static void report_proc_pids(void)
{
  j_key("proc_pids");
  j_open('[');
  DIR *d = opendir("/proc");
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      char *end;
      long v = strtol(de->d_name, &end, 10);
      if (*end == '\0' && v > 0)
        j_int(v);
    }
    closedir(d);
  }
  j_close(']');
}

/* Open file descriptors (other than the one reading /proc/self/fd). */
static void report_fds(void)
{
  j_key("fds");
  j_open('[');
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      char *end;
      long fd = strtol(de->d_name, &end, 10);
      if (*end != '\0' || de->d_name[0] == '\0' || fd == dirfd(d))
        continue;
      char target[PATH_MAX];
      ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
      target[n < 0 ? 0 : n] = '\0';
      j_open('{');
      j_kint("fd", fd);
      j_kstr("target", target);
      j_close('}');
    }
    closedir(d);
  }
  j_close(']');
}

static void report_tty(void)
{
  j_key("tty");
  j_open('{');
  j_key("stdin");
  j_bool(isatty(0));
  j_key("stdout");
  j_bool(isatty(1));
  j_key("stderr");
  j_bool(isatty(2));
  char name[PATH_MAX];
  j_key("name");
  if (ttyname_r(0, name, sizeof name) == 0)
    j_str(name);
  else
    j_null();
  j_close('}');
}

/* ---- --check PATH / --read PATH ---- */

static const char *type_name(mode_t m)
{
  if (S_ISREG(m))
    return "file";
  if (S_ISDIR(m))
    return "dir";
  if (S_ISLNK(m))
    return "symlink";
  if (S_ISCHR(m))
    return "char";
  if (S_ISBLK(m))
    return "block";
  if (S_ISFIFO(m))
    return "fifo";
  if (S_ISSOCK(m))
    return "socket";
  return "unknown";
}

static void check_path(const char *path)
{
  struct stat st, lst;
  j_key(path);
  j_open('{');
  if (lstat(path, &lst) < 0) {
    j_key("exists");
    j_bool(false);
    j_kstr("error", err_name(errno));
    j_close('}');
    return;
  }
  j_key("exists");
  j_bool(true);
  j_kstr("lstat_type", type_name(lst.st_mode));
  if (stat(path, &st) < 0)
    st = lst;
  j_kstr("type", type_name(st.st_mode));
  j_kint("mode", st.st_mode & 07777);
  j_kint("uid", st.st_uid);
  j_kint("gid", st.st_gid);
  j_kint("size", st.st_size);
  char rdev[32];
  snprintf(rdev, sizeof rdev, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
  j_kstr("rdev", rdev);
  struct statfs sfs;
  if (statfs(path, &sfs) == 0) {
    j_key("fs_readonly");
    j_bool((sfs.f_flags & ST_RDONLY) != 0);
    char magic[32];
    snprintf(magic, sizeof magic, "0x%lx", (unsigned long)sfs.f_type);
    j_kstr("fs_magic", magic);
  }

  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    j_kstr("read", err_name(d ? 0 : errno));
    if (d) {
      long entries = 0;
      struct dirent *de;
      j_key("entries");
      j_open('[');
      while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
          continue;
        if (entries++ < 64)
          j_str(de->d_name);
      }
      j_close(']');
      j_kint("n_entries", entries);
      closedir(d);
    }
    /* writable: can a file be created in it? */
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/.probe-write-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    j_kstr("write", err_name(fd >= 0 ? 0 : errno));
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
  } else {
    /* Non-blocking so a fifo or a tty cannot hang the probe. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    j_kstr("read", err_name(fd >= 0 ? 0 : errno));
    if (fd >= 0) {
      if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) {
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof buf);
        j_kint("read_bytes", n < 0 ? -errno : n);
      }
      close(fd);
    }
    /* O_APPEND and no O_TRUNC: opening for write changes nothing. */
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    j_kstr("write", err_name(fd >= 0 ? 0 : errno));
    if (fd >= 0)
      close(fd);
  }
  j_close('}');
}

static void read_path(const char *path)
{
  char buf[65536];
  ssize_t n = read_file(path, buf, sizeof buf);
  j_key(path);
  if (n < 0)
    j_null();
  else
    j_strn(buf, (size_t)n);
}

/* ---- subcommands ---- */

static void usage(void)
{
  fputs("usage: probe [report] [--check PATH]... [--read PATH]...\n"
        "       probe write PATH [DATA]\n"
        "       probe sleep SECONDS\n"
        "       probe exit CODE\n"
        "       probe signal-wait [--ready PATH] [--out PATH]\n"
        "       probe try mkdir PATH | chown PATH UID GID |\n"
        "                 socket DOMAIN TYPE | unshare-uts | mknod PATH |\n"
        "                 setuid UID | kill PID SIG | open-write PATH\n",
        stderr);
}

static int cmd_report(int argc, char **argv, int first)
{
  const char *checks[128], *reads[128];
  size_t n_checks = 0, n_reads = 0;
  for (int i = first; i < argc; i++) {
    if (strcmp(argv[i], "--check") == 0 && i + 1 < argc && n_checks < 128) {
      checks[n_checks++] = argv[++i];
    } else if (strcmp(argv[i], "--read") == 0 && i + 1 < argc && n_reads < 128) {
      reads[n_reads++] = argv[++i];
    } else {
      usage();
      return 2;
    }
  }

  /* Everything that depends on the process's own state comes first, before
   * the probe opens files or sockets. */
  mode_t mask = umask(0);
  umask(mask);
  struct utsname uts;
  uname(&uts);
  char cwd[PATH_MAX];
  const char *cwdp = getcwd(cwd, sizeof cwd);

  j_open('{');
  j_kint("probe_version", 1);
  j_kint("pid", getpid());
  j_kint("ppid", getppid());
  j_kint("pgid", getpgrp());
  j_kint("sid", getsid(0));
  report_ids();
  j_kstr("hostname", uts.nodename);
  j_kstr("domainname", uts.domainname);
  j_kstr("cwd", cwdp);
  j_kint("umask", mask);
  report_status();
  report_rlimits();
  report_ns();
  report_clocks();
  report_proc_pids();
  report_fds();
  report_tty();
  report_mounts();
  report_cgroup();
  report_net();

  j_key("env");
  j_open('[');
  for (char **e = environ; e && *e; e++)
    j_str(*e);
  j_close(']');
  j_key("args");
  j_open('[');
  for (int i = 0; i < argc; i++)
    j_str(argv[i]);
  j_close(']');

  j_key("checks");
  j_open('{');
  for (size_t i = 0; i < n_checks; i++)
    check_path(checks[i]);
  j_close('}');
  j_key("files");
  j_open('{');
  for (size_t i = 0; i < n_reads; i++)
    read_path(reads[i]);
  j_close('}');
  j_close('}');
  putchar('\n');
  return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_write(int argc, char **argv)
{
  if (argc < 3) {
    usage();
    return 2;
  }
  const char *data = argc > 3 ? argv[3] : "probe\n";
  int err = 0;
  int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = errno;
  } else {
    size_t len = strlen(data), off = 0;
    while (off < len) {
      ssize_t n = write(fd, data + off, len - off);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        err = errno;
        break;
      }
      off += (size_t)n;
    }
    if (close(fd) < 0 && err == 0)
      err = errno;
  }
  j_open('{');
  j_kstr("op", "write");
  j_kstr("path", argv[2]);
  j_kstr("result", err_name(err));
  j_close('}');
  putchar('\n');
  fflush(stdout);
  return err ? 1 : 0;
}

static int cmd_sleep(int argc, char **argv)
{
  if (argc < 3) {
    usage();
    return 2;
  }
  double secs = strtod(argv[2], NULL);
  struct timespec ts = {.tv_sec = (time_t)secs,
                        .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
  return 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
  if (got_signal == 0)
    got_signal = sig;
}

static int cmd_signal_wait(int argc, char **argv)
{
  const char *ready = NULL, *out = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
      ready = argv[++i];
    else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
      out = argv[++i];
    else {
      usage();
      return 2;
    }
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP)
      continue;
    sigaction(s, &sa, NULL); /* fails harmlessly for libc-reserved signals */
  }
  if (ready) {
    int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      fprintf(stderr, "probe: open %s: %s\n", ready, strerror(errno));
      return 3;
    }
    close(fd);
  }
  sigset_t none;
  sigemptyset(&none);
  while (got_signal == 0)
    sigsuspend(&none);

  int sig = got_signal;
  char doc[256];
  const char *abbrev = sigabbrev_np(sig);
  snprintf(doc, sizeof doc, "{\"signal\":%d,\"name\":\"SIG%s\"}\n", sig, abbrev ? abbrev : "?");
  fputs(doc, stdout);
  fflush(stdout);
  if (out) {
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, doc, strlen(doc));
      (void)ignored;
      close(fd);
    }
  }
  return 128 + sig;
}

static int cmd_try(int argc, char **argv)
{
  if (argc < 3) {
    usage();
    return 2;
  }
  const char *op = argv[2];
  int rc = -2;
#define NEED(n)                                                                                    \
  do {                                                                                             \
    if (argc < 3 + (n)) {                                                                          \
      usage();                                                                                     \
      return 2;                                                                                    \
    }                                                                                              \
  } while (0)
  if (strcmp(op, "mkdir") == 0) {
    NEED(1);
    rc = mkdir(argv[3], 0755);
  } else if (strcmp(op, "chown") == 0) {
    NEED(3);
    rc = chown(argv[3], (uid_t)atol(argv[4]), (gid_t)atol(argv[5]));
  } else if (strcmp(op, "socket") == 0) {
    NEED(2);
    rc = socket(atoi(argv[3]), atoi(argv[4]), 0);
    if (rc >= 0) {
      close(rc);
      rc = 0;
    }
  } else if (strcmp(op, "unshare-uts") == 0) {
    rc = unshare(CLONE_NEWUTS);
  } else if (strcmp(op, "mknod") == 0) {
    NEED(1);
    rc = mknod(argv[3], S_IFCHR | 0600, makedev(1, 3));
  } else if (strcmp(op, "setuid") == 0) {
    NEED(1);
    rc = setuid((uid_t)atol(argv[3]));
  } else if (strcmp(op, "kill") == 0) {
    NEED(2);
    rc = kill((pid_t)atol(argv[3]), atoi(argv[4]));
  } else if (strcmp(op, "open-write") == 0) {
    NEED(1);
    rc = open(argv[3], O_WRONLY | O_APPEND | O_CLOEXEC);
    if (rc >= 0) {
      close(rc);
      rc = 0;
    }
  } else {
    fprintf(stderr, "probe: unknown try op %s\n", op);
    return 2;
  }
#undef NEED
  int err = rc < 0 ? errno : 0;
  j_open('{');
  j_kstr("op", op);
  j_kstr("result", err_name(err));
  j_kint("errno", err);
  j_close('}');
  putchar('\n');
  fflush(stdout);
  return err ? 1 : 0;
}

int main(int argc, char **argv)
{
  if (argc < 2 || strncmp(argv[1], "--", 2) == 0)
    return cmd_report(argc, argv, 1);
  const char *cmd = argv[1];
  if (strcmp(cmd, "report") == 0)
    return cmd_report(argc, argv, 2);
  if (strcmp(cmd, "write") == 0)
    return cmd_write(argc, argv);
  if (strcmp(cmd, "sleep") == 0)
    return cmd_sleep(argc, argv);
  if (strcmp(cmd, "exit") == 0)
    return argc > 2 ? atoi(argv[2]) & 0xff : 0;
  if (strcmp(cmd, "signal-wait") == 0)
    return cmd_signal_wait(argc, argv);
  if (strcmp(cmd, "try") == 0)
    return cmd_try(argc, argv);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
    usage();
    return 0;
  }
  usage();
  return 2;
}
