/* Image config + `husk run` flags -> an OCI config (json-c document), and
 * the flag parsers behind it: volume specs, --cpus, env files, users. */
#include "porcelain.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mounts.h"
#include "spec.h"
#include "util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CPU_PERIOD   100000ULL

/* ---- small string helpers ------------------------------------------------------ */

/* Split s on sep into a NULL-terminated vector (empty fields kept). */
static char **split(const char *s, char sep)
{
  char **out = husk_xcalloc(1, sizeof(char *));
  const char *p = s;
  for (;;) {
    const char *e = strchr(p, sep);
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *part = husk_xmalloc(n + 1);
    memcpy(part, p, n);
    part[n] = '\0';
    husk_strv_push(&out, part);
    free(part);
    if (e == NULL)
      break;
    p = e + 1;
  }
  return out;
}

/* ---- volume specs ---------------------------------------------------------------- */

void husk_volspec_clear(husk_volspec *v)
{
  free(v->name);
  free(v->source);
  free(v->destination);
  free(v->propagation);
  free(v->options);
  memset(v, 0, sizeof(*v));
}

static int check_destination(const char *flag, const char *d, husk_err *err)
{
  if (d[0] != '/')
    return husk_errorf_plain(err, EINVAL, "%s: destination %s must be an absolute path", flag, d);
  if (strcmp(d, "/") == 0)
    return husk_errorf_plain(err, EINVAL, "%s: destination cannot be /", flag);
  for (const char *p = d; (p = strstr(p, "..")) != NULL; p += 2) {
    bool start = p == d || p[-1] == '/';
    bool end = p[2] == '\0' || p[2] == '/';
    if (start && end)
      return husk_errorf_plain(err, EINVAL, "%s: destination %s must not contain ..", flag, d);
  }
  return 0;
}

/* "/a//b/" -> "/a/b" */
static char *clean_path(const char *p)
{
  char *out = husk_xmalloc(strlen(p) + 2);
  size_t n = 0;
  for (const char *s = p; *s; s++) {
    if (*s == '/' && n > 0 && out[n - 1] == '/')
      continue;
    out[n++] = *s;
  }
  while (n > 1 && out[n - 1] == '/')
    n--;
  out[n] = '\0';
  return out;
}

static bool is_propagation(const char *o)
{
  static const char *const modes[] = {"shared", "rshared", "slave",
                                      "rslave", "private", "rprivate"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(modes); i++)
    if (strcmp(o, modes[i]) == 0)
      return true;
  return false;
}

int husk_volspec_parse(const char *s, husk_volspec *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  if (s == NULL || *s == '\0')
    return husk_errorf_plain(err, EINVAL, "-v: empty volume specification");
  _cleanup_strv_ char **parts = split(s, ':');
  size_t n = husk_strv_len(parts);
  if (n == 1)
    return husk_errorf_plain(err, EINVAL,
                             "-v %s: anonymous volumes are not supported, use NAME:%s or "
                             "/host/path:%s",
                             s, s, s);
  if (n > 3)
    return husk_errorf_plain(err, EINVAL, "-v %s: invalid volume specification (SRC:DST[:OPTS])",
                             s);
  const char *src = parts[0], *dst = parts[1];
  if (*src == '\0' || *dst == '\0')
    return husk_errorf_plain(err, EINVAL, "-v %s: invalid volume specification (SRC:DST[:OPTS])",
                             s);
  if (check_destination("-v", dst, err) < 0)
    return husk_error_ret(err);
  if (src[0] == '/') {
    out->kind = HUSK_VOL_BIND;
    out->source = clean_path(src);
  } else {
    husk_err e;
    if (husk_volume_name_validate(src, &e) < 0) {
      if (strchr(src, '/') || src[0] == '.')
        return husk_errorf_plain(err, EINVAL,
                                 "-v %s: bind mount source %s must be an absolute path", s, src);
      return husk_errorf_plain(err, EINVAL, "-v %s: %s", s, e.msg);
    }
    out->kind = HUSK_VOL_NAMED;
    out->name = husk_xstrdup(src);
  }
  out->destination = clean_path(dst);
  if (n == 3) {
    _cleanup_strv_ char **opts = split(parts[2], ',');
    bool seen_mode = false;
    for (char **o = opts; *o; o++) {
      if (strcmp(*o, "ro") == 0 || strcmp(*o, "rw") == 0) {
        if (seen_mode) {
          husk_volspec_clear(out);
          return husk_errorf_plain(err, EINVAL, "-v %s: ro and rw given more than once", s);
        }
        seen_mode = true;
        out->readonly = strcmp(*o, "ro") == 0;
      } else if (is_propagation(*o)) {
        free(out->propagation);
        out->propagation = husk_xstrdup(*o);
      } else if (strcmp(*o, "nocopy") == 0) {
        out->nocopy = true;
      } else if (strcmp(*o, "z") == 0 || strcmp(*o, "Z") == 0) {
        /* SELinux relabeling: nothing to do here */
      } else {
        husk_volspec_clear(out);
        return husk_errorf_plain(err, EINVAL, "-v %s: unknown volume option \"%s\"", s, *o);
      }
    }
  }
  if (out->propagation == NULL)
    out->propagation = husk_xstrdup("rprivate");
  return 0;
}

