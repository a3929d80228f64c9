/* Image reference parsing and normalization (the grammar of
 * distribution/reference, which docker, podman and containerd share). */
#include "reference.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NAME_MAX_TOTAL 255
#define TAG_MAX        128

static bool is_lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex_lower(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool husk_hex64_valid(const char *s)
{
  if (s == NULL)
    return false;
  size_t i = 0;
  for (; s[i]; i++)
    if (!is_hex_lower(s[i]))
      return false;
  return i == 64;
}

bool husk_digest_valid(const char *digest)
{
  return digest && strncmp(digest, "sha256:", 7) == 0 && husk_hex64_valid(digest + 7);
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+ */
static bool path_component_valid(const char *s, size_t len)
{
  if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
    return false;
  size_t i = 0;
  while (i < len) {
    if (is_lower_alnum(s[i])) {
      i++;
      continue;
    }
    /* a separator run, followed by alnum (guaranteed by the last char check) */
    size_t j = i;
    while (j < len && !is_lower_alnum(s[j]))
      j++;
    size_t n = j - i;
    bool ok = false;
    if (n == 1 && (s[i] == '_' || s[i] == '.' || s[i] == '-'))
      ok = true;
    else if (n == 2 && s[i] == '_' && s[i + 1] == '_')
      ok = true;
    else {
      ok = true;
      for (size_t k = i; k < j; k++)
        if (s[k] != '-')
          ok = false;
    }
    if (!ok)
      return false;
    i = j;
  }
  return true;
}

static bool domain_component_valid(const char *s, size_t len)
{
  if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
    return false;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-')
      return false;
  return true;
}

/* host [':' port] where host is a dotted name, an IPv4 address or [IPv6] */
static bool domain_valid(const char *s, size_t len)
{
  if (len == 0)
    return false;
  size_t host_end = len;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (close == NULL || close == s + 1)
      return false;
    char buf[INET6_ADDRSTRLEN + 1];
    size_t n = (size_t)(close - s - 1);
    if (n >= sizeof(buf))
      return false;
    memcpy(buf, s + 1, n);
    buf[n] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) != 1)
      return false;
    host_end = (size_t)(close - s + 1);
    if (host_end < len && s[host_end] != ':')
      return false;
  } else {
    const char *colon = memchr(s, ':', len);
    if (colon)
      host_end = (size_t)(colon - s);
    size_t start = 0;
    for (size_t i = 0; i <= host_end; i++) {
      if (i == host_end || s[i] == '.') {
        if (!domain_component_valid(s + start, i - start))
          return false;
        start = i + 1;
      }
    }
  }
  if (host_end < len) {
    /* ':' port */
    if (host_end + 1 == len)
      return false;
    for (size_t i = host_end + 1; i < len; i++)
      if (!isdigit((unsigned char)s[i]))
        return false;
    if (len - host_end - 1 > 5)
      return false;
  }
  return true;
}

bool husk_ref_is_domain(const char *component, size_t len)
{
  if (memchr(component, '.', len) || memchr(component, ':', len))
    return true;
  if (len == 9 && memcmp(component, "localhost", 9) == 0)
    return true;
  for (size_t i = 0; i < len; i++)
    if (isupper((unsigned char)component[i]))
      return true;
  return false;
}

static bool tag_valid(const char *t)
{
  size_t n = strlen(t);
  if (n == 0 || n > TAG_MAX)
    return false;
  if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
      return false;
  return true;
}

void husk_ref_free(husk_ref *r)
{
  if (r == NULL)
    return;
  free(r->domain);
  free(r->path);
  free(r->tag);
  free(r->digest);
  memset(r, 0, sizeof(*r));
}

