/* linux.resources parsing and validation (errors name the field), the v1 ->
 * v2 conversions, and the device BPF program's decisions (run through a tiny
 * interpreter of the instructions it uses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "spec.h"
#include "test_cgroup_fake.h"

static void test_cgroup_parse_full(void **state)
{
  (void)state;
  husk_cgroup_set_online_for_testing("0-3", "0");
  husk_resources *r = res_parse(
      "{\"memory\":{\"limit\":1073741824,\"reservation\":-1,\"swap\":-1,\"kernelTCP\":1000,"
      "\"swappiness\":0,\"disableOOMKiller\":false,\"useHierarchy\":true},"
      "\"cpu\":{\"shares\":1024,\"quota\":-1,\"period\":100000,\"burst\":5000,"
      "\"realtimeRuntime\":950000,\"realtimePeriod\":1000000,\"cpus\":\"0,2-3\",\"mems\":\"0\","
      "\"idle\":1},"
      "\"pids\":{\"limit\":100},"
      "\"blockIO\":{\"weight\":10,\"leafWeight\":1000},"
      "\"hugepageLimits\":[{\"pageSize\":\"1GB\",\"limit\":0}],"
      "\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\",\"priority\":5}]},"
      "\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3}},"
      "\"unified\":{\"io.weight\":\"default 100\"},"
      "\"devices\":[{\"allow\":true,\"type\":\"b\",\"major\":8,\"access\":\"r\"}],"
      "\"someFutureField\":{\"x\":1}}");
  assert_true(r->has_mem_limit);
  assert_int_equal(r->mem_limit, 1073741824);
  assert_int_equal(r->mem_reservation, -1);
  assert_int_equal(r->mem_swap, -1);
  assert_true(r->has_swappiness);
  assert_int_equal(r->swappiness, 0);
  assert_true(r->has_use_hierarchy && r->use_hierarchy);
  assert_int_equal(r->cpu_shares, 1024);
  assert_int_equal(r->cpu_quota, -1);
  assert_int_equal(r->cpu_burst, 5000);
  assert_string_equal(r->cpus, "0,2-3");
  assert_int_equal(r->cpu_idle, 1);
  assert_int_equal(r->pids_limit, 100);
  assert_int_equal(r->blkio_weight, 10);
  assert_int_equal(r->n_hugepages, 1);
  assert_string_equal(r->hugepages[0].page_size, "1GB");
  assert_int_equal(r->net_classid, 1048577);
  assert_string_equal(r->net_prios[0].name, "eth0");
  assert_true(r->rdma[0].has_handles && !r->rdma[0].has_objects);
  assert_string_equal(r->unified[0].key, "io.weight");
  assert_int_equal(r->n_devices, 1);
  assert_int_equal(r->devices[0].type, 'b');
  assert_int_equal(r->devices[0].major, 8);
  assert_int_equal(r->devices[0].minor, -1);
  assert_string_equal(r->devices[0].access, "r");
  uint32_t c = husk_resources_controllers(r);
  assert_true(c & (1u << HUSK_CG_MEMORY));
  assert_true(c & (1u << HUSK_CG_CPUSET));
  assert_true(c & (1u << HUSK_CG_NET_PRIO));
  assert_false(c & (1u << HUSK_CG_FREEZER));
  husk_resources_free(r);

  /* absent and empty */
  husk_resources *none = NULL;
  husk_err err = {0};
  assert_int_equal(husk_resources_parse(NULL, &none, &err), 0);
  assert_null(none);
  r = res_parse("{}");
  assert_int_equal(husk_resources_controllers(r), 0);
  husk_resources_free(r);
  husk_cgroup_set_online_for_testing(NULL, NULL);
}

