/* `husk pull`: the OCI distribution API over libcurl.  HTTPS with certificate
 * checks, plain HTTP only for loopback and registries marked insecure;
 * anonymous bearer tokens (WWW-Authenticate: Bearer realm=..,service=..,
 * scope=..) as Docker Hub hands out; manifest lists and OCI indexes resolved
 * to one platform; every manifest, config and layer checked against its
 * digest; layers already in the store are neither downloaded nor unpacked
 * again. */
#include "imagetool.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "manifest.h"
#include "reference.h"
#include "util.h"

#define MAX_MANIFEST (8u << 20)
#define MAX_CONFIG   (32u << 20)

#define MANIFEST_ACCEPT                                                                            \
  "Accept: " MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

/* ---- progress ---- */

struct progress {
  FILE *out;
  char label[16];
  uint64_t total;
  uint64_t last_ns;
  bool draw;
};

static void human(uint64_t n, char *buf, size_t len)
{
  static const char *const u[] = {"B", "kB", "MB", "GB", "TB"};
  double v = (double)n;
  size_t i = 0;
  while (v >= 1000.0 && i + 1 < HUSK_ARRAY_SIZE(u)) {
    v /= 1000.0;
    i++;
  }
  snprintf(buf, len, "%.3g%s", v, u[i]);
}

static void progress_line(struct progress *p, const char *status, uint64_t now, uint64_t total)
{
  if (!p->draw)
    return;
  if (total == 0) {
    fprintf(p->out, "\r%s: %s\033[K", p->label, status);
  } else {
    char bar[52];
    int width = 50;
    int fill = (int)(now >= total ? width : (double)now / (double)total * width);
    for (int i = 0; i < width; i++)
      bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = '\0';
    char a[16], b[16];
    human(now, a, sizeof(a));
    human(total, b, sizeof(b));
    fprintf(p->out, "\r%s: %s [%s] %s/%s\033[K", p->label, status, bar, a, b);
  }
  fflush(p->out);
}

static int xferinfo(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
  (void)ultotal;
  (void)ulnow;
  struct progress *p = data;
  uint64_t t = husk_now_ns();
  if (!p->draw || t - p->last_ns < 100000000ull)
    return 0;
  p->last_ns = t;
  uint64_t total = p->total ? p->total : (uint64_t)(dltotal > 0 ? dltotal : 0);
  progress_line(p, "Downloading", (uint64_t)dlnow, total);
  return 0;
}

/* ---- one HTTP exchange ---- */

struct resp {
  long status;
  char *www_auth;
  char *content_type;
  char *docker_digest;
  /* memory sink */
  char *body;
  size_t len, cap, max;
  bool too_big;
  /* file sink */
  int fd;
  struct sha256_ctx sha;
  uint64_t written;
  int write_errno;
};

static void resp_reset_headers(struct resp *r)
{
  free(r->www_auth);
  free(r->content_type);
  free(r->docker_digest);
  r->www_auth = r->content_type = r->docker_digest = NULL;
}

static void resp_free(struct resp *r)
{
  resp_reset_headers(r);
  free(r->body);
  memset(r, 0, sizeof(*r));
}

static size_t on_header(char *buf, size_t size, size_t n, void *data)
{
  struct resp *r = data;
  size_t len = size * n;
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    resp_reset_headers(r); /* a new response (after a redirect) */
    return len;
  }
  const char *colon = memchr(buf, ':', len);
  if (colon == NULL)
    return len;
  size_t klen = (size_t)(colon - buf);
  const char *v = colon + 1;
  size_t vlen = len - klen - 1;
  while (vlen && (*v == ' ' || *v == '\t')) {
    v++;
    vlen--;
  }
  while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
    vlen--;
  char **slot = NULL;
  if (klen == 16 && strncasecmp(buf, "www-authenticate", 16) == 0)
    slot = &r->www_auth;
  else if (klen == 12 && strncasecmp(buf, "content-type", 12) == 0)
    slot = &r->content_type;
  else if (klen == 21 && strncasecmp(buf, "docker-content-digest", 21) == 0)
    slot = &r->docker_digest;
  if (slot) {
    free(*slot);
    *slot = husk_xasprintf("%.*s", (int)vlen, v);
  }
  return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *data)
{
  struct resp *r = data;
  size_t len = size * n;
  if (r->fd >= 0) {
    int w = husk_write_all(r->fd, buf, len);
    if (w < 0) {
      r->write_errno = -w;
      return 0;
    }
    sha256_update(&r->sha, len, (const uint8_t *)buf);
    r->written += len;
    return len;
  }
  if (r->len + len > r->max) {
    r->too_big = true;
    return 0;
  }
  if (r->len + len + 1 > r->cap) {
    r->cap = (r->len + len + 1) * 2;
    r->body = husk_xrealloc(r->body, r->cap);
  }
  memcpy(r->body + r->len, buf, len);
  r->len += len;
  r->body[r->len] = '\0';
  return len;
}

