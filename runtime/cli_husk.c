/* `husk`: the docker-like face.  `husk oci ...` is the runc-compatible one. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
  fprintf(f, "Usage: husk COMMAND [OPTIONS]\n\n"
             "Commands:\n"
             "  oci        the runc-compatible OCI runtime (husk oci --help)\n"
             "  version    print the version\n"
             "  help       this help\n");
}

int husk_main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 1;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "oci") == 0)
    return husk_oci_main(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "-v") == 0) {
    printf("husk version %s\n", HUSK_VERSION);
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "husk: unknown command %s (see husk help)\n", cmd);
  return 1;
}
