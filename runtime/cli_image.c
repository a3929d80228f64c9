/* `husk pull|load|images|rmi|image ...`.  Reading the store happens here;
 * load and pull need libarchive and libcurl, which husk does not link (they
 * would slow every start of husk), so they run the husk-image helper that is
 * installed next to husk. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "image.h"
#include "reference.h"
#include "util.h"

static void storep(husk_store **s)
{
  if (s && *s) {
    husk_store_close(*s);
    *s = NULL;
  }
}
#define _cleanup_store_ __attribute__((cleanup(storep)))

static void jsonp(json_object **o)
{
  if (o && *o) {
    json_object_put(*o);
    *o = NULL;
  }
}
#define _cleanup_json_ __attribute__((cleanup(jsonp)))

/* ---- husk-image ---- */

static int image_tool_path(char *buf, size_t len, husk_err *err)
{
  const char *env = getenv("HUSK_IMAGE_TOOL");
  if (env && *env) {
    snprintf(buf, len, "%s", env);
    return 0;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0)
    return husk_errorf(err, errno, "readlink /proc/self/exe");
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  snprintf(buf, len, "%s/husk-image", self);
  if (access(buf, X_OK) < 0)
    return husk_errorf(err, errno, "%s (the image helper husk-image must sit next to husk)", buf);
  return 0;
}

/* Replace this process with `husk-image [--debug] --data-root R CMD ARGS...`. */
static int exec_image_tool(const husk_pglobal *g, const char *cmd, int argc, char **argv,
                           husk_err *err)
{
  char tool[PATH_MAX];
  int r = image_tool_path(tool, sizeof(tool), err);
  if (r < 0)
    return r;
  char **args = husk_xcalloc((size_t)argc + 6, sizeof(char *));
  size_t k = 0;
  args[k++] = (char *)"husk-image";
  if (g->debug)
    args[k++] = (char *)"--debug";
  args[k++] = (char *)"--data-root";
  args[k++] = (char *)husk_data_root(g->data_root);
  args[k++] = (char *)cmd;
  for (int i = 1; i < argc; i++)
    args[k++] = argv[i];
  args[k] = NULL;
  fflush(stdout);
  execv(tool, args);
  int e = errno;
  free(args);
  return husk_errorf(err, e, "exec %s", tool);
}

int husk_cmd_pull(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  return exec_image_tool(g, "pull", argc, argv, err);
}

int husk_cmd_load(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  return exec_image_tool(g, "load", argc, argv, err);
}

/* ---- formatting ---- */

static void human_size(uint64_t n, char *buf, size_t len)
{
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = (double)n;
  size_t u = 0;
  while (v >= 1000.0 && u + 1 < HUSK_ARRAY_SIZE(units)) {
    v /= 1000.0;
    u++;
  }
  snprintf(buf, len, "%.3g%s", v, units[u]);
}

/* RFC 3339 ("2024-05-01T10:00:00.123Z", "...+02:00") to seconds; -1 if bad. */
static time_t parse_rfc3339(const char *s)
{
  if (s == NULL)
    return -1;
  struct tm tm = {0};
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (p == NULL)
    return -1;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  time_t t = timegm(&tm);
  if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (sscanf(p + 1, "%d:%d", &hh, &mm) >= 1) {
      long off = hh * 3600L + mm * 60L;
      t = *p == '+' ? t - off : t + off;
    }
  }
  return t;
}

static void created_since(const char *created, char *buf, size_t len)
{
  time_t t = parse_rfc3339(created);
  if (t <= 0) {
    snprintf(buf, len, "N/A");
    return;
  }
  double secs = difftime(time(NULL), t);
  if (secs < 0) {
    snprintf(buf, len, "Less than a second ago");
    return;
  }
  long s = (long)secs;
  long mins = s / 60, hours = (long)(secs / 3600.0 + 0.5);
  if (s < 1)
    snprintf(buf, len, "Less than a second ago");
  else if (s == 1)
    snprintf(buf, len, "1 second ago");
  else if (s < 60)
    snprintf(buf, len, "%ld seconds ago", s);
  else if (mins == 1)
    snprintf(buf, len, "About a minute ago");
  else if (mins < 60)
    snprintf(buf, len, "%ld minutes ago", mins);
  else if (hours == 1)
    snprintf(buf, len, "About an hour ago");
  else if (hours < 48)
    snprintf(buf, len, "%ld hours ago", hours);
  else if (hours < 24 * 7 * 2)
    snprintf(buf, len, "%ld days ago", hours / 24);
  else if (hours < 24 * 30 * 2)
    snprintf(buf, len, "%ld weeks ago", hours / 24 / 7);
  else if (hours < 24 * 365 * 2)
    snprintf(buf, len, "%ld months ago", hours / 24 / 30);
  else
    snprintf(buf, len, "%ld years ago", hours / 24 / 365);
}

