/* linux.seccomp through libseccomp.
 *
 * husk_seccomp_parse() validates the OCI object and resolves syscall names
 * for the native architecture; husk_seccomp_compile() builds the filter with
 * libseccomp and exports the BPF program into memory (libseccomp 2.5 can only
 * export to a file descriptor, so a memfd is used); husk_seccomp_install()
 * loads that program with one seccomp(2) call in the container's init. */
#include "husk_seccomp.h"

#include <seccomp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "util.h"

#define SPATH "linux.seccomp"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

enum { HUSK_SECCOMP_MAX_ARG_INDEX = 6 };

typedef struct husk_seccomp_rule {
  size_t pos;      /* index in syscalls[], for messages */
  uint32_t action; /* libseccomp action, errno/trace data included */
  char **names;    /* resolved names, NULL terminated */
  int *nrs;        /* their (native or pseudo) syscall numbers */
  size_t n_sys;
  struct scmp_arg_cmp *args;
  size_t n_args;
  bool split; /* two conditions share an index: one rule per condition */
} husk_seccomp_rule;

struct husk_seccomp {
  uint32_t default_action;
  uint32_t *arches;  /* SCMP_ARCH_* tokens */
  char **arch_names; /* as spelled in the spec, NULL terminated */
  size_t n_arches;
  unsigned int flags;
  husk_seccomp_rule *rules;
  size_t n_rules;
  char **skipped; /* NULL terminated */
  size_t n_skipped;
};

/* ---- JSON helpers
 * ---------------------------------------------------------------------------
 */

static const char *json_type_label(struct json_object *o)
{
  return json_type_to_name(json_object_get_type(o));
}

/* Field lookup; JSON null counts as absent (as in Go's encoding/json). */
static struct json_object *field(struct json_object *obj, const char *key)
{
  struct json_object *v = NULL;
  if (!json_object_object_get_ex(obj, key, &v))
    return NULL;
  return v;
}

static int want_type(struct json_object *v, enum json_type t, const char *path, husk_err *err)
{
  if (json_object_is_type(v, t))
    return 0;
  return husk_errorf_plain(err, EINVAL, "%s: must be %s %s, not %s", path,
                           t == json_type_array || t == json_type_object ? "an" : "a",
                           json_type_to_name(t), json_type_label(v));
}

static int get_u64(struct json_object *v, const char *path, uint64_t max, uint64_t *out,
                   husk_err *err)
{
  if (!json_object_is_type(v, json_type_int))
    return husk_errorf_plain(err, EINVAL, "%s: must be an unsigned integer, not %s", path,
                             json_type_label(v));
  if (json_object_get_int64(v) < 0)
    return husk_errorf_plain(err, EINVAL, "%s: must not be negative (%" PRId64 ")", path,
                             json_object_get_int64(v));
  uint64_t u = json_object_get_uint64(v);
  if (u > max)
    return husk_errorf_plain(err, ERANGE, "%s: %" PRIu64 " is out of range (maximum %" PRIu64 ")",
                             path, u, max);
  *out = u;
  return 0;
}

/* ---- tables
 * ----------------------------------------------------------------------------------
 */

typedef struct action_def {
  const char *name;
  uint32_t act;
  bool takes_errno;
} action_def;

static const action_def actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
};

static const struct {
  const char *name;
  enum scmp_compare op;
} compare_ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const struct {
  const char *name;
  unsigned long flag;
} filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
};

/* ---- parsing
 * ---------------------------------------------------------------------------------
 */

/* action + errno field of one object (the top level or one syscalls[] entry).
 */
