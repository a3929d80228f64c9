/* Mount option parsing (runc/crun semantics): flags to set, flags cleared,
 * propagation, recursive read-only, bind detection and filesystem data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "spec.h"
#include "util.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MS_LAZYTIME
#define MS_LAZYTIME (1 << 25)
#endif

/* A mount with a copy of the given options (NULL terminated list). */
static husk_mount mk(const char *type, const char *const *opts)
{
  husk_mount m = {0};
  m.type = type ? husk_xstrdup(type) : NULL;
  size_t n = 0;
  while (opts && opts[n])
    n++;
  if (opts) {
    m.options = husk_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
      m.options[i] = husk_xstrdup(opts[i]);
  }
  return m;
}

static void clear(husk_mount *m)
{
  free(m->type);
  husk_strv_free(m->options);
  free(m->data);
  memset(m, 0, sizeof(*m));
}

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_each_option(void **state)
{
  (void)state;
  static const struct {
    const char *opt;
    unsigned long flags, clear, propagation;
    bool bind;
  } table[] = {
      {"ro", MS_RDONLY, 0, 0, false},
      {"rw", 0, MS_RDONLY, 0, false},
      {"nosuid", MS_NOSUID, 0, 0, false},
      {"suid", 0, MS_NOSUID, 0, false},
      {"nodev", MS_NODEV, 0, 0, false},
      {"dev", 0, MS_NODEV, 0, false},
      {"noexec", MS_NOEXEC, 0, 0, false},
      {"exec", 0, MS_NOEXEC, 0, false},
      {"sync", MS_SYNCHRONOUS, 0, 0, false},
      {"async", 0, MS_SYNCHRONOUS, 0, false},
      {"dirsync", MS_DIRSYNC, 0, 0, false},
      {"remount", MS_REMOUNT, 0, 0, false},
      {"mand", MS_MANDLOCK, 0, 0, false},
      {"nomand", 0, MS_MANDLOCK, 0, false},
      {"noatime", MS_NOATIME, 0, 0, false},
      {"atime", 0, MS_NOATIME, 0, false},
      {"nodiratime", MS_NODIRATIME, 0, 0, false},
      {"diratime", 0, MS_NODIRATIME, 0, false},
      {"relatime", MS_RELATIME, 0, 0, false},
      {"norelatime", 0, MS_RELATIME, 0, false},
      {"strictatime", MS_STRICTATIME, 0, 0, false},
      {"nostrictatime", 0, MS_STRICTATIME, 0, false},
      {"lazytime", MS_LAZYTIME, 0, 0, false},
      {"nolazytime", 0, MS_LAZYTIME, 0, false},
      {"iversion", MS_I_VERSION, 0, 0, false},
      {"noiversion", 0, MS_I_VERSION, 0, false},
      {"silent", MS_SILENT, 0, 0, false},
      {"loud", 0, MS_SILENT, 0, false},
      {"nosymfollow", MS_NOSYMFOLLOW, 0, 0, false},
      {"symfollow", 0, MS_NOSYMFOLLOW, 0, false},
      {"defaults", 0, 0, 0, false},
      {"notmpcopyup", 0, 0, 0, false},
      {"bind", MS_BIND, 0, 0, true},
      {"rbind", MS_BIND | MS_REC, 0, 0, true},
      {"shared", 0, 0, MS_SHARED, false},
      {"rshared", 0, 0, MS_SHARED | MS_REC, false},
      {"slave", 0, 0, MS_SLAVE, false},
      {"rslave", 0, 0, MS_SLAVE | MS_REC, false},
      {"private", 0, 0, MS_PRIVATE, false},
      {"rprivate", 0, 0, MS_PRIVATE | MS_REC, false},
      {"unbindable", 0, 0, MS_UNBINDABLE, false},
      {"runbindable", 0, 0, MS_UNBINDABLE | MS_REC, false},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(table); i++) {
    husk_mount m = mk("tmpfs", OPTS(table[i].opt));
    husk_err err = {0};
    if (husk_mount_options_parse(&m, &err) < 0)
      fail_msg("%s: %s", table[i].opt, err.msg);
    if (m.flags != table[i].flags || m.clear != table[i].clear ||
        m.propagation != table[i].propagation || m.bind != table[i].bind)
      fail_msg("%s: flags %#lx clear %#lx propagation %#lx bind %d", table[i].opt, m.flags, m.clear,
               m.propagation, m.bind);
    assert_null(m.data);
    assert_false(m.recursive_ro);
    clear(&m);
  }
}

