/* rtnetlink through libmnl: links, addresses, routes. */
#include "network_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define NL_BUF 32768

int husk_nl_open(husk_nl *nl, int netns_fd, husk_err *err)
{
  memset(nl, 0, sizeof(*nl));
  _cleanup_close_ int self = -1;
  if (netns_fd >= 0) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
      return husk_errorf(err, errno, "open /proc/thread-self/ns/net");
    if (setns(netns_fd, CLONE_NEWNET) < 0)
      return husk_errorf(err, errno, "enter the container's network namespace");
  }
  struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  int e = errno;
  if (netns_fd >= 0 && setns(self, CLONE_NEWNET) < 0) {
    int e2 = errno;
    if (s)
      mnl_socket_close(s);
    return husk_errorf(err, e2, "return to husk's network namespace");
  }
  if (s == NULL)
    return husk_errorf(err, e, "open a netlink socket");
  /* never wait forever for the kernel */
  struct timeval tv = {.tv_sec = 10};
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    e = errno;
    mnl_socket_close(s);
    return husk_errorf(err, e, "bind a netlink socket");
  }
  nl->sock = s;
  nl->portid = mnl_socket_get_portid(s);
  nl->seq = (unsigned)husk_now_ns();
  return 0;
}

void husk_nl_close(husk_nl *nl)
{
  if (nl && nl->sock) {
    mnl_socket_close(nl->sock);
    nl->sock = NULL;
  }
}

/* Send one request and read until its ack / the end of the dump.  Returns
 * 0 or -errno (the kernel's error). */
static int nl_talk(husk_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
  unsigned seq = ++nl->seq;
  nlh->nlmsg_seq = seq;
  /* NLM_F_DUMP shares bits with NLM_F_EXCL/NLM_F_REPLACE: only a GET with
   * both bits is a dump (which ends with NLMSG_DONE instead of an ack) */
  bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP && (nlh->nlmsg_type & 3) == 2;
  if (!dump)
    nlh->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
    return -errno;
  _cleanup_free_ char *buf = husk_xmalloc(NL_BUF);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl->sock, buf, NL_BUF);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    int r = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
    if (r < 0)
      return errno ? -errno : -EPROTO;
    if (r == MNL_CB_STOP)
      return 0;
  }
}

static struct nlmsghdr *put_link_msg(char *buf, uint16_t type, uint16_t flags)
{
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
  ifm->ifi_family = AF_UNSPEC;
  return nlh;
}

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
  if (nlh->nlmsg_type == RTM_NEWLINK) {
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    *(int *)data = ifm->ifi_index;
  }
  return MNL_CB_OK;
}

int husk_nl_link_index(husk_nl *nl, const char *name, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = put_link_msg(buf, RTM_GETLINK, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  int index = 0;
  int r = nl_talk(nl, nlh, link_index_cb, &index);
  if (r == -ENODEV)
    return -ENODEV;
  if (r < 0)
    return husk_errorf(err, -r, "look up link %s", name);
  if (index <= 0)
    return -ENODEV;
  return index;
}

int husk_nl_bridge_add(husk_nl *nl, const char *name, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = put_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, li);
  int r = nl_talk(nl, nlh, NULL, NULL);
  if (r < 0 && r != -EEXIST)
    return husk_errorf(err, -r, "create bridge %s", name);
  return 0;
}

int husk_nl_veth_add(husk_nl *nl, const char *host, int master_index, const char *peer,
                     int peer_netns_fd, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = put_link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
  if (master_index > 0)
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_index);
  struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  struct nlattr *p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
  pifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
  if (peer_netns_fd >= 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
  mnl_attr_nest_end(nlh, p);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, li);
  int r = nl_talk(nl, nlh, NULL, NULL);
  if (r < 0)
    return husk_errorf(err, -r, "create veth pair %s/%s", host, peer);
  return 0;
}