int husk_tmpfs_parse(const char *s, husk_volspec *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  if (s == NULL || *s == '\0')
    return husk_errorf_plain(err, EINVAL, "--tmpfs: empty destination");
  const char *colon = strchr(s, ':');
  _cleanup_free_ char *dst = colon ? strndup(s, (size_t)(colon - s)) : husk_xstrdup(s);
  if (check_destination("--tmpfs", dst, err) < 0)
    return husk_error_ret(err);
  out->kind = HUSK_VOL_TMPFS;
  out->destination = clean_path(dst);
  if (colon && colon[1])
    out->options = husk_xstrdup(colon + 1);
  if (out->options) {
    _cleanup_strv_ char **opts = split(out->options, ',');
    for (char **o = opts; *o; o++) {
      if (**o == '\0') {
        husk_volspec_clear(out);
        return husk_errorf_plain(err, EINVAL, "--tmpfs %s: empty mount option", s);
      }
      if (strcmp(*o, "ro") == 0)
        out->readonly = true;
    }
  }
  return 0;
}

/* ---- --cpus ------------------------------------------------------------------------- */

int husk_cpus_parse(const char *s, uint64_t *quota, uint64_t *period, uint64_t *nano, husk_err *err)
{
  const char *p = s;
  uint64_t whole = 0, frac = 0;
  int fdigits = 0;
  bool digits = false;
  for (; p && isdigit((unsigned char)*p); p++, digits = true) {
    if (whole > 1000000)
      return husk_errorf_plain(err, ERANGE, "--cpus %s: too large", s);
    whole = whole * 10 + (uint64_t)(*p - '0');
  }
  if (p && *p == '.') {
    for (p++; isdigit((unsigned char)*p); p++, digits = true) {
      if (fdigits < 9) {
        frac = frac * 10 + (uint64_t)(*p - '0');
        fdigits++;
      }
    }
  }
  if (s == NULL || !digits || *p != '\0')
    return husk_errorf_plain(err, EINVAL, "--cpus %s: invalid number of CPUs (e.g. 0.5, 2)",
                             s ? s : "");
  for (; fdigits < 9; fdigits++)
    frac *= 10;
  uint64_t n = whole * 1000000000ULL + frac;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 1)
    ncpu = 1;
  if (n < 10000000ULL || n > (uint64_t)ncpu * 1000000000ULL)
    return husk_errorf_plain(err, ERANGE, "--cpus %s: the range of CPUs is from 0.01 to %ld", s,
                             ncpu);
  *nano = n;
  *period = CPU_PERIOD;
  *quota = n * CPU_PERIOD / 1000000000ULL;
  return 0;
}

/* ---- environment --------------------------------------------------------------------- */

static size_t key_len(const char *kv)
{
  const char *eq = strchr(kv, '=');
  return eq ? (size_t)(eq - kv) : strlen(kv);
}

void husk_env_set(char ***env, const char *kv)
{
  size_t k = key_len(kv);
  if (*env == NULL)
    *env = husk_xcalloc(1, sizeof(char *));
  for (char **e = *env; *e; e++) {
    if (key_len(*e) == k && strncmp(*e, kv, k) == 0) {
      free(*e);
      *e = husk_xstrdup(kv);
      return;
    }
  }
  husk_strv_push(env, kv);
}

static bool env_has(char *const *env, const char *key)
{
  size_t k = strlen(key);
  for (; env && *env; env++)
    if (key_len(*env) == k && strncmp(*env, key, k) == 0)
      return true;
  return false;
}

int husk_env_file_read(const char *path, char ***env, husk_err *err)
{
  _cleanup_free_ char *buf = NULL;
  if (husk_read_file_at(AT_FDCWD, path, &buf, NULL, err) < 0)
    return husk_error_wrap(err, "--env-file");
  if (*env == NULL)
    *env = husk_xcalloc(1, sizeof(char *));
  int lineno = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
      line[--len] = '\0';
    while (*line == ' ' || *line == '\t')
      line++;
    if (*line == '\0' || *line == '#')
      continue;
    size_t k = key_len(line);
    if (k == 0)
      return husk_errorf_plain(err, EINVAL, "--env-file %s:%d: empty variable name", path, lineno);
    for (size_t i = 0; i < k; i++) {
      if (line[i] == ' ' || line[i] == '\t')
        return husk_errorf_plain(err, EINVAL,
                                 "--env-file %s:%d: variable name \"%.*s\" contains whitespace",
                                 path, lineno, (int)k, line);
    }
    if (line[k] == '=') {
      husk_strv_push(env, line);
    } else {
      const char *v = getenv(line);
      if (v) {
        _cleanup_free_ char *kv = husk_xasprintf("%s=%s", line, v);
        husk_strv_push(env, kv);
      }
    }
  }
  return 0;
}

/* ---- users ------------------------------------------------------------------------------ */

void husk_puser_clear(husk_puser *u)
{
  free(u->gids);
  free(u->home);
  memset(u, 0, sizeof(*u));
}

