/* cgroup v2 device controller: linux.resources.devices compiled into a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, loaded with bpf(2) and attached with
 * libbpf (BPF_F_ALLOW_MULTI, so programs of parent cgroups keep applying).  Only
 * used when the spec has device rules.
 *
 * Semantics are those of the v1 devices.allow/deny lists: the last rule that
 * matches decides; an allow rule matches when it grants every access asked
 * for, a deny rule when it covers any of them; with no match the parent's
 * decision stands (allow here, parents' programs still run). */
#include "cgroup_internal.h"
#include "spec.h"
#include "util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the rules a container gets ---- */

static const husk_dev_rule default_rules[] = {
    {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},    /* mknod of anything */
    {true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 8, "rwm"},    /* null, random */
    {true, 'c', 1, 7, "rwm"}, {true, 'c', 5, 0, "rwm"},    /* full, tty */
    {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 9, "rwm"},    /* zero, urandom */
    {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"}, /* ptmx, pts */
};

int husk_cg_effective_devices(const husk_resources *r, const struct husk_device *devs,
                              size_t n_devs, husk_dev_rule **out, size_t *n_out)
{
  size_t n = (r ? r->n_devices : 0) + HUSK_ARRAY_SIZE(default_rules) + n_devs;
  husk_dev_rule *rules = husk_xcalloc(n, sizeof(*rules));
  size_t o = 0;
  for (size_t i = 0; r && i < r->n_devices; i++)
    rules[o++] = r->devices[i];
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(default_rules); i++)
    rules[o++] = default_rules[i];
  for (size_t i = 0; i < n_devs; i++) {
    char t = devs[i].type;
    if (t == 'p') /* fifos are not device nodes */
      continue;
    rules[o++] = (husk_dev_rule){true, t == 'b' ? 'b' : 'c', devs[i].major, devs[i].minor, "rwm"};
  }
  *out = rules;
  *n_out = o;
  return 0;
}

