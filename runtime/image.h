/* The image store: content-addressed blobs, unpacked layers, image configs.
 * (Owned by the images work of issue 6; the porcelain uses only this.) */
#ifndef HUSK_IMAGE_H
#define HUSK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* --data-root, else $HUSK_DATA_ROOT, else /var/lib/husk */
const char *husk_data_root(const char *flag_value);

typedef struct husk_store husk_store;

typedef struct husk_image_config {
  char **entrypoint; /* NULL terminated or NULL */
  char **cmd;
  char **env;
  char *working_dir;
  char *user;
  char *stop_signal;
} husk_image_config;

typedef struct husk_image {
  char *id;        /* "sha256:<config digest>" */
  char *reference; /* normalized "docker.io/library/busybox:latest" or NULL */
  char **layers;   /* absolute paths of unpacked layer directories, bottom first, NULL terminated */
  size_t n_layers;
  husk_image_config config;
  /* added by the images work */
  char *config_json;       /* the raw image config blob */
  char *created;           /* config "created" or NULL */
  unsigned long long size; /* unpacked size of all layers in bytes */
} husk_image;

int husk_store_open(const char *data_root, husk_store **out, husk_err *err);
void husk_store_close(husk_store *s);
const char *husk_store_root(const husk_store *s);

/* Look an image up by reference, short id or digest.  "busybox" (any tag
 * spelling of it) is created from the host's busybox-static when missing, so
 * `husk run busybox` works offline. */
int husk_image_get(husk_store *s, const char *ref, husk_image **out, husk_err *err);
void husk_image_free(husk_image *img);

/* ---- everything below: the images work (image_store.c, husk-image) ---- */

#include <stdint.h>

/* Resolve a name (reference, full or short id, name@digest) to the image id
 * "sha256:<hex>" without creating anything.  ENOENT when unknown. */
int husk_image_resolve(husk_store *s, const char *name, char **id_out, husk_err *err);

/* ---- sha256 (nettle) ---- */
#define HUSK_SHA256_HEX_LEN 64
/* hex (65 bytes with NUL) of the sha256 of buf */
void husk_sha256_hex(const void *buf, size_t len, char out[HUSK_SHA256_HEX_LEN + 1]);
/* sha256 of a whole file descriptor from its current offset */
int husk_sha256_fd(int fd, char out[HUSK_SHA256_HEX_LEN + 1], uint64_t *size_out);

/* ---- listing, removal, garbage collection ---- */
typedef struct husk_image_info {
  char *id;            /* sha256:<hex> */
  char **repo_tags;    /* normalized "docker.io/library/busybox:latest", NULL terminated */
  char **repo_digests; /* normalized "docker.io/library/busybox@sha256:..." */
  char *created;       /* RFC 3339 or NULL */
  uint64_t size;
} husk_image_info;

int husk_store_list(husk_store *s, husk_image_info **out, size_t *n_out, husk_err *err);
void husk_image_info_free(husk_image_info *v, size_t n);

/* Remove a name.  A reference (busybox:latest, name@digest) is untagged; the
 * image is deleted when nothing else points at it.  An id removes the image
 * with all its references: that needs force when it has more than one.  An
 * image held by a container (husk_image_hold) is only untagged, and only with
 * force.  Removed references (normalized) and deleted image ids are appended
 * to *untagged / *deleted (may be NULL).  Unused blobs and layers are then
 * garbage collected. */
int husk_image_remove(husk_store *s, const char *name, bool force, char ***untagged,
                      char ***deleted, husk_err *err);

/* Delete blobs, layer directories and stale temp files no image uses.  Skipped
 * (returns 0) while a load or pull is running. */
int husk_store_gc(husk_store *s, husk_err *err);

/* Containers pin the image they run: a hold keeps the image and its layers on
 * disk even when it is untagged by `rmi -f`.  holder: a container id. */
int husk_image_hold(husk_store *s, const char *image_id, const char *holder, husk_err *err);
int husk_image_release(husk_store *s, const char *holder, husk_err *err);
/* Holders of an image (NULL-terminated, may be empty). */
int husk_image_holders(husk_store *s, const char *image_id, char ***out, husk_err *err);

/* docker-like `image inspect` JSON object of one image (malloc'ed string). */
int husk_image_inspect_json(husk_store *s, const char *name, char **json_out, husk_err *err);

/* ---- writing the store (husk-image load/pull and the embedded busybox) ---- */
/* Directory fd of the store root. */
int husk_store_dirfd(const husk_store *s);
/* Exclusive lock for metadata updates (repositories.json, images/).  Returns
 * an fd to close to unlock. */
int husk_store_lock(husk_store *s, husk_err *err);
/* Shared "busy" lock held during a whole load or pull so GC does not remove
 * the blobs and layers it is adding.  Returns an fd to close. */
int husk_store_busy(husk_store *s, husk_err *err);
/* Fresh private directory <root>/tmp/<prefix>XXXXXX (absolute path). */
int husk_store_mkdtemp(husk_store *s, const char *prefix, char **out, husk_err *err);
/* Remove a directory tree without following symlinks (for temp dirs). */
int husk_remove_tree(int parent, const char *path, husk_err *err);

/* Absolute paths; digest is "sha256:<hex>". */
char *husk_store_blob_path(const husk_store *s, const char *digest);
char *husk_store_layer_path(const husk_store *s, const char *diff_id);
bool husk_store_has_blob(const husk_store *s, const char *digest);
bool husk_store_has_layer(const husk_store *s, const char *diff_id);
/* Move a file (already verified to have this digest) into blobs/; when the
 * blob exists already the file is just removed. */
int husk_store_put_blob_file(husk_store *s, const char *path, const char *digest, husk_err *err);
/* Store bytes as a blob, verifying the digest when one is given (else computed
 * and returned in digest_out, which may be NULL). */
int husk_store_put_blob(husk_store *s, const void *data, size_t len, const char *digest,
                        char **digest_out, husk_err *err);
/* Atomically rename an unpacked layer directory into layers/<hex>. */
int husk_store_put_layer_dir(husk_store *s, const char *dir, const char *diff_id, husk_err *err);
/* Unpacked size of a layer (sum of file sizes), as recorded, else measured. */
uint64_t husk_layer_dir_size(int layer_fd);

typedef struct husk_image_record {
  const char *config_digest;   /* image id; the config blob must be stored */
  const char *manifest_digest; /* NULL when not known (docker-archive, embedded) */
  size_t n_layers;
  const char *const *diff_ids;      /* n_layers; unpacked layers must be stored */
  const char *const *layer_digests; /* n_layers; compressed blob digests (entries may be NULL) */
  const uint64_t *layer_sizes;      /* n_layers; unpacked sizes (may be NULL) */
  char *const *refs;                /* normalized references to point at it (may be NULL) */
} husk_image_record;

/* Write images/<hex>.json and point the references at it (each reference
 * moves off the image it named before; an image left with no reference and
 * no hold stays as a dangling <none> image until removed). */
int husk_store_commit_image(husk_store *s, const husk_image_record *rec, husk_err *err);

#endif
