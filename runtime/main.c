/* husk: `husk oci ...` (runc-compatible) and, invoked as husk-oci, the same
 * OCI command line directly. */
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (strcmp(base, "husk-oci") == 0 || strcmp(base, "runc") == 0)
    return husk_oci_main(argc, argv);
  return husk_main(argc, argv);
}