struct json_object *husk_puser_json(const husk_puser *u)
{
  struct json_object *ju = json_object_new_object();
  json_object_object_add(ju, "uid", json_object_new_int64(u->uid));
  json_object_object_add(ju, "gid", json_object_new_int64(u->gid));
  if (u->n_gids) {
    struct json_object *ag = json_object_new_array();
    for (size_t i = 0; i < u->n_gids; i++)
      json_object_array_add(ag, json_object_new_int64(u->gids[i]));
    json_object_object_add(ju, "additionalGids", ag);
  }
  return ju;
}

void husk_proc_console_size(struct json_object *proc, unsigned rows, unsigned cols)
{
  if (rows == 0 || cols == 0)
    return;
  struct json_object *cs = json_object_new_object();
  json_object_object_add(cs, "height", json_object_new_int64(rows));
  json_object_object_add(cs, "width", json_object_new_int64(cols));
  json_object_object_add(proc, "consoleSize", cs);
}

static int parse_id(const char *s, uint32_t *out)
{
  uint64_t v;
  if (husk_parse_u64(s, &v) < 0 || v > UINT32_MAX - 1)
    return -EINVAL;
  *out = (uint32_t)v;
  return 0;
}

static char *read_in_root(int rootfd, const char *path)
{
  if (rootfd < 0)
    return NULL;
  _cleanup_close_ int fd = husk_open_in_root(rootfd, path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
    return NULL;
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = husk_xmalloc(cap + 1);
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = husk_xrealloc(buf, cap + 1);
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      free(buf);
      return NULL;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  return buf;
}

/* Iterate over colon-separated lines: calls fn(fields, nfields) until it returns true. */
typedef bool (*line_fn)(char **f, size_t n, void *data);

static void each_entry(char *buf, line_fn fn, void *data)
{
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if (*line == '#' || *line == '\0')
      continue;
    char *f[8] = {0};
    size_t n = 0;
    char *p = line;
    while (n < HUSK_ARRAY_SIZE(f)) {
      f[n++] = p;
      char *c = strchr(p, ':');
      if (c == NULL)
        break;
      *c = '\0';
      p = c + 1;
    }
    if (fn(f, n, data))
      return;
  }
}

typedef struct pw_query {
  const char *name; /* or NULL: by uid */
  uint32_t uid;
  bool found;
  uint32_t r_uid, r_gid;
  char *r_name, *r_home;
} pw_query;

