/* Bridge networking of a container: prepare (IPAM, ports), attach (bridge,
 * veth, eth0, routes, firewall), teardown. */
#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "network_internal.h"
#include "state.h"
#include "util.h"

#define CONTAINER_IFNAME "eth0"

typedef struct lease_list {
  husk_lease *v;
  size_t n;
} lease_list;

static void lease_list_free(lease_list *l)
{
  husk_leases_free(l->v, l->n);
  l->v = NULL;
  l->n = 0;
}
#define _cleanup_leases_ __attribute__((cleanup(lease_list_free)))

static void lease_freep(husk_lease *l)
{
  husk_lease_clear(l);
}
#define _cleanup_lease_ __attribute__((cleanup(lease_freep)))

static const char *net_name(const husk_net_opts *o)
{
  return o->network && *o->network ? o->network : HUSK_DEFAULT_NETWORK;
}

/* The marker that says the firewall lags behind the leases (a stale lease was
 * reclaimed by prepare): the next attach or teardown rewrites it. */
static char *dirty_path(const char *data_root)
{
  return husk_xasprintf("%s/networks/.fw-dirty", data_root);
}

static void fill_result(const husk_network *net, const husk_lease *l, husk_net_result *out)
{
  memset(out, 0, sizeof(*out));
  snprintf(out->network, sizeof(out->network), "%s", net->name);
  snprintf(out->bridge, sizeof(out->bridge), "%s", net->bridge);
  snprintf(out->host_veth, sizeof(out->host_veth), "%s", l->veth);
  snprintf(out->ifname, sizeof(out->ifname), "%s", CONTAINER_IFNAME);
  out->addr = l->addr;
  out->gateway = net->gateway;
  out->subnet = net->subnet;
  husk_ip_str(out->addr, out->addr_str);
  husk_ip_str(out->gateway, out->gateway_str);
}

/* ---- subnets and routes ------------------------------------------------- */

int husk_net_route_overlap(const husk_cidr *c, bool *overlaps, husk_cidr *route, husk_err *err)
{
  husk_nl nl _cleanup_nl_ = {0};
  int r = husk_nl_open(&nl, -1, err);
  if (r < 0)
    return r;
  husk_cidr *routes = NULL;
  size_t n = 0;
  r = husk_nl_routes(&nl, 0, &routes, &n, err);
  if (r < 0)
    return r;
  *overlaps = false;
  for (size_t i = 0; i < n; i++) {
    if (husk_cidr_overlaps(c, &routes[i])) {
      *overlaps = true;
      if (route)
        *route = routes[i];
      break;
    }
  }
  free(routes);
  return 0;
}

int husk_net_default_subnet(const char *data_root, husk_cidr *out, husk_err *err)
{
  husk_nl nl _cleanup_nl_ = {0};
  int r = husk_nl_open(&nl, -1, err);
  if (r < 0)
    return r;
  husk_cidr *routes = NULL;
  size_t nr = 0;
  /* husk0 left by an earlier data root is ours: its subnet is free for us */
  r = husk_nl_routes(&nl, (int)if_nametoindex(HUSK_DEFAULT_BRIDGE), &routes, &nr, err);
  if (r < 0)
    return r;
  husk_network *nets = NULL;
  size_t nn = 0;
  r = husk_network_list(data_root, &nets, &nn, err);
  if (r < 0) {
    free(routes);
    return r;
  }
  r = husk_errorf_plain(err, EADDRNOTAVAIL,
                        "no free /16 for the default network (10.88-99.0.0/16 and "
                        "172.18-31.0.0/16 all overlap host routes or husk networks); create "
                        "one with husk network create NAME --subnet CIDR");
  for (int i = 0; i < 12 + 14; i++) {
    husk_cidr c = {.prefix = 16};
    c.addr = i < 12 ? (10u << 24 | (uint32_t)(88 + i) << 16)
                    : (172u << 24 | (uint32_t)(18 + i - 12) << 16);
    bool used = false;
    for (size_t j = 0; j < nr && !used; j++)
      used = husk_cidr_overlaps(&c, &routes[j]);
    for (size_t j = 0; j < nn && !used; j++)
      used = husk_cidr_overlaps(&c, &nets[j].subnet);
    if (!used) {
      *out = c;
      r = 0;
      break;
    }
  }
  free(routes);
  free(nets);
  return r;
}

