/* The network library against the kernel, without the porcelain: the whole
 * test runs in a network namespace of its own (unshare at start), the
 * "containers" are child processes in their own network namespaces with a
 * TCP greeter on port 5000.  Needs root and husk-netfw (found next to the
 * build's runtime/ or through $HUSK_NETFW); skips otherwise.
 *
 * Properties: the host reaches a container's address and a container the
 * gateway; two containers talk; published ports answer on 127.0.0.1 and stop
 * answering after teardown; --network none has only lo; hosts files follow
 * peers; a used or twice-published port is a clear error that leaves
 * nothing; 20 parallel setups get 20 distinct addresses; teardown leaves no
 * veth, lease or rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "network.h"
#include "network_internal.h"
#include "util.h"

#define GREET_PORT 5000

static bool usable;
static const char *skip_reason = "";
static char root[64];

/* ---- "containers" -------------------------------------------------------- */

typedef struct ctr {
  pid_t pid;
  int ctl; /* write end: closing it stops the container */
} ctr;

static void greeter(int ready, int ctl)
{
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(GREET_PORT)};
  if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0)
    _exit(2);
  if (write(ready, "R", 1) != 1)
    _exit(2);
  close(ready);
  for (;;) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(s, &fds);
    FD_SET(ctl, &fds);
    if (select((s > ctl ? s : ctl) + 1, &fds, NULL, NULL, NULL) < 0)
      continue;
    if (FD_ISSET(ctl, &fds))
      _exit(0);
    int c = accept(s, NULL, NULL);
    if (c < 0)
      continue;
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "hello from %d\n", (int)getpid());
    if (write(c, msg, (size_t)n) < 0) {
      /* the client went away */
    }
    close(c);
  }
}

static ctr ctr_start(void)
{
  int ready[2], ctl[2];
  assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
  assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    close(ctl[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* no strays when a test fails */
    if (unshare(CLONE_NEWNET) < 0)
      _exit(3);
    greeter(ready[1], ctl[0]);
  }
  close(ready[1]);
  close(ctl[0]);
  char c = 0;
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  return (ctr){pid, ctl[1]};
}

static void ctr_stop(ctr *c)
{
  if (c->pid <= 0)
    return;
  /* (the pipe alone would not do: later children inherit its write end) */
  kill(c->pid, SIGKILL);
  close(c->ctl);
  waitpid(c->pid, NULL, 0);
  c->pid = 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* Connect to ip:port and read the greeting; in netns nsfd when >= 0. */
static int greet(int nsfd, uint32_t addr, uint16_t port, char *out, size_t len)
{
  int self = -1;
  if (nsfd >= 0) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(self >= 0);
    assert_int_equal(setns(nsfd, CLONE_NEWNET), 0);
  }
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (nsfd >= 0) {
    assert_int_equal(setns(self, CLONE_NEWNET), 0);
    close(self);
  }
  assert_true(s >= 0);
  struct timeval tv = {.tv_sec = 3};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};
  int r = 0;
  if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    r = -errno;
  } else {
    ssize_t n = husk_read_all(s, out, len);
    r = n > 0 ? 0 : -EIO;
  }
  close(s);
  return r;
}

/* Only the TCP handshake (a listener that never accepts is enough). */
static int tcp_connect(int nsfd, uint32_t addr, uint16_t port)
{
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  assert_true(self >= 0);
  assert_int_equal(setns(nsfd, CLONE_NEWNET), 0);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_int_equal(setns(self, CLONE_NEWNET), 0);
  close(self);
  assert_true(s >= 0);
  struct timeval tv = {.tv_sec = 3};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};
  int r = connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
  close(s);
  return r;
}

static uint32_t ip(const char *s)
{
  uint32_t v = 0;
  assert_int_equal(husk_ip_parse(s, &v), 0);
  return v;
}

static char *netfw_list(void)
{
  const char *fw = getenv("HUSK_NETFW");
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "%s list", fw);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  char *buf = husk_xcalloc(1, 65536);
  size_t n = fread(buf, 1, 65535, f);
  buf[n] = '\0';
  pclose(f);
  return buf;
}