static void created_at(const char *created, char *buf, size_t len)
{
  time_t t = parse_rfc3339(created);
  if (t <= 0) {
    snprintf(buf, len, "N/A");
    return;
  }
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
}

/* A small subset of Go templates: literal text, {{.Field}}, {{.A.B}},
 * {{json .Field}} and {{json .}}; "\t" and "\n" escapes in the text. */
static int render_template(FILE *f, const char *tmpl, json_object *o, husk_err *err)
{
  const char *p = tmpl;
  while (*p) {
    if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
      fputc(p[1] == 't' ? '\t' : '\n', f);
      p += 2;
      continue;
    }
    if (strncmp(p, "{{", 2) != 0) {
      fputc(*p++, f);
      continue;
    }
    const char *end = strstr(p, "}}");
    if (end == NULL)
      return husk_errorf_plain(err, EINVAL, "template: unclosed action in %s", tmpl);
    _cleanup_free_ char *act = husk_xasprintf("%.*s", (int)(end - p - 2), p + 2);
    p = end + 2;
    char *a = act;
    while (*a == ' ')
      a++;
    size_t al = strlen(a);
    while (al && a[al - 1] == ' ')
      a[--al] = '\0';
    bool as_json = false;
    if (strncmp(a, "json ", 5) == 0) {
      as_json = true;
      a += 5;
      while (*a == ' ')
        a++;
    }
    if (*a != '.')
      return husk_errorf_plain(err, EINVAL, "template: unsupported action {{%s}}", act);
    json_object *cur = o;
    for (char *save = NULL, *tok = strtok_r(a + 1, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save)) {
      json_object *next = NULL;
      if (!json_object_is_type(cur, json_type_object) ||
          !json_object_object_get_ex(cur, tok, &next))
        return husk_errorf_plain(err, EINVAL, "template: no field \"%s\" in {{%s}}", tok, act);
      cur = next;
    }
    if (cur == NULL)
      fputs(as_json ? "null" : "<no value>", f);
    else if (!as_json && json_object_is_type(cur, json_type_string))
      fputs(json_object_get_string(cur), f);
    else
      fputs(json_object_to_json_string_ext(cur,
                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
            f);
  }
  fputc('\n', f);
  return 0;
}

/* ---- husk images ---- */

struct row {
  const husk_image_info *info;
  char *repo; /* familiar repository or "<none>" */
  char *tag;
  char *digest;
  time_t created;
};

static int row_cmp(const void *a, const void *b)
{
  const struct row *x = a, *y = b;
  if (x->created != y->created)
    return x->created > y->created ? -1 : 1;
  int c = strcmp(x->repo, y->repo);
  return c ? c : strcmp(x->tag, y->tag);
}

/* The digest of repo among the image's repo digests, or "<none>". */
static char *digest_for_repo(const husk_image_info *in, const char *norm_repo)
{
  for (size_t i = 0; in->repo_digests && in->repo_digests[i]; i++) {
    const char *d = in->repo_digests[i];
    const char *at = strchr(d, '@');
    if (norm_repo == NULL ||
        ((size_t)(at - d) == strlen(norm_repo) && strncmp(d, norm_repo, (size_t)(at - d)) == 0))
      return husk_xstrdup(at + 1);
  }
  return husk_xstrdup("<none>");
}

