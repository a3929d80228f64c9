/* Command-line layer: parse flags, call one library function, return an exit
 * code.  Errors come back in husk_err and are printed once by main(). */
#ifndef HUSK_CLI_H
#define HUSK_CLI_H

#include <stdbool.h>

#include "error.h"

typedef struct husk_global {
  const char *root;           /* --root, default /run/husk */
  const char *log_path;       /* --log */
  bool log_json;              /* --log-format json */
  bool debug;                 /* --debug */
  const char *cgroup_manager; /* --cgroup-manager / --systemd-cgroup */
} husk_global;

/* A command: returns an exit status (>= 0) or a negative error with err set. */
typedef int (*husk_cmd_fn)(const husk_global *g, int argc, char **argv, husk_err *err);

/* `husk oci ...` / `husk-oci ...`: argv[0] is the program name. */
int husk_oci_main(int argc, char **argv);
/* `husk ...` */
int husk_main(int argc, char **argv);

/* Print an error once to stderr and, when --log is set, as a log line. */
void husk_cli_report(const husk_global *g, const husk_err *err);
/* Append a line to the --log file (level: "debug", "info", "warning", "error"). */
void husk_cli_log(const husk_global *g, const char *level, const char *msg);

/* cgroup commands (cli_cgroup.c) */
int husk_oci_cmd_update(const husk_global *g, int argc, char **argv, husk_err *err);
int husk_oci_cmd_pause(const husk_global *g, int argc, char **argv, husk_err *err);
int husk_oci_cmd_resume(const husk_global *g, int argc, char **argv, husk_err *err);
int husk_oci_cmd_events(const husk_global *g, int argc, char **argv, husk_err *err);
int husk_oci_cmd_stats(const husk_global *g, int argc, char **argv, husk_err *err);

/* porcelain (`husk CMD`): global flags shared by every command */
typedef struct husk_pglobal {
  const char *data_root;  /* --data-root / $HUSK_DATA_ROOT / /var/lib/husk */
  const char *state_root; /* --root: OCI state of porcelain containers, default /run/husk */
  bool debug;
} husk_pglobal;

typedef int (*husk_pcmd_fn)(const husk_pglobal *g, int argc, char **argv, husk_err *err);

/* image commands (cli_image.c) */
int husk_cmd_pull(const husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_load(const husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_images(const husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_rmi(const husk_pglobal *g, int argc, char **argv, husk_err *err);
int husk_cmd_image(const husk_pglobal *g, int argc, char **argv,
                   husk_err *err); /* image inspect|ls|rm|load|pull */

#endif
