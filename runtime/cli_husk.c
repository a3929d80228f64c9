/* `husk`: the docker-like face.  `husk oci ...` is the runc-compatible one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "state.h"
#include "userns.h"
#include "cli_network.h"
#include "porcelain.h"
#include "porcelain_gc.h"

typedef struct pcommand {
  const char *name;
  husk_pcmd_fn fn;
  const char *summary;
} pcommand;

static const pcommand commands[] = {
    {"run", husk_cmd_run, "create and run a container from an image"},
    {"ps", husk_cmd_ps, "list containers"},
    {"logs", husk_cmd_logs, "print the output of a detached container"},
    {"exec", husk_cmd_exec, "run a command in a running container"},
    {"stop", husk_cmd_stop, "stop containers (stop signal, then SIGKILL)"},
    {"kill", husk_cmd_kill, "send a signal to containers"},
    {"rm", husk_cmd_rm, "remove containers"},
    {"inspect", husk_cmd_inspect, "print containers as JSON"},
    {"gc", husk_cmd_gc, "remove what crashed or killed commands left behind"},
    {"volume", husk_cmd_volume, "manage named volumes (create, ls, rm, inspect)"},
    {"network", husk_cmd_network, "manage networks (create, ls, rm, inspect)"},
    {"pull", husk_cmd_pull, "pull an image from a registry"},
    {"load", husk_cmd_load, "load an image from a docker or OCI archive"},
    {"images", husk_cmd_images, "list images"},
    {"rmi", husk_cmd_rmi, "remove images"},
    {"image", husk_cmd_image, "manage images (inspect, ls, rm, load, pull)"},
};

static void usage(FILE *f)
{
  fprintf(f, "Usage: husk [GLOBAL OPTIONS] COMMAND [OPTIONS]\n\n"
             "Global options:\n"
             "  --data-root DIR  images, containers and volumes (default $HUSK_DATA_ROOT, else\n"
             "                   /var/lib/husk; rootless ~/.local/share/husk)\n"
             "  --root DIR       runtime state of containers (default /run/husk; rootless\n"
             "                   $XDG_RUNTIME_DIR/husk)\n"
             "  --debug          errors with their errno\n"
             "  --version        print the version\n\n"
             "Commands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-9s  %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "  %-9s  %s\n", "oci", "the runc-compatible OCI runtime (husk oci --help)");
  fprintf(f, "  %-9s  %s\n", "version", "print the version");
  fprintf(f, "\nRun `husk COMMAND --help` for the options of a command.\n");
}

/* Rootless, the commands that mount or own files of the containers' ids run
 * as root of a user namespace of their own (the others need the user's own
 * identity, e.g. exec to join a container's user namespace). */
static int rootless_enter(husk_pglobal *g, const char *cmd, husk_err *err)
{
  static const char *const in_userns[] = {"run",  "rm",    "rmi",    "load",
                                          "pull", "image", "volume", "gc"};
  if (geteuid() == 0)
    return 0;
  for (size_t i = 0; i < sizeof(in_userns) / sizeof(in_userns[0]); i++) {
    if (strcmp(cmd, in_userns[i]) != 0)
      continue;
    /* the user's paths, before we are "root" */
    g->data_root = husk_data_root(g->data_root);
    return husk_userns_enter(err);
  }
  return 0;
}

/* "--flag VALUE" or "--flag=VALUE" at argv[*i]; advances *i. */
static int flag_value(int argc, char **argv, int *i, const char *flag, const char **out)
{
  size_t n = strlen(flag);
  const char *a = argv[*i];
  if (strncmp(a, flag, n) != 0)
    return 0;
  if (a[n] == '=') {
    *out = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "husk: %s needs a value\n", flag);
    return -1;
  }
  *out = argv[++*i];
  return 1;
}

int husk_main(int argc, char **argv)
{
  husk_pglobal g = {.data_root = NULL, .state_root = husk_default_state_root(), .debug = false};
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    int r;
    if ((r = flag_value(argc, argv, &i, "--data-root", &g.data_root)) != 0) {
      if (r < 0)
        return 125;
      if (*g.data_root == '\0') {
        fprintf(stderr, "husk: --data-root must not be empty\n");
        return 125;
      }
      continue;
    }
    if ((r = flag_value(argc, argv, &i, "--root", &g.state_root)) != 0) {
      if (r < 0)
        return 125;
      if (*g.state_root == '\0') {
        fprintf(stderr, "husk: --root must not be empty\n");
        return 125;
      }
      continue;
    }
    if (strcmp(a, "--debug") == 0 || strcmp(a, "-D") == 0) {
      g.debug = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
      printf("husk version %s\n", HUSK_VERSION);
      return 0;
    }
    fprintf(stderr, "husk: unknown global option %s (see husk --help)\n", a);
    return 125;
  }
  if (i >= argc) {
    usage(stderr);
    return 1;
  }
  const char *cmd = argv[i];
  if (strcmp(cmd, "oci") == 0)
    return husk_oci_main(argc - i, argv + i);
  if (strcmp(cmd, "version") == 0) {
    printf("husk version %s\n", HUSK_VERSION);
    return 0;
  }
  if (strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
    if (strcmp(cmd, commands[k].name) != 0)
      continue;
    husk_err err = {0};
    int r = rootless_enter(&g, cmd, &err);
    if (r == 0)
      r = commands[k].fn(&g, argc - i, argv + i, &err);
    if (r >= 0)
      return r;
    if (g.debug)
      fprintf(stderr, "husk %s: %s [errno %d %s]\n", cmd, err.msg[0] ? err.msg : strerror(-r),
              err.code, strerror(err.code ? err.code : -r));
    else
      fprintf(stderr, "husk %s: %s\n", cmd, err.msg[0] ? err.msg : strerror(-r));
    fflush(stdout);
    /* docker: 125 when husk itself failed to run the container */
    return strcmp(cmd, "run") == 0 || strcmp(cmd, "exec") == 0 ? 125 : 1;
  }
  fprintf(stderr, "husk: unknown command %s (see husk --help)\n", cmd);
  return 1;
}