static void images_usage(FILE *f)
{
  fprintf(f, "Usage: husk images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
             "List images.\n\n"
             "Options:\n"
             "  -a, --all          show all images (accepted; husk has no intermediate images)\n"
             "      --digests      show digests\n"
             "  -f, --filter F     dangling=true|false, reference=PATTERN\n"
             "      --format F     json, or a template like '{{.Repository}}:{{.Tag}}'\n"
             "      --no-trunc     full image ids\n"
             "  -q, --quiet        only image ids\n");
}

static bool glob_match(const char *pat, const char *s)
{
  if (*pat == '\0')
    return *s == '\0';
  if (*pat == '*')
    return glob_match(pat + 1, s) || (*s && glob_match(pat, s + 1));
  return *s && *pat == *s && glob_match(pat + 1, s + 1);
}

int husk_cmd_images(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},          {"quiet", no_argument, NULL, 'q'},
      {"format", required_argument, NULL, 'F'}, {"no-trunc", no_argument, NULL, 'N'},
      {"digests", no_argument, NULL, 'D'},      {"filter", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  bool quiet = false, no_trunc = false, digests = false;
  const char *format = NULL;
  int dangling = -1;
  const char *ref_filter = NULL;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+aqf:h", opts, NULL)) != -1) {
    switch (c) {
    case 'a':
      break;
    case 'q':
      quiet = true;
      break;
    case 'F':
      format = optarg;
      break;
    case 'N':
      no_trunc = true;
      break;
    case 'D':
      digests = true;
      break;
    case 'f':
      if (strcmp(optarg, "dangling=true") == 0)
        dangling = 1;
      else if (strcmp(optarg, "dangling=false") == 0)
        dangling = 0;
      else if (strncmp(optarg, "reference=", 10) == 0)
        ref_filter = optarg + 10;
      else
        return husk_errorf_plain(err, EINVAL, "images: unsupported filter %s", optarg);
      break;
    case 'h':
      images_usage(stdout);
      return 0;
    default:
      return husk_errorf_plain(err, EINVAL, "images: unknown option %s (see husk images --help)",
                               argv[optind - 1]);
    }
  }
  if (argc - optind > 1)
    return husk_errorf_plain(err, EINVAL, "images: at most one REPOSITORY[:TAG] argument");
  const char *filter = optind < argc ? argv[optind] : NULL;
  husk_ref fref = {0};
  bool filter_tag = false;
  if (filter) {
    if (husk_ref_parse(filter, &fref, err) < 0)
      return husk_error_wrap(err, "images");
    const char *slash = strrchr(filter, '/');
    const char *colon = strrchr(filter, ':');
    filter_tag = colon && (slash == NULL || colon > slash);
  }

  _cleanup_store_ husk_store *s = NULL;
  int r = husk_store_open(g->data_root, &s, err);
  if (r < 0) {
    husk_ref_free(&fref);
    return r;
  }
  husk_image_info *infos = NULL;
  size_t n = 0;
  r = husk_store_list(s, &infos, &n, err);
  if (r < 0) {
    husk_ref_free(&fref);
    return r;
  }
  _cleanup_free_ char *fnorm = filter ? husk_ref_repo(&fref) : NULL;

  size_t nrows = 0, cap = 16;
  struct row *rows = husk_xcalloc(cap, sizeof(*rows));
  for (size_t i = 0; i < n; i++) {
    const husk_image_info *in = &infos[i];
    time_t created = parse_rfc3339(in->created);
    bool has_tags = in->repo_tags && in->repo_tags[0];
    if (dangling == 1 && has_tags)
      continue;
    if (dangling == 0 && !has_tags)
      continue;
    size_t nt = has_tags ? husk_strv_len(in->repo_tags) : 1;
    for (size_t t = 0; t < nt; t++) {
      char *repo, *tag, *digest;
      if (has_tags) {
        husk_ref pr;
        husk_err ignored;
        if (husk_ref_parse(in->repo_tags[t], &pr, &ignored) < 0)
          continue;
        _cleanup_free_ char *norm = husk_ref_repo(&pr);
        if (filter && (strcmp(norm, fnorm) != 0 || (filter_tag && strcmp(pr.tag, fref.tag) != 0))) {
          husk_ref_free(&pr);
          continue;
        }
        repo = husk_ref_familiar_repo(&pr);
        tag = husk_xstrdup(pr.tag);
        digest = digest_for_repo(in, norm);
        husk_ref_free(&pr);
        if (ref_filter) {
          _cleanup_free_ char *rt = husk_xasprintf("%s:%s", repo, tag);
          if (!glob_match(ref_filter, repo) && !glob_match(ref_filter, rt)) {
            free(repo);
            free(tag);
            free(digest);
            continue;
          }
        }
      } else {
        if (filter || ref_filter)
          continue;
        /* pulled by digest only: the repository is known, the tag is not */
        repo = NULL;
        if (in->repo_digests && in->repo_digests[0]) {
          husk_ref pr;
          husk_err ignored;
          if (husk_ref_parse(in->repo_digests[0], &pr, &ignored) == 0) {
            repo = husk_ref_familiar_repo(&pr);
            husk_ref_free(&pr);
          }
        }
        if (repo == NULL)
          repo = husk_xstrdup("<none>");
        tag = husk_xstrdup("<none>");
        digest = digest_for_repo(in, NULL);
      }
      if (nrows == cap)
        rows = husk_xrealloc(rows, (cap *= 2) * sizeof(*rows));
      rows[nrows++] =
          (struct row){.info = in, .repo = repo, .tag = tag, .digest = digest, .created = created};
    }
  }
  husk_ref_free(&fref);
  qsort(rows, nrows, sizeof(*rows), row_cmp);

  bool json = format && strcmp(format, "json") == 0;
  bool table = format == NULL || strncmp(format, "table", 5) == 0;
  if (format && strncmp(format, "table ", 6) == 0)
    format += 6; /* "table {{...}}": the header is not printed by us */
  else if (format && strcmp(format, "table") == 0)
    format = NULL;
  if (quiet) {
    char **seen = NULL;
    for (size_t i = 0; i < nrows; i++) {
      const char *id = rows[i].info->id;
      bool dup = false;
      for (size_t k = 0; seen && seen[k]; k++)
        if (strcmp(seen[k], id) == 0)
          dup = true;
      if (dup)
        continue;
      size_t ns = husk_strv_len(seen);
      seen = husk_xrealloc(seen, (ns + 2) * sizeof(char *));
      seen[ns] = (char *)id;
      seen[ns + 1] = NULL;
      if (no_trunc)
        printf("%s\n", id);
      else
        printf("%.12s\n", id + 7);
    }
    free(seen);
  }
  if (!quiet && (table && format == NULL)) {
    int wr = 10, wt = 3, wd = 6;
    for (size_t i = 0; i < nrows; i++) {
      if ((int)strlen(rows[i].repo) > wr)
        wr = (int)strlen(rows[i].repo);
      if ((int)strlen(rows[i].tag) > wt)
        wt = (int)strlen(rows[i].tag);
      if ((int)strlen(rows[i].digest) > wd)
        wd = (int)strlen(rows[i].digest);
    }
    int wi = no_trunc ? 71 : 12;
    if (digests)
      printf("%-*s   %-*s   %-*s   %-*s   %-16s   %s\n", wr, "REPOSITORY", wt, "TAG", wd, "DIGEST",
             wi, "IMAGE ID", "CREATED", "SIZE");
    else
      printf("%-*s   %-*s   %-*s   %-16s   %s\n", wr, "REPOSITORY", wt, "TAG", wi, "IMAGE ID",
             "CREATED", "SIZE");
    for (size_t i = 0; i < nrows; i++) {
      char since[64], size[32];
      created_since(rows[i].info->created, since, sizeof(since));
      human_size(rows[i].info->size, size, sizeof(size));
      const char *id = rows[i].info->id;
      _cleanup_free_ char *shown = no_trunc ? husk_xstrdup(id) : husk_xasprintf("%.12s", id + 7);
      if (digests)
        printf("%-*s   %-*s   %-*s   %-*s   %-16s   %s\n", wr, rows[i].repo, wt, rows[i].tag, wd,
               rows[i].digest, wi, shown, since, size);
      else
        printf("%-*s   %-*s   %-*s   %-16s   %s\n", wr, rows[i].repo, wt, rows[i].tag, wi, shown,
               since, size);
    }
  } else if (!quiet) {
    for (size_t i = 0; i < nrows && r >= 0; i++) {
      char since[64], size[32], at[64];
      created_since(rows[i].info->created, since, sizeof(since));
      created_at(rows[i].info->created, at, sizeof(at));
      human_size(rows[i].info->size, size, sizeof(size));
      const char *id = rows[i].info->id;
      _cleanup_free_ char *shown = no_trunc ? husk_xstrdup(id) : husk_xasprintf("%.12s", id + 7);
      _cleanup_json_ json_object *o = json_object_new_object();
      json_object_object_add(o, "Containers", json_object_new_string("N/A"));
      json_object_object_add(o, "CreatedAt", json_object_new_string(at));
      json_object_object_add(o, "CreatedSince", json_object_new_string(since));
      json_object_object_add(o, "Digest", json_object_new_string(rows[i].digest));
      json_object_object_add(o, "ID", json_object_new_string(shown));
      json_object_object_add(o, "Repository", json_object_new_string(rows[i].repo));
      json_object_object_add(o, "SharedSize", json_object_new_string("N/A"));
      json_object_object_add(o, "Size", json_object_new_string(size));
      json_object_object_add(o, "Tag", json_object_new_string(rows[i].tag));
      json_object_object_add(o, "UniqueSize", json_object_new_string("N/A"));
      json_object_object_add(o, "VirtualSize", json_object_new_string(size));
      if (json)
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
      else
        r = render_template(stdout, format, o, err);
    }
  }
  for (size_t i = 0; i < nrows; i++) {
    free(rows[i].repo);
    free(rows[i].tag);
    free(rows[i].digest);
  }
  free(rows);
  husk_image_info_free(infos, n);
  return r < 0 ? r : 0;
}

