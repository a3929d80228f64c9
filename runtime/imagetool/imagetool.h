/* husk-image: the parts of image handling that need libarchive and libcurl,
 * kept out of the husk binary so that husk starts fast. */
#ifndef HUSK_IMAGETOOL_H
#define HUSK_IMAGETOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "image.h"

/* ---- extract.c ---- */
typedef struct husk_extract_opts {
  /* true: an image layer (owners, modes, devices, xattrs, whiteouts turned
   * into overlay whiteouts); false: an archive of blobs (plain files, dirs and
   * symlinks only, owned by us) */
  bool layer;
} husk_extract_opts;

/* Unpack the tar stream read from fd (uncompressed, gzip, zstd, ...) into
 * dir, an existing empty directory.  Refuses (EPERM/EINVAL, nothing written
 * outside dir) absolute paths, ".." components, hard links to outside or
 * missing targets, and any entry whose path goes through a symlink.
 * diff_id_out (may be NULL): "sha256:<hex>" of the uncompressed stream;
 * size_out (may be NULL): sum of the regular files' sizes. */
int husk_extract_fd(int fd, const char *dir, const husk_extract_opts *o, char **diff_id_out,
                    uint64_t *size_out, husk_err *err);

/* Unpack the layer blob at path into the store as layers/<diff_id hex>: into a
 * temp dir first, checked against diff_id, then renamed into place; nothing is
 * left behind on failure. */
int husk_layer_unpack(husk_store *s, const char *path, const char *diff_id, uint64_t *size_out,
                      husk_err *err);

/* ---- load.c ---- */
/* Load a docker-archive or OCI archive (path, or "-" for stdin).  Prints
 * "Loaded image: REF" lines to out (NULL: quiet). */
int husk_image_load(husk_store *s, const char *path, FILE *out, husk_err *err);

/* ---- registry.c ---- */
typedef struct husk_pull_opts {
  char *const *insecure; /* extra plain-HTTP registries */
  const char *platform;  /* "linux/amd64" (default: the host's) */
  bool quiet;
  bool progress; /* draw progress bars (stdout is a terminal) */
} husk_pull_opts;

int husk_image_pull(husk_store *s, const char *name, const husk_pull_opts *o, FILE *out,
                    husk_err *err);

/* ---- shared helpers (manifest.c) ---- */
#define MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct json_object;
void husk_it_jsonp(struct json_object **o);
#define _cleanup_json_ __attribute__((cleanup(husk_it_jsonp)))
/* o[key] when it is a string / an array, else NULL (o may be NULL). */
const char *husk_it_jstr(struct json_object *o, const char *key);
struct json_object *husk_it_jarr(struct json_object *o, const char *key);

/* ---- shared helpers (extract.c) ---- */
/* Read a file inside root (resolved with RESOLVE_IN_ROOT) into memory, at
 * most max bytes. */
int husk_read_in_root(int rootfd, const char *path, size_t max, char **out, size_t *len_out,
                      husk_err *err);
/* open() a file inside root, never leaving it */
int husk_open_in_root(int rootfd, const char *path, husk_err *err);
/* "linux/amd64" of this machine */
const char *husk_host_platform_arch(void);

#endif
