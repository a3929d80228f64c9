/* The image store.  Layout under the data root:
 *
 *   blobs/sha256/<hex>      content-addressed blobs: configs, manifests, layer archives
 *   layers/<diffid hex>/    each layer unpacked once (overlay lowerdir); renamed into
 *                           place only when complete
 *   images/<config hex>.json  one image: manifest digest, layers (diff id, blob, size)
 *   repositories.json       {"refs": {"docker.io/library/busybox:latest": "sha256:<id>"}}
 *   holds/<container>       the image id a container runs (keeps it through rmi -f)
 *   tmp/                    staging of blobs and layers
 *   lock                    flock: exclusive while images/ or repositories.json change
 *   gc.lock                 flock: shared during a load/pull, exclusive for GC
 *
 * Only json-c and nettle's sha256 here: archives and HTTP live in husk-image. */
#include "image.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <nettle/sha2.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reference.h"
#include "util.h"

extern char **environ;

#define DEFAULT_DATA_ROOT "/var/lib/husk"
#define BUSYBOX_REF       "docker.io/library/busybox:latest"
#define BUSYBOX_PATH      "/bin/busybox"
#define DEFAULT_PATH_ENV  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct husk_store {
  char *root;
  int dirfd;
};

static void json_putp(json_object **o)
{
  if (o && *o) {
    json_object_put(*o);
    *o = NULL;
  }
}
#define _cleanup_json_ __attribute__((cleanup(json_putp)))

const char *husk_data_root(const char *flag_value)
{
  if (flag_value && *flag_value)
    return flag_value;
  const char *env = getenv("HUSK_DATA_ROOT");
  if (env && *env)
    return env;
  if (geteuid() == 0)
    return DEFAULT_DATA_ROOT;
  /* rootless: $XDG_DATA_HOME/husk, else ~/.local/share/husk */
  static char buf[4096];
  struct passwd *pw;
  const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
  if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(buf) - 8)
    snprintf(buf, sizeof(buf), "%s/husk", xdg);
  else if (home && home[0] == '/' && strlen(home) < sizeof(buf) - 24)
    snprintf(buf, sizeof(buf), "%s/.local/share/husk", home);
  else if ((pw = getpwuid(geteuid())) && pw->pw_dir && strlen(pw->pw_dir) < sizeof(buf) - 24)
    snprintf(buf, sizeof(buf), "%s/.local/share/husk", pw->pw_dir);
  else
    return DEFAULT_DATA_ROOT;
  return buf;
}

/* ---- sha256 ---- */

static void hex_encode(const uint8_t *d, size_t n, char *out)
{
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hx[d[i] >> 4];
    out[2 * i + 1] = hx[d[i] & 15];
  }
  out[2 * n] = '\0';
}

void husk_sha256_hex(const void *buf, size_t len, char out[HUSK_SHA256_HEX_LEN + 1])
{
  struct sha256_ctx c;
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_init(&c);
  sha256_update(&c, len, buf);
  sha256_digest(&c, sizeof(d), d);
  hex_encode(d, sizeof(d), out);
}

int husk_sha256_fd(int fd, char out[HUSK_SHA256_HEX_LEN + 1], uint64_t *size_out)
{
  struct sha256_ctx c;
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_init(&c);
  size_t cap = 1 << 20;
  _cleanup_free_ uint8_t *buf = husk_xmalloc(cap);
  uint64_t total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, cap);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (r == 0)
      break;
    sha256_update(&c, (size_t)r, buf);
    total += (uint64_t)r;
  }
  sha256_digest(&c, sizeof(d), d);
  hex_encode(d, sizeof(d), out);
  if (size_out)
    *size_out = total;
  return 0;
}

/* ---- small helpers ---- */

static const char *digest_hex(const char *digest)
{
  if (digest && strncmp(digest, "sha256:", 7) == 0)
    return digest + 7;
  return digest;
}

static int read_json_at(int dirfd, const char *path, json_object **out, husk_err *err)
{
  _cleanup_free_ char *buf = NULL;
  int r = husk_read_file_at(dirfd, path, &buf, NULL, err);
  if (r < 0)
    return r;
  json_tokener *tok = json_tokener_new();
  json_object *o = json_tokener_parse_ex(tok, buf, (int)strlen(buf));
  enum json_tokener_error je = json_tokener_get_error(tok);
  json_tokener_free(tok);
  if (o == NULL || je != json_tokener_success) {
    json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "parse %s: %s", path, json_tokener_error_desc(je));
  }
  *out = o;
  return 0;
}

static int write_json_at(int dirfd, const char *path, json_object *o, husk_err *err)
{
  const char *s =
      json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  /* the temp file must sit in the same directory as the file */
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    return husk_write_file_atomic(dirfd, path, s, strlen(s), err);
  _cleanup_free_ char *dir = husk_xasprintf("%.*s", (int)(slash - path), path);
  _cleanup_close_ int dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return husk_errorf(err, errno, "open %s", dir);
  return husk_write_file_atomic(dfd, slash + 1, s, strlen(s), err);
}

static const char *json_str(json_object *o, const char *key)
{
  json_object *v;
  if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  return NULL;
}

static char **json_strv(json_object *o, const char *key)
{
  json_object *v;
  if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_array))
    return NULL;
  size_t n = json_object_array_length(v);
  char **res = husk_xcalloc(n + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(v, i);
    if (json_object_is_type(e, json_type_string))
      res[k++] = husk_xstrdup(json_object_get_string(e));
  }
  return res;
}

static bool strv_contains(char *const *v, const char *s)
{
  for (size_t i = 0; v && v[i]; i++)
    if (strcmp(v[i], s) == 0)
      return true;
  return false;
}

static int lock_file(husk_store *s, const char *name, int op, husk_err *err)
{
  int fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s/%s", s->root, name);
  while (flock(fd, op) < 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      return -EWOULDBLOCK;
    return husk_errorf(err, e, "lock %s/%s", s->root, name);
  }
  return fd;
}

int husk_store_lock(husk_store *s, husk_err *err)
{
  return lock_file(s, "lock", LOCK_EX, err);
}

int husk_store_busy(husk_store *s, husk_err *err)
{
  return lock_file(s, "gc.lock", LOCK_SH, err);
}

/* ---- open / close ---- */

int husk_store_open(const char *data_root, husk_store **out, husk_err *err)
{
  const char *root = husk_data_root(data_root);
  if (root[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL)
      return husk_errorf(err, errno, "getcwd");
    _cleanup_free_ char *abs = husk_xasprintf("%s/%s", cwd, root);
    return husk_store_open(abs, out, err);
  }
  int r = husk_mkdir_p(AT_FDCWD, root, 0711, err);
  if (r < 0)
    return husk_error_wrap(err, "image store %s", root);
  _cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open image store %s", root);
  static const char *const dirs[] = {"blobs", "blobs/sha256", "layers", "images", "tmp", "holds"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dirs); i++)
    if (mkdirat(fd, dirs[i], i == 4 ? 0700 : 0711) < 0 && errno != EEXIST)
      return husk_errorf(err, errno, "mkdir %s/%s", root, dirs[i]);
  husk_store *s = husk_xcalloc(1, sizeof(*s));
  s->root = husk_xstrdup(root);
  /* drop a trailing slash so paths print nicely */
  size_t n = strlen(s->root);
  while (n > 1 && s->root[n - 1] == '/')
    s->root[--n] = '\0';
  s->dirfd = husk_steal_fd(fd);
  *out = s;
  return 0;
}

