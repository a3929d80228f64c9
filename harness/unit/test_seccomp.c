/* Unit tests for runtime/seccomp.c: parsing of linux.seccomp, compiling to
 * BPF with libseccomp, the compiled-program cache, and real enforcement in
 * forked children (each sets no_new_privs and installs the program). */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "husk_seccomp.h"
#include "util.h"

/* ---- helpers ----------------------------------------------------------------------------------
 */

static int parse_str(const char *json, husk_seccomp **out, husk_err *err)
{
  struct json_object *o = json_tokener_parse(json);
  if (o == NULL)
    fail_msg("test JSON does not parse: %s", json);
  int r = husk_seccomp_parse(o, out, err);
  json_object_put(o);
  return r;
}

static husk_seccomp *parse_ok(const char *json)
{
  husk_seccomp *s = NULL;
  husk_err err = {0};
  if (parse_str(json, &s, &err) < 0)
    fail_msg("parse failed: %s\nJSON: %s", err.msg, json);
  assert_non_null(s);
  return s;
}

static void compile_ok(const char *json, husk_seccomp_prog *prog)
{
  husk_seccomp *s = parse_ok(json);
  husk_err err = {0};
  if (husk_seccomp_compile(s, prog, &err) < 0)
    fail_msg("compile failed: %s\nJSON: %s", err.msg, json);
  husk_seccomp_free(s);
  assert_non_null(prog->filter);
  assert_true(prog->len > 0);
  assert_true(prog->len <= BPF_MAXINSNS);
}

static char *data_path(const char *name)
{
  const char *dir = getenv("HUSK_TEST_DATA");
  if (dir == NULL)
    return NULL;
  return husk_xasprintf("%s/seccomp/%s", dir, name);
}

static struct json_object *load_podman_profile(void)
{
  _cleanup_free_ char *path = data_path("podman-default.json");
  if (path == NULL)
    return NULL;
  struct json_object *o = json_object_from_file(path);
  if (o == NULL)
    fail_msg("cannot load %s: %s", path, json_util_get_last_err());
  return o;
}

/* Fork; the child sets no_new_privs, installs prog and _exit()s with body()'s
 * result (0 = all checks passed, otherwise the number of the failing check).
 * Returns the raw wait status.  The child never returns into cmocka and
 * leaves with _exit so no atexit handler (LeakSanitizer) runs under the filter. */
static int run_filtered(const husk_seccomp_prog *prog, int (*body)(void))
{
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
      _exit(200);
    husk_err err = {0};
    if (husk_seccomp_install(prog, &err) < 0) {
      dprintf(2, "install: %s\n", err.msg);
      _exit(201);
    }
    _exit(body());
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  return status;
}

static void assert_child_ok(int status)
{
  if (WIFSIGNALED(status))
    fail_msg("filtered child killed by signal %d", WTERMSIG(status));
  if (WEXITSTATUS(status) != 0)
    fail_msg("filtered child failed check %d (200: no_new_privs, 201: install)",
             WEXITSTATUS(status));
}

/* A raw syscall that returned -1 with errno e. */
#define FAILS_WITH(call, e) ((call) == -1 && errno == (e))

/* ---- parsing valid profiles -------------------------------------------------------------------
 */

static void test_podman_profile_parses_and_compiles(void **state)
{
  (void)state;
  struct json_object *o = load_podman_profile();
  if (o == NULL)
    skip();
  husk_seccomp *s = NULL;
  husk_err err = {0};
  if (husk_seccomp_parse(o, &s, &err) < 0)
    fail_msg("parse podman profile: %s", err.msg);
  json_object_put(o);

  husk_seccomp_prog prog = {0};
  if (husk_seccomp_compile(s, &prog, &err) < 0)
    fail_msg("compile podman profile: %s", err.msg);
  assert_non_null(prog.filter);
  assert_true(prog.len > 100); /* hundreds of syscalls on three architectures */
  assert_true(prog.len <= BPF_MAXINSNS);
  assert_int_equal(prog.flags, 0);
  /* The first instruction loads seccomp_data.arch (offset 4). */
  const struct sock_filter *f = prog.filter;
  assert_int_equal(f[0].code, BPF_LD | BPF_W | BPF_ABS);
  assert_int_equal(f[0].k, offsetof(struct seccomp_data, arch));
  husk_seccomp_prog_clear(&prog);
  assert_null(prog.filter);
  assert_int_equal(prog.len, 0);
  husk_seccomp_free(s);
}

