/* husk-trace: decoding and output (no BPF here; see trace_format.h). */
#include "trace_format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <seccomp.h>

#define HUSK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct flag_name {
  uint64_t value;
  const char *name;
};

/* ABI values from linux/sched.h: the same on every architecture. */
static const struct flag_name clone_flags[] = {
    {0x00000100, "CLONE_VM"},
    {0x00000200, "CLONE_FS"},
    {0x00000400, "CLONE_FILES"},
    {0x00000800, "CLONE_SIGHAND"},
    {0x00001000, "CLONE_PIDFD"},
    {0x00002000, "CLONE_PTRACE"},
    {0x00004000, "CLONE_VFORK"},
    {0x00008000, "CLONE_PARENT"},
    {0x00010000, "CLONE_THREAD"},
    {0x00020000, "CLONE_NEWNS"},
    {0x00040000, "CLONE_SYSVSEM"},
    {0x00080000, "CLONE_SETTLS"},
    {0x00100000, "CLONE_PARENT_SETTID"},
    {0x00200000, "CLONE_CHILD_CLEARTID"},
    {0x00400000, "CLONE_DETACHED"},
    {0x00800000, "CLONE_UNTRACED"},
    {0x01000000, "CLONE_CHILD_SETTID"},
    {0x02000000, "CLONE_NEWCGROUP"},
    {0x04000000, "CLONE_NEWUTS"},
    {0x08000000, "CLONE_NEWIPC"},
    {0x10000000, "CLONE_NEWUSER"},
    {0x20000000, "CLONE_NEWPID"},
    {0x40000000, "CLONE_NEWNET"},
    {0x80000000, "CLONE_IO"},
    {0x100000000ULL, "CLONE_CLEAR_SIGHAND"},
    {0x200000000ULL, "CLONE_INTO_CGROUP"},
};

#define CLONE_NEWTIME_FLAG 0x80ULL
#define CSIGNAL_MASK       0xffULL

/* linux/mount.h */
static const struct flag_name mount_flags[] = {
    {1, "MS_RDONLY"},          {2, "MS_NOSUID"},           {4, "MS_NODEV"},
    {8, "MS_NOEXEC"},          {16, "MS_SYNCHRONOUS"},     {32, "MS_REMOUNT"},
    {64, "MS_MANDLOCK"},       {128, "MS_DIRSYNC"},        {256, "MS_NOSYMFOLLOW"},
    {1024, "MS_NOATIME"},      {2048, "MS_NODIRATIME"},    {4096, "MS_BIND"},
    {8192, "MS_MOVE"},         {16384, "MS_REC"},          {32768, "MS_SILENT"},
    {1 << 16, "MS_POSIXACL"},  {1 << 17, "MS_UNBINDABLE"}, {1 << 18, "MS_PRIVATE"},
    {1 << 19, "MS_SLAVE"},     {1 << 20, "MS_SHARED"},     {1 << 21, "MS_RELATIME"},
    {1 << 22, "MS_KERNMOUNT"}, {1 << 23, "MS_I_VERSION"},  {1 << 24, "MS_STRICTATIME"},
    {1 << 25, "MS_LAZYTIME"},  {1 << 30, "MS_ACTIVE"},     {1ULL << 31, "MS_NOUSER"},
};

#define MS_MGC_MSK_VAL 0xffff0000ULL
#define MS_MGC_VALUE   0xc0ed0000ULL

static const struct flag_name umount_flags[] = {
    {1, "MNT_FORCE"},
    {2, "MNT_DETACH"},
    {4, "MNT_EXPIRE"},
    {8, "UMOUNT_NOFOLLOW"},
};