static int parse_action(struct json_object *obj, const char *prefix, const char *action_key,
                        const char *errno_key, uint32_t *out, husk_err *err)
{
  char path[256];
  snprintf(path, sizeof(path), "%s.%s", prefix, action_key);
  struct json_object *a = field(obj, action_key);
  if (a == NULL)
    return husk_errorf_plain(err, EINVAL, "%s: required", path);
  int r = want_type(a, json_type_string, path, err);
  if (r < 0)
    return r;
  const char *name = json_object_get_string(a);
  if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
    return husk_errorf_plain(err, ENOTSUP,
                             "%s: SCMP_ACT_NOTIFY is not supported by husk (no seccomp "
                             "user-notification listener)",
                             path);
  const action_def *def = NULL;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(actions); i++)
    if (strcmp(name, actions[i].name) == 0)
      def = &actions[i];
  if (def == NULL)
    return husk_errorf_plain(err, EINVAL, "%s: unknown action \"%s\"", path, name);

  uint64_t errno_ret = EPERM;
  struct json_object *e = field(obj, errno_key);
  if (e != NULL) {
    snprintf(path, sizeof(path), "%s.%s", prefix, errno_key);
    if (!def->takes_errno)
      return husk_errorf_plain(err, EINVAL,
                               "%s: not allowed with %s (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE "
                               "return an errno)",
                               path, def->name);
    r = get_u64(e, path, 0xffff, &errno_ret, err);
    if (r < 0)
      return r;
  }
  *out = def->takes_errno ? def->act | (uint32_t)errno_ret : def->act;
  return 0;
}

static int parse_architectures(struct json_object *arr, husk_seccomp *s, husk_err *err)
{
  int r = want_type(arr, json_type_array, SPATH ".architectures", err);
  if (r < 0)
    return r;
  size_t n = json_object_array_length(arr);
  s->arches = husk_xcalloc(n ? n : 1, sizeof(*s->arches));
  s->arch_names = husk_xcalloc(n + 1, sizeof(*s->arch_names));
  for (size_t i = 0; i < n; i++) {
    char path[128];
    snprintf(path, sizeof(path), SPATH ".architectures[%zu]", i);
    struct json_object *v = json_object_array_get_idx(arr, i);
    if (v == NULL)
      return husk_errorf_plain(err, EINVAL, "%s: must be a string, not null", path);
    r = want_type(v, json_type_string, path, err);
    if (r < 0)
      return r;
    const char *name = json_object_get_string(v);
    static const char prefix[] = "SCMP_ARCH_";
    char lower[64];
    size_t len = strlen(name);
    uint32_t token = 0;
    if (strncmp(name, prefix, sizeof(prefix) - 1) == 0 &&
        len - (sizeof(prefix) - 1) < sizeof(lower)) {
      size_t j = 0;
      for (const char *p = name + sizeof(prefix) - 1; *p; p++)
        lower[j++] = (char)tolower((unsigned char)*p);
      lower[j] = '\0';
      if (j > 0)
        token = seccomp_arch_resolve_name(lower);
    }
    if (token == 0)
      return husk_errorf_plain(err, EINVAL, "%s: unknown architecture \"%s\"", path, name);
    s->arch_names[s->n_arches] = husk_xstrdup(name);
    s->arches[s->n_arches++] = token;
  }
  return 0;
}

static int parse_flags(struct json_object *arr, husk_seccomp *s, husk_err *err)
{
  int r = want_type(arr, json_type_array, SPATH ".flags", err);
  if (r < 0)
    return r;
  size_t n = json_object_array_length(arr);
  for (size_t i = 0; i < n; i++) {
    char path[128];
    snprintf(path, sizeof(path), SPATH ".flags[%zu]", i);
    struct json_object *v = json_object_array_get_idx(arr, i);
    if (v == NULL)
      return husk_errorf_plain(err, EINVAL, "%s: must be a string, not null", path);
    r = want_type(v, json_type_string, path, err);
    if (r < 0)
      return r;
    const char *name = json_object_get_string(v);
    if (strcmp(name, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0 ||
        strcmp(name, "SECCOMP_FILTER_FLAG_NEW_LISTENER") == 0)
      return husk_errorf_plain(err, ENOTSUP,
                               "%s: %s is not supported by husk (it needs a seccomp "
                               "user-notification listener)",
                               path, name);
    unsigned long flag = 0;
    for (size_t j = 0; j < HUSK_ARRAY_SIZE(filter_flags); j++)
      if (strcmp(name, filter_flags[j].name) == 0)
        flag = filter_flags[j].flag;
    if (flag == 0)
      return husk_errorf_plain(err, EINVAL, "%s: unknown flag \"%s\"", path, name);
    /* The kernel checks the flags before it reads the program: a known flag
     * with a NULL program fails with EFAULT, an unknown one with EINVAL. */
    errno = 0;
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL);
    if (rc == 0 || errno != EFAULT)
      return husk_errorf(err, errno == EFAULT || errno == 0 ? EINVAL : errno,
                         "%s: %s is not supported by this kernel", path, name);
    s->flags |= (unsigned int)flag;
  }
  return 0;
}