void husk_store_close(husk_store *s)
{
  if (s == NULL)
    return;
  if (s->dirfd >= 0)
    close(s->dirfd);
  free(s->root);
  free(s);
}

const char *husk_store_root(const husk_store *s)
{
  return s->root;
}

int husk_store_dirfd(const husk_store *s)
{
  return s->dirfd;
}

char *husk_store_blob_path(const husk_store *s, const char *digest)
{
  return husk_xasprintf("%s/blobs/sha256/%s", s->root, digest_hex(digest));
}

char *husk_store_layer_path(const husk_store *s, const char *diff_id)
{
  return husk_xasprintf("%s/layers/%s", s->root, digest_hex(diff_id));
}

bool husk_store_has_blob(const husk_store *s, const char *digest)
{
  if (!husk_hex64_valid(digest_hex(digest)))
    return false;
  char rel[128];
  snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(digest));
  struct stat st;
  return fstatat(s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

bool husk_store_has_layer(const husk_store *s, const char *diff_id)
{
  if (!husk_hex64_valid(digest_hex(diff_id)))
    return false;
  char rel[128];
  snprintf(rel, sizeof(rel), "layers/%s", digest_hex(diff_id));
  struct stat st;
  return fstatat(s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---- removing trees ---- */

static int remove_tree_fd(int parent, const char *name, husk_err *err)
{
  if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return husk_errorf(err, errno, "remove %s", name);
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return 0;
    return husk_errorf(err, errno, "open %s", name);
  }
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    return husk_errorf(err, e, "opendir %s", name);
  }
  int r = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    r = remove_tree_fd(dirfd(d), de->d_name, err);
    if (r < 0)
      break;
  }
  closedir(d);
  if (r < 0)
    return husk_error_wrap(err, "%s", name);
  if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "rmdir %s", name);
  return 0;
}

int husk_remove_tree(int parent, const char *path, husk_err *err)
{
  return remove_tree_fd(parent, path, err);
}

static uint64_t dir_size_fd(int fd)
{
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return 0;
  }
  uint64_t total = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    if (S_ISREG(st.st_mode))
      total += (uint64_t)st.st_size;
    else if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0)
        total += dir_size_fd(sub);
    }
  }
  closedir(d);
  return total;
}

uint64_t husk_layer_dir_size(int layer_fd)
{
  int fd = openat(layer_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  return dir_size_fd(fd);
}

/* ---- writing ---- */

int husk_store_mkdtemp(husk_store *s, const char *prefix, char **out, husk_err *err)
{
  char *path = husk_xasprintf("%s/tmp/%sXXXXXX", s->root, prefix);
  if (mkdtemp(path) == NULL) {
    int e = errno;
    free(path);
    return husk_errorf(err, e, "create a temporary directory in %s/tmp", s->root);
  }
  *out = path;
  return 0;
}

int husk_store_put_blob_file(husk_store *s, const char *path, const char *digest, husk_err *err)
{
  if (!husk_digest_valid(digest))
    return husk_errorf_plain(err, EINVAL, "bad digest %s", digest);
  char rel[128];
  snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(digest));
  if (husk_store_has_blob(s, digest)) {
    unlink(path);
    return 0;
  }
  if (chmod(path, 0644) < 0)
    return husk_errorf(err, errno, "chmod %s", path);
  if (renameat(AT_FDCWD, path, s->dirfd, rel) < 0)
    return husk_errorf(err, errno, "move %s into %s/%s", path, s->root, rel);
  return 0;
}

int husk_store_put_blob(husk_store *s, const void *data, size_t len, const char *digest,
                        char **digest_out, husk_err *err)
{
  char hex[HUSK_SHA256_HEX_LEN + 1];
  husk_sha256_hex(data, len, hex);
  if (digest && strcmp(digest_hex(digest), hex) != 0)
    return husk_errorf_plain(err, EINVAL, "digest mismatch: expected %s, content is sha256:%s",
                             digest, hex);
  _cleanup_free_ char *dg = husk_xasprintf("sha256:%s", hex);
  if (!husk_store_has_blob(s, dg)) {
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
    _cleanup_close_ int bfd = openat(s->dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bfd < 0)
      return husk_errorf(err, errno, "open %s/blobs/sha256", s->root);
    int r = husk_write_file_atomic(bfd, hex, data, len, err);
    if (r < 0)
      return r;
    fchmodat(bfd, hex, 0644, 0);
  }
  if (digest_out)
    *digest_out = husk_steal_ptr(dg);
  return 0;
}

int husk_store_put_layer_dir(husk_store *s, const char *dir, const char *diff_id, husk_err *err)
{
  if (!husk_digest_valid(diff_id))
    return husk_errorf_plain(err, EINVAL, "bad layer diff id %s", diff_id);
  char rel[128];
  snprintf(rel, sizeof(rel), "layers/%s", digest_hex(diff_id));
  /* the layer's files reach the disk before its name appears */
  _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    syncfs(fd);
  if (renameat(AT_FDCWD, dir, s->dirfd, rel) < 0) {
    int e = errno;
    if (e == EEXIST || e == ENOTEMPTY) {
      husk_err ignored;
      husk_remove_tree(AT_FDCWD, dir, &ignored);
      return 0; /* someone else unpacked it first */
    }
    return husk_errorf(err, e, "move layer %s into %s/%s", dir, s->root, rel);
  }
  return 0;
}

/* ---- references index ---- */

static int refs_read(husk_store *s, json_object **out, husk_err *err)
{
  json_object *o = NULL;
  int r = read_json_at(s->dirfd, "repositories.json", &o, err);
  if (r == -ENOENT) {
    o = json_object_new_object();
    json_object_object_add(o, "refs", json_object_new_object());
  } else if (r < 0) {
    return r;
  }
  json_object *refs;
  if (!json_object_object_get_ex(o, "refs", &refs) || !json_object_is_type(refs, json_type_object))
    json_object_object_add(o, "refs", json_object_new_object());
  *out = o;
  return 0;
}

static json_object *refs_map(json_object *root)
{
  json_object *refs = NULL;
  json_object_object_get_ex(root, "refs", &refs);
  return refs;
}

static int refs_write(husk_store *s, json_object *root, husk_err *err)
{
  return write_json_at(s->dirfd, "repositories.json", root, err);
}

static bool image_exists(husk_store *s, const char *hex)
{
  char rel[128];
  snprintf(rel, sizeof(rel), "images/%s.json", hex);
  return faccessat(s->dirfd, rel, F_OK, 0) == 0;
}

/* The key a parsed reference is stored under: repo:tag, or repo@digest when
 * a digest is given. */
static char *ref_key(const husk_ref *r)
{
  if (r->digest)
    return husk_xasprintf("%s/%s@%s", r->domain, r->path, r->digest);
  return husk_xasprintf("%s/%s:%s", r->domain, r->path, r->tag);
}

static bool is_lower_hex(const char *s)
{
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
      return false;
  return true;
}