static const struct flag_name seccomp_flags[] = {
    {1, "SECCOMP_FILTER_FLAG_TSYNC"},        {2, "SECCOMP_FILTER_FLAG_LOG"},
    {4, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},   {8, "SECCOMP_FILTER_FLAG_NEW_LISTENER"},
    {16, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"}, {32, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
};

static const struct flag_name seccomp_ops[] = {
    {0, "SECCOMP_SET_MODE_STRICT"},
    {1, "SECCOMP_SET_MODE_FILTER"},
    {2, "SECCOMP_GET_ACTION_AVAIL"},
    {3, "SECCOMP_GET_NOTIF_SIZES"},
};

/* linux/mount.h: the new mount API */
static const struct flag_name move_mount_flags[] = {
    {0x01, "MOVE_MOUNT_F_SYMLINKS"},   {0x02, "MOVE_MOUNT_F_AUTOMOUNTS"},
    {0x04, "MOVE_MOUNT_F_EMPTY_PATH"}, {0x10, "MOVE_MOUNT_T_SYMLINKS"},
    {0x20, "MOVE_MOUNT_T_AUTOMOUNTS"}, {0x40, "MOVE_MOUNT_T_EMPTY_PATH"},
    {0x100, "MOVE_MOUNT_SET_GROUP"},   {0x200, "MOVE_MOUNT_BENEATH"},
};

static const struct flag_name mount_attrs[] = {
    {0x1, "MOUNT_ATTR_RDONLY"},
    {0x2, "MOUNT_ATTR_NOSUID"},
    {0x4, "MOUNT_ATTR_NODEV"},
    {0x8, "MOUNT_ATTR_NOEXEC"},
    {0x10, "MOUNT_ATTR_NOATIME"},
    {0x20, "MOUNT_ATTR_STRICTATIME"},
    {0x80, "MOUNT_ATTR_NODIRATIME"},
    {0x100000, "MOUNT_ATTR_IDMAP"},
    {0x200000, "MOUNT_ATTR_NOSYMFOLLOW"},
};

static const struct flag_name open_tree_flags[] = {
    {0x1, "OPEN_TREE_CLONE"},   {0x80000, "OPEN_TREE_CLOEXEC"}, {0x100, "AT_SYMLINK_NOFOLLOW"},
    {0x800, "AT_NO_AUTOMOUNT"}, {0x1000, "AT_EMPTY_PATH"},      {0x8000, "AT_RECURSIVE"},
};

static const char *const fsconfig_cmds[] = {
    "FSCONFIG_SET_FLAG",   "FSCONFIG_SET_STRING",      "FSCONFIG_SET_BINARY",
    "FSCONFIG_SET_PATH",   "FSCONFIG_SET_PATH_EMPTY",  "FSCONFIG_SET_FD",
    "FSCONFIG_CMD_CREATE", "FSCONFIG_CMD_RECONFIGURE", "FSCONFIG_CMD_CREATE_EXCL",
};

/* linux/prctl.h; .value is the option. */
static const struct flag_name prctl_options[] = {
    {1, "PR_SET_PDEATHSIG"},
    {2, "PR_GET_PDEATHSIG"},
    {3, "PR_GET_DUMPABLE"},
    {4, "PR_SET_DUMPABLE"},
    {7, "PR_GET_KEEPCAPS"},
    {8, "PR_SET_KEEPCAPS"},
    {15, "PR_SET_NAME"},
    {16, "PR_GET_NAME"},
    {21, "PR_GET_SECCOMP"},
    {22, "PR_SET_SECCOMP"},
    {23, "PR_CAPBSET_READ"},
    {24, "PR_CAPBSET_DROP"},
    {27, "PR_GET_SECUREBITS"},
    {28, "PR_SET_SECUREBITS"},
    {36, "PR_SET_CHILD_SUBREAPER"},
    {37, "PR_GET_CHILD_SUBREAPER"},
    {38, "PR_SET_NO_NEW_PRIVS"},
    {39, "PR_GET_NO_NEW_PRIVS"},
    {47, "PR_CAP_AMBIENT"},
};

/* The prctl options worth a timeline line.  PR_CAPBSET_DROP and PR_CAP_AMBIENT
 * are left out: runtimes call them once per capability (dozens of lines); they
 * still appear in the histograms. */
static const uint64_t prctl_event_options[] = {1, 4, 8, 15, 22, 28, 36, 38};

#define PR_SET_NAME_OPT    15
#define PR_SET_SECCOMP_OPT 22
#define AT_FDCWD_VALUE     (-100)

/* "A|B|0x40" of the set bits; unknown bits as one hex remainder. */
static const char *flags_str(const struct flag_name *tab, size_t n, uint64_t v, char *buf,
                             size_t len)
{
  size_t off = 0;
  uint64_t rest = v;

  if (len == 0)
    return buf;
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if ((rest & tab[i].value) != tab[i].value || tab[i].value == 0)
      continue;
    rest &= ~tab[i].value;
    int w = snprintf(buf + off, len - off, "%s%s", off ? "|" : "", tab[i].name);
    if (w < 0 || (size_t)w >= len - off)
      return buf;
    off += (size_t)w;
  }
  if (rest || off == 0)
    snprintf(buf + off, len - off, "%s%#" PRIx64, off ? "|" : "", rest);
  if (v == 0)
    snprintf(buf, len, "0");
  return buf;
}

const char *trace_clone_flags(uint64_t flags, bool with_signal, char *buf, size_t len)
{
  char rest[512] = "", sig[32] = "";
  uint64_t low = flags & CSIGNAL_MASK;
  bool newtime = false;

  flags &= ~CSIGNAL_MASK;
  if (with_signal) {
    const char *name = low ? sigabbrev_np((int)low) : NULL;
    if (name)
      snprintf(sig, sizeof(sig), "SIG%s", name);
    else if (low)
      snprintf(sig, sizeof(sig), "%" PRIu64, low);
  } else {
    newtime = low & CLONE_NEWTIME_FLAG;
    flags |= low & ~CLONE_NEWTIME_FLAG; /* unknown low bits */
  }
  if (flags)
    flags_str(clone_flags, HUSK_ARRAY_LEN(clone_flags), flags, rest, sizeof(rest));
  snprintf(buf, len, "%s%s%s%s%s", newtime ? "CLONE_NEWTIME" : "", newtime && rest[0] ? "|" : "",
           rest, (newtime || rest[0]) && sig[0] ? "|" : "", sig);
  if (!buf[0])
    snprintf(buf, len, "0");
  return buf;
}

const char *trace_setns_type(uint64_t nstype, char *buf, size_t len)
{
  if (nstype == 0) {
    snprintf(buf, len, "0");
    return buf;
  }
  return trace_clone_flags(nstype, false, buf, len);
}

const char *trace_mount_flags(uint64_t flags, char *buf, size_t len)
{
  if ((flags & MS_MGC_MSK_VAL) == MS_MGC_VALUE) {
    char rest[512];
    flags_str(mount_flags, HUSK_ARRAY_LEN(mount_flags), flags & ~MS_MGC_MSK_VAL, rest,
              sizeof(rest));
    if (flags & ~MS_MGC_MSK_VAL)
      snprintf(buf, len, "MS_MGC_VAL|%s", rest);
    else
      snprintf(buf, len, "MS_MGC_VAL");
    return buf;
  }
  return flags_str(mount_flags, HUSK_ARRAY_LEN(mount_flags), flags, buf, len);
}

const char *trace_umount_flags(uint64_t flags, char *buf, size_t len)
{
  return flags_str(umount_flags, HUSK_ARRAY_LEN(umount_flags), flags, buf, len);
}

const char *trace_seccomp_flags(uint64_t flags, char *buf, size_t len)
{
  return flags_str(seccomp_flags, HUSK_ARRAY_LEN(seccomp_flags), flags, buf, len);
}

static const char *lookup_name(const struct flag_name *tab, size_t n, uint64_t v)
{
  for (size_t i = 0; i < n; i++)
    if (tab[i].value == v)
      return tab[i].name;
  return NULL;
}

const char *trace_prctl_option(uint64_t option)
{
  return lookup_name(prctl_options, HUSK_ARRAY_LEN(prctl_options), option);
}

const char *trace_seccomp_op(uint64_t op)
{
  return lookup_name(seccomp_ops, HUSK_ARRAY_LEN(seccomp_ops), op);
}