static int parse_arg(struct json_object *a, const char *prefix, struct scmp_arg_cmp *out,
                     husk_err *err)
{
  char path[256];
  int r = want_type(a, json_type_object, prefix, err);
  if (r < 0)
    return r;

  uint64_t index = 0;
  struct json_object *v = field(a, "index");
  snprintf(path, sizeof(path), "%s.index", prefix);
  if (v == NULL)
    return husk_errorf_plain(err, EINVAL, "%s: required", path);
  r = get_u64(v, path, HUSK_SECCOMP_MAX_ARG_INDEX - 1, &index, err);
  if (r < 0)
    return r;

  uint64_t value = 0, value_two = 0;
  v = field(a, "value");
  snprintf(path, sizeof(path), "%s.value", prefix);
  if (v == NULL)
    return husk_errorf_plain(err, EINVAL, "%s: required", path);
  r = get_u64(v, path, UINT64_MAX, &value, err);
  if (r < 0)
    return r;
  v = field(a, "valueTwo");
  if (v != NULL) {
    snprintf(path, sizeof(path), "%s.valueTwo", prefix);
    r = get_u64(v, path, UINT64_MAX, &value_two, err);
    if (r < 0)
      return r;
  }

  v = field(a, "op");
  snprintf(path, sizeof(path), "%s.op", prefix);
  if (v == NULL)
    return husk_errorf_plain(err, EINVAL, "%s: required", path);
  r = want_type(v, json_type_string, path, err);
  if (r < 0)
    return r;
  const char *op = json_object_get_string(v);
  bool found = false;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(compare_ops); i++)
    if (strcmp(op, compare_ops[i].name) == 0) {
      out->op = compare_ops[i].op;
      found = true;
    }
  if (!found)
    return husk_errorf_plain(err, EINVAL, "%s: unknown operator \"%s\"", path, op);
  out->arg = (unsigned int)index;
  out->datum_a = value; /* the mask for SCMP_CMP_MASKED_EQ */
  out->datum_b = value_two;
  return 0;
}

static void skip_name(husk_seccomp *s, const char *name)
{
  for (size_t i = 0; i < s->n_skipped; i++)
    if (strcmp(s->skipped[i], name) == 0)
      return;
  s->skipped = husk_xrealloc(s->skipped, (s->n_skipped + 2) * sizeof(*s->skipped));
  s->skipped[s->n_skipped++] = husk_xstrdup(name);
  s->skipped[s->n_skipped] = NULL;
}