/* The images/ directory of the store, for readdir. */
static int images_dir_open(husk_store *s, DIR **out, husk_err *err)
{
  _cleanup_close_ int fd = openat(s->dirfd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s/images", s->root);
  DIR *d = fdopendir(fd);
  if (d == NULL)
    return husk_errorf(err, errno, "opendir %s/images", s->root);
  fd = -1;
  *out = d;
  return 0;
}

/* Unique image id starting with prefix (hex). */
static int find_by_prefix(husk_store *s, const char *name, const char *prefix, char **id_out,
                          husk_err *err)
{
  DIR *d = NULL;
  int r = images_dir_open(s, &d, err);
  if (r < 0)
    return r;
  size_t plen = strlen(prefix);
  _cleanup_free_ char *found = NULL;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l != 64 + 5 || strcmp(de->d_name + 64, ".json") != 0)
      continue;
    if (strncmp(de->d_name, prefix, plen) == 0) {
      n++;
      free(found);
      found = husk_xasprintf("sha256:%.64s", de->d_name);
    }
  }
  closedir(d);
  if (n > 1)
    return husk_errorf_plain(err, EINVAL, "image id %s is ambiguous: it matches %d images", name,
                             n);
  if (n == 0)
    return husk_errorf_plain(err, ENOENT, "no such image: %s", name);
  *id_out = husk_steal_ptr(found);
  return 0;
}

static int resolve_in(husk_store *s, json_object *refs_root, const char *name, char **id_out,
                      char **key_out, husk_err *err)
{
  if (name == NULL || *name == '\0')
    return husk_errorf_plain(err, EINVAL, "empty image name");
  const char *hexpart = NULL;
  if (strncmp(name, "sha256:", 7) == 0)
    hexpart = name + 7;
  if (hexpart) {
    if (!is_lower_hex(hexpart) || strlen(hexpart) > 64)
      return husk_errorf_plain(err, EINVAL, "invalid image id %s", name);
    if (strlen(hexpart) == 64) {
      if (!image_exists(s, hexpart))
        return husk_errorf_plain(err, ENOENT, "no such image: %s", name);
      *id_out = husk_xstrdup(name);
      return 0;
    }
    return find_by_prefix(s, name, hexpart, id_out, err);
  }
  if (husk_hex64_valid(name) && image_exists(s, name)) {
    *id_out = husk_xasprintf("sha256:%s", name);
    return 0;
  }
  husk_ref ref;
  husk_err perr;
  int pr = husk_ref_parse(name, &ref, &perr);
  if (pr == 0) {
    _cleanup_free_ char *key = ref_key(&ref);
    husk_ref_free(&ref);
    json_object *v;
    if (json_object_object_get_ex(refs_map(refs_root), key, &v) &&
        json_object_is_type(v, json_type_string)) {
      const char *id = json_object_get_string(v);
      if (husk_digest_valid(id) && image_exists(s, id + 7)) {
        *id_out = husk_xstrdup(id);
        if (key_out)
          *key_out = husk_steal_ptr(key);
        return 0;
      }
    }
  }
  if (is_lower_hex(name) && strlen(name) >= 4 && strlen(name) <= 64) {
    int r = find_by_prefix(s, name, name, id_out, err);
    if (r != -ENOENT)
      return r;
  }
  if (pr < 0 && !is_lower_hex(name)) {
    *err = perr;
    return husk_error_ret(err);
  }
  return husk_errorf_plain(err, ENOENT, "no such image: %s", name);
}

int husk_image_resolve(husk_store *s, const char *name, char **id_out, husk_err *err)
{
  _cleanup_json_ json_object *refs = NULL;
  int r = refs_read(s, &refs, err);
  if (r < 0)
    return r;
  return resolve_in(s, refs, name, id_out, NULL, err);
}

/* ---- commit ---- */

