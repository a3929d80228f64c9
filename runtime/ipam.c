/* IPAM: CIDR and -p parsing, network records and address leases on disk. */
#include "ipam.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

/* ---- addresses ---------------------------------------------------------- */

uint32_t husk_cidr_mask(int prefix)
{
  if (prefix <= 0)
    return 0;
  if (prefix >= 32)
    return 0xffffffffu;
  return ~((1u << (32 - prefix)) - 1u);
}

int husk_ip_parse(const char *s, uint32_t *out)
{
  uint32_t ip = 0;
  const char *p = s;
  if (s == NULL)
    return -EINVAL;
  for (int part = 0; part < 4; part++) {
    if (!isdigit((unsigned char)*p))
      return -EINVAL;
    unsigned v = 0;
    const char *start = p;
    while (isdigit((unsigned char)*p)) {
      v = v * 10 + (unsigned)(*p - '0');
      if (v > 255)
        return -EINVAL;
      p++;
    }
    if (p - start > 1 && *start == '0')
      return -EINVAL; /* no octal-looking parts */
    ip = (ip << 8) | v;
    if (part < 3) {
      if (*p != '.')
        return -EINVAL;
      p++;
    }
  }
  if (*p != '\0')
    return -EINVAL;
  *out = ip;
  return 0;
}

char *husk_ip_str(uint32_t ip, char *buf)
{
  snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
  return buf;
}

char *husk_cidr_str(const husk_cidr *c, char *buf)
{
  char ip[16];
  snprintf(buf, 19, "%s/%d", husk_ip_str(c->addr, ip), c->prefix);
  return buf;
}

bool husk_cidr_contains(const husk_cidr *c, uint32_t ip)
{
  return (ip & husk_cidr_mask(c->prefix)) == c->addr;
}

bool husk_cidr_overlaps(const husk_cidr *a, const husk_cidr *b)
{
  int p = a->prefix < b->prefix ? a->prefix : b->prefix;
  uint32_t m = husk_cidr_mask(p);
  return (a->addr & m) == (b->addr & m);
}

int husk_cidr_parse(const char *s, husk_cidr *out, husk_err *err)
{
  if (s == NULL || *s == '\0')
    return husk_errorf_plain(err, EINVAL, "empty subnet (expected a.b.c.d/N)");
  const char *slash = strchr(s, '/');
  if (slash == NULL)
    return husk_errorf_plain(err, EINVAL, "subnet %s has no prefix length (expected a.b.c.d/N)", s);
  char ipbuf[32];
  size_t iplen = (size_t)(slash - s);
  if (iplen >= sizeof(ipbuf))
    return husk_errorf_plain(err, EINVAL, "invalid subnet %s", s);
  memcpy(ipbuf, s, iplen);
  ipbuf[iplen] = '\0';
  uint32_t ip;
  if (husk_ip_parse(ipbuf, &ip) < 0)
    return husk_errorf_plain(err, EINVAL, "invalid subnet %s: %s is not an IPv4 address", s, ipbuf);
  uint64_t prefix;
  if (husk_parse_u64(slash + 1, &prefix) < 0 || prefix > 32 ||
      (slash[1] == '0' && slash[2] != '\0'))
    return husk_errorf_plain(err, EINVAL, "invalid subnet %s: prefix length must be 0..32", s);
  uint32_t mask = husk_cidr_mask((int)prefix);
  if ((ip & mask) != ip) {
    char net[16];
    return husk_errorf_plain(err, EINVAL,
                             "invalid subnet %s: host bits are set (did you mean %s/%d?)", s,
                             husk_ip_str(ip & mask, net), (int)prefix);
  }
  out->addr = ip;
  out->prefix = (int)prefix;
  return 0;
}

/* ---- published ports ---------------------------------------------------- */