static size_t count_leases(void)
{
  husk_lease *v = NULL;
  size_t n = 0;
  husk_err err = {0};
  assert_int_equal(husk_ipam_all_leases(root, &v, &n, &err), 0);
  husk_leases_free(v, n);
  return n;
}

static int setup_ctr(const char *id, const ctr *c, const husk_port_map *ports, size_t n_ports,
                     const char *hosts_path, husk_net_result *res, husk_err *err)
{
  husk_net_opts o = {.data_root = root,
                     .container_id = id,
                     .name = id,
                     .hostname = id,
                     .ports = ports,
                     .n_ports = n_ports,
                     .hosts_path = hosts_path};
  return husk_net_setup(&o, c->pid, res, err);
}

static void must_teardown(const char *id)
{
  husk_err err = {0};
  if (husk_net_teardown(root, id, &err) < 0)
    fail_msg("teardown %s: %s", id, err.msg);
}

/* ---- fixtures ------------------------------------------------------------ */

static int group_setup(void **state)
{
  (void)state;
  if (geteuid() != 0) {
    skip_reason = "needs root (network namespaces, veth, nftables)";
    return 0;
  }
  if (getenv("HUSK_NETFW") == NULL) {
    char self[PATH_MAX], cand[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
      self[n] = '\0';
      *strrchr(self, '/') = '\0';
      snprintf(cand, sizeof(cand), "%s/../runtime/husk-netfw", self);
      if (access(cand, X_OK) == 0)
        setenv("HUSK_NETFW", cand, 1);
    }
  }
  if (getenv("HUSK_NETFW") == NULL || access(getenv("HUSK_NETFW"), X_OK) != 0) {
    skip_reason = "husk-netfw not built (libnftables-dev missing?) and $HUSK_NETFW unset";
    return 0;
  }
  if (unshare(CLONE_NEWNET) < 0) {
    skip_reason = "cannot create a network namespace";
    return 0;
  }
  /* lo up in our private namespace: published ports on 127.0.0.1 */
  husk_nl nl _cleanup_nl_ = {0};
  husk_err err = {0};
  if (husk_nl_open(&nl, -1, &err) < 0 || husk_nl_link_up(&nl, 1, &err) < 0) {
    skip_reason = "cannot bring lo up in a private network namespace";
    return 0;
  }
  usable = true;
  return 0;
}

static int test_setup(void **state)
{
  (void)state;
  if (!usable)
    return 0;
  snprintf(root, sizeof(root), "/tmp/husk-netlive-XXXXXX");
  if (mkdtemp(root) == NULL)
    return -1;
  return 0;
}

