/* OCI runtime-spec config.json parser.
 *
 * One walk over the json-c tree: every field is looked up once, converted and
 * copied into the husk_spec structs; the tree is freed before returning.
 * Error messages name the offending field with its full path
 * ("process.args[2]: expected a string"); the path is only formatted when an
 * error is reported, so the happy path does no string formatting. */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgroup.h"
#include "husk_seccomp.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef SCHED_BATCH
#define SCHED_BATCH 3
#endif
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MS_LAZYTIME
#define MS_LAZYTIME (1 << 25)
#endif

/* ------------------------------------------------------------------------ */
/* Field paths, formatted only on error.                                     */

/* An object's position in the document: "base" or "base[idx]". */
typedef struct loc {
  const char *base;
  long idx; /* < 0: no index */
} loc;

#define LOC(b)       (&(const loc){(b), -1})
#define LOC_AT(b, i) (&(const loc){(b), (long)(i)})

/* "base[idx].key", "base.key", "base[idx]", "base" or "key". */
static const char *fname(char *buf, size_t n, const loc *l, const char *key)
{
  size_t off = 0;
  buf[0] = '\0';
  if (l && l->base && l->base[0]) {
    int w = l->idx >= 0 ? snprintf(buf, n, "%s[%ld]", l->base, l->idx)
                        : snprintf(buf, n, "%s", l->base);
    off = w < 0 ? 0 : ((size_t)w >= n ? n - 1 : (size_t)w);
  }
  if (key)
    snprintf(buf + off, n - off, "%s%s", off ? "." : "", key);
  return buf;
}

#define FNAME(l, key) fname((char[256]){0}, 256, (l), (key))

static int field_err(husk_err *err, const loc *l, const char *key, const char *msg)
{
  return husk_errorf_plain(err, EINVAL, "%s: %s", FNAME(l, key), msg);
}

static int type_err(husk_err *err, const loc *l, const char *key, const char *what)
{
  return husk_errorf_plain(err, EINVAL, "%s: expected %s", FNAME(l, key), what);
}

static int unsupported(husk_err *err, const loc *l, const char *key)
{
  return husk_errorf_plain(err, ENOTSUP, "%s is not supported", FNAME(l, key));
}

/* ------------------------------------------------------------------------ */
/* Typed accessors.  A JSON null counts as absent (as in Go's encoding/json). */

static struct json_object *member(struct json_object *o, const char *key)
{
  struct json_object *v = NULL;
  json_object_object_get_ex(o, key, &v);
  return v;
}

static int want_object(struct json_object *v, const loc *l, const char *key, husk_err *err)
{
  if (!json_object_is_type(v, json_type_object))
    return type_err(err, l, key, "an object");
  return 0;
}

static int want_array(struct json_object *v, const loc *l, const char *key, husk_err *err)
{
  if (!json_object_is_type(v, json_type_array))
    return type_err(err, l, key, "an array");
  return 0;
}

/* Copy a JSON string (refusing embedded NUL bytes). */
static int str_dup(struct json_object *v, const loc *l, const char *key, char **out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_string))
    return type_err(err, l, key, "a string");
  const char *s = json_object_get_string(v);
  size_t len = (size_t)json_object_get_string_len(v);
  if (memchr(s, '\0', len))
    return field_err(err, l, key, "contains a NUL byte");
  char *r = husk_xmalloc(len + 1);
  memcpy(r, s, len + 1);
  free(*out);
  *out = r;
  return 0;
}

static int opt_str(struct json_object *o, const char *key, const loc *l, char **out, husk_err *err)
{
  struct json_object *v = member(o, key);
  return v ? str_dup(v, l, key, out, err) : 0;
}

/* The string of a JSON string value without copying (NULL when absent). */
static int str_peek(struct json_object *o, const char *key, const loc *l, const char **out,
                    husk_err *err)
{
  struct json_object *v = member(o, key);
  *out = NULL;
  if (v == NULL)
    return 0;
  if (!json_object_is_type(v, json_type_string))
    return type_err(err, l, key, "a string");
  *out = json_object_get_string(v);
  return 0;
}

static int opt_bool(struct json_object *o, const char *key, const loc *l, bool *out, husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  if (!json_object_is_type(v, json_type_boolean))
    return type_err(err, l, key, "a boolean");
  *out = json_object_get_boolean(v);
  return 0;
}

static int get_i64(struct json_object *v, const loc *l, const char *key, int64_t min, int64_t max,
                   int64_t *out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_int))
    return type_err(err, l, key, "an integer");
  int64_t x = json_object_get_int64(v);
  if (x == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
    return field_err(err, l, key, "value out of range");
  if (x < min || x > max)
    return field_err(err, l, key, "value out of range");
  *out = x;
  return 0;
}

static int get_u64(struct json_object *v, const loc *l, const char *key, uint64_t max,
                   uint64_t *out, husk_err *err)
{
  if (!json_object_is_type(v, json_type_int))
    return type_err(err, l, key, "an integer");
  if (json_object_get_int64(v) < 0)
    return field_err(err, l, key, "value out of range");
  uint64_t x = json_object_get_uint64(v);
  if (x > max)
    return field_err(err, l, key, "value out of range");
  *out = x;
  return 0;
}

static int get_u32(struct json_object *v, const loc *l, const char *key, uint32_t *out,
                   husk_err *err)
{
  uint64_t x = 0;
  int r = get_u64(v, l, key, UINT32_MAX, &x, err);
  if (r == 0)
    *out = (uint32_t)x;
  return r;
}

/* Optional integer members; *present (may be NULL) tells whether it was given. */
static int opt_u32(struct json_object *o, const char *key, const loc *l, uint32_t *out,
                   bool *present, husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  if (present)
    *present = true;
  return get_u32(v, l, key, out, err);
}

static int opt_u64(struct json_object *o, const char *key, const loc *l, uint64_t *out,
                   husk_err *err)
{
  struct json_object *v = member(o, key);
  return v ? get_u64(v, l, key, UINT64_MAX, out, err) : 0;
}

static int opt_int(struct json_object *o, const char *key, const loc *l, int64_t min, int64_t max,
                   int64_t *out, bool *present, husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  if (present)
    *present = true;
  return get_i64(v, l, key, min, max, out, err);
}

static int req_u32(struct json_object *o, const char *key, const loc *l, uint32_t *out,
                   husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return field_err(err, l, key, "required");
  return get_u32(v, l, key, out, err);
}

/* An array of strings into a NULL terminated vector (NULL when absent). */
static int opt_strv(struct json_object *o, const char *key, const loc *l, char ***out,
                    husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  if (want_array(v, l, key, err) < 0)
    return husk_error_ret(err);
  size_t n = json_object_array_length(v);
  _cleanup_strv_ char **r = husk_xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(v, i);
    if (!json_object_is_type(e, json_type_string))
      return husk_errorf_plain(err, EINVAL, "%s[%zu]: expected a string", FNAME(l, key), i);
    const char *s = json_object_get_string(e);
    size_t len = (size_t)json_object_get_string_len(e);
    if (memchr(s, '\0', len))
      return husk_errorf_plain(err, EINVAL, "%s[%zu]: contains a NUL byte", FNAME(l, key), i);
    r[i] = husk_xmalloc(len + 1);
    memcpy(r[i], s, len + 1);
  }
  husk_strv_free(*out);
  *out = husk_steal_ptr(r);
  return 0;
}

/* A map of string to string (annotations, sysctl). */
static int opt_kv(struct json_object *o, const char *key, const loc *l, husk_kv **out, size_t *n,
                  husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  if (want_object(v, l, key, err) < 0)
    return husk_error_ret(err);
  size_t cnt = (size_t)json_object_object_length(v);
  husk_kv *kv = husk_xcalloc(cnt ? cnt : 1, sizeof(*kv));
  *out = kv;
  *n = 0;
  json_object_object_foreach(v, k, val)
  {
    if (!json_object_is_type(val, json_type_string))
      return husk_errorf_plain(err, EINVAL, "%s.%s: expected a string", FNAME(l, key), k);
    kv[*n].key = husk_xstrdup(k);
    kv[*n].value = NULL;
    (*n)++;
    if (str_dup(val, l, key, &kv[*n - 1].value, err) < 0)
      return husk_error_ret(err);
  }
  return 0;
}