int husk_ref_parse(const char *s, husk_ref *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  if (s == NULL || *s == '\0')
    return husk_errorf_plain(err, EINVAL, "invalid reference format: empty name");
  _cleanup_free_ char *name = husk_xstrdup(s);
  _cleanup_free_ char *digest = NULL;
  _cleanup_free_ char *tag = NULL;

  char *at = strchr(name, '@');
  if (at) {
    *at = '\0';
    const char *d = at + 1;
    if (strncmp(d, "sha256:", 7) != 0)
      return husk_errorf_plain(err, EINVAL,
                               "invalid reference %s: unsupported digest algorithm "
                               "(only sha256)",
                               s);
    if (!husk_digest_valid(d))
      return husk_errorf_plain(err, EINVAL,
                               "invalid reference %s: digest must be sha256: and 64 lowercase hex "
                               "characters",
                               s);
    digest = husk_xstrdup(d);
  }
  char *slash = strrchr(name, '/');
  char *colon = strrchr(name, ':');
  if (colon && (slash == NULL || colon > slash)) {
    *colon = '\0';
    if (!tag_valid(colon + 1))
      return husk_errorf_plain(err, EINVAL, "invalid reference %s: bad tag \"%s\"", s, colon + 1);
    tag = husk_xstrdup(colon + 1);
  }
  if (*name == '\0')
    return husk_errorf_plain(err, EINVAL, "invalid reference format: %s has no name", s);

  const char *path = name;
  _cleanup_free_ char *domain = NULL;
  char *first = strchr(name, '/');
  if (first && husk_ref_is_domain(name, (size_t)(first - name))) {
    if (!domain_valid(name, (size_t)(first - name)))
      return husk_errorf_plain(err, EINVAL, "invalid reference %s: bad registry host \"%.*s\"", s,
                               (int)(first - name), name);
    domain = husk_xasprintf("%.*s", (int)(first - name), name);
    path = first + 1;
  } else {
    domain = husk_xstrdup(HUSK_DEFAULT_REGISTRY);
  }
  if (strcmp(domain, "index.docker.io") == 0) {
    free(domain);
    domain = husk_xstrdup(HUSK_DEFAULT_REGISTRY);
  }
  if (*path == '\0')
    return husk_errorf_plain(err, EINVAL, "invalid reference %s: empty repository path", s);

  /* validate each path component */
  for (const char *p = path;;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!path_component_valid(p, n)) {
      for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char)p[i]))
          return husk_errorf_plain(err, EINVAL,
                                   "invalid reference %s: repository name must be lowercase", s);
      return husk_errorf_plain(err, EINVAL,
                               "invalid reference format: bad name component \"%.*s\" "
                               "in %s",
                               (int)n, p, s);
    }
    if (e == NULL)
      break;
    p = e + 1;
  }

  _cleanup_free_ char *full_path = NULL;
  if (strcmp(domain, HUSK_DEFAULT_REGISTRY) == 0 && strchr(path, '/') == NULL)
    full_path = husk_xasprintf("library/%s", path);
  else
    full_path = husk_xstrdup(path);

  if (strcmp(domain, HUSK_DEFAULT_REGISTRY) == 0 && husk_hex64_valid(path))
    return husk_errorf_plain(err, EINVAL,
                             "invalid repository name %s: cannot specify 64-byte hexadecimal "
                             "strings",
                             s);
  if (strlen(domain) + 1 + strlen(full_path) > NAME_MAX_TOTAL)
    return husk_errorf_plain(err, EINVAL,
                             "invalid reference %s: repository name longer than %d "
                             "characters",
                             s, NAME_MAX_TOTAL);
  if (tag == NULL && digest == NULL)
    tag = husk_xstrdup(HUSK_DEFAULT_TAG);

  out->domain = husk_steal_ptr(domain);
  out->path = husk_steal_ptr(full_path);
  out->tag = husk_steal_ptr(tag);
  out->digest = husk_steal_ptr(digest);
  return 0;
}

char *husk_ref_repo(const husk_ref *r)
{
  return husk_xasprintf("%s/%s", r->domain, r->path);
}

char *husk_ref_string(const husk_ref *r)
{
  return husk_xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
                        r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *husk_ref_familiar_repo(const husk_ref *r)
{
  if (strcmp(r->domain, HUSK_DEFAULT_REGISTRY) == 0) {
    if (strncmp(r->path, "library/", 8) == 0 && strchr(r->path + 8, '/') == NULL)
      return husk_xstrdup(r->path + 8);
    return husk_xstrdup(r->path);
  }
  return husk_ref_repo(r);
}

char *husk_ref_familiar(const char *normalized)
{
  husk_ref r;
  husk_err e;
  if (husk_ref_parse(normalized, &r, &e) < 0)
    return husk_xstrdup(normalized);
  _cleanup_free_ char *repo = husk_ref_familiar_repo(&r);
  /* keep what the string had: a bare name is shown with its tag */
  bool had_tag = r.tag && (strrchr(normalized, ':') > strrchr(normalized, '/'));
  char *res = husk_xasprintf("%s%s%s%s%s", repo, had_tag ? ":" : "", had_tag ? r.tag : "",
                             r.digest ? "@" : "", r.digest ? r.digest : "");
  husk_ref_free(&r);
  return res;
}

const char *husk_registry_host(const char *domain)
{
  if (strcmp(domain, HUSK_DEFAULT_REGISTRY) == 0)
    return "registry-1.docker.io";
  return domain;
}

/* Host part of a domain without the port and brackets, into buf. */
static void domain_host(const char *domain, char *buf, size_t len)
{
  if (domain[0] == '[') {
    const char *close = strchr(domain, ']');
    size_t n = close ? (size_t)(close - domain - 1) : strlen(domain + 1);
    snprintf(buf, len, "%.*s", (int)n, domain + 1);
    return;
  }
  const char *colon = strchr(domain, ':');
  size_t n = colon ? (size_t)(colon - domain) : strlen(domain);
  snprintf(buf, len, "%.*s", (int)n, domain);
}

static bool insecure_entry_matches(const char *entry, size_t n, const char *domain,
                                   const char *host)
{
  while (n > 0 && isspace((unsigned char)*entry)) {
    entry++;
    n--;
  }
  while (n > 0 && isspace((unsigned char)entry[n - 1]))
    n--;
  /* accept "http://host:port" too */
  if (n > 7 && strncmp(entry, "http://", 7) == 0) {
    entry += 7;
    n -= 7;
  }
  while (n > 0 && entry[n - 1] == '/')
    n--;
  if (n == 0)
    return false;
  if (strlen(domain) == n && strncmp(domain, entry, n) == 0)
    return true;
  return strlen(host) == n && strncmp(host, entry, n) == 0;
}

bool husk_registry_is_insecure(const char *domain, char *const *insecure)
{
  char host[256];
  domain_host(domain, host, sizeof(host));
  if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
    return true;
  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127)
    return true;
  for (size_t i = 0; insecure && insecure[i]; i++)
    if (insecure_entry_matches(insecure[i], strlen(insecure[i]), domain, host))
      return true;
  const char *env = getenv("HUSK_INSECURE_REGISTRIES");
  while (env && *env) {
    const char *comma = strchr(env, ',');
    size_t n = comma ? (size_t)(comma - env) : strlen(env);
    if (insecure_entry_matches(env, n, domain, host))
      return true;
    env = comma ? comma + 1 : NULL;
  }
  return false;
}