/* ---- the program ---- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  struct bpf_insn i = {.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
  return i;
}

static unsigned access_bits(const char *a)
{
  unsigned m = 0;
  for (; *a; a++)
    m |= *a == 'r' ? BPF_DEVCG_ACC_READ : *a == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  return m;
}

#define ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

static bool covers_all(const husk_dev_rule *r)
{
  return r->type == 'a' && r->major < 0 && r->minor < 0 && access_bits(r->access) == ACC_ALL;
}

int husk_cg_bpf_build(const husk_dev_rule *rules, size_t n, void **insns, size_t *n_insns,
                      husk_err *err)
{
  /* rules before the last catch-all rule can never decide */
  size_t first = 0;
  for (size_t i = n; i > 0; i--)
    if (covers_all(&rules[i - 1])) {
      first = i - 1;
      break;
    }
  size_t cap = 8 + (n - first) * 8;
  struct bpf_insn *p = husk_xcalloc(cap, sizeof(*p));
  size_t o = 0;
  /* r1 = struct bpf_cgroup_dev_ctx *: access_type = (access << 16) | type */
  p[o++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  p[o++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff); /* r2 = type */
  p[o++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
  p[o++] = insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);        /* r3 = access */
  p[o++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0); /* r4 = major */
  p[o++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0); /* r5 = minor */

  /* last rule first: the first block that matches returns */
  for (size_t k = n; k > first; k--) {
    const husk_dev_rule *r = &rules[k - 1];
    size_t jumps[8], nj = 0;
    if (r->type == 'c' || r->type == 'b') {
      int t = r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
      jumps[nj++] = o;
      p[o++] = insn(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, t);
    } else if (r->type != 'a') {
      free(p);
      return husk_errorf_plain(err, EINVAL, "device rule %zu: invalid type '%c'", k - 1, r->type);
    }
    unsigned acc = access_bits(r->access);
    if (acc != ACC_ALL) {
      if (r->allow) {
        /* skip unless every requested bit is granted */
        jumps[nj++] = o;
        p[o++] = insn(BPF_JMP32 | BPF_JSET | BPF_K, BPF_REG_3, 0, 0, (int32_t)(~acc & ACC_ALL));
      } else {
        /* skip unless some requested bit is denied */
        p[o++] = insn(BPF_JMP32 | BPF_JSET | BPF_K, BPF_REG_3, 0, 1, (int32_t)acc);
        jumps[nj++] = o;
        p[o++] = insn(BPF_JMP | BPF_JA, 0, 0, 0, 0);
      }
    }
    if (r->major >= 0) {
      jumps[nj++] = o;
      p[o++] = insn(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)(uint32_t)r->major);
    }
    if (r->minor >= 0) {
      jumps[nj++] = o;
      p[o++] = insn(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)(uint32_t)r->minor);
    }
    p[o++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
    p[o++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (size_t j = 0; j < nj; j++)
      p[jumps[j]].off = (int16_t)(o - (jumps[j] + 1));
  }
  if (first == 0 && !(n > 0 && covers_all(&rules[0]))) {
    /* no catch-all rule: what the parents allow */
    p[o++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
    p[o++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  *insns = p;
  *n_insns = o;
  return 0;
}

/* ---- load and attach ---- */

/* BPF_PROG_LOAD with the raw syscall: libbpf's bpf_prog_load() first probes
 * kernel features by loading two throwaway programs in every new process
 * (~0.1 ms per container start).  BPF fds are always close-on-exec. */
static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t log_size)
{
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)n;
  attr.license = (uint64_t)(uintptr_t) "GPL";
  snprintf(attr.prog_name, sizeof(attr.prog_name), "husk_devices");
  if (log) {
    attr.log_level = 1;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = (uint32_t)log_size;
  }
  int fd;
  do
    fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

static void rule_text(const husk_dev_rule *r, char *buf, size_t len)
{
  char maj[24] = "*", min[24] = "*";
  if (r->major >= 0)
    snprintf(maj, sizeof(maj), "%" PRId64, r->major);
  if (r->minor >= 0)
    snprintf(min, sizeof(min), "%" PRId64, r->minor);
  snprintf(buf, len, "%s %c %s:%s %s", r->allow ? "allow" : "deny", r->type, maj, min, r->access);
}

int husk_cg_bpf_devices_apply(int cgfd, const char *label, const husk_dev_rule *rules, size_t n,
                              husk_err *err)
{
  _cleanup_free_ void *prog = NULL;
  size_t n_insns = 0;
  int ret = husk_cg_bpf_build(rules, n, &prog, &n_insns, err);
  if (ret < 0)
    return ret;

  if (husk_cg_testing()) {
    /* the fake tree cannot take a program: record the rules it encodes */
    size_t cap = 32 + n * 40, o = 0;
    _cleanup_free_ char *desc = husk_xmalloc(cap);
    o += (size_t)snprintf(desc, cap, "%zu insns:", n_insns);
    for (size_t i = 0; i < n; i++) {
      char buf[64];
      rule_text(&rules[i], buf, sizeof(buf));
      o += (size_t)snprintf(desc + o, cap - o, "%s%s", i ? "," : " ", buf);
    }
    husk_cg_journal(label, "bpf.cgroup_device", desc);
    return 0;
  }

  /* prog ids attached before (update): detached once the new one is in */
  __u32 old_ids[64], n_old = HUSK_ARRAY_SIZE(old_ids), flags = 0;
  if (bpf_prog_query(cgfd, BPF_CGROUP_DEVICE, 0, &flags, old_ids, &n_old) < 0)
    n_old = 0;

  _cleanup_close_ int fd = prog_load(prog, n_insns, NULL, 0);
  if (fd < 0) {
    int e = errno;
    char log[4096] = "";
    int fd2 = prog_load(prog, n_insns, log, sizeof(log));
    if (fd2 >= 0)
      close(fd2);
    char *nl;
    while ((nl = strrchr(log, '\n')) && nl[1] == '\0')
      *nl = '\0';
    char *last = strrchr(log, '\n');
    return husk_errorf(err, e, "load the device cgroup program (%zu instructions)%s%s", n_insns,
                       log[0] ? ": " : "", last ? last + 1 : log);
  }
  if (bpf_prog_attach(fd, cgfd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) < 0)
    return husk_errorf(err, errno, "attach the device cgroup program to %s/%s", husk_cg_root(),
                       label);
  for (__u32 i = 0; i < n_old; i++) {
    _cleanup_close_ int ofd = bpf_prog_get_fd_by_id(old_ids[i]);
    if (ofd >= 0)
      bpf_prog_detach2(ofd, cgfd, BPF_CGROUP_DEVICE);
  }
  return 0;
}