/* ---- prepare ------------------------------------------------------------ */

static int ensure_network(const char *data_root, const char *name, husk_network *net, husk_err *err)
{
  int r = husk_network_load(data_root, name, net, err);
  if (r != -ENOENT)
    return r;
  if (strcmp(name, HUSK_DEFAULT_NETWORK) != 0)
    return husk_errorf_plain(err, ENOENT,
                             "network %s not found (create it with: husk network create %s "
                             "--subnet CIDR)",
                             name, name);
  husk_cidr c;
  r = husk_net_default_subnet(data_root, &c, err);
  if (r < 0)
    return r;
  r = husk_network_init(net, name, &c, err);
  if (r < 0)
    return r;
  r = husk_network_save(data_root, net, err);
  if (r == -EEXIST)
    return husk_network_load(data_root, name, net, err);
  return r;
}

static int check_port_free(const husk_port_map *p, husk_err *err)
{
  int type = p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
  _cleanup_close_ int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return husk_errorf(err, errno, "socket");
  int one = 1;
  if (type == SOCK_STREAM)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_port = htons(p->host_port), .sin_addr.s_addr = htonl(p->host_ip)};
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
    return 0;
  char ip[16];
  husk_ip_str(p->host_ip, ip);
  if (errno == EADDRINUSE)
    return husk_errorf_plain(err, EADDRINUSE, "cannot publish %s:%u/%s: port is already in use", ip,
                             p->host_port, husk_proto_name(p->proto));
  if (errno == EADDRNOTAVAIL)
    return husk_errorf_plain(err, EADDRNOTAVAIL,
                             "cannot publish %s:%u/%s: %s is not an address of this host", ip,
                             p->host_port, husk_proto_name(p->proto), ip);
  return husk_errorf(err, errno, "cannot publish %s:%u/%s", ip, p->host_port,
                     husk_proto_name(p->proto));
}

static int check_ports(const char *data_root, const husk_net_opts *o, husk_err *err)
{
  char a[48], b[48];
  for (size_t i = 0; i < o->n_ports; i++)
    for (size_t j = 0; j < i; j++)
      if (husk_port_map_conflicts(&o->ports[i], &o->ports[j]))
        return husk_errorf_plain(err, EINVAL, "port mappings %s and %s use the same host port",
                                 husk_port_map_str(&o->ports[j], a, sizeof(a)),
                                 husk_port_map_str(&o->ports[i], b, sizeof(b)));
  if (o->n_ports == 0)
    return 0;
  lease_list all _cleanup_leases_ = {0};
  int r = husk_ipam_all_leases(data_root, &all.v, &all.n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < o->n_ports; i++) {
    for (size_t k = 0; k < all.n; k++) {
      const husk_lease *l = &all.v[k];
      if (l->container && strcmp(l->container, o->container_id) == 0)
        continue;
      for (size_t m = 0; m < l->n_ports; m++)
        if (husk_port_map_conflicts(&o->ports[i], &l->ports[m]))
          return husk_errorf_plain(err, EADDRINUSE,
                                   "cannot publish %s: port is already published by container %s",
                                   husk_port_map_str(&o->ports[i], a, sizeof(a)),
                                   l->name && *l->name ? l->name : l->container);
    }
    r = check_port_free(&o->ports[i], err);
    if (r < 0)
      return r;
  }
  return 0;
}