static int commit_locked(husk_store *s, const husk_image_record *rec, husk_err *err)
{
  if (!husk_digest_valid(rec->config_digest))
    return husk_errorf_plain(err, EINVAL, "bad image id %s", rec->config_digest);
  if (!husk_store_has_blob(s, rec->config_digest))
    return husk_errorf_plain(err, ENOENT, "config blob %s is not in the store", rec->config_digest);
  const char *hex = digest_hex(rec->config_digest);
  char rel[128];
  snprintf(rel, sizeof(rel), "images/%s.json", hex);

  _cleanup_json_ json_object *old = NULL;
  husk_err ignored;
  read_json_at(s->dirfd, rel, &old, &ignored);

  _cleanup_json_ json_object *img = json_object_new_object();
  json_object_object_add(img, "id", json_object_new_string(rec->config_digest));
  const char *mdg = rec->manifest_digest ? rec->manifest_digest : json_str(old, "manifest_digest");
  if (mdg)
    json_object_object_add(img, "manifest_digest", json_object_new_string(mdg));
  json_object *layers = json_object_new_array();
  json_object_object_add(img, "layers", layers);
  uint64_t total = 0;
  for (size_t i = 0; i < rec->n_layers; i++) {
    const char *diff = rec->diff_ids[i];
    if (!husk_digest_valid(diff))
      return husk_errorf_plain(err, EINVAL, "bad layer diff id %s", diff ? diff : "(null)");
    if (!husk_store_has_layer(s, diff))
      return husk_errorf_plain(err, ENOENT, "layer %s is not unpacked in the store", diff);
    json_object *l = json_object_new_object();
    json_object_object_add(l, "diff_id", json_object_new_string(diff));
    if (rec->layer_digests && rec->layer_digests[i])
      json_object_object_add(l, "digest", json_object_new_string(rec->layer_digests[i]));
    uint64_t sz;
    if (rec->layer_sizes) {
      sz = rec->layer_sizes[i];
    } else {
      char lrel[128];
      snprintf(lrel, sizeof(lrel), "layers/%s", digest_hex(diff));
      _cleanup_close_ int lfd = openat(s->dirfd, lrel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      sz = lfd >= 0 ? husk_layer_dir_size(lfd) : 0;
    }
    json_object_object_add(l, "size", json_object_new_int64((int64_t)sz));
    total += sz;
    json_object_array_add(layers, l);
  }
  json_object_object_add(img, "size", json_object_new_int64((int64_t)total));
  char now[64];
  husk_rfc3339_now(now, sizeof(now));
  const char *added = json_str(old, "added");
  json_object_object_add(img, "added", json_object_new_string(added ? added : now));
  json_object_object_add(img, "last_tag_time", json_object_new_string(now));

  int r = write_json_at(s->dirfd, rel, img, err);
  if (r < 0)
    return r;

  if (rec->refs && rec->refs[0]) {
    _cleanup_json_ json_object *root = NULL;
    r = refs_read(s, &root, err);
    if (r < 0)
      return r;
    for (size_t i = 0; rec->refs[i]; i++)
      json_object_object_add(refs_map(root), rec->refs[i],
                             json_object_new_string(rec->config_digest));
    r = refs_write(s, root, err);
    if (r < 0)
      return r;
  }
  return 0;
}

int husk_store_commit_image(husk_store *s, const husk_image_record *rec, husk_err *err)
{
  _cleanup_close_ int lk = husk_store_lock(s, err);
  if (lk < 0)
    return lk;
  return commit_locked(s, rec, err);
}

/* ---- the embedded busybox image ---- */

struct tarbuf {
  char *data;
  size_t len, cap;
};

static void tar_reserve(struct tarbuf *t, size_t n)
{
  if (t->len + n > t->cap) {
    while (t->len + n > t->cap)
      t->cap = t->cap ? t->cap * 2 : 1 << 16;
    t->data = husk_xrealloc(t->data, t->cap);
  }
}

static void tar_octal(char *field, size_t width, uint64_t v)
{
  /* width-1 octal digits and a NUL */
  snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

static void tar_add(struct tarbuf *t, const char *name, char type, mode_t mode, const void *data,
                    size_t size, const char *link, time_t mtime)
{
  tar_reserve(t, 512 + size + 512);
  char *h = t->data + t->len;
  memset(h, 0, 512);
  snprintf(h, 100, "%s", name);
  tar_octal(h + 100, 8, mode & 07777);
  tar_octal(h + 108, 8, 0);
  tar_octal(h + 116, 8, 0);
  tar_octal(h + 124, 12, type == '0' ? size : 0);
  tar_octal(h + 136, 12, (uint64_t)mtime);
  h[156] = type;
  if (link)
    snprintf(h + 157, 100, "%s", link);
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  snprintf(h + 265, 32, "root");
  snprintf(h + 297, 32, "root");
  tar_octal(h + 329, 8, 0);
  tar_octal(h + 337, 8, 0);
  memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++)
    sum += (unsigned char)h[i];
  snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  t->len += 512;
  if (type == '0' && size) {
    memcpy(t->data + t->len, data, size);
    t->len += size;
    size_t pad = (512 - size % 512) % 512;
    memset(t->data + t->len, 0, pad);
    t->len += pad;
  }
}

struct bb_entry {
  char *name;
  char type; /* '5' dir, '0' file, '2' symlink */
  mode_t mode;
  const char *data;
  size_t size;
  char *link;
};

static bool elf_is_static(const char *buf, size_t len)
{
  if (len < sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0 || buf[EI_CLASS] != ELFCLASS64)
    return false;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
  for (size_t i = 0; i < eh->e_phnum; i++) {
    size_t off = eh->e_phoff + i * eh->e_phentsize;
    if (off + sizeof(Elf64_Phdr) > len)
      return false;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + off);
    if (ph->p_type == PT_INTERP)
      return false;
  }
  return true;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* `busybox --list`: the applet names, sorted. */
static int busybox_applets(const char *path, char ***out, husk_err *err)
{
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  char *argv[] = {(char *)path, (char *)"--list", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (rc != 0) {
    close(pfd[0]);
    return husk_errorf(err, rc, "run %s --list", path);
  }
  size_t cap = 1 << 16, len = 0;
  _cleanup_free_ char *buf = husk_xmalloc(cap);
  for (;;) {
    if (len + 1 >= cap)
      buf = husk_xrealloc(buf, cap *= 2);
    ssize_t r = read(pfd[0], buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  close(pfd[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return husk_errorf_plain(err, EIO, "%s --list failed", path);
  char **v = NULL;
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    if (*line == '\0' || strchr(line, '/') || strcmp(line, "busybox") == 0 ||
        strcmp(line, ".") == 0 || strcmp(line, "..") == 0 || strlen(line) > 90)
      continue;
    husk_strv_push(&v, line);
  }
  if (v == NULL)
    return husk_errorf_plain(err, EIO, "%s --list printed no applets", path);
  qsort(v, husk_strv_len(v), sizeof(char *), cmp_str);
  *out = v;
  return 0;
}

static const char *host_arch(void)
{
  struct utsname u;
  if (uname(&u) < 0)
    return "amd64";
  if (strcmp(u.machine, "x86_64") == 0)
    return "amd64";
  if (strcmp(u.machine, "aarch64") == 0)
    return "arm64";
  if (strncmp(u.machine, "arm", 3) == 0)
    return "arm";
  if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0)
    return "386";
  return "amd64";
}

/* Write the entries as a directory tree in dir (an empty temp dir). */
static int bb_populate(const char *dir, struct bb_entry *e, size_t n, time_t mtime, husk_err *err)
{
  _cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return husk_errorf(err, errno, "open %s", dir);
  struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
  for (size_t i = 0; i < n; i++) {
    const char *name = e[i].name;
    switch (e[i].type) {
    case '5':
      if (mkdirat(root, name, 0700) < 0)
        return husk_errorf(err, errno, "mkdir %s/%s", dir, name);
      break;
    case '0': {
      _cleanup_close_ int fd =
          openat(root, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return husk_errorf(err, errno, "create %s/%s", dir, name);
      int r = husk_write_all(fd, e[i].data, e[i].size);
      if (r < 0)
        return husk_errorf(err, -r, "write %s/%s", dir, name);
      break;
    }
    case '2':
      if (symlinkat(e[i].link, root, name) < 0)
        return husk_errorf(err, errno, "symlink %s/%s", dir, name);
      break;
    }
    if (fchownat(root, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
      return husk_errorf(err, errno, "chown %s/%s", dir, name);
    if (e[i].type != '2' && fchmodat(root, name, e[i].mode, 0) < 0)
      return husk_errorf(err, errno, "chmod %s/%s", dir, name);
    if (e[i].type != '5' && utimensat(root, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
      return husk_errorf(err, errno, "set times of %s/%s", dir, name);
  }
  /* directories last, deepest first, so creating children does not touch them */
  for (size_t i = n; i-- > 0;)
    if (e[i].type == '5' && utimensat(root, e[i].name, ts, AT_SYMLINK_NOFOLLOW) < 0)
      return husk_errorf(err, errno, "set times of %s/%s", dir, e[i].name);
  fchmod(root, 0755);
  utimensat(root, ".", ts, 0);
  return 0;
}

static int busybox_create_locked(husk_store *s, char **id_out, husk_err *err)
{
  const char *path = getenv("HUSK_BUSYBOX");
  if (path == NULL || *path == '\0')
    path = BUSYBOX_PATH;
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno,
                       "image busybox is not in the store and %s is missing (apt-get install "
                       "busybox-static, or husk pull busybox)",
                       path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return husk_errorf(err, errno, "stat %s", path);
  if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (64 << 20))
    return husk_errorf_plain(err, EINVAL, "%s is not a plausible busybox binary", path);
  size_t bsize = (size_t)st.st_size;
  _cleanup_free_ char *bin = husk_xmalloc(bsize);
  ssize_t got = 0;
  while ((size_t)got < bsize) {
    ssize_t r = pread(fd, bin + got, bsize - (size_t)got, got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return husk_errorf(err, r < 0 ? errno : EIO, "read %s", path);
    got += r;
  }
  if (!elf_is_static(bin, bsize))
    return husk_errorf_plain(err, EINVAL,
                             "%s is not a static executable: the embedded busybox image needs "
                             "busybox-static",
                             path);
  _cleanup_strv_ char **applets = NULL;
  int r = busybox_applets(path, &applets, err);
  if (r < 0)
    return r;

  time_t mtime = st.st_mtime;
  static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                               "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                               "nobody:x:65534:65534:nobody:/home:/bin/false\n";
  static const char group[] = "root:x:0:\n"
                              "daemon:x:1:\n"
                              "tty:x:5:\n"
                              "nogroup:x:65534:\n";
  static const struct {
    const char *name;
    mode_t mode;
  } dirs[] = {{"bin", 0755},     {"dev", 0755},     {"etc", 0755},      {"home", 0755},
              {"proc", 0555},    {"root", 0700},    {"sys", 0555},      {"tmp", 01777},
              {"usr", 0755},     {"usr/bin", 0755}, {"usr/sbin", 0755}, {"var", 0755},
              {"var/tmp", 01777}};
  size_t n_app = husk_strv_len(applets);
  size_t cap = HUSK_ARRAY_SIZE(dirs) + 3 + n_app;
  struct bb_entry *e = husk_xcalloc(cap, sizeof(*e));
  size_t n = 0;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(dirs); i++)
    e[n++] =
        (struct bb_entry){.name = husk_xstrdup(dirs[i].name), .type = '5', .mode = dirs[i].mode};
  e[n++] = (struct bb_entry){
      .name = husk_xstrdup("bin/busybox"), .type = '0', .mode = 0755, .data = bin, .size = bsize};
  for (size_t i = 0; i < n_app; i++)
    e[n++] = (struct bb_entry){.name = husk_xasprintf("bin/%s", applets[i]),
                               .type = '2',
                               .mode = 0777,
                               .link = husk_xstrdup("busybox")};
  e[n++] = (struct bb_entry){.name = husk_xstrdup("etc/group"),
                             .type = '0',
                             .mode = 0644,
                             .data = group,
                             .size = sizeof(group) - 1};
  e[n++] = (struct bb_entry){.name = husk_xstrdup("etc/passwd"),
                             .type = '0',
                             .mode = 0644,
                             .data = passwd,
                             .size = sizeof(passwd) - 1};

  struct tarbuf t = {0};
  for (size_t i = 0; i < n; i++) {
    _cleanup_free_ char *tname =
        e[i].type == '5' ? husk_xasprintf("%s/", e[i].name) : husk_xstrdup(e[i].name);
    tar_add(&t, tname, e[i].type, e[i].mode, e[i].data, e[i].size, e[i].link, mtime);
  }
  tar_reserve(&t, 1024);
  memset(t.data + t.len, 0, 1024);
  t.len += 1024;

  _cleanup_free_ char *layer_digest = NULL;
  _cleanup_free_ char *tmpdir = NULL;
  uint64_t layer_size = bsize + sizeof(group) - 1 + sizeof(passwd) - 1;
  r = husk_store_put_blob(s, t.data, t.len, NULL, &layer_digest, err);
  free(t.data);
  if (r >= 0 && !husk_store_has_layer(s, layer_digest)) {
    r = husk_store_mkdtemp(s, "busybox-", &tmpdir, err);
    if (r >= 0) {
      r = bb_populate(tmpdir, e, n, mtime, err);
      if (r >= 0)
        r = husk_store_put_layer_dir(s, tmpdir, layer_digest, err);
      if (r < 0) {
        husk_err ignored;
        husk_remove_tree(AT_FDCWD, tmpdir, &ignored);
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    free(e[i].name);
    free(e[i].link);
  }
  free(e);
  if (r < 0)
    return husk_error_wrap(err, "create the busybox image from %s", path);

  char created[64];
  struct tm tm;
  gmtime_r(&mtime, &tm);
  strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
  _cleanup_json_ json_object *cfg = json_object_new_object();
  json_object_object_add(cfg, "architecture", json_object_new_string(host_arch()));
  json_object *cc = json_object_new_object();
  json_object *env = json_object_new_array();
  json_object_array_add(env, json_object_new_string(DEFAULT_PATH_ENV));
  json_object_object_add(cc, "Env", env);
  json_object *cmd = json_object_new_array();
  json_object_array_add(cmd, json_object_new_string("sh"));
  json_object_object_add(cc, "Cmd", cmd);
  json_object_object_add(cfg, "config", cc);
  json_object_object_add(cfg, "created", json_object_new_string(created));
  json_object *h = json_object_new_array();
  json_object *h0 = json_object_new_object();
  json_object_object_add(h0, "created", json_object_new_string(created));
  _cleanup_free_ char *by = husk_xasprintf("husk: embedded busybox image from %s", path);
  json_object_object_add(h0, "created_by", json_object_new_string(by));
  json_object_array_add(h, h0);
  json_object_object_add(cfg, "history", h);
  json_object_object_add(cfg, "os", json_object_new_string("linux"));
  json_object *rootfs = json_object_new_object();
  json_object_object_add(rootfs, "type", json_object_new_string("layers"));
  json_object *diffs = json_object_new_array();
  json_object_array_add(diffs, json_object_new_string(layer_digest));
  json_object_object_add(rootfs, "diff_ids", diffs);
  json_object_object_add(cfg, "rootfs", rootfs);
  const char *cfg_s =
      json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  _cleanup_free_ char *cfg_digest = NULL;
  r = husk_store_put_blob(s, cfg_s, strlen(cfg_s), NULL, &cfg_digest, err);
  if (r < 0)
    return husk_error_wrap(err, "create the busybox image");

  const char *diff_ids[] = {layer_digest};
  const char *layer_digests[] = {layer_digest};
  uint64_t sizes[] = {layer_size};
  char *refs[] = {(char *)BUSYBOX_REF, NULL};
  husk_image_record rec = {.config_digest = cfg_digest,
                           .n_layers = 1,
                           .diff_ids = diff_ids,
                           .layer_digests = layer_digests,
                           .layer_sizes = sizes,
                           .refs = refs};
  r = commit_locked(s, &rec, err);
  if (r < 0)
    return husk_error_wrap(err, "create the busybox image");
  *id_out = husk_steal_ptr(cfg_digest);
  return 0;
}

static int busybox_create(husk_store *s, char **id_out, husk_err *err)
{
  _cleanup_close_ int busy = husk_store_busy(s, err);
  if (busy < 0)
    return busy;
  _cleanup_close_ int lk = husk_store_lock(s, err);
  if (lk < 0)
    return lk;
  /* someone may have made it while we waited for the lock */
  husk_err ignored;
  if (husk_image_resolve(s, BUSYBOX_REF, id_out, &ignored) == 0)
    return 0;
  return busybox_create_locked(s, id_out, err);
}

/* ---- reading an image ---- */

static int read_image_meta(husk_store *s, const char *id, json_object **out, husk_err *err)
{
  char rel[128];
  snprintf(rel, sizeof(rel), "images/%s.json", digest_hex(id));
  return read_json_at(s->dirfd, rel, out, err);
}

static int read_config(husk_store *s, const char *id, char **raw, json_object **out, husk_err *err)
{
  char rel[128];
  snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(id));
  _cleanup_free_ char *buf = NULL;
  int r = husk_read_file_at(s->dirfd, rel, &buf, NULL, err);
  if (r < 0)
    return husk_error_wrap(err, "image %s config", id);
  json_object *o = json_tokener_parse(buf);
  if (o == NULL || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "image %s: config is not a JSON object", id);
  }
  *out = o;
  if (raw)
    *raw = husk_steal_ptr(buf);
  return 0;
}

void husk_image_free(husk_image *img)
{
  if (img == NULL)
    return;
  free(img->id);
  free(img->reference);
  husk_strv_free(img->layers);
  husk_strv_free(img->config.entrypoint);
  husk_strv_free(img->config.cmd);
  husk_strv_free(img->config.env);
  free(img->config.working_dir);
  free(img->config.user);
  free(img->config.stop_signal);
  free(img->config_json);
  free(img->created);
  free(img);
}

static char *nonempty_dup(const char *s)
{
  return (s && *s) ? husk_xstrdup(s) : NULL;
}

static int load_image(husk_store *s, const char *id, husk_image **out, husk_err *err)
{
  _cleanup_json_ json_object *meta = NULL;
  int r = read_image_meta(s, id, &meta, err);
  if (r < 0)
    return husk_error_wrap(err, "image %s", id);
  _cleanup_json_ json_object *cfg = NULL;
  _cleanup_free_ char *raw = NULL;
  r = read_config(s, id, &raw, &cfg, err);
  if (r < 0)
    return r;
  husk_image *img = husk_xcalloc(1, sizeof(*img));
  img->id = husk_xstrdup(id);
  json_object *layers;
  size_t n = 0;
  if (json_object_object_get_ex(meta, "layers", &layers) &&
      json_object_is_type(layers, json_type_array))
    n = json_object_array_length(layers);
  img->layers = husk_xcalloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    const char *diff = json_str(json_object_array_get_idx(layers, i), "diff_id");
    if (!husk_digest_valid(diff) || !husk_store_has_layer(s, diff)) {
      husk_image_free(img);
      return husk_errorf_plain(err, ENOENT, "image %s: layer %s is missing from %s/layers", id,
                               diff ? diff : "(bad)", s->root);
    }
    img->layers[i] = husk_store_layer_path(s, diff);
  }
  img->n_layers = n;
  json_object *size;
  if (json_object_object_get_ex(meta, "size", &size))
    img->size = (unsigned long long)json_object_get_int64(size);
  json_object *cc = NULL;
  json_object_object_get_ex(cfg, "config", &cc);
  img->config.entrypoint = json_strv(cc, "Entrypoint");
  img->config.cmd = json_strv(cc, "Cmd");
  img->config.env = json_strv(cc, "Env");
  img->config.working_dir = nonempty_dup(json_str(cc, "WorkingDir"));
  img->config.user = nonempty_dup(json_str(cc, "User"));
  img->config.stop_signal = nonempty_dup(json_str(cc, "StopSignal"));
  img->created = nonempty_dup(json_str(cfg, "created"));
  img->config_json = husk_steal_ptr(raw);
  *out = img;
  return 0;
}

static bool is_busybox_name(const char *name)
{
  husk_ref r;
  husk_err e;
  if (husk_ref_parse(name, &r, &e) < 0)
    return false;
  bool yes = r.digest == NULL && strcmp(r.domain, "docker.io") == 0 &&
             strcmp(r.path, "library/busybox") == 0 && strcmp(r.tag, "latest") == 0;
  husk_ref_free(&r);
  return yes;
}

/* Read the references into *refs and resolve name with them (key_out as in
 * resolve_in).  With `busybox`, "busybox" that is not in the store yet is
 * created (*key_out BUSYBOX_REF) and *refs read again to include it. */
static int refs_resolve(husk_store *s, const char *name, bool busybox, json_object **refs,
                        char **id_out, char **key_out, husk_err *err)
{
  int r = refs_read(s, refs, err);
  if (r < 0)
    return r;
  r = resolve_in(s, *refs, name, id_out, key_out, err);
  if (r != -ENOENT || !busybox || !is_busybox_name(name))
    return r;
  if ((r = busybox_create(s, id_out, err)) < 0)
    return r;
  if (key_out)
    *key_out = husk_xstrdup(BUSYBOX_REF);
  json_object_put(*refs);
  *refs = NULL;
  return refs_read(s, refs, err);
}

int husk_image_get(husk_store *s, const char *ref, husk_image **out, husk_err *err)
{
  _cleanup_json_ json_object *refs = NULL;
  _cleanup_free_ char *id = NULL;
  _cleanup_free_ char *key = NULL;
  int r = refs_resolve(s, ref, true, &refs, &id, &key, err);
  if (r < 0)
    return r;
  husk_image *img = NULL;
  r = load_image(s, id, &img, err);
  if (r < 0)
    return r;
  if (key) {
    img->reference = husk_steal_ptr(key);
  } else {
    /* by id: the first tag pointing at it, if any */
    json_object_object_foreach(refs_map(refs), k, v)
    {
      if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), id) == 0 &&
          strchr(k, '@') == NULL) {
        img->reference = husk_xstrdup(k);
        break;
      }
    }
  }
  *out = img;
  return 0;
}

/* ---- listing ---- */

void husk_image_info_free(husk_image_info *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].id);
    husk_strv_free(v[i].repo_tags);
    husk_strv_free(v[i].repo_digests);
    free(v[i].created);
  }
  free(v);
}

/* Tags and digests pointing at id. */
static void refs_of(json_object *refs_root, const char *id, char ***tags, char ***digests)
{
  json_object_object_foreach(refs_map(refs_root), k, v)
  {
    if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), id) != 0)
      continue;
    if (strchr(k, '@'))
      husk_strv_push(digests, k);
    else
      husk_strv_push(tags, k);
  }
}