static bool pw_match(char **f, size_t n, void *data)
{
  pw_query *q = data;
  if (n < 4)
    return false;
  uint32_t uid, gid;
  if (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
    return false;
  if (q->name ? strcmp(f[0], q->name) != 0 : uid != q->uid)
    return false;
  q->found = true;
  q->r_uid = uid;
  q->r_gid = gid;
  q->r_name = husk_xstrdup(f[0]);
  q->r_home = n >= 6 && f[5][0] ? husk_xstrdup(f[5]) : NULL;
  return true;
}

typedef struct gr_query {
  const char *name; /* a group name to find, or NULL */
  bool found;
  uint32_t r_gid;
  const char *member; /* collect groups listing this user */
  uint32_t *gids;
  size_t n_gids;
} gr_query;

static bool gr_match(char **f, size_t n, void *data)
{
  gr_query *q = data;
  if (n < 3)
    return false;
  uint32_t gid;
  if (parse_id(f[2], &gid) < 0)
    return false;
  if (q->name && !q->found && strcmp(f[0], q->name) == 0) {
    q->found = true;
    q->r_gid = gid;
  }
  if (q->member && n >= 4) {
    _cleanup_strv_ char **members = split(f[3], ',');
    for (char **m = members; *m; m++) {
      if (strcmp(*m, q->member) == 0) {
        q->gids = husk_xrealloc(q->gids, (q->n_gids + 1) * sizeof(uint32_t));
        q->gids[q->n_gids++] = gid;
        break;
      }
    }
  }
  return false;
}

int husk_user_resolve(int rootfd, const char *user, husk_puser *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  if (user == NULL || *user == '\0')
    user = "0";
  const char *colon = strchr(user, ':');
  _cleanup_free_ char *u = colon ? strndup(user, (size_t)(colon - user)) : husk_xstrdup(user);
  const char *g = colon ? colon + 1 : NULL;
  if (*u == '\0' || (g && *g == '\0'))
    return husk_errorf_plain(err, EINVAL, "-u %s: invalid user (UID[:GID] or NAME[:GROUP])", user);

  _cleanup_free_ char *passwd = read_in_root(rootfd, "/etc/passwd");
  pw_query pq = {0};
  uint32_t uid;
  bool numeric = parse_id(u, &pq.uid) == 0;
  if (!numeric)
    pq.name = u;
  if (passwd) {
    _cleanup_free_ char *copy = husk_xstrdup(passwd);
    each_entry(copy, pw_match, &pq);
  }
  if (numeric) {
    uid = pq.uid;
  } else if (pq.found) {
    uid = pq.r_uid;
  } else if (strcmp(u, "root") == 0) {
    uid = 0;
  } else {
    return husk_errorf_plain(err, ENOENT,
                             "unable to find user %s: no matching entries in passwd "
                             "file",
                             u);
  }
  uint32_t gid = pq.found ? pq.r_gid : 0;
  _cleanup_free_ char *groups = NULL;
  if (g || pq.found)
    groups = read_in_root(rootfd, "/etc/group");
  if (g) {
    if (parse_id(g, &gid) < 0) {
      gr_query gq = {.name = g};
      if (groups) {
        _cleanup_free_ char *copy = husk_xstrdup(groups);
        each_entry(copy, gr_match, &gq);
      }
      if (!gq.found) {
        free(pq.r_name);
        free(pq.r_home);
        return husk_errorf_plain(err, ENOENT,
                                 "unable to find group %s: no matching entries in group file", g);
      }
      gid = gq.r_gid;
    }
  }
  if (pq.found && groups) {
    gr_query gq = {.member = pq.r_name};
    each_entry(groups, gr_match, &gq);
    out->gids = gq.gids;
    out->n_gids = gq.n_gids;
  }
  out->uid = uid;
  out->gid = gid;
  out->home = pq.r_home;
  free(pq.r_name);
  return 0;
}

/* ---- the command ------------------------------------------------------------------------- */

char **husk_pspec_args(const husk_run_opts *o, const husk_image_config *image)
{
  char **args = husk_xcalloc(1, sizeof(char *));
  bool have_cmd = o->cmd && o->cmd[0];
  if (o->has_entrypoint) {
    if (o->entrypoint && *o->entrypoint)
      husk_strv_push(&args, o->entrypoint);
  } else if (image) {
    for (char **e = image->entrypoint; e && *e; e++)
      husk_strv_push(&args, *e);
  }
  if (have_cmd) {
    for (char **c = o->cmd; *c; c++)
      husk_strv_push(&args, *c);
  } else if (!o->has_entrypoint && image) {
    /* docker: --entrypoint resets the image's Cmd */
    for (char **c = image->cmd; c && *c; c++)
      husk_strv_push(&args, *c);
  }
  return args;
}

/* ---- the spec ------------------------------------------------------------------------------ */

static struct json_object *jstrv(char *const *v)
{
  struct json_object *a = json_object_new_array();
  for (; v && *v; v++)
    json_object_array_add(a, json_object_new_string(*v));
  return a;
}

static struct json_object *get_obj(struct json_object *o, const char *key)
{
  struct json_object *v = NULL;
  if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object)) {
    v = json_object_new_object();
    json_object_object_add(o, key, v);
  }
  return v;
}

static size_t path_depth(const char *p)
{
  size_t n = 0;
  for (; *p; p++)
    if (*p == '/')
      n++;
  return n;
}

static struct json_object *user_mount(const husk_volspec *v)
{
  struct json_object *m = json_object_new_object();
  json_object_object_add(m, "destination", json_object_new_string(v->destination));
  struct json_object *opts = json_object_new_array();
  if (v->kind == HUSK_VOL_TMPFS) {
    json_object_object_add(m, "type", json_object_new_string("tmpfs"));
    json_object_object_add(m, "source", json_object_new_string("tmpfs"));
    static const char *const dflt[] = {"nosuid", "nodev", "noexec"};
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(dflt); i++)
      json_object_array_add(opts, json_object_new_string(dflt[i]));
    if (v->options) {
      _cleanup_strv_ char **extra = split(v->options, ',');
      for (char **o = extra; *o; o++)
        json_object_array_add(opts, json_object_new_string(*o));
    }
  } else {
    json_object_object_add(m, "type", json_object_new_string("bind"));
    json_object_object_add(m, "source", json_object_new_string(v->source ? v->source : ""));
    json_object_array_add(opts, json_object_new_string("rbind"));
    json_object_array_add(opts,
                          json_object_new_string(v->propagation ? v->propagation : "rprivate"));
    if (v->readonly)
      json_object_array_add(opts, json_object_new_string("ro"));
  }
  json_object_object_add(m, "options", opts);
  return m;
}

static int cmp_depth(const void *a, const void *b)
{
  const husk_volspec *x = *(husk_volspec *const *)a, *y = *(husk_volspec *const *)b;
  size_t dx = path_depth(x->destination), dy = path_depth(y->destination);
  if (dx != dy)
    return dx < dy ? -1 : 1;
  return x < y ? -1 : (x > y ? 1 : 0); /* stable: keep the given order */
}

static bool user_mounts_on(const husk_run_opts *o, const char *dst)
{
  for (size_t j = 0; j < o->n_volumes; j++)
    if (strcmp(o->volumes[j].destination, dst) == 0)
      return true;
  return false;
}