static int validate_opts(const husk_net_opts *o, husk_err *err)
{
  if (o->data_root == NULL || *o->data_root == '\0')
    return husk_errorf_plain(err, EINVAL, "network: no data root");
  if (o->container_id == NULL || *o->container_id == '\0')
    return husk_errorf_plain(err, EINVAL, "network: no container id");
  return husk_network_validate_name(net_name(o), err);
}

static int prepare_locked(const husk_net_opts *o, husk_network *net, husk_lease *lease,
                          husk_err *err)
{
  int r = ensure_network(o->data_root, net_name(o), net, err);
  if (r < 0)
    return r;
  r = check_ports(o->data_root, o, err);
  if (r < 0)
    return r;
  memset(lease, 0, sizeof(*lease));
  lease->container = husk_xstrdup(o->container_id);
  lease->name = husk_xstrdup(o->name);
  lease->hostname = husk_xstrdup(o->hostname);
  lease->hosts_path = husk_xstrdup(o->hosts_path);
  husk_net_veth_name(o->container_id, lease->veth);
  lease->pid = getpid();
  lease->pid_start = husk_pid_start_time(lease->pid);
  if (o->n_ports) {
    lease->ports = husk_xcalloc(o->n_ports, sizeof(*lease->ports));
    memcpy(lease->ports, o->ports, o->n_ports * sizeof(*lease->ports));
    lease->n_ports = o->n_ports;
  }
  int reclaimed = 0;
  r = husk_ipam_allocate(o->data_root, net, lease, &reclaimed, err);
  if (r < 0)
    return r;
  if (reclaimed) {
    _cleanup_free_ char *dirty = dirty_path(o->data_root);
    husk_err e2;
    husk_write_file_atomic(AT_FDCWD, dirty, "1\n", 2, &e2);
  }
  return 0;
}

int husk_net_prepare(const husk_net_opts *o, husk_net_result *out, husk_err *err)
{
  int r = validate_opts(o, err);
  if (r < 0)
    return r;
  _cleanup_close_ int lock = -1;
  r = husk_ipam_lock(o->data_root, &lock, err);
  if (r < 0)
    return r;
  husk_network net;
  husk_lease lease _cleanup_lease_ = {0};
  r = prepare_locked(o, &net, &lease, err);
  if (r < 0)
    return r;
  fill_result(&net, &lease, out);
  return 0;
}

/* ---- hosts files -------------------------------------------------------- */

static char *hosts_for(const husk_lease *self, const lease_list *peers)
{
  husk_host_entry me = {.addr = self->addr, .name = self->name, .hostname = self->hostname};
  husk_host_entry *pe = husk_xcalloc(peers->n, sizeof(*pe));
  size_t n = 0;
  for (size_t i = 0; i < peers->n; i++) {
    const husk_lease *l = &peers->v[i];
    if (l->addr == self->addr)
      continue;
    pe[n++] = (husk_host_entry){.addr = l->addr, .name = l->name, .hostname = l->hostname};
  }
  char *s = husk_net_hosts_format(&me, pe, n);
  free(pe);
  return s;
}

int husk_net_hosts(const husk_net_opts *o, char **out, husk_err *err)
{
  int r = validate_opts(o, err);
  if (r < 0)
    return r;
  lease_list ll _cleanup_leases_ = {0};
  r = husk_ipam_leases(o->data_root, net_name(o), &ll.v, &ll.n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < ll.n; i++) {
    if (ll.v[i].container && strcmp(ll.v[i].container, o->container_id) == 0) {
      *out = hosts_for(&ll.v[i], &ll);
      return 0;
    }
  }
  return husk_errorf_plain(err, ENOENT, "container %s has no address in network %s",
                           o->container_id, net_name(o));
}

/* Rewrite, in place (they are bind-mounted), the hosts files of the
 * containers of a network.  Best effort: a container being removed at the
 * same time must not fail another one's start. */