static int list_image_ids(husk_store *s, char ***out, husk_err *err)
{
  DIR *d = NULL;
  int r = images_dir_open(s, &d, err);
  if (r < 0)
    return r;
  char **ids = NULL;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strlen(de->d_name) != 69 || strcmp(de->d_name + 64, ".json") != 0)
      continue;
    char hex[65];
    memcpy(hex, de->d_name, 64);
    hex[64] = '\0';
    if (!husk_hex64_valid(hex))
      continue;
    _cleanup_free_ char *id = husk_xasprintf("sha256:%s", hex);
    husk_strv_push(&ids, id);
  }
  closedir(d);
  if (ids)
    qsort(ids, husk_strv_len(ids), sizeof(char *), cmp_str);
  *out = ids;
  return 0;
}

int husk_store_list(husk_store *s, husk_image_info **out, size_t *n_out, husk_err *err)
{
  _cleanup_json_ json_object *refs = NULL;
  int r = refs_read(s, &refs, err);
  if (r < 0)
    return r;
  _cleanup_strv_ char **ids = NULL;
  r = list_image_ids(s, &ids, err);
  if (r < 0)
    return r;
  size_t n = husk_strv_len(ids);
  husk_image_info *v = husk_xcalloc(n + 1, sizeof(*v));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    _cleanup_json_ json_object *meta = NULL;
    husk_err ignored;
    if (read_image_meta(s, ids[i], &meta, &ignored) < 0)
      continue; /* removed meanwhile */
    husk_image_info *in = &v[k++];
    in->id = husk_xstrdup(ids[i]);
    json_object *size;
    if (json_object_object_get_ex(meta, "size", &size))
      in->size = (uint64_t)json_object_get_int64(size);
    _cleanup_json_ json_object *cfg = NULL;
    if (read_config(s, ids[i], NULL, &cfg, &ignored) == 0)
      in->created = nonempty_dup(json_str(cfg, "created"));
    refs_of(refs, ids[i], &in->repo_tags, &in->repo_digests);
    if (in->repo_tags)
      qsort(in->repo_tags, husk_strv_len(in->repo_tags), sizeof(char *), cmp_str);
    if (in->repo_digests)
      qsort(in->repo_digests, husk_strv_len(in->repo_digests), sizeof(char *), cmp_str);
  }
  *out = v;
  *n_out = k;
  return 0;
}