static void test_unknown_syscall_names_are_skipped(void **state)
{
  (void)state;
  husk_seccomp *s =
      parse_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
               "{\"names\":[\"husk_no_such_syscall\",\"getppid\"],"
               "\"action\":\"SCMP_ACT_ERRNO\"},"
               "{\"names\":[\"husk_no_such_syscall\"],\"action\":\"SCMP_ACT_KILL\"}]}");
  assert_int_equal(husk_seccomp_skipped(s), 1); /* reported once */
  assert_string_equal(husk_seccomp_skipped_name(s, 0), "husk_no_such_syscall");
  assert_null(husk_seccomp_skipped_name(s, 1));
  husk_seccomp_prog prog = {0};
  husk_err err = {0};
  assert_int_equal(husk_seccomp_compile(s, &prog, &err), 0);
  assert_true(prog.len > 0);
  husk_seccomp_prog_clear(&prog);
  husk_seccomp_free(s);
}

static void test_every_action_and_operator_compiles(void **state)
{
  (void)state;
  static const char *const json =
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":null,"
      "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\","
      "\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_ARM\",\"SCMP_ARCH_PPC64LE\",\"SCMP_ARCH_MIPSEL64N32\","
      "\"SCMP_ARCH_RISCV64\"],"
      "\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\","
      "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],"
      "\"unknownFieldsAreIgnored\":true,"
      "\"syscalls\":["
      "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_KILL\"},"
      "{\"names\":[\"getpgrp\"],\"action\":\"SCMP_ACT_KILL_THREAD\"},"
      "{\"names\":[\"getsid\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
      "{\"names\":[\"getuid\"],\"action\":\"SCMP_ACT_TRAP\"},"
      "{\"names\":[\"getgid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
      "{\"names\":[\"geteuid\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":1},"
      "{\"names\":[\"getegid\"],\"action\":\"SCMP_ACT_LOG\",\"args\":null},"
      "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
      "{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
      "{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_NE\"},"
      "{\"index\":1,\"value\":2,\"op\":\"SCMP_CMP_LT\"},"
      "{\"index\":2,\"value\":3,\"op\":\"SCMP_CMP_LE\"},"
      "{\"index\":3,\"value\":4,\"op\":\"SCMP_CMP_EQ\"},"
      "{\"index\":4,\"value\":5,\"op\":\"SCMP_CMP_GE\"},"
      "{\"index\":5,\"value\":6,\"valueTwo\":null,\"op\":\"SCMP_CMP_GT\"}]},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
      "{\"index\":0,\"value\":18446744073709551615,\"valueTwo\":4294967295,"
      "\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}";
  husk_seccomp_prog prog = {0};
  compile_ok(json, &prog);
  assert_int_equal(prog.flags, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                                   SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  husk_seccomp_prog_clear(&prog);
}