static void refresh_hosts_files(const char *data_root, const char *network)
{
  lease_list ll _cleanup_leases_ = {0};
  husk_err e;
  if (husk_ipam_leases(data_root, network, &ll.v, &ll.n, &e) < 0)
    return;
  for (size_t i = 0; i < ll.n; i++) {
    const husk_lease *l = &ll.v[i];
    if (l->hosts_path == NULL || *l->hosts_path != '/')
      continue;
    _cleanup_close_ int fd = open(l->hosts_path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      continue;
    _cleanup_free_ char *content = hosts_for(l, &ll);
    (void)husk_write_all(fd, content, strlen(content));
  }
}

/* ---- attach ------------------------------------------------------------- */

static int write_sysctl(const char *path, const char *val, bool only_if_zero, husk_err *err)
{
  _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", path);
  if (only_if_zero) {
    char cur[8];
    ssize_t n = pread(fd, cur, sizeof(cur) - 1, 0);
    if (n > 0 && cur[0] != '0')
      return 0;
  }
  if (pwrite(fd, val, strlen(val), 0) < 0)
    return husk_errorf(err, errno, "write %s to %s", val, path);
  return 0;
}

static int ensure_bridge(husk_nl *nl, const husk_network *net, int *index, husk_err *err)
{
  int idx = husk_nl_link_index(nl, net->bridge, err);
  if (idx == -ENODEV) {
    int r = husk_nl_bridge_add(nl, net->bridge, err);
    if (r < 0)
      return r;
    idx = husk_nl_link_index(nl, net->bridge, err);
    if (idx == -ENODEV)
      return husk_errorf(err, ENODEV, "bridge %s vanished after its creation", net->bridge);
  }
  if (idx < 0)
    return idx;
  int r = husk_nl_addr_add(nl, idx, net->gateway, net->subnet.prefix, err);
  if (r < 0)
    return husk_error_wrap(err, "bridge %s", net->bridge);
  r = husk_nl_link_up(nl, idx, err);
  if (r < 0)
    return husk_error_wrap(err, "bridge %s", net->bridge);
  /* published ports answer on 127.0.0.1: DNAT'ed loopback traffic may leave
   * through the bridge (only husk's own bridge is touched) */
  char path[128];
  snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", net->bridge);
  r = write_sysctl(path, "1", false, err);
  if (r < 0)
    return r;
  /* the containers' traffic to the outside is routed by the host */
  r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", true, err);
  if (r < 0)
    return r;
  *index = idx;
  return 0;
}

static int configure_container(int nsfd, const husk_network *net, uint32_t addr, husk_err *err)
{
  husk_nl nl _cleanup_nl_ = {0};
  int r = husk_nl_open(&nl, nsfd, err);
  if (r < 0)
    return r;
  int lo = husk_nl_link_index(&nl, "lo", err);
  if (lo < 0)
    return lo == -ENODEV ? husk_errorf(err, ENODEV, "container has no lo") : lo;
  r = husk_nl_link_up(&nl, lo, err);
  if (r < 0)
    return husk_error_wrap(err, "lo");
  int eth = husk_nl_link_index(&nl, CONTAINER_IFNAME, err);
  if (eth < 0)
    return eth == -ENODEV ? husk_errorf(err, ENODEV, "container has no %s", CONTAINER_IFNAME) : eth;
  r = husk_nl_addr_add(&nl, eth, addr, net->subnet.prefix, err);
  if (r < 0)
    return husk_error_wrap(err, "container %s", CONTAINER_IFNAME);
  r = husk_nl_link_up(&nl, eth, err);
  if (r < 0)
    return husk_error_wrap(err, "container %s", CONTAINER_IFNAME);
  r = husk_nl_default_route_add(&nl, eth, net->gateway, err);
  if (r < 0)
    return husk_error_wrap(err, "container");
  return 0;
}

static int find_lease(const char *data_root, const char *network, const char *id, husk_lease *out,
                      size_t *in_network, husk_err *err)
{
  lease_list ll _cleanup_leases_ = {0};
  int r = husk_ipam_leases(data_root, network, &ll.v, &ll.n, err);
  if (r < 0)
    return r;
  *in_network = ll.n;
  for (size_t i = 0; i < ll.n; i++) {
    if (ll.v[i].container && strcmp(ll.v[i].container, id) == 0) {
      *out = ll.v[i];
      memset(&ll.v[i], 0, sizeof(ll.v[i]));
      return 0;
    }
  }
  return -ENOENT;
}

static int attach_locked(const husk_net_opts *o, pid_t pid, husk_net_result *out, husk_err *err)
{
  const char *name = net_name(o);
  husk_network net;
  int r = husk_network_load(o->data_root, name, &net, err);
  if (r < 0)
    return r;
  husk_lease lease _cleanup_lease_ = {0};
  size_t users = 0;
  r = find_lease(o->data_root, name, o->container_id, &lease, &users, err);
  if (r == -ENOENT)
    return husk_errorf_plain(err, ENOENT,
                             "container %s has no address in network %s (call prepare first)",
                             o->container_id, name);
  if (r < 0)
    return r;

  _cleanup_close_ int nsfd = -1;
  r = husk_netns_open(pid, o->netns_path, &nsfd, err);
  if (r < 0)
    return r;

  husk_nl nl _cleanup_nl_ = {0};
  r = husk_nl_open(&nl, -1, err);
  if (r < 0)
    return r;
  int br = 0;
  r = ensure_bridge(&nl, &net, &br, err);
  if (r < 0)
    return r;
  /* a leftover of a crashed start of the same container */
  r = husk_nl_link_del(&nl, lease.veth, err);
  if (r < 0 && r != -ENODEV)
    return r;
  r = husk_nl_veth_add(&nl, lease.veth, br, CONTAINER_IFNAME, nsfd, err);
  if (r < 0)
    return r;
  int hv = husk_nl_link_index(&nl, lease.veth, err);
  if (hv < 0)
    return hv == -ENODEV ? husk_errorf(err, ENODEV, "veth %s vanished", lease.veth) : hv;
  r = husk_nl_link_up(&nl, hv, err);
  if (r < 0)
    return husk_error_wrap(err, "veth %s", lease.veth);
  r = configure_container(nsfd, &net, lease.addr, err);
  if (r < 0)
    return r;

  /* the container's init holds the lease from now on */
  if (pid > 0) {
    lease.pid = pid;
    lease.pid_start = husk_pid_start_time(pid);
  }
  r = husk_ipam_update(o->data_root, &lease, err);
  if (r < 0)
    return r;

  _cleanup_free_ char *dirty = dirty_path(o->data_root);
  bool is_dirty = access(dirty, F_OK) == 0;
  if (lease.n_ports > 0 || users <= 1 || is_dirty) {
    r = husk_fw_sync(o->data_root, err);
    if (r < 0)
      return r;
    if (is_dirty)
      unlink(dirty);
  }
  refresh_hosts_files(o->data_root, name);
  fill_result(&net, &lease, out);
  return 0;
}

int husk_net_attach(const husk_net_opts *o, pid_t pid, husk_net_result *out, husk_err *err)
{
  int r = validate_opts(o, err);
  if (r < 0)
    return r;
  if (pid <= 0 && o->netns_path == NULL)
    return husk_errorf_plain(err, EINVAL, "network: no container pid or netns path");
  _cleanup_close_ int lock = -1;
  r = husk_ipam_lock(o->data_root, &lock, err);
  if (r < 0)
    return r;
  r = attach_locked(o, pid, out, err);
  if (r < 0)
    return husk_error_wrap(err, "connect container to network %s", net_name(o));
  return 0;
}

int husk_net_setup(const husk_net_opts *o, pid_t pid, husk_net_result *out, husk_err *err)
{
  int r = husk_net_prepare(o, out, err);
  if (r < 0)
    return r;
  r = husk_net_attach(o, pid, out, err);
  if (r < 0) {
    husk_err e2;
    husk_net_teardown(o->data_root, o->container_id, &e2);
    return r;
  }
  return 0;
}

/* ---- teardown ----------------------------------------------------------- */

int husk_net_teardown(const char *data_root, const char *container_id, husk_err *err)
{
  if (data_root == NULL || container_id == NULL)
    return husk_errorf_plain(err, EINVAL, "network teardown: no data root or container id");
  _cleanup_free_ char *dir = husk_xasprintf("%s/networks", data_root);
  if (access(dir, F_OK) < 0)
    return 0; /* networking never used */
  _cleanup_close_ int lock = -1;
  int r = husk_ipam_lock(data_root, &lock, err);
  if (r < 0)
    return r;
  lease_list all _cleanup_leases_ = {0};
  r = husk_ipam_all_leases(data_root, &all.v, &all.n, err);
  if (r < 0)
    return r;
  husk_nl nl _cleanup_nl_ = {0};
  bool need_fw = false, found = false;
  int first = 0;
  husk_err e2;
  for (size_t i = 0; i < all.n; i++) {
    husk_lease *l = &all.v[i];
    if (l->container == NULL || strcmp(l->container, container_id) != 0)
      continue;
    found = true;
    if (nl.sock == NULL && husk_nl_open(&nl, -1, &e2) < 0 && first == 0)
      first = husk_errorf_plain(err, e2.code, "%s", e2.msg);
    if (nl.sock) {
      r = husk_nl_link_del(&nl, l->veth[0] ? l->veth : "", &e2);
      if (r < 0 && r != -ENODEV && first == 0)
        first = husk_errorf_plain(err, e2.code, "%s", e2.msg);
    }
    r = husk_ipam_release(data_root, l->network, l->addr, &e2);
    if (r < 0 && first == 0)
      first = husk_errorf_plain(err, e2.code, "%s", e2.msg);
    size_t left = 0;
    for (size_t j = 0; j < all.n; j++)
      if (j != i && strcmp(all.v[j].network, l->network) == 0 &&
          !(all.v[j].container && strcmp(all.v[j].container, container_id) == 0))
        left++;
    if (l->n_ports > 0 || left == 0)
      need_fw = true;
  }
  _cleanup_free_ char *dirty = dirty_path(data_root);
  bool is_dirty = access(dirty, F_OK) == 0;
  if (need_fw || is_dirty) {
    r = husk_fw_sync(data_root, &e2);
    if (r < 0 && first == 0)
      first = husk_errorf_plain(err, e2.code, "%s", e2.msg);
    if (r == 0 && is_dirty)
      unlink(dirty);
  }
  if (found) {
    for (size_t i = 0; i < all.n; i++)
      if (all.v[i].container && strcmp(all.v[i].container, container_id) == 0)
        refresh_hosts_files(data_root, all.v[i].network);
  }
  if (first < 0)
    return husk_error_wrap(err, "disconnect container %s", container_id);
  return 0;
}

/* ---- none --------------------------------------------------------------- */

int husk_net_loopback_up(pid_t pid, const char *netns_path, husk_err *err)
{
  _cleanup_close_ int nsfd = -1;
  int r = husk_netns_open(pid, netns_path, &nsfd, err);
  if (r < 0)
    return r;
  husk_nl nl _cleanup_nl_ = {0};
  r = husk_nl_open(&nl, nsfd, err);
  if (r < 0)
    return r;
  int lo = husk_nl_link_index(&nl, "lo", err);
  if (lo < 0)
    return lo == -ENODEV ? husk_errorf(err, ENODEV, "no lo in the container") : lo;
  return husk_nl_link_up(&nl, lo, err);
}
