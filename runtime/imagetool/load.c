/* `husk load`: docker-archive (manifest.json, config, layer tars) and OCI
 * archives (oci-layout, index.json, blobs/sha256).  The archive is unpacked
 * into a private temp dir of the store, every file in it is then opened with
 * RESOLVE_IN_ROOT, every digest that the archive states is verified, and the
 * config's diff ids are checked against the unpacked layers. */
#include "imagetool.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reference.h"
#include "util.h"

#define MAX_JSON (16u << 20)

struct img_src {
  char *config_path;
  char *config_digest; /* expected, or NULL */
  char *manifest_digest;
  size_t n;
  char **layer_paths;
  char **layer_digests; /* expected (entries may be NULL) */
  char **refs;          /* normalized */
};

static void img_src_free(struct img_src *m)
{
  free(m->config_path);
  free(m->config_digest);
  free(m->manifest_digest);
  for (size_t i = 0; i < m->n; i++) {
    free(m->layer_paths[i]);
    free(m->layer_digests[i]);
  }
  free(m->layer_paths);
  free(m->layer_digests);
  husk_strv_free(m->refs);
  memset(m, 0, sizeof(*m));
}

/* ---- shared with registry.c (imagetool.h) ---- */

void husk_it_jsonp(struct json_object **o)
{
  if (o && *o) {
    json_object_put(*o);
    *o = NULL;
  }
}

const char *husk_it_jstr(struct json_object *o, const char *key)
{
  json_object *v;
  if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
    return json_object_get_string(v);
  return NULL;
}

struct json_object *husk_it_jarr(struct json_object *o, const char *key)
{
  json_object *v;
  if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array))
    return v;
  return NULL;
}

static int parse_json(const char *buf, size_t len, const char *what, json_object **out,
                      husk_err *err)
{
  json_tokener *tok = json_tokener_new();
  json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
  enum json_tokener_error je = json_tokener_get_error(tok);
  json_tokener_free(tok);
  if (o == NULL || je != json_tokener_success) {
    json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "%s is not valid JSON: %s", what,
                             json_tokener_error_desc(je));
  }
  *out = o;
  return 0;
}

/* Hash a file of the archive, check it, and link (or copy) it into blobs/. */
static int import_blob(husk_store *s, int rootfd, const char *path, const char *expected,
                       char **digest_out, husk_err *err)
{
  _cleanup_close_ int fd = husk_open_in_root(rootfd, path, err);
  if (fd < 0)
    return fd;
  char hex[65];
  int r = husk_sha256_fd(fd, hex, NULL);
  if (r < 0)
    return husk_errorf(err, -r, "read %s", path);
  _cleanup_free_ char *digest = husk_xasprintf("sha256:%s", hex);
  if (expected && strcmp(expected, digest) != 0)
    return husk_errorf_plain(err, EINVAL, "%s: digest mismatch: expected %s, content is %s", path,
                             expected, digest);
  if (!husk_store_has_blob(s, digest)) {
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    char rel[128];
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
    if (linkat(AT_FDCWD, proc, husk_store_dirfd(s), rel, AT_SYMLINK_FOLLOW) < 0 &&
        errno != EEXIST) {
      /* no hard link possible: copy through a temp file */
      _cleanup_free_ char *tmp = husk_xasprintf("%s/tmp/blob-%s", husk_store_root(s), hex);
      _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out < 0)
        return husk_errorf(err, errno, "create %s", tmp);
      if (lseek(fd, 0, SEEK_SET) < 0)
        return husk_errorf(err, errno, "seek %s", path);
      char buf[1 << 16];
      for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0)
          return husk_errorf(err, errno, "read %s", path);
        if (n == 0)
          break;
        r = husk_write_all(out, buf, (size_t)n);
        if (r < 0)
          return husk_errorf(err, -r, "write %s", tmp);
      }
      r = husk_store_put_blob_file(s, tmp, digest, err);
      if (r < 0)
        return r;
    }
  }
  *digest_out = husk_steal_ptr(digest);
  return 0;
}

