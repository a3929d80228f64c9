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
} husk_image;

int husk_store_open(const char *data_root, husk_store **out, husk_err *err);
void husk_store_close(husk_store *s);
const char *husk_store_root(const husk_store *s);

/* Look an image up by reference, short id or digest.  "busybox" (any tag
 * spelling of it) is created from the host's busybox-static when missing, so
 * `husk run busybox` works offline. */
int husk_image_get(husk_store *s, const char *ref, husk_image **out, husk_err *err);
void husk_image_free(husk_image *img);

#endif
