/* Firewall: husk's own nftables table (`table ip husk`), generated as a whole
 * from the IPAM leases and applied in one transaction by husk-netfw (a small
 * helper linked with libnftables, so that husk itself does not load
 * libnftables and its five dependencies on every start). */
#include "network.h"
#include "network_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

char *husk_fw_ruleset(const husk_fw_network *nets, size_t n_nets, const husk_fw_port *ports,
                      size_t n_ports)
{
  husk_sbuf b = {0};
  /* create-then-delete: works whether or not the table exists, and the
   * whole script is one transaction */
  husk_sb_add(&b, "table ip husk\ndelete table ip husk\n");
  if (n_nets == 0 && n_ports == 0)
    return b.s;
  char sub[19], ip[16];
  husk_sb_add(&b, "table ip husk {\n");
  if (n_ports > 0) {
    husk_sb_add(&b, "\tchain prerouting {\n"
                    "\t\ttype nat hook prerouting priority -100; policy accept;\n"
                    "\t\tfib daddr type local jump ports\n"
                    "\t}\n"
                    "\tchain output {\n"
                    "\t\ttype nat hook output priority -100; policy accept;\n"
                    "\t\tfib daddr type local jump ports\n"
                    "\t}\n"
                    "\tchain ports {\n");
    for (size_t i = 0; i < n_ports; i++) {
      const husk_fw_port *p = &ports[i];
      husk_sb_add(&b, "\t\t");
      if (p->map.host_ip)
        husk_sb_add(&b, "ip daddr %s ", husk_ip_str(p->map.host_ip, ip));
      husk_sb_add(&b, "%s dport %u dnat to %s:%u\n", husk_proto_name(p->map.proto),
                  p->map.host_port, husk_ip_str(p->container_addr, ip), p->map.container_port);
    }
    husk_sb_add(&b, "\t}\n");
  }
  husk_sb_add(&b, "\tchain postrouting {\n"
                  "\t\ttype nat hook postrouting priority 100; policy accept;\n");
  for (size_t i = 0; i < n_nets; i++) {
    const char *br = nets[i].bridge;
    husk_cidr_str(&nets[i].subnet, sub);
    /* outgoing traffic of the containers leaves with the host's address */
    husk_sb_add(&b, "\t\tip saddr %s oifname != \"%s\" masquerade\n", sub, br);
    if (n_ports > 0) {
      /* a published port reached from the host itself (127.0.0.1 too) or
       * from a container on the same bridge (hairpin) */
      husk_sb_add(&b, "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", br);
      husk_sb_add(&b, "\t\toifname \"%s\" ip saddr %s ct status dnat masquerade\n", br, sub);
    }
  }
  husk_sb_add(&b, "\t}\n"
                  "\tchain forward {\n"
                  "\t\ttype filter hook forward priority 0; policy accept;\n");
  for (size_t i = 0; i < n_nets; i++) {
    const char *br = nets[i].bridge;
    husk_sb_add(&b, "\t\tiifname \"%s\" accept\n", br);
    husk_sb_add(&b, "\t\toifname \"%s\" ct state established,related accept\n", br);
    husk_sb_add(&b, "\t\toifname \"%s\" ct status dnat accept\n", br);
  }
  husk_sb_add(&b, "\t}\n}\n");
  return b.s;
}

static char *netfw_path(void)
{
  const char *env = getenv("HUSK_NETFW");
  if (env && *env)
    return husk_xstrdup(env);
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = '\0';
      char *cand = husk_xasprintf("%s/husk-netfw", self);
      if (access(cand, X_OK) == 0)
        return cand;
      free(cand);
    }
  }
  return husk_xstrdup("husk-netfw"); /* on PATH */
}

/* Run husk-netfw with the script on stdin; its stderr becomes the error. */
static int netfw_apply(const char *script, husk_err *err)
{
  _cleanup_free_ char *path = netfw_path();
  char *argv[] = {path, (char *)"apply", NULL};
  char msg[768];
  int status;
  int r = husk_spawn_capture(argv, script, msg, sizeof(msg), &status, err);
  if (r < 0)
    return husk_error_wrap(err, "the firewall helper (set $HUSK_NETFW)");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  /* one line: the first line of nft's message */
  for (char *c = msg; *c; c++)
    if (*c == '\n')
      *c = (c[1] ? ' ' : '\0');
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return husk_errorf_plain(err, ENOENT, "firewall helper %s not found (set $HUSK_NETFW)", path);
  return husk_errorf_plain(err, EIO, "apply husk's nftables rules: %s",
                           msg[0] ? msg : "husk-netfw failed");
}

int husk_fw_sync(const char *data_root, husk_err *err)
{
  husk_network *nets = NULL;
  size_t nn = 0;
  int r = husk_network_list(data_root, &nets, &nn, err);
  if (r < 0)
    return r;
  husk_lease *leases = NULL;
  size_t nl = 0;
  r = husk_ipam_all_leases(data_root, &leases, &nl, err);
  if (r < 0) {
    free(nets);
    return r;
  }
  husk_fw_network *fn = husk_xcalloc(nn, sizeof(*fn));
  size_t nfn = 0;
  for (size_t i = 0; i < nn; i++) {
    bool used = false;
    for (size_t j = 0; j < nl && !used; j++)
      used = strcmp(leases[j].network, nets[i].name) == 0;
    if (used)
      fn[nfn++] = (husk_fw_network){.bridge = nets[i].bridge, .subnet = nets[i].subnet};
  }
  size_t np = 0;
  for (size_t j = 0; j < nl; j++)
    np += leases[j].n_ports;
  husk_fw_port *fp = husk_xcalloc(np, sizeof(*fp));
  size_t nfp = 0;
  for (size_t j = 0; j < nl; j++)
    for (size_t k = 0; k < leases[j].n_ports; k++)
      fp[nfp++] = (husk_fw_port){.map = leases[j].ports[k], .container_addr = leases[j].addr};
  _cleanup_free_ char *script = husk_fw_ruleset(fn, nfn, fp, nfp);
  free(fn);
  free(fp);
  husk_leases_free(leases, nl);
  free(nets);
  return netfw_apply(script, err);
}