static bool is_absolute(const char *p)
{
  return p && p[0] == '/';
}

/* Reject a member that husk does not implement when it is present. */
static int refuse(struct json_object *o, const char *key, const loc *l, husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  return unsupported(err, l, key);
}

/* Reject a member when it is present and not "empty" (empty string/array/object). */
static int refuse_nonempty(struct json_object *o, const char *key, const loc *l, husk_err *err)
{
  struct json_object *v = member(o, key);
  if (v == NULL)
    return 0;
  switch (json_object_get_type(v)) {
  case json_type_string:
    if (json_object_get_string_len(v) == 0)
      return 0;
    break;
  case json_type_array:
    if (json_object_array_length(v) == 0)
      return 0;
    break;
  case json_type_object:
    if (json_object_object_length(v) == 0)
      return 0;
    break;
  default:
    break;
  }
  return unsupported(err, l, key);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

static const char *const cap_names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

int husk_cap_from_name(const char *name)
{
  if (name == NULL || strncasecmp(name, "CAP_", 4) != 0)
    return -1;
  name += 4;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cap_names); i++)
    if (strcasecmp(name, cap_names[i]) == 0)
      return (int)i;
  return -1;
}

int husk_caps_parse_list(struct json_object *arr, const char *field, uint64_t *mask, husk_err *err)
{
  *mask = 0;
  if (arr == NULL)
    return 0;
  if (!json_object_is_type(arr, json_type_array))
    return husk_errorf_plain(err, EINVAL, "%s: expected an array", field);
  size_t n = json_object_array_length(arr);
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(arr, i);
    if (!json_object_is_type(e, json_type_string))
      return husk_errorf_plain(err, EINVAL, "%s[%zu]: expected a string", field, i);
    const char *s = json_object_get_string(e);
    int c = husk_cap_from_name(s);
    if (c < 0)
      return husk_errorf_plain(err, EINVAL, "%s[%zu]: unknown capability \"%s\"", field, i, s);
    *mask |= UINT64_C(1) << c;
  }
  return 0;
}

static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int rlimit_from_name(const char *s)
{
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(rlimit_names); i++)
    if (strcmp(s, rlimit_names[i].name) == 0)
      return rlimit_names[i].resource;
  return -1;
}

static const char *const ns_spec_names[HUSK_NS_COUNT] = {
    [HUSK_NS_PID] = "pid",       [HUSK_NS_NET] = "network", [HUSK_NS_MOUNT] = "mount",
    [HUSK_NS_IPC] = "ipc",       [HUSK_NS_UTS] = "uts",     [HUSK_NS_USER] = "user",
    [HUSK_NS_CGROUP] = "cgroup", [HUSK_NS_TIME] = "time",
};

static const char *const ns_proc_names[HUSK_NS_COUNT] = {
    [HUSK_NS_PID] = "pid",       [HUSK_NS_NET] = "net",   [HUSK_NS_MOUNT] = "mnt",
    [HUSK_NS_IPC] = "ipc",       [HUSK_NS_UTS] = "uts",   [HUSK_NS_USER] = "user",
    [HUSK_NS_CGROUP] = "cgroup", [HUSK_NS_TIME] = "time",
};

static const int ns_flags[HUSK_NS_COUNT] = {
    [HUSK_NS_PID] = CLONE_NEWPID,       [HUSK_NS_NET] = CLONE_NEWNET,
    [HUSK_NS_MOUNT] = CLONE_NEWNS,      [HUSK_NS_IPC] = CLONE_NEWIPC,
    [HUSK_NS_UTS] = CLONE_NEWUTS,       [HUSK_NS_USER] = CLONE_NEWUSER,
    [HUSK_NS_CGROUP] = CLONE_NEWCGROUP, [HUSK_NS_TIME] = CLONE_NEWTIME,
};

int husk_ns_clone_flag(enum husk_ns_type t)
{
  return (unsigned)t < HUSK_NS_COUNT ? ns_flags[t] : 0;
}

const char *husk_ns_spec_name(enum husk_ns_type t)
{
  return (unsigned)t < HUSK_NS_COUNT ? ns_spec_names[t] : NULL;
}