static int test_teardown(void **state)
{
  (void)state;
  if (!usable)
    return 0;
  /* the bridges of this test's networks (our private netns only) */
  husk_nl nl _cleanup_nl_ = {0};
  husk_err err = {0};
  if (husk_nl_open(&nl, -1, &err) == 0) {
    husk_nl_link_del(&nl, "husk0", &err);
    husk_nl_link_del(&nl, "hk-other", &err);
  }
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

#define REQUIRE_USABLE()                                                                           \
  do {                                                                                             \
    if (!usable) {                                                                                 \
      print_message("skipped: %s\n", skip_reason);                                                 \
      skip();                                                                                      \
    }                                                                                              \
  } while (0)

/* ---- tests --------------------------------------------------------------- */

static void test_host_and_container_reach_each_other(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  ctr a = ctr_start();
  husk_net_result res;
  husk_err err = {0};
  if (setup_ctr("a", &a, NULL, 0, NULL, &res, &err) < 0)
    fail_msg("setup: %s", err.msg);
  assert_string_equal(res.bridge, "husk0");
  assert_string_equal(res.ifname, "eth0");
  assert_string_equal(res.addr_str, "10.88.0.2");
  assert_string_equal(res.gateway_str, "10.88.0.1");
  assert_true(if_nametoindex(res.host_veth) > 0);

  char buf[64];
  int r = greet(-1, res.addr, GREET_PORT, buf, sizeof(buf));
  if (r < 0)
    fail_msg("connect to the container at %s: %s", res.addr_str, strerror(-r));
  assert_non_null(strstr(buf, "hello from"));

  /* the container's default route goes through the bridge: reach an address
   * of the host outside the subnet */
  husk_nl nl _cleanup_nl_ = {0};
  assert_int_equal(husk_nl_open(&nl, -1, &err), 0);
  assert_int_equal(husk_nl_addr_add(&nl, 1, ip("192.0.2.77"), 32, &err), 0);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(18099)};
  assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(l, 4), 0);
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)a.pid);
  int ans = open(path, O_RDONLY | O_CLOEXEC);
  r = tcp_connect(ans, ip("192.0.2.77"), 18099);
  if (r < 0)
    fail_msg("container -> 192.0.2.77 via its default route: %s", strerror(-r));
  r = tcp_connect(ans, res.gateway, 18099);
  if (r < 0)
    fail_msg("container -> gateway: %s", strerror(-r));
  close(ans);
  close(l);

  /* the masquerade rules of the network are in husk's table */
  _cleanup_free_ char *rules = netfw_list();
  assert_non_null(strstr(rules, "10.88.0.0/16"));
  assert_non_null(strstr(rules, "masquerade"));

  ctr_stop(&a);
  must_teardown("a");
}

static void test_two_containers_exchange_tcp(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  ctr a = ctr_start(), b = ctr_start();
  husk_net_result ra, rb;
  husk_err err = {0};
  if (setup_ctr("a", &a, NULL, 0, NULL, &ra, &err) < 0 ||
      setup_ctr("b", &b, NULL, 0, NULL, &rb, &err) < 0)
    fail_msg("setup: %s", err.msg);
  assert_int_not_equal(ra.addr, rb.addr);
  char path[64], buf[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)b.pid);
  int bns = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(bns >= 0);
  int r = greet(bns, ra.addr, GREET_PORT, buf, sizeof(buf));
  close(bns);
  if (r < 0)
    fail_msg("b -> a (%s): %s", ra.addr_str, strerror(-r));
  char want[32];
  snprintf(want, sizeof(want), "hello from %d", (int)a.pid);
  assert_non_null(strstr(buf, want));
  ctr_stop(&a);
  ctr_stop(&b);
  must_teardown("a");
  must_teardown("b");
}

static void test_published_port_answers_on_localhost_until_teardown(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  ctr a = ctr_start();
  husk_port_map ports[2];
  husk_err err = {0};
  assert_int_equal(husk_port_map_parse("127.0.0.1:18080:5000", &ports[0], &err), 0);
  assert_int_equal(husk_port_map_parse("18081:5000/tcp", &ports[1], &err), 0);
  husk_net_result res;
  if (setup_ctr("web", &a, ports, 2, NULL, &res, &err) < 0)
    fail_msg("setup: %s", err.msg);
  char buf[64];
  int r = greet(-1, ip("127.0.0.1"), 18080, buf, sizeof(buf));
  if (r < 0)
    fail_msg("127.0.0.1:18080: %s", strerror(-r));
  assert_non_null(strstr(buf, "hello from"));
  r = greet(-1, ip("127.0.0.1"), 18081, buf, sizeof(buf));
  if (r < 0)
    fail_msg("127.0.0.1:18081: %s", strerror(-r));
  /* the bridge's address is one of the host's too */
  r = greet(-1, ip("10.88.0.1"), 18081, buf, sizeof(buf));
  if (r < 0)
    fail_msg("10.88.0.1:18081: %s", strerror(-r));
  _cleanup_free_ char *rules = netfw_list();
  assert_non_null(strstr(rules, "dnat to 10.88.0.2:5000"));

  must_teardown("web");
  _cleanup_free_ char *after = netfw_list();
  assert_string_equal(after, "");
  assert_true(greet(-1, ip("127.0.0.1"), 18080, buf, sizeof(buf)) < 0);
  ctr_stop(&a);
}

