/* `husk network create|ls|rm|inspect` (cli_network.c). */
#ifndef HUSK_CLI_NETWORK_H
#define HUSK_CLI_NETWORK_H

#include "cli.h"

/* argv[0] is "network", argv[1] the subcommand. */
int husk_cmd_network(const husk_pglobal *g, int argc, char **argv, husk_err *err);

#endif