const char *trace_errno_name(int err, char *buf, size_t len)
{
  const char *name = strerrorname_np(err);
  if (name)
    snprintf(buf, len, "%s", name);
  else
    snprintf(buf, len, "E%d", err);
  return buf;
}

const char *trace_syscall_name(uint32_t nr)
{
  static char *cache[HUSK_MAX_NR];
  static char unknown[32];

  if (nr < HUSK_MAX_NR && cache[nr])
    return cache[nr];
  char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
  if (!name) {
    if (asprintf(&name, "syscall_%u", nr) < 0)
      name = NULL;
  }
  if (!name) {
    snprintf(unknown, sizeof(unknown), "syscall_%u", nr);
    return unknown;
  }
  if (nr < HUSK_MAX_NR) {
    cache[nr] = name;
    return name;
  }
  snprintf(unknown, sizeof(unknown), "%s", name);
  free(name);
  return unknown;
}

void trace_escape(const char *in, size_t inlen, char *out, size_t outlen)
{
  size_t o = 0;

  if (outlen == 0)
    return;
  for (size_t i = 0; i < inlen && in[i]; i++) {
    unsigned char c = (unsigned char)in[i];
    char tmp[5];
    size_t w;
    if (c == '\n')
      w = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
    else if (c == '\t')
      w = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
    else if (c == '"' || c == '\\')
      w = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      w = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
    else
      tmp[0] = (char)c, tmp[1] = '\0', w = 1;
    if (o + w >= outlen)
      break;
    memcpy(out + o, tmp, w);
    o += w;
  }
  out[o] = '\0';
}

void trace_rev_path(const char *comp, size_t len, bool pseudo, char *out, size_t outlen)
{
  const char *parts[64];
  size_t n = 0, o = 0;

  if (outlen == 0)
    return;
  for (size_t i = 0; i < len && n < HUSK_ARRAY_LEN(parts);) {
    parts[n++] = comp + i;
    i += strnlen(comp + i, len - i) + 1;
  }
  out[0] = '\0';
  if (n == 0) {
    snprintf(out, outlen, "/");
    return;
  }
  for (size_t k = n; k-- > 0;) {
    size_t plen = strnlen(parts[k], (size_t)(comp + len - parts[k]));
    bool slash = !(pseudo && k == n - 1);
    if (o + plen + 2 >= outlen)
      break;
    if (slash)
      out[o++] = '/';
    memcpy(out + o, parts[k], plen);
    o += plen;
  }
  out[o] = '\0';
}

/* ---- kinds ---- */

void trace_fill_kinds(uint8_t kinds[HUSK_MAX_NR])
{
  static const struct {
    long nr;
    uint8_t kind;
  } tab[] = {
      {SYS_exit, HUSK_K_NORETURN},
      {SYS_exit_group, HUSK_K_NORETURN},
      {SYS_clone, HUSK_K_CLONE},
#ifdef SYS_clone3
      {SYS_clone3, HUSK_K_CLONE3},
#endif
#ifdef SYS_fork
      {SYS_fork, HUSK_K_FORK},
#endif
#ifdef SYS_vfork
      {SYS_vfork, HUSK_K_FORK},
#endif
      {SYS_unshare, HUSK_K_UNSHARE},
      {SYS_setns, HUSK_K_SETNS},
      {SYS_mount, HUSK_K_MOUNT},
      {SYS_umount2, HUSK_K_UMOUNT},
      {SYS_pivot_root, HUSK_K_PIVOT_ROOT},
      {SYS_chroot, HUSK_K_CHROOT},
      {SYS_sethostname, HUSK_K_HOSTNAME},
      {SYS_setdomainname, HUSK_K_HOSTNAME},
      {SYS_execve, HUSK_K_EXECVE},
      {SYS_execveat, HUSK_K_EXECVEAT},
      {SYS_capset, HUSK_K_CAPSET},
      {SYS_prctl, HUSK_K_PRCTL},
      {SYS_seccomp, HUSK_K_SECCOMP},
      {SYS_write, HUSK_K_WRITE},
      {SYS_pwrite64, HUSK_K_WRITE},
#ifdef SYS_mkdir
      {SYS_mkdir, HUSK_K_MKDIR},
#endif
      {SYS_mkdirat, HUSK_K_MKDIRAT},
#ifdef SYS_rmdir
      {SYS_rmdir, HUSK_K_RMDIR},
#endif
      {SYS_unlinkat, HUSK_K_UNLINKAT},
#ifdef SYS_open_tree
      {SYS_open_tree, HUSK_K_OPEN_TREE},
      {SYS_move_mount, HUSK_K_MOVE_MOUNT},
      {SYS_fsopen, HUSK_K_FSOPEN},
      {SYS_fsconfig, HUSK_K_FSCONFIG},
      {SYS_fsmount, HUSK_K_FSMOUNT},
#endif
#ifdef SYS_mount_setattr
      {SYS_mount_setattr, HUSK_K_MOUNT_SETATTR},
#endif
  };

  memset(kinds, 0, HUSK_MAX_NR);
  for (size_t i = 0; i < HUSK_ARRAY_LEN(tab); i++)
    if (tab[i].nr >= 0 && tab[i].nr < HUSK_MAX_NR)
      kinds[tab[i].nr] = tab[i].kind;
}

uint64_t trace_prctl_event_mask(void)
{
  uint64_t mask = 0;
  for (size_t i = 0; i < HUSK_ARRAY_LEN(prctl_event_options); i++)
    mask |= 1ULL << prctl_event_options[i];
  return mask;
}