static void test_teardown_leaves_no_veth_lease_or_rule(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  ctr a = ctr_start(), b = ctr_start();
  husk_port_map p;
  husk_err err = {0};
  assert_int_equal(husk_port_map_parse("18082:5000/udp", &p, &err), 0);
  husk_net_result ra, rb;
  if (setup_ctr("a", &a, &p, 1, NULL, &ra, &err) < 0 ||
      setup_ctr("b", &b, NULL, 0, NULL, &rb, &err) < 0)
    fail_msg("setup: %s", err.msg);
  assert_int_equal(count_leases(), 2);
  must_teardown("a");
  /* b still needs the network's rules, a's port rule is gone */
  assert_int_equal(if_nametoindex(ra.host_veth), 0);
  _cleanup_free_ char *mid = netfw_list();
  assert_null(strstr(mid, "dport 18082"));
  assert_non_null(strstr(mid, "masquerade"));
  assert_int_equal(count_leases(), 1);
  must_teardown("b");
  must_teardown("b"); /* idempotent */
  assert_int_equal(if_nametoindex(rb.host_veth), 0);
  assert_int_equal(count_leases(), 0);
  _cleanup_free_ char *after = netfw_list();
  assert_string_equal(after, "");
  ctr_stop(&a);
  ctr_stop(&b);
}

static void test_port_in_use_is_a_clear_error_leaving_nothing(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_port = htons(18090), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(l, 1), 0);
  ctr a = ctr_start();
  husk_port_map p;
  husk_err err = {0};
  assert_int_equal(husk_port_map_parse("18090:80", &p, &err), 0);
  husk_net_result res;
  char veth[HUSK_IFNAME_MAX];
  husk_net_veth_name("busy", veth);
  assert_int_equal(setup_ctr("busy", &a, &p, 1, NULL, &res, &err), -EADDRINUSE);
  assert_non_null(strstr(err.msg, "0.0.0.0:18090/tcp"));
  assert_non_null(strstr(err.msg, "already in use"));
  assert_int_equal(count_leases(), 0);
  assert_int_equal(if_nametoindex(veth), 0);
  close(l);
  ctr_stop(&a);
}

static void test_port_published_twice_names_the_holder(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  ctr a = ctr_start(), b = ctr_start();
  husk_port_map p;
  husk_err err = {0};
  assert_int_equal(husk_port_map_parse("18095:5000", &p, &err), 0);
  husk_net_result res;
  if (setup_ctr("first", &a, &p, 1, NULL, &res, &err) < 0)
    fail_msg("setup: %s", err.msg);
  assert_int_equal(setup_ctr("second", &b, &p, 1, NULL, &res, &err), -EADDRINUSE);
  assert_non_null(strstr(err.msg, "already published by container first"));
  assert_int_equal(count_leases(), 1);
  must_teardown("first");
  ctr_stop(&a);
  ctr_stop(&b);
}

static void test_network_none_has_only_lo(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  ctr a = ctr_start();
  husk_err err = {0};
  if (husk_net_loopback_up(a.pid, NULL, &err) < 0)
    fail_msg("lo up: %s", err.msg);
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)a.pid);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  assert_int_equal(setns(ns, CLONE_NEWNET), 0);
  struct if_nameindex *ifs = if_nameindex();
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  int fl = ioctl(s, SIOCGIFFLAGS, &ifr);
  close(s);
  assert_int_equal(setns(self, CLONE_NEWNET), 0);
  close(ns);
  close(self);
  assert_non_null(ifs);
  size_t n = 0;
  for (struct if_nameindex *i = ifs; i->if_index; i++) {
    assert_string_equal(i->if_name, "lo");
    n++;
  }
  if_freenameindex(ifs);
  assert_int_equal(n, 1);
  assert_int_equal(fl, 0);
  assert_true(ifr.ifr_flags & IFF_UP);
  ctr_stop(&a);
}

