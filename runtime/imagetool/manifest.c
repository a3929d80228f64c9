/* Image metadata parsers of husk-image (manifest.h): pure functions from bytes
 * to validated structs, shared by `husk load` (load.c) and `husk pull`
 * (registry.c), fuzzed by fuzz/fuzz_manifest.c. */
#include "manifest.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reference.h"
#include "util.h"

/* ---- JSON helpers (declared in imagetool.h) ---- */

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

static char *jstr_dup(json_object *o, const char *key)
{
  const char *s = husk_it_jstr(o, key);
  return s ? husk_xstrdup(s) : NULL;
}

int husk_json_parse(const char *buf, size_t len, const char *what, struct json_object **out,
                    husk_err *err)
{
  if (len > INT_MAX)
    return husk_errorf_plain(err, EFBIG, "%s is too large", what);
  json_tokener *tok = json_tokener_new();
  if (tok == NULL)
    return husk_errorf_plain(err, ENOMEM, "%s: out of memory", what);
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

/* ---- import plans ---- */

void husk_archive_image_free(husk_archive_image *m)
{
  if (m == NULL)
    return;
  free(m->config_path);
  free(m->config_digest);
  free(m->manifest_digest);
  for (size_t i = 0; i < m->n_layers; i++) {
    free(m->layer_paths[i]);
    free(m->layer_digests[i]);
  }
  free(m->layer_paths);
  free(m->layer_digests);
  husk_strv_free(m->refs);
  memset(m, 0, sizeof(*m));
}

void husk_archive_images_free(husk_archive_image *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    husk_archive_image_free(&v[i]);
  free(v);
}

/* A name from the archive, normalized, or NULL (err set) when it is not a name. */
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

/* One entry (number i, from 0) of manifest.json */
static int docker_entry(json_object *e, size_t i, husk_archive_image *m, husk_err *err)
{
  const char *config = husk_it_jstr(e, "Config");
  json_object *layers = husk_it_jarr(e, "Layers");
  if (config == NULL || layers == NULL)
    return husk_errorf_plain(err, EINVAL, "manifest.json entry %zu has no Config or Layers", i + 1);
  m->config_path = husk_xstrdup(config);
  m->config_digest = digest_from_path(config);
  size_t n = json_object_array_length(layers);
  m->layer_paths = husk_xcalloc(n + 1, sizeof(char *));
  m->layer_digests = husk_xcalloc(n + 1, sizeof(char *));
  for (size_t k = 0; k < n; k++) {
    json_object *l = json_object_array_get_idx(layers, k);
    if (!json_object_is_type(l, json_type_string))
      return husk_errorf_plain(err, EINVAL, "manifest.json: bad layer entry");
    m->layer_paths[k] = husk_xstrdup(json_object_get_string(l));
    m->layer_digests[k] = digest_from_path(m->layer_paths[k]);
    m->n_layers = k + 1;
  }
  json_object *tags = husk_it_jarr(e, "RepoTags");
  for (size_t k = 0; tags && k < json_object_array_length(tags); k++) {
    json_object *t = json_object_array_get_idx(tags, k);
    if (!json_object_is_type(t, json_type_string))
      continue;
    _cleanup_free_ char *name = normalize_name(json_object_get_string(t), err);
    if (name == NULL)
      return husk_error_wrap(err, "manifest.json RepoTags");
    husk_strv_push(&m->refs, name);
  }
  return 0;
}

int husk_docker_manifest_parse(const char *buf, size_t len, husk_archive_image **out, size_t *n_out,
                               husk_err *err)
{
  *out = NULL;
  *n_out = 0;
  _cleanup_json_ json_object *man = NULL;
  int r = husk_json_parse(buf, len, "manifest.json", &man, err);
  if (r < 0)
    return r;
  if (!json_object_is_type(man, json_type_array) || json_object_array_length(man) == 0)
    return husk_errorf_plain(err, EINVAL, "manifest.json lists no images");
  size_t n = json_object_array_length(man);
  husk_archive_image *v = husk_xcalloc(n, sizeof(*v));
  for (size_t i = 0; i < n; i++) {
    r = docker_entry(json_object_array_get_idx(man, i), i, &v[i], err);
    if (r < 0) {
      husk_archive_image_free(&v[i]);
      break;
    }
    *n_out = i + 1;
  }
  if (*n_out == 0) {
    free(v);
    v = NULL;
  }
  *out = v;
  return r;
}

/* ---- descriptors, manifests, indexes ---- */

static void descriptor_free(husk_descriptor *d)
{
  free(d->media_type);
  free(d->digest);
  free(d->os);
  free(d->arch);
  free(d->variant);
  free(d->image_name);
  free(d->ref_name);
  memset(d, 0, sizeof(*d));
}

static void descriptors_free(husk_descriptor *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    descriptor_free(&v[i]);
  free(v);
}

/* Any JSON value: what is not there (or not a string) stays NULL. */
static void descriptor_parse(json_object *o, husk_descriptor *d)
{
  memset(d, 0, sizeof(*d));
  d->media_type = jstr_dup(o, "mediaType");
  d->digest = jstr_dup(o, "digest");
  json_object *v = NULL;
  if (o && json_object_object_get_ex(o, "size", &v))
    d->size = (uint64_t)json_object_get_int64(v);
  json_object *p = NULL;
  if (o && json_object_object_get_ex(o, "platform", &p)) {
    d->os = jstr_dup(p, "os");
    d->arch = jstr_dup(p, "architecture");
    d->variant = jstr_dup(p, "variant");
  }
  json_object *ann = NULL;
  if (o && json_object_object_get_ex(o, "annotations", &ann)) {
    d->image_name = jstr_dup(ann, "io.containerd.image.name");
    d->ref_name = jstr_dup(ann, "org.opencontainers.image.ref.name");
  }
}

static husk_descriptor *descriptors_parse(json_object *arr, size_t *n_out)
{
  size_t n = arr ? json_object_array_length(arr) : 0;
  *n_out = n;
  if (n == 0)
    return NULL;
  husk_descriptor *v = husk_xcalloc(n, sizeof(*v));
  for (size_t i = 0; i < n; i++)
    descriptor_parse(json_object_array_get_idx(arr, i), &v[i]);
  return v;
}

void husk_manifest_free(husk_manifest *m)
{
  if (m == NULL)
    return;
  free(m->media_type);
  descriptors_free(m->manifests, m->n_manifests);
  descriptor_free(&m->config);
  descriptors_free(m->layers, m->n_layers);
  memset(m, 0, sizeof(*m));
}

static bool is_index_type(const char *mt)
{
  return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

/* "type/subtype; charset=..." -> "type/subtype" */
static char *content_type_base(const char *ct)
{
  size_t n = strcspn(ct, ";");
  while (n && ct[n - 1] == ' ')
    n--;
  return husk_xasprintf("%.*s", (int)n, ct);
}

static int manifest_parse_doc(json_object *doc, const char *name, const char *desc_type,
                              const char *content_type, husk_manifest *m, husk_err *err)
{
  if (!json_object_is_type(doc, json_type_object))
    return husk_errorf_plain(err, EINVAL, "manifest %s is not a JSON object", name);
  json_object *sv;
  if (json_object_object_get_ex(doc, "schemaVersion", &sv) && json_object_get_int(sv) == 1)
    return husk_errorf_plain(err, ENOTSUP,
                             "manifest %s is schema 1 (deprecated by docker): not supported", name);
  const char *mt = desc_type ? desc_type : husk_it_jstr(doc, "mediaType");
  if (mt)
    m->media_type = husk_xstrdup(mt);
  else if (content_type)
    m->media_type = content_type_base(content_type);
  json_object *ms = husk_it_jarr(doc, "manifests");
  m->is_index = m->media_type ? is_index_type(m->media_type) : ms != NULL;
  if (m->is_index) {
    m->manifests = descriptors_parse(ms, &m->n_manifests);
    return 0;
  }
  json_object *config = NULL;
  json_object_object_get_ex(doc, "config", &config);
  json_object *layers = husk_it_jarr(doc, "layers");
  if (config == NULL || layers == NULL)
    return husk_errorf_plain(err, EINVAL, "manifest %s has no config or layers", name);
  descriptor_parse(config, &m->config);
  if (!husk_digest_valid(m->config.digest))
    return husk_errorf_plain(err, EINVAL, "manifest %s: bad config digest", name);
  m->layers = descriptors_parse(layers, &m->n_layers);
  for (size_t i = 0; i < m->n_layers; i++)
    if (!husk_digest_valid(m->layers[i].digest))
      return husk_errorf_plain(err, EINVAL, "manifest %s: bad layer digest", name);
  return 0;
}

int husk_manifest_parse(const char *buf, size_t len, const char *name, const char *desc_type,
                        const char *content_type, husk_manifest *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  _cleanup_free_ char *what = husk_xasprintf("manifest %s", name);
  _cleanup_json_ json_object *doc = NULL;
  int r = husk_json_parse(buf, len, what, &doc, err);
  if (r < 0)
    return r;
  r = manifest_parse_doc(doc, name, desc_type, content_type, out, err);
  if (r < 0)
    husk_manifest_free(out);
  return r;
}

int husk_oci_index_parse(const char *buf, size_t len, husk_manifest *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  _cleanup_json_ json_object *idx = NULL;
  int r = husk_json_parse(buf, len, "index.json", &idx, err);
  if (r < 0)
    return r;
  json_object *ms = husk_it_jarr(idx, "manifests");
  if (ms == NULL || json_object_array_length(ms) == 0)
    return husk_errorf_plain(err, EINVAL, "index.json lists no images");
  out->media_type = jstr_dup(idx, "mediaType");
  out->is_index = true;
  out->manifests = descriptors_parse(ms, &out->n_manifests);
  return 0;
}

char *husk_descriptor_name(const husk_descriptor *d, husk_err *err)
{
  if (d->image_name)
    return normalize_name(d->image_name, err);
  const char *name = d->ref_name;
  /* a bare tag ("latest") names no repository: the image is loaded untagged */
  if (name && (strchr(name, ':') || strchr(name, '/') || strchr(name, '@')))
    return normalize_name(name, err);
  return NULL;
}

void husk_oci_archive_image(const husk_manifest *m, const char *digest, const char *name,
                            husk_archive_image *out)
{
  memset(out, 0, sizeof(*out));
  out->config_path = husk_xasprintf("blobs/sha256/%s", m->config.digest + 7);
  out->config_digest = husk_xstrdup(m->config.digest);
  out->manifest_digest = husk_xstrdup(digest);
  out->n_layers = m->n_layers;
  out->layer_paths = husk_xcalloc(m->n_layers + 1, sizeof(char *));
  out->layer_digests = husk_xcalloc(m->n_layers + 1, sizeof(char *));
  for (size_t k = 0; k < m->n_layers; k++) {
    out->layer_paths[k] = husk_xasprintf("blobs/sha256/%s", m->layers[k].digest + 7);
    out->layer_digests[k] = husk_xstrdup(m->layers[k].digest);
  }
  if (name)
    husk_strv_push(&out->refs, name);
}

int husk_platform_parse(const char *s, husk_platform *p, husk_err *err)
{
  memset(p, 0, sizeof(*p));
  if (s == NULL) {
    snprintf(p->os, sizeof(p->os), "linux");
    snprintf(p->arch, sizeof(p->arch), "%s", husk_host_platform_arch());
    return 0;
  }
  int n = sscanf(s, "%31[^/]/%31[^/]/%31s", p->os, p->arch, p->variant);
  if (n < 2)
    return husk_errorf_plain(err, EINVAL, "bad platform %s: expected OS/ARCH[/VARIANT]", s);
  return 0;
}

const husk_descriptor *husk_manifest_pick(const husk_manifest *index, const husk_platform *p,
                                          bool only_one)
{
  const husk_descriptor *fallback = NULL;
  for (size_t i = 0; i < index->n_manifests; i++) {
    const husk_descriptor *d = &index->manifests[i];
    if (d->os == NULL || d->arch == NULL || strcmp(d->os, p->os) != 0 ||
        strcmp(d->arch, p->arch) != 0)
      continue;
    if (p->variant[0] && (d->variant == NULL || strcmp(d->variant, p->variant) != 0))
      continue;
    /* arm64 images mostly say variant v8: prefer it, accept any */
    if (!p->variant[0] && d->variant && strcmp(p->arch, "arm64") == 0 &&
        strcmp(d->variant, "v8") != 0) {
      if (fallback == NULL)
        fallback = d;
      continue;
    }
    return d;
  }
  if (fallback == NULL && only_one && index->n_manifests == 1)
    fallback = &index->manifests[0];
  return fallback;
}

/* ---- image config ---- */

int husk_config_diff_ids(const char *buf, size_t len, const char *id, size_t n_layers, char ***out,
                         husk_err *err)
{
  *out = NULL;
  _cleanup_free_ char *what = husk_xasprintf("image %s config", id);
  _cleanup_json_ json_object *cfg = NULL;
  int r = husk_json_parse(buf, len, what, &cfg, err);
  if (r < 0)
    return r;
  json_object *rootfs = NULL;
  if (json_object_is_type(cfg, json_type_object))
    json_object_object_get_ex(cfg, "rootfs", &rootfs);
  json_object *diffs = husk_it_jarr(rootfs, "diff_ids");
  size_t nd = diffs ? json_object_array_length(diffs) : 0;
  if (nd != n_layers)
    return husk_errorf_plain(err, EINVAL,
                             "image %s: the config lists %zu layers (rootfs.diff_ids), the "
                             "manifest %zu",
                             id, nd, n_layers);
  char **v = husk_xcalloc(nd + 1, sizeof(char *));
  for (size_t i = 0; i < nd; i++) {
    json_object *d = json_object_array_get_idx(diffs, i);
    const char *s = json_object_is_type(d, json_type_string) ? json_object_get_string(d) : NULL;
    if (!husk_digest_valid(s)) {
      husk_strv_free(v);
      return husk_errorf_plain(err, EINVAL, "image %s: bad diff id in config", id);
    }
    v[i] = husk_xstrdup(s);
  }
  *out = v;
  return 0;
}

/* ---- registry auth ---- */

char *husk_auth_challenge_param(const char *ch, const char *key)
{
  size_t klen = strlen(key);
  const char *p = ch;
  while (*p && !isspace((unsigned char)*p))
    p++; /* skip the scheme */
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *k = p;
    while (*p && *p != '=' && *p != ',')
      p++;
    size_t kl = (size_t)(p - k);
    if (*p != '=')
      continue;
    p++;
    const char *v;
    size_t vl;
    if (*p == '"') {
      v = ++p;
      while (*p && *p != '"')
        p++;
      vl = (size_t)(p - v);
      if (*p == '"')
        p++;
    } else {
      v = p;
      while (*p && *p != ',')
        p++;
      vl = (size_t)(p - v);
    }
    if (kl == klen && strncasecmp(k, key, klen) == 0)
      return husk_xasprintf("%.*s", (int)vl, v);
  }
  return NULL;
}

char *husk_auth_token_parse(const char *buf, size_t len)
{
  husk_err ignored;
  _cleanup_json_ json_object *o = NULL;
  if (husk_json_parse(buf, len, "token", &o, &ignored) < 0)
    return NULL;
  const char *tok = husk_it_jstr(o, "token");
  if (tok == NULL)
    tok = husk_it_jstr(o, "access_token");
  return tok ? husk_xstrdup(tok) : NULL;
}
