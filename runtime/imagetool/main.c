/* husk-image: `husk load` and `husk pull` run this helper (husk execs it), so
 * that libarchive and libcurl are loaded only when an image is fetched. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imagetool.h"
#include "util.h"

static void usage(FILE *f)
{
  fprintf(f, "Usage: husk-image [--data-root DIR] COMMAND ...\n\n"
             "The image helper of husk (husk load / husk pull run it).\n\n"
             "Commands:\n"
             "  load [-q] [-i FILE]      load a docker-archive or OCI archive (stdin without -i)\n"
             "  pull [OPTIONS] NAME[:TAG|@DIGEST]\n"
             "                           pull an image from a registry\n");
}

static void load_usage(FILE *f)
{
  fprintf(f, "Usage: husk load [OPTIONS]\n\n"
             "Load an image from a docker-archive or OCI archive (tar, optionally gzip or zstd\n"
             "compressed), from a file or stdin.\n\n"
             "Options:\n"
             "  -i, --input FILE   read from FILE instead of stdin\n"
             "  -q, --quiet        print nothing on success\n");
}

static void pull_usage(FILE *f)
{
  fprintf(f,
          "Usage: husk pull [OPTIONS] NAME[:TAG|@DIGEST]\n\n"
          "Pull an image from a registry (OCI distribution API).\n\n"
          "Options:\n"
          "      --insecure-registry HOST  use plain HTTP for HOST[:PORT] (repeatable; also\n"
          "                                $HUSK_INSECURE_REGISTRIES, comma separated);\n"
          "                                localhost and 127.0.0.0/8 always use HTTP\n"
          "      --platform OS/ARCH        pick this platform from a manifest list\n"
          "                                (default: linux/%s)\n"
          "  -q, --quiet                   print only the image reference\n",
          husk_host_platform_arch());
}

static int cmd_load(husk_store *s, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *input = NULL;
  bool quiet = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      input = optarg;
      break;
    case 'q':
      quiet = true;
      break;
    case 'h':
      load_usage(stdout);
      return 0;
    default:
      return husk_errorf_plain(err, EINVAL, "load: bad option %s (see husk load --help)",
                               argv[optind - 1]);
    }
  }
  if (optind < argc)
    return husk_errorf_plain(err, EINVAL, "load: unexpected argument %s (use -i FILE)",
                             argv[optind]);
  return husk_image_load(s, input, quiet ? NULL : stdout, err);
}

static int cmd_pull(husk_store *s, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"insecure-registry", required_argument, NULL, 'I'},
                                       {"platform", required_argument, NULL, 'p'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  _cleanup_strv_ char **insecure = husk_xcalloc(1, sizeof(char *));
  husk_pull_opts o = {0};
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
    switch (c) {
    case 'I': {
      size_t n = husk_strv_len(insecure);
      insecure = husk_xrealloc(insecure, (n + 2) * sizeof(char *));
      insecure[n] = husk_xstrdup(optarg);
      insecure[n + 1] = NULL;
      break;
    }
    case 'p':
      o.platform = optarg;
      break;
    case 'q':
      o.quiet = true;
      break;
    case 'h':
      pull_usage(stdout);
      return 0;
    default:
      return husk_errorf_plain(err, EINVAL, "pull: bad option %s (see husk pull --help)",
                               argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return husk_errorf_plain(err, EINVAL, "pull: requires exactly one NAME[:TAG|@DIGEST]");
  o.insecure = insecure;
  o.progress = isatty(1);
  return husk_image_pull(s, argv[optind], &o, stdout, err);
}

int main(int argc, char **argv)
{
  const char *data_root = NULL;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--data-root") == 0 && i + 1 < argc)
      data_root = argv[++i];
    else if (strncmp(argv[i], "--data-root=", 12) == 0)
      data_root = argv[i] + 12;
    else if (strcmp(argv[i], "--debug") == 0)
      setenv("HUSK_DEBUG_HTTP", "1", 1);
    else
      break;
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[i];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  bool is_load = strcmp(cmd, "load") == 0, is_pull = strcmp(cmd, "pull") == 0;
  if (!is_load && !is_pull) {
    fprintf(stderr, "husk-image: unknown command %s\n", cmd);
    return 2;
  }
  for (int k = i + 1; k < argc; k++)
    if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
      if (is_load)
        load_usage(stdout);
      else
        pull_usage(stdout);
      return 0;
    }
  husk_err err = {0};
  husk_store *s = NULL;
  int r = husk_store_open(data_root, &s, &err);
  if (r >= 0) {
    if (is_pull)
      curl_global_init(CURL_GLOBAL_DEFAULT);
    r = is_load ? cmd_load(s, argc - i, argv + i, &err) : cmd_pull(s, argc - i, argv + i, &err);
    if (is_pull)
      curl_global_cleanup();
    husk_store_close(s);
  }
  fflush(stdout);
  if (r < 0) {
    fprintf(stderr, "husk: %s\n", err.msg);
    return 1;
  }
  return r;
}
