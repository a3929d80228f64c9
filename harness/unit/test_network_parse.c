/* Networking text: CIDR and address parsing, -p parsing and conflicts,
 * /etc/hosts, /etc/resolv.conf, the nftables ruleset and interface names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"
#include "network.h"
#include "util.h"

static uint32_t ip(const char *s)
{
  uint32_t v = 0;
  assert_int_equal(husk_ip_parse(s, &v), 0);
  return v;
}

static void test_ip_parse_accepts_dotted_quads(void **state)
{
  (void)state;
  assert_int_equal(ip("10.88.0.1"), 0x0a580001u);
  assert_int_equal(ip("0.0.0.0"), 0);
  assert_int_equal(ip("255.255.255.255"), 0xffffffffu);
  char buf[16];
  assert_string_equal(husk_ip_str(0xac120005u, buf), "172.18.0.5");
}

static void test_ip_parse_rejects_garbage(void **state)
{
  (void)state;
  uint32_t v;
  const char *bad[] = {"",        "1.2.3",    "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "01.2.3.4",
                       "a.b.c.d", "1.2.3.4 ", " 1.2.3.4",  "1..3.4",    "::1",      "1.2.3.4/8"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++)
    assert_int_equal(husk_ip_parse(bad[i], &v), -EINVAL);
}

static void test_cidr_parse_valid(void **state)
{
  (void)state;
  husk_cidr c;
  husk_err err = {0};
  assert_int_equal(husk_cidr_parse("10.88.0.0/16", &c, &err), 0);
  assert_int_equal(c.addr, 0x0a580000u);
  assert_int_equal(c.prefix, 16);
  assert_int_equal(husk_cidr_parse("0.0.0.0/0", &c, &err), 0);
  assert_int_equal(c.prefix, 0);
  assert_int_equal(husk_cidr_parse("192.168.1.7/32", &c, &err), 0);
  char buf[19];
  assert_int_equal(husk_cidr_parse("172.30.4.0/22", &c, &err), 0);
  assert_string_equal(husk_cidr_str(&c, buf), "172.30.4.0/22");
}

static void test_cidr_parse_host_bits_suggest_network(void **state)
{
  (void)state;
  husk_cidr c;
  husk_err err = {0};
  assert_int_equal(husk_cidr_parse("10.88.0.5/16", &c, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "host bits"));
  assert_non_null(strstr(err.msg, "10.88.0.0/16"));
}

static void test_cidr_parse_invalid(void **state)
{
  (void)state;
  husk_cidr c;
  husk_err err = {0};
  const char *bad[] = {"",         "10.0.0.0",    "10.0.0.0/",   "10.0.0.0/33", "10.0.0.0/-1",
                       "10.0.0/8", "10.0.0.0/08", "10.0.0.0/8x", "x/8"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    husk_error_clear(&err);
    assert_int_equal(husk_cidr_parse(bad[i], &c, &err), -EINVAL);
    assert_true(err.msg[0] != '\0');
  }
}

static void test_cidr_contains_and_overlaps(void **state)
{
  (void)state;
  husk_cidr a = {ip("10.88.0.0"), 16}, b = {ip("10.88.5.0"), 24}, c = {ip("10.89.0.0"), 16},
            all = {0, 0};
  assert_true(husk_cidr_contains(&a, ip("10.88.255.254")));
  assert_false(husk_cidr_contains(&a, ip("10.89.0.1")));
  assert_true(husk_cidr_overlaps(&a, &b));
  assert_true(husk_cidr_overlaps(&b, &a));
  assert_false(husk_cidr_overlaps(&a, &c));
  assert_true(husk_cidr_overlaps(&all, &c));
  assert_int_equal(husk_cidr_mask(0), 0);
  assert_int_equal(husk_cidr_mask(32), 0xffffffffu);
  assert_int_equal(husk_cidr_mask(20), 0xfffff000u);
}

static void test_port_parse_forms(void **state)
{
  (void)state;
  husk_port_map p;
  husk_err err = {0};
  assert_int_equal(husk_port_map_parse("8080:80", &p, &err), 0);
  assert_int_equal(p.host_ip, 0);
  assert_int_equal(p.host_port, 8080);
  assert_int_equal(p.container_port, 80);
  assert_int_equal(p.proto, IPPROTO_TCP);

  assert_int_equal(husk_port_map_parse("127.0.0.1:5353:53/udp", &p, &err), 0);
  assert_int_equal(p.host_ip, ip("127.0.0.1"));
  assert_int_equal(p.host_port, 5353);
  assert_int_equal(p.container_port, 53);
  assert_int_equal(p.proto, IPPROTO_UDP);

  assert_int_equal(husk_port_map_parse("1:65535/tcp", &p, &err), 0);
  assert_int_equal(p.host_port, 1);
  assert_int_equal(p.container_port, 65535);

  char buf[48];
  assert_int_equal(husk_port_map_parse("10.0.0.1:80:8080/udp", &p, &err), 0);
  assert_string_equal(husk_port_map_str(&p, buf, sizeof(buf)), "10.0.0.1:80:8080/udp");
  husk_port_map q;
  assert_int_equal(husk_port_map_parse(buf, &q, &err), 0);
  assert_memory_equal(&p, &q, sizeof(p));
}

static void test_port_parse_malformed_is_clear(void **state)
{
  (void)state;
  struct {
    const char *in, *needle;
  } cases[] = {
      {"", "expected"},
      {"80", "host port is required"},
      {"0:80", "host port"},
      {"65536:80", "host port"},
      {"8080:0", "container port"},
      {"8080:http", "container port"},
      {"abc:80", "host port"},
      {"8080:80/sctp", "unknown protocol"},
      {"8080:80/", "unknown protocol"},
      {"1.2.3:8080:80", "not an IPv4 address"},
      {":8080:80", "empty host address"},
      {"127.0.0.1::80", "empty host port"},
      {"a:b:c:d", "expected"},
      {"[::1]:80:80", "IPv6"},
      {"08080:80", "host port"},
      {"-1:80", "host port"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    husk_port_map p;
    husk_err err = {0};
    assert_int_equal(husk_port_map_parse(cases[i].in, &p, &err), -EINVAL);
    if (strstr(err.msg, cases[i].needle) == NULL)
      fail_msg("-p %s: message \"%s\" lacks \"%s\"", cases[i].in, err.msg, cases[i].needle);
  }
}

static void test_port_conflicts(void **state)
{
  (void)state;
  husk_port_map any = {0, 8080, 80, IPPROTO_TCP}, lo = {ip("127.0.0.1"), 8080, 81, IPPROTO_TCP},
                other = {ip("10.0.0.1"), 8080, 80, IPPROTO_TCP}, udp = {0, 8080, 80, IPPROTO_UDP},
                port2 = {0, 8081, 80, IPPROTO_TCP};
  assert_true(husk_port_map_conflicts(&any, &lo));
  assert_true(husk_port_map_conflicts(&lo, &any));
  assert_false(husk_port_map_conflicts(&lo, &other));
  assert_false(husk_port_map_conflicts(&any, &udp));
  assert_false(husk_port_map_conflicts(&any, &port2));
  assert_true(husk_port_map_conflicts(&lo, &lo));
}

static void test_network_names(void **state)
{
  (void)state;
  husk_err err = {0};
  assert_int_equal(husk_network_validate_name("front_end-1.a", &err), 0);
  assert_int_equal(husk_network_validate_name("", &err), -EINVAL);
  assert_int_equal(husk_network_validate_name("-x", &err), -EINVAL);
  assert_int_equal(husk_network_validate_name("a/b", &err), -EINVAL);
  assert_int_equal(husk_network_validate_name("..", &err), -EINVAL);
  char longname[80];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[79] = '\0';
  assert_int_equal(husk_network_validate_name(longname, &err), -EINVAL);

  husk_network n;
  husk_cidr c = {ip("10.90.0.0"), 16};
  assert_int_equal(husk_network_init(&n, "bridge", &c, &err), 0);
  assert_string_equal(n.bridge, "husk0");
  assert_int_equal(n.gateway, ip("10.90.0.1"));
  assert_int_equal(husk_network_init(&n, "web", &c, &err), 0);
  assert_string_equal(n.bridge, "hk-web");
  assert_int_equal(husk_network_init(&n, "a-rather-long-network-name", &c, &err), 0);
  assert_int_equal(strncmp(n.bridge, "hk-", 3), 0);
  assert_true(strlen(n.bridge) <= 15);
  husk_cidr tiny = {ip("10.0.0.0"), 31};
  assert_int_equal(husk_network_init(&n, "x", &tiny, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "/30"));
}

static void test_veth_name_fits_ifnamsiz_and_differs(void **state)
{
  (void)state;
  char a[HUSK_IFNAME_MAX], b[HUSK_IFNAME_MAX];
  husk_net_veth_name("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", a);
  husk_net_veth_name("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee", b);
  assert_int_equal(strlen(a), 14);
  assert_int_equal(strncmp(a, "hk", 2), 0);
  assert_string_not_equal(a, b);
  husk_net_veth_name("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", b);
  assert_string_equal(a, b);
}

static void test_hosts_lists_self_and_peers(void **state)
{
  (void)state;
  husk_host_entry self = {ip("10.88.0.2"), "web", "abc123"};
  husk_host_entry peers[] = {
      {ip("10.88.0.3"), "db", "db"},      /* name == hostname: once */
      {ip("10.88.0.2"), "web", "abc123"}, /* self again: skipped */
      {ip("10.88.0.4"), NULL, "f00"},     /* no name */
      {ip("10.88.0.5"), NULL, NULL},      /* nothing to resolve */
  };
  _cleanup_free_ char *h = husk_net_hosts_format(&self, peers, HUSK_ARRAY_SIZE(peers));
  assert_non_null(strstr(h, "127.0.0.1\tlocalhost\n"));
  assert_non_null(strstr(h, "::1\tlocalhost ip6-localhost ip6-loopback\n"));
  assert_non_null(strstr(h, "10.88.0.2\tabc123 web\n"));
  assert_non_null(strstr(h, "10.88.0.3\tdb\n"));
  assert_non_null(strstr(h, "10.88.0.4\tf00\n"));
  assert_null(strstr(h, "10.88.0.5"));
  /* self only once */
  const char *first = strstr(h, "10.88.0.2");
  assert_null(strstr(first + 1, "10.88.0.2"));
}

