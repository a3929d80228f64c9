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

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipam.h"
#include "network.h"
#include "userns.h"
#include "util.h"

extern char **environ;

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
  if (strcmp(s, "slirp4netns") == 0 || strcmp(s, "slirp") == 0) {
    *mode = HUSK_NET_SLIRP;
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
                             "slirp4netns, container:NAME) or network name",
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
  case HUSK_NET_SLIRP:
    return "slirp4netns";
  }
  return "none";
}

void husk_pnet_init(husk_pnet *n)
{
  memset(n, 0, sizeof(*n));
  n->netns_fd = -1;
  n->slirp_exit_fd = -1;
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
/* In a user namespace we cannot setns() back into the host's network
 * namespace: a child creates it and holds it until we have opened it. */
static int new_netns_in_child(int *out, husk_err *err)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return husk_errorf(err, errno, "socketpair");
  _cleanup_close_ int ours = sv[0], theirs = sv[1];
  pid_t pid = fork();
  if (pid < 0)
    return husk_errorf(err, errno, "fork");
  if (pid == 0) {
    husk_err e = {0};
    if (unshare(CLONE_NEWNET) < 0)
      husk_errorf(&e, errno, "create a network namespace");
    else
      lo_up(&e);
    husk_write_all(theirs, &e, sizeof(e));
    char c;
    (void)!read(theirs, &c, 1);
    _exit(0);
  }
  husk_closep(&theirs);
  husk_err e = {0};
  int r = 0;
  if (read(ours, &e, sizeof(e)) != (ssize_t)sizeof(e))
    r = husk_errorf_plain(err, EIO, "create a network namespace: the helper died");
  else if (e.code || e.msg[0])
    r = (*err = e, husk_error_ret(err));
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
  int fd = r == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (r == 0 && fd < 0)
    r = husk_errorf(err, errno, "open the new network namespace");
  husk_write_all(ours, "x", 1);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (r == 0)
    *out = fd;
  return r;
}

static int new_netns(int *out, husk_err *err)
{
  if (husk_in_userns())
    return new_netns_in_child(out, err);
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

/* -p through slirp4netns' API socket: one add_hostfwd request each, answered
 * {"return": {...}} or {"error": {"desc": "..."}}. */
static int slirp_forward(int dirfd, const husk_port_map *p, husk_err *err)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d/slirp.sock", dirfd);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    return husk_errorf(err, errno, "-p: connect to slirp4netns");
  char ip[INET_ADDRSTRLEN];
  struct in_addr a = {.s_addr = htonl(p->host_ip)};
  inet_ntop(AF_INET, &a, ip, sizeof(ip));
  char req[256];
  int n =
      snprintf(req, sizeof(req),
               "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"%s\", "
               "\"host_addr\": \"%s\", \"host_port\": %u, \"guest_port\": %u}}",
               husk_proto_name(p->proto), ip, (unsigned)p->host_port, (unsigned)p->container_port);
  if (husk_write_all(s, req, (size_t)n) < 0)
    return husk_errorf(err, errno, "-p: write to slirp4netns");
  shutdown(s, SHUT_WR);
  char resp[512];
  if (husk_read_all(s, resp, sizeof(resp)) <= 0)
    return husk_errorf_plain(err, EIO, "-p: no answer from slirp4netns");
  if (strstr(resp, "\"return\"") != NULL)
    return 0;
  char *desc = strstr(resp, "\"desc\"");
  char buf[128] = "";
  if (desc && sscanf(desc, "\"desc\": \"%127[^\"]", buf) != 1)
    buf[0] = '\0';
  char pm[48];
  return husk_errorf_plain(err, EADDRINUSE,
                           "-p %s: slirp4netns refused it (is the port in use?): %s",
                           husk_port_map_str(p, pm, sizeof(pm)), buf[0] ? buf : resp);
}

/* slirp4netns: a tap device in the new namespace (10.0.2.100/24, gateway
 * 10.0.2.2, DNS 10.0.2.3) backed by a user-mode TCP/IP stack in a process
 * of ours, so no privileges are needed.  The host's loopback stays out of
 * reach (--disable-host-loopback, like podman's default). */
