/* `husk network`: create, list, inspect and remove bridge networks. */
#include "cli_network.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "network.h"
#include "network_internal.h"
#include "util.h"

static void network_usage(FILE *f)
{
  fprintf(f, "Usage: husk network COMMAND\n\n"
             "Commands:\n"
             "  create NAME [--subnet CIDR] [--gateway IP]  create a bridge network\n"
             "  ls [-q]                                     list networks\n"
             "  inspect NAME...                             show networks and their containers\n"
             "  rm NAME...                                  remove unused networks\n\n"
             "The default network \"bridge\" (device husk0) is created on first use.\n");
}

static int net_create(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {{"subnet", required_argument, NULL, 's'},
                                       {"gateway", required_argument, NULL, 'g'},
                                       {"driver", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *subnet = NULL, *gateway = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      subnet = optarg;
      break;
    case 'g':
      gateway = optarg;
      break;
    case 'd':
      if (strcmp(optarg, "bridge") != 0)
        return husk_errorf_plain(err, EINVAL, "create: only the bridge driver exists");
      break;
    case 'h':
      printf("Usage: husk network create NAME [--subnet CIDR] [--gateway IP]\n");
      return 0;
    default:
      return husk_errorf_plain(err, EINVAL, "create: invalid option (see --help)");
    }
  }
  if (optind + 1 != argc)
    return husk_errorf_plain(err, EINVAL, "create: expected one NAME");
  const char *name = argv[optind];
  int r = husk_network_validate_name(name, err);
  if (r < 0)
    return r;
  const char *root = husk_data_root(g->data_root);
  _cleanup_close_ int lock = -1;
  r = husk_ipam_lock(root, &lock, err);
  if (r < 0)
    return r;
  husk_network existing;
  husk_err e2;
  if (husk_network_load(root, name, &existing, &e2) == 0)
    return husk_errorf_plain(err, EEXIST, "network %s already exists", name);
  husk_cidr c4;
  if (subnet) {
    r = husk_cidr_parse(subnet, &c4, err);
    if (r < 0)
      return husk_error_wrap(err, "create");
  } else {
    r = husk_net_default_subnet(root, &c4, err);
    if (r < 0)
      return r;
  }
  husk_network net;
  r = husk_network_init(&net, name, &c4, err);
  if (r < 0)
    return husk_error_wrap(err, "create");
  if (gateway) {
    if (husk_ip_parse(gateway, &net.gateway) < 0)
      return husk_errorf_plain(err, EINVAL, "create: invalid gateway %s", gateway);
    uint32_t bcast = c4.addr | ~husk_cidr_mask(c4.prefix);
    if (!husk_cidr_contains(&c4, net.gateway) || net.gateway == c4.addr || net.gateway == bcast)
      return husk_errorf_plain(err, EINVAL, "create: gateway %s is not a host address of %s",
                               gateway, subnet ? subnet : "the subnet");
  }
  /* no overlap with another husk network or a host route */
  husk_network *nets = NULL;
  size_t nn = 0;
  r = husk_network_list(root, &nets, &nn, err);
  if (r < 0)
    return r;
  char a[19], b[19];
  for (size_t i = 0; i < nn; i++) {
    if (husk_cidr_overlaps(&nets[i].subnet, &c4)) {
      r = husk_errorf_plain(err, EEXIST, "subnet %s overlaps network %s (%s)",
                            husk_cidr_str(&c4, a), nets[i].name, husk_cidr_str(&nets[i].subnet, b));
      free(nets);
      return r;
    }
    if (strcmp(nets[i].bridge, net.bridge) == 0) {
      r = husk_errorf_plain(err, EEXIST, "bridge %s is already used by network %s", net.bridge,
                            nets[i].name);
      free(nets);
      return r;
    }
  }
  free(nets);
  bool overlaps = false;
  husk_cidr route;
  r = husk_net_route_overlap(&c4, &overlaps, &route, err);
  if (r < 0)
    return r;
  if (overlaps)
    return husk_errorf_plain(err, EEXIST, "subnet %s overlaps the host route %s",
                             husk_cidr_str(&c4, a), husk_cidr_str(&route, b));
  r = husk_network_save(root, &net, err);
  if (r < 0)
    return r;
  printf("%s\n", name);
  return 0;
}

static size_t count_users(const husk_lease *v, size_t n, const char *network)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += strcmp(v[i].network, network) == 0;
  return k;
}