static void test_hosts_without_address_uses_127_0_1_1(void **state)
{
  (void)state;
  husk_host_entry self = {0, "quiet", "quiet"};
  _cleanup_free_ char *h = husk_net_hosts_format(&self, NULL, 0);
  assert_non_null(strstr(h, "127.0.1.1\tquiet\n"));
  _cleanup_free_ char *h2 = husk_net_hosts_format(NULL, NULL, 0);
  assert_null(strstr(h2, "127.0.1.1"));
  _cleanup_free_ char *hn = husk_net_hostname("box");
  assert_string_equal(hn, "box\n");
}

static void test_resolv_drops_loopback_nameservers(void **state)
{
  (void)state;
  const char *host = "# generated\n"
                     "nameserver 127.0.0.53\n"
                     "nameserver 192.0.2.53\n"
                     "nameserver ::1\n"
                     "search example.com\n"
                     "options edns0 trust-ad\n";
  _cleanup_free_ char *r = husk_net_resolv_conf(host, false, NULL, NULL, NULL);
  assert_null(strstr(r, "127.0.0.53"));
  assert_null(strstr(r, "::1"));
  assert_non_null(strstr(r, "nameserver 192.0.2.53\n"));
  assert_non_null(strstr(r, "search example.com\n"));
  assert_non_null(strstr(r, "options edns0 trust-ad\n"));
  assert_null(strstr(r, "8.8.8.8"));

  /* host network: the host's file as it is */
  _cleanup_free_ char *rh = husk_net_resolv_conf(host, true, NULL, NULL, NULL);
  assert_non_null(strstr(rh, "nameserver 127.0.0.53\n"));
}