static void test_hosts_files_follow_peers(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  char ha[128], hb[128];
  snprintf(ha, sizeof(ha), "%s/hosts-a", root);
  snprintf(hb, sizeof(hb), "%s/hosts-b", root);
  husk_err err = {0};
  close(open(ha, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  close(open(hb, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  struct stat before;
  assert_int_equal(stat(ha, &before), 0);
  ctr a = ctr_start(), b = ctr_start();
  husk_net_result ra, rb;
  if (setup_ctr("alpha", &a, NULL, 0, ha, &ra, &err) < 0 ||
      setup_ctr("beta", &b, NULL, 0, hb, &rb, &err) < 0)
    fail_msg("setup: %s", err.msg);
  _cleanup_free_ char *a1 = NULL, *b1 = NULL;
  assert_int_equal(husk_read_file_at(AT_FDCWD, ha, &a1, NULL, &err), 0);
  assert_int_equal(husk_read_file_at(AT_FDCWD, hb, &b1, NULL, &err), 0);
  char line[64];
  snprintf(line, sizeof(line), "%s\talpha\n", ra.addr_str);
  assert_non_null(strstr(a1, line));
  assert_non_null(strstr(b1, line));
  snprintf(line, sizeof(line), "%s\tbeta\n", rb.addr_str);
  assert_non_null(strstr(a1, line)); /* a learnt about b, in place */
  assert_non_null(strstr(b1, line));
  struct stat after;
  assert_int_equal(stat(ha, &after), 0);
  assert_int_equal(before.st_ino, after.st_ino);

  husk_net_opts o = {.data_root = root, .container_id = "beta"};
  _cleanup_free_ char *gen = NULL;
  assert_int_equal(husk_net_hosts(&o, &gen, &err), 0);
  assert_string_equal(gen, b1);

  must_teardown("beta");
  _cleanup_free_ char *a2 = NULL;
  assert_int_equal(husk_read_file_at(AT_FDCWD, ha, &a2, NULL, &err), 0);
  assert_null(strstr(a2, "beta"));
  must_teardown("alpha");
  ctr_stop(&a);
  ctr_stop(&b);
}

static void test_named_network_and_unknown_network(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  husk_network net;
  husk_cidr c;
  husk_err err = {0};
  assert_int_equal(husk_cidr_parse("10.123.0.0/24", &c, &err), 0);
  assert_int_equal(husk_network_init(&net, "other", &c, &err), 0);
  assert_int_equal(husk_network_save(root, &net, &err), 0);
  ctr a = ctr_start();
  husk_net_opts o = {.data_root = root, .network = "other", .container_id = "n1"};
  husk_net_result res;
  if (husk_net_setup(&o, a.pid, &res, &err) < 0)
    fail_msg("setup: %s", err.msg);
  assert_string_equal(res.bridge, "hk-other");
  assert_string_equal(res.addr_str, "10.123.0.2");
  char buf[64];
  assert_int_equal(greet(-1, res.addr, GREET_PORT, buf, sizeof(buf)), 0);
  must_teardown("n1");

  husk_net_opts bad = {.data_root = root, .network = "missing", .container_id = "n2"};
  assert_int_equal(husk_net_setup(&bad, a.pid, &res, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "husk network create missing"));
  assert_int_equal(count_leases(), 0);
  ctr_stop(&a);
}

static void test_default_subnet_avoids_host_routes_but_not_a_leftover_husk0(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  if (system("command -v ip >/dev/null") != 0)
    skip();
  husk_err err = {0};
  husk_cidr c;
  char buf[19];
  /* a host route in 10.88.0.0/16 */
  assert_int_equal(system("ip addr add 10.88.5.1/16 dev lo"), 0);
  int r = husk_net_default_subnet(root, &c, &err);
  int r2 = -1;
  husk_cidr c2 = {0};
  if (r == 0) {
    /* husk0 of an earlier data root, on 10.89.0.0/16: still ours to use */
    assert_int_equal(system("ip link add husk0 type bridge && "
                            "ip addr add 10.89.0.1/16 dev husk0 && ip link set husk0 up"),
                     0);
    r2 = husk_net_default_subnet(root, &c2, &err);
  }
  assert_int_equal(system("ip addr del 10.88.5.1/16 dev lo"), 0);
  assert_int_equal(r, 0);
  assert_string_equal(husk_cidr_str(&c, buf), "10.89.0.0/16");
  assert_int_equal(r2, 0);
  assert_string_equal(husk_cidr_str(&c2, buf), "10.89.0.0/16");
  bool overlaps = false;
  husk_cidr route;
  assert_int_equal(husk_net_route_overlap(&c2, &overlaps, &route, &err), 0);
  assert_true(overlaps); /* `husk network create` does not take husk0's subnet */
}

#define PARALLEL 20
static void test_parallel_setups_get_distinct_addresses(void **state)
{
  (void)state;
  REQUIRE_USABLE();
  int out[2];
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  pid_t pids[PARALLEL];
  for (int i = 0; i < PARALLEL; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      /* like the porcelain: a new netns held by an fd, then setup by path */
      int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      if (self < 0 || unshare(CLONE_NEWNET) < 0)
        _exit(2);
      int ns = open("/proc/self/ns/net", O_RDONLY);
      if (ns < 0 || setns(self, CLONE_NEWNET) < 0)
        _exit(2);
      char id[16], path[64];
      snprintf(id, sizeof(id), "p%02d", i);
      snprintf(path, sizeof(path), "/proc/self/fd/%d", ns);
      husk_net_opts o = {.data_root = root, .container_id = id, .name = id, .netns_path = path};
      husk_net_result res;
      husk_err e = {0};
      char line[128];
      int n;
      if (husk_net_setup(&o, 0, &res, &e) < 0)
        n = snprintf(line, sizeof(line), "ERR %s\n", e.msg);
      else
        n = snprintf(line, sizeof(line), "%-15s\n", res.addr_str);
      if (write(out[1], line, (size_t)n) != n)
        _exit(3);
      _exit(0);
    }
  }
  close(out[1]);
  char all[PARALLEL * 128 + 1];
  ssize_t got = husk_read_all(out[0], all, sizeof(all));
  close(out[0]);
  for (int i = 0; i < PARALLEL; i++) {
    int st;
    waitpid(pids[i], &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  assert_true(got > 0);
  if (strstr(all, "ERR"))
    fail_msg("a parallel setup failed:\n%s", all);
  char *addrs[PARALLEL];
  int n = 0;
  for (char *save = NULL, *t = strtok_r(all, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
    assert_true(n < PARALLEL);
    t[strcspn(t, " ")] = '\0';
    addrs[n++] = t;
  }
  assert_int_equal(n, PARALLEL);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(addrs[i], addrs[j]) == 0)
        fail_msg("address %s given twice", addrs[i]);
  assert_int_equal(count_leases(), PARALLEL);
  for (int i = 0; i < PARALLEL; i++) {
    char id[16];
    snprintf(id, sizeof(id), "p%02d", i);
    must_teardown(id);
  }
  assert_int_equal(count_leases(), 0);
  _cleanup_free_ char *after = netfw_list();
  assert_string_equal(after, "");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_host_and_container_reach_each_other, test_setup,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_two_containers_exchange_tcp, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(test_published_port_answers_on_localhost_until_teardown,
                                      test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(test_teardown_leaves_no_veth_lease_or_rule, test_setup,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_port_in_use_is_a_clear_error_leaving_nothing, test_setup,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_port_published_twice_names_the_holder, test_setup,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_network_none_has_only_lo, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(test_hosts_files_follow_peers, test_setup, test_teardown),
      cmocka_unit_test_setup_teardown(test_named_network_and_unknown_network, test_setup,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(
          test_default_subnet_avoids_host_routes_but_not_a_leftover_husk0, test_setup,
          test_teardown),
      cmocka_unit_test_setup_teardown(test_parallel_setups_get_distinct_addresses, test_setup,
                                      test_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, NULL);
}