static void add_file_mount(struct json_object *mounts, const husk_run_opts *o, const char *src,
                           const char *dst)
{
  if (src == NULL || user_mounts_on(o, dst))
    return;
  struct json_object *m = json_object_new_object();
  json_object_object_add(m, "destination", json_object_new_string(dst));
  json_object_object_add(m, "type", json_object_new_string("bind"));
  json_object_object_add(m, "source", json_object_new_string(src));
  struct json_object *opts = json_object_new_array();
  json_object_array_add(opts, json_object_new_string("rbind"));
  json_object_array_add(opts, json_object_new_string("rprivate"));
  json_object_object_add(m, "options", opts);
  json_object_array_add(mounts, m);
}

static int build_mounts(struct json_object *root, const husk_spec_input *in, husk_err *err)
{
  const husk_run_opts *o = in->opts;
  struct json_object *mounts = NULL;
  if (!json_object_object_get_ex(root, "mounts", &mounts)) {
    mounts = json_object_new_array();
    json_object_object_add(root, "mounts", mounts);
  }
  /* duplicates among the user's mounts are an error */
  for (size_t i = 0; i < o->n_volumes; i++) {
    const husk_volspec *v = &o->volumes[i];
    if (v->kind != HUSK_VOL_TMPFS && v->source == NULL)
      return husk_errorf_plain(err, EINVAL, "volume %s: no source resolved",
                               v->name ? v->name : v->destination);
    for (size_t j = 0; j < i; j++)
      if (strcmp(o->volumes[j].destination, v->destination) == 0)
        return husk_errorf_plain(err, EINVAL, "duplicate mount point: %s", v->destination);
  }
  /* a user mount replaces a default one on the same destination */
  struct json_object *kept = json_object_new_array();
  for (size_t i = 0; i < json_object_array_length(mounts); i++) {
    struct json_object *m = json_object_array_get_idx(mounts, i), *d = NULL;
    if (!json_object_object_get_ex(m, "destination", &d) ||
        !user_mounts_on(o, json_object_get_string(d)))
      json_object_array_add(kept, json_object_get(m));
  }
  /* the network's /etc files (bridge) */
  add_file_mount(kept, o, in->hosts_file, "/etc/hosts");
  add_file_mount(kept, o, in->resolv_file, "/etc/resolv.conf");
  add_file_mount(kept, o, in->hostname_file, "/etc/hostname");
  /* parents before children */
  const husk_volspec **sorted = husk_xcalloc(o->n_volumes + 1, sizeof(*sorted));
  for (size_t i = 0; i < o->n_volumes; i++)
    sorted[i] = &o->volumes[i];
  qsort(sorted, o->n_volumes, sizeof(*sorted), cmp_depth);
  for (size_t i = 0; i < o->n_volumes; i++)
    json_object_array_add(kept, user_mount(sorted[i]));
  free(sorted);
  json_object_object_add(root, "mounts", kept);
  return 0;
}

static void build_resources(struct json_object *linux_obj, const husk_run_opts *o)
{
  if (!o->has_memory && !o->has_memory_swap && !o->has_cpus && !o->cpuset_cpus &&
      !(o->has_pids_limit && o->pids_limit > 0))
    return;
  struct json_object *res = get_obj(linux_obj, "resources");
  if (o->has_memory || o->has_memory_swap) {
    struct json_object *mem = get_obj(res, "memory");
    if (o->has_memory)
      json_object_object_add(mem, "limit", json_object_new_int64((int64_t)o->memory));
    if (o->has_memory_swap)
      json_object_object_add(mem, "swap", json_object_new_int64(o->memory_swap));
  }
  if (o->has_cpus || o->cpuset_cpus) {
    struct json_object *cpu = get_obj(res, "cpu");
    if (o->has_cpus) {
      json_object_object_add(cpu, "quota", json_object_new_int64((int64_t)o->cpu_quota));
      json_object_object_add(cpu, "period", json_object_new_int64((int64_t)o->cpu_period));
    }
    if (o->cpuset_cpus)
      json_object_object_add(cpu, "cpus", json_object_new_string(o->cpuset_cpus));
  }
  if (o->has_pids_limit && o->pids_limit > 0) {
    struct json_object *pids = get_obj(res, "pids");
    json_object_object_add(pids, "limit", json_object_new_int64(o->pids_limit));
  }
}

static void build_namespaces(struct json_object *linux_obj, const husk_spec_input *in)
{
  static const char *const kinds[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
  struct json_object *nss = json_object_new_array();
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(kinds); i++) {
    bool net = strcmp(kinds[i], "network") == 0;
    if (net && in->opts->network == HUSK_NET_HOST)
      continue;
    struct json_object *ns = json_object_new_object();
    json_object_object_add(ns, "type", json_object_new_string(kinds[i]));
    if (net && in->netns_path && *in->netns_path)
      json_object_object_add(ns, "path", json_object_new_string(in->netns_path));
    json_object_array_add(nss, ns);
  }
  json_object_object_add(linux_obj, "namespaces", nss);
}

/* ---- security: capabilities, seccomp, masked paths (like docker) ---------------------------- */

/* The embedded default seccomp profile (runtime/seccomp_default.json, made
 * into a C array at build time by runtime/CMakeLists.txt). */
extern const char husk_seccomp_default_json[];

