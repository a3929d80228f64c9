/* The parsers of what an image archive or a registry hands husk-image: bytes
 * in, validated C structs and decisions out, no I/O.  docker-archive
 * manifest.json, OCI index.json, image manifests and indexes / manifest
 * lists (descriptors, media types, platform selection), the layer list of an
 * image config, and the registry's bearer challenge and token answer.
 * load.c and registry.c fetch the bytes and verify digests of content; the
 * rules about what the bytes say live here (fuzz/fuzz_manifest.c). */
#ifndef HUSK_IMAGETOOL_MANIFEST_H
#define HUSK_IMAGETOOL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "imagetool.h" /* MT_*, husk_it_jstr/jarr (defined in manifest.c) */

/* Parse len bytes of JSON (no NUL needed).  what names the document in the
 * error: "<what> is not valid JSON: <reason>". */
int husk_json_parse(const char *buf, size_t len, const char *what, struct json_object **out,
                    husk_err *err);

/* ---- what to import: one image of an archive ---- */
typedef struct husk_archive_image {
  char *config_path;     /* inside the archive */
  char *config_digest;   /* expected digest of the config, or NULL */
  char *manifest_digest; /* OCI: the image manifest's digest; docker-archive: NULL */
  size_t n_layers;
  char **layer_paths;   /* n_layers paths inside the archive */
  char **layer_digests; /* n_layers expected digests (docker-archive: entries may be NULL) */
  char **refs;          /* normalized references, NULL terminated, or NULL */
} husk_archive_image;

void husk_archive_image_free(husk_archive_image *m);
void husk_archive_images_free(husk_archive_image *v, size_t n);

/* docker-archive manifest.json: [{"Config": "<hex>.json", "Layers": [...],
 * "RepoTags": [...]}, ...].  A file name "<hex>.json" or ".../sha256/<hex>"
 * states the digest the file must have.  On success *out holds *n_out >= 1
 * images.  On error *out still holds the *n_out images before the bad entry
 * (like docker, husk loads those before it reports the error). */
int husk_docker_manifest_parse(const char *buf, size_t len, husk_archive_image **out, size_t *n_out,
                               husk_err *err);

/* ---- descriptors, manifests, indexes ---- */
typedef struct husk_descriptor {
  char *media_type;          /* NULL when missing or not a string (the same below) */
  char *digest;              /* not validated: see husk_digest_valid */
  uint64_t size;             /* 0 when missing */
  char *os, *arch, *variant; /* "platform" */
  char *image_name;          /* annotation io.containerd.image.name */
  char *ref_name;            /* annotation org.opencontainers.image.ref.name */
} husk_descriptor;

typedef struct husk_manifest {
  char *media_type; /* as decided by husk_manifest_parse, or NULL */
  bool is_index;    /* an OCI index or docker manifest list */
  /* index: the descriptors of "manifests" (may be empty) */
  size_t n_manifests;
  husk_descriptor *manifests;
  /* image manifest: config and layer digests are valid digests */
  husk_descriptor config;
  size_t n_layers;
  husk_descriptor *layers;
} husk_manifest;

void husk_manifest_free(husk_manifest *m);

/* An image manifest or index, called `manifest <name>` in errors (name: its
 * digest or the reference asked for).  The media type is the descriptor's
 * that pointed here (desc_type, may be NULL), else the document's
 * "mediaType", else the HTTP content_type (parameters dropped; may be NULL);
 * with none, a document with "manifests" is an index.  Refused: not a JSON
 * object, schema 1 (ENOTSUP), an image manifest without config or layers or
 * with a bad config or layer digest. */
int husk_manifest_parse(const char *buf, size_t len, const char *name, const char *desc_type,
                        const char *content_type, husk_manifest *out, husk_err *err);

/* OCI layout index.json: a non-empty "manifests" list (out->is_index). */
int husk_oci_index_parse(const char *buf, size_t len, husk_manifest *out, husk_err *err);

/* The name an index.json descriptor gives its image, normalized: the
 * annotation io.containerd.image.name, else org.opencontainers.image.ref.name
 * when it names a repository (a bare tag like "latest" does not: NULL with
 * err untouched).  NULL with err set when the name does not parse. */
char *husk_descriptor_name(const husk_descriptor *d, husk_err *err);

/* The import plan of an OCI image manifest (husk_manifest_parse'd, not an
 * index) whose digest is digest: blobs/sha256/<hex> paths; refs: name or
 * NULL. */
void husk_oci_archive_image(const husk_manifest *m, const char *digest, const char *name,
                            husk_archive_image *out);

typedef struct husk_platform {
  char os[32], arch[32], variant[32];
} husk_platform;

/* "OS/ARCH[/VARIANT]"; NULL: linux and this machine's architecture. */
int husk_platform_parse(const char *s, husk_platform *p, husk_err *err);

/* The descriptor of an index for platform p, or NULL.  Without a variant in
 * p, arm64 prefers variant v8 but takes any.  only_one: an index of a single
 * descriptor gives that one whatever its platform (docker's OCI archives
 * state none). */
const husk_descriptor *husk_manifest_pick(const husk_manifest *index, const husk_platform *p,
                                          bool only_one);

/* ---- image config ---- */
/* rootfs.diff_ids of the image config id (for errors), which must list
 * n_layers valid digests.  *out: NULL-terminated copies. */
int husk_config_diff_ids(const char *buf, size_t len, const char *id, size_t n_layers, char ***out,
                         husk_err *err);

/* ---- registry auth ---- */
/* Value of key in a challenge like: Bearer realm="x",service="y" (or NULL). */
char *husk_auth_challenge_param(const char *challenge, const char *key);
/* The "token" (else "access_token") of a token server's answer, or NULL. */
char *husk_auth_token_parse(const char *buf, size_t len);

#endif