static void test_later_option_wins(void **state)
{
  (void)state;
  husk_err err = {0};
  husk_mount m = mk("tmpfs", OPTS("ro", "nosuid", "rw", "suid", "nosuid", "private", "rslave"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_int_equal(m.flags, MS_NOSUID);
  assert_int_equal(m.clear, MS_RDONLY);
  assert_int_equal(m.propagation, MS_SLAVE | MS_REC);
  clear(&m);
}

static void test_data_is_joined(void **state)
{
  (void)state;
  husk_err err = {0};
  husk_mount m =
      mk("devpts", OPTS("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_int_equal(m.flags, MS_NOSUID | MS_NOEXEC);
  assert_string_equal(m.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  /* parsing again replaces (not appends to) the previous result */
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_string_equal(m.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  clear(&m);

  m = mk("tmpfs", OPTS("mode=755", "nosuid", "", "size=65536k", "strictatime"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_string_equal(m.data, "mode=755,size=65536k");
  assert_int_equal(m.flags, MS_NOSUID | MS_STRICTATIME);
  clear(&m);

  m = mk("overlay", OPTS("lowerdir=/a:/b,upperdir=/u", "workdir=/w"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_string_equal(m.data, "lowerdir=/a:/b,upperdir=/u,workdir=/w");
  assert_int_equal(m.flags, 0);
  clear(&m);
}

static void test_no_options(void **state)
{
  (void)state;
  husk_err err = {0};
  husk_mount m = mk("proc", NULL);
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_int_equal(m.flags, 0);
  assert_int_equal(m.clear, 0);
  assert_int_equal(m.propagation, 0);
  assert_false(m.bind);
  assert_null(m.data);
  clear(&m);
}

static void test_bind_detection(void **state)
{
  (void)state;
  husk_err err = {0};
  /* type "bind" alone is a plain bind, like runc */
  husk_mount m = mk("bind", OPTS("ro"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_true(m.bind);
  assert_int_equal(m.flags, MS_BIND | MS_RDONLY);
  clear(&m);

  m = mk("bind", OPTS("rbind"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_true(m.bind);
  assert_int_equal(m.flags, MS_BIND | MS_REC);
  clear(&m);

  m = mk(NULL, OPTS("rbind", "nosuid"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_true(m.bind);
  assert_int_equal(m.flags, MS_BIND | MS_REC | MS_NOSUID);
  clear(&m);

  m = mk("none", OPTS("bind"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_true(m.bind);
  assert_int_equal(m.flags, MS_BIND);
  clear(&m);

  m = mk("tmpfs", OPTS("nosuid"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_false(m.bind);
  clear(&m);
}

static void test_recursive_readonly(void **state)
{
  (void)state;
  husk_err err = {0};
  husk_mount m = mk("bind", OPTS("rbind", "rro"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_true(m.recursive_ro);
  assert_int_equal(m.flags & MS_RDONLY, 0);
  clear(&m);

  m = mk("bind", OPTS("rbind", "rro", "rrw"));
  assert_int_equal(husk_mount_options_parse(&m, &err), 0);
  assert_false(m.recursive_ro);
  clear(&m);
}

static void test_unsupported_options(void **state)
{
  (void)state;
  static const struct {
    const char *opt, *want;
  } table[] = {
      {"tmpcopyup", "mount option \"tmpcopyup\" is not supported"},
      {"rnosuid", "mount option \"rnosuid\" is not supported"},
      {"rnoexec", "mount option \"rnoexec\" is not supported"},
      {"rnodev", "mount option \"rnodev\" is not supported"},
      {"rnoatime", "mount option \"rnoatime\" is not supported"},
      {"rnosymfollow", "mount option \"rnosymfollow\" is not supported"},
      {"rsymfollow", "mount option \"rsymfollow\" is not supported"},
      {"rsuid", "mount option \"rsuid\" is not supported"},
      {"rdev", "mount option \"rdev\" is not supported"},
      {"rexec", "mount option \"rexec\" is not supported"},
      {"ratime", "mount option \"ratime\" is not supported"},
      {"rdiratime", "mount option \"rdiratime\" is not supported"},
      {"rnodiratime", "mount option \"rnodiratime\" is not supported"},
      {"rrelatime", "mount option \"rrelatime\" is not supported"},
      {"rnorelatime", "mount option \"rnorelatime\" is not supported"},
      {"rstrictatime", "mount option \"rstrictatime\" is not supported"},
      {"rnostrictatime", "mount option \"rnostrictatime\" is not supported"},
      {"idmap", "mount option \"idmap\": idmapped mounts are not supported"},
      {"ridmap", "mount option \"ridmap\": idmapped mounts are not supported"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(table); i++) {
    /* data collected before the bad option must not leak */
    husk_mount m = mk("tmpfs", OPTS("mode=755", table[i].opt, "size=1k"));
    husk_err err = {0};
    assert_true(husk_mount_options_parse(&m, &err) < 0);
    assert_int_equal(err.code, ENOTSUP);
    assert_string_equal(err.msg, table[i].want);
    assert_null(m.data);
    clear(&m);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_option),         cmocka_unit_test(test_later_option_wins),
      cmocka_unit_test(test_data_is_joined),      cmocka_unit_test(test_no_options),
      cmocka_unit_test(test_bind_detection),      cmocka_unit_test(test_recursive_readonly),
      cmocka_unit_test(test_unsupported_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