const char *husk_ns_proc_name(enum husk_ns_type t)
{
  return (unsigned)t < HUSK_NS_COUNT ? ns_proc_names[t] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Mount options                                                             */

enum mopt_op {
  MOPT_NOP,
  MOPT_SET,
  MOPT_CLEAR,
  MOPT_BIND, /* bind / rbind: sets flags and marks the mount as a bind */
  MOPT_PROP,
  MOPT_RRO,
  MOPT_RRW,
  MOPT_UNSUPPORTED,
};

/* Sorted by name (bsearch). */
static const struct mopt {
  const char *name;
  unsigned char op;
  unsigned long flag;
} mount_opts[] = {
    {"async", MOPT_CLEAR, MS_SYNCHRONOUS},
    {"atime", MOPT_CLEAR, MS_NOATIME},
    {"bind", MOPT_BIND, MS_BIND},
    {"defaults", MOPT_NOP, 0},
    {"dev", MOPT_CLEAR, MS_NODEV},
    {"diratime", MOPT_CLEAR, MS_NODIRATIME},
    {"dirsync", MOPT_SET, MS_DIRSYNC},
    {"exec", MOPT_CLEAR, MS_NOEXEC},
    {"idmap", MOPT_UNSUPPORTED, 0},
    {"iversion", MOPT_SET, MS_I_VERSION},
    {"lazytime", MOPT_SET, MS_LAZYTIME},
    {"loud", MOPT_CLEAR, MS_SILENT},
    {"mand", MOPT_SET, MS_MANDLOCK},
    {"noatime", MOPT_SET, MS_NOATIME},
    {"nodev", MOPT_SET, MS_NODEV},
    {"nodiratime", MOPT_SET, MS_NODIRATIME},
    {"noexec", MOPT_SET, MS_NOEXEC},
    {"noiversion", MOPT_CLEAR, MS_I_VERSION},
    {"nolazytime", MOPT_CLEAR, MS_LAZYTIME},
    {"nomand", MOPT_CLEAR, MS_MANDLOCK},
    {"norelatime", MOPT_CLEAR, MS_RELATIME},
    {"nostrictatime", MOPT_CLEAR, MS_STRICTATIME},
    {"nosuid", MOPT_SET, MS_NOSUID},
    {"nosymfollow", MOPT_SET, MS_NOSYMFOLLOW},
    {"notmpcopyup", MOPT_NOP, 0},
    {"private", MOPT_PROP, MS_PRIVATE},
    {"ratime", MOPT_UNSUPPORTED, 0},
    {"rbind", MOPT_BIND, MS_BIND | MS_REC},
    {"rdev", MOPT_UNSUPPORTED, 0},
    {"rdiratime", MOPT_UNSUPPORTED, 0},
    {"relatime", MOPT_SET, MS_RELATIME},
    {"remount", MOPT_SET, MS_REMOUNT},
    {"rexec", MOPT_UNSUPPORTED, 0},
    {"ridmap", MOPT_UNSUPPORTED, 0},
    {"rnoatime", MOPT_UNSUPPORTED, 0},
    {"rnodev", MOPT_UNSUPPORTED, 0},
    {"rnodiratime", MOPT_UNSUPPORTED, 0},
    {"rnoexec", MOPT_UNSUPPORTED, 0},
    {"rnorelatime", MOPT_UNSUPPORTED, 0},
    {"rnostrictatime", MOPT_UNSUPPORTED, 0},
    {"rnosuid", MOPT_UNSUPPORTED, 0},
    {"rnosymfollow", MOPT_UNSUPPORTED, 0},
    {"ro", MOPT_SET, MS_RDONLY},
    {"rprivate", MOPT_PROP, MS_PRIVATE | MS_REC},
    {"rrelatime", MOPT_UNSUPPORTED, 0},
    {"rro", MOPT_RRO, 0},
    {"rrw", MOPT_RRW, 0},
    {"rshared", MOPT_PROP, MS_SHARED | MS_REC},
    {"rslave", MOPT_PROP, MS_SLAVE | MS_REC},
    {"rstrictatime", MOPT_UNSUPPORTED, 0},
    {"rsuid", MOPT_UNSUPPORTED, 0},
    {"rsymfollow", MOPT_UNSUPPORTED, 0},
    {"runbindable", MOPT_PROP, MS_UNBINDABLE | MS_REC},
    {"rw", MOPT_CLEAR, MS_RDONLY},
    {"shared", MOPT_PROP, MS_SHARED},
    {"silent", MOPT_SET, MS_SILENT},
    {"slave", MOPT_PROP, MS_SLAVE},
    {"strictatime", MOPT_SET, MS_STRICTATIME},
    {"suid", MOPT_CLEAR, MS_NOSUID},
    {"symfollow", MOPT_CLEAR, MS_NOSYMFOLLOW},
    {"sync", MOPT_SET, MS_SYNCHRONOUS},
    {"tmpcopyup", MOPT_UNSUPPORTED, 0},
    {"unbindable", MOPT_PROP, MS_UNBINDABLE},
};

static int mopt_cmp(const void *key, const void *elem)
{
  return strcmp(key, ((const struct mopt *)elem)->name);
}

int husk_mount_options_parse(husk_mount *m, husk_err *err)
{
  m->flags = 0;
  m->clear = 0;
  m->propagation = 0;
  m->recursive_ro = false;
  m->bind = m->type && strcmp(m->type, "bind") == 0;
  free(m->data);
  m->data = NULL;

  char *data = NULL;
  size_t dlen = 0;
  bool explicit_bind = false;
  for (char **o = m->options; o && *o; o++) {
    const char *s = *o;
    if (*s == '\0')
      continue;
    const struct mopt *e =
        bsearch(s, mount_opts, HUSK_ARRAY_SIZE(mount_opts), sizeof(mount_opts[0]), mopt_cmp);
    if (e == NULL) {
      /* Filesystem specific: joined into the data string. */
      size_t len = strlen(s);
      if (data == NULL) {
        size_t cap = 0;
        for (char **p = o; *p; p++)
          cap += strlen(*p) + 1;
        data = husk_xmalloc(cap);
      } else {
        data[dlen++] = ',';
      }
      memcpy(data + dlen, s, len);
      dlen += len;
      data[dlen] = '\0';
      continue;
    }
    switch (e->op) {
    case MOPT_NOP:
      break;
    case MOPT_SET:
      m->flags |= e->flag;
      m->clear &= ~e->flag;
      break;
    case MOPT_CLEAR:
      m->flags &= ~e->flag;
      m->clear |= e->flag;
      break;
    case MOPT_BIND:
      m->flags |= e->flag;
      m->bind = true;
      explicit_bind = true;
      break;
    case MOPT_PROP:
      m->propagation = e->flag;
      break;
    case MOPT_RRO:
      m->recursive_ro = true;
      break;
    case MOPT_RRW:
      m->recursive_ro = false;
      break;
    default:
      free(data);
      if (strcmp(s, "idmap") == 0 || strcmp(s, "ridmap") == 0)
        return husk_errorf_plain(err, ENOTSUP,
                                 "mount option \"%s\": idmapped mounts are not supported", s);
      return husk_errorf_plain(err, ENOTSUP, "mount option \"%s\" is not supported", s);
    }
  }
  /* type "bind" without bind/rbind is a plain (non-recursive) bind, as in runc. */
  if (m->bind && !explicit_bind)
    m->flags |= MS_BIND;
  m->data = data;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Process                                                                   */

static void user_clear(husk_user *u)
{
  free(u->additional_gids);
  memset(u, 0, sizeof(*u));
}

void husk_process_clear(husk_process *p)
{
  if (p == NULL)
    return;
  free(p->cwd);
  husk_strv_free(p->args);
  husk_strv_free(p->env);
  user_clear(&p->user);
  free(p->rlimits);
  free(p->apparmor_profile);
  free(p->exec_cpu_affinity_initial);
  free(p->exec_cpu_affinity_final);
  memset(p, 0, sizeof(*p));
}

static int parse_user(struct json_object *v, husk_user *u, husk_err *err)
{
  const loc *l = LOC("process.user");
  if (want_object(v, LOC("process"), "user", err) < 0)
    return husk_error_ret(err);
  if (opt_u32(v, "uid", l, &u->uid, NULL, err) < 0 ||
      opt_u32(v, "gid", l, &u->gid, NULL, err) < 0 ||
      opt_u32(v, "umask", l, &u->umask, &u->has_umask, err) < 0)
    return husk_error_ret(err);
  struct json_object *g = member(v, "additionalGids");
  if (g) {
    if (want_array(g, l, "additionalGids", err) < 0)
      return husk_error_ret(err);
    size_t n = json_object_array_length(g);
    u->additional_gids = husk_xcalloc(n ? n : 1, sizeof(gid_t));
    for (size_t i = 0; i < n; i++) {
      uint32_t x = 0;
      if (get_u32(json_object_array_get_idx(g, i), LOC_AT("process.user.additionalGids", i), NULL,
                  &x, err) < 0)
        return husk_error_ret(err);
      u->additional_gids[i] = (gid_t)x;
    }
    u->n_additional_gids = n;
  }
  return 0;
}

static int parse_caps(struct json_object *v, husk_caps *c, husk_err *err)
{
  if (want_object(v, LOC("process"), "capabilities", err) < 0)
    return husk_error_ret(err);
  c->present = true;
  if (husk_caps_parse_list(member(v, "bounding"), "process.capabilities.bounding", &c->bounding,
                           err) < 0 ||
      husk_caps_parse_list(member(v, "effective"), "process.capabilities.effective", &c->effective,
                           err) < 0 ||
      husk_caps_parse_list(member(v, "inheritable"), "process.capabilities.inheritable",
                           &c->inheritable, err) < 0 ||
      husk_caps_parse_list(member(v, "permitted"), "process.capabilities.permitted", &c->permitted,
                           err) < 0 ||
      husk_caps_parse_list(member(v, "ambient"), "process.capabilities.ambient", &c->ambient, err) <
          0)
    return husk_error_ret(err);
  return 0;
}

static int parse_rlimits(struct json_object *v, husk_process *p, husk_err *err)
{
  if (want_array(v, LOC("process"), "rlimits", err) < 0)
    return husk_error_ret(err);
  size_t n = json_object_array_length(v);
  p->rlimits = husk_xcalloc(n ? n : 1, sizeof(husk_rlimit));
  uint64_t seen = 0;
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(v, i);
    const loc *l = LOC_AT("process.rlimits", i);
    if (want_object(e, l, NULL, err) < 0)
      return husk_error_ret(err);
    const char *type;
    if (str_peek(e, "type", l, &type, err) < 0)
      return husk_error_ret(err);
    if (type == NULL)
      return field_err(err, l, "type", "required");
    int res = rlimit_from_name(type);
    if (res < 0)
      return husk_errorf_plain(err, EINVAL, "%s: unknown rlimit \"%s\"", FNAME(l, "type"), type);
    if (seen & (UINT64_C(1) << res))
      return husk_errorf_plain(err, EINVAL, "%s: duplicate rlimit \"%s\"", FNAME(l, "type"), type);
    seen |= UINT64_C(1) << res;
    husk_rlimit *r = &p->rlimits[i];
    r->resource = res;
    struct json_object *soft = member(e, "soft"), *hard = member(e, "hard");
    if (soft == NULL)
      return field_err(err, l, "soft", "required");
    if (hard == NULL)
      return field_err(err, l, "hard", "required");
    if (get_u64(soft, l, "soft", UINT64_MAX, &r->soft, err) < 0 ||
        get_u64(hard, l, "hard", UINT64_MAX, &r->hard, err) < 0)
      return husk_error_ret(err);
    p->n_rlimits = i + 1;
  }
  return 0;
}

static const struct {
  const char *name;
  int value;
} sched_policies[] = {
    {"SCHED_OTHER", SCHED_OTHER},       {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
    {"SCHED_BATCH", SCHED_BATCH},       {"SCHED_ISO", -2},          {"SCHED_IDLE", SCHED_IDLE},
    {"SCHED_DEADLINE", SCHED_DEADLINE},
};

static const struct {
  const char *name;
  uint64_t value;
} sched_flags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},     {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

static int parse_scheduler(struct json_object *v, husk_scheduler *s, husk_err *err)
{
  const loc *l = LOC("process.scheduler");
  if (want_object(v, LOC("process"), "scheduler", err) < 0)
    return husk_error_ret(err);
  s->present = true;
  const char *pol;
  if (str_peek(v, "policy", l, &pol, err) < 0)
    return husk_error_ret(err);
  if (pol == NULL)
    return field_err(err, l, "policy", "required");
  s->policy = -1;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(sched_policies); i++)
    if (strcmp(pol, sched_policies[i].name) == 0)
      s->policy = sched_policies[i].value;
  if (s->policy == -2)
    return husk_errorf_plain(err, ENOTSUP, "%s: SCHED_ISO is not supported by Linux",
                             FNAME(l, "policy"));
  if (s->policy < 0)
    return husk_errorf_plain(err, EINVAL, "%s: unknown policy \"%s\"", FNAME(l, "policy"), pol);
  int64_t x = 0;
  if (opt_int(v, "nice", l, -20, 19, &x, NULL, err) < 0)
    return husk_error_ret(err);
  s->nice = (int32_t)x;
  x = 0;
  if (opt_int(v, "priority", l, INT32_MIN, INT32_MAX, &x, NULL, err) < 0)
    return husk_error_ret(err);
  s->priority = (int32_t)x;
  struct json_object *fl = member(v, "flags");
  if (fl) {
    if (want_array(fl, l, "flags", err) < 0)
      return husk_error_ret(err);
    size_t n = json_object_array_length(fl);
    for (size_t i = 0; i < n; i++) {
      struct json_object *e = json_object_array_get_idx(fl, i);
      if (!json_object_is_type(e, json_type_string))
        return type_err(err, LOC_AT("process.scheduler.flags", i), NULL, "a string");
      const char *name = json_object_get_string(e);
      size_t j = 0;
      while (j < HUSK_ARRAY_SIZE(sched_flags) && strcmp(name, sched_flags[j].name) != 0)
        j++;
      if (j == HUSK_ARRAY_SIZE(sched_flags))
        return husk_errorf_plain(err, EINVAL, "process.scheduler.flags[%zu]: unknown flag \"%s\"",
                                 i, name);
      s->flags |= sched_flags[j].value;
    }
  }
  if (opt_u64(v, "runtime", l, &s->runtime, err) < 0 ||
      opt_u64(v, "deadline", l, &s->deadline, err) < 0 ||
      opt_u64(v, "period", l, &s->period, err) < 0)
    return husk_error_ret(err);
  if (s->priority != 0 && s->policy != SCHED_FIFO && s->policy != SCHED_RR)
    return field_err(err, l, "priority", "only valid with SCHED_FIFO or SCHED_RR");
  if (s->policy != SCHED_DEADLINE && (s->runtime || s->deadline || s->period))
    return field_err(err, l, NULL,
                     "runtime, deadline and period are only valid with SCHED_DEADLINE");
  return 0;
}

static int parse_io_priority(struct json_object *v, husk_process *p, husk_err *err)
{
  const loc *l = LOC("process.ioPriority");
  if (want_object(v, LOC("process"), "ioPriority", err) < 0)
    return husk_error_ret(err);
  const char *cls;
  if (str_peek(v, "class", l, &cls, err) < 0)
    return husk_error_ret(err);
  if (cls == NULL)
    return field_err(err, l, "class", "required");
  if (strcmp(cls, "IOPRIO_CLASS_RT") == 0)
    p->io_priority_class = 1;
  else if (strcmp(cls, "IOPRIO_CLASS_BE") == 0)
    p->io_priority_class = 2;
  else if (strcmp(cls, "IOPRIO_CLASS_IDLE") == 0)
    p->io_priority_class = 3;
  else
    return husk_errorf_plain(err, EINVAL, "%s: unknown class \"%s\"", FNAME(l, "class"), cls);
  int64_t prio = 0;
  if (opt_int(v, "priority", l, 0, 7, &prio, NULL, err) < 0)
    return husk_error_ret(err);
  p->io_priority_level = (int)prio;
  p->has_io_priority = true;
  return 0;
}

/* A cpu list as taskset/cpuset take it: "0-3,7". */
static bool valid_cpu_list(const char *s)
{
  if (*s == '\0')
    return false;
  while (*s) {
    if (!isdigit((unsigned char)*s))
      return false;
    while (isdigit((unsigned char)*s))
      s++;
    if (*s == '-') {
      s++;
      if (!isdigit((unsigned char)*s))
        return false;
      while (isdigit((unsigned char)*s))
        s++;
    }
    if (*s == ',') {
      s++;
      if (*s == '\0')
        return false;
    } else if (*s) {
      return false;
    }
  }
  return true;
}

static int parse_cpu_affinity(struct json_object *v, husk_process *p, husk_err *err)
{
  const loc *l = LOC("process.execCPUAffinity");
  if (want_object(v, LOC("process"), "execCPUAffinity", err) < 0)
    return husk_error_ret(err);
  if (opt_str(v, "initial", l, &p->exec_cpu_affinity_initial, err) < 0 ||
      opt_str(v, "final", l, &p->exec_cpu_affinity_final, err) < 0)
    return husk_error_ret(err);
  if (p->exec_cpu_affinity_initial && !valid_cpu_list(p->exec_cpu_affinity_initial))
    return husk_errorf_plain(err, EINVAL, "%s: invalid cpu list \"%s\"", FNAME(l, "initial"),
                             p->exec_cpu_affinity_initial);
  if (p->exec_cpu_affinity_final && !valid_cpu_list(p->exec_cpu_affinity_final))
    return husk_errorf_plain(err, EINVAL, "%s: invalid cpu list \"%s\"", FNAME(l, "final"),
                             p->exec_cpu_affinity_final);
  return 0;
}

static int process_parse(struct json_object *obj, husk_process *p, husk_err *err)
{
  const loc *l = LOC("process");
  struct json_object *v;
  if (!json_object_is_type(obj, json_type_object))
    return type_err(err, NULL, "process", "an object");

  if (refuse_nonempty(obj, "selinuxLabel", l, err) < 0)
    return husk_error_ret(err);
  if (opt_bool(obj, "terminal", l, &p->terminal, err) < 0)
    return husk_error_ret(err);
  if ((v = member(obj, "consoleSize"))) {
    const loc *cl = LOC("process.consoleSize");
    uint32_t h = 0, w = 0;
    if (want_object(v, l, "consoleSize", err) < 0 || req_u32(v, "height", cl, &h, err) < 0 ||
        req_u32(v, "width", cl, &w, err) < 0)
      return husk_error_ret(err);
    p->console_height = h;
    p->console_width = w;
  }
  if (opt_str(obj, "cwd", l, &p->cwd, err) < 0)
    return husk_error_ret(err);
  if (p->cwd == NULL)
    p->cwd = husk_xstrdup("/");
  else if (!is_absolute(p->cwd))
    return husk_errorf_plain(err, EINVAL, "process.cwd: must be an absolute path, got \"%s\"",
                             p->cwd);

  if (opt_strv(obj, "args", l, &p->args, err) < 0)
    return husk_error_ret(err);
  if (p->args == NULL)
    return field_err(err, l, "args", "required");
  if (p->args[0] == NULL)
    return field_err(err, l, "args", "must not be empty");
  if (opt_strv(obj, "env", l, &p->env, err) < 0)
    return husk_error_ret(err);

  if ((v = member(obj, "user")) && parse_user(v, &p->user, err) < 0)
    return husk_error_ret(err);
  if ((v = member(obj, "capabilities")) && parse_caps(v, &p->caps, err) < 0)
    return husk_error_ret(err);
  if ((v = member(obj, "rlimits")) && parse_rlimits(v, p, err) < 0)
    return husk_error_ret(err);
  if (opt_bool(obj, "noNewPrivileges", l, &p->no_new_privileges, err) < 0)
    return husk_error_ret(err);
  int64_t oom = 0;
  if (opt_int(obj, "oomScoreAdj", l, -1000, 1000, &oom, &p->has_oom_score_adj, err) < 0)
    return husk_error_ret(err);
  p->oom_score_adj = (int)oom;
  if (opt_str(obj, "apparmorProfile", l, &p->apparmor_profile, err) < 0)
    return husk_error_ret(err);
  if ((v = member(obj, "scheduler")) && parse_scheduler(v, &p->scheduler, err) < 0)
    return husk_error_ret(err);
  if ((v = member(obj, "ioPriority")) && parse_io_priority(v, p, err) < 0)
    return husk_error_ret(err);
  if ((v = member(obj, "execCPUAffinity")) && parse_cpu_affinity(v, p, err) < 0)
    return husk_error_ret(err);
  return 0;
}

int husk_process_parse(struct json_object *obj, husk_process *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  int r = process_parse(obj, out, err);
  if (r < 0)
    husk_process_clear(out);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Top level and linux                                                       */

static void mount_clear(husk_mount *m)
{
  free(m->destination);
  free(m->type);
  free(m->source);
  husk_strv_free(m->options);
  free(m->data);
}

void husk_spec_free(husk_spec *s)
{
  if (s == NULL)
    return;
  free(s->oci_version);
  free(s->root_path);
  for (size_t i = 0; i < s->n_mounts; i++)
    mount_clear(&s->mounts[i]);
  free(s->mounts);
  husk_process_clear(&s->process);
  free(s->hostname);
  free(s->domainname);
  for (int k = 0; k < HUSK_HOOK_KIND_COUNT; k++) {
    for (size_t i = 0; i < s->hooks.count[k]; i++) {
      husk_hook *h = &s->hooks.list[k][i];
      free(h->path);
      husk_strv_free(h->args);
      husk_strv_free(h->env);
    }
    free(s->hooks.list[k]);
  }
  for (size_t i = 0; i < s->n_annotations; i++) {
    free(s->annotations[i].key);
    free(s->annotations[i].value);
  }
  free(s->annotations);
  for (int i = 0; i < HUSK_NS_COUNT; i++)
    free(s->ns[i].path);
  free(s->uid_mappings);
  free(s->gid_mappings);
  for (size_t i = 0; i < s->n_sysctl; i++) {
    free(s->sysctl[i].key);
    free(s->sysctl[i].value);
  }
  free(s->sysctl);
  if (s->resources)
    husk_resources_free(s->resources);
  free(s->cgroups_path);
  for (size_t i = 0; i < s->n_devices; i++)
    free(s->devices[i].path);
  free(s->devices);
  if (s->seccomp)
    husk_seccomp_free(s->seccomp);
  husk_strv_free(s->masked_paths);
  husk_strv_free(s->readonly_paths);
  free(s);
}

void husk_spec_freep(husk_spec **s)
{
  if (s && *s) {
    husk_spec_free(*s);
    *s = NULL;
  }
}

static int parse_root(struct json_object *v, husk_spec *s, husk_err *err)
{
  const loc *l = LOC("root");
  if (v == NULL)
    return husk_errorf_plain(err, EINVAL, "root: required");
  if (want_object(v, NULL, "root", err) < 0 || opt_str(v, "path", l, &s->root_path, err) < 0 ||
      opt_bool(v, "readonly", l, &s->root_readonly, err) < 0)
    return husk_error_ret(err);
  if (s->root_path == NULL || s->root_path[0] == '\0')
    return field_err(err, l, "path", "required");
  return 0;
}

static int parse_mounts(struct json_object *v, husk_spec *s, husk_err *err)
{
  if (want_array(v, NULL, "mounts", err) < 0)
    return husk_error_ret(err);
  size_t n = json_object_array_length(v);
  s->mounts = husk_xcalloc(n ? n : 1, sizeof(husk_mount));
  s->n_mounts = n;
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(v, i);
    const loc *l = LOC_AT("mounts", i);
    husk_mount *m = &s->mounts[i];
    if (want_object(e, l, NULL, err) < 0)
      return husk_error_ret(err);
    static const char *const idmap_keys[] = {"uidMappings", "gidMappings"};
    for (size_t k = 0; k < HUSK_ARRAY_SIZE(idmap_keys); k++)
      if (refuse_nonempty(e, idmap_keys[k], l, err) < 0)
        return husk_errorf_plain(err, ENOTSUP, "%s: idmapped mounts are not supported",
                                 FNAME(l, idmap_keys[k]));
    if (opt_str(e, "destination", l, &m->destination, err) < 0 ||
        opt_str(e, "type", l, &m->type, err) < 0 || opt_str(e, "source", l, &m->source, err) < 0 ||
        opt_strv(e, "options", l, &m->options, err) < 0)
      return husk_error_ret(err);
    if (m->destination == NULL || m->destination[0] == '\0')
      return field_err(err, l, "destination", "required");
    if (m->destination[0] != '/') {
      /* runc accepts relative destinations as relative to "/". */
      char *abs = husk_xasprintf("/%s", m->destination);
      free(m->destination);
      m->destination = abs;
    }
    if (husk_mount_options_parse(m, err) < 0)
      return husk_error_wrap(err, "%s", FNAME(l, "options"));
  }
  return 0;
}

static const char *const hook_names[HUSK_HOOK_KIND_COUNT] = {
    [HUSK_HOOK_PRESTART] = "prestart",
    [HUSK_HOOK_CREATE_RUNTIME] = "createRuntime",
    [HUSK_HOOK_CREATE_CONTAINER] = "createContainer",
    [HUSK_HOOK_START_CONTAINER] = "startContainer",
    [HUSK_HOOK_POSTSTART] = "poststart",
    [HUSK_HOOK_POSTSTOP] = "poststop",
};

static const char *const hook_paths[HUSK_HOOK_KIND_COUNT] = {
    [HUSK_HOOK_PRESTART] = "hooks.prestart",
    [HUSK_HOOK_CREATE_RUNTIME] = "hooks.createRuntime",
    [HUSK_HOOK_CREATE_CONTAINER] = "hooks.createContainer",
    [HUSK_HOOK_START_CONTAINER] = "hooks.startContainer",
    [HUSK_HOOK_POSTSTART] = "hooks.poststart",
    [HUSK_HOOK_POSTSTOP] = "hooks.poststop",
};

static int parse_hooks(struct json_object *v, husk_spec *s, husk_err *err)
{
  if (want_object(v, NULL, "hooks", err) < 0)
    return husk_error_ret(err);
  for (int k = 0; k < HUSK_HOOK_KIND_COUNT; k++) {
    struct json_object *arr = member(v, hook_names[k]);
    if (arr == NULL)
      continue;
    if (want_array(arr, LOC("hooks"), hook_names[k], err) < 0)
      return husk_error_ret(err);
    size_t n = json_object_array_length(arr);
    s->hooks.list[k] = husk_xcalloc(n ? n : 1, sizeof(husk_hook));
    s->hooks.count[k] = n;
    for (size_t i = 0; i < n; i++) {
      struct json_object *e = json_object_array_get_idx(arr, i);
      const loc *l = LOC_AT(hook_paths[k], i);
      husk_hook *h = &s->hooks.list[k][i];
      if (want_object(e, l, NULL, err) < 0 || opt_str(e, "path", l, &h->path, err) < 0 ||
          opt_strv(e, "args", l, &h->args, err) < 0 || opt_strv(e, "env", l, &h->env, err) < 0)
        return husk_error_ret(err);
      if (h->path == NULL)
        return field_err(err, l, "path", "required");
      if (!is_absolute(h->path))
        return husk_errorf_plain(err, EINVAL, "%s: must be an absolute path, got \"%s\"",
                                 FNAME(l, "path"), h->path);
      int64_t t = 0;
      if (opt_int(e, "timeout", l, INT32_MIN, INT32_MAX, &t, NULL, err) < 0)
        return husk_error_ret(err);
      if (member(e, "timeout") && t <= 0)
        return field_err(err, l, "timeout", "must be greater than zero");
      h->timeout = (int)t;
    }
  }
  return 0;
}

static int parse_idmaps(struct json_object *v, const char *key, husk_idmap **out, size_t *n_out,
                        husk_err *err)
{
  const char *base = strcmp(key, "uidMappings") == 0 ? "linux.uidMappings" : "linux.gidMappings";
  if (want_array(v, LOC("linux"), key, err) < 0)
    return husk_error_ret(err);
  size_t n = json_object_array_length(v);
  *out = husk_xcalloc(n ? n : 1, sizeof(husk_idmap));
  *n_out = n;
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(v, i);
    const loc *l = LOC_AT(base, i);
    husk_idmap *m = &(*out)[i];
    if (want_object(e, l, NULL, err) < 0 ||
        req_u32(e, "containerID", l, &m->container_id, err) < 0 ||
        req_u32(e, "hostID", l, &m->host_id, err) < 0 || req_u32(e, "size", l, &m->size, err) < 0)
      return husk_error_ret(err);
    if (m->size == 0)
      return field_err(err, l, "size", "must be greater than zero");
  }
  return 0;
}

