/* IP address management for husk's bridge networks: network records and
 * address leases on disk under <data-root>/networks/.
 *
 *   <data-root>/networks/.lock                  flock(2)ed around every change
 *   <data-root>/networks/<name>/network.json    name, bridge, subnet, gateway
 *   <data-root>/networks/<name>/last            last address handed out
 *   <data-root>/networks/<name>/leases/<a.b.c.d>  one JSON lease per address
 *
 * Every file is written atomically (temporary file + rename); a lease exists
 * exactly as long as its address is taken.  Callers take the lock with
 * husk_ipam_lock() and keep it across a read-modify-write. */
#ifndef HUSK_IPAM_H
#define HUSK_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define HUSK_NET_NAME_MAX    64 /* network names are at most 63 characters */
#define HUSK_IFNAME_MAX      16 /* IFNAMSIZ */
#define HUSK_DEFAULT_NETWORK "bridge"
#define HUSK_DEFAULT_BRIDGE  "husk0"

/* An IPv4 prefix; addresses are in host byte order everywhere in husk. */
typedef struct husk_cidr {
  uint32_t addr; /* the network address (host bits zero) */
  int prefix;    /* 0..32 */
} husk_cidr;

/* "10.88.0.0/16".  Host bits must be zero: "10.88.0.5/16" is an error that
 * suggests the network address. */
int husk_cidr_parse(const char *s, husk_cidr *out, husk_err *err);
/* Strict dotted quad (four decimal parts 0..255, no leading zeros). */
int husk_ip_parse(const char *s, uint32_t *out);
/* buf of at least 16 bytes; returns buf. */
char *husk_ip_str(uint32_t ip, char *buf);
/* buf of at least 19 bytes; returns buf. */
char *husk_cidr_str(const husk_cidr *c, char *buf);
uint32_t husk_cidr_mask(int prefix);
bool husk_cidr_contains(const husk_cidr *c, uint32_t ip);
bool husk_cidr_overlaps(const husk_cidr *a, const husk_cidr *b);

/* A published port: -p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp] */
typedef struct husk_port_map {
  uint32_t host_ip; /* 0: every address of the host */
  uint16_t host_port;
  uint16_t container_port;
  int proto; /* IPPROTO_TCP or IPPROTO_UDP */
} husk_port_map;

int husk_port_map_parse(const char *s, husk_port_map *out, husk_err *err);
/* "0.0.0.0:8080:80/tcp" into buf (at least 40 bytes); returns buf. */
char *husk_port_map_str(const husk_port_map *p, char *buf, size_t len);
const char *husk_proto_name(int proto);
/* Same protocol and host port, and host addresses that can both receive. */
bool husk_port_map_conflicts(const husk_port_map *a, const husk_port_map *b);

/* Network and bridge names: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
int husk_network_validate_name(const char *name, husk_err *err);

typedef struct husk_network {
  char name[HUSK_NET_NAME_MAX];
  char bridge[HUSK_IFNAME_MAX];
  husk_cidr subnet;
  uint32_t gateway; /* the bridge's address, first host address by default */
} husk_network;

/* Fill a record for NAME/SUBNET: bridge "husk0" for the default network, else
 * "hk-<name>" (or "hk-<hash>" when the name is too long for an interface). */
int husk_network_init(husk_network *net, const char *name, const husk_cidr *subnet, husk_err *err);
/* -ENOENT (err set) when the network does not exist. */
int husk_network_load(const char *data_root, const char *name, husk_network *out, husk_err *err);
/* Create the record; -EEXIST when it exists. */
int husk_network_save(const char *data_root, const husk_network *net, husk_err *err);
/* Remove the record and its directory; -EBUSY when leases remain. */
int husk_network_delete(const char *data_root, const char *name, husk_err *err);
/* Every network record, sorted by name. */
int husk_network_list(const char *data_root, husk_network **out, size_t *n, husk_err *err);

typedef struct husk_lease {
  char network[HUSK_NET_NAME_MAX];
  uint32_t addr;
  char *container;            /* container id */
  char *name;                 /* container name, or NULL */
  char *hostname;             /* or NULL */
  char veth[HUSK_IFNAME_MAX]; /* host end of the veth pair */
  char *hosts_path;           /* host path of the container's /etc/hosts kept current, or NULL */
  pid_t pid;                  /* the holder: the container's init, or the husk that allocated */
  uint64_t pid_start;
  husk_port_map *ports;
  size_t n_ports;
} husk_lease;

void husk_lease_clear(husk_lease *l);
void husk_leases_free(husk_lease *v, size_t n);

/* Serialize / parse a lease (the file format; exposed for the unit tests). */
char *husk_lease_to_json(const husk_lease *l);
int husk_lease_from_json(const char *json, husk_lease *out, husk_err *err);

/* Exclusive lock on <data-root>/networks/.lock (created as needed). */
int husk_ipam_lock(const char *data_root, int *lockfd, husk_err *err);

/* With the lock held: give LEASE (container, name, ... filled in, addr 0) the
 * next free address of NET, or the address already leased to the same
 * container.  Leases no longer alive (husk_lease_alive) are reclaimed on the way;
 * *reclaimed counts them (the firewall must be rewritten then).  -ENOSPC when
 * the subnet is full. */
int husk_ipam_allocate(const char *data_root, const husk_network *net, husk_lease *lease,
                       int *reclaimed, husk_err *err);
/* With the lock held: rewrite an existing lease (e.g. the pid once known). */
int husk_ipam_update(const char *data_root, const husk_lease *lease, husk_err *err);
/* With the lock held: remove a lease (missing is fine). */
int husk_ipam_release(const char *data_root, const char *network, uint32_t addr, husk_err *err);
/* Every lease of NETWORK (sorted by address); *n = 0 when none. */
int husk_ipam_leases(const char *data_root, const char *network, husk_lease **out, size_t *n,
                     husk_err *err);
/* Every lease of every network. */
int husk_ipam_all_leases(const char *data_root, husk_lease **out, size_t *n, husk_err *err);
/* Is the lease in use: its host veth exists, or its holder process (same pid
 * and start time) lives? */
bool husk_lease_alive(const husk_lease *l);

#endif
