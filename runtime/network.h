/* Container networking for the porcelain (`husk run`): bridge networks with
 * veth pairs, IPAM, published ports and the /etc/hosts, /etc/hostname and
 * /etc/resolv.conf of a container.  `husk oci` never uses this: an OCI
 * container only creates or joins network namespaces.
 *
 * The model (docker's):
 *   bridge (default)  the network "bridge" (device husk0, 10.88.0.0/16 or the
 *                     first free /16 of a fallback list) or a network made by
 *                     `husk network create`.  One veth pair per container: the
 *                     host end (hk<hash>) on the bridge, the container end
 *                     created right in the container's netns as eth0, with an
 *                     address from IPAM and a default route via the bridge.
 *   none              a new netns with only lo, up.
 *   host              the host's netns (no new one).
 *   container:NAME    another container's netns (the porcelain puts its path
 *                     in the spec; nothing to set up here).
 *
 * Firewall: husk owns `table ip husk` and nothing else.  It holds masquerade
 * and forward rules for every network in use and the DNAT rules of published
 * ports; it is rewritten as a whole (one nftables transaction, by the helper
 * program husk-netfw) when the first container joins a network, when the last
 * one leaves, and when a container with published ports comes or goes, and
 * deleted when no container needs it.
 *
 * How the porcelain uses it (porcelain_network.c, `husk run`; the mode enum
 * and --network parsing are the porcelain's):
 *   bridge: in husk_pnet_prepare, make the new netns (lo up) as for none, then
 *     husk_net_setup() with opts.netns_path = "/proc/self/fd/N" and pid 0:
 *     ports checked, address leased, bridge + veth + eth0 + route +
 *     firewall, all before the container exists.  husk_net_hosts(),
 *     husk_net_hostname(), husk_net_resolv_conf() give the three files; write
 *     them under the container's directory and bind-mount them (pass the
 *     hosts file as opts.hosts_path: the library rewrites it in place when
 *     peers come and go, so containers find each other by name).
 *   none: the porcelain's own netns with lo up (or husk_net_loopback_up()).
 *   host, container:NAME: nothing here.
 *   On stop/rm, on --rm exit and when a later step of the start fails:
 *     husk_net_teardown() (idempotent; nothing to do for none/host).
 * husk_net_prepare() + husk_net_attach(pid) split the same work for a
 * caller that needs the address before the netns exists.
 *
 * A lease is held while its host veth exists (the container's netns is
 * alive) or, before that, while the process that took it lives; leases of
 * crashed starts are reclaimed by later allocations. */
#ifndef HUSK_NETWORK_H
#define HUSK_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "ipam.h"

typedef struct husk_net_opts {
  const char *data_root;    /* --data-root (networks/ lives there) */
  const char *network;      /* bridge network name; NULL: "bridge" (created on first use) */
  const char *container_id; /* required */
  const char *name;         /* container name: what peers resolve; may be NULL */
  const char *hostname;     /* the container's hostname (also resolvable); may be NULL */
  const husk_port_map *ports;
  size_t n_ports;
  const char *hosts_path; /* optional: the container's hosts file on the host, kept current */
  const char *netns_path; /* attach: the netns to use instead of /proc/<pid>/ns/net */
} husk_net_opts;

typedef struct husk_net_result {
  char network[HUSK_NET_NAME_MAX];
  char bridge[HUSK_IFNAME_MAX];
  char host_veth[HUSK_IFNAME_MAX];
  char ifname[HUSK_IFNAME_MAX]; /* "eth0" */
  uint32_t addr, gateway;       /* host byte order */
  husk_cidr subnet;
  char addr_str[16], gateway_str[16];
} husk_net_result;

/* Bridge mode, before the container exists: make sure the network record
 * exists (the default one is created on first use, with a subnet that does
 * not overlap the host's routes), check the published ports (clear errors for
 * a port published by another container or in use on the host), and lease an
 * address.  Nothing is changed in the kernel yet. */
int husk_net_prepare(const husk_net_opts *o, husk_net_result *out, husk_err *err);

