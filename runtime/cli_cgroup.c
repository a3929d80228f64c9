/* OCI cgroup commands (early skeleton: being implemented, issue 3). */
#include "cli.h"

#include <errno.h>

#define HUSK_CGROUP_CMD_STUB(name)                                                                 \
  int husk_oci_cmd_##name(const husk_global *g, int argc, char **argv, husk_err *err)              \
  {                                                                                                \
    (void)g;                                                                                       \
    (void)argc;                                                                                    \
    (void)argv;                                                                                    \
    return husk_errorf(err, ENOSYS, "%s", #name);                                                  \
  }

HUSK_CGROUP_CMD_STUB(update)
HUSK_CGROUP_CMD_STUB(pause)
HUSK_CGROUP_CMD_STUB(resume)
HUSK_CGROUP_CMD_STUB(events)
HUSK_CGROUP_CMD_STUB(stats)