static int parse_time_offset(struct json_object *v, const char *clock, int64_t *secs,
                             uint32_t *nsecs, husk_err *err)
{
  const loc *l = LOC(strcmp(clock, "monotonic") == 0 ? "linux.timeOffsets.monotonic"
                                                     : "linux.timeOffsets.boottime");
  if (want_object(v, LOC("linux.timeOffsets"), clock, err) < 0 ||
      opt_int(v, "secs", l, INT64_MIN, INT64_MAX, secs, NULL, err) < 0 ||
      opt_u32(v, "nanosecs", l, nsecs, NULL, err) < 0)
    return husk_error_ret(err);
  if (*nsecs >= 1000000000u)
    return field_err(err, l, "nanosecs", "value out of range");
  return 0;
}

static int parse_time_offsets(struct json_object *v, husk_spec *s, husk_err *err)
{
  if (want_object(v, LOC("linux"), "timeOffsets", err) < 0)
    return husk_error_ret(err);
  s->has_time_offsets = true;
  json_object_object_foreach(v, clock, off)
  {
    if (off == NULL)
      continue;
    if (strcmp(clock, "monotonic") == 0) {
      if (parse_time_offset(off, clock, &s->monotonic_secs, &s->monotonic_nsecs, err) < 0)
        return husk_error_ret(err);
    } else if (strcmp(clock, "boottime") == 0) {
      if (parse_time_offset(off, clock, &s->boottime_secs, &s->boottime_nsecs, err) < 0)
        return husk_error_ret(err);
    } else {
      return husk_errorf_plain(err, EINVAL, "linux.timeOffsets: unknown clock \"%s\"", clock);
    }
  }
  return 0;
}