/* Bridge mode, once the container's netns exists: bridge (created and given
 * the gateway address when missing), veth pair, eth0 in the container with
 * its address and default route, lo up, firewall.  Call husk_net_teardown()
 * when it fails (attach leaves what it did for teardown to remove). */
int husk_net_attach(const husk_net_opts *o, pid_t pid, husk_net_result *out, husk_err *err);

/* prepare + attach; on failure everything is undone. */
int husk_net_setup(const husk_net_opts *o, pid_t pid, husk_net_result *out, husk_err *err);

/* Everything of the container: host veth, lease, its DNAT rules, the
 * network's rules when it was the last user; peers' hosts files are
 * rewritten.  Idempotent: 0 when there is nothing to remove. */
int husk_net_teardown(const char *data_root, const char *container_id, husk_err *err);

/* --network none: bring lo up in the netns of pid (or netns_path when not NULL). */
int husk_net_loopback_up(pid_t pid, const char *netns_path, husk_err *err);

/* ---- the container's /etc files (malloc'ed contents) -------------------- */

typedef struct husk_host_entry {
  uint32_t addr;
  const char *name;     /* may be NULL */
  const char *hostname; /* may be NULL */
} husk_host_entry;

/* /etc/hosts: the localhost lines, then `self` (a zero address, for --network
 * none, puts its names on 127.0.1.1 as Debian does), then the peers (entries
 * with self's address are skipped). */
char *husk_net_hosts_format(const husk_host_entry *self, const husk_host_entry *peers,
                            size_t n_peers);
/* /etc/hosts of a bridge container from its lease and its network's leases
 * (call after prepare).  The container is found by opts->container_id. */
int husk_net_hosts(const husk_net_opts *o, char **out, husk_err *err);
/* /etc/hostname: "NAME\n". */
char *husk_net_hostname(const char *hostname);
/* /etc/resolv.conf from the host's one (NULL: read /etc/resolv.conf).  Unless
 * host_network, nameservers on loopback (127.0.0.0/8, ::1) are dropped since
 * the container cannot reach them, and when none is left 8.8.8.8 and 8.8.4.4
 * are used.  dns / search / options (NULL terminated, may be NULL) replace
 * the host's lines of that kind (--dns, --dns-search, --dns-option). */
char *husk_net_resolv_conf(const char *host_resolv, bool host_network, char *const *dns,
                           char *const *search, char *const *options);

/* The veth host-side name husk uses for a container id ("hk" + 12 hex). */
void husk_net_veth_name(const char *container_id, char *buf /* HUSK_IFNAME_MAX */);

/* ---- firewall ----------------------------------------------------------- */

typedef struct husk_fw_network {
  const char *bridge;
  husk_cidr subnet;
} husk_fw_network;

typedef struct husk_fw_port {
  husk_port_map map;
  uint32_t container_addr;
} husk_fw_port;

/* The nftables script that makes `table ip husk` exactly this (the table is
 * deleted when both lists are empty).  Pure: unit tested. */
char *husk_fw_ruleset(const husk_fw_network *nets, size_t n_nets, const husk_fw_port *ports,
                      size_t n_ports);
/* Compute the ruleset from every lease and apply it through husk-netfw
 * ($HUSK_NETFW, else next to the running executable, else on PATH).  Call
 * with the IPAM lock held. */
int husk_fw_sync(const char *data_root, husk_err *err);

/* The subnet of the default network: the first of 10.88.0.0/16, 10.89.0.0/16,
 * ... 10.99.0.0/16, 172.18.0.0/16 ... 172.31.0.0/16 that overlaps neither the
 * host's IPv4 routes nor another husk network. */
int husk_net_default_subnet(const char *data_root, husk_cidr *out, husk_err *err);
/* Does `c` overlap one of the host's IPv4 routes (the default route aside)?
 * *route gets the first overlapping one. */
int husk_net_route_overlap(const husk_cidr *c, bool *overlaps, husk_cidr *route, husk_err *err);

#endif