static int import_image(husk_store *s, int rootfd, struct img_src *m, FILE *out, husk_err *err)
{
  _cleanup_free_ char *cfg = NULL;
  size_t cfg_len = 0;
  int r = husk_read_in_root(rootfd, m->config_path, MAX_JSON, &cfg, &cfg_len, err);
  if (r < 0)
    return husk_error_wrap(err, "image config");
  _cleanup_free_ char *config_digest = NULL;
  r = husk_store_put_blob(s, cfg, cfg_len, m->config_digest, &config_digest, err);
  if (r < 0)
    return husk_error_wrap(err, "image config %s", m->config_path);
  _cleanup_json_ json_object *cj = NULL;
  r = parse_json(cfg, cfg_len, m->config_path, &cj, err);
  if (r < 0)
    return r;
  json_object *rootfs = NULL;
  json_object_object_get_ex(cj, "rootfs", &rootfs);
  json_object *diffs = husk_it_jarr(rootfs, "diff_ids");
  size_t nd = diffs ? json_object_array_length(diffs) : 0;
  if (nd != m->n)
    return husk_errorf_plain(err, EINVAL,
                             "image %s: the config lists %zu layers (rootfs.diff_ids), the "
                             "manifest %zu",
                             config_digest, nd, m->n);
  const char **diff_ids = husk_xcalloc(nd + 1, sizeof(char *));
  char **blob_digests = husk_xcalloc(nd + 1, sizeof(char *));
  uint64_t *sizes = husk_xcalloc(nd + 1, sizeof(uint64_t));
  for (size_t i = 0; i < nd && r >= 0; i++) {
    json_object *d = json_object_array_get_idx(diffs, i);
    diff_ids[i] = json_object_is_type(d, json_type_string) ? json_object_get_string(d) : NULL;
    if (!husk_digest_valid(diff_ids[i])) {
      r = husk_errorf_plain(err, EINVAL, "image %s: bad diff id in config", config_digest);
      break;
    }
    r = import_blob(s, rootfd, m->layer_paths[i], m->layer_digests[i], &blob_digests[i], err);
    if (r < 0) {
      husk_error_wrap(err, "layer %zu", i + 1);
      break;
    }
    _cleanup_free_ char *bp = husk_store_blob_path(s, blob_digests[i]);
    r = husk_layer_unpack(s, bp, diff_ids[i], &sizes[i], err);
  }
  if (r >= 0) {
    husk_image_record rec = {.config_digest = config_digest,
                             .manifest_digest = m->manifest_digest,
                             .n_layers = nd,
                             .diff_ids = diff_ids,
                             .layer_digests = (const char *const *)blob_digests,
                             .layer_sizes = sizes,
                             .refs = m->refs};
    r = husk_store_commit_image(s, &rec, err);
  }
  free(diff_ids);
  for (size_t i = 0; i < nd; i++)
    free(blob_digests[i]);
  free(blob_digests);
  free(sizes);
  if (r < 0)
    return r;
  if (out) {
    if (m->refs && m->refs[0]) {
      for (size_t i = 0; m->refs[i]; i++) {
        if (strchr(m->refs[i], '@'))
          continue;
        _cleanup_free_ char *f = husk_ref_familiar(m->refs[i]);
        fprintf(out, "Loaded image: %s\n", f);
      }
    } else {
      fprintf(out, "Loaded image ID: %s\n", config_digest);
    }
  }
  return 0;
}

/* A name from the archive, normalized, or NULL when it is not a name. */
static char *normalize_name(const char *name, husk_err *err)
{
  husk_ref r;
  if (husk_ref_parse(name, &r, err) < 0)
    return NULL;
  char *s = husk_ref_string(&r);
  husk_ref_free(&r);
  return s;
}

/* docker-archive: "<hex>.json" or "blobs/sha256/<hex>" tell the digest */
static char *digest_from_path(const char *path)
{
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char hex[65];
  if (strlen(base) == 64 + 5 && strcmp(base + 64, ".json") == 0) {
    memcpy(hex, base, 64);
    hex[64] = '\0';
  } else if (strlen(base) == 64 && strstr(path, "sha256/")) {
    memcpy(hex, base, 65);
  } else {
    return NULL;
  }
  return husk_hex64_valid(hex) ? husk_xasprintf("sha256:%s", hex) : NULL;
}