/* Capability names by number (the kernel's numbering, up to CAP_CHECKPOINT_RESTORE). */
static const char *const cap_by_number[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

/* docker's default capability set */
static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

#define CAP_BIT(n) (UINT64_C(1) << (n))

/* "All" capabilities: those known here that this process's bounding set
 * still holds (no process can grant more; a runtime that is itself confined,
 * e.g. without CAP_SYS_RESOURCE, would otherwise fail at capset). */
static uint64_t all_caps_mask(void)
{
  uint64_t m = 0;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cap_by_number); i++)
    if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) == 1)
      m |= CAP_BIT(i);
  return m;
}

/* --cap-add/--cap-drop NAME: "ALL", or a capability with or without CAP_, any case.
 * *all is set for ALL (and *bit is then 0). */
int husk_cap_flag_parse(const char *flag, const char *name, uint64_t *bit, bool *all, husk_err *err)
{
  *bit = 0;
  *all = false;
  if (strcasecmp(name, "ALL") == 0) {
    *all = true;
    return 0;
  }
  _cleanup_free_ char *full =
      strncasecmp(name, "CAP_", 4) == 0 ? husk_xstrdup(name) : husk_xasprintf("CAP_%s", name);
  int c = husk_cap_from_name(full);
  if (c < 0 || (size_t)c >= HUSK_ARRAY_SIZE(cap_by_number))
    return husk_errorf_plain(err, EINVAL, "%s %s: unknown capability", flag, name);
  *bit = CAP_BIT(c);
  return 0;
}

/* The container's capability set: docker's TweakCapabilities (--cap-add ALL:
 * everything but the dropped ones; --cap-drop ALL: only the added ones;
 * otherwise the defaults minus the dropped plus the added). */
static int caps_mask(const husk_run_opts *o, uint64_t *out, husk_err *err)
{
  if (o->privileged) {
    *out = all_caps_mask();
    return 0;
  }
  uint64_t add = 0, drop = 0, bit;
  bool add_all = false, drop_all = false, all;
  for (char **c = o->cap_add; c && *c; c++) {
    int r = husk_cap_flag_parse("--cap-add", *c, &bit, &all, err);
    if (r < 0)
      return r;
    add |= bit;
    add_all |= all;
  }
  for (char **c = o->cap_drop; c && *c; c++) {
    int r = husk_cap_flag_parse("--cap-drop", *c, &bit, &all, err);
    if (r < 0)
      return r;
    drop |= bit;
    drop_all |= all;
  }
  uint64_t base = 0;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(default_caps); i++)
    base |= CAP_BIT(husk_cap_from_name(default_caps[i]));
  if (add_all)
    *out = all_caps_mask() & ~drop;
  else if (drop_all)
    *out = add;
  else
    *out = (base & ~drop) | add;
  return 0;
}

/* bounding, effective and permitted (no inheritable or ambient, like docker:
 * a non-root user's program therefore runs without effective capabilities) */
static struct json_object *caps_json(uint64_t mask)
{
  struct json_object *caps = json_object_new_object();
  static const char *const sets[] = {"bounding", "effective", "permitted"};
  for (size_t s = 0; s < HUSK_ARRAY_SIZE(sets); s++) {
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(cap_by_number); i++)
      if (mask & CAP_BIT(i))
        json_object_array_add(a, json_object_new_string(cap_by_number[i]));
    json_object_object_add(caps, sets[s], a);
  }
  return caps;
}

/* docker's capability-conditional parts of its default profile: the calls a
 * capability makes allowed.  (keyctl, add_key and request_key stay blocked
 * whatever the capabilities, as with docker.) */