struct reg {
  char *domain;
  char *base; /* "https://registry-1.docker.io" */
  char *repo; /* "library/busybox" */
  char *token;
  bool insecure;
  bool debug;
};

static int http_get(struct reg *g, const char *url, const char *accept, bool auth, struct resp *r,
                    struct progress *prog, husk_err *err)
{
  CURL *c = curl_easy_init();
  if (c == NULL)
    return husk_errorf_plain(err, ENOMEM, "curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdrs = NULL;
  if (accept)
    hdrs = curl_slist_append(hdrs, accept);
  _cleanup_free_ char *authz = NULL;
  if (auth && g->token) {
    authz = husk_xasprintf("Authorization: Bearer %s", g->token);
    hdrs = curl_slist_append(hdrs, authz);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, g->insecure ? "http,https" : "https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "husk/" HUSK_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  if (g->debug)
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  if (prog && prog->draw) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, prog);
  }
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  if (rc != CURLE_OK) {
    if (r->too_big)
      return husk_errorf_plain(err, EFBIG, "GET %s: response larger than %zu bytes", url, r->max);
    if (r->write_errno)
      return husk_errorf(err, r->write_errno, "GET %s: write", url);
    return husk_errorf_plain(err, EIO, "GET %s: %s", url,
                             *errbuf ? errbuf : curl_easy_strerror(rc));
  }
  return 0;
}

/* ---- bearer tokens ---- */

static int fetch_token(struct reg *g, const char *challenge, husk_err *err)
{
  if (strncasecmp(challenge, "Bearer", 6) != 0)
    return husk_errorf_plain(err, EACCES,
                             "registry %s asks for %.*s authentication: only anonymous (bearer "
                             "token) pulls are supported",
                             g->domain, (int)strcspn(challenge, " "), challenge);
  _cleanup_free_ char *realm = husk_auth_challenge_param(challenge, "realm");
  _cleanup_free_ char *service = husk_auth_challenge_param(challenge, "service");
  _cleanup_free_ char *scope = husk_auth_challenge_param(challenge, "scope");
  if (realm == NULL)
    return husk_errorf_plain(err, EACCES, "registry %s: bearer challenge without a realm",
                             g->domain);
  if (scope == NULL)
    scope = husk_xasprintf("repository:%s:pull", g->repo);
  CURL *c = curl_easy_init();
  char *es = service ? curl_easy_escape(c, service, 0) : NULL;
  char *sc = curl_easy_escape(c, scope, 0);
  curl_easy_cleanup(c);
  _cleanup_free_ char *url =
      husk_xasprintf("%s%s%s%s%sscope=%s", realm, strchr(realm, '?') ? "&" : "?",
                     es ? "service=" : "", es ? es : "", es ? "&" : "", sc);
  curl_free(es);
  curl_free(sc);
  struct resp r = {.fd = -1, .max = 1 << 20};
  int rc = http_get(g, url, NULL, false, &r, NULL, err);
  if (rc < 0) {
    resp_free(&r);
    return husk_error_wrap(err, "get an anonymous token");
  }
  if (r.status != 200) {
    long st = r.status;
    resp_free(&r);
    return husk_errorf_plain(err, EACCES, "token server %s answered HTTP %ld", realm, st);
  }
  char *tok = husk_auth_token_parse(r.body ? r.body : "", r.len);
  resp_free(&r);
  if (tok == NULL)
    return husk_errorf_plain(err, EACCES, "token server %s gave no token", realm);
  free(g->token);
  g->token = tok;
  return 0;
}

/* GET with the token dance: a 401 with a Bearer challenge gets a token and
 * one retry. */
static int reg_get(struct reg *g, const char *url, const char *accept, struct resp *r,
                   struct progress *prog, husk_err *err)
{
  for (int attempt = 0;; attempt++) {
    int rc = http_get(g, url, accept, true, r, prog, err);
    if (rc < 0)
      return rc;
    if (r->status != 401 || attempt > 0 || r->www_auth == NULL)
      return 0;
    _cleanup_free_ char *ch = husk_xstrdup(r->www_auth);
    rc = fetch_token(g, ch, err);
    if (rc < 0)
      return rc;
    /* start over with empty sinks */
    resp_reset_headers(r);
    r->len = 0;
    r->status = 0;
    if (r->fd >= 0) {
      if (ftruncate(r->fd, 0) < 0 || lseek(r->fd, 0, SEEK_SET) < 0)
        return husk_errorf(err, errno, "reset download file");
      sha256_init(&r->sha);
      r->written = 0;
    }
  }
}