static void test_rule_with_default_action_is_ignored(void **state)
{
  (void)state;
  /* libseccomp refuses such rules; like runc and crun we drop them. */
  husk_seccomp_prog with = {0}, without = {0};
  compile_ok("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":["
             "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
             "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}",
             &with);
  compile_ok("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":["
             "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
             &without);
  assert_int_equal(with.len, without.len);
  assert_memory_equal(with.filter, without.filter, with.len * sizeof(struct sock_filter));
  husk_seccomp_prog_clear(&with);
  husk_seccomp_prog_clear(&without);
}

static void test_mixed_endianness_fails_naming_the_architecture(void **state)
{
  (void)state;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const char *json = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":["
                     "\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_S390X\"]}";
#else
  const char *json = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":["
                     "\"SCMP_ARCH_S390X\",\"SCMP_ARCH_X86_64\"]}";
#endif
  husk_seccomp *s = parse_ok(json);
  husk_seccomp_prog prog = {0};
  husk_err err = {0};
  int r = husk_seccomp_compile(s, &prog, &err);
  husk_seccomp_free(s);
  assert_int_equal(r, -EDOM);
  assert_null(prog.filter);
  if (strstr(err.msg, "linux.seccomp.architectures[1]: SCMP_ARCH_") == NULL)
    fail_msg("unexpected message: %s", err.msg);
}

/* ---- parse errors -----------------------------------------------------------------------------
 */

typedef struct bad_case {
  const char *json;
  int code;         /* expected positive errno */
  const char *want; /* expected substring of the message */
} bad_case;

#define SC(rest) "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[" rest "]}"
#define ARGS(a)  SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[" a "]}")

static const bad_case bad_cases[] = {
    {"[]", EINVAL, "linux.seccomp: must be an object, not array"},
    {"{}", EINVAL, "linux.seccomp.defaultAction: required"},
    {"{\"defaultAction\":null}", EINVAL, "linux.seccomp.defaultAction: required"},
    {"{\"defaultAction\":5}", EINVAL, "linux.seccomp.defaultAction: must be a string, not int"},
    {"{\"defaultAction\":\"SCMP_ACT_FOO\"}", EINVAL,
     "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\""},
    {"{\"defaultAction\":\"scmp_act_allow\"}", EINVAL, "unknown action \"scmp_act_allow\""},
    {"{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", ENOTSUP,
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1}", EINVAL,
     "linux.seccomp.defaultErrnoRet: not allowed with SCMP_ACT_ALLOW"},
    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":-1}", EINVAL,
     "linux.seccomp.defaultErrnoRet: must not be negative (-1)"},
    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":65536}", ERANGE,
     "linux.seccomp.defaultErrnoRet: 65536 is out of range (maximum 65535)"},
    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":\"1\"}", EINVAL,
     "linux.seccomp.defaultErrnoRet: must be an unsigned integer, not string"},
    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1.5}", EINVAL,
     "linux.seccomp.defaultErrnoRet: must be an unsigned integer, not double"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/l.sock\"}", ENOTSUP,
     "linux.seccomp.listenerPath: not supported"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerMetadata\":\"x\"}", ENOTSUP,
     "linux.seccomp.listenerMetadata: not supported"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":\"SCMP_ARCH_X86\"}", EINVAL,
     "linux.seccomp.architectures: must be an array, not string"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[1]}", EINVAL,
     "linux.seccomp.architectures[0]: must be a string, not int"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",null]}", EINVAL,
     "linux.seccomp.architectures[1]: must be a string, not null"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
     "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_FOO\"]}",
     EINVAL, "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_FOO\""},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"x86_64\"]}", EINVAL,
     "linux.seccomp.architectures[0]: unknown architecture \"x86_64\""},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_\"]}", EINVAL,
     "unknown architecture \"SCMP_ARCH_\""},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":{}}", EINVAL,
     "linux.seccomp.flags: must be an array, not object"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_FOO\"]}", EINVAL,
     "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_FOO\""},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\","
     "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"]}",
     ENOTSUP, "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported"},
    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}", EINVAL,
     "linux.seccomp.syscalls: must be an array, not object"},
    {SC("1"), EINVAL, "linux.seccomp.syscalls[0]: must be an object, not int"},
    {SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\"},null"), EINVAL,
     "linux.seccomp.syscalls[1]: must be an object, not null"},
    {SC("{\"action\":\"SCMP_ACT_ERRNO\"}"), EINVAL, "linux.seccomp.syscalls[0].names: required"},
    {SC("{\"names\":\"read\",\"action\":\"SCMP_ACT_ERRNO\"}"), EINVAL,
     "linux.seccomp.syscalls[0].names: must be an array, not string"},
    {SC("{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}"), EINVAL,
     "linux.seccomp.syscalls[0].names: must contain at least one name"},
    {SC("{\"names\":[\"read\",7],\"action\":\"SCMP_ACT_ERRNO\"}"), EINVAL,
     "linux.seccomp.syscalls[0].names[1]: must be a string, not int"},
    {SC("{\"names\":[\"\"],\"action\":\"SCMP_ACT_ERRNO\"}"), EINVAL,
     "linux.seccomp.syscalls[0].names[0]: empty syscall name"},
    {SC("{\"names\":[\"read\"]}"), EINVAL, "linux.seccomp.syscalls[0].action: required"},
    {SC("{\"names\":[\"read\"],\"action\":[]}"), EINVAL,
     "linux.seccomp.syscalls[0].action: must be a string, not array"},
    {SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_NOTIFY\"}"), ENOTSUP,
     "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported"},
    {SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_KILL\",\"errnoRet\":1}"), EINVAL,
     "linux.seccomp.syscalls[0].errnoRet: not allowed with SCMP_ACT_KILL"},
    {SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":true}"), EINVAL,
     "linux.seccomp.syscalls[0].errnoRet: must be an unsigned integer, not boolean"},
    {SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":{}}"), EINVAL,
     "linux.seccomp.syscalls[0].args: must be an array, not object"},
    {ARGS("1"), EINVAL, "linux.seccomp.syscalls[0].args[0]: must be an object, not int"},
    {ARGS("{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},null"), EINVAL,
     "linux.seccomp.syscalls[0].args[1]: must be an object, not null"},
    {ARGS("{\"value\":1,\"op\":\"SCMP_CMP_EQ\"}"), EINVAL,
     "linux.seccomp.syscalls[0].args[0].index: required"},
    {ARGS("{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}"), ERANGE,
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (maximum 5)"},
    {ARGS("{\"index\":-1,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}"), EINVAL,
     "linux.seccomp.syscalls[0].args[0].index: must not be negative (-1)"},
    {ARGS("{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}"), EINVAL,
     "linux.seccomp.syscalls[0].args[0].value: required"},
    {ARGS("{\"index\":0,\"value\":-5,\"op\":\"SCMP_CMP_EQ\"}"), EINVAL,
     "linux.seccomp.syscalls[0].args[0].value: must not be negative (-5)"},
    {ARGS("{\"index\":0,\"value\":1,\"valueTwo\":\"2\",\"op\":\"SCMP_CMP_EQ\"}"), EINVAL,
     "linux.seccomp.syscalls[0].args[0].valueTwo: must be an unsigned integer, not string"},
    {ARGS("{\"index\":0,\"value\":1}"), EINVAL, "linux.seccomp.syscalls[0].args[0].op: required"},
    {ARGS("{\"index\":0,\"value\":1,\"op\":5}"), EINVAL,
     "linux.seccomp.syscalls[0].args[0].op: must be a string, not int"},
    {ARGS("{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
          "{\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_FOO\"}"),
     EINVAL, "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_FOO\""},
};