static const struct {
  const char *cap;
  const char *const *names;
} seccomp_by_cap[] = {
    {"CAP_SYS_ADMIN", (const char *const[]){"bpf",           "clone",           "clone3",
                                            "fanotify_init", "fsconfig",        "fsmount",
                                            "fsopen",        "fspick",          "lookup_dcookie",
                                            "mount",         "mount_setattr",   "move_mount",
                                            "open_tree",     "perf_event_open", "quotactl",
                                            "quotactl_fd",   "setdomainname",   "sethostname",
                                            "setns",         "syslog",          "umount",
                                            "umount2",       "unshare",         NULL}},
    {"CAP_SYS_BOOT", (const char *const[]){"reboot", NULL}},
    {"CAP_SYS_MODULE", (const char *const[]){"delete_module", "init_module", "finit_module", NULL}},
    {"CAP_SYS_PACCT", (const char *const[]){"acct", NULL}},
    {"CAP_SYS_PTRACE",
     (const char *const[]){"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                           "process_vm_writev", "ptrace", NULL}},
    {"CAP_SYS_RAWIO", (const char *const[]){"iopl", "ioperm", NULL}},
    {"CAP_SYS_TIME",
     (const char *const[]){"settimeofday", "stime", "clock_settime", "clock_settime64", NULL}},
    {"CAP_SYS_TTY_CONFIG", (const char *const[]){"vhangup", NULL}},
    {"CAP_SYS_NICE", (const char *const[]){"get_mempolicy", "mbind", "set_mempolicy",
                                           "set_mempolicy_home_node", NULL}},
    {"CAP_SYSLOG", (const char *const[]){"syslog", NULL}},
    {"CAP_BPF", (const char *const[]){"bpf", NULL}},
    {"CAP_PERFMON", (const char *const[]){"perf_event_open", NULL}},
    {"CAP_DAC_READ_SEARCH", (const char *const[]){"open_by_handle_at", NULL}},
};

/* Allow names unconditionally: take them out of every rule (a rule left
 * without names goes) and add one SCMP_ACT_ALLOW rule. */
static void seccomp_allow(struct json_object *profile, const char *const *names)
{
  struct json_object *rules = NULL;
  if (!json_object_object_get_ex(profile, "syscalls", &rules) ||
      !json_object_is_type(rules, json_type_array))
    return;
  struct json_object *kept = json_object_new_array();
  for (size_t i = 0; i < json_object_array_length(rules); i++) {
    struct json_object *rule = json_object_array_get_idx(rules, i), *rn = NULL;
    if (!json_object_object_get_ex(rule, "names", &rn) ||
        !json_object_is_type(rn, json_type_array)) {
      json_object_array_add(kept, json_object_get(rule));
      continue;
    }
    struct json_object *left = json_object_new_array();
    for (size_t j = 0; j < json_object_array_length(rn); j++) {
      struct json_object *n = json_object_array_get_idx(rn, j);
      if (!husk_strv_has(names, json_object_get_string(n)))
        json_object_array_add(left, json_object_get(n));
    }
    if (json_object_array_length(left) > 0) {
      json_object_object_add(rule, "names", left);
      json_object_array_add(kept, json_object_get(rule));
    } else {
      json_object_put(left);
    }
  }
  struct json_object *allow = json_object_new_object(), *an = json_object_new_array();
  for (; *names; names++)
    json_object_array_add(an, json_object_new_string(*names));
  json_object_object_add(allow, "names", an);
  json_object_object_add(allow, "action", json_object_new_string("SCMP_ACT_ALLOW"));
  json_object_array_add(kept, allow);
  json_object_object_add(profile, "syscalls", kept);
}

/* linux.seccomp: NULL for none (unconfined, or --privileged without a profile). */
static int seccomp_json(const husk_run_opts *o, uint64_t caps, struct json_object **out,
                        husk_err *err)
{
  *out = NULL;
  const char *s = o->seccomp;
  if ((s == NULL && o->privileged) || (s && strcmp(s, "unconfined") == 0))
    return 0;
  if (s) {
    if (*s == '\0')
      return husk_errorf_plain(err, EINVAL, "--security-opt seccomp=: give a file or unconfined");
    _cleanup_free_ char *txt = NULL;
    int r = husk_read_file_at(AT_FDCWD, s, &txt, NULL, err);
    if (r < 0)
      return husk_error_wrap(err, "--security-opt seccomp=%s", s);
    enum json_tokener_error jerr = json_tokener_success;
    *out = json_tokener_parse_verbose(txt, &jerr);
    if (*out == NULL || !json_object_is_type(*out, json_type_object)) {
      if (*out)
        json_object_put(*out);
      *out = NULL;
      return husk_errorf_plain(err, EINVAL, "--security-opt seccomp=%s: not a JSON object%s%s", s,
                               jerr != json_tokener_success ? ": " : "",
                               jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "");
    }
    return 0; /* a profile of the user's own is used as it is */
  }
  *out = json_tokener_parse(husk_seccomp_default_json);
  if (*out == NULL)
    return husk_errorf_plain(err, EINVAL, "the embedded default seccomp profile does not parse");
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(seccomp_by_cap); i++)
    if (caps & CAP_BIT(husk_cap_from_name(seccomp_by_cap[i].cap)))
      seccomp_allow(*out, seccomp_by_cap[i].names);
  return 0;
}

/* --privileged: no masked or readonly paths, /sys and /sys/fs/cgroup
 * writable, every device allowed by the device cgroup (the host's device
 * nodes are not created in /dev). */
static void privileged_json(struct json_object *root, struct json_object *lx)
{
  json_object_object_del(lx, "maskedPaths");
  json_object_object_del(lx, "readonlyPaths");
  struct json_object *res = get_obj(lx, "resources");
  struct json_object *devs = json_object_new_array(), *all = json_object_new_object();
  json_object_object_add(all, "allow", json_object_new_boolean(1));
  json_object_object_add(all, "access", json_object_new_string("rwm"));
  json_object_array_add(devs, all);
  json_object_object_add(res, "devices", devs);
  struct json_object *mounts = NULL;
  if (!json_object_object_get_ex(root, "mounts", &mounts))
    return;
  for (size_t i = 0; i < json_object_array_length(mounts); i++) {
    struct json_object *m = json_object_array_get_idx(mounts, i), *d = NULL, *opts = NULL;
    if (!json_object_object_get_ex(m, "destination", &d) ||
        !json_object_object_get_ex(m, "options", &opts) ||
        !json_object_is_type(opts, json_type_array))
      continue;
    const char *dst = json_object_get_string(d);
    if (strcmp(dst, "/sys") != 0 && strcmp(dst, "/sys/fs/cgroup") != 0)
      continue;
    struct json_object *left = json_object_new_array();
    for (size_t j = 0; j < json_object_array_length(opts); j++) {
      struct json_object *op = json_object_array_get_idx(opts, j);
      if (strcmp(json_object_get_string(op), "ro") != 0)
        json_object_array_add(left, json_object_get(op));
    }
    json_object_object_add(m, "options", left);
  }
}

static void jput(struct json_object **o)
{
  if (o && *o)
    json_object_put(*o);
}

int husk_pspec_build(const husk_spec_input *in, struct json_object **out, husk_err *err)
{
  const husk_run_opts *o = in->opts;
  const husk_image_config *img = in->image;
  _cleanup_free_ char *dflt = husk_spec_default_json(false);
  __attribute__((cleanup(jput))) struct json_object *root = json_tokener_parse(dflt);
  if (root == NULL)
    return husk_errorf_plain(err, EINVAL, "the default spec does not parse");

  /* the command */
  _cleanup_strv_ char **args = husk_pspec_args(o, img);
  if (args[0] == NULL)
    return husk_errorf_plain(err, EINVAL,
                             "no command specified: the image %s has no Cmd or Entrypoint, "
                             "give one after the image name",
                             o->image ? o->image : "");

  /* hostname */
  char short_id[HUSK_SHORT_ID_LEN + 1] = "";
  if (in->id)
    snprintf(short_id, sizeof(short_id), "%s", in->id);
  const char *hostname = o->hostname ? o->hostname : (short_id[0] ? short_id : "husk");
  if (*hostname == '\0' || strlen(hostname) > 64)
    return husk_errorf_plain(err, EINVAL, "--hostname \"%s\": must be 1 to 64 characters",
                             hostname);

  const char *cwd = o->workdir
                        ? o->workdir
                        : (img && img->working_dir && *img->working_dir ? img->working_dir : "/");
  if (cwd[0] != '/')
    return husk_errorf_plain(err, EINVAL, "working directory %s must be an absolute path", cwd);

  /* capabilities and the seccomp profile (flag errors before anything else) */
  uint64_t caps = 0;
  int r = caps_mask(o, &caps, err);
  if (r < 0)
    return r;
  __attribute__((cleanup(jput))) struct json_object *seccomp = NULL;
  if ((r = seccomp_json(o, caps, &seccomp, err)) < 0)
    return r;

  /* the user */
  const char *user = o->user ? o->user : (img && img->user && *img->user ? img->user : NULL);
  husk_puser pu;
  r = husk_user_resolve(in->rootfd, user, &pu, err);
  if (r < 0)
    return r;

  /* env: defaults, the image's, then the user's */
  _cleanup_strv_ char **env = husk_xcalloc(1, sizeof(char *));
  husk_env_set(&env, DEFAULT_PATH);
  _cleanup_free_ char *hn = husk_xasprintf("HOSTNAME=%s", hostname);
  husk_env_set(&env, hn);
  if (o->tty)
    husk_env_set(&env, "TERM=xterm");
  for (char **e = img ? img->env : NULL; e && *e; e++)
    husk_env_set(&env, *e);
  for (char **e = o->env; e && *e; e++)
    husk_env_set(&env, *e);
  if (!env_has(env, "HOME")) {
    _cleanup_free_ char *home = husk_xasprintf("HOME=%s", pu.home ? pu.home : "/");
    husk_env_set(&env, home);
  }

  struct json_object *proc = get_obj(root, "process");
  json_object_object_add(proc, "terminal", json_object_new_boolean(o->tty));
  if (o->tty)
    husk_proc_console_size(proc, o->console_rows, o->console_cols);
  json_object_object_add(proc, "user", husk_puser_json(&pu));
  husk_puser_clear(&pu);
  json_object_object_add(proc, "args", jstrv(args));
  json_object_object_add(proc, "env", jstrv(env));
  json_object_object_add(proc, "cwd", json_object_new_string(cwd));
  json_object_object_add(proc, "capabilities", caps_json(caps));
  json_object_object_del(proc, "rlimits");
  json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(o->no_new_privileges));

  struct json_object *jroot = get_obj(root, "root");
  json_object_object_add(jroot, "path", json_object_new_string(in->rootfs ? in->rootfs : "rootfs"));
  json_object_object_add(jroot, "readonly", json_object_new_boolean(o->read_only));
  json_object_object_add(root, "hostname", json_object_new_string(hostname));

  if ((r = build_mounts(root, in, err)) < 0)
    return r;

  struct json_object *lx = get_obj(root, "linux");
  build_resources(lx, o);
  build_namespaces(lx, in);
  if (seccomp)
    json_object_object_add(lx, "seccomp", husk_steal_ptr(seccomp));
  if (o->privileged)
    privileged_json(root, lx);

  struct json_object *ann = get_obj(root, "annotations");
  if (in->name)
    json_object_object_add(ann, "husk.name", json_object_new_string(in->name));
  if (o->image)
    json_object_object_add(ann, "husk.image", json_object_new_string(o->image));

  *out = husk_steal_ptr(root);
  return 0;
}