void trace_fmt_set_cgroups(struct trace_fmt *fmt, const char *proc_cgroups)
{
  const char *line = proc_cgroups;

  while (line && *line) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[256], name[64];
    unsigned id;
    if (len < sizeof(buf) && line[0] != '#') {
      memcpy(buf, line, len);
      buf[len] = '\0';
      if (sscanf(buf, "%63s %u", name, &id) == 2 && id < TRACE_MAX_CG) {
        const char *old = fmt->cg_names[id];
        char *joined = NULL;
        if (old) {
          if (asprintf(&joined, "%s,%s", old, name) < 0)
            joined = NULL;
        } else {
          joined = strdup(name);
        }
        if (joined) {
          free((char *)old);
          fmt->cg_names[id] = joined;
        }
      }
    }
    line = end ? end + 1 : NULL;
  }
}

void trace_fmt_free(struct trace_fmt *fmt)
{
  for (size_t i = 0; i < TRACE_MAX_CG; i++) {
    free((char *)fmt->cg_names[i]);
    fmt->cg_names[i] = NULL;
  }
}

/* ---- events ---- */

const char *trace_event_name(const struct husk_event *ev)
{
  if (ev->type == HUSK_EV_EXIT)
    return "exit";
  return trace_syscall_name(ev->nr);
}

static struct trace_arg *arg_new(struct trace_args *out, const char *key, enum trace_arg_type type)
{
  if (out->n >= TRACE_MAX_ARGS)
    return NULL;
  struct trace_arg *a = &out->a[out->n++];
  a->key = key;
  a->type = type;
  a->num = 0;
  a->str[0] = '\0';
  return a;
}

static void arg_num(struct trace_args *out, const char *key, int64_t v)
{
  struct trace_arg *a = arg_new(out, key, TRACE_ARG_NUM);
  if (a)
    a->num = v;
}

static void arg_sym(struct trace_args *out, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void arg_sym(struct trace_args *out, const char *key, const char *fmt, ...)
{
  struct trace_arg *a = arg_new(out, key, TRACE_ARG_SYM);
  if (!a)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->str, sizeof(a->str), fmt, ap);
  va_end(ap);
}

/* A string from the tracee; a NULL pointer is shown as the symbol NULL. */
static void arg_str(struct trace_args *out, const char *key, const char *s, size_t max,
                    uint64_t uptr)
{
  if (!uptr) {
    arg_sym(out, key, "NULL");
    return;
  }
  struct trace_arg *a = arg_new(out, key, TRACE_ARG_STR);
  if (a)
    trace_escape(s, max, a->str, sizeof(a->str));
}

static void arg_dfd(struct trace_args *out, const char *key, uint64_t dfd)
{
  if ((int)dfd != AT_FDCWD_VALUE)
    arg_num(out, key, (int)dfd);
}

static void decode_path_s0(const struct husk_event *ev, char *buf, size_t len)
{
  char raw[HUSK_PATH_LEN + 64];
  trace_rev_path(ev->s0, ev->s0_len < HUSK_PATH_LEN ? ev->s0_len : HUSK_PATH_LEN,
                 ev->flags & HUSK_EVF_PSEUDO, raw, sizeof(raw));
  trace_escape(raw, sizeof(raw), buf, len);
}

/* A mount target: the string, or for "/proc/self/fd/N" and move_mount's
 * to_dfd the path of that fd (the BPF side resolved it). */
static void arg_target(const struct husk_event *ev, struct trace_args *out, const char *key,
                       uint64_t uptr)
{
  if (!(ev->flags & HUSK_EVF_VIAFD)) {
    arg_str(out, key, ev->s0, sizeof(ev->s0), uptr);
    return;
  }
  struct trace_arg *t = arg_new(out, key, TRACE_ARG_STR);
  if (t)
    decode_path_s0(ev, t->str, sizeof(t->str));
  if (strcmp(key, "target") == 0) /* move_mount shows to_dfd already */
    arg_num(out, "target_fd", (int64_t)ev->extra[0]);
}

static void decode_exit(const struct husk_event *ev, struct trace_args *out)
{
  int st = (int)ev->ret;
  if (WIFSIGNALED(st)) {
    const char *name = sigabbrev_np(WTERMSIG(st));
    if (name)
      arg_sym(out, "signal", "SIG%s%s", name, WCOREDUMP(st) ? " (core dumped)" : "");
    else
      arg_sym(out, "signal", "%d", WTERMSIG(st));
  } else {
    arg_num(out, "status", WEXITSTATUS(st));
  }
}

/* One argument for the argv display: quoted like a shell would need it. */
static size_t append_arg(char *out, size_t o, size_t len, const char *arg, size_t alen)
{
  bool quote = alen == 0 || strcspn(arg, " \t\n'\"\\$`;&|<>()*?[]#~") < alen;
  int w = snprintf(out + o, len - o, "%s%s%.*s%s", o ? " " : "", quote ? "'" : "", (int)alen, arg,
                   quote ? "'" : "");
  if (w < 0 || (size_t)w >= len - o)
    return len - 1;
  return o + (size_t)w;
}

static void decode_argv(const struct husk_event *ev, struct trace_args *out)
{
  char joined[4 * HUSK_STR_LEN];
  size_t o = 0, shown = 0;
  uint64_t argc;

  joined[0] = '\0';
  if (ev->flags & HUSK_EVF_ARGBLOCK) {
    /* the whole argv block from the new program's stack */
    size_t len = ev->extra[0] < sizeof(ev->argblock) ? ev->extra[0] : sizeof(ev->argblock) - 1;
    argc = ev->extra[1];
    for (size_t i = 0; i < len && shown < argc;) {
      size_t alen = strnlen(ev->argblock + i, len - i);
      o = append_arg(joined, o, sizeof(joined), ev->argblock + i, alen);
      shown++;
      i += alen + 1;
    }
  } else {
    /* argv[0..2] read at syscall entry (a failed execve) */
    const char *s[3] = {ev->s1, ev->s2, ev->s3};
    argc = ev->extra[0] > 3 ? 3 : ev->extra[0];
    for (uint64_t i = 0; i < argc; i++)
      o = append_arg(joined, o, sizeof(joined), s[i], strnlen(s[i], HUSK_STR_LEN));
    shown = argc;
    if (ev->extra[1])
      argc++;
  }
  if (shown < argc)
    snprintf(joined + o, sizeof(joined) - o, " ...");
  struct trace_arg *a = arg_new(out, "argv", TRACE_ARG_STR);
  if (a)
    trace_escape(joined, sizeof(joined), a->str, sizeof(a->str));
}

