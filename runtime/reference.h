/* Image references: `[registry/]path[:tag][@digest]`, normalized the way
 * docker does (busybox -> docker.io/library/busybox:latest), and the rules that
 * say which first component is a registry host and which registries speak
 * plain HTTP. */
#ifndef HUSK_REFERENCE_H
#define HUSK_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define HUSK_DEFAULT_REGISTRY "docker.io"
#define HUSK_DEFAULT_TAG      "latest"

typedef struct husk_ref {
  char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
  char *path;   /* "library/busybox" */
  char *tag;    /* "latest"; NULL when only a digest was given */
  char *digest; /* "sha256:<64 hex>" or NULL */
} husk_ref;

/* Parse and normalize.  A reference with neither tag nor digest gets tag
 * "latest".  Errors: EINVAL with a message naming what is wrong. */
int husk_ref_parse(const char *s, husk_ref *out, husk_err *err);
void husk_ref_free(husk_ref *r);

/* "docker.io/library/busybox" */
char *husk_ref_repo(const husk_ref *r);
/* "docker.io/library/busybox:latest", "...@sha256:..", or both: the full normalized name */
char *husk_ref_string(const husk_ref *r);
/* The short form people type: "busybox", "user/app", "localhost:5000/app" (no tag). */
char *husk_ref_familiar_repo(const husk_ref *r);
/* Familiar form of any normalized string reference ("busybox:latest"); a copy
 * of s when it does not parse. */
char *husk_ref_familiar(const char *normalized);

/* True when the first path component of a name is a registry host: it has a
 * dot or a colon (host:port, IPv6), or is "localhost", or has upper case. */
bool husk_ref_is_domain(const char *component, size_t len);

/* Registry host to talk to for a domain: docker.io -> registry-1.docker.io. */
const char *husk_registry_host(const char *domain);
/* Plain HTTP for: localhost, 127.0.0.0/8, ::1 (any port), and every host in
 * `insecure` (NULL-terminated list, entries "host" or "host:port") or in the
 * comma-separated $HUSK_INSECURE_REGISTRIES. */
bool husk_registry_is_insecure(const char *domain, char *const *insecure);

/* "sha256:<64 lowercase hex>" */
bool husk_digest_valid(const char *digest);
/* 64 lowercase hex characters */
bool husk_hex64_valid(const char *s);

#endif