int husk_nl_link_del(husk_nl *nl, const char *name, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = put_link_msg(buf, RTM_DELLINK, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  int r = nl_talk(nl, nlh, NULL, NULL);
  if (r == -ENODEV)
    return -ENODEV;
  if (r < 0)
    return husk_errorf(err, -r, "delete link %s", name);
  return 0;
}

int husk_nl_link_up(husk_nl *nl, int index, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  int r = nl_talk(nl, nlh, NULL, NULL);
  if (r < 0)
    return husk_errorf(err, -r, "set link %d up", index);
  return 0;
}

int husk_nl_addr_add(husk_nl *nl, int index, uint32_t addr, int prefix, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned)index;
  uint32_t a = htonl(addr);
  uint32_t brd = htonl(addr | ~husk_cidr_mask(prefix));
  mnl_attr_put_u32(nlh, IFA_LOCAL, a);
  mnl_attr_put_u32(nlh, IFA_ADDRESS, a);
  if (prefix < 31)
    mnl_attr_put_u32(nlh, IFA_BROADCAST, brd);
  int r = nl_talk(nl, nlh, NULL, NULL);
  if (r < 0 && r != -EEXIST) {
    char ip[16];
    return husk_errorf(err, -r, "add address %s/%d", husk_ip_str(addr, ip), prefix);
  }
  return 0;
}

int husk_nl_default_route_add(husk_nl *nl, int index, uint32_t gateway, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
  mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
  int r = nl_talk(nl, nlh, NULL, NULL);
  if (r < 0 && r != -EEXIST) {
    char ip[16];
    return husk_errorf(err, -r, "add default route via %s", husk_ip_str(gateway, ip));
  }
  return 0;
}

typedef struct route_acc {
  husk_cidr *v;
  size_t n;
  uint32_t skip_oif;
} route_acc;

static int route_attr_cb(const struct nlattr *attr, void *data)
{
  const struct nlattr **tb = data;
  uint16_t type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, RTA_MAX) > 0)
    tb[type] = attr;
  return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
  route_acc *acc = data;
  if (nlh->nlmsg_type != RTM_NEWROUTE)
    return MNL_CB_OK;
  const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
  if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len == 0 ||
      (rtm->rtm_type != RTN_UNICAST && rtm->rtm_type != RTN_LOCAL))
    return MNL_CB_OK;
  const struct nlattr *tb[RTA_MAX + 1] = {0};
  mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
  uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
  /* unicast routes of the main table; local ones (addresses on lo cover
   * their whole prefix) of the local table */
  bool wanted = rtm->rtm_type == RTN_UNICAST ? table == RT_TABLE_MAIN : table == RT_TABLE_LOCAL;
  if (!wanted || tb[RTA_DST] == NULL)
    return MNL_CB_OK;
  if (acc->skip_oif && tb[RTA_OIF] && mnl_attr_get_u32(tb[RTA_OIF]) == acc->skip_oif)
    return MNL_CB_OK;
  uint32_t dst = ntohl(mnl_attr_get_u32(tb[RTA_DST]));
  acc->v = husk_xrealloc(acc->v, (acc->n + 1) * sizeof(*acc->v));
  acc->v[acc->n].prefix = rtm->rtm_dst_len;
  acc->v[acc->n].addr = dst & husk_cidr_mask(rtm->rtm_dst_len);
  acc->n++;
  return MNL_CB_OK;
}

int husk_nl_routes(husk_nl *nl, int skip_oif, husk_cidr **out, size_t *n, husk_err *err)
{
  char buf[1024] = {0}; /* padding goes to the kernel: no stack garbage */
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
  rtm->rtm_family = AF_INET;
  route_acc acc = {.skip_oif = skip_oif > 0 ? (uint32_t)skip_oif : 0};
  int r = nl_talk(nl, nlh, route_cb, &acc);
  if (r < 0) {
    free(acc.v);
    return husk_errorf(err, -r, "list routes");
  }
  *out = acc.v;
  *n = acc.n;
  return 0;
}

int husk_netns_open(pid_t pid, const char *path, int *fd, husk_err *err)
{
  char buf[64];
  if (path == NULL) {
    snprintf(buf, sizeof(buf), "/proc/%d/ns/net", (int)pid);
    path = buf;
  }
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0)
    return husk_errorf(err, errno, "open network namespace %s", path);
  *fd = f;
  return 0;
}
