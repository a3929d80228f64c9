/* The v2 device controller for real: load and attach husk's
 * BPF_PROG_TYPE_CGROUP_DEVICE program to a scratch cgroup on the host's
 * cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host)
 * and check what a process inside may open.  Skipped without root or
 * cgroup2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "test_cgroup_fake.h"

static char cg2_root[64];

static bool find_cgroup2(void)
{
  static const char *const cands[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cands); i++) {
    struct statfs fs;
    if (statfs(cands[i], &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
      snprintf(cg2_root, sizeof(cg2_root), "%s", cands[i]);
      return true;
    }
  }
  return false;
}

/* In a child placed in the cgroup: bit 0 = /dev/null rw opened, bit 1 =
 * /dev/zero r opened, bit 2 = /dev/zero refused with EPERM. */
static int probe_in(const char *dir)
{
  pid_t pid = fork();
  if (pid == 0) {
    char procs[PATH_MAX], me[24];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    int fd = open(procs, O_WRONLY);
    int n = snprintf(me, sizeof(me), "%d", (int)getpid());
    if (fd < 0 || write(fd, me, (size_t)n) != n)
      _exit(100);
    close(fd);
    int bits = 0;
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
      bits |= 1;
      close(fd);
    }
    fd = open("/dev/zero", O_RDONLY);
    if (fd >= 0) {
      bits |= 2;
      close(fd);
    } else if (errno == EPERM) {
      bits |= 4;
    }
    _exit(bits);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cgroup_bpf_device_program_in_the_kernel(void **state)
{
  (void)state;
  if (geteuid() != 0)
    skip(); /* needs root: bpf() and cgroup directories */
  if (!find_cgroup2()) {
    print_message("skipped: no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified\n");
    skip();
  }
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s/husk-unit-bpf-%d", cg2_root, (int)getpid());
  if (mkdir(dir, 0755) < 0) {
    print_message("skipped: mkdir %s: %s\n", dir, strerror(errno));
    skip();
  }
  int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(cgfd >= 0);
  husk_err err = {0};

  husk_dev_rule null_only[] = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rw"}};
  int r = husk_cg_bpf_devices_apply(cgfd, "husk-unit-bpf", null_only, 2, &err);
  if (r == -EPERM) {
    close(cgfd);
    rmdir(dir);
    print_message("skipped: the kernel refuses BPF here: %s\n", err.msg);
    skip();
  }
  if (r < 0)
    fail_msg("apply: %s", err.msg);
  int bits = probe_in(dir);
  assert_int_equal(bits, 1 | 4); /* null opens, zero gets EPERM */

  /* update: the new program replaces the old one (zero allowed only if the
   * first program was detached, since attached programs all must agree) */
  husk_dev_rule zero_only[] = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 5, "r"}};
  if (husk_cg_bpf_devices_apply(cgfd, "husk-unit-bpf", zero_only, 2, &err) < 0)
    fail_msg("re-apply: %s", err.msg);
  bits = probe_in(dir);
  assert_int_equal(bits, 2);

  close(cgfd);
  for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
    usleep(10000);
  assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_bpf_device_program_in_the_kernel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