/* ---- holds ---- */

static bool holder_valid(const char *h)
{
  if (h == NULL || *h == '\0' || strlen(h) > 200 || strcmp(h, ".") == 0 || strcmp(h, "..") == 0)
    return false;
  for (; *h; h++)
    if (*h == '/' || (unsigned char)*h < 0x20)
      return false;
  return true;
}

int husk_image_hold(husk_store *s, const char *image_id, const char *holder, husk_err *err)
{
  if (!holder_valid(holder))
    return husk_errorf_plain(err, EINVAL, "invalid image holder name %s", holder ? holder : "");
  if (!husk_digest_valid(image_id))
    return husk_errorf_plain(err, EINVAL, "invalid image id %s", image_id ? image_id : "");
  _cleanup_close_ int dfd = openat(s->dirfd, "holds", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return husk_errorf(err, errno, "open %s/holds", s->root);
  return husk_write_file_atomic(dfd, holder, image_id, strlen(image_id), err);
}

int husk_image_release(husk_store *s, const char *holder, husk_err *err)
{
  if (!holder_valid(holder))
    return husk_errorf_plain(err, EINVAL, "invalid image holder name %s", holder ? holder : "");
  _cleanup_close_ int dfd = openat(s->dirfd, "holds", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return husk_errorf(err, errno, "open %s/holds", s->root);
  if (unlinkat(dfd, holder, 0) < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "remove %s/holds/%s", s->root, holder);
  return 0;
}

/* holds: holder -> image id pairs; out gets the holders of image_id, or with
 * image_id NULL, every held image id. */
static int scan_holds(husk_store *s, const char *image_id, char ***out, husk_err *err)
{
  _cleanup_close_ int dfd = openat(s->dirfd, "holds", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return husk_errorf(err, errno, "open %s/holds", s->root);
  int dup_fd = dup(dfd);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  if (d == NULL) {
    if (dup_fd >= 0)
      close(dup_fd);
    return husk_errorf(err, errno, "opendir %s/holds", s->root);
  }
  char **v = husk_xcalloc(1, sizeof(char *));
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    _cleanup_free_ char *val = NULL;
    husk_err ignored;
    if (husk_read_file_at(dfd, de->d_name, &val, NULL, &ignored) < 0)
      continue;
    val[strcspn(val, "\n")] = '\0';
    if (image_id == NULL)
      husk_strv_push(&v, val);
    else if (strcmp(val, image_id) == 0)
      husk_strv_push(&v, de->d_name);
  }
  closedir(d);
  *out = v;
  return 0;
}

int husk_image_holders(husk_store *s, const char *image_id, char ***out, husk_err *err)
{
  return scan_holds(s, image_id, out, err);
}

/* ---- removal and GC ---- */

static int delete_image_meta(husk_store *s, const char *id, husk_err *err)
{
  char rel[128];
  snprintf(rel, sizeof(rel), "images/%s.json", digest_hex(id));
  if (unlinkat(s->dirfd, rel, 0) < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "remove %s/%s", s->root, rel);
  return 0;
}

static size_t count_tags(json_object *refs_root, const char *id)
{
  size_t n = 0;
  json_object_object_foreach(refs_map(refs_root), k, v)
  {
    if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), id) == 0 &&
        strchr(k, '@') == NULL)
      n++;
  }
  return n;
}

