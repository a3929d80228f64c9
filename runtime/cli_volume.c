/* `husk volume create|ls|rm|inspect`. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "porcelain.h"
#include "util.h"

static const char volume_help[] = "Usage: husk volume COMMAND\n"
                                  "\n"
                                  "Manage named volumes (kept after the containers using them are "
                                  "removed).\n"
                                  "\n"
                                  "Commands:\n"
                                  "  create [NAME]        create a volume (a random name if none)\n"
                                  "  ls [-q]              list volumes\n"
                                  "  rm [-f] NAME...      remove volumes (not while a container "
                                  "uses them)\n"
                                  "  inspect NAME...      print volumes as JSON\n";

enum { OPT_HELP = 1000 };

static int vol_create(const husk_home *h, int argc, char **argv, husk_err *err)
{
  if (argc > 2)
    return husk_errorf_plain(err, EINVAL, "volume create takes at most one NAME");
  char gen[HUSK_ID_LEN + 1];
  const char *name = argc == 2 ? argv[1] : NULL;
  if (name == NULL) {
    husk_id_generate(gen);
    name = gen;
  }
  bool created;
  int r = husk_volume_create(h, name, &created, err);
  if (r < 0)
    return r;
  printf("%s\n", name);
  return 0;
}

static int vol_ls(const husk_home *h, int argc, char **argv, husk_err *err)
{
  static const struct option longopts[] = {
      {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, OPT_HELP}, {NULL, 0, NULL, 0}};
  bool quiet = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+q", longopts, NULL)) != -1) {
    if (c == 'q') {
      quiet = true;
    } else if (c == OPT_HELP) {
      printf("Usage: husk volume ls [-q]\n");
      return 0;
    } else {
      return husk_errorf_plain(err, EINVAL, "volume ls: unknown option (see husk volume --help)");
    }
  }
  _cleanup_strv_ char **names = NULL;
  int r = husk_volume_list(h, &names, err);
  if (r < 0)
    return r;
  if (!quiet)
    printf("%-10s%s\n", "DRIVER", "VOLUME NAME");
  for (char **n = names; *n; n++) {
    if (quiet)
      printf("%s\n", *n);
    else
      printf("%-10s%s\n", "local", *n);
  }
  return 0;
}

static int vol_rm(const husk_home *h, int argc, char **argv, husk_err *err)
{
  static const struct option longopts[] = {
      {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, OPT_HELP}, {NULL, 0, NULL, 0}};
  bool force = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+f", longopts, NULL)) != -1) {
    if (c == 'f') {
      force = true;
    } else if (c == OPT_HELP) {
      printf("Usage: husk volume rm [-f] NAME...\n"
             "  -f, --force  no error for volumes that do not exist\n");
      return 0;
    } else {
      return husk_errorf_plain(err, EINVAL, "volume rm: unknown option (see husk volume --help)");
    }
  }
  if (optind >= argc)
    return husk_errorf_plain(err, EINVAL, "volume rm needs at least one NAME");
  int status = 0;
  for (int i = optind; i < argc; i++) {
    husk_err e = {0};
    if (husk_volume_remove(h, argv[i], &e) < 0) {
      if (force && e.code == ENOENT)
        continue;
      fprintf(stderr, "husk volume rm: %s\n", e.msg);
      status = 1;
    } else {
      printf("%s\n", argv[i]);
    }
  }
  return status;
}

static int vol_inspect(const husk_home *h, int argc, char **argv, husk_err *err)
{
  if (argc < 2)
    return husk_errorf_plain(err, EINVAL, "volume inspect needs at least one NAME");
  struct json_object *arr = json_object_new_array();
  int status = 0;
  for (int i = 1; i < argc; i++) {
    husk_err e = {0};
    struct json_object *doc = NULL;
    if (husk_volume_inspect(h, argv[i], &doc, &e) < 0) {
      fprintf(stderr, "husk volume inspect: %s\n", e.msg);
      status = 1;
      continue;
    }
    _cleanup_strv_ char **users = NULL;
    if (husk_volume_users(h, argv[i], &users, &e) == 0) {
      struct json_object *u = json_object_new_array();
      for (char **id = users; *id; id++)
        json_object_array_add(u, json_object_new_string(*id));
      json_object_object_add(doc, "UsedBy", u);
    }
    json_object_array_add(arr, doc);
  }
  printf("%s\n",
         json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(arr);
  return status;
}

int husk_cmd_volume(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(volume_help, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  husk_home h;
  _cleanup_free_ char *dr = NULL;
  int r = husk_home_from_global(g, &h, &dr, err);
  if (r < 0)
    return r;
  const char *sub = argv[1];
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 && strcmp(sub, "ls") != 0 && strcmp(sub, "rm") != 0) {
      fputs(volume_help, stdout);
      return 0;
    }
  }
  if (strcmp(sub, "create") == 0)
    return vol_create(&h, argc - 1, argv + 1, err);
  if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
    return vol_ls(&h, argc - 1, argv + 1, err);
  if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
    return vol_rm(&h, argc - 1, argv + 1, err);
  if (strcmp(sub, "inspect") == 0)
    return vol_inspect(&h, argc - 1, argv + 1, err);
  return husk_errorf_plain(err, EINVAL, "unknown volume command %s (see husk volume --help)", sub);
}
