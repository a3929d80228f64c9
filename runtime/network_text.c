/* The container's /etc/hosts, /etc/hostname and /etc/resolv.conf. */
#include "network.h"
#include "network_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void husk_sb_add(husk_sbuf *b, const char *fmt, ...)
{
  va_list ap;
  for (;;) {
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
      abort();
    if (b->s && (size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap ? b->cap * 2 : 256) + (size_t)n;
    b->s = husk_xrealloc(b->s, b->cap);
  }
}

static char *sb_take(husk_sbuf *b)
{
  if (b->s == NULL)
    return husk_xstrdup("");
  return b->s;
}

/* "hostname name", without empty or repeated names */
static void add_names(husk_sbuf *b, const husk_host_entry *e)
{
  const char *names[2] = {e->hostname, e->name};
  const char *prev = NULL;
  for (int i = 0; i < 2; i++) {
    if (names[i] == NULL || *names[i] == '\0' || (prev && strcmp(prev, names[i]) == 0))
      continue;
    husk_sb_add(b, "%s%s", prev ? " " : "", names[i]);
    prev = names[i];
  }
}

static bool has_names(const husk_host_entry *e)
{
  return (e->name && *e->name) || (e->hostname && *e->hostname);
}

char *husk_net_hosts_format(const husk_host_entry *self, const husk_host_entry *peers,
                            size_t n_peers)
{
  husk_sbuf b = {0};
  husk_sb_add(&b, "127.0.0.1\tlocalhost\n"
                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                  "fe00::0\tip6-localnet\n"
                  "ff00::0\tip6-mcastprefix\n"
                  "ff02::1\tip6-allnodes\n"
                  "ff02::2\tip6-allrouters\n");
  char ip[16];
  if (self && has_names(self)) {
    husk_sb_add(&b, "%s\t", self->addr ? husk_ip_str(self->addr, ip) : "127.0.1.1");
    add_names(&b, self);
    husk_sb_add(&b, "\n");
  }
  for (size_t i = 0; i < n_peers; i++) {
    const husk_host_entry *p = &peers[i];
    if (p->addr == 0 || !has_names(p) || (self && p->addr == self->addr))
      continue;
    husk_sb_add(&b, "%s\t", husk_ip_str(p->addr, ip));
    add_names(&b, p);
    husk_sb_add(&b, "\n");
  }
  return sb_take(&b);
}

char *husk_net_hostname(const char *hostname)
{
  return husk_xasprintf("%s\n", hostname ? hostname : "");
}

static bool is_loopback_ns(const char *addr)
{
  return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
         strncmp(addr, "0:0:0:0:0:0:0:1", 15) == 0;
}

/* first word after `key` on a line starting with it, else NULL */
static const char *line_value(const char *line, size_t len, const char *key, size_t *vlen)
{
  size_t kl = strlen(key);
  if (len <= kl || strncmp(line, key, kl) != 0 || !isspace((unsigned char)line[kl]))
    return NULL;
  const char *v = line + kl;
  const char *end = line + len;
  while (v < end && isspace((unsigned char)*v))
    v++;
  const char *e = v;
  while (e < end && !isspace((unsigned char)*e))
    e++;
  *vlen = (size_t)(e - v);
  return *vlen ? v : NULL;
}

char *husk_net_resolv_conf(const char *host_resolv, bool host_network, char *const *dns,
                           char *const *search, char *const *options)
{
  _cleanup_free_ char *own = NULL;
  if (host_resolv == NULL) {
    husk_err e;
    if (husk_read_file_at(AT_FDCWD, "/etc/resolv.conf", &own, NULL, &e) < 0)
      own = husk_xstrdup("");
    host_resolv = own;
  }
  husk_sbuf b = {0};
  int nameservers = 0;
  bool replace_dns = dns && *dns, replace_search = search && *search,
       replace_opts = options && *options;
  for (const char *line = host_resolv; *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    size_t vlen;
    const char *v;
    bool keep = true;
    if ((v = line_value(line, len, "nameserver", &vlen)) != NULL) {
      char addr[64];
      snprintf(addr, sizeof(addr), "%.*s", (int)(vlen < 63 ? vlen : 63), v);
      if (replace_dns || (!host_network && is_loopback_ns(addr)))
        keep = false;
      else
        nameservers++;
    } else if (line_value(line, len, "search", &vlen) || line_value(line, len, "domain", &vlen)) {
      keep = !replace_search;
    } else if (line_value(line, len, "options", &vlen)) {
      keep = !replace_opts;
    }
    if (keep && len > 0)
      husk_sb_add(&b, "%.*s\n", (int)len, line);
    line = nl ? nl + 1 : line + len;
  }
  if (replace_search) {
    husk_sb_add(&b, "search");
    for (char *const *s = search; *s; s++)
      husk_sb_add(&b, " %s", *s);
    husk_sb_add(&b, "\n");
  }
  if (replace_dns) {
    for (char *const *s = dns; *s; s++)
      husk_sb_add(&b, "nameserver %s\n", *s);
  } else if (nameservers == 0 && !host_network) {
    husk_sb_add(&b, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  }
  if (replace_opts) {
    husk_sb_add(&b, "options");
    for (char *const *s = options; *s; s++)
      husk_sb_add(&b, " %s", *s);
    husk_sb_add(&b, "\n");
  }
  return sb_take(&b);
}

void husk_net_veth_name(const char *container_id, char *buf)
{
  /* 64-bit FNV-1a: 12 hex digits keep it under IFNAMSIZ */
  uint64_t h = 14695981039346656037ull;
  for (const char *c = container_id; *c; c++) {
    h ^= (unsigned char)*c;
    h *= 1099511628211ull;
  }
  snprintf(buf, HUSK_IFNAME_MAX, "hk%012llx", (unsigned long long)(h & 0xffffffffffffull));
}