static void test_cgroup_parse_errors_name_the_field(void **state)
{
  (void)state;
  husk_cgroup_set_online_for_testing("0-1", "0");
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"{\"memory\":{\"limit\":-5}}",
       "linux.resources.memory.limit: invalid value -5 (bytes, or -1 for unlimited)"},
      {"{\"memory\":{\"limit\":\"1g\"}}", "linux.resources.memory.limit: expected an integer"},
      {"{\"memory\":{\"reservation\":-2}}", "linux.resources.memory.reservation: invalid value"},
      {"{\"memory\":{\"limit\":1048576,\"swap\":4096}}",
       "linux.resources.memory.swap: the memory+swap limit 4096 must not be below memory.limit "
       "1048576"},
      {"{\"memory\":{\"swappiness\":101}}", "linux.resources.memory.swappiness: invalid value"},
      {"{\"memory\":{\"disableOOMKiller\":1}}",
       "linux.resources.memory.disableOOMKiller: expected true or false"},
      {"{\"memory\":[]}", "linux.resources.memory: expected an object"},
      {"{\"cpu\":{\"cpus\":\"7\"}}", "linux.resources.cpu.cpus: CPU 7 is not online (online: 0-1)"},
      {"{\"cpu\":{\"cpus\":\"0-1,3\"}}", "linux.resources.cpu.cpus: CPU 3 is not online"},
      {"{\"cpu\":{\"cpus\":\"1-0\"}}", "linux.resources.cpu.cpus: invalid list \"1-0\""},
      {"{\"cpu\":{\"cpus\":\"a\"}}", "linux.resources.cpu.cpus: invalid list"},
      {"{\"cpu\":{\"mems\":\"1\"}}",
       "linux.resources.cpu.mems: memory node 1 is not online (online: 0)"},
      {"{\"cpu\":{\"quota\":500}}", "linux.resources.cpu.quota: invalid value 500"},
      {"{\"cpu\":{\"quota\":-7}}", "linux.resources.cpu.quota: invalid value -7"},
      {"{\"cpu\":{\"period\":100}}", "linux.resources.cpu.period: invalid value 100"},
      {"{\"cpu\":{\"shares\":-1}}", "linux.resources.cpu.shares: invalid value -1"},
      {"{\"cpu\":{\"shares\":300000}}", "linux.resources.cpu.shares: invalid value 300000"},
      {"{\"cpu\":{\"idle\":2}}", "linux.resources.cpu.idle: invalid value 2"},
      {"{\"pids\":{\"limit\":1.5}}", "linux.resources.pids.limit: expected an integer"},
      {"{\"blockIO\":{\"weight\":5}}", "linux.resources.blockIO.weight: invalid value 5"},
      {"{\"blockIO\":{\"weightDevice\":[{\"minor\":0,\"weight\":100}]}}",
       "linux.resources.blockIO.weightDevice[0].major: missing"},
      {"{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0}]}}",
       "linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing"},
      {"{\"hugepageLimits\":[{\"pageSize\":\"2M\",\"limit\":1}]}",
       "linux.resources.hugepageLimits[0].pageSize: invalid page size \"2M\""},
      {"{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}",
       "linux.resources.devices[0].type: invalid device type \"x\""},
      {"{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}",
       "linux.resources.devices[0].access: invalid access \"rwx\""},
      {"{\"devices\":[{\"type\":\"c\"}]}", "linux.resources.devices[0].allow: missing"},
      {"{\"unified\":{\"../../etc/x\":\"1\"}}",
       "linux.resources.unified.../../etc/x: invalid cgroup file name"},
      {"{\"unified\":{\"cgroup.procs\":\"1\"}}",
       "linux.resources.unified.cgroup.procs: may not be set"},
      {"{\"unified\":{\"memory.max\":5}}", "linux.resources.unified.memory.max: expected a string"},
      {"[]", "linux.resources: expected an object"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    const char *msg = res_parse_error(cases[i].json);
    if (msg == NULL)
      fail_msg("%s: accepted", cases[i].json);
    if (strstr(msg, cases[i].msg) == NULL)
      fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].json, msg, cases[i].msg);
  }
  husk_cgroup_set_online_for_testing(NULL, NULL);
}

