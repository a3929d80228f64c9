/* `husk gc`: remove what crashes and kills left behind (porcelain_gc.c).
 *
 * A `husk run`, a monitor or a `husk rm` killed at any point, a lost /run or
 * a disk that filled up can leave runtime debris: OCI state directories,
 * cgroups, overlay mounts, IPAM leases (and with them firewall rules),
 * container directories without a record, names and image holds of
 * containers that do not exist, store temp files and unused layers.  gc
 * removes those and nothing a user can still ask for: containers kept after
 * they exited stay (listed by `husk ps -a`, removed by `husk rm`), running
 * containers stay, and `husk oci` containers that ran stay unless --oci. */
#ifndef HUSK_PORCELAIN_GC_H
#define HUSK_PORCELAIN_GC_H

#include <stdbool.h>

#include "error.h"
#include "porcelain.h"

typedef struct husk_gc_opts {
  /* also delete the stopped `husk oci` containers of the state root (their
   * init has exited), like `husk oci delete` of each */
  bool oci;
  /* leftovers that carry no owner (a container directory without a record, a
   * name or an image hold of a missing container, a state directory without
   * state) are only removed once this many seconds old: a `husk run` or a
   * create may be writing them right now */
  int min_age;
} husk_gc_opts;

#define HUSK_GC_MIN_AGE_DEFAULT 60

/* Called for each thing removed (error false: "removed ...") and for each
 * thing that could not be (error true). */
typedef void (*husk_gc_report_fn)(void *arg, bool error, const char *line);

/* Remove the debris; goes on after a failure, then returns the first one. */
int husk_gc(const husk_home *h, const husk_gc_opts *o, husk_gc_report_fn report, void *arg,
            husk_err *err);

struct husk_pglobal;
/* `husk gc [--oci] [--min-age SECONDS]` (cli_container.c) */
int husk_cmd_gc(const struct husk_pglobal *g, int argc, char **argv, husk_err *err);

#endif