static int parse_syscall(struct json_object *o, size_t pos, husk_seccomp *s, husk_err *err)
{
  char prefix[96], path[160];
  snprintf(prefix, sizeof(prefix), SPATH ".syscalls[%zu]", pos);
  int r = want_type(o, json_type_object, prefix, err);
  if (r < 0)
    return r;
  husk_seccomp_rule *rule = &s->rules[s->n_rules++];
  rule->pos = pos;

  struct json_object *names = field(o, "names");
  snprintf(path, sizeof(path), "%s.names", prefix);
  if (names == NULL)
    return husk_errorf_plain(err, EINVAL, "%s: required", path);
  r = want_type(names, json_type_array, path, err);
  if (r < 0)
    return r;
  size_t n = json_object_array_length(names);
  if (n == 0)
    return husk_errorf_plain(err, EINVAL, "%s: must contain at least one name", path);
  rule->names = husk_xcalloc(n + 1, sizeof(*rule->names));
  rule->nrs = husk_xcalloc(n, sizeof(*rule->nrs));
  for (size_t i = 0; i < n; i++) {
    struct json_object *v = json_object_array_get_idx(names, i);
    snprintf(path, sizeof(path), "%s.names[%zu]", prefix, i);
    if (v == NULL)
      return husk_errorf_plain(err, EINVAL, "%s: must be a string, not null", path);
    r = want_type(v, json_type_string, path, err);
    if (r < 0)
      return r;
    const char *name = json_object_get_string(v);
    if (name[0] == '\0')
      return husk_errorf_plain(err, EINVAL, "%s: empty syscall name", path);
    /* Names unknown to this libseccomp (newer syscalls, typos) are skipped, as
     * runc and crun do: profiles list syscalls newer than the library. */
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      skip_name(s, name);
      continue;
    }
    rule->names[rule->n_sys] = husk_xstrdup(name);
    rule->nrs[rule->n_sys++] = nr;
  }

  r = parse_action(o, prefix, "action", "errnoRet", &rule->action, err);
  if (r < 0)
    return r;

  struct json_object *args = field(o, "args");
  if (args != NULL) {
    snprintf(path, sizeof(path), "%s.args", prefix);
    r = want_type(args, json_type_array, path, err);
    if (r < 0)
      return r;
    n = json_object_array_length(args);
    rule->args = husk_xcalloc(n ? n : 1, sizeof(*rule->args));
    unsigned int seen = 0;
    for (size_t i = 0; i < n; i++) {
      snprintf(path, sizeof(path), "%s.args[%zu]", prefix, i);
      struct json_object *a = json_object_array_get_idx(args, i);
      if (a == NULL)
        return husk_errorf_plain(err, EINVAL, "%s: must be an object, not null", path);
      r = parse_arg(a, path, &rule->args[i], err);
      if (r < 0)
        return r;
      unsigned int bit = 1U << rule->args[i].arg;
      if (seen & bit)
        rule->split = true;
      seen |= bit;
      rule->n_args++;
    }
  }
  return 0;
}

int husk_seccomp_parse(struct json_object *obj, husk_seccomp **out, husk_err *err)
{
  *out = NULL;
  int r = want_type(obj, json_type_object, SPATH, err);
  if (r < 0)
    return r;

  static const char *const unsupported[] = {"listenerPath", "listenerMetadata"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(unsupported); i++)
    if (field(obj, unsupported[i]) != NULL)
      return husk_errorf_plain(err, ENOTSUP,
                               SPATH ".%s: not supported by husk (seccomp user notification)",
                               unsupported[i]);

  husk_seccomp *s = husk_xcalloc(1, sizeof(*s));
  r = parse_action(obj, SPATH, "defaultAction", "defaultErrnoRet", &s->default_action, err);

  struct json_object *v;
  if (r == 0 && (v = field(obj, "architectures")) != NULL)
    r = parse_architectures(v, s, err);
  if (r == 0 && (v = field(obj, "flags")) != NULL)
    r = parse_flags(v, s, err);
  if (r == 0 && (v = field(obj, "syscalls")) != NULL) {
    r = want_type(v, json_type_array, SPATH ".syscalls", err);
    size_t n = r == 0 ? json_object_array_length(v) : 0;
    s->rules = husk_xcalloc(n ? n : 1, sizeof(*s->rules));
    for (size_t i = 0; r == 0 && i < n; i++) {
      struct json_object *o = json_object_array_get_idx(v, i);
      if (o == NULL)
        r = husk_errorf_plain(err, EINVAL, SPATH ".syscalls[%zu]: must be an object, not null", i);
      else
        r = parse_syscall(o, i, s, err);
    }
  }
  if (r < 0) {
    husk_seccomp_free(s);
    return r;
  }
  *out = s;
  return 0;
}

void husk_seccomp_free(husk_seccomp *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n_rules; i++) {
    husk_strv_free(s->rules[i].names);
    free(s->rules[i].nrs);
    free(s->rules[i].args);
  }
  free(s->rules);
  free(s->arches);
  husk_strv_free(s->arch_names);
  husk_strv_free(s->skipped);
  free(s);
}

size_t husk_seccomp_skipped(const husk_seccomp *s)
{
  return s ? s->n_skipped : 0;
}

const char *husk_seccomp_skipped_name(const husk_seccomp *s, size_t i)
{
  return s && i < s->n_skipped ? s->skipped[i] : NULL;
}

/* ---- compiling
 * -------------------------------------------------------------------------------
 */

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
  if (*ctx != NULL)
    seccomp_release(*ctx);
}