const char *husk_proto_name(int proto)
{
  return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static int parse_port(const char *s, uint16_t *out)
{
  uint64_t v;
  if (husk_parse_u64(s, &v) < 0 || v < 1 || v > 65535 || (s[0] == '0'))
    return -EINVAL;
  *out = (uint16_t)v;
  return 0;
}

int husk_port_map_parse(const char *s, husk_port_map *out, husk_err *err)
{
  static const char usage[] = "expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]";
  if (s == NULL || *s == '\0')
    return husk_errorf_plain(err, EINVAL, "invalid port mapping \"\": %s", usage);
  if (strlen(s) > 64)
    return husk_errorf_plain(err, EINVAL, "invalid port mapping %.64s...: too long", s);
  char buf[72];
  strcpy(buf, s);
  husk_port_map p = {.proto = IPPROTO_TCP};

  char *slash = strchr(buf, '/');
  if (slash) {
    *slash = '\0';
    const char *proto = slash + 1;
    if (strcmp(proto, "tcp") == 0)
      p.proto = IPPROTO_TCP;
    else if (strcmp(proto, "udp") == 0)
      p.proto = IPPROTO_UDP;
    else
      return husk_errorf_plain(
          err, EINVAL, "invalid port mapping %s: unknown protocol \"%s\" (tcp or udp)", s, proto);
  }
  if (buf[0] == '[')
    return husk_errorf_plain(err, EINVAL,
                             "invalid port mapping %s: IPv6 host addresses are not supported", s);
  char *parts[4] = {NULL};
  int n = 0;
  /* split on ':' keeping empty fields */
  char *cur = buf;
  for (;;) {
    if (n == 4)
      return husk_errorf_plain(err, EINVAL, "invalid port mapping %s: %s", s, usage);
    parts[n++] = cur;
    char *colon = strchr(cur, ':');
    if (colon == NULL)
      break;
    *colon = '\0';
    cur = colon + 1;
  }
  const char *hostip = NULL, *hostport, *ctrport;
  if (n == 2) {
    hostport = parts[0];
    ctrport = parts[1];
  } else if (n == 3) {
    hostip = parts[0];
    hostport = parts[1];
    ctrport = parts[2];
  } else if (n == 1) {
    return husk_errorf_plain(err, EINVAL, "invalid port mapping %s: a host port is required (%s)",
                             s, usage);
  } else {
    return husk_errorf_plain(err, EINVAL, "invalid port mapping %s: %s", s, usage);
  }
  if (hostip && *hostip) {
    if (husk_ip_parse(hostip, &p.host_ip) < 0)
      return husk_errorf_plain(
          err, EINVAL, "invalid port mapping %s: host address \"%s\" is not an IPv4 address", s,
          hostip);
  } else if (hostip) {
    return husk_errorf_plain(err, EINVAL, "invalid port mapping %s: empty host address (%s)", s,
                             usage);
  }
  if (*hostport == '\0')
    return husk_errorf_plain(err, EINVAL, "invalid port mapping %s: empty host port (%s)", s,
                             usage);
  if (parse_port(hostport, &p.host_port) < 0)
    return husk_errorf_plain(
        err, EINVAL, "invalid port mapping %s: host port \"%s\" is not a number in 1..65535", s,
        hostport);
  if (parse_port(ctrport, &p.container_port) < 0)
    return husk_errorf_plain(
        err, EINVAL, "invalid port mapping %s: container port \"%s\" is not a number in 1..65535",
        s, ctrport);
  *out = p;
  return 0;
}

char *husk_port_map_str(const husk_port_map *p, char *buf, size_t len)
{
  char ip[16];
  snprintf(buf, len, "%s:%u:%u/%s", husk_ip_str(p->host_ip, ip), p->host_port, p->container_port,
           husk_proto_name(p->proto));
  return buf;
}

bool husk_port_map_conflicts(const husk_port_map *a, const husk_port_map *b)
{
  if (a->proto != b->proto || a->host_port != b->host_port)
    return false;
  return a->host_ip == 0 || b->host_ip == 0 || a->host_ip == b->host_ip;
}

/* ---- names -------------------------------------------------------------- */

int husk_network_validate_name(const char *name, husk_err *err)
{
  size_t len = name ? strlen(name) : 0;
  if (len == 0)
    return husk_errorf_plain(err, EINVAL, "empty network name");
  if (len >= HUSK_NET_NAME_MAX)
    return husk_errorf_plain(err, EINVAL,
                             "network name %.32s... is too long (at most %d characters)", name,
                             HUSK_NET_NAME_MAX - 1);
  if (!isalnum((unsigned char)name[0]))
    return husk_errorf_plain(err, EINVAL,
                             "invalid network name %s: must start with a letter or digit", name);
  for (const char *c = name; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
      return husk_errorf_plain(
          err, EINVAL, "invalid network name %s: only letters, digits, '_', '.' and '-'", name);
  return 0;
}

static uint32_t fnv1a(const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

int husk_network_init(husk_network *net, const char *name, const husk_cidr *subnet, husk_err *err)
{
  int r = husk_network_validate_name(name, err);
  if (r < 0)
    return r;
  if (subnet->prefix < 8 || subnet->prefix > 30) {
    char c[19];
    return husk_errorf_plain(err, EINVAL, "subnet %s: prefix length must be between /8 and /30",
                             husk_cidr_str(subnet, c));
  }
  memset(net, 0, sizeof(*net));
  snprintf(net->name, sizeof(net->name), "%s", name);
  if (strcmp(name, HUSK_DEFAULT_NETWORK) == 0)
    snprintf(net->bridge, sizeof(net->bridge), "%s", HUSK_DEFAULT_BRIDGE);
  else if (strlen(name) <= HUSK_IFNAME_MAX - 1 - 3)
    snprintf(net->bridge, sizeof(net->bridge), "hk-%s", name);
  else
    snprintf(net->bridge, sizeof(net->bridge), "hk-%08x", fnv1a(name));
  net->subnet = *subnet;
  net->gateway = subnet->addr + 1;
  return 0;
}

/* ---- paths and locking -------------------------------------------------- */

static char *net_dir(const char *data_root, const char *name)
{
  return husk_xasprintf("%s/networks/%s", data_root, name);
}

int husk_ipam_lock(const char *data_root, int *lockfd, husk_err *err)
{
  _cleanup_free_ char *dir = husk_xasprintf("%s/networks", data_root);
  int r = husk_mkdir_p(AT_FDCWD, dir, 0700, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *path = husk_xasprintf("%s/.lock", dir);
  _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", path);
  while (flock(fd, LOCK_EX) < 0) {
    if (errno != EINTR)
      return husk_errorf(err, errno, "lock %s", path);
  }
  *lockfd = husk_steal_fd(fd);
  return 0;
}

/* ---- network records ---------------------------------------------------- */

static int network_from_json(const char *json, const char *path, husk_network *out, husk_err *err)
{
  json_object *o = json_tokener_parse(json);
  if (o == NULL || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "%s: not a JSON object", path);
  }
  json_object *v;
  const char *name = NULL, *bridge = NULL, *subnet = NULL, *gw = NULL;
  if (json_object_object_get_ex(o, "name", &v))
    name = json_object_get_string(v);
  if (json_object_object_get_ex(o, "bridge", &v))
    bridge = json_object_get_string(v);
  if (json_object_object_get_ex(o, "subnet", &v))
    subnet = json_object_get_string(v);
  if (json_object_object_get_ex(o, "gateway", &v))
    gw = json_object_get_string(v);
  int r = 0;
  husk_cidr c;
  memset(out, 0, sizeof(*out));
  if (!name || !bridge || !subnet || !gw || strlen(bridge) >= HUSK_IFNAME_MAX ||
      strlen(name) >= HUSK_NET_NAME_MAX) {
    r = husk_errorf_plain(err, EINVAL, "%s: missing or invalid name, bridge, subnet or gateway",
                          path);
  } else if ((r = husk_cidr_parse(subnet, &c, err)) < 0) {
    husk_error_wrap(err, "%s", path);
  } else if (husk_ip_parse(gw, &out->gateway) < 0) {
    r = husk_errorf_plain(err, EINVAL, "%s: invalid gateway %s", path, gw);
  } else {
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->bridge, sizeof(out->bridge), "%s", bridge);
    out->subnet = c;
  }
  json_object_put(o);
  return r;
}

int husk_network_load(const char *data_root, const char *name, husk_network *out, husk_err *err)
{
  int r = husk_network_validate_name(name, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *path = husk_xasprintf("%s/networks/%s/network.json", data_root, name);
  _cleanup_free_ char *json = NULL;
  r = husk_read_file_at(AT_FDCWD, path, &json, NULL, err);
  if (r == -ENOENT)
    return husk_errorf_plain(err, ENOENT, "network %s not found", name);
  if (r < 0)
    return r;
  return network_from_json(json, path, out, err);
}

/* A network's directory dir, made with its leases/ subdirectory (mkdir -p):
 * an fd of dir, or < 0. */
static int net_dir_make(const char *dir, const char *leases, husk_err *err)
{
  int r = husk_mkdir_p(AT_FDCWD, leases, 0700, err);
  if (r < 0)
    return r;
  int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open %s", dir);
  return fd;
}

int husk_network_save(const char *data_root, const husk_network *net, husk_err *err)
{
  _cleanup_free_ char *dir = net_dir(data_root, net->name);
  _cleanup_free_ char *leases = husk_xasprintf("%s/leases", dir);
  _cleanup_close_ int dfd = net_dir_make(dir, leases, err);
  if (dfd < 0)
    return dfd;
  if (faccessat(dfd, "network.json", F_OK, 0) == 0)
    return husk_errorf_plain(err, EEXIST, "network %s already exists", net->name);
  char sub[19], gw[16];
  json_object *o = json_object_new_object();
  json_object_object_add(o, "name", json_object_new_string(net->name));
  json_object_object_add(o, "bridge", json_object_new_string(net->bridge));
  json_object_object_add(o, "subnet", json_object_new_string(husk_cidr_str(&net->subnet, sub)));
  json_object_object_add(o, "gateway", json_object_new_string(husk_ip_str(net->gateway, gw)));
  const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
  _cleanup_free_ char *content = husk_xasprintf("%s\n", s);
  json_object_put(o);
  int r = husk_write_file_atomic(dfd, "network.json", content, strlen(content), err);
  if (r < 0)
    return husk_error_wrap(err, "save network %s", net->name);
  return 0;
}

int husk_network_delete(const char *data_root, const char *name, husk_err *err)
{
  int r = husk_network_validate_name(name, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *dir = net_dir(data_root, name);
  _cleanup_free_ char *leases = husk_xasprintf("%s/leases", dir);
  DIR *d = opendir(leases);
  if (d) {
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
      if (e->d_name[0] != '.')
        n++;
    closedir(d);
    if (n > 0)
      return husk_errorf_plain(err, EBUSY, "network %s is in use by %d container%s", name, n,
                               n == 1 ? "" : "s");
    if (rmdir(leases) < 0 && errno != ENOENT)
      return husk_errorf(err, errno, "remove %s", leases);
  }
  _cleanup_free_ char *json = husk_xasprintf("%s/network.json", dir);
  if (unlink(json) < 0) {
    if (errno == ENOENT)
      return husk_errorf_plain(err, ENOENT, "network %s not found", name);
    return husk_errorf(err, errno, "remove %s", json);
  }
  _cleanup_free_ char *last = husk_xasprintf("%s/last", dir);
  unlink(last);
  if (rmdir(dir) < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "remove %s", dir);
  return 0;
}

static int cmp_network(const void *a, const void *b)
{
  return strcmp(((const husk_network *)a)->name, ((const husk_network *)b)->name);
}

int husk_network_list(const char *data_root, husk_network **out, size_t *n, husk_err *err)
{
  *out = NULL;
  *n = 0;
  _cleanup_free_ char *dir = husk_xasprintf("%s/networks", data_root);
  DIR *d = opendir(dir);
  if (d == NULL) {
    if (errno == ENOENT)
      return 0;
    return husk_errorf(err, errno, "open %s", dir);
  }
  husk_network *v = NULL;
  size_t cnt = 0;
  struct dirent *e;
  int r = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || husk_network_validate_name(e->d_name, NULL) < 0)
      continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
      continue;
    husk_network net;
    husk_err e2;
    int lr = husk_network_load(data_root, e->d_name, &net, &e2);
    if (lr == -ENOENT)
      continue; /* a directory being created or removed */
    if (lr < 0) {
      r = husk_errorf_plain(err, e2.code, "%s", e2.msg);
      break;
    }
    v = husk_xrealloc(v, (cnt + 1) * sizeof(*v));
    v[cnt++] = net;
  }
  closedir(d);
  if (r < 0) {
    free(v);
    return r;
  }
  if (cnt)
    qsort(v, cnt, sizeof(*v), cmp_network);
  *out = v;
  *n = cnt;
  return 0;
}

/* ---- leases ------------------------------------------------------------- */

void husk_lease_clear(husk_lease *l)
{
  if (l == NULL)
    return;
  free(l->container);
  free(l->name);
  free(l->hostname);
  free(l->hosts_path);
  free(l->ports);
  memset(l, 0, sizeof(*l));
}

void husk_leases_free(husk_lease *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    husk_lease_clear(&v[i]);
  free(v);
}

static void add_str(json_object *o, const char *key, const char *val)
{
  if (val)
    json_object_object_add(o, key, json_object_new_string(val));
}

char *husk_lease_to_json(const husk_lease *l)
{
  char ip[16];
  json_object *o = json_object_new_object();
  add_str(o, "network", l->network);
  add_str(o, "address", husk_ip_str(l->addr, ip));
  add_str(o, "container", l->container);
  add_str(o, "name", l->name);
  add_str(o, "hostname", l->hostname);
  add_str(o, "veth", l->veth[0] ? l->veth : NULL);
  add_str(o, "hosts_path", l->hosts_path);
  json_object_object_add(o, "pid", json_object_new_int64(l->pid));
  json_object_object_add(o, "pid_start", json_object_new_uint64(l->pid_start));
  json_object *ports = json_object_new_array();
  for (size_t i = 0; i < l->n_ports; i++) {
    char buf[48];
    json_object_array_add(
        ports, json_object_new_string(husk_port_map_str(&l->ports[i], buf, sizeof(buf))));
  }
  json_object_object_add(o, "ports", ports);
  char *s = husk_xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
  json_object_put(o);
  return s;
}

static char *get_str(json_object *o, const char *key)
{
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
    return NULL;
  return husk_xstrdup(json_object_get_string(v));
}

int husk_lease_from_json(const char *json, husk_lease *out, husk_err *err)
{
  memset(out, 0, sizeof(*out));
  json_object *o = json_tokener_parse(json);
  if (o == NULL || !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    return husk_errorf_plain(err, EINVAL, "lease is not a JSON object");
  }
  int r = 0;
  _cleanup_free_ char *network = get_str(o, "network");
  _cleanup_free_ char *addr = get_str(o, "address");
  _cleanup_free_ char *veth = get_str(o, "veth");
  out->container = get_str(o, "container");
  out->name = get_str(o, "name");
  out->hostname = get_str(o, "hostname");
  out->hosts_path = get_str(o, "hosts_path");
  json_object *v;
  if (json_object_object_get_ex(o, "pid", &v))
    out->pid = (pid_t)json_object_get_int64(v);
  if (json_object_object_get_ex(o, "pid_start", &v))
    out->pid_start = json_object_get_uint64(v);
  if (network == NULL || addr == NULL || out->container == NULL ||
      strlen(network) >= sizeof(out->network) || husk_ip_parse(addr, &out->addr) < 0 ||
      (veth && strlen(veth) >= sizeof(out->veth))) {
    r = husk_errorf_plain(err, EINVAL, "lease: missing or invalid network, address or container");
    goto out;
  }
  snprintf(out->network, sizeof(out->network), "%s", network);
  if (veth)
    snprintf(out->veth, sizeof(out->veth), "%s", veth);
  if (json_object_object_get_ex(o, "ports", &v) && json_object_is_type(v, json_type_array)) {
    size_t n = json_object_array_length(v);
    out->ports = n ? husk_xcalloc(n, sizeof(*out->ports)) : NULL;
    for (size_t i = 0; i < n; i++) {
      json_object *p = json_object_array_get_idx(v, i);
      r = husk_port_map_parse(json_object_get_string(p), &out->ports[i], err);
      if (r < 0) {
        husk_error_wrap(err, "lease");
        goto out;
      }
      out->n_ports++;
    }
  }
out:
  json_object_put(o);
  if (r < 0)
    husk_lease_clear(out);
  return r;
}

bool husk_lease_alive(const husk_lease *l)
{
  /* the veth lives as long as the container's netns */
  if (l->veth[0] && if_nametoindex(l->veth) != 0)
    return true;
  if (l->pid <= 0)
    return false;
  uint64_t t = husk_pid_start_time(l->pid);
  return t != 0 && (l->pid_start == 0 || t == l->pid_start);
}

static int lease_cmp(const void *a, const void *b)
{
  const husk_lease *x = a, *y = b;
  int c = strcmp(x->network, y->network);
  if (c)
    return c;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int read_leases(const char *data_root, const char *network, husk_lease **v, size_t *n,
                       husk_err *err)
{
  _cleanup_free_ char *dir = husk_xasprintf("%s/networks/%s/leases", data_root, network);
  DIR *d = opendir(dir);
  if (d == NULL) {
    if (errno == ENOENT)
      return 0;
    return husk_errorf(err, errno, "open %s", dir);
  }
  struct dirent *e;
  int r = 0;
  while ((e = readdir(d)) != NULL) {
    uint32_t ip;
    if (e->d_name[0] == '.' || husk_ip_parse(e->d_name, &ip) < 0)
      continue;
    _cleanup_free_ char *json = NULL;
    husk_err e2;
    int rr = husk_read_file_at(dirfd(d), e->d_name, &json, NULL, &e2);
    if (rr == -ENOENT)
      continue; /* released meanwhile (reader without the lock) */
    if (rr < 0) {
      r = husk_errorf_plain(err, e2.code, "%s/%s: %s", dir, e->d_name, e2.msg);
      break;
    }
    husk_lease l;
    if (husk_lease_from_json(json, &l, &e2) < 0 || l.addr != ip) {
      /* a damaged lease still holds its address: keep it, with what we know */
      husk_lease_clear(&l);
      memset(&l, 0, sizeof(l));
      l.addr = ip;
      l.container = husk_xstrdup("");
    }
    snprintf(l.network, sizeof(l.network), "%s", network);
    *v = husk_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = l;
  }
  closedir(d);
  return r;
}

/* Hand over the leases read_leases() collected, sorted, or free them when r < 0. */
static int leases_done(int r, husk_lease *v, size_t cnt, husk_lease **out, size_t *n)
{
  if (r < 0) {
    husk_leases_free(v, cnt);
    return r;
  }
  if (cnt)
    qsort(v, cnt, sizeof(*v), lease_cmp);
  *out = v;
  *n = cnt;
  return 0;
}

int husk_ipam_leases(const char *data_root, const char *network, husk_lease **out, size_t *n,
                     husk_err *err)
{
  husk_lease *v = NULL;
  size_t cnt = 0;
  int r = read_leases(data_root, network, &v, &cnt, err);
  return leases_done(r, v, cnt, out, n);
}

int husk_ipam_all_leases(const char *data_root, husk_lease **out, size_t *n, husk_err *err)
{
  husk_network *nets = NULL;
  size_t nn = 0;
  *out = NULL;
  *n = 0;
  int r = husk_network_list(data_root, &nets, &nn, err);
  if (r < 0)
    return r;
  husk_lease *v = NULL;
  size_t cnt = 0;
  for (size_t i = 0; i < nn && r == 0; i++)
    r = read_leases(data_root, nets[i].name, &v, &cnt, err);
  free(nets);
  return leases_done(r, v, cnt, out, n);
}

static int write_lease(int leases_fd, const husk_lease *l, husk_err *err)
{
  char ip[16];
  _cleanup_free_ char *json = husk_lease_to_json(l);
  return husk_write_file_atomic(leases_fd, husk_ip_str(l->addr, ip), json, strlen(json), err);
}

int husk_ipam_update(const char *data_root, const husk_lease *lease, husk_err *err)
{
  _cleanup_free_ char *dir = husk_xasprintf("%s/networks/%s/leases", data_root, lease->network);
  _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dfd < 0)
    return husk_errorf(err, errno, "open %s", dir);
  return write_lease(dfd, lease, err);
}

int husk_ipam_release(const char *data_root, const char *network, uint32_t addr, husk_err *err)
{
  char ip[16];
  _cleanup_free_ char *path =
      husk_xasprintf("%s/networks/%s/leases/%s", data_root, network, husk_ip_str(addr, ip));
  if (unlink(path) < 0 && errno != ENOENT)
    return husk_errorf(err, errno, "remove lease %s", path);
  return 0;
}

int husk_ipam_allocate(const char *data_root, const husk_network *net, husk_lease *lease,
                       int *reclaimed, husk_err *err)
{
  *reclaimed = 0;
  _cleanup_free_ char *dir = net_dir(data_root, net->name);
  _cleanup_free_ char *ldir = husk_xasprintf("%s/leases", dir);
  _cleanup_close_ int dfd = net_dir_make(dir, ldir, err);
  if (dfd < 0)
    return dfd;
  _cleanup_close_ int lfd = open(ldir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (lfd < 0)
    return husk_errorf(err, errno, "open %s", ldir);

  snprintf(lease->network, sizeof(lease->network), "%s", net->name);

  /* the same container again (a retried or restarted start): same address */
  husk_lease *v = NULL;
  size_t n = 0;
  int r = husk_ipam_leases(data_root, net->name, &v, &n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n; i++) {
    if (v[i].container && strcmp(v[i].container, lease->container) == 0) {
      lease->addr = v[i].addr;
      husk_leases_free(v, n);
      return write_lease(lfd, lease, err);
    }
  }
  husk_leases_free(v, n);

  uint32_t mask = husk_cidr_mask(net->subnet.prefix);
  uint32_t first = net->subnet.addr + 1, last = (net->subnet.addr | ~mask) - 1;
  if (last < first)
    return husk_errorf_plain(err, ENOSPC, "network %s has no host addresses", net->name);
  uint32_t size = last - first + 1;

  uint32_t start = first;
  _cleanup_free_ char *lastbuf = NULL;
  husk_err e2;
  if (husk_read_file_at(dfd, "last", &lastbuf, NULL, &e2) == 0) {
    lastbuf[strcspn(lastbuf, "\n")] = '\0';
    uint32_t prev;
    if (husk_ip_parse(lastbuf, &prev) == 0 && prev >= first && prev < last)
      start = prev + 1;
  }
  for (uint32_t i = 0; i < size; i++) {
    uint32_t cand = first + ((start - first + i) % size);
    if (cand == net->gateway)
      continue;
    char ip[16];
    husk_ip_str(cand, ip);
    if (faccessat(lfd, ip, F_OK, 0) == 0) {
      /* taken: reclaim it when its holder is gone for good */
      _cleanup_free_ char *json = NULL;
      husk_lease old;
      if (husk_read_file_at(lfd, ip, &json, NULL, &e2) < 0 ||
          husk_lease_from_json(json, &old, &e2) < 0)
        continue;
      bool stale = !husk_lease_alive(&old);
      husk_lease_clear(&old);
      if (!stale)
        continue;
      if (unlinkat(lfd, ip, 0) < 0 && errno != ENOENT)
        continue;
      (*reclaimed)++;
    } else if (errno != ENOENT) {
      return husk_errorf(err, errno, "check lease %s/%s", ldir, ip);
    }
    lease->addr = cand;
    r = write_lease(lfd, lease, err);
    if (r < 0)
      return husk_error_wrap(err, "allocate %s in network %s", ip, net->name);
    _cleanup_free_ char *content = husk_xasprintf("%s\n", ip);
    if (husk_write_file_atomic(dfd, "last", content, strlen(content), &e2) < 0) {
      /* only a hint: the lease itself is what counts */
    }
    return 0;
  }
  char sub[19];
  return husk_errorf_plain(err, ENOSPC, "network %s (%s) has no free address", net->name,
                           husk_cidr_str(&net->subnet, sub));
}