void trace_decode(const struct trace_fmt *fmt, const struct husk_event *ev, struct trace_args *out)
{
  char buf[1024];
  uint64_t a[6];

  for (size_t i = 0; i < 6; i++)
    a[i] = ev->args[i];
  out->n = 0;
  if (ev->type == HUSK_EV_EXIT) {
    decode_exit(ev, out);
    return;
  }
  switch (ev->kind) {
  case HUSK_K_CLONE:
    arg_sym(out, "flags", "%s", trace_clone_flags(a[0], true, buf, sizeof(buf)));
    break;
  case HUSK_K_CLONE3:
    arg_sym(out, "flags", "%s", trace_clone_flags(ev->extra[0], false, buf, sizeof(buf)));
    if (ev->extra[1]) {
      const char *name = sigabbrev_np((int)ev->extra[1]);
      if (name)
        arg_sym(out, "exit_signal", "SIG%s", name);
      else
        arg_num(out, "exit_signal", (int64_t)ev->extra[1]);
    }
    if (ev->extra[0] & 0x200000000ULL)
      arg_num(out, "cgroup_fd", (int64_t)ev->extra[2]);
    break;
  case HUSK_K_FORK:
    break;
  case HUSK_K_UNSHARE:
    arg_sym(out, "flags", "%s", trace_clone_flags(a[0], false, buf, sizeof(buf)));
    break;
  case HUSK_K_SETNS: {
    arg_num(out, "fd", (int)a[0]);
    if (ev->flags & HUSK_EVF_S0_REVPATH) {
      struct trace_arg *t = arg_new(out, "ns", TRACE_ARG_STR);
      if (t)
        decode_path_s0(ev, t->str, sizeof(t->str));
      arg_num(out, "ns_ino", (int64_t)ev->extra[0]);
    }
    arg_sym(out, "nstype", "%s", trace_setns_type(a[1], buf, sizeof(buf)));
    break;
  }
  case HUSK_K_MOUNT:
    arg_str(out, "source", ev->s1, sizeof(ev->s1), a[0]);
    arg_target(ev, out, "target", a[1]);
    arg_str(out, "fstype", ev->s2, sizeof(ev->s2), a[2]);
    arg_sym(out, "flags", "%s", trace_mount_flags(a[3], buf, sizeof(buf)));
    if (a[4])
      arg_str(out, "data", ev->s3, sizeof(ev->s3), a[4]);
    break;
  case HUSK_K_UMOUNT:
    arg_str(out, "target", ev->s0, sizeof(ev->s0), a[0]);
    arg_sym(out, "flags", "%s", trace_umount_flags(a[1], buf, sizeof(buf)));
    break;
  case HUSK_K_PIVOT_ROOT:
    arg_str(out, "new_root", ev->s0, sizeof(ev->s0), a[0]);
    arg_str(out, "put_old", ev->s1, sizeof(ev->s1), a[1]);
    break;
  case HUSK_K_CHROOT:
    arg_str(out, "path", ev->s0, sizeof(ev->s0), a[0]);
    break;
  case HUSK_K_HOSTNAME:
    arg_str(out, "name", ev->s0, sizeof(ev->s0), a[0]);
    break;
  case HUSK_K_EXECVE:
    arg_str(out, "filename", ev->s0, sizeof(ev->s0), a[0]);
    decode_argv(ev, out);
    break;
  case HUSK_K_EXECVEAT:
    arg_dfd(out, "dirfd", a[0]);
    arg_str(out, "filename", ev->s0, sizeof(ev->s0), a[1]);
    decode_argv(ev, out);
    break;
  case HUSK_K_CAPSET:
    arg_num(out, "pid", (int32_t)(ev->extra[3] >> 32));
    arg_sym(out, "effective", "%#" PRIx64 " (%d caps)", (uint64_t)ev->extra[0],
            __builtin_popcountll(ev->extra[0]));
    arg_sym(out, "permitted", "%#" PRIx64 " (%d caps)", (uint64_t)ev->extra[1],
            __builtin_popcountll(ev->extra[1]));
    arg_sym(out, "inheritable", "%#" PRIx64 " (%d caps)", (uint64_t)ev->extra[2],
            __builtin_popcountll(ev->extra[2]));
    break;
  case HUSK_K_PRCTL: {
    const char *opt = trace_prctl_option(a[0]);
    if (opt)
      arg_sym(out, "option", "%s", opt);
    else
      arg_num(out, "option", (int64_t)a[0]);
    if (a[0] == PR_SET_NAME_OPT)
      arg_str(out, "name", ev->s0, HUSK_COMM_LEN, a[1]);
    else if (a[0] == PR_SET_SECCOMP_OPT)
      arg_sym(out, "mode", "%s", a[1] == 2 ? "SECCOMP_MODE_FILTER" : "SECCOMP_MODE_STRICT");
    else
      arg_num(out, "arg2", (int64_t)a[1]);
    break;
  }
  case HUSK_K_SECCOMP: {
    const char *op = trace_seccomp_op(a[0]);
    if (op)
      arg_sym(out, "op", "%s", op);
    else
      arg_num(out, "op", (int64_t)a[0]);
    arg_sym(out, "flags", "%s", trace_seccomp_flags(a[1], buf, sizeof(buf)));
    if (a[0] == 1)
      arg_num(out, "insns", (int64_t)ev->extra[0]);
    break;
  }
  case HUSK_K_WRITE: {
    struct trace_arg *t = arg_new(out, "file", TRACE_ARG_STR);
    if (t)
      decode_path_s0(ev, t->str, sizeof(t->str));
    t = arg_new(out, "value", TRACE_ARG_STR);
    if (t)
      trace_escape(ev->s1, ev->extra[0] < sizeof(ev->s1) ? ev->extra[0] : sizeof(ev->s1), t->str,
                   sizeof(t->str));
    arg_sym(out, "fs", "%s", ev->flags & HUSK_EVF_CGROUP2 ? "cgroup2" : "cgroup");
    break;
  }
  case HUSK_K_MKDIR:
  case HUSK_K_MKDIRAT:
  case HUSK_K_RMDIR:
  case HUSK_K_UNLINKAT: {
    bool at = ev->kind == HUSK_K_MKDIRAT || ev->kind == HUSK_K_UNLINKAT;
    if (at)
      arg_dfd(out, "dirfd", a[0]);
    arg_str(out, "path", ev->s0, sizeof(ev->s0), at ? a[1] : a[0]);
    uint64_t id = ev->extra[0];
    char path[4 * HUSK_STR_LEN];
    trace_escape(ev->s1, sizeof(ev->s1), path, sizeof(path));
    const char *name = id < TRACE_MAX_CG && fmt ? fmt->cg_names[id] : NULL;
    char root[4 * HUSK_STR_LEN];
    trace_escape(ev->s2, sizeof(ev->s2), root, sizeof(root));
    if (id == 0)
      arg_sym(out, "cgroup", "cgroup2:%s", path);
    else if (name)
      arg_sym(out, "cgroup", "%s:%s", name, path);
    else if (root[0])
      arg_sym(out, "cgroup", "name=%s:%s", root, path);
    else
      arg_sym(out, "cgroup", "hierarchy%" PRIu64 ":%s", id, path);
    break;
  }
  case HUSK_K_OPEN_TREE:
    arg_dfd(out, "dfd", a[0]);
    arg_str(out, "path", ev->s0, sizeof(ev->s0), a[1]);
    arg_sym(out, "flags", "%s",
            flags_str(open_tree_flags, HUSK_ARRAY_LEN(open_tree_flags), a[2], buf, sizeof(buf)));
    break;
  case HUSK_K_MOVE_MOUNT:
    arg_dfd(out, "from_dfd", a[0]);
    arg_str(out, "from", ev->s1, sizeof(ev->s1), a[1]);
    arg_dfd(out, "to_dfd", a[2]);
    arg_target(ev, out, "to", a[3]);
    arg_sym(out, "flags", "%s",
            flags_str(move_mount_flags, HUSK_ARRAY_LEN(move_mount_flags), a[4], buf, sizeof(buf)));
    break;
  case HUSK_K_FSOPEN:
    arg_str(out, "fstype", ev->s2, sizeof(ev->s2), a[0]);
    break;
  case HUSK_K_FSCONFIG:
    arg_num(out, "fd", (int)a[0]);
    if (a[1] < HUSK_ARRAY_LEN(fsconfig_cmds))
      arg_sym(out, "cmd", "%s", fsconfig_cmds[a[1]]);
    else
      arg_num(out, "cmd", (int64_t)a[1]);
    if (a[2])
      arg_str(out, "key", ev->s1, sizeof(ev->s1), a[2]);
    if (a[1] == 1)
      arg_str(out, "value", ev->s2, sizeof(ev->s2), a[3]);
    break;
  case HUSK_K_FSMOUNT:
    arg_num(out, "fd", (int)a[0]);
    arg_sym(out, "flags", "%s", a[1] == 1 ? "FSMOUNT_CLOEXEC" : a[1] ? "?" : "0");
    arg_sym(out, "attr", "%s",
            flags_str(mount_attrs, HUSK_ARRAY_LEN(mount_attrs), a[2], buf, sizeof(buf)));
    break;
  case HUSK_K_MOUNT_SETATTR:
    arg_dfd(out, "dfd", a[0]);
    arg_str(out, "path", ev->s0, sizeof(ev->s0), a[1]);
    arg_sym(out, "flags", "%#" PRIx64, a[2]);
    arg_sym(out, "attr_set", "%s",
            flags_str(mount_attrs, HUSK_ARRAY_LEN(mount_attrs), ev->extra[0], buf, sizeof(buf)));
    arg_sym(out, "attr_clr", "%s",
            flags_str(mount_attrs, HUSK_ARRAY_LEN(mount_attrs), ev->extra[1], buf, sizeof(buf)));
    arg_sym(out, "propagation", "%s", trace_mount_flags(ev->extra[2], buf, sizeof(buf)));
    break;
  default:
    for (int i = 0; i < 3; i++)
      arg_sym(out, i == 0 ? "arg0" : i == 1 ? "arg1" : "arg2", "%#" PRIx64, a[i]);
    break;
  }
  if (ev->flags & HUSK_EVF_TRUNCATED)
    arg_sym(out, "truncated", "yes");
}