static int slirp_prepare(const husk_pnet_opts *o, husk_pnet *n, husk_err *err)
{
  n->hosts_path = husk_xasprintf("%s/hosts", o->dir);
  n->resolv_path = husk_xasprintf("%s/resolv.conf", o->dir);
  n->hostname_path = husk_xasprintf("%s/hostname", o->dir);
  _cleanup_free_ char *hosts = husk_xasprintf("127.0.0.1\tlocalhost\n"
                                              "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                              "10.0.2.100\t%s\n",
                                              o->hostname);
  _cleanup_free_ char *hn = husk_net_hostname(o->hostname);
  int r;
  if ((r = write_new(n->hosts_path, hosts, err)) < 0 ||
      (r = write_new(n->resolv_path, "nameserver 10.0.2.3\n", err)) < 0 ||
      (r = write_new(n->hostname_path, hn, err)) < 0)
    return r;

  int ready[2], ex[2];
  if (pipe2(ready, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  _cleanup_close_ int ready_r = ready[0], ready_w = ready[1];
  if (pipe2(ex, O_CLOEXEC) < 0)
    return husk_errorf(err, errno, "pipe");
  _cleanup_close_ int ex_r = ex[0], ex_w = ex[1];
  _cleanup_free_ char *log = husk_xasprintf("%s/slirp4netns.log", o->dir);
  char nspath[64];
  snprintf(nspath, sizeof(nspath), "/proc/%d/fd/%d", (int)getpid(), n->netns_fd);
  char *argv[12];
  size_t k = 0;
  argv[k++] = (char *)"slirp4netns";
  argv[k++] = (char *)"--configure";
  argv[k++] = (char *)"--mtu=65520";
  argv[k++] = (char *)"--disable-host-loopback";
  argv[k++] = (char *)"--ready-fd=3";
  argv[k++] = (char *)"--exit-fd=4";
  if (o->n_ports)
    argv[k++] = (char *)"--api-socket=/proc/self/fd/5/slirp.sock";
  argv[k++] = (char *)"--netns-type=path";
  argv[k++] = nspath;
  argv[k++] = (char *)"tap0";
  argv[k] = NULL;
  /* the API socket in the container's directory, named through fd 5 (the
   * directory's path may be longer than a socket address can hold) */
  _cleanup_close_ int dirfd = open(o->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return husk_errorf(err, errno, "open %s", o->dir);
  /* copies above 5, so that moving them to 3, 4 and 5 cannot clobber one */
  _cleanup_close_ int hi_ready = fcntl(ready_w, F_DUPFD_CLOEXEC, 10);
  _cleanup_close_ int hi_ex = fcntl(ex_r, F_DUPFD_CLOEXEC, 10);
  _cleanup_close_ int hi_dir = fcntl(dirfd, F_DUPFD_CLOEXEC, 10);
  if (hi_ready < 0 || hi_ex < 0 || hi_dir < 0)
    return husk_errorf(err, errno, "dup");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_adddup2(&fa, hi_ready, 3);
  posix_spawn_file_actions_adddup2(&fa, hi_ex, 4);
  posix_spawn_file_actions_adddup2(&fa, hi_dir, 5);
  pid_t pid;
  r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0)
    return husk_errorf(err, r,
                       "--network slirp4netns: run slirp4netns (apt-get install slirp4netns)");
  husk_closep(&ready_w);
  husk_closep(&hi_ready);
  husk_closep(&ex_r);
  husk_closep(&hi_ex);
  /* "1" once the tap device is configured; EOF if it died */
  struct pollfd p = {.fd = ready_r, .events = POLLIN};
  char c = 0;
  if (poll(&p, 1, 10000) <= 0 || read(ready_r, &c, 1) != 1 || c != '1') {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    char msg[256] = "";
    _cleanup_close_ int lf = open(log, O_RDONLY | O_CLOEXEC);
    if (lf >= 0 && husk_read_all(lf, msg, sizeof(msg)) > 0) {
      char *nl = strchr(msg, '\n');
      if (nl)
        *nl = '\0';
    }
    bool tun = strstr(msg, "/dev/net/tun") != NULL;
    return husk_errorf_plain(err, EIO, "--network slirp4netns: slirp4netns failed%s%s%s",
                             msg[0] ? ": " : "", msg,
                             tun ? " (rootless needs /dev/net/tun readable and writable by "
                                   "everyone, mode 0666 as udev makes it)"
                                 : "");
  }
  for (size_t i = 0; i < o->n_ports; i++) {
    if ((r = slirp_forward(dirfd, &o->ports[i], err)) < 0) {
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
      return r;
    }
  }
  n->slirp_exit_fd = husk_steal_fd(ex_w);
  snprintf(n->ip, sizeof(n->ip), "10.0.2.100");
  snprintf(n->gateway, sizeof(n->gateway), "10.0.2.2");
  n->prefix = 24;
  return 0;
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
  if (o->n_ports && o->mode != HUSK_NET_BRIDGE && o->mode != HUSK_NET_SLIRP)
    return husk_errorf_plain(err, EINVAL,
                             "--publish needs a bridge network (--network bridge) or slirp4netns");
  if (o->mode == HUSK_NET_BRIDGE && husk_rootless())
    return husk_errorf_plain(err, EPERM,
                             "--network bridge needs root (rootless: --network slirp4netns or "
                             "none)");
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
  if (o->mode == HUSK_NET_SLIRP)
    return slirp_prepare(o, n, err);
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
  husk_closep(&n->slirp_exit_fd);
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