static int add_rule(scmp_filter_ctx ctx, const husk_seccomp_rule *rule, size_t i, husk_err *err)
{
  int rc;
  if (rule->n_args == 0 || !rule->split) {
    rc = seccomp_rule_add_array(ctx, rule->action, rule->nrs[i], (unsigned int)rule->n_args,
                                rule->n_args ? rule->args : NULL);
  } else {
    /* Conditions on the same argument cannot be ANDed in one libseccomp rule;
     * like runc, add one rule per condition. */
    rc = 0;
    for (size_t a = 0; rc == 0 && a < rule->n_args; a++)
      rc = seccomp_rule_add_array(ctx, rule->action, rule->nrs[i], 1, &rule->args[a]);
  }
  if (rc < 0)
    return husk_errorf(err, -rc, SPATH ".syscalls[%zu]: add rule for \"%s\"", rule->pos,
                       rule->names[i]);
  return 0;
}

static int export_bpf(scmp_filter_ctx ctx, husk_seccomp_prog *out, husk_err *err)
{
  _cleanup_close_ int fd = memfd_create("husk-seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0)
    return husk_errorf(err, -rc, "seccomp: export BPF program");
  struct stat st;
  if (fstat(fd, &st) < 0)
    return husk_errorf(err, errno, "seccomp: fstat exported program");
  size_t size = (size_t)st.st_size;
  if (size == 0 || size % sizeof(struct sock_filter) != 0)
    return husk_errorf_plain(err, EINVAL, "seccomp: exported program has an invalid size (%zu)",
                             size);
  size_t len = size / sizeof(struct sock_filter);
  if (len > BPF_MAXINSNS)
    return husk_errorf_plain(err, E2BIG,
                             "seccomp: filter has %zu instructions, the kernel accepts at most %d",
                             len, BPF_MAXINSNS);
  _cleanup_free_ void *buf = husk_xmalloc(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, (char *)buf + done, size - done, (off_t)done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return husk_errorf(err, errno, "seccomp: read exported program");
    if (n == 0)
      return husk_errorf_plain(err, EIO, "seccomp: exported program truncated");
    done += (size_t)n;
  }
  out->filter = husk_steal_ptr(buf);
  out->len = len;
  return 0;
}

int husk_seccomp_compile(const husk_seccomp *s, husk_seccomp_prog *out, husk_err *err)
{
  *out = (husk_seccomp_prog){0};
  __attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx = seccomp_init(s->default_action);
  if (ctx == NULL)
    return husk_errorf_plain(err, EINVAL,
                             SPATH ".defaultAction: libseccomp rejected action 0x%08x "
                                   "(not supported by this kernel?)",
                             s->default_action);
  /* We install the program ourselves; keep libseccomp from touching
   * no_new_privs or any other process state. */
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0)
    return husk_errorf(err, -rc, "seccomp: disable SCMP_FLTATR_CTL_NNP");
  /* SCMP_FLTATR_CTL_OPTIMIZE stays at 1: measured on a podman-like profile,
   * the binary tree (2) makes a larger program that takes longer to build, and
   * since Linux 5.11 the kernel's seccomp action cache bypasses the filter for
   * always-allowed syscalls anyway, so the tree buys nothing at run time. */

  for (size_t i = 0; i < s->n_arches; i++) {
    rc = seccomp_arch_add(ctx, s->arches[i]);
    if (rc == -EDOM)
      return husk_errorf_plain(err, EDOM,
                               SPATH ".architectures[%zu]: %s cannot be combined with the "
                                     "native or previous architectures in one filter (libseccomp "
                                     "needs them all of one endianness)",
                               i, s->arch_names[i]);
    if (rc < 0 && rc != -EEXIST)
      return husk_errorf(err, -rc, SPATH ".architectures[%zu]: add %s", i, s->arch_names[i]);
  }

  for (size_t r = 0; r < s->n_rules; r++) {
    const husk_seccomp_rule *rule = &s->rules[r];
    /* libseccomp refuses rules whose action is the default one (they would be
     * no-ops anyway); runc and crun skip them too. */
    if (rule->action == s->default_action)
      continue;
    for (size_t i = 0; i < rule->n_sys; i++) {
      int ret = add_rule(ctx, rule, i, err);
      if (ret < 0)
        return ret;
    }
  }

  int ret = export_bpf(ctx, out, err);
  if (ret < 0)
    return ret;
  out->flags = s->flags;
  return 0;
}