static int event_cmp(const void *pa, const void *pb)
{
  const struct husk_event *a = *(const struct husk_event *const *)pa;
  const struct husk_event *b = *(const struct husk_event *const *)pb;
  if (a->ts_ns != b->ts_ns)
    return a->ts_ns < b->ts_ns ? -1 : 1;
  if (a->tid != b->tid)
    return a->tid < b->tid ? -1 : 1;
  return 0;
}

void trace_events_sort(const struct husk_event **evs, size_t n)
{
  qsort(evs, n, sizeof(*evs), event_cmp);
}

/* ---- histograms ---- */

void trace_hist_add(struct husk_hist *sum, const struct husk_hist *h)
{
  sum->count += h->count;
  sum->errors += h->errors;
  sum->total_ns += h->total_ns;
  if (h->max_ns > sum->max_ns)
    sum->max_ns = h->max_ns;
  for (size_t i = 0; i < HUSK_HIST_SLOTS; i++)
    sum->slots[i] += h->slots[i];
}

void trace_hist_range(uint32_t slot, uint64_t *lo, uint64_t *hi)
{
  if (slot == 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  *lo = 1ULL << slot;
  *hi = slot >= HUSK_HIST_SLOTS - 1 ? UINT64_MAX : (1ULL << (slot + 1)) - 1;
}

static int stat_cmp(const void *pa, const void *pb)
{
  const struct trace_stat *a = pa, *b = pb;
  if (a->h.total_ns != b->h.total_ns)
    return a->h.total_ns > b->h.total_ns ? -1 : 1;
  if (a->h.count != b->h.count)
    return a->h.count > b->h.count ? -1 : 1;
  return a->nr < b->nr ? -1 : a->nr > b->nr;
}

void trace_stats_sort(struct trace_stat *st, size_t n)
{
  qsort(st, n, sizeof(*st), stat_cmp);
}

const char *trace_fmt_ns(uint64_t ns, char *buf, size_t len)
{
  static const struct {
    uint64_t div;
    const char *unit;
  } units[] = {{1000000000ULL, "s"}, {1000000ULL, "ms"}, {1000ULL, "us"}};

  for (size_t i = 0; i < HUSK_ARRAY_LEN(units); i++) {
    if (ns < units[i].div)
      continue;
    double v = (double)ns / (double)units[i].div;
    if (v < 10)
      snprintf(buf, len, "%.1f%s", v, units[i].unit);
    else
      snprintf(buf, len, "%.0f%s", v, units[i].unit);
    return buf;
  }
  snprintf(buf, len, "%" PRIu64 "ns", ns);
  return buf;
}

/* ---- output ---- */

void trace_print_header(FILE *out)
{
  fprintf(out, "%-10s %7s %6s %-16s %-12s %10s %8s  %s\n", "TIME(ms)", "PID", "NSPID", "COMM",
          "EVENT", "LAT(us)", "RET", "ARGS");
}

static void format_ret(const struct husk_event *ev, char *buf, size_t len)
{
  if (ev->type == HUSK_EV_EXIT) {
    snprintf(buf, len, "-");
  } else if (ev->ret < 0 && ev->ret >= -4095) {
    char name[32];
    snprintf(buf, len, "-%s", trace_errno_name((int)-ev->ret, name, sizeof(name)));
  } else if (ev->ret > 0xffffff) {
    snprintf(buf, len, "%#" PRIx64, (uint64_t)ev->ret);
  } else {
    snprintf(buf, len, "%" PRId64, (int64_t)ev->ret);
  }
}

void trace_print_event(FILE *out, const struct trace_fmt *fmt, const struct husk_event *ev)
{
  struct trace_args args;
  char ret[40], lat[32], comm[HUSK_COMM_LEN * 4 + 1];
  double t = ev->ts_ns >= fmt->t0_ns ? (double)(ev->ts_ns - fmt->t0_ns) / 1e6
                                     : -(double)(fmt->t0_ns - ev->ts_ns) / 1e6;

  trace_decode(fmt, ev, &args);
  format_ret(ev, ret, sizeof(ret));
  if (ev->type == HUSK_EV_EXIT)
    snprintf(lat, sizeof(lat), "-");
  else
    snprintf(lat, sizeof(lat), "%.2f", (double)ev->dur_ns / 1e3);
  trace_escape(ev->comm, sizeof(ev->comm), comm, sizeof(comm));
  fprintf(out, "%-10.3f %7u %6u %-16s %-12s %10s %8s ", t, ev->pid, ev->nspid, comm,
          trace_event_name(ev), lat, ret);
  for (size_t i = 0; i < args.n; i++) {
    const struct trace_arg *a = &args.a[i];
    if (a->type == TRACE_ARG_NUM)
      fprintf(out, " %s=%" PRId64, a->key, a->num);
    else if (a->type == TRACE_ARG_STR)
      fprintf(out, " %s=\"%s\"", a->key, a->str);
    else
      fprintf(out, " %s=%s", a->key, a->str);
  }
  fputc('\n', out);
}

static void print_one_hist(FILE *out, const struct trace_stat *s)
{
  char tot[32], lo_s[32], hi_s[32];
  uint64_t maxc = 0;
  int first = -1, last = -1;

  for (int i = 0; i < HUSK_HIST_SLOTS; i++) {
    if (s->h.slots[i] == 0)
      continue;
    if (first < 0)
      first = i;
    last = i;
    if (s->h.slots[i] > maxc)
      maxc = s->h.slots[i];
  }
  fprintf(out, "\n%s: %" PRIu64 " calls, %s total\n", trace_syscall_name(s->nr),
          (uint64_t)s->h.count, trace_fmt_ns(s->h.total_ns, tot, sizeof(tot)));
  if (first < 0) {
    fprintf(out, "  (no call returned)\n");
    return;
  }
  fprintf(out, "  %-22s : %-8s %s\n", "latency", "count", "distribution");
  for (int i = first; i <= last; i++) {
    uint64_t lo, hi;
    char range[80], bar[41];
    trace_hist_range((uint32_t)i, &lo, &hi);
    trace_fmt_ns(lo, lo_s, sizeof(lo_s));
    if (hi == UINT64_MAX)
      snprintf(hi_s, sizeof(hi_s), "inf");
    else
      trace_fmt_ns(hi + 1, hi_s, sizeof(hi_s));
    snprintf(range, sizeof(range), "%s -> %s", lo_s, hi_s);
    size_t w = maxc ? (size_t)((s->h.slots[i] * 40 + maxc - 1) / maxc) : 0;
    memset(bar, '*', w);
    bar[w] = '\0';
    fprintf(out, "  %-22s : %-8" PRIu64 " |%-40s|\n", range, (uint64_t)s->h.slots[i], bar);
  }
}

void trace_print_hist(FILE *out, const struct trace_stat *st, size_t n, size_t top)
{
  size_t shown = n < top ? n : top;
  uint64_t calls = 0, total = 0;

  for (size_t i = 0; i < n; i++) {
    calls += st[i].h.count;
    total += st[i].h.total_ns;
  }
  fprintf(out, "\nSYSCALLS (top %zu of %zu by total time; %" PRIu64 " calls, %.3f ms)\n", shown, n,
          calls, (double)total / 1e6);
  fprintf(out, "%-20s %8s %7s %12s %10s %10s\n", "SYSCALL", "COUNT", "ERRORS", "TOTAL(us)",
          "AVG(us)", "MAX(us)");
  for (size_t i = 0; i < shown; i++) {
    const struct husk_hist *h = &st[i].h;
    uint64_t returned = 0;
    for (size_t k = 0; k < HUSK_HIST_SLOTS; k++)
      returned += h->slots[k];
    fprintf(out, "%-20s %8" PRIu64 " %7" PRIu64 " %12.2f %10.2f %10.2f\n",
            trace_syscall_name(st[i].nr), (uint64_t)h->count, (uint64_t)h->errors,
            (double)h->total_ns / 1e3,
            returned ? (double)h->total_ns / 1e3 / (double)returned : 0.0, (double)h->max_ns / 1e3);
  }
  for (size_t i = 0; i < shown; i++)
    print_one_hist(out, &st[i]);
}

json_object *trace_event_json(const struct trace_fmt *fmt, const struct husk_event *ev)
{
  struct trace_args args;
  char comm[HUSK_COMM_LEN * 4 + 1];
  json_object *o = json_object_new_object();
  json_object *jargs = json_object_new_object();

  trace_decode(fmt, ev, &args);
  trace_escape(ev->comm, sizeof(ev->comm), comm, sizeof(comm));
  json_object_object_add(o, "time_ns",
                         json_object_new_int64(ev->ts_ns >= fmt->t0_ns
                                                   ? (int64_t)(ev->ts_ns - fmt->t0_ns)
                                                   : -(int64_t)(fmt->t0_ns - ev->ts_ns)));
  json_object_object_add(o, "pid", json_object_new_int64(ev->pid));
  json_object_object_add(o, "tid", json_object_new_int64(ev->tid));
  json_object_object_add(o, "nspid", json_object_new_int64(ev->nspid));
  json_object_object_add(o, "comm", json_object_new_string(comm));
  json_object_object_add(o, "event", json_object_new_string(trace_event_name(ev)));
  if (ev->type == HUSK_EV_EXIT) {
    json_object_object_add(o, "status", json_object_new_int64(ev->ret));
  } else {
    json_object_object_add(o, "nr", json_object_new_int64(ev->nr));
    json_object_object_add(o, "duration_ns", json_object_new_int64((int64_t)ev->dur_ns));
    json_object_object_add(o, "ret", json_object_new_int64(ev->ret));
    if (ev->ret < 0 && ev->ret >= -4095) {
      char name[32];
      json_object_object_add(
          o, "error", json_object_new_string(trace_errno_name((int)-ev->ret, name, sizeof(name))));
    }
  }
  for (size_t i = 0; i < args.n; i++) {
    const struct trace_arg *a = &args.a[i];
    json_object_object_add(jargs, a->key,
                           a->type == TRACE_ARG_NUM ? json_object_new_int64(a->num)
                                                    : json_object_new_string(a->str));
  }
  json_object_object_add(o, "args", jargs);
  return o;
}

json_object *trace_stats_json(const struct trace_stat *st, size_t n)
{
  json_object *arr = json_object_new_array();

  for (size_t i = 0; i < n; i++) {
    const struct husk_hist *h = &st[i].h;
    json_object *o = json_object_new_object();
    json_object *hist = json_object_new_array();
    uint64_t returned = 0;
    for (uint32_t k = 0; k < HUSK_HIST_SLOTS; k++) {
      if (!h->slots[k])
        continue;
      uint64_t lo, hi;
      trace_hist_range(k, &lo, &hi);
      json_object *b = json_object_new_object();
      json_object_object_add(b, "lo_ns", json_object_new_uint64(lo));
      json_object_object_add(b, "hi_ns", json_object_new_uint64(hi));
      json_object_object_add(b, "count", json_object_new_uint64(h->slots[k]));
      json_object_array_add(hist, b);
      returned += h->slots[k];
    }
    json_object_object_add(o, "name", json_object_new_string(trace_syscall_name(st[i].nr)));
    json_object_object_add(o, "nr", json_object_new_int64(st[i].nr));
    json_object_object_add(o, "count", json_object_new_uint64(h->count));
    json_object_object_add(o, "errors", json_object_new_uint64(h->errors));
    json_object_object_add(o, "total_ns", json_object_new_uint64(h->total_ns));
    json_object_object_add(o, "avg_ns",
                           json_object_new_uint64(returned ? h->total_ns / returned : 0));
    json_object_object_add(o, "max_ns", json_object_new_uint64(h->max_ns));
    json_object_object_add(o, "hist", hist);
    json_object_array_add(arr, o);
  }
  return arr;
}

json_object *trace_doc_json(const struct trace_fmt *fmt, const struct trace_run *run,
                            const struct husk_event *const *evs, size_t nev,
                            const struct trace_stat *st, size_t nst)
{
  json_object *doc = json_object_new_object();
  json_object *events = json_object_new_array();

  json_object_object_add(doc, "version", json_object_new_int(1));
  if (run->command) {
    json_object *cmd = json_object_new_array();
    for (char *const *p = run->command; *p; p++)
      json_object_array_add(cmd, json_object_new_string(*p));
    json_object_object_add(doc, "command", cmd);
  } else {
    json_object_object_add(doc, "command", NULL);
  }
  json_object_object_add(doc, "pid", json_object_new_int(run->pid));
  json_object_object_add(doc, "exit_status",
                         run->exit_status >= 0 ? json_object_new_int(run->exit_status) : NULL);
  json_object_object_add(doc, "duration_ns", json_object_new_uint64(run->duration_ns));
  for (size_t i = 0; i < nev; i++)
    json_object_array_add(events, trace_event_json(fmt, evs[i]));
  json_object_object_add(doc, "events", events);
  json_object_object_add(doc, "syscalls", trace_stats_json(st, nst));
  json_object_object_add(doc, "dropped_events", json_object_new_uint64(run->dropped_events));
  json_object_object_add(doc, "dropped_processes", json_object_new_uint64(run->dropped_processes));
  return doc;
}