static int parse_namespaces(struct json_object *v, husk_spec *s, husk_err *err)
{
  if (want_array(v, LOC("linux"), "namespaces", err) < 0)
    return husk_error_ret(err);
  size_t n = json_object_array_length(v);
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(v, i);
    const loc *l = LOC_AT("linux.namespaces", i);
    const char *type;
    if (want_object(e, l, NULL, err) < 0 || str_peek(e, "type", l, &type, err) < 0)
      return husk_error_ret(err);
    if (type == NULL)
      return field_err(err, l, "type", "required");
    int t = 0;
    while (t < HUSK_NS_COUNT && strcmp(type, ns_spec_names[t]) != 0)
      t++;
    if (t == HUSK_NS_COUNT)
      return husk_errorf_plain(err, EINVAL, "%s: unknown namespace type \"%s\"", FNAME(l, "type"),
                               type);
    husk_namespace *ns = &s->ns[t];
    if (ns->present)
      return husk_errorf_plain(err, EINVAL, "%s: duplicate namespace \"%s\"", FNAME(l, "type"),
                               type);
    ns->present = true;
    if (opt_str(e, "path", l, &ns->path, err) < 0)
      return husk_error_ret(err);
    if (ns->path && ns->path[0] == '\0') {
      free(ns->path);
      ns->path = NULL;
    }
    if (ns->path && !is_absolute(ns->path))
      return husk_errorf_plain(err, EINVAL, "%s: must be an absolute path, got \"%s\"",
                               FNAME(l, "path"), ns->path);
  }
  return 0;
}