/* ---- compiled-program cache
 * ------------------------------------------------------------------ */

/* libseccomp needs ~15 ms to build a podman-like filter for x86_64+x86+x32,
 * on every container start.  The program only depends on the resolved filter,
 * the libseccomp version and the kernel, so it is cached on disk like crun
 * does.  The file name is a hash of the key; the whole key is stored in the
 * file and compared on load, so a hash collision can only cost a rebuild. */

static const char cache_magic[8] = {'H', 'U', 'S', 'K', 'S', 'C', 'B', '1'};

typedef struct keybuf {
  unsigned char *p;
  size_t len, cap;
} keybuf;

static void key_put(keybuf *k, const void *data, size_t n)
{
  if (k->len + n > k->cap) {
    k->cap = (k->len + n) * 2 + 256;
    k->p = husk_xrealloc(k->p, k->cap);
  }
  memcpy(k->p + k->len, data, n);
  k->len += n;
}

static void key_u64(keybuf *k, uint64_t v)
{
  key_put(k, &v, sizeof(v));
}

static void key_build(const husk_seccomp *s, keybuf *k)
{
  const struct scmp_version *v = seccomp_version();
  struct utsname u;
  if (uname(&u) < 0)
    memset(&u, 0, sizeof(u));
  key_put(k, cache_magic, sizeof(cache_magic));
  key_u64(k, v ? v->major : 0);
  key_u64(k, v ? v->minor : 0);
  key_u64(k, v ? v->micro : 0);
  key_u64(k, seccomp_arch_native());
  key_put(k, u.release, strnlen(u.release, sizeof(u.release)) + 1);
  key_put(k, u.version, strnlen(u.version, sizeof(u.version)) + 1);
  key_u64(k, s->default_action);
  key_u64(k, s->flags);
  key_u64(k, s->n_arches);
  for (size_t i = 0; i < s->n_arches; i++)
    key_u64(k, s->arches[i]);
  key_u64(k, s->n_rules);
  for (size_t r = 0; r < s->n_rules; r++) {
    const husk_seccomp_rule *rule = &s->rules[r];
    key_u64(k, rule->action);
    key_u64(k, rule->split);
    key_u64(k, rule->n_args);
    for (size_t a = 0; a < rule->n_args; a++) {
      key_u64(k, rule->args[a].arg);
      key_u64(k, (uint64_t)rule->args[a].op);
      key_u64(k, rule->args[a].datum_a);
      key_u64(k, rule->args[a].datum_b);
    }
    key_u64(k, rule->n_sys);
    for (size_t i = 0; i < rule->n_sys; i++)
      key_u64(k, (uint64_t)(int64_t)rule->nrs[i]);
  }
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

/* Only trust files and directories owned by us that nobody else can write. */
static bool cache_stat_ok(const struct stat *st)
{
  return st->st_uid == geteuid() && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

typedef struct cache_header {
  char magic[8];
  uint32_t key_len;
  uint32_t n_insns;
} cache_header;

/* 1: hit (out filled), 0: miss or unusable entry. */
static int cache_load(int dirfd, const char *name, const keybuf *k, husk_seccomp_prog *out)
{
  _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return 0;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !cache_stat_ok(&st))
    return 0;
  cache_header h;
  if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
      memcmp(h.magic, cache_magic, sizeof(cache_magic)) != 0 || h.key_len != k->len ||
      h.n_insns == 0 || h.n_insns > BPF_MAXINSNS)
    return 0;
  size_t prog_size = (size_t)h.n_insns * sizeof(struct sock_filter);
  if ((size_t)st.st_size != sizeof(h) + k->len + prog_size)
    return 0;
  _cleanup_free_ unsigned char *buf = husk_xmalloc(k->len + prog_size);
  if (pread(fd, buf, k->len + prog_size, sizeof(h)) != (ssize_t)(k->len + prog_size))
    return 0;
  if (memcmp(buf, k->p, k->len) != 0)
    return 0;
  void *filter = husk_xmalloc(prog_size);
  memcpy(filter, buf + k->len, prog_size);
  out->filter = filter;
  out->len = h.n_insns;
  return 1;
}