static void test_cgroup_conversions(void **state)
{
  (void)state;
  /* cpu.shares [2, 262144] -> cpu.weight [1, 10000] */
  assert_int_equal(husk_cg_shares_to_weight(0), 0);
  assert_int_equal(husk_cg_shares_to_weight(1), 1);
  assert_int_equal(husk_cg_shares_to_weight(2), 1);
  assert_int_equal(husk_cg_shares_to_weight(1024), 39);
  assert_int_equal(husk_cg_shares_to_weight(262144), 10000);
  /* blkio.weight [10, 1000] -> io.weight [1, 10000] */
  assert_int_equal(husk_cg_blkio_to_io_weight(0), 0);
  assert_int_equal(husk_cg_blkio_to_io_weight(10), 1);
  assert_int_equal(husk_cg_blkio_to_io_weight(500), 4950);
  assert_int_equal(husk_cg_blkio_to_io_weight(1000), 10000);
  /* memory+swap (v1) -> swap.max (v2) */
  int64_t out = 0;
  husk_err err = {0};
  assert_int_equal(husk_cg_swap_to_v2(0, 100, &out, &err), 0); /* leave */
  assert_int_equal(husk_cg_swap_to_v2(-1, 100, &out, &err), 1);
  assert_int_equal(out, -1);
  assert_int_equal(husk_cg_swap_to_v2(0, -1, &out, &err), 1);
  assert_int_equal(out, -1);
  assert_int_equal(husk_cg_swap_to_v2(300, 100, &out, &err), 1);
  assert_int_equal(out, 200);
  assert_int_equal(husk_cg_swap_to_v2(100, 100, &out, &err), 1);
  assert_int_equal(out, 0);
  assert_true(husk_cg_swap_to_v2(50, 100, &out, &err) < 0);
  assert_true(husk_cg_swap_to_v2(50, 0, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "without a memory limit"));
}

/* ---- the device program ---- */

enum { REQ_R = BPF_DEVCG_ACC_READ, REQ_W = BPF_DEVCG_ACC_WRITE, REQ_M = BPF_DEVCG_ACC_MKNOD };

/* Run the program on one access; fails the test on an unknown instruction. */
static int run(const struct bpf_insn *p, size_t n, char type, unsigned access, uint32_t major,
               uint32_t minor)
{
  uint32_t ctx[3] = {(access << 16) | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK),
                     major, minor};
  uint64_t reg[11] = {0};
  for (size_t pc = 0, steps = 0; pc < n && steps < 10000; pc++, steps++) {
    const struct bpf_insn *i = &p[pc];
    switch (i->code) {
    case BPF_LDX | BPF_MEM | BPF_W:
      assert_int_equal(i->src_reg, BPF_REG_1);
      reg[i->dst_reg] = ctx[i->off / 4];
      break;
    case BPF_ALU | BPF_AND | BPF_K:
      reg[i->dst_reg] = (uint32_t)(reg[i->dst_reg] & (uint32_t)i->imm);
      break;
    case BPF_ALU | BPF_RSH | BPF_K:
      reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] >> i->imm;
      break;
    case BPF_JMP32 | BPF_JNE | BPF_K:
      if ((uint32_t)reg[i->dst_reg] != (uint32_t)i->imm)
        pc += (size_t)i->off;
      break;
    case BPF_JMP32 | BPF_JSET | BPF_K:
      if ((uint32_t)reg[i->dst_reg] & (uint32_t)i->imm)
        pc += (size_t)i->off;
      break;
    case BPF_JMP | BPF_JA:
      pc += (size_t)i->off;
      break;
    case BPF_ALU64 | BPF_MOV | BPF_K:
      reg[i->dst_reg] = (uint64_t)(int64_t)i->imm;
      break;
    case BPF_JMP | BPF_EXIT:
      return (int)reg[0];
    default:
      fail_msg("unexpected instruction 0x%02x at %zu", i->code, pc);
    }
  }
  fail_msg("program ran off its end");
  return -1;
}