static int net_ls(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  static const struct option opts[] = {
      {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  bool quiet = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
    if (c == 'q')
      quiet = true;
    else if (c == 'h') {
      printf("Usage: husk network ls [-q]\n");
      return 0;
    } else
      return husk_errorf_plain(err, EINVAL, "ls: invalid option (see --help)");
  }
  if (optind != argc)
    return husk_errorf_plain(err, EINVAL, "ls: no arguments expected");
  const char *root = husk_data_root(g->data_root);
  husk_network *nets = NULL;
  size_t nn = 0;
  int r = husk_network_list(root, &nets, &nn, err);
  if (r < 0)
    return r;
  husk_lease *leases = NULL;
  size_t nl = 0;
  r = husk_ipam_all_leases(root, &leases, &nl, err);
  if (r < 0) {
    free(nets);
    return r;
  }
  if (!quiet)
    printf("%-20s %-15s %-18s %-15s %s\n", "NAME", "BRIDGE", "SUBNET", "GATEWAY", "CONTAINERS");
  for (size_t i = 0; i < nn; i++) {
    char sub[19], gw[16];
    if (quiet)
      printf("%s\n", nets[i].name);
    else
      printf("%-20s %-15s %-18s %-15s %zu\n", nets[i].name, nets[i].bridge,
             husk_cidr_str(&nets[i].subnet, sub), husk_ip_str(nets[i].gateway, gw),
             count_users(leases, nl, nets[i].name));
  }
  husk_leases_free(leases, nl);
  free(nets);
  return 0;
}

static int net_inspect(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  if (argc < 2)
    return husk_errorf_plain(err, EINVAL, "inspect: expected NAME...");
  const char *root = husk_data_root(g->data_root);
  json_object *arr = json_object_new_array();
  int r = 0;
  for (int i = 1; i < argc && r == 0; i++) {
    husk_network net;
    r = husk_network_load(root, argv[i], &net, err);
    if (r < 0)
      break;
    husk_lease *leases = NULL;
    size_t nl = 0;
    r = husk_ipam_leases(root, net.name, &leases, &nl, err);
    if (r < 0)
      break;
    char sub[19], gw[16], ip[16];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "Name", json_object_new_string(net.name));
    json_object_object_add(o, "Driver", json_object_new_string("bridge"));
    json_object_object_add(o, "Bridge", json_object_new_string(net.bridge));
    json_object_object_add(o, "Subnet", json_object_new_string(husk_cidr_str(&net.subnet, sub)));
    json_object_object_add(o, "Gateway", json_object_new_string(husk_ip_str(net.gateway, gw)));
    json_object *ctrs = json_object_new_object();
    for (size_t k = 0; k < nl; k++) {
      const husk_lease *l = &leases[k];
      json_object *co = json_object_new_object();
      if (l->name)
        json_object_object_add(co, "Name", json_object_new_string(l->name));
      json_object_object_add(co, "IPv4Address", json_object_new_string(husk_ip_str(l->addr, ip)));
      json_object_object_add(co, "HostVeth", json_object_new_string(l->veth));
      json_object *ports = json_object_new_array();
      for (size_t m = 0; m < l->n_ports; m++) {
        char buf[48];
        json_object_array_add(
            ports, json_object_new_string(husk_port_map_str(&l->ports[m], buf, sizeof(buf))));
      }
      json_object_object_add(co, "Ports", ports);
      json_object_object_add(ctrs, l->container && *l->container ? l->container : ip, co);
    }
    json_object_object_add(o, "Containers", ctrs);
    json_object_array_add(arr, o);
    husk_leases_free(leases, nl);
  }
  if (r == 0)
    printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(arr);
  return r;
}

static int net_rm_one(const char *root, const char *name, husk_err *err)
{
  _cleanup_close_ int lock = -1;
  int r = husk_ipam_lock(root, &lock, err);
  if (r < 0)
    return r;
  husk_network net;
  r = husk_network_load(root, name, &net, err);
  if (r < 0)
    return r;
  husk_lease *leases = NULL;
  size_t nl = 0;
  r = husk_ipam_leases(root, name, &leases, &nl, err);
  if (r < 0)
    return r;
  /* leases of containers that are gone do not keep a network */
  size_t live = 0;
  for (size_t i = 0; i < nl; i++) {
    if (husk_lease_alive(&leases[i]))
      live++;
    else
      husk_ipam_release(root, name, leases[i].addr, NULL);
  }
  husk_leases_free(leases, nl);
  if (live > 0)
    return husk_errorf_plain(err, EBUSY, "network %s is in use by %zu container%s", name, live,
                             live == 1 ? "" : "s");
  husk_nl nl_sock _cleanup_nl_ = {0};
  r = husk_nl_open(&nl_sock, -1, err);
  if (r < 0)
    return r;
  r = husk_nl_link_del(&nl_sock, net.bridge, err);
  if (r < 0 && r != -ENODEV)
    return r;
  r = husk_network_delete(root, name, err);
  if (r < 0)
    return r;
  /* its rules, if a crashed container left some */
  return husk_fw_sync(root, err);
}

static int net_rm(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  if (argc < 2)
    return husk_errorf_plain(err, EINVAL, "rm: expected NAME...");
  const char *root = husk_data_root(g->data_root);
  int status = 0;
  for (int i = 1; i < argc; i++) {
    husk_err e;
    husk_error_clear(&e);
    if (net_rm_one(root, argv[i], &e) < 0) {
      fprintf(stderr, "husk network rm: %s\n", e.msg);
      status = 1;
    } else {
      printf("%s\n", argv[i]);
    }
  }
  return status;
}

int husk_cmd_network(const husk_pglobal *g, int argc, char **argv, husk_err *err)
{
  if (argc < 2) {
    network_usage(stderr);
    return 1;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "create") == 0)
    return net_create(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
    return net_ls(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "inspect") == 0)
    return net_inspect(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
    return net_rm(g, argc - 1, argv + 1, err);
  if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
    network_usage(stdout);
    return 0;
  }
  return husk_errorf_plain(err, EINVAL, "unknown command %s (see husk network --help)", sub);
}