static void test_parse_errors_name_the_field(void **state)
{
  (void)state;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad_cases); i++) {
    const bad_case *c = &bad_cases[i];
    husk_seccomp *s = (husk_seccomp *)0x1;
    husk_err err = {0};
    int r = parse_str(c->json, &s, &err);
    if (r >= 0)
      fail_msg("case %zu parsed but must fail with \"%s\"\nJSON: %s", i, c->want, c->json);
    assert_null(s);
    if (strstr(err.msg, c->want) == NULL)
      fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, c->want);
    if (err.code != c->code || r != -c->code)
      fail_msg("case %zu: code %d / return %d, want %d (%s)", i, err.code, r, c->code, err.msg);
  }
}

static void test_unknown_action_error_is_exact(void **state)
{
  (void)state;
  husk_seccomp *s = NULL;
  husk_err err = {0};
  int r = parse_str(SC("{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                       "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                       "{\"names\":[\"open\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                       "{\"names\":[\"close\"],\"action\":\"SCMP_ACT_FOO\"}"),
                    &s, &err);
  assert_int_equal(r, -EINVAL);
  assert_string_equal(err.msg, "linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");
}

/* ---- install ----------------------------------------------------------------------------------
 */

static void test_install_rejects_empty_program(void **state)
{
  (void)state;
  husk_seccomp_prog prog = {0};
  husk_err err = {0};
  assert_int_equal(husk_seccomp_install(&prog, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "seccomp"));
  assert_int_equal(husk_seccomp_install(NULL, &err), -EINVAL);
}

/* ---- enforcement ------------------------------------------------------------------------------
 */

static int body_getppid_eperm_mkdir_enosys(void)
{
  if (!FAILS_WITH(syscall(SYS_getppid), EPERM))
    return 1;
  if (!FAILS_WITH(syscall(SYS_mkdir, "/nonexistent-husk-dir/x", 0700), ENOSYS))
    return 2;
  if (syscall(SYS_getpid) <= 0)
    return 3;
  if (syscall(SYS_getuid) < 0)
    return 4;
  return 0;
}

static int body_getppid_eperm(void)
{
  return FAILS_WITH(syscall(SYS_getppid), EPERM) ? 0 : 1;
}

static void test_filter_denies_getppid_and_mkdir(void **state)
{
  (void)state;
  husk_seccomp_prog prog = {0};
  compile_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
             "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"},"
             "{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}",
             &prog);
  assert_child_ok(run_filtered(&prog, body_getppid_eperm_mkdir_enosys));
  husk_seccomp_prog_clear(&prog);
}