static void test_resolv_falls_back_and_overrides(void **state)
{
  (void)state;
  const char *host = "nameserver 127.0.0.53\nsearch lan\n";
  _cleanup_free_ char *r = husk_net_resolv_conf(host, false, NULL, NULL, NULL);
  assert_non_null(strstr(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"));
  assert_non_null(strstr(r, "search lan\n"));

  char *dns[] = {"192.0.2.1", NULL}, *search[] = {"a.test", "b.test", NULL},
       *opts[] = {"ndots:2", NULL};
  _cleanup_free_ char *r2 = husk_net_resolv_conf(host, false, dns, search, opts);
  assert_non_null(strstr(r2, "nameserver 192.0.2.1\n"));
  assert_null(strstr(r2, "8.8.8.8"));
  assert_null(strstr(r2, "search lan"));
  assert_non_null(strstr(r2, "search a.test b.test\n"));
  assert_non_null(strstr(r2, "options ndots:2\n"));

  _cleanup_free_ char *r3 = husk_net_resolv_conf("", false, NULL, NULL, NULL);
  assert_string_equal(r3, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

static void test_ruleset_empty_deletes_table(void **state)
{
  (void)state;
  _cleanup_free_ char *s = husk_fw_ruleset(NULL, 0, NULL, 0);
  assert_string_equal(s, "table ip husk\ndelete table ip husk\n");
}

static void test_ruleset_network_and_ports(void **state)
{
  (void)state;
  husk_fw_network nets[] = {{"husk0", {ip("10.88.0.0"), 16}}};
  _cleanup_free_ char *plain = husk_fw_ruleset(nets, 1, NULL, 0);
  assert_non_null(strstr(plain, "ip saddr 10.88.0.0/16 oifname != \"husk0\" masquerade\n"));
  assert_non_null(strstr(plain, "iifname \"husk0\" accept\n"));
  assert_null(strstr(plain, "dnat to"));
  assert_null(strstr(plain, "chain ports"));

  husk_fw_port ports[] = {
      {{0, 8080, 80, IPPROTO_TCP}, ip("10.88.0.2")},
      {{ip("127.0.0.1"), 5353, 53, IPPROTO_UDP}, ip("10.88.0.3")},
  };
  _cleanup_free_ char *s = husk_fw_ruleset(nets, 1, ports, 2);
  /* the script replaces the table in one transaction */
  assert_int_equal(strncmp(s, "table ip husk\ndelete table ip husk\ntable ip husk {\n", 50), 0);
  assert_non_null(strstr(s, "\t\ttcp dport 8080 dnat to 10.88.0.2:80\n"));
  assert_non_null(strstr(s, "\t\tip daddr 127.0.0.1 udp dport 5353 dnat to 10.88.0.3:53\n"));
  assert_non_null(strstr(s, "type nat hook output priority -100"));
  assert_non_null(strstr(s, "type nat hook prerouting priority -100"));
  assert_non_null(strstr(s, "oifname \"husk0\" ip saddr 127.0.0.0/8 masquerade\n"));
  /* braces balance */
  int depth = 0;
  for (const char *c = s; *c; c++) {
    depth += *c == '{';
    depth -= *c == '}';
    assert_true(depth >= 0);
  }
  assert_int_equal(depth, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ip_parse_accepts_dotted_quads),
      cmocka_unit_test(test_ip_parse_rejects_garbage),
      cmocka_unit_test(test_cidr_parse_valid),
      cmocka_unit_test(test_cidr_parse_host_bits_suggest_network),
      cmocka_unit_test(test_cidr_parse_invalid),
      cmocka_unit_test(test_cidr_contains_and_overlaps),
      cmocka_unit_test(test_port_parse_forms),
      cmocka_unit_test(test_port_parse_malformed_is_clear),
      cmocka_unit_test(test_port_conflicts),
      cmocka_unit_test(test_network_names),
      cmocka_unit_test(test_veth_name_fits_ifnamsiz_and_differs),
      cmocka_unit_test(test_hosts_lists_self_and_peers),
      cmocka_unit_test(test_hosts_without_address_uses_127_0_1_1),
      cmocka_unit_test(test_resolv_drops_loopback_nameservers),
      cmocka_unit_test(test_resolv_falls_back_and_overrides),
      cmocka_unit_test(test_ruleset_empty_deletes_table),
      cmocka_unit_test(test_ruleset_network_and_ports),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
