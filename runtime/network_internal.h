/* Private to the network module: netlink (rtnetlink through libmnl) for
 * links, addresses and routes, in the current netns or another one, and the
 * string builder of the generated files (hosts, resolv.conf, the nftables
 * ruleset). */
#ifndef HUSK_NETWORK_INTERNAL_H
#define HUSK_NETWORK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ipam.h"

struct mnl_socket;

typedef struct husk_nl {
  struct mnl_socket *sock;
  unsigned portid;
  unsigned seq;
} husk_nl;

/* A rtnetlink socket in the netns netns_fd (-1: the current one).  The
 * socket stays in that netns for its whole life. */
int husk_nl_open(husk_nl *nl, int netns_fd, husk_err *err);
void husk_nl_close(husk_nl *nl);
#define _cleanup_nl_ __attribute__((cleanup(husk_nl_close)))

/* Interface index by name: > 0, or -ENODEV (err untouched), or < 0 with err. */
int husk_nl_link_index(husk_nl *nl, const char *name, husk_err *err);
int husk_nl_bridge_add(husk_nl *nl, const char *name, husk_err *err);
/* veth pair: `host` here (enslaved to master_index when > 0), `peer` created
 * directly in the netns peer_netns_fd with that name. */
int husk_nl_veth_add(husk_nl *nl, const char *host, int master_index, const char *peer,
                     int peer_netns_fd, husk_err *err);
/* -ENODEV when the link does not exist (err untouched). */
int husk_nl_link_del(husk_nl *nl, const char *name, husk_err *err);
int husk_nl_link_up(husk_nl *nl, int index, husk_err *err);
/* addr/prefix with the broadcast address of the prefix; EEXIST is fine. */
int husk_nl_addr_add(husk_nl *nl, int index, uint32_t addr, int prefix, husk_err *err);
int husk_nl_default_route_add(husk_nl *nl, int index, uint32_t gateway, husk_err *err);

/* Destination prefixes of the IPv4 unicast routes of the main table and the
 * local routes of the local table (the default route left out, and those
 * through interface skip_oif when > 0). */
int husk_nl_routes(husk_nl *nl, int skip_oif, husk_cidr **out, size_t *n, husk_err *err);

/* Open /proc/<pid>/ns/net or path. */
int husk_netns_open(pid_t pid, const char *path, int *fd, husk_err *err);

/* A growing string (network_text.c): start with {0}; s stays NULL until the
 * first husk_sb_add. */
typedef struct husk_sbuf {
  char *s;
  size_t len, cap;
} husk_sbuf;

void husk_sb_add(husk_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