static void test_filter_with_flags_installs(void **state)
{
  (void)state;
  husk_seccomp_prog prog = {0};
  compile_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\","
             "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\"syscalls\":["
             "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"},"
             "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}",
             &prog);
  assert_int_equal(prog.flags, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  assert_child_ok(run_filtered(&prog, body_getppid_eperm_mkdir_enosys));
  husk_seccomp_prog_clear(&prog);
}

static int body_kill(void)
{
  syscall(SYS_getppid);
  return 1; /* must not get here */
}

static void test_kill_process_action_kills_with_sigsys(void **state)
{
  (void)state;
  husk_seccomp_prog prog = {0};
  compile_ok(SC("{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}"), &prog);
  int status = run_filtered(&prog, body_kill);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGSYS);
  husk_seccomp_prog_clear(&prog);
}

static int body_trace_without_tracer(void)
{
  /* SECCOMP_RET_TRACE with no tracer attached fails the syscall with ENOSYS. */
  return FAILS_WITH(syscall(SYS_getppid), ENOSYS) ? 0 : 1;
}

static void test_trace_action_without_tracer_returns_enosys(void **state)
{
  (void)state;
  husk_seccomp_prog prog = {0};
  compile_ok(SC("{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":5}"), &prog);
  assert_child_ok(run_filtered(&prog, body_trace_without_tracer));
  husk_seccomp_prog_clear(&prog);
}

static int body_masked_eq(void)
{
  /* umask(2) never fails on its own: a failure can only come from the filter. */
  if (!FAILS_WITH(syscall(SYS_umask, 0777), EPERM))
    return 1;
  if (!FAILS_WITH(syscall(SYS_umask, 0700), EPERM))
    return 2;
  if (syscall(SYS_umask, 0022) < 0) /* 0022 & 0700 != 0700 */
    return 3;
  if (syscall(SYS_umask, 0600) < 0)
    return 4;
  return 0;
}

static void test_masked_eq_matches_only_masked_bits(void **state)
{
  (void)state;
  husk_seccomp_prog prog = {0};
  compile_ok(SC("{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,"
                "\"value\":448,\"valueTwo\":448,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}"),
             &prog);
  assert_child_ok(run_filtered(&prog, body_masked_eq));
  husk_seccomp_prog_clear(&prog);
}

static int body_same_index_is_or(void)
{
  int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  if (!(fd == -1 && errno == EACCES))
    return 1;
  fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
  if (!(fd == -1 && errno == EACCES))
    return 2;
  fd = (int)syscall(SYS_socket, AF_INET6, SOCK_DGRAM, 0);
  if (fd == -1 && errno == EACCES) /* may fail without IPv6, but not from the filter */
    return 3;
  return 0;
}

static void test_conditions_on_one_argument_become_separate_rules(void **state)
{
  (void)state;
  /* Like runc: two conditions on argument 0 cannot both hold, so they are
   * added as separate rules (either one matches). */
  husk_seccomp_prog prog = {0};
  compile_ok(SC("{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
                "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
                "{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}"),
             &prog);
  assert_child_ok(run_filtered(&prog, body_same_index_is_or));
  husk_seccomp_prog_clear(&prog);
}

static int body_podman_profile(void)
{
  /* allowed */
  if (syscall(SYS_getppid) <= 0)
    return 1;
  int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    return 2;
  close(fd);
  if (syscall(SYS_personality, 0xffffffffUL) < 0) /* query is allowed */
    return 3;
  /* socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT): errnoRet 22 */
  if (!FAILS_WITH(syscall(SYS_socket, 16, SOCK_RAW, 9), EINVAL))
    return 4;
  /* explicitly denied with EPERM */
  if (!FAILS_WITH(syscall(SYS_kexec_load, 0, 0, NULL, 0), EPERM))
    return 5;
  if (!FAILS_WITH(syscall(SYS_ptrace, 0, 0, NULL, NULL), EPERM))
    return 6;
  /* not listed: defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 38 */
  if (!FAILS_WITH(syscall(SYS_add_key, "user", "husk", "x", 1, 0), ENOSYS))
    return 7;
  if (!FAILS_WITH(syscall(SYS_personality, 0x0400000UL), ENOSYS))
    return 8;
  /* clone with a namespace flag fails; clone3 is ENOSYS so libcs fall back */
  if (!FAILS_WITH(syscall(SYS_clone, 0x10000000UL /* CLONE_NEWUSER */, NULL, NULL, NULL, 0),
                  ENOSYS))
    return 9;
  if (!FAILS_WITH(syscall(SYS_clone3, NULL, 0), ENOSYS))
    return 10;
  /* plain fork still works */
  pid_t pid = fork();
  if (pid == 0)
    _exit(7);
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
    return 11;
  return 0;
}

static void test_podman_profile_is_enforced(void **state)
{
  (void)state;
  struct json_object *o = load_podman_profile();
  if (o == NULL)
    skip();
  husk_seccomp *s = NULL;
  husk_err err = {0};
  assert_int_equal(husk_seccomp_parse(o, &s, &err), 0);
  json_object_put(o);
  husk_seccomp_prog prog = {0};
  if (husk_seccomp_compile(s, &prog, &err) < 0)
    fail_msg("compile: %s", err.msg);
  husk_seccomp_free(s);
  assert_child_ok(run_filtered(&prog, body_podman_profile));
  husk_seccomp_prog_clear(&prog);
}

/* ---- cache ------------------------------------------------------------------------------------
 */

typedef struct cache_dir {
  char path[64];
  int fd;
} cache_dir;

static int cache_setup(void **state)
{
  cache_dir *d = husk_xcalloc(1, sizeof(*d));
  snprintf(d->path, sizeof(d->path), "/tmp/husk-seccomp-test.XXXXXX");
  if (mkdtemp(d->path) == NULL)
    return -1;
  d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  *state = d;
  return d->fd < 0 ? -1 : 0;
}

static int cache_teardown(void **state)
{
  cache_dir *d = *state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
  int r = system(cmd);
  close(d->fd);
  free(d);
  return r == 0 ? 0 : -1;
}

static size_t count_entries(const char *dir)
{
  char cmd[160];
  snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c '\\.bpf$'", dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  unsigned long n = 0;
  if (fscanf(p, "%lu", &n) != 1)
    n = 0;
  pclose(p);
  return n;
}

static void test_cache_returns_the_same_program(void **state)
{
  cache_dir *d = *state;
  static const char *const json =
      "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"flags\":["
      "\"SECCOMP_FILTER_FLAG_LOG\"],\"syscalls\":[{\"names\":[\"read\",\"write\"],"
      "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\","
      "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}";
  husk_seccomp *s = parse_ok(json);
  husk_err err = {0};
  husk_seccomp_prog direct = {0}, miss = {0}, hit = {0};
  assert_int_equal(husk_seccomp_compile(s, &direct, &err), 0);
  assert_int_equal(husk_seccomp_compile_cached(s, d->fd, &miss, &err), 0);
  assert_int_equal(count_entries(d->path), 1);
  assert_int_equal(husk_seccomp_compile_cached(s, d->fd, &hit, &err), 0);
  assert_int_equal(count_entries(d->path), 1);
  assert_int_equal(direct.len, hit.len);
  assert_int_equal(miss.len, hit.len);
  assert_int_equal(hit.flags, SECCOMP_FILTER_FLAG_LOG);
  assert_memory_equal(direct.filter, hit.filter, hit.len * sizeof(struct sock_filter));

  /* A different filter gets its own entry. */
  husk_seccomp *other = parse_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
                                 "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_KILL\"}]}");
  husk_seccomp_prog p2 = {0};
  assert_int_equal(husk_seccomp_compile_cached(other, d->fd, &p2, &err), 0);
  assert_int_equal(count_entries(d->path), 2);
  assert_true(p2.len != hit.len ||
              memcmp(p2.filter, hit.filter, hit.len * sizeof(struct sock_filter)) != 0);

  husk_seccomp_prog_clear(&p2);
  husk_seccomp_free(other);
  husk_seccomp_prog_clear(&direct);
  husk_seccomp_prog_clear(&miss);
  husk_seccomp_prog_clear(&hit);
  husk_seccomp_free(s);
}

