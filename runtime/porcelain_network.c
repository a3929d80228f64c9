/* The network hook of the porcelain.  Every container gets its network here:
 *   none    a new network namespace, prepared by the runtime with lo up;
 *   host    the host's network namespace (no namespace in the spec);
 *   bridge  the same new namespace, connected to a bridge network by the
 *           networking library (network.h: veth, address, route, firewall)
 *           before the container exists; its /etc/hosts, /etc/resolv.conf
 *           and /etc/hostname live in the container's directory (the library
 *           rewrites hosts files when peers come and go) and are bind-mounted.
 * The prepared namespace is handed to the core as a path in the spec
 * (/proc/self/fd/N of the process that creates the container). */
#include "porcelain.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipam.h"
#include "network.h"
#include "util.h"

int husk_net_mode_parse(const char *s, husk_net_mode *mode, const char **network, husk_err *err)
{
  *network = NULL;
  if (s == NULL || strcmp(s, "none") == 0) {
    *mode = HUSK_NET_NONE;
    return 0;
  }
  if (strcmp(s, "host") == 0) {
    *mode = HUSK_NET_HOST;
    return 0;
  }
  if (strcmp(s, "bridge") == 0 || strcmp(s, "default") == 0) {
    *mode = HUSK_NET_BRIDGE;
    return 0;
  }
  husk_err e;
  if (strncmp(s, "container:", 10) == 0) {
    if (s[10] == '\0')
      return husk_errorf_plain(err, EINVAL, "--network container: needs a container name or id");
    *mode = HUSK_NET_CONTAINER;
    *network = s;
    return 0;
  }
  if (husk_network_validate_name(s, &e) < 0)
    return husk_errorf_plain(err, EINVAL,
                             "--network %s: not a network mode (none, host, bridge, "
                             "container:NAME) or network name",
                             s);
  *mode = HUSK_NET_BRIDGE;
  *network = s;
  return 0;
}

const char *husk_net_mode_name(husk_net_mode m)
{
  switch (m) {
  case HUSK_NET_NONE:
    return "none";
  case HUSK_NET_HOST:
    return "host";
  case HUSK_NET_BRIDGE:
    return "bridge";
  case HUSK_NET_CONTAINER:
    return "container";
  }
  return "none";
}

void husk_pnet_init(husk_pnet *n)
{
  memset(n, 0, sizeof(*n));
  n->netns_fd = -1;
}

static int lo_up(husk_err *err)
{
  _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return husk_errorf(err, errno, "socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    return husk_errorf(err, errno, "get flags of lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
    return husk_errorf(err, errno, "bring lo up");
  return 0;
}

/* A new network namespace with lo up; we stay in ours. */
static int new_netns(int *out, husk_err *err)
{
  _cleanup_close_ int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig < 0)
    return husk_errorf(err, errno, "open our network namespace");
  if (unshare(CLONE_NEWNET) < 0)
    return husk_errorf(err, errno, "create a network namespace");
  husk_err e = {0};
  int r = lo_up(&e);
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int open_errno = errno;
  if (setns(orig, CLONE_NEWNET) < 0)
    abort(); /* cannot happen as root; never go on in the wrong namespace */
  if (fd < 0)
    return husk_errorf(err, open_errno, "open the new network namespace");
  if (r < 0) {
    close(fd);
    *err = e;
    return r;
  }
  *out = fd;
  return 0;
}

static int write_new(const char *path, const char *content, husk_err *err)
{
  _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return husk_errorf(err, errno, "create %s", path);
  int r = husk_write_all(fd, content, strlen(content));
  if (r < 0)
    return husk_errorf(err, -r, "write %s", path);
  return 0;
}

