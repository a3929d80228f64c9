/* IPAM on disk: network records, leases, allocation order, reuse, release,
 * exhaustion, reclaiming leases of dead holders and concurrent allocation
 * from many processes under the file lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipam.h"
#include "util.h"

static char root[64];

static int setup(void **state)
{
  (void)state;
  snprintf(root, sizeof(root), "/tmp/husk-ipam-XXXXXX");
  if (mkdtemp(root) == NULL)
    return -1;
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : -1;
}

static uint32_t ip(const char *s)
{
  uint32_t v = 0;
  assert_int_equal(husk_ip_parse(s, &v), 0);
  return v;
}

static void make_net(husk_network *n, const char *name, const char *cidr)
{
  husk_cidr c;
  husk_err err = {0};
  assert_int_equal(husk_cidr_parse(cidr, &c, &err), 0);
  assert_int_equal(husk_network_init(n, name, &c, &err), 0);
  assert_int_equal(husk_network_save(root, n, &err), 0);
}

static int alloc(const husk_network *n, const char *id, uint32_t *addr, husk_err *err)
{
  husk_lease l = {0};
  l.container = husk_xstrdup(id);
  l.pid = getpid();
  l.pid_start = 0;
  int reclaimed = 0;
  int lock = -1;
  int r = husk_ipam_lock(root, &lock, err);
  if (r == 0)
    r = husk_ipam_allocate(root, n, &l, &reclaimed, err);
  if (lock >= 0)
    close(lock);
  *addr = l.addr;
  husk_lease_clear(&l);
  return r;
}

static void test_network_records_roundtrip(void **state)
{
  (void)state;
  husk_network n, got;
  husk_err err = {0};
  make_net(&n, "web", "10.90.0.0/16");
  assert_int_equal(husk_network_load(root, "web", &got, &err), 0);
  assert_string_equal(got.name, "web");
  assert_string_equal(got.bridge, "hk-web");
  assert_int_equal(got.subnet.addr, ip("10.90.0.0"));
  assert_int_equal(got.subnet.prefix, 16);
  assert_int_equal(got.gateway, ip("10.90.0.1"));
  assert_int_equal(husk_network_save(root, &n, &err), -EEXIST);
  assert_int_equal(husk_network_load(root, "nope", &got, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "not found"));

  make_net(&n, "alpha", "10.91.0.0/24");
  husk_network *list = NULL;
  size_t cnt = 0;
  assert_int_equal(husk_network_list(root, &list, &cnt, &err), 0);
  assert_int_equal(cnt, 2);
  assert_string_equal(list[0].name, "alpha");
  assert_string_equal(list[1].name, "web");
  free(list);

  assert_int_equal(husk_network_delete(root, "alpha", &err), 0);
  assert_int_equal(husk_network_delete(root, "web", &err), 0);
  assert_int_equal(husk_network_delete(root, "web", &err), -ENOENT);
  assert_int_equal(husk_network_list(root, &list, &cnt, &err), 0);
  assert_int_equal(cnt, 0);
  free(list);
}

static void test_lease_json_roundtrip(void **state)
{
  (void)state;
  husk_lease l = {0}, back;
  snprintf(l.network, sizeof(l.network), "bridge");
  l.addr = ip("10.88.0.9");
  l.container = husk_xstrdup("c1");
  l.name = husk_xstrdup("web");
  l.hostname = husk_xstrdup("web-host");
  l.hosts_path = husk_xstrdup("/var/lib/husk/containers/c1/hosts");
  snprintf(l.veth, sizeof(l.veth), "hk0123456789ab");
  l.pid = 4242;
  l.pid_start = 99;
  husk_port_map ports[] = {{0, 8080, 80, IPPROTO_TCP}, {ip("127.0.0.1"), 53, 53, IPPROTO_UDP}};
  l.ports = ports;
  l.n_ports = 2;
  char *json = husk_lease_to_json(&l);
  l.ports = NULL;
  husk_err err = {0};
  assert_int_equal(husk_lease_from_json(json, &back, &err), 0);
  free(json);
  assert_string_equal(back.network, "bridge");
  assert_int_equal(back.addr, l.addr);
  assert_string_equal(back.container, "c1");
  assert_string_equal(back.name, "web");
  assert_string_equal(back.hostname, "web-host");
  assert_string_equal(back.hosts_path, l.hosts_path);
  assert_string_equal(back.veth, "hk0123456789ab");
  assert_int_equal(back.pid, 4242);
  assert_int_equal(back.pid_start, 99);
  assert_int_equal(back.n_ports, 2);
  assert_memory_equal(&back.ports[0], &ports[0], sizeof(ports[0]));
  assert_memory_equal(&back.ports[1], &ports[1], sizeof(ports[1]));
  husk_lease_clear(&back);
  husk_lease_clear(&l);
  assert_int_equal(husk_lease_from_json("[]", &back, &err), -EINVAL);
  assert_int_equal(husk_lease_from_json("{\"network\":\"x\"}", &back, &err), -EINVAL);
}

static void test_allocation_is_sequential_skips_gateway_and_reuses(void **state)
{
  (void)state;
  husk_network n;
  husk_err err = {0};
  make_net(&n, "seq", "10.92.0.0/24");
  uint32_t a, b, again;
  assert_int_equal(alloc(&n, "c1", &a, &err), 0);
  assert_int_equal(alloc(&n, "c2", &b, &err), 0);
  assert_int_equal(a, ip("10.92.0.2")); /* .1 is the gateway */
  assert_int_equal(b, ip("10.92.0.3"));
  /* the same container gets its address back */
  assert_int_equal(alloc(&n, "c1", &again, &err), 0);
  assert_int_equal(again, a);

  husk_lease *v = NULL;
  size_t cnt = 0;
  assert_int_equal(husk_ipam_leases(root, "seq", &v, &cnt, &err), 0);
  assert_int_equal(cnt, 2);
  assert_string_equal(v[0].container, "c1");
  assert_string_equal(v[1].container, "c2");
  husk_leases_free(v, cnt);

  /* a released address is not handed out again right away */
  assert_int_equal(husk_ipam_release(root, "seq", a, &err), 0);
  assert_int_equal(husk_ipam_release(root, "seq", a, &err), 0); /* idempotent */
  uint32_t c;
  assert_int_equal(alloc(&n, "c3", &c, &err), 0);
  assert_int_equal(c, ip("10.92.0.4"));

  assert_int_equal(husk_network_delete(root, "seq", &err), -EBUSY);
  assert_non_null(strstr(err.msg, "in use"));
}