static void test_cache_rebuilds_a_tampered_entry(void **state)
{
  cache_dir *d = *state;
  husk_seccomp *s = parse_ok(SC("{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"}"));
  husk_err err = {0};
  husk_seccomp_prog good = {0}, again = {0};
  assert_int_equal(husk_seccomp_compile_cached(s, d->fd, &good, &err), 0);

  /* Corrupt the stored key (byte 20 is inside it): the entry no longer
   * matches and must be rebuilt, not trusted. */
  char cmd[256];
  snprintf(cmd, sizeof(cmd),
           "f=$(ls '%s'/*.bpf) && printf 'X' | dd of=\"$f\" bs=1 seek=20 conv=notrunc status=none",
           d->path);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(husk_seccomp_compile_cached(s, d->fd, &again, &err), 0);
  assert_int_equal(good.len, again.len);
  assert_memory_equal(good.filter, again.filter, good.len * sizeof(struct sock_filter));
  assert_child_ok(run_filtered(&again, body_getppid_eperm));

  /* Truncated entry: also rebuilt. */
  snprintf(cmd, sizeof(cmd), "f=$(ls '%s'/*.bpf) && truncate -s 10 \"$f\"", d->path);
  assert_int_equal(system(cmd), 0);
  husk_seccomp_prog_clear(&again);
  assert_int_equal(husk_seccomp_compile_cached(s, d->fd, &again, &err), 0);
  assert_memory_equal(good.filter, again.filter, good.len * sizeof(struct sock_filter));

  husk_seccomp_prog_clear(&good);
  husk_seccomp_prog_clear(&again);
  husk_seccomp_free(s);
}

static void test_cache_refuses_a_world_writable_directory(void **state)
{
  cache_dir *d = *state;
  husk_seccomp *s = parse_ok(SC("{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\"}"));
  husk_err err = {0};
  husk_seccomp_prog p = {0};
  assert_int_equal(fchmod(d->fd, 0777), 0);
  assert_int_equal(husk_seccomp_compile_cached(s, d->fd, &p, &err), -EPERM);
  assert_non_null(strstr(err.msg, "seccomp cache"));
  assert_null(p.filter);
  assert_int_equal(fchmod(d->fd, 0700), 0);
  /* No cache directory: plain compile. */
  assert_int_equal(husk_seccomp_compile_cached(s, -1, &p, &err), 0);
  assert_true(p.len > 0);
  husk_seccomp_prog_clear(&p);
  husk_seccomp_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_podman_profile_parses_and_compiles),
      cmocka_unit_test(test_unknown_syscall_names_are_skipped),
      cmocka_unit_test(test_every_action_and_operator_compiles),
      cmocka_unit_test(test_rule_with_default_action_is_ignored),
      cmocka_unit_test(test_mixed_endianness_fails_naming_the_architecture),
      cmocka_unit_test(test_parse_errors_name_the_field),
      cmocka_unit_test(test_unknown_action_error_is_exact),
      cmocka_unit_test(test_install_rejects_empty_program),
      cmocka_unit_test(test_filter_denies_getppid_and_mkdir),
      cmocka_unit_test(test_filter_with_flags_installs),
      cmocka_unit_test(test_kill_process_action_kills_with_sigsys),
      cmocka_unit_test(test_trace_action_without_tracer_returns_enosys),
      cmocka_unit_test(test_masked_eq_matches_only_masked_bits),
      cmocka_unit_test(test_conditions_on_one_argument_become_separate_rules),
      cmocka_unit_test(test_podman_profile_is_enforced),
      cmocka_unit_test_setup_teardown(test_cache_returns_the_same_program, cache_setup,
                                      cache_teardown),
      cmocka_unit_test_setup_teardown(test_cache_rebuilds_a_tampered_entry, cache_setup,
                                      cache_teardown),
      cmocka_unit_test_setup_teardown(test_cache_refuses_a_world_writable_directory, cache_setup,
                                      cache_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
