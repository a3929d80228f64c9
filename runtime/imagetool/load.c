/* `husk load`: docker-archive (manifest.json, config, layer tars) and OCI
 * archives (oci-layout, index.json, blobs/sha256).  The archive is unpacked
 * into a private temp dir of the store, every file in it is then opened with
 * RESOLVE_IN_ROOT, every digest that the archive states is verified, and the
 * config's diff ids are checked against the unpacked layers. */
#include "imagetool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "reference.h"
#include "util.h"

#define MAX_JSON (16u << 20)

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

static int import_image(husk_store *s, int rootfd, const husk_archive_image *m, FILE *out,
                        husk_err *err)
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
  _cleanup_strv_ char **diff_ids = NULL;
  r = husk_config_diff_ids(cfg, cfg_len, config_digest, m->n_layers, &diff_ids, err);
  if (r < 0)
    return r;
  size_t nd = m->n_layers;
  char **blob_digests = husk_xcalloc(nd + 1, sizeof(char *));
  uint64_t *sizes = husk_xcalloc(nd + 1, sizeof(uint64_t));
  for (size_t i = 0; i < nd && r >= 0; i++) {
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
                             .diff_ids = (const char *const *)diff_ids,
                             .layer_digests = (const char *const *)blob_digests,
                             .layer_sizes = sizes,
                             .refs = m->refs};
    r = husk_store_commit_image(s, &rec, err);
  }
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

static int load_docker_archive(husk_store *s, int rootfd, FILE *out, husk_err *err)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = husk_read_in_root(rootfd, "manifest.json", MAX_JSON, &buf, &len, err);
  if (r < 0)
    return r;
  husk_archive_image *images = NULL;
  size_t n = 0;
  husk_err perr = {0};
  int pr = husk_docker_manifest_parse(buf, len, &images, &n, &perr);
  /* the images before a bad entry are loaded first, then the entry is refused */
  r = 0;
  for (size_t i = 0; i < n && r >= 0; i++)
    r = import_image(s, rootfd, &images[i], out, err);
  husk_archive_images_free(images, n);
  if (r >= 0 && pr < 0) {
    *err = perr;
    r = pr;
  }
  return r;
}

/* ---- OCI ---- */

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

static int load_oci_descriptor(husk_store *s, int rootfd, const husk_descriptor *desc,
                               const char *name, int depth, FILE *out, husk_err *err)
{
  if (depth > 4)
    return husk_errorf_plain(err, ELOOP, "OCI index nested too deeply");
  const char *digest = desc->digest;
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  int r = read_oci_blob(rootfd, digest, &buf, &len, err);
  if (r < 0)
    return r;
  husk_manifest m;
  r = husk_manifest_parse(buf, len, digest, desc->media_type, NULL, &m, err);
  if (r < 0)
    return r;
  if (m.is_index) {
    husk_platform p;
    husk_platform_parse(NULL, &p, err);
    const husk_descriptor *pick = husk_manifest_pick(&m, &p, true);
    if (pick == NULL)
      r = husk_errorf_plain(err, ENOENT, "no linux/%s image in the index %s", p.arch, digest);
    else
      r = load_oci_descriptor(s, rootfd, pick, name, depth + 1, out, err);
    husk_manifest_free(&m);
    return r;
  }
  /* keep the manifest as a blob: its digest is the image's repo digest */
  r = husk_store_put_blob(s, buf, len, digest, NULL, err);
  if (r >= 0) {
    husk_archive_image img;
    husk_oci_archive_image(&m, digest, name, &img);
    r = import_image(s, rootfd, &img, out, err);
    husk_archive_image_free(&img);
  }
  husk_manifest_free(&m);
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
  husk_manifest idx;
  r = husk_oci_index_parse(buf, len, &idx, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < idx.n_manifests && r >= 0; i++) {
    const husk_descriptor *d = &idx.manifests[i];
    husk_err nerr = {0};
    _cleanup_free_ char *name = husk_descriptor_name(d, &nerr);
    if (name == NULL && nerr.code) {
      *err = nerr;
      r = husk_error_wrap(err, "index.json annotation");
      break;
    }
    r = load_oci_descriptor(s, rootfd, d, name, 0, out, err);
  }
  husk_manifest_free(&idx);
  return r;
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