static int load_docker_archive(husk_store *s, int rootfd, FILE *out, husk_err *err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = husk_read_in_root(rootfd, "manifest.json", MAX_JSON, &buf, &len, err);
  if (r < 0)
    return r;
  _cleanup_json_ json_object *man = NULL;
  r = parse_json(buf, len, "manifest.json", &man, err);
  if (r < 0)
    return r;
  if (!json_object_is_type(man, json_type_array) || json_object_array_length(man) == 0)
    return husk_errorf_plain(err, EINVAL, "manifest.json lists no images");
  for (size_t i = 0; i < json_object_array_length(man); i++) {
    json_object *e = json_object_array_get_idx(man, i);
    const char *config = husk_it_jstr(e, "Config");
    json_object *layers = husk_it_jarr(e, "Layers");
    if (config == NULL || layers == NULL)
      return husk_errorf_plain(err, EINVAL, "manifest.json entry %zu has no Config or Layers",
                               i + 1);
    struct img_src m = {0};
    m.config_path = husk_xstrdup(config);
    m.config_digest = digest_from_path(config);
    m.n = json_object_array_length(layers);
    m.layer_paths = husk_xcalloc(m.n + 1, sizeof(char *));
    m.layer_digests = husk_xcalloc(m.n + 1, sizeof(char *));
    for (size_t k = 0; k < m.n; k++) {
      json_object *l = json_object_array_get_idx(layers, k);
      if (!json_object_is_type(l, json_type_string)) {
        img_src_free(&m);
        return husk_errorf_plain(err, EINVAL, "manifest.json: bad layer entry");
      }
      m.layer_paths[k] = husk_xstrdup(json_object_get_string(l));
      m.layer_digests[k] = digest_from_path(m.layer_paths[k]);
    }
    json_object *tags = husk_it_jarr(e, "RepoTags");
    for (size_t k = 0; tags && k < json_object_array_length(tags); k++) {
      json_object *t = json_object_array_get_idx(tags, k);
      if (!json_object_is_type(t, json_type_string))
        continue;
      char *n = normalize_name(json_object_get_string(t), err);
      if (n == NULL) {
        img_src_free(&m);
        return husk_error_wrap(err, "manifest.json RepoTags");
      }
      husk_strv_push(&m.refs, n);
      free(n);
    }
    r = import_image(s, rootfd, &m, out, err);
    img_src_free(&m);
    if (r < 0)
      return r;
  }
  return 0;
}

/* ---- OCI ---- */

