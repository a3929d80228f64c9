/* libFuzzer target: the image metadata parsers of husk-image
 * (runtime/imagetool/manifest.c) and the image config reader of the store
 * (image_store.c, through husk_image_get and husk_image_inspect_json).
 * The first byte picks the parser (seeds use '0'..'7'; any byte works, mod 8),
 * the rest is its input:
 *   0  docker-archive manifest.json
 *   1  OCI layout index.json, and the names its descriptors give
 *   2  image manifest or index; the 2nd byte picks the descriptor / HTTP
 *      media type the caller knows; then platform picks and the import plan
 *   3  image config rootfs.diff_ids; the 2nd byte is the number of layers
 *   4  a --platform string
 *   5  a WWW-Authenticate challenge (realm, service, scope)
 *   6  a token server's answer
 *   7  an image config committed to a store, read back and inspected
 * Besides "no crash, no leak", it checks what the parsers promise: accepted
 * manifests have valid config and layer digests, diff ids are valid and as
 * many as asked for, a pick is one of the index's descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "manifest.h"
#include "reference.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
  if (!ok)
    abort();
}

static void check_image(const husk_archive_image *m)
{
  check(m->config_path != NULL);
  check(m->config_digest == NULL || husk_digest_valid(m->config_digest));
  for (size_t i = 0; i < m->n_layers; i++) {
    check(m->layer_paths[i] != NULL);
    check(m->layer_digests[i] == NULL || husk_digest_valid(m->layer_digests[i]));
  }
  for (size_t i = 0; m->refs && m->refs[i]; i++) {
    husk_ref r;
    husk_err err;
    check(husk_ref_parse(m->refs[i], &r, &err) == 0);
    husk_ref_free(&r);
  }
}

static void fuzz_docker(const char *buf, size_t len)
{
  husk_archive_image *v = NULL;
  size_t n = 9999;
  husk_err err = {0};
  int r = husk_docker_manifest_parse(buf, len, &v, &n, &err);
  check(r == 0 ? n >= 1 : err.code != 0);
  check((n == 0) == (v == NULL));
  for (size_t i = 0; i < n; i++)
    check_image(&v[i]);
  husk_archive_images_free(v, n);
}

static void names(const husk_manifest *m)
{
  for (size_t i = 0; i < m->n_manifests; i++) {
    husk_err err = {0};
    const husk_descriptor *d = &m->manifests[i];
    char *name = husk_descriptor_name(d, &err);
    if (name) {
      husk_ref r;
      check(husk_ref_parse(name, &r, &err) == 0);
      husk_ref_free(&r);
    } else if (err.code) {
      check(d->image_name || d->ref_name);
    }
    free(name);
  }
}

static void fuzz_index_json(const char *buf, size_t len)
{
  husk_manifest m;
  husk_err err = {0};
  if (husk_oci_index_parse(buf, len, &m, &err) < 0)
    return;
  check(m.is_index && m.n_manifests >= 1);
  names(&m);
  husk_manifest_free(&m);
}

static const char *const platforms[] = {NULL,           "linux/amd64",    "linux/arm64",
                                        "linux/arm/v7", "linux/arm64/v8", "windows/amd64"};

static void fuzz_manifest(uint8_t hint, const char *buf, size_t len)
{
  static const char *const types[] = {
      NULL,
      MT_OCI_INDEX,
      MT_DOCKER_LIST,
      MT_OCI_MANIFEST,
      MT_DOCKER_MANIFEST,
      "application/vnd.oci.image.index.v1+json; charset=utf-8",
      MT_DOCKER_MANIFEST " ;q=1",
      ";",
  };
  const char *desc_type = (hint & 8) ? NULL : types[hint % 8];
  const char *content_type = (hint & 8) ? types[hint % 8] : NULL;
  husk_manifest m;
  husk_err err = {0};
  const char *digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  if (husk_manifest_parse(buf, len, digest, desc_type, content_type, &m, &err) < 0) {
    check(err.code != 0);
    return;
  }
  if (m.is_index) {
    names(&m);
    for (size_t i = 0; i < HUSK_ARRAY_SIZE(platforms); i++) {
      husk_platform p;
      check(husk_platform_parse(platforms[i], &p, &err) == 0);
      for (int only_one = 0; only_one < 2; only_one++) {
        const husk_descriptor *d = husk_manifest_pick(&m, &p, only_one);
        check(d == NULL || (d >= m.manifests && d < m.manifests + m.n_manifests));
      }
    }
  } else {
    check(husk_digest_valid(m.config.digest));
    husk_archive_image img;
    husk_oci_archive_image(&m, digest, (hint & 16) ? "docker.io/library/x:y" : NULL, &img);
    check(img.n_layers == m.n_layers);
    for (size_t i = 0; i < m.n_layers; i++)
      check(husk_digest_valid(img.layer_digests[i]));
    check_image(&img);
    husk_archive_image_free(&img);
  }
  husk_manifest_free(&m);
}

static void fuzz_diff_ids(uint8_t n, const char *buf, size_t len)
{
  char **v = NULL;
  husk_err err = {0};
  size_t want = n % 16;
  if (husk_config_diff_ids(buf, len, "sha256:x", want, &v, &err) < 0) {
    check(v == NULL && err.code != 0);
    return;
  }
  check(husk_strv_len(v) == want);
  for (size_t i = 0; i < want; i++)
    check(husk_digest_valid(v[i]));
  husk_strv_free(v);
}

static void fuzz_platform(const char *s)
{
  husk_platform p;
  husk_err err = {0};
  if (husk_platform_parse(s, &p, &err) == 0)
    check(p.os[0] && p.arch[0]);
}

static void fuzz_challenge(const char *s)
{
  static const char *const keys[] = {"realm", "service", "scope", ""};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(keys); i++) {
    char *v = husk_auth_challenge_param(s, keys[i]);
    check(v == NULL || strlen(v) <= strlen(s));
    free(v);
  }
}

/* The store's own config reader: commit the config as an image with no
 * layers, get it and inspect it, remove it. */