static int parse_devices(struct json_object *v, husk_spec *s, husk_err *err)
{
  if (want_array(v, LOC("linux"), "devices", err) < 0)
    return husk_error_ret(err);
  size_t n = json_object_array_length(v);
  s->devices = husk_xcalloc(n ? n : 1, sizeof(husk_device));
  s->n_devices = n;
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(v, i);
    const loc *l = LOC_AT("linux.devices", i);
    husk_device *d = &s->devices[i];
    const char *type;
    if (want_object(e, l, NULL, err) < 0 || opt_str(e, "path", l, &d->path, err) < 0 ||
        str_peek(e, "type", l, &type, err) < 0)
      return husk_error_ret(err);
    if (d->path == NULL)
      return field_err(err, l, "path", "required");
    if (!is_absolute(d->path))
      return husk_errorf_plain(err, EINVAL, "%s: must be an absolute path, got \"%s\"",
                               FNAME(l, "path"), d->path);
    if (type == NULL)
      return field_err(err, l, "type", "required");
    if (strlen(type) != 1 || !strchr("cbup", type[0]))
      return husk_errorf_plain(err, EINVAL, "%s: unknown device type \"%s\" (want c, b, u or p)",
                               FNAME(l, "type"), type);
    d->type = type[0];
    struct json_object *maj = member(e, "major"), *min = member(e, "minor");
    if (d->type != 'p') {
      if (maj == NULL)
        return field_err(err, l, "major", "required");
      if (min == NULL)
        return field_err(err, l, "minor", "required");
    }
    if (maj && get_i64(maj, l, "major", 0, UINT32_MAX, &d->major, err) < 0)
      return husk_error_ret(err);
    if (min && get_i64(min, l, "minor", 0, UINT32_MAX, &d->minor, err) < 0)
      return husk_error_ret(err);
    if (opt_u32(e, "fileMode", l, &d->file_mode, &d->has_file_mode, err) < 0 ||
        opt_u32(e, "uid", l, &d->uid, &d->has_uid, err) < 0 ||
        opt_u32(e, "gid", l, &d->gid, &d->has_gid, err) < 0)
      return husk_error_ret(err);
    if (d->has_file_mode && d->file_mode > 07777)
      return field_err(err, l, "fileMode", "value out of range (permission bits only)");
  }
  return 0;
}