static void test_exhaustion_is_enospc_and_wraps_after_release(void **state)
{
  (void)state;
  husk_network n;
  husk_err err = {0};
  make_net(&n, "tiny", "10.93.0.0/29"); /* .1 gateway, .2-.6 hosts */
  uint32_t got[5];
  for (int i = 0; i < 5; i++) {
    char id[8];
    snprintf(id, sizeof(id), "t%d", i);
    assert_int_equal(alloc(&n, id, &got[i], &err), 0);
    assert_int_equal(got[i], ip("10.93.0.2") + (uint32_t)i);
  }
  uint32_t x;
  assert_int_equal(alloc(&n, "t5", &x, &err), -ENOSPC);
  assert_non_null(strstr(err.msg, "no free address"));
  assert_int_equal(husk_ipam_release(root, "tiny", got[2], &err), 0);
  assert_int_equal(alloc(&n, "t6", &x, &err), 0);
  assert_int_equal(x, got[2]);
}

static void test_stale_lease_is_reclaimed(void **state)
{
  (void)state;
  husk_network n;
  husk_err err = {0};
  make_net(&n, "stale", "10.94.0.0/30"); /* one host address: .2 */
  /* a lease held by a process that is gone (and has no veth) */
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0)
    _exit(0);
  waitpid(child, NULL, 0);
  husk_lease l = {0};
  l.container = husk_xstrdup("dead");
  l.pid = child;
  l.pid_start = 1;
  snprintf(l.veth, sizeof(l.veth), "hkdeadbeef0000");
  int reclaimed = 0;
  assert_int_equal(husk_ipam_allocate(root, &n, &l, &reclaimed, &err), 0);
  assert_int_equal(l.addr, ip("10.94.0.2"));
  husk_lease_clear(&l);

  uint32_t a;
  husk_lease live = {0};
  live.container = husk_xstrdup("live");
  live.pid = getpid();
  assert_int_equal(husk_ipam_allocate(root, &n, &live, &reclaimed, &err), 0);
  assert_int_equal(reclaimed, 1);
  a = live.addr;
  assert_int_equal(a, ip("10.94.0.2"));
  husk_lease_clear(&live);

  /* a live holder is never reclaimed */
  assert_int_equal(alloc(&n, "other", &a, &err), -ENOSPC);
}

#define WORKERS 20
static void test_parallel_allocations_get_distinct_addresses(void **state)
{
  (void)state;
  husk_network n;
  husk_err err = {0};
  make_net(&n, "par", "10.95.0.0/24");
  pid_t pids[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      char id[16];
      snprintf(id, sizeof(id), "w%02d", i);
      uint32_t a;
      husk_err e = {0};
      _exit(alloc(&n, id, &a, &e) == 0 ? 0 : 1);
    }
  }
  for (int i = 0; i < WORKERS; i++) {
    int st;
    assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  husk_lease *v = NULL;
  size_t cnt = 0;
  assert_int_equal(husk_ipam_leases(root, "par", &v, &cnt, &err), 0);
  assert_int_equal(cnt, WORKERS);
  for (size_t i = 1; i < cnt; i++)
    assert_true(v[i].addr != v[i - 1].addr); /* sorted, so neighbours differ */
  for (size_t i = 0; i < cnt; i++) {
    assert_true(husk_cidr_contains(&n.subnet, v[i].addr));
    assert_true(v[i].addr != n.gateway);
  }
  husk_leases_free(v, cnt);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_network_records_roundtrip, setup, teardown),
      cmocka_unit_test(test_lease_json_roundtrip),
      cmocka_unit_test_setup_teardown(test_allocation_is_sequential_skips_gateway_and_reuses, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_exhaustion_is_enospc_and_wraps_after_release, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_stale_lease_is_reclaimed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parallel_allocations_get_distinct_addresses, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