/* ---- husk rmi ---- */

static void rmi_usage(FILE *f)
{
  fprintf(f, "Usage: husk rmi [OPTIONS] IMAGE [IMAGE...]\n\n"
             "Remove images: untag a reference, delete an image with its last reference, and\n"
             "delete the layers no image uses any more.\n\n"
             "Options:\n"
             "  -f, --force   remove an image with several references, or one a container uses\n"
             "                (only untagged then: the container keeps its image)\n");
}

int husk_cmd_rmi(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                       {"no-prune", no_argument, NULL, 'P'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool force = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      force = true;
      break;
    case 'P':
      break;
    case 'h':
      rmi_usage(stdout);
      return 0;
    default:
      return husk_errorf_plain(err, EINVAL, "rmi: unknown option %s (see husk rmi --help)",
                               argv[optind - 1]);
    }
  }
  if (optind >= argc)
    return husk_errorf_plain(err, EINVAL, "rmi: requires at least one IMAGE (see husk rmi --help)");
  _cleanup_store_ husk_store *s = NULL;
  int r = husk_store_open(g->data_root, &s, err);
  if (r < 0)
    return r;
  int failed = 0;
  husk_err last = {0};
  for (int i = optind; i < argc; i++) {
    _cleanup_strv_ char **untagged = NULL;
    _cleanup_strv_ char **deleted = NULL;
    husk_err e = {0};
    r = husk_image_remove(s, argv[i], force, &untagged, &deleted, &e);
    for (size_t k = 0; untagged && untagged[k]; k++) {
      _cleanup_free_ char *f = husk_ref_familiar(untagged[k]);
      printf("Untagged: %s\n", f);
    }
    for (size_t k = 0; deleted && deleted[k]; k++)
      printf("Deleted: %s\n", deleted[k]);
    if (r < 0) {
      if (failed)
        fprintf(stderr, "husk: %s\n", last.msg);
      last = e;
      failed++;
    }
  }
  fflush(stdout);
  if (failed) {
    *err = last;
    return husk_error_ret(err);
  }
  return 0;
}