static void cache_store(int dirfd, const char *name, const keybuf *k, const husk_seccomp_prog *p)
{
  cache_header h;
  memcpy(h.magic, cache_magic, sizeof(cache_magic));
  h.key_len = (uint32_t)k->len;
  h.n_insns = (uint32_t)p->len;
  size_t prog_size = p->len * sizeof(struct sock_filter);
  size_t total = sizeof(h) + k->len + prog_size;
  _cleanup_free_ char *buf = husk_xmalloc(total);
  memcpy(buf, &h, sizeof(h));
  memcpy(buf + sizeof(h), k->p, k->len);
  memcpy(buf + sizeof(h) + k->len, p->filter, prog_size);
  husk_err ignored;
  /* A cache that cannot be written only costs time on the next start. */
  (void)husk_write_file_atomic(dirfd, name, buf, total, &ignored);
}

int husk_seccomp_compile_cached(const husk_seccomp *s, int cache_dirfd, husk_seccomp_prog *out,
                                husk_err *err)
{
  if (cache_dirfd < 0)
    return husk_seccomp_compile(s, out, err);
  *out = (husk_seccomp_prog){0};
  struct stat st;
  if (fstat(cache_dirfd, &st) < 0)
    return husk_errorf(err, errno, "seccomp cache: fstat directory");
  if (!S_ISDIR(st.st_mode) || !cache_stat_ok(&st))
    return husk_errorf_plain(err, EPERM,
                             "seccomp cache: directory must be owned by uid %u and not writable "
                             "by group or others",
                             (unsigned)geteuid());

  keybuf k = {0};
  key_build(s, &k);
  char name[32];
  snprintf(name, sizeof(name), "%016" PRIx64 ".bpf", fnv1a64(k.p, k.len));
  int r = 0;
  if (cache_load(cache_dirfd, name, &k, out) == 1) {
    out->flags = s->flags;
  } else {
    r = husk_seccomp_compile(s, out, err);
    if (r == 0)
      cache_store(cache_dirfd, name, &k, out);
  }
  free(k.p);
  return r;
}

/* ---- installing
 * ------------------------------------------------------------------------------
 */

int husk_seccomp_install(const husk_seccomp_prog *prog, husk_err *err)
{
  if (prog == NULL || prog->filter == NULL || prog->len == 0 || prog->len > BPF_MAXINSNS)
    return husk_errorf_plain(err, EINVAL, "seccomp: no valid compiled filter to install");
  struct sock_fprog fprog = {
      .len = (unsigned short)prog->len,
      .filter = prog->filter,
  };
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags, &fprog);
  if (rc == 0)
    return 0;
  if (rc > 0) /* SECCOMP_FILTER_FLAG_TSYNC: the id of the thread that could not
                 sync */
    return husk_errorf_plain(err, EBUSY,
                             "seccomp: thread %ld could not be synchronized "
                             "(SECCOMP_FILTER_FLAG_TSYNC)",
                             rc);
  int e = errno;
  if (e == ENOSYS) {
    if (prog->flags != 0)
      return husk_errorf(err, e,
                         "seccomp: the kernel has no seccomp(2) syscall, which "
                         "linux.seccomp.flags need");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0)
      return 0;
    e = errno;
    if (e == EACCES)
      return husk_errorf(err, e, "prctl(PR_SET_SECCOMP): needs no_new_privs or CAP_SYS_ADMIN");
    return husk_errorf(err, e, "prctl(PR_SET_SECCOMP)");
  }
  if (e == EACCES)
    return husk_errorf(err, e,
                       "seccomp(SECCOMP_SET_MODE_FILTER): needs no_new_privs "
                       "or CAP_SYS_ADMIN");
  return husk_errorf(err, e, "seccomp(SECCOMP_SET_MODE_FILTER, flags 0x%x)", prog->flags);
}

void husk_seccomp_prog_clear(husk_seccomp_prog *prog)
{
  if (prog == NULL)
    return;
  free(prog->filter);
  *prog = (husk_seccomp_prog){0};
}