static bool is_index_type(const char *mt)
{
  return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static int read_oci_blob(int rootfd, const char *digest, char **out, size_t *len, husk_err *err)
{
  if (!husk_digest_valid(digest))
    return husk_errorf_plain(err, EINVAL, "bad digest \"%s\" in the OCI layout",
                             digest ? digest : "");
  _cleanup_free_ char *path = husk_xasprintf("blobs/sha256/%s", digest + 7);
  _cleanup_free_ char *buf = NULL;
  int r = husk_read_in_root(rootfd, path, MAX_JSON, &buf, len, err);
  if (r < 0)
    return r;
  char hex[65];
  husk_sha256_hex(buf, *len, hex);
  if (strcmp(hex, digest + 7) != 0)
    return husk_errorf_plain(err, EINVAL, "%s: digest mismatch (content is sha256:%s)", path, hex);
  *out = husk_steal_ptr(buf);
  return 0;
}

static bool platform_matches(json_object *desc, const char *arch)
{
  json_object *p = NULL;
  if (!json_object_object_get_ex(desc, "platform", &p))
    return false;
  const char *os = husk_it_jstr(p, "os");
  const char *a = husk_it_jstr(p, "architecture");
  return os && a && strcmp(os, "linux") == 0 && strcmp(a, arch) == 0;
}

static char *descriptor_name(json_object *desc, husk_err *err)
{
  json_object *ann = NULL;
  json_object_object_get_ex(desc, "annotations", &ann);
  const char *full = husk_it_jstr(ann, "io.containerd.image.name");
  if (full)
    return normalize_name(full, err);
  const char *name = husk_it_jstr(ann, "org.opencontainers.image.ref.name");
  /* a bare tag ("latest") names no repository: the image is loaded untagged */
  if (name && (strchr(name, ':') || strchr(name, '/') || strchr(name, '@')))
    return normalize_name(name, err);
  return NULL;
}

static int load_oci_descriptor(husk_store *s, int rootfd, json_object *desc, const char *name,
                               int depth, FILE *out, husk_err *err)
{
  if (depth > 4)
    return husk_errorf_plain(err, ELOOP, "OCI index nested too deeply");
  const char *digest = husk_it_jstr(desc, "digest");
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = read_oci_blob(rootfd, digest, &buf, &len, err);
  if (r < 0)
    return r;
  _cleanup_json_ json_object *doc = NULL;
  r = parse_json(buf, len, digest, &doc, err);
  if (r < 0)
    return r;
  const char *mt = husk_it_jstr(desc, "mediaType");
  if (mt == NULL)
    mt = husk_it_jstr(doc, "mediaType");
  if (is_index_type(mt) || (mt == NULL && husk_it_jarr(doc, "manifests"))) {
    json_object *ms = husk_it_jarr(doc, "manifests");
    const char *arch = husk_host_platform_arch();
    json_object *pick = NULL;
    size_t n = ms ? json_object_array_length(ms) : 0;
    for (size_t i = 0; i < n && pick == NULL; i++)
      if (platform_matches(json_object_array_get_idx(ms, i), arch))
        pick = json_object_array_get_idx(ms, i);
    if (pick == NULL && n == 1)
      pick = json_object_array_get_idx(ms, 0);
    if (pick == NULL)
      return husk_errorf_plain(err, ENOENT, "no linux/%s image in the index %s", arch, digest);
    return load_oci_descriptor(s, rootfd, pick, name, depth + 1, out, err);
  }
  json_object *config = NULL;
  json_object_object_get_ex(doc, "config", &config);
  json_object *layers = husk_it_jarr(doc, "layers");
  if (config == NULL || layers == NULL)
    return husk_errorf_plain(err, EINVAL, "manifest %s has no config or layers", digest);
  const char *cd = husk_it_jstr(config, "digest");
  if (!husk_digest_valid(cd))
    return husk_errorf_plain(err, EINVAL, "manifest %s: bad config digest", digest);
  /* keep the manifest as a blob: its digest is the image's repo digest */
  r = husk_store_put_blob(s, buf, len, digest, NULL, err);
  if (r < 0)
    return r;
  struct img_src m = {0};
  m.config_path = husk_xasprintf("blobs/sha256/%s", cd + 7);
  m.config_digest = husk_xstrdup(cd);
  m.manifest_digest = husk_xstrdup(digest);
  m.n = json_object_array_length(layers);
  m.layer_paths = husk_xcalloc(m.n + 1, sizeof(char *));
  m.layer_digests = husk_xcalloc(m.n + 1, sizeof(char *));
  for (size_t k = 0; k < m.n; k++) {
    const char *ld = husk_it_jstr(json_object_array_get_idx(layers, k), "digest");
    if (!husk_digest_valid(ld)) {
      img_src_free(&m);
      return husk_errorf_plain(err, EINVAL, "manifest %s: bad layer digest", digest);
    }
    m.layer_paths[k] = husk_xasprintf("blobs/sha256/%s", ld + 7);
    m.layer_digests[k] = husk_xstrdup(ld);
  }
  if (name)
    husk_strv_push(&m.refs, name);
  r = import_image(s, rootfd, &m, out, err);
  img_src_free(&m);
  return r;
}

static int load_oci_archive(husk_store *s, int rootfd, FILE *out, husk_err *err)
{
  _cleanup_free_ char *layout = NULL;
  size_t len = 0;
  int r = husk_read_in_root(rootfd, "oci-layout", 4096, &layout, &len, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *buf = NULL;
  r = husk_read_in_root(rootfd, "index.json", MAX_JSON, &buf, &len, err);
  if (r < 0)
    return r;
  _cleanup_json_ json_object *idx = NULL;
  r = parse_json(buf, len, "index.json", &idx, err);
  if (r < 0)
    return r;
  json_object *ms = husk_it_jarr(idx, "manifests");
  if (ms == NULL || json_object_array_length(ms) == 0)
    return husk_errorf_plain(err, EINVAL, "index.json lists no images");
  for (size_t i = 0; i < json_object_array_length(ms); i++) {
    json_object *d = json_object_array_get_idx(ms, i);
    husk_err nerr = {0};
    _cleanup_free_ char *name = descriptor_name(d, &nerr);
    if (name == NULL && nerr.code) {
      *err = nerr;
      return husk_error_wrap(err, "index.json annotation");
    }
    r = load_oci_descriptor(s, rootfd, d, name, 0, out, err);
    if (r < 0)
      return r;
  }
  return 0;
}

int husk_image_load(husk_store *s, const char *path, FILE *out, husk_err *err)
{
  _cleanup_close_ int busy = husk_store_busy(s, err);
  if (busy < 0)
    return busy;
  _cleanup_close_ int fd = -1;
  if (path == NULL || strcmp(path, "-") == 0) {
    if (isatty(0))
      return husk_errorf_plain(err, EINVAL,
                               "load: no input: give -i FILE or pipe an archive to stdin");
    fd = dup(0);
  } else {
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", path ? path : "stdin");
  _cleanup_free_ char *tmp = NULL;
  int r = husk_store_mkdtemp(s, "load-", &tmp, err);
  if (r < 0)
    return r;
  husk_extract_opts o = {.layer = false};
  r = husk_extract_fd(fd, tmp, &o, NULL, NULL, err);
  if (r < 0) {
    husk_error_wrap(err, "read image archive %s", path ? path : "stdin");
  } else {
    _cleanup_close_ int rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
      r = husk_errorf(err, errno, "open %s", tmp);
    else if (faccessat(rootfd, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
      r = load_docker_archive(s, rootfd, out, err);
    else if (faccessat(rootfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
      r = load_oci_archive(s, rootfd, out, err);
    else
      r = husk_errorf_plain(err, EINVAL,
                            "%s is neither a docker-archive (no manifest.json) nor an OCI archive "
                            "(no index.json)",
                            path ? path : "stdin");
  }
  husk_err ignored;
  husk_remove_tree(AT_FDCWD, tmp, &ignored);
  return r;
}