/* ---- husk image inspect ---- */

static void inspect_usage(FILE *f)
{
  fprintf(f, "Usage: husk image inspect [OPTIONS] IMAGE [IMAGE...]\n\n"
             "Show images as JSON.\n\n"
             "Options:\n"
             "  -f, --format F   a template like '{{.Id}}' or '{{json .Config}}'\n");
}

static int image_inspect(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *format = NULL;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      format = optarg;
      break;
    case 'h':
      inspect_usage(stdout);
      return 0;
    default:
      return husk_errorf_plain(err, EINVAL, "image inspect: bad option %s (see --help)",
                               argv[optind - 1]);
    }
  }
  if (optind >= argc)
    return husk_errorf_plain(err, EINVAL, "image inspect: requires at least one IMAGE");
  _cleanup_store_ husk_store *s = NULL;
  int r = husk_store_open(g->data_root, &s, err);
  if (r < 0)
    return r;
  _cleanup_json_ json_object *arr = json_object_new_array();
  int failed = 0;
  husk_err last = {0};
  for (int i = optind; i < argc; i++) {
    _cleanup_free_ char *js = NULL;
    husk_err e = {0};
    r = husk_image_inspect_json(s, argv[i], &js, &e);
    if (r < 0) {
      if (failed)
        fprintf(stderr, "husk: %s\n", last.msg);
      last = e;
      failed++;
      continue;
    }
    json_object *o = json_tokener_parse(js);
    if (o == NULL)
      return husk_errorf_plain(err, EINVAL, "image inspect: internal JSON error");
    if (format) {
      r = render_template(stdout, format, o, err);
      json_object_put(o);
      if (r < 0)
        return r;
    } else {
      json_object_array_add(arr, o);
    }
  }
  if (format == NULL)
    printf("%s\n",
           json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
  fflush(stdout);
  if (failed) {
    *err = last;
    return husk_error_ret(err);
  }
  return 0;
}