static int parse_propagation(const char *p, unsigned long *out)
{
  static const struct {
    const char *name;
    unsigned long flags;
  } props[] = {
      {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
      {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(props); i++)
    if (strcmp(p, props[i].name) == 0) {
      *out = props[i].flags;
      return 0;
    }
  return -1;
}

static int parse_personality(struct json_object *v, husk_spec *s, husk_err *err)
{
  const loc *l = LOC("linux.personality");
  const char *domain;
  if (want_object(v, LOC("linux"), "personality", err) < 0 ||
      str_peek(v, "domain", l, &domain, err) < 0)
    return husk_error_ret(err);
  if (domain == NULL)
    return field_err(err, l, "domain", "required");
  if (strcmp(domain, "LINUX") == 0)
    s->personality = PER_LINUX;
  else if (strcmp(domain, "LINUX32") == 0)
    s->personality = PER_LINUX32;
  else
    return husk_errorf_plain(err, EINVAL, "%s: unknown domain \"%s\" (want LINUX or LINUX32)",
                             FNAME(l, "domain"), domain);
  struct json_object *fl = member(v, "flags");
  if (fl) {
    if (want_array(fl, l, "flags", err) < 0)
      return husk_error_ret(err);
    if (json_object_array_length(fl) > 0) {
      struct json_object *f0 = json_object_array_get_idx(fl, 0);
      return husk_errorf_plain(err, ENOTSUP, "linux.personality.flags[0]: flag %s is not supported",
                               json_object_is_type(f0, json_type_string)
                                   ? json_object_get_string(f0)
                                   : "(not a string)");
    }
  }
  s->has_personality = true;
  return 0;
}

/* A sysctl may only be set when the namespace that owns it is private to the
 * container (otherwise it would change the host), as runc validates. */
static int check_sysctl(const husk_spec *s, const char *key, husk_err *err)
{
  char k[256];
  size_t len = strlen(key);
  if (len == 0 || len >= sizeof(k))
    return husk_errorf_plain(err, EINVAL, "linux.sysctl: invalid key \"%s\"", key);
  for (size_t i = 0; i <= len; i++)
    k[i] = key[i] == '/' ? '.' : key[i];

  static const char *const ipc_keys[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                         "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                         "kernel.shmmni", "kernel.shm_rmid_forced"};
  enum husk_ns_type need = HUSK_NS_COUNT;
  if (strncmp(k, "net.", 4) == 0)
    need = HUSK_NS_NET;
  else if (strncmp(k, "fs.mqueue.", 10) == 0)
    need = HUSK_NS_IPC;
  else if (strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0)
    need = HUSK_NS_UTS;
  else
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(ipc_keys); i++)
      if (strcmp(k, ipc_keys[i]) == 0)
        need = HUSK_NS_IPC;
  if (need == HUSK_NS_COUNT)
    return husk_errorf_plain(err, EINVAL,
                             "linux.sysctl.%s: not in a namespace the container owns (it would "
                             "change the host)",
                             key);
  if (!s->ns[need].present)
    return husk_errorf_plain(err, EINVAL,
                             "linux.sysctl.%s: needs the %s namespace in linux.namespaces", key,
                             ns_spec_names[need]);
  return 0;
}

/* Sub-parsers owned elsewhere may already name the field: add it only if not. */
static int wrap_unless_named(husk_err *err, const char *field)
{
  if (err && strncmp(err->msg, field, strlen(field)) == 0)
    return husk_error_ret(err);
  return husk_error_wrap(err, "%s", field);
}

static int parse_linux(struct json_object *lx, husk_spec *s, husk_err *err)
{
  const loc *l = LOC("linux");
  struct json_object *v;
  if (want_object(lx, NULL, "linux", err) < 0)
    return husk_error_ret(err);

  if (refuse(lx, "intelRdt", l, err) < 0 || refuse_nonempty(lx, "netDevices", l, err) < 0 ||
      refuse(lx, "memoryPolicy", l, err) < 0 || refuse_nonempty(lx, "mountLabel", l, err) < 0)
    return husk_error_ret(err);

  if ((v = member(lx, "namespaces")) && parse_namespaces(v, s, err) < 0)
    return husk_error_ret(err);
  if ((v = member(lx, "uidMappings")) &&
      parse_idmaps(v, "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0)
    return husk_error_ret(err);
  if ((v = member(lx, "gidMappings")) &&
      parse_idmaps(v, "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0)
    return husk_error_ret(err);
  if (s->ns[HUSK_NS_USER].present) {
    if (s->ns[HUSK_NS_USER].path == NULL && s->n_uid_mappings == 0 && s->n_gid_mappings == 0)
      return husk_errorf_plain(err, EINVAL,
                               "linux.namespaces: a new user namespace needs linux.uidMappings "
                               "and linux.gidMappings");
  } else if (s->n_uid_mappings || s->n_gid_mappings) {
    return husk_errorf_plain(err, EINVAL,
                             "linux.%s: mappings given but there is no user namespace in "
                             "linux.namespaces",
                             s->n_uid_mappings ? "uidMappings" : "gidMappings");
  }
  if ((v = member(lx, "timeOffsets")) && parse_time_offsets(v, s, err) < 0)
    return husk_error_ret(err);
  if (s->has_time_offsets && (!s->ns[HUSK_NS_TIME].present || s->ns[HUSK_NS_TIME].path))
    return husk_errorf_plain(err, EINVAL,
                             "linux.timeOffsets: needs a new time namespace in linux.namespaces");
  if (opt_kv(lx, "sysctl", l, &s->sysctl, &s->n_sysctl, err) < 0)
    return husk_error_ret(err);
  for (size_t i = 0; i < s->n_sysctl; i++)
    if (check_sysctl(s, s->sysctl[i].key, err) < 0)
      return husk_error_ret(err);
  if ((v = member(lx, "resources"))) {
    if (want_object(v, l, "resources", err) < 0)
      return husk_error_ret(err);
    if (husk_resources_parse(v, &s->resources, err) < 0)
      return wrap_unless_named(err, "linux.resources");
  }
  if (opt_str(lx, "cgroupsPath", l, &s->cgroups_path, err) < 0)
    return husk_error_ret(err);
  if ((v = member(lx, "devices")) && parse_devices(v, s, err) < 0)
    return husk_error_ret(err);
  if ((v = member(lx, "seccomp"))) {
    if (want_object(v, l, "seccomp", err) < 0)
      return husk_error_ret(err);
    if (husk_seccomp_parse(v, &s->seccomp, err) < 0)
      return wrap_unless_named(err, "linux.seccomp");
  }
  const char *prop;
  if (str_peek(lx, "rootfsPropagation", l, &prop, err) < 0)
    return husk_error_ret(err);
  if (prop && prop[0] && parse_propagation(prop, &s->rootfs_propagation) < 0)
    return husk_errorf_plain(err, EINVAL, "linux.rootfsPropagation: unknown propagation \"%s\"",
                             prop);
  if (opt_strv(lx, "maskedPaths", l, &s->masked_paths, err) < 0 ||
      opt_strv(lx, "readonlyPaths", l, &s->readonly_paths, err) < 0)
    return husk_error_ret(err);
  if ((v = member(lx, "personality")) && parse_personality(v, s, err) < 0)
    return husk_error_ret(err);
  return 0;
}

static int check_version(struct json_object *root, husk_spec *s, husk_err *err)
{
  if (opt_str(root, "ociVersion", NULL, &s->oci_version, err) < 0)
    return husk_error_ret(err);
  const char *v = s->oci_version;
  if (v == NULL)
    return husk_errorf_plain(err, EINVAL, "ociVersion: required");
  if (!(v[0] == '1' && v[1] == '.' && isdigit((unsigned char)v[2])))
    return husk_errorf_plain(err, ENOTSUP, "ociVersion \"%s\" is not supported (husk supports 1.x)",
                             v);
  return 0;
}

static int spec_from_json(struct json_object *root, husk_spec *s, husk_err *err)
{
  struct json_object *v;
  if (!json_object_is_type(root, json_type_object))
    return husk_errorf_plain(err, EINVAL, "expected a JSON object at the top level");
  if (check_version(root, s, err) < 0)
    return husk_error_ret(err);

  static const char *const foreign[] = {"windows", "solaris", "vm", "zos"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(foreign); i++)
    if (refuse(root, foreign[i], NULL, err) < 0)
      return husk_error_ret(err);

  if (parse_root(member(root, "root"), s, err) < 0)
    return husk_error_ret(err);
  if ((v = member(root, "mounts")) && parse_mounts(v, s, err) < 0)
    return husk_error_ret(err);
  if ((v = member(root, "process"))) {
    if (process_parse(v, &s->process, err) < 0)
      return husk_error_ret(err);
    s->has_process = true;
  }
  if (opt_str(root, "hostname", NULL, &s->hostname, err) < 0 ||
      opt_str(root, "domainname", NULL, &s->domainname, err) < 0)
    return husk_error_ret(err);
  if ((v = member(root, "hooks")) && parse_hooks(v, s, err) < 0)
    return husk_error_ret(err);
  if (opt_kv(root, "annotations", NULL, &s->annotations, &s->n_annotations, err) < 0)
    return husk_error_ret(err);
  if ((v = member(root, "linux")) && parse_linux(v, s, err) < 0)
    return husk_error_ret(err);

  /* An empty name means "leave it alone"; a name needs a private UTS
   * namespace, or sethostname would rename the host (runc refuses it too). */
  char **names[] = {&s->hostname, &s->domainname};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(names); i++) {
    if (*names[i] && (*names[i])[0] == '\0') {
      free(*names[i]);
      *names[i] = NULL;
    }
    if (*names[i] && !s->ns[HUSK_NS_UTS].present)
      return husk_errorf_plain(err, EINVAL, "%s: needs a uts namespace in linux.namespaces",
                               i == 0 ? "hostname" : "domainname");
  }
  return 0;
}

/* 1-based line of a byte offset. */
static unsigned line_of(const char *json, size_t off)
{
  unsigned line = 1;
  for (const char *p = json, *end = json + off; (p = memchr(p, '\n', (size_t)(end - p))); p++)
    line++;
  return line;
}

int husk_spec_parse(const char *json, size_t len, husk_spec **out, husk_err *err)
{
  *out = NULL;
  if (len > (size_t)INT32_MAX)
    return husk_errorf_plain(err, EFBIG, "config.json: too large");
  struct json_tokener *tok = json_tokener_new();
  if (tok == NULL)
    abort();
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  struct json_object *root = json_tokener_parse_ex(tok, json, (int)len);
  enum json_tokener_error jerr = json_tokener_get_error(tok);
  size_t end = json_tokener_get_parse_end(tok);
  json_tokener_free(tok);
  if (root == NULL || jerr != json_tokener_success) {
    json_object_put(root);
    if (jerr == json_tokener_continue)
      return husk_errorf_plain(err, EINVAL,
                               "config.json: invalid JSON at line %u: unexpected end "
                               "of input",
                               line_of(json, len));
    return husk_errorf_plain(err, EINVAL, "config.json: invalid JSON at line %u: %s",
                             line_of(json, end < len ? end : len), json_tokener_error_desc(jerr));
  }
  for (size_t i = end; i < len; i++)
    if (!isspace((unsigned char)json[i])) {
      json_object_put(root);
      return husk_errorf_plain(err, EINVAL,
                               "config.json: invalid JSON at line %u: trailing data "
                               "after the top-level object",
                               line_of(json, i));
    }

  husk_spec *s = husk_xcalloc(1, sizeof(*s));
  int r = spec_from_json(root, s, err);
  json_object_put(root);
  if (r < 0) {
    husk_spec_free(s);
    return husk_error_wrap(err, "config.json");
  }
  *out = s;
  return 0;
}

int husk_spec_load(const char *path, husk_spec **out, husk_err *err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  *out = NULL;
  if (husk_read_file_at(AT_FDCWD, path, &buf, &len, err) < 0)
    return husk_error_ret(err);
  return husk_spec_parse(buf, len, out, err);
}

/* ------------------------------------------------------------------------ */
/* Default config (`husk oci spec`)                                          */

static struct json_object *jstrv(const char *const *v)
{
  struct json_object *a = json_object_new_array();
  for (; *v; v++)
    json_object_array_add(a, json_object_new_string(*v));
  return a;
}

#define JSTRV(...) jstrv((const char *const[]){__VA_ARGS__, NULL})

static void add_mount(struct json_object *mounts, const char *dest, const char *type,
                      const char *src, struct json_object *opts)
{
  struct json_object *m = json_object_new_object();
  json_object_object_add(m, "destination", json_object_new_string(dest));
  json_object_object_add(m, "type", json_object_new_string(type));
  json_object_object_add(m, "source", json_object_new_string(src));
  if (opts)
    json_object_object_add(m, "options", opts);
  json_object_array_add(mounts, m);
}

static struct json_object *idmap_json(uint32_t id)
{
  struct json_object *a = json_object_new_array();
  struct json_object *m = json_object_new_object();
  json_object_object_add(m, "containerID", json_object_new_int64(0));
  json_object_object_add(m, "hostID", json_object_new_int64(id));
  json_object_object_add(m, "size", json_object_new_int64(1));
  json_object_array_add(a, m);
  return a;
}

char *husk_spec_default_json(bool rootless)
{
  struct json_object *root = json_object_new_object();
  json_object_object_add(root, "ociVersion", json_object_new_string("1.2.0"));

  struct json_object *proc = json_object_new_object();
  json_object_object_add(proc, "terminal", json_object_new_boolean(1));
  struct json_object *user = json_object_new_object();
  json_object_object_add(user, "uid", json_object_new_int(0));
  json_object_object_add(user, "gid", json_object_new_int(0));
  json_object_object_add(proc, "user", user);
  json_object_object_add(proc, "args", JSTRV("sh"));
  json_object_object_add(proc, "env",
                         JSTRV("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                               "/usr/bin:/sbin:/bin",
                               "TERM=xterm"));
  json_object_object_add(proc, "cwd", json_object_new_string("/"));
  struct json_object *caps = json_object_new_object();
  static const char *const sets[] = {"bounding", "effective", "permitted", "ambient"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(sets); i++)
    json_object_object_add(caps, sets[i],
                           JSTRV("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"));
  json_object_object_add(proc, "capabilities", caps);
  struct json_object *rl = json_object_new_object();
  json_object_object_add(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
  json_object_object_add(rl, "hard", json_object_new_int(1024));
  json_object_object_add(rl, "soft", json_object_new_int(1024));
  struct json_object *rls = json_object_new_array();
  json_object_array_add(rls, rl);
  json_object_object_add(proc, "rlimits", rls);
  json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(1));
  json_object_object_add(root, "process", proc);

  struct json_object *r = json_object_new_object();
  json_object_object_add(r, "path", json_object_new_string("rootfs"));
  json_object_object_add(r, "readonly", json_object_new_boolean(1));
  json_object_object_add(root, "root", r);
  json_object_object_add(root, "hostname", json_object_new_string("husk"));

  struct json_object *mounts = json_object_new_array();
  add_mount(mounts, "/proc", "proc", "proc", NULL);
  add_mount(mounts, "/dev", "tmpfs", "tmpfs",
            JSTRV("nosuid", "strictatime", "mode=755", "size=65536k"));
  if (rootless)
    add_mount(mounts, "/dev/pts", "devpts", "devpts",
              JSTRV("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"));
  else
    add_mount(mounts, "/dev/pts", "devpts", "devpts",
              JSTRV("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"));
  add_mount(mounts, "/dev/shm", "tmpfs", "shm",
            JSTRV("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
  add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", JSTRV("nosuid", "noexec", "nodev"));
  if (rootless)
    add_mount(mounts, "/sys", "none", "/sys", JSTRV("rbind", "nosuid", "noexec", "nodev", "ro"));
  else
    add_mount(mounts, "/sys", "sysfs", "sysfs", JSTRV("nosuid", "noexec", "nodev", "ro"));
  add_mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup",
            JSTRV("nosuid", "noexec", "nodev", "relatime", "ro"));
  json_object_object_add(root, "mounts", mounts);

  struct json_object *lx = json_object_new_object();
  if (rootless) {
    json_object_object_add(lx, "uidMappings", idmap_json((uint32_t)geteuid()));
    json_object_object_add(lx, "gidMappings", idmap_json((uint32_t)getegid()));
  } else {
    struct json_object *res = json_object_new_object();
    struct json_object *devs = json_object_new_array();
    struct json_object *deny = json_object_new_object();
    json_object_object_add(deny, "allow", json_object_new_boolean(0));
    json_object_object_add(deny, "access", json_object_new_string("rwm"));
    json_object_array_add(devs, deny);
    json_object_object_add(res, "devices", devs);
    json_object_object_add(lx, "resources", res);
  }
  struct json_object *nss = json_object_new_array();
  static const char *const ns_root[] = {"pid", "network", "ipc", "uts", "mount", "cgroup", NULL};
  static const char *const ns_rootless[] = {"pid", "ipc", "uts", "mount", "cgroup", "user", NULL};
  for (const char *const *n = rootless ? ns_rootless : ns_root; *n; n++) {
    struct json_object *ns = json_object_new_object();
    json_object_object_add(ns, "type", json_object_new_string(*n));
    json_object_array_add(nss, ns);
  }
  json_object_object_add(lx, "namespaces", nss);
  json_object_object_add(lx, "maskedPaths",
                         JSTRV("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                               "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                               "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                               "/sys/devices/virtual/powercap"));
  json_object_object_add(
      lx, "readonlyPaths",
      JSTRV("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"));
  json_object_object_add(root, "linux", lx);

  const char *txt = json_object_to_json_string_ext(
      root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB | JSON_C_TO_STRING_SPACED |
                JSON_C_TO_STRING_NOSLASHESCAPE);
  char *res = husk_xasprintf("%s\n", txt);
  json_object_put(root);
  return res;
}