static int status_error(struct reg *g, const char *what, long status, const char *body,
                        husk_err *err)
{
  if (status == 401 || status == 403)
    return husk_errorf_plain(err, EACCES,
                             "pull access denied for %s/%s: repository does not exist or needs "
                             "a login",
                             g->domain, g->repo);
  if (status == 404)
    return husk_errorf_plain(err, ENOENT, "%s/%s: %s not found", g->domain, g->repo, what);
  char snippet[160] = "";
  if (body)
    snprintf(snippet, sizeof(snippet), ": %.150s", body);
  for (char *p = snippet; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  return husk_errorf_plain(err, EIO, "%s/%s: %s: HTTP %ld%s", g->domain, g->repo, what, status,
                           snippet);
}

/* ---- manifests ---- */

struct manifest {
  char *digest;
  char *body;
  size_t len;
  husk_manifest m;
};

static void manifest_free(struct manifest *m)
{
  free(m->digest);
  free(m->body);
  husk_manifest_free(&m->m);
  memset(m, 0, sizeof(*m));
}

/* GET a manifest by tag or digest; its digest is computed from the bytes and
 * checked against the one asked for and the one the registry states. */
static int get_manifest(struct reg *g, const char *ref, struct manifest *m, husk_err *err)
{
  _cleanup_free_ char *url = husk_xasprintf("%s/v2/%s/manifests/%s", g->base, g->repo, ref);
  struct resp r = {.fd = -1, .max = MAX_MANIFEST};
  int rc = reg_get(g, url, MANIFEST_ACCEPT, &r, NULL, err);
  if (rc < 0) {
    resp_free(&r);
    return rc;
  }
  if (r.status != 200) {
    _cleanup_free_ char *what = husk_xasprintf("manifest %s", ref);
    rc = status_error(g, what, r.status, r.body, err);
    resp_free(&r);
    return rc;
  }
  char hex[65];
  husk_sha256_hex(r.body ? r.body : "", r.len, hex);
  _cleanup_free_ char *digest = husk_xasprintf("sha256:%s", hex);
  if (strncmp(ref, "sha256:", 7) == 0 && strcmp(ref, digest) != 0) {
    resp_free(&r);
    return husk_errorf_plain(err, EINVAL, "manifest %s: digest mismatch: content is %s", ref,
                             digest);
  }
  if (r.docker_digest && strncmp(r.docker_digest, "sha256:", 7) == 0 &&
      strcmp(r.docker_digest, digest) != 0) {
    rc = husk_errorf_plain(err, EINVAL,
                           "manifest %s: the registry says digest %s, the content is %s", ref,
                           r.docker_digest, digest);
    resp_free(&r);
    return rc;
  }
  rc = husk_manifest_parse(r.body ? r.body : "", r.len, ref, NULL, r.content_type, &m->m, err);
  if (rc < 0) {
    resp_free(&r);
    return rc;
  }
  m->digest = husk_steal_ptr(digest);
  m->body = husk_steal_ptr(r.body);
  m->len = r.len;
  resp_free(&r);
  return 0;
}

/* ---- blobs ---- */

static int get_blob_mem(struct reg *g, const char *digest, size_t max, char **out, size_t *len,
                        husk_err *err)
{
  _cleanup_free_ char *url = husk_xasprintf("%s/v2/%s/blobs/%s", g->base, g->repo, digest);
  struct resp r = {.fd = -1, .max = max};
  int rc = reg_get(g, url, NULL, &r, NULL, err);
  if (rc < 0) {
    resp_free(&r);
    return rc;
  }
  if (r.status != 200) {
    _cleanup_free_ char *what = husk_xasprintf("blob %s", digest);
    rc = status_error(g, what, r.status, NULL, err);
    resp_free(&r);
    return rc;
  }
  char hex[65];
  husk_sha256_hex(r.body ? r.body : "", r.len, hex);
  if (strcmp(hex, digest + 7) != 0) {
    resp_free(&r);
    return husk_errorf_plain(err, EINVAL, "blob %s: digest mismatch: content is sha256:%s", digest,
                             hex);
  }
  *out = r.body ? husk_steal_ptr(r.body) : husk_xstrdup("");
  *len = r.len;
  resp_free(&r);
  return 0;
}

static int download_blob(husk_store *s, struct reg *g, const char *digest, uint64_t size,
                         struct progress *prog, husk_err *err)
{
  _cleanup_free_ char *tmp = husk_xasprintf("%s/tmp/dl-XXXXXX", husk_store_root(s));
  _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "create a download file in %s/tmp", husk_store_root(s));
  _cleanup_free_ char *url = husk_xasprintf("%s/v2/%s/blobs/%s", g->base, g->repo, digest);
  struct resp r = {.fd = fd};
  sha256_init(&r.sha);
  int rc = reg_get(g, url, NULL, &r, prog, err);
  if (rc >= 0 && r.status != 200) {
    _cleanup_free_ char *what = husk_xasprintf("blob %s", digest);
    rc = status_error(g, what, r.status, NULL, err);
  }
  if (rc >= 0 && size && r.written != size)
    rc = husk_errorf_plain(err, EIO, "blob %s: got %llu bytes, the manifest says %llu", digest,
                           (unsigned long long)r.written, (unsigned long long)size);
  if (rc >= 0) {
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&r.sha, sizeof(d), d);
    char hex[65];
    for (size_t i = 0; i < sizeof(d); i++)
      sprintf(hex + 2 * i, "%02x", d[i]);
    if (strcmp(hex, digest + 7) != 0)
      rc = husk_errorf_plain(err, EINVAL, "blob %s: digest mismatch: content is sha256:%s", digest,
                             hex);
  }
  if (rc >= 0)
    rc = husk_store_put_blob_file(s, tmp, digest, err);
  if (rc < 0)
    unlink(tmp);
  resp_free(&r);
  return rc;
}