typedef struct prog {
  struct bpf_insn *p;
  size_t n;
} prog;

static prog build(const husk_dev_rule *rules, size_t n)
{
  prog pr = {0};
  void *insns = NULL;
  husk_err err = {0};
  assert_int_equal(husk_cg_bpf_build(rules, n, &insns, &pr.n, &err), 0);
  pr.p = insns;
  return pr;
}

static void test_cgroup_device_program_default_spec(void **state)
{
  (void)state;
  /* runc spec's rules (deny everything) + the runtime's defaults */
  husk_resources *r = res_parse("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}");
  husk_device fuse = {.type = 'c', .major = 10, .minor = 229};
  husk_dev_rule *rules = NULL;
  size_t n = 0;
  husk_cg_effective_devices(r, &fuse, 1, &rules, &n);
  prog pr = build(rules, n);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R | REQ_W, 1, 3), 1);    /* /dev/null */
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 1, 9), 1);            /* urandom */
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R | REQ_W, 136, 7), 1);  /* a pty */
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R | REQ_W, 10, 229), 1); /* linux.devices */
  assert_int_equal(run(pr.p, pr.n, 'b', REQ_R, 8, 0), 0);            /* /dev/sda */
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 10, 200), 0);         /* tun */
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_M, 10, 200), 1);         /* mknod is allowed */
  assert_int_equal(run(pr.p, pr.n, 'b', REQ_M, 8, 0), 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R | REQ_M, 10, 200), 0);
  free(pr.p);
  free(rules);
  husk_resources_free(r);
}

static void test_cgroup_device_program_rule_semantics(void **state)
{
  (void)state;
  /* no catch-all: what is not mentioned stays allowed (parents decide) */
  husk_dev_rule deny_w[] = {{false, 'c', 1, 3, "w"}};
  prog pr = build(deny_w, 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 1, 5), 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 1, 3), 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_W, 1, 3), 0);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R | REQ_W, 1, 3), 0); /* deny covers any bit */
  free(pr.p);

  /* an allow rule must grant every bit asked for */
  husk_dev_rule only_r[] = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "r"}};
  pr = build(only_r, 2);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 1, 3), 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R | REQ_W, 1, 3), 0);
  assert_int_equal(run(pr.p, pr.n, 'b', REQ_R, 1, 3), 0); /* type matters */
  free(pr.p);

  /* the last matching rule wins */
  husk_dev_rule last[] = {{true, 'a', -1, -1, "rwm"},
                          {false, 'c', 1, 3, "rwm"},
                          {true, 'c', 1, 3, "r"},
                          {true, 'c', -1, 5, "rw"}};
  pr = build(last, 4);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 1, 3), 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_W, 1, 3), 0);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_W, 1, 4), 1);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_W, 9, 5), 1); /* any major */
  free(pr.p);

  /* rules before a catch-all cannot decide and are left out */
  husk_dev_rule shadowed[] = {{true, 'c', 1, 3, "rwm"}, {false, 'a', -1, -1, "rwm"}};
  pr = build(shadowed, 2);
  assert_int_equal(run(pr.p, pr.n, 'c', REQ_R, 1, 3), 0);
  assert_true(pr.n <= 8);
  free(pr.p);

  /* an empty list allows everything */
  pr = build(NULL, 0);
  assert_int_equal(run(pr.p, pr.n, 'b', REQ_R | REQ_W | REQ_M, 8, 0), 1);
  free(pr.p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_parse_full),
      cmocka_unit_test(test_cgroup_parse_errors_name_the_field),
      cmocka_unit_test(test_cgroup_conversions),
      cmocka_unit_test(test_cgroup_device_program_default_spec),
      cmocka_unit_test(test_cgroup_device_program_rule_semantics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