static char store_dir[] = "/tmp/husk-fuzz-manifest-XXXXXX";
static husk_store *store;

static void store_cleanup(void)
{
  husk_err err;
  husk_store_close(store);
  husk_remove_tree(AT_FDCWD, store_dir, &err);
}

static void fuzz_store_config(const char *buf, size_t len)
{
  husk_store *s = store;
  if (s == NULL) {
    husk_err err = {0};
    if (mkdtemp(store_dir) == NULL || husk_store_open(store_dir, &store, &err) < 0)
      abort();
    s = store;
    atexit(store_cleanup);
  }
  husk_err err = {0};
  char *id = NULL;
  if (husk_store_put_blob(s, buf, len, NULL, &id, &err) < 0)
    abort();
  husk_image_record rec = {.config_digest = id};
  if (husk_store_commit_image(s, &rec, &err) < 0)
    abort();
  husk_image *img = NULL;
  if (husk_image_get(s, id, &img, &err) == 0) {
    check(strcmp(img->id, id) == 0 && img->n_layers == 0);
    husk_image_free(img);
  }
  char *json = NULL;
  if (husk_image_inspect_json(s, id, &json, &err) == 0)
    free(json);
  char **deleted = NULL;
  if (husk_image_remove(s, id, true, NULL, &deleted, &err) < 0 || deleted == NULL ||
      husk_store_has_blob(s, id))
    abort();
  husk_strv_free(deleted);
  free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > (1u << 20))
    return 0;
  uint8_t sel = data[0] % 8;
  size_t skip = (sel == 2 || sel == 3) ? 2 : 1;
  if (size < skip)
    return 0;
  uint8_t arg = skip == 2 ? data[1] : 0;
  size_t len = size - skip;
  /* an exact-size copy (ASan sees any read past the end) and a C string */
  char *buf = malloc(len ? len : 1);
  char *str = malloc(len + 1);
  if (!buf || !str)
    abort();
  memcpy(buf, data + skip, len);
  memcpy(str, data + skip, len);
  str[len] = '\0';
  switch (sel) {
  case 0:
    fuzz_docker(buf, len);
    break;
  case 1:
    fuzz_index_json(buf, len);
    break;
  case 2:
    fuzz_manifest(arg, buf, len);
    break;
  case 3:
    fuzz_diff_ids(arg, buf, len);
    break;
  case 4:
    fuzz_platform(str);
    break;
  case 5:
    fuzz_challenge(str);
    break;
  case 6:
    free(husk_auth_token_parse(buf, len));
    break;
  case 7:
    fuzz_store_config(buf, len);
    break;
  }
  free(buf);
  free(str);
  return 0;
}