/* ---- pull ---- */

static void reg_free(struct reg *g)
{
  free(g->domain);
  free(g->base);
  free(g->repo);
  free(g->token);
}

int husk_image_pull(husk_store *s, const char *name, const husk_pull_opts *o, FILE *out,
                    husk_err *err)
{
  husk_ref ref;
  int r = husk_ref_parse(name, &ref, err);
  if (r < 0)
    return r;
  husk_platform plat;
  r = husk_platform_parse(o->platform, &plat, err);
  if (r < 0) {
    husk_ref_free(&ref);
    return r;
  }
  _cleanup_close_ int busy = husk_store_busy(s, err);
  if (busy < 0) {
    husk_ref_free(&ref);
    return busy;
  }
  struct reg g = {0};
  g.domain = husk_xstrdup(ref.domain);
  g.repo = husk_xstrdup(ref.path);
  g.insecure = husk_registry_is_insecure(ref.domain, o->insecure);
  g.base = husk_xasprintf("%s://%s", g.insecure ? "http" : "https", husk_registry_host(ref.domain));
  g.debug = getenv("HUSK_DEBUG_HTTP") != NULL;
  _cleanup_free_ char *full = husk_ref_string(&ref);
  _cleanup_free_ char *familiar = husk_ref_familiar(full);
  FILE *msg = o->quiet ? NULL : out;
  const char *want = ref.digest ? ref.digest : ref.tag;
  if (msg && ref.tag && !ref.digest)
    fprintf(msg, "%s: Pulling from %s\n", ref.tag, g.repo);

  struct manifest top = {0}, man = {0};
  _cleanup_free_ char *cfg = NULL;
  size_t cfg_len = 0;
  const char **blob_digests = NULL;
  char **diff_ids = NULL;
  uint64_t *sizes = NULL;
  size_t nl = 0;
  bool all_present = true;

  r = get_manifest(&g, want, &top, err);
  if (r < 0)
    goto out;
  if (top.m.is_index) {
    const husk_descriptor *d = husk_manifest_pick(&top.m, &plat, false);
    if (d == NULL) {
      r = husk_errorf_plain(err, ENOENT, "%s has no image for %s/%s%s%s", familiar, plat.os,
                            plat.arch, plat.variant[0] ? "/" : "", plat.variant);
      goto out;
    }
    if (!husk_digest_valid(d->digest)) {
      r = husk_errorf_plain(err, EINVAL, "%s: bad digest in the manifest list", familiar);
      goto out;
    }
    r = get_manifest(&g, d->digest, &man, err);
    if (r < 0)
      goto out;
    if (man.m.is_index) {
      r = husk_errorf_plain(err, EINVAL, "%s: nested manifest lists are not supported", familiar);
      goto out;
    }
  } else {
    man = top;
    memset(&top, 0, sizeof(top));
    top.digest = husk_xstrdup(man.digest);
  }

  /* husk_manifest_parse checked the config and layer digests */
  const char *cdig = man.m.config.digest;
  nl = man.m.n_layers;
  if (husk_store_has_blob(s, cdig)) {
    _cleanup_free_ char *p = husk_store_blob_path(s, cdig);
    r = husk_read_file_at(AT_FDCWD, p, &cfg, &cfg_len, err);
  } else {
    r = get_blob_mem(&g, cdig, MAX_CONFIG, &cfg, &cfg_len, err);
    if (r >= 0)
      r = husk_store_put_blob(s, cfg, cfg_len, cdig, NULL, err);
  }
  if (r < 0)
    goto out;
  r = husk_config_diff_ids(cfg, cfg_len, cdig, nl, &diff_ids, err);
  if (r < 0)
    goto out;
  blob_digests = husk_xcalloc(nl + 1, sizeof(char *));
  sizes = husk_xcalloc(nl + 1, sizeof(uint64_t));
  for (size_t i = 0; i < nl; i++)
    blob_digests[i] = man.m.layers[i].digest;
  for (size_t i = 0; i < nl; i++) {
    struct progress prog = {.out = out, .draw = o->progress && msg != NULL};
    snprintf(prog.label, sizeof(prog.label), "%.12s", blob_digests[i] + 7);
    prog.total = man.m.layers[i].size;
    if (husk_store_has_layer(s, diff_ids[i])) {
      r = husk_layer_unpack(s, NULL, diff_ids[i], &sizes[i], err);
      if (msg)
        fprintf(msg, "%s: Already exists\n", prog.label);
      continue;
    }
    all_present = false;
    if (!husk_store_has_blob(s, blob_digests[i])) {
      progress_line(&prog, "Downloading", 0, prog.total);
      r = download_blob(s, &g, blob_digests[i], prog.total, &prog, err);
      if (r < 0) {
        if (prog.draw)
          fputc('\n', out);
        husk_error_wrap(err, "layer %.12s", blob_digests[i] + 7);
        goto out;
      }
    }
    progress_line(&prog, "Extracting", 0, 0);
    _cleanup_free_ char *bp = husk_store_blob_path(s, blob_digests[i]);
    r = husk_layer_unpack(s, bp, diff_ids[i], &sizes[i], err);
    if (r < 0) {
      if (prog.draw)
        fputc('\n', out);
      goto out;
    }
    if (prog.draw)
      fprintf(out, "\r%s: Pull complete\033[K\n", prog.label);
    else if (msg)
      fprintf(msg, "%s: Pull complete\n", prog.label);
  }
  r = husk_store_put_blob(s, man.body, man.len, man.digest, NULL, err);
  if (r < 0)
    goto out;

  {
    /* up to date when the reference already names this image */
    bool up_to_date = false;
    {
      _cleanup_free_ char *cur = NULL;
      husk_err ignored;
      if (all_present && husk_image_resolve(s, full, &cur, &ignored) == 0 && strcmp(cur, cdig) == 0)
        up_to_date = true;
    }
    _cleanup_free_ char *repo = husk_ref_repo(&ref);
    _cleanup_free_ char *digest_ref = husk_xasprintf("%s@%s", repo, top.digest);
    _cleanup_free_ char *tag_ref =
        ref.tag && !ref.digest ? husk_xasprintf("%s:%s", repo, ref.tag) : NULL;
    char *refs[3] = {digest_ref, tag_ref, NULL};
    husk_image_record rec = {.config_digest = cdig,
                             .manifest_digest = man.digest,
                             .n_layers = nl,
                             .diff_ids = (const char *const *)diff_ids,
                             .layer_digests = blob_digests,
                             .layer_sizes = sizes,
                             .refs = refs};
    r = husk_store_commit_image(s, &rec, err);
    if (r < 0)
      goto out;
    if (msg) {
      fprintf(msg, "Digest: %s\n", top.digest);
      fprintf(msg, "Status: %s for %s\n",
              up_to_date ? "Image is up to date" : "Downloaded newer image", familiar);
    }
    if (out)
      fprintf(out, "%s\n", full);
  }
out:
  if (r < 0)
    husk_error_wrap(err, "pull %s", familiar);
  manifest_free(&top);
  manifest_free(&man);
  free(blob_digests);
  husk_strv_free(diff_ids);
  free(sizes);
  reg_free(&g);
  husk_ref_free(&ref);
  return r;
}