/* Remove every reference (tags and digests) pointing at id. */
static void untag_all(json_object *refs_root, const char *id, char ***untagged)
{
  _cleanup_strv_ char **keys = NULL;
  json_object_object_foreach(refs_map(refs_root), k, v)
  {
    if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), id) == 0)
      husk_strv_push(&keys, k);
  }
  for (size_t i = 0; keys && keys[i]; i++) {
    json_object_object_del(refs_map(refs_root), keys[i]);
    husk_strv_push(untagged, keys[i]);
  }
}

static char *short_id(const char *id)
{
  return husk_xasprintf("%.12s", digest_hex(id));
}

static int remove_locked(husk_store *s, const char *name, bool force, char ***untagged,
                         char ***deleted, husk_err *err)
{
  _cleanup_json_ json_object *refs = NULL;
  _cleanup_free_ char *id = NULL;
  _cleanup_free_ char *key = NULL;
  int r = refs_resolve(s, name, false, &refs, &id, &key, err);
  if (r < 0)
    return r;
  _cleanup_strv_ char **holders = NULL;
  r = scan_holds(s, id, &holders, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *sid = short_id(id);
  bool held = holders && holders[0];
  bool delete_image;

  if (key) {
    /* a reference: untag it; the image goes with its last tag */
    size_t tags = count_tags(refs, id);
    bool last = strchr(key, '@') != NULL ? tags == 0 : tags <= 1;
    if (last && held && !force)
      return husk_errorf_plain(err, EBUSY,
                               "conflict: unable to remove repository reference \"%s\" (must "
                               "force) - container %s is using its referenced image %s",
                               name, holders[0], sid);
    json_object_object_del(refs_map(refs), key);
    husk_strv_push(untagged, key);
    if (last)
      untag_all(refs, id, untagged); /* the digests of the image go with it */
    delete_image = last && !held;
  } else {
    size_t tags = count_tags(refs, id);
    if (tags > 1 && !force)
      return husk_errorf_plain(err, EBUSY,
                               "conflict: unable to delete %s (must be forced) - image is "
                               "referenced in multiple repositories",
                               sid);
    if (held && !force)
      return husk_errorf_plain(err, EBUSY,
                               "conflict: unable to delete %s (must be forced) - image is being "
                               "used by container %s",
                               sid, holders[0]);
    untag_all(refs, id, untagged);
    delete_image = !held;
  }
  r = refs_write(s, refs, err);
  if (r < 0)
    return r;
  if (delete_image) {
    r = delete_image_meta(s, id, err);
    if (r < 0)
      return r;
    husk_strv_push(deleted, id);
  }
  return 0;
}

int husk_image_remove(husk_store *s, const char *name, bool force, char ***untagged,
                      char ***deleted, husk_err *err)
{
  {
    _cleanup_close_ int lk = husk_store_lock(s, err);
    if (lk < 0)
      return lk;
    int r = remove_locked(s, name, force, untagged, deleted, err);
    if (r < 0)
      return r;
  }
  return husk_store_gc(s, err);
}

struct keep {
  char **blobs;
  char **layers;
};

static void keep_image(husk_store *s, const char *id, struct keep *k)
{
  husk_strv_push(&k->blobs, digest_hex(id));
  _cleanup_json_ json_object *meta = NULL;
  husk_err ignored;
  if (read_image_meta(s, id, &meta, &ignored) < 0)
    return;
  const char *m = json_str(meta, "manifest_digest");
  if (m)
    husk_strv_push(&k->blobs, digest_hex(m));
  json_object *layers;
  if (!json_object_object_get_ex(meta, "layers", &layers) ||
      !json_object_is_type(layers, json_type_array))
    return;
  for (size_t i = 0; i < json_object_array_length(layers); i++) {
    json_object *l = json_object_array_get_idx(layers, i);
    const char *d = json_str(l, "digest");
    const char *diff = json_str(l, "diff_id");
    if (d)
      husk_strv_push(&k->blobs, digest_hex(d));
    if (diff)
      husk_strv_push(&k->layers, digest_hex(diff));
  }
}

static int sweep(husk_store *s, const char *dir, char *const *keep, husk_err *err)
{
  _cleanup_close_ int fd = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s/%s", s->root, dir);
  int dup_fd = dup(fd);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  if (d == NULL) {
    if (dup_fd >= 0)
      close(dup_fd);
    return husk_errorf(err, errno, "opendir %s/%s", s->root, dir);
  }
  char **names = NULL;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (keep == NULL || !strv_contains(keep, de->d_name))
      husk_strv_push(&names, de->d_name);
  }
  closedir(d);
  int r = 0;
  for (size_t i = 0; names && names[i] && r == 0; i++)
    r = husk_remove_tree(fd, names[i], err);
  husk_strv_free(names);
  if (r < 0)
    return husk_error_wrap(err, "garbage collect %s/%s", s->root, dir);
  return 0;
}