static int bridge_prepare(const husk_home *h, const husk_pnet_opts *o, husk_pnet *n, husk_err *err)
{
  n->hosts_path = husk_xasprintf("%s/hosts", o->dir);
  n->resolv_path = husk_xasprintf("%s/resolv.conf", o->dir);
  n->hostname_path = husk_xasprintf("%s/hostname", o->dir);
  /* the library rewrites an existing hosts file in place when peers change */
  int r = write_new(n->hosts_path, "", err);
  if (r < 0)
    return r;
  husk_net_opts no = {.data_root = h->data_root,
                      .network = o->network,
                      .container_id = o->id,
                      .name = o->name,
                      .hostname = o->hostname,
                      .ports = o->ports,
                      .n_ports = o->n_ports,
                      .hosts_path = n->hosts_path,
                      .netns_path = n->ns_path};
  husk_net_result res;
  if ((r = husk_net_setup(&no, 0, &res, err)) < 0)
    return r;
  n->attached = true;
  snprintf(n->network, sizeof(n->network), "%s", res.network);
  snprintf(n->ip, sizeof(n->ip), "%s", res.addr_str);
  snprintf(n->gateway, sizeof(n->gateway), "%s", res.gateway_str);
  snprintf(n->bridge, sizeof(n->bridge), "%s", res.bridge);
  n->prefix = res.subnet.prefix;

  _cleanup_free_ char *hosts = NULL;
  if ((r = husk_net_hosts(&no, &hosts, err)) < 0 || (r = write_new(n->hosts_path, hosts, err)) < 0)
    return r;
  _cleanup_free_ char *resolv = husk_net_resolv_conf(NULL, false, NULL, NULL, NULL);
  if ((r = write_new(n->resolv_path, resolv, err)) < 0)
    return r;
  _cleanup_free_ char *hn = husk_net_hostname(o->hostname);
  return write_new(n->hostname_path, hn, err);
}

/* --network container:REF: the network namespace of a running container */
static int join_container_netns(const husk_home *h, const char *ref, husk_pnet *n, husk_err *err)
{
  _cleanup_pctr_ husk_pctr *c = NULL;
  if (husk_pctr_get(h, ref, false, &c, err) < 0)
    return husk_error_wrap(err, "--network container:%s", ref);
  husk_plive live;
  husk_pctr_live_now(h, c, &live);
  if (live.status != HUSK_P_RUNNING || live.pid <= 0)
    return husk_errorf_plain(err, EINVAL, "--network container:%s: the container is not running",
                             ref);
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)live.pid);
  n->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (n->netns_fd < 0)
    return husk_errorf(err, errno, "--network container:%s: open %s", ref, path);
  snprintf(n->ns_path, sizeof(n->ns_path), "/proc/self/fd/%d", n->netns_fd);
  return 0;
}

int husk_pnet_prepare(const husk_home *h, const husk_pnet_opts *o, husk_pnet *n, husk_err *err)
{
  husk_pnet_init(n);
  n->mode = o->mode;
  if (o->n_ports && o->mode != HUSK_NET_BRIDGE)
    return husk_errorf_plain(err, EINVAL, "--publish needs a bridge network (--network bridge)");
  if (o->mode == HUSK_NET_HOST)
    return 0;
  if (o->mode == HUSK_NET_CONTAINER)
    return join_container_netns(h, o->network + 10, n, err);
  int r = new_netns(&n->netns_fd, err);
  if (r < 0)
    return r;
  snprintf(n->ns_path, sizeof(n->ns_path), "/proc/self/fd/%d", n->netns_fd);
  if (o->mode == HUSK_NET_BRIDGE)
    return bridge_prepare(h, o, n, err);
  return 0;
}

int husk_pnet_attach(const husk_home *h, const char *id, husk_pnet *n, pid_t pid, husk_err *err)
{
  (void)h;
  (void)id;
  (void)n;
  (void)pid;
  (void)err;
  return 0; /* everything happened before the container existed */
}

void husk_pnet_close(husk_pnet *n)
{
  husk_closep(&n->netns_fd);
  n->ns_path[0] = '\0';
}

void husk_pnet_clear(husk_pnet *n)
{
  husk_pnet_close(n);
  free(n->hosts_path);
  free(n->resolv_path);
  free(n->hostname_path);
  n->hosts_path = n->resolv_path = n->hostname_path = NULL;
}

void husk_pnet_release(const husk_home *h, const char *id, husk_net_mode mode)
{
  if (mode != HUSK_NET_BRIDGE)
    return; /* none: the namespace dies with its last process; host: nothing */
  husk_err e;
  husk_net_teardown(h->data_root, id, &e);
}