/* ---- husk image prune ---- */

static int image_prune(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  bool all = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--all") == 0)
      all = true;
    else if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--force") == 0)
      ;
    else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("Usage: husk image prune [-a] [-f]\n\n"
             "Remove untagged images no container uses (-a: every image no container uses).\n");
      return 0;
    } else
      return husk_errorf_plain(err, EINVAL, "image prune: unknown argument %s", argv[i]);
  }
  _cleanup_store_ husk_store *s = NULL;
  int r = husk_store_open(g->data_root, &s, err);
  if (r < 0)
    return r;
  husk_image_info *infos = NULL;
  size_t n = 0;
  r = husk_store_list(s, &infos, &n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n && r >= 0; i++) {
    if (!all && infos[i].repo_tags && infos[i].repo_tags[0])
      continue;
    _cleanup_strv_ char **holders = NULL;
    r = husk_image_holders(s, infos[i].id, &holders, err);
    if (r < 0 || (holders && holders[0]))
      continue;
    _cleanup_strv_ char **untagged = NULL;
    _cleanup_strv_ char **deleted = NULL;
    r = husk_image_remove(s, infos[i].id, true, &untagged, &deleted, err);
    for (size_t k = 0; untagged && untagged[k]; k++) {
      _cleanup_free_ char *f = husk_ref_familiar(untagged[k]);
      printf("untagged: %s\n", f);
    }
    for (size_t k = 0; deleted && deleted[k]; k++)
      printf("deleted: %s\n", deleted[k]);
  }
  husk_image_info_free(infos, n);
  return r < 0 ? r : 0;
}

/* ---- husk image ... ---- */

static void image_usage(FILE *f)
{
  fprintf(f, "Usage: husk image COMMAND\n\n"
             "Commands:\n"
             "  inspect   show images as JSON\n"
             "  ls        list images (husk images)\n"
             "  load      load an image archive (husk load)\n"
             "  prune     remove unused untagged images\n"
             "  pull      pull an image from a registry (husk pull)\n"
             "  rm        remove images (husk rmi)\n");
}

int husk_cmd_image(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  if (argc < 2) {
    image_usage(stderr);
    return 1;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "inspect") == 0)
    return image_inspect(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
    return husk_cmd_images(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
    return husk_cmd_rmi(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "load") == 0)
    return husk_cmd_load(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "pull") == 0)
    return husk_cmd_pull(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "prune") == 0)
    return image_prune(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
    image_usage(stdout);
    return 0;
  }
  return husk_errorf_plain(err, EINVAL, "image: unknown command %s (see husk image --help)", sub);
}