int husk_store_gc(husk_store *s, husk_err *err)
{
  _cleanup_close_ int gc = lock_file(s, "gc.lock", LOCK_EX | LOCK_NB, err);
  if (gc == -EWOULDBLOCK)
    return 0; /* a load or pull is running: collect next time */
  if (gc < 0)
    return gc;
  _cleanup_close_ int lk = husk_store_lock(s, err);
  if (lk < 0)
    return lk;
  _cleanup_strv_ char **ids = NULL;
  int r = list_image_ids(s, &ids, err);
  if (r < 0)
    return r;
  struct keep k = {0};
  for (size_t i = 0; ids && ids[i]; i++)
    keep_image(s, ids[i], &k);
  r = sweep(s, "blobs/sha256", k.blobs, err);
  if (r >= 0)
    r = sweep(s, "layers", k.layers, err);
  if (r >= 0)
    r = sweep(s, "tmp", NULL, err);
  husk_strv_free(k.blobs);
  husk_strv_free(k.layers);
  return r;
}

/* ---- inspect ---- */

static json_object *familiar_array(char *const *v)
{
  json_object *a = json_object_new_array();
  for (size_t i = 0; v && v[i]; i++) {
    _cleanup_free_ char *f = husk_ref_familiar(v[i]);
    json_object_array_add(a, json_object_new_string(f));
  }
  return a;
}

static json_object *copy_or_null(json_object *o, const char *key)
{
  json_object *v = NULL;
  if (o && json_object_object_get_ex(o, key, &v) && v) {
    json_object *c = NULL;
    if (json_object_deep_copy(v, &c, NULL) == 0)
      return c;
  }
  return NULL;
}

int husk_image_inspect_json(husk_store *s, const char *name, char **json_out, husk_err *err)
{
  _cleanup_json_ json_object *refs = NULL;
  _cleanup_free_ char *id = NULL;
  int r = refs_resolve(s, name, true, &refs, &id, NULL, err);
  if (r < 0)
    return r;
  _cleanup_json_ json_object *meta = NULL;
  r = read_image_meta(s, id, &meta, err);
  if (r < 0)
    return r;
  _cleanup_json_ json_object *cfg = NULL;
  r = read_config(s, id, NULL, &cfg, err);
  if (r < 0)
    return r;
  _cleanup_strv_ char **tags = NULL;
  _cleanup_strv_ char **digests = NULL;
  refs_of(refs, id, &tags, &digests);
  if (tags)
    qsort(tags, husk_strv_len(tags), sizeof(char *), cmp_str);
  if (digests)
    qsort(digests, husk_strv_len(digests), sizeof(char *), cmp_str);

  _cleanup_json_ json_object *o = json_object_new_object();
  json_object_object_add(o, "Id", json_object_new_string(id));
  json_object_object_add(o, "RepoTags", familiar_array(tags));
  json_object_object_add(o, "RepoDigests", familiar_array(digests));
  json_object_object_add(o, "Parent", json_object_new_string(""));
  const char *comment = json_str(cfg, "comment");
  json_object_object_add(o, "Comment", json_object_new_string(comment ? comment : ""));
  const char *created = json_str(cfg, "created");
  json_object_object_add(o, "Created", json_object_new_string(created ? created : ""));
  const char *author = json_str(cfg, "author");
  json_object_object_add(o, "Author", json_object_new_string(author ? author : ""));
  json_object *c = copy_or_null(cfg, "config");
  json_object_object_add(o, "Config", c ? c : json_object_new_object());
  const char *arch = json_str(cfg, "architecture");
  json_object_object_add(o, "Architecture", json_object_new_string(arch ? arch : ""));
  const char *variant = json_str(cfg, "variant");
  if (variant)
    json_object_object_add(o, "Variant", json_object_new_string(variant));
  const char *os = json_str(cfg, "os");
  json_object_object_add(o, "Os", json_object_new_string(os ? os : ""));
  json_object *size = NULL;
  json_object_object_get_ex(meta, "size", &size);
  json_object_object_add(o, "Size", json_object_new_int64(size ? json_object_get_int64(size) : 0));
  const char *mdg = json_str(meta, "manifest_digest");
  if (mdg)
    json_object_object_add(o, "ManifestDigest", json_object_new_string(mdg));

  json_object *layers = NULL;
  json_object_object_get_ex(meta, "layers", &layers);
  json_object *diff_ids = json_object_new_array();
  json_object *dirs = json_object_new_array();
  size_t nl =
      layers && json_object_is_type(layers, json_type_array) ? json_object_array_length(layers) : 0;
  for (size_t i = 0; i < nl; i++) {
    const char *diff = json_str(json_object_array_get_idx(layers, i), "diff_id");
    if (diff == NULL)
      continue;
    json_object_array_add(diff_ids, json_object_new_string(diff));
    _cleanup_free_ char *p = husk_store_layer_path(s, diff);
    json_object_array_add(dirs, json_object_new_string(p));
  }
  json_object *rootfs = json_object_new_object();
  json_object_object_add(rootfs, "Type", json_object_new_string("layers"));
  json_object_object_add(rootfs, "Layers", diff_ids);
  json_object_object_add(o, "RootFS", rootfs);
  json_object *gd = json_object_new_object();
  json_object_object_add(gd, "Name", json_object_new_string("overlay"));
  json_object *gdd = json_object_new_object();
  json_object_object_add(gdd, "LayerDirs", dirs);
  json_object_object_add(gd, "Data", gdd);
  json_object_object_add(o, "GraphDriver", gd);
  json_object *hist = copy_or_null(cfg, "history");
  if (hist)
    json_object_object_add(o, "History", hist);
  json_object *md = json_object_new_object();
  const char *ltt = json_str(meta, "last_tag_time");
  json_object_object_add(md, "LastTagTime", json_object_new_string(ltt ? ltt : ""));
  json_object_object_add(o, "Metadata", md);
  _cleanup_strv_ char **holders = NULL;
  husk_err ignored;
  if (scan_holds(s, id, &holders, &ignored) == 0) {
    json_object *ha = json_object_new_array();
    for (size_t i = 0; holders && holders[i]; i++)
      json_object_array_add(ha, json_object_new_string(holders[i]));
    json_object_object_add(o, "Containers", ha);
  }
  *json_out = husk_xstrdup(json_object_to_json_string_ext(
      o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
  return 0;
}
