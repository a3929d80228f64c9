/* The porcelain's flag parsers and spec generation: volume specs, --tmpfs,
 * --cpus, container and volume names, env files, users from the image's
 * /etc/passwd, and image config + flags -> the OCI JSON that the shared
 * parser (husk_spec_parse) accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "porcelain.h"
#include "spec.h"
#include "util.h"

/* ---- volume specs --------------------------------------------------------------- */

static void vol_ok(const char *s, husk_vol_kind kind, const char *src_or_name, const char *dst,
                   bool ro, const char *prop)
{
  husk_err err = {0};
  husk_volspec v;
  if (husk_volspec_parse(s, &v, &err) < 0)
    fail_msg("-v %s: unexpected error: %s", s, err.msg);
  assert_int_equal(v.kind, kind);
  if (kind == HUSK_VOL_BIND) {
    assert_string_equal(v.source, src_or_name);
    assert_null(v.name);
  } else {
    assert_string_equal(v.name, src_or_name);
    assert_null(v.source); /* resolved by husk run */
  }
  assert_string_equal(v.destination, dst);
  assert_int_equal(v.readonly, ro);
  assert_string_equal(v.propagation, prop);
  husk_volspec_clear(&v);
}

static void vol_fails(const char *s, const char *want)
{
  husk_err err = {0};
  husk_volspec v;
  int r = husk_volspec_parse(s, &v, &err);
  if (r >= 0)
    fail_msg("-v %s: accepted, expected \"%s\"", s, want);
  assert_int_equal(err.code, EINVAL);
  if (strstr(err.msg, want) == NULL)
    fail_msg("-v %s: error \"%s\" does not mention \"%s\"", s, err.msg, want);
}

static void test_volume_bind_specs(void **state)
{
  (void)state;
  vol_ok("/srv/data:/data", HUSK_VOL_BIND, "/srv/data", "/data", false, "rprivate");
  vol_ok("/srv/data:/data:ro", HUSK_VOL_BIND, "/srv/data", "/data", true, "rprivate");
  vol_ok("/srv/data:/data:rw", HUSK_VOL_BIND, "/srv/data", "/data", false, "rprivate");
  vol_ok("/srv//data/:/data//x/", HUSK_VOL_BIND, "/srv/data", "/data/x", false, "rprivate");
  vol_ok("/a:/b:ro,rslave", HUSK_VOL_BIND, "/a", "/b", true, "rslave");
  vol_ok("/a:/b:z,shared", HUSK_VOL_BIND, "/a", "/b", false, "shared");
}

static void test_volume_named_specs(void **state)
{
  (void)state;
  vol_ok("data:/data", HUSK_VOL_NAMED, "data", "/data", false, "rprivate");
  vol_ok("my-vol.1_x:/var/lib/db:ro", HUSK_VOL_NAMED, "my-vol.1_x", "/var/lib/db", true,
         "rprivate");
  vol_ok("db:/d:nocopy", HUSK_VOL_NAMED, "db", "/d", false, "rprivate");
}

static void test_volume_bad_specs(void **state)
{
  (void)state;
  vol_fails("", "empty");
  vol_fails("/data", "anonymous volumes are not supported");
  vol_fails("rel/path:/data", "must be an absolute path");
  vol_fails("./here:/data", "must be an absolute path");
  vol_fails("data:rel", "destination rel must be an absolute path");
  vol_fails("/a:/", "destination cannot be /");
  vol_fails("/a:/x/../etc", "must not contain ..");
  vol_fails("/a:/b:rx", "unknown volume option \"rx\"");
  vol_fails("/a:/b:ro,rw", "ro and rw given more than once");
  vol_fails("/a:/b:ro:x", "invalid volume specification");
  vol_fails(":/b", "invalid volume specification");
  vol_fails("/a:", "invalid volume specification");
  vol_fails("x:/b", "invalid volume name \"x\"");
  vol_fails("-x:/b", "invalid volume name \"-x\"");
  /* "..x" is a fine name component, ".." is not */
  vol_ok("/a:/b/..x", HUSK_VOL_BIND, "/a", "/b/..x", false, "rprivate");
}

static void test_tmpfs_specs(void **state)
{
  (void)state;
  husk_err err = {0};
  husk_volspec v;
  assert_int_equal(husk_tmpfs_parse("/run", &v, &err), 0);
  assert_int_equal(v.kind, HUSK_VOL_TMPFS);
  assert_string_equal(v.destination, "/run");
  assert_null(v.options);
  husk_volspec_clear(&v);
  assert_int_equal(husk_tmpfs_parse("/scratch:size=64m,mode=1777", &v, &err), 0);
  assert_string_equal(v.destination, "/scratch");
  assert_string_equal(v.options, "size=64m,mode=1777");
  assert_false(v.readonly);
  husk_volspec_clear(&v);
  assert_int_equal(husk_tmpfs_parse("/ro:ro", &v, &err), 0);
  assert_true(v.readonly);
  husk_volspec_clear(&v);
  assert_true(husk_tmpfs_parse("scratch", &v, &err) < 0);
  assert_non_null(strstr(err.msg, "--tmpfs: destination scratch must be an absolute path"));
  assert_true(husk_tmpfs_parse("/x:size=1m,,", &v, &err) < 0);
  assert_non_null(strstr(err.msg, "empty mount option"));
  assert_true(husk_tmpfs_parse("", &v, &err) < 0);
}

/* ---- names -------------------------------------------------------------------------- */

static void test_container_names(void **state)
{
  (void)state;
  husk_err err = {0};
  static const char *const good[] = {"web", "a1", "my_app.v2-x", "A-b_C.d", "00"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(good); i++)
    if (husk_container_name_validate(good[i], &err) < 0)
      fail_msg("%s rejected: %s", good[i], err.msg);
  static const char *const bad[] = {"",    "a",   "-x",  "_x",   ".x", "a/b",
                                    "a b", "a:b", "a\n", "über", "..", "a@b"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    if (husk_container_name_validate(bad[i], &err) == 0)
      fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(err.code, EINVAL);
  }
  char long_name[200];
  memset(long_name, 'a', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  assert_true(husk_container_name_validate(long_name, &err) < 0);
  assert_non_null(strstr(err.msg, "too long"));
  long_name[128] = '\0';
  assert_int_equal(husk_container_name_validate(long_name, &err), 0);
  assert_true(husk_volume_name_validate("a/b", &err) < 0);
  assert_non_null(strstr(err.msg, "invalid volume name"));
}

static void test_ids(void **state)
{
  (void)state;
  char a[HUSK_ID_LEN + 1], b[HUSK_ID_LEN + 1];
  husk_id_generate(a);
  husk_id_generate(b);
  assert_int_equal(strlen(a), HUSK_ID_LEN);
  assert_true(husk_is_full_id(a));
  assert_string_not_equal(a, b);
  assert_false(husk_is_full_id("abc"));
  a[5] = 'G';
  assert_false(husk_is_full_id(a));
}

/* ---- --cpus --------------------------------------------------------------------------- */

static void test_cpus(void **state)
{
  (void)state;
  husk_err err = {0};
  uint64_t q, p, n;
  assert_int_equal(husk_cpus_parse("0.5", &q, &p, &n, &err), 0);
  assert_int_equal(q, 50000);
  assert_int_equal(p, 100000);
  assert_int_equal(n, 500000000);
  assert_int_equal(husk_cpus_parse("1", &q, &p, &n, &err), 0);
  assert_int_equal(q, 100000);
  assert_int_equal(husk_cpus_parse("0.01", &q, &p, &n, &err), 0);
  assert_int_equal(q, 1000);
  assert_true(husk_cpus_parse("0.001", &q, &p, &n, &err) < 0);
  assert_non_null(strstr(err.msg, "the range of CPUs is from 0.01 to"));
  assert_true(husk_cpus_parse("100000", &q, &p, &n, &err) < 0);
  assert_true(husk_cpus_parse("0", &q, &p, &n, &err) < 0);
  static const char *const bad[] = {"", "abc", "1.5x", "-1", ".", "1,5"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    if (husk_cpus_parse(bad[i], &q, &p, &n, &err) == 0)
      fail_msg("--cpus \"%s\" accepted", bad[i]);
    assert_non_null(strstr(err.msg, "--cpus"));
  }
}

/* ---- env ------------------------------------------------------------------------------ */

/* Every temporary directory lives under one scratch directory that the group
 * teardown removes, so a failed test leaves nothing in /tmp. */
static char *scratch;

static int group_setup(void **state)
{
  (void)state;
  char tmpl[] = "/tmp/husk-unit-pspec-XXXXXX";
  if (mkdtemp(tmpl) == NULL)
    return -1;
  scratch = husk_xstrdup(tmpl);
  return 0;
}

static char *tmpdir_make(void)
{
  char *tmpl = husk_xasprintf("%s/XXXXXX", scratch);
  assert_non_null(mkdtemp(tmpl));
  return tmpl;
}

static void rm_tree(const char *dir)
{
  _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  husk_err err = {0};
  if (husk_rm_rf_at(fd, dir + 1, &err) < 0)
    fail_msg("cleanup %s: %s", dir, err.msg);
}

static int group_teardown(void **state)
{
  (void)state;
  _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  husk_err err = {0};
  int r = husk_rm_rf_at(fd, scratch + 1, &err);
  free(scratch);
  return r < 0 ? -1 : 0;
}

static void write_file(const char *dir, const char *rel, const char *content)
{
  _cleanup_free_ char *p = husk_xasprintf("%s/%s", dir, rel);
  _cleanup_free_ char *parent = husk_xstrdup(p);
  *strrchr(parent, '/') = '\0';
  husk_err err = {0};
  assert_int_equal(husk_mkdir_p(AT_FDCWD, parent, 0755, &err), 0);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void test_env_merge(void **state)
{
  (void)state;
  _cleanup_strv_ char **env = NULL;
  husk_env_set(&env, "A=1");
  husk_env_set(&env, "B=2");
  husk_env_set(&env, "A=3");
  husk_env_set(&env, "AB=4");
  assert_int_equal(husk_strv_len(env), 3);
  assert_string_equal(env[0], "A=3");
  assert_string_equal(env[1], "B=2");
  assert_string_equal(env[2], "AB=4");
}

static void test_env_file(void **state)
{
  (void)state;
  _cleanup_free_ char *dir = tmpdir_make();
  write_file(dir, "env",
             "# a comment\n"
             "\n"
             "FOO=bar\n"
             "  SPACED=x y  \r\n"
             "EMPTY=\n"
             "HUSK_UNIT_FROM_HOST\n"
             "HUSK_UNIT_UNSET_VAR\n"
             "EQ=a=b");
  setenv("HUSK_UNIT_FROM_HOST", "hostval", 1);
  unsetenv("HUSK_UNIT_UNSET_VAR");
  _cleanup_free_ char *p = husk_xasprintf("%s/env", dir);
  _cleanup_strv_ char **env = NULL;
  husk_err err = {0};
  if (husk_env_file_read(p, &env, &err) < 0)
    fail_msg("%s", err.msg);
  assert_int_equal(husk_strv_len(env), 5);
  assert_string_equal(env[0], "FOO=bar");
  assert_string_equal(env[1], "SPACED=x y  ");
  assert_string_equal(env[2], "EMPTY=");
  assert_string_equal(env[3], "HUSK_UNIT_FROM_HOST=hostval");
  assert_string_equal(env[4], "EQ=a=b");

  write_file(dir, "bad", "OK=1\nBAD KEY=2\n");
  _cleanup_free_ char *bad = husk_xasprintf("%s/bad", dir);
  _cleanup_strv_ char **env2 = NULL;
  assert_true(husk_env_file_read(bad, &env2, &err) < 0);
  assert_non_null(strstr(err.msg, ":2: variable name \"BAD KEY\" contains whitespace"));
  _cleanup_free_ char *missing = husk_xasprintf("%s/missing", dir);
  _cleanup_strv_ char **env3 = NULL;
  assert_true(husk_env_file_read(missing, &env3, &err) < 0);
  assert_int_equal(err.code, ENOENT);
  assert_non_null(strstr(err.msg, "--env-file"));
  rm_tree(dir);
}

/* ---- users ------------------------------------------------------------------------------ */

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "# comment\n"
                             "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
                             "bob:x:1001:100::/home/bob:/bin/sh\n"
                             "broken:x:abc:1:::\n";
static const char group[] = "root:x:0:\n"
                            "users:x:100:\n"
                            "alice:x:1000:\n"
                            "staff:x:50:alice,bob\n"
                            "wheel:x:10:carol,alice\n";

static char *make_root(void)
{
  char *dir = tmpdir_make();
  write_file(dir, "etc/passwd", passwd);
  write_file(dir, "etc/group", group);
  return dir;
}

static void test_user_resolve(void **state)
{
  (void)state;
  _cleanup_free_ char *dir = make_root();
  _cleanup_close_ int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  husk_err err = {0};
  husk_puser u;

  assert_int_equal(husk_user_resolve(rootfd, "alice", &u, &err), 0);
  assert_int_equal(u.uid, 1000);
  assert_int_equal(u.gid, 1000);
  assert_string_equal(u.home, "/home/alice");
  assert_int_equal(u.n_gids, 2);
  assert_int_equal(u.gids[0], 50);
  assert_int_equal(u.gids[1], 10);
  husk_puser_clear(&u);

  assert_int_equal(husk_user_resolve(rootfd, "1001", &u, &err), 0);
  assert_int_equal(u.uid, 1001);
  assert_int_equal(u.gid, 100); /* from the passwd entry of that uid */
  assert_string_equal(u.home, "/home/bob");
  husk_puser_clear(&u);

  assert_int_equal(husk_user_resolve(rootfd, "alice:staff", &u, &err), 0);
  assert_int_equal(u.uid, 1000);
  assert_int_equal(u.gid, 50);
  husk_puser_clear(&u);

  assert_int_equal(husk_user_resolve(rootfd, "4242:4343", &u, &err), 0);
  assert_int_equal(u.uid, 4242);
  assert_int_equal(u.gid, 4343);
  assert_null(u.home);
  assert_int_equal(u.n_gids, 0);
  husk_puser_clear(&u);

  assert_int_equal(husk_user_resolve(rootfd, "4242", &u, &err), 0);
  assert_int_equal(u.gid, 0); /* unknown uid: gid 0, like docker */
  husk_puser_clear(&u);

  assert_int_equal(husk_user_resolve(rootfd, NULL, &u, &err), 0);
  assert_int_equal(u.uid, 0);
  assert_string_equal(u.home, "/root");
  husk_puser_clear(&u);

  assert_true(husk_user_resolve(rootfd, "mallory", &u, &err) < 0);
  assert_string_equal(err.msg, "unable to find user mallory: no matching entries in passwd file");
  assert_true(husk_user_resolve(rootfd, "alice:nogroup", &u, &err) < 0);
  assert_string_equal(err.msg, "unable to find group nogroup: no matching entries in group file");
  assert_true(husk_user_resolve(rootfd, ":1", &u, &err) < 0);
  assert_true(husk_user_resolve(rootfd, "1:", &u, &err) < 0);
  assert_true(husk_user_resolve(rootfd, "broken", &u, &err) < 0);

  /* without a root only numbers work */
  assert_int_equal(husk_user_resolve(-1, "7:8", &u, &err), 0);
  assert_int_equal(u.uid, 7);
  assert_int_equal(u.gid, 8);
  husk_puser_clear(&u);
  assert_true(husk_user_resolve(-1, "alice", &u, &err) < 0);
  rm_tree(dir);
}

static void test_user_passwd_symlink_stays_in_root(void **state)
{
  (void)state;
  /* /etc/passwd -> /etc/host-passwd (absolute): resolved inside the root, not the host's */
  _cleanup_free_ char *dir = tmpdir_make();
  write_file(dir, "etc/host-passwd", "zed:x:77:77::/z:/bin/sh\n");
  _cleanup_free_ char *link = husk_xasprintf("%s/etc/passwd", dir);
  assert_int_equal(symlink("/etc/host-passwd", link), 0);
  _cleanup_close_ int rootfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  husk_err err = {0};
  husk_puser u;
  assert_int_equal(husk_user_resolve(rootfd, "zed", &u, &err), 0);
  assert_int_equal(u.uid, 77);
  husk_puser_clear(&u);
  /* the host's root user is not visible through a link outside */
  assert_int_equal(unlink(link), 0);
  assert_int_equal(symlink("../../../../../../../../etc/passwd", link), 0);
  assert_true(husk_user_resolve(rootfd, "daemon", &u, &err) < 0);
  rm_tree(dir);
}

/* ---- spec generation ------------------------------------------------------------------------ */

static const char *const TEST_ID =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

typedef struct fixture {
  char *root;
  int rootfd;
  husk_image_config img;
  husk_run_opts o;
} fixture;

static char *img_entry[] = {"/bin/sh", "-c", NULL};
static char *img_cmd[] = {"echo hi", NULL};
static char *img_env[] = {"PATH=/opt/bin:/bin", "FOO=image", "BAR=image", NULL};

static int fx_setup(void **state)
{
  fixture *f = husk_xcalloc(1, sizeof(*f));
  f->root = make_root();
  f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  f->img.entrypoint = img_entry;
  f->img.cmd = img_cmd;
  f->img.env = img_env;
  f->img.working_dir = (char *)"/app";
  f->img.user = (char *)"alice";
  f->o.image = "busybox";
  *state = f;
  return 0;
}

static int fx_teardown(void **state)
{
  fixture *f = *state;
  close(f->rootfd);
  rm_tree(f->root);
  free(f->root);
  free(f);
  return 0;
}

static struct json_object *build_ok(fixture *f, const char *netns)
{
  husk_spec_input in = {.opts = &f->o,
                        .image = &f->img,
                        .id = TEST_ID,
                        .rootfs = "/var/lib/husk/containers/x/rootfs",
                        .rootfd = f->rootfd,
                        .netns_path = netns,
                        .name = "web"};
  struct json_object *doc = NULL;
  husk_err err = {0};
  if (husk_pspec_build(&in, &doc, &err) < 0)
    fail_msg("build: %s", err.msg);
  /* the same parser as `husk oci` accepts it */
  const char *txt = json_object_to_json_string(doc);
  husk_spec *spec = NULL;
  if (husk_spec_parse(txt, strlen(txt), &spec, &err) < 0)
    fail_msg("generated spec does not parse: %s\n%s", err.msg, txt);
  husk_spec_free(spec);
  return doc;
}

static const char *jget(struct json_object *doc, const char *ptr)
{
  struct json_object *v = NULL;
  if (json_pointer_get(doc, ptr, &v) < 0)
    return NULL;
  return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void assert_json(struct json_object *doc, const char *ptr, const char *want)
{
  const char *got = jget(doc, ptr);
  if (got == NULL && want == NULL)
    return;
  if (got == NULL || want == NULL || strcmp(got, want) != 0)
    fail_msg("%s: want %s, got %s", ptr, want ? want : "(absent)", got ? got : "(absent)");
}

static void test_spec_from_image_config(void **state)
{
  fixture *f = *state;
  struct json_object *doc = build_ok(f, "/proc/self/fd/7");
  assert_json(doc, "/process/args", "[\"/bin/sh\",\"-c\",\"echo hi\"]");
  assert_json(doc, "/process/cwd", "\"/app\"");
  assert_json(doc, "/process/user/uid", "1000");
  assert_json(doc, "/process/user/gid", "1000");
  assert_json(doc, "/process/user/additionalGids", "[50,10]");
  assert_json(doc, "/process/env",
              "[\"PATH=/opt/bin:/bin\",\"HOSTNAME=0123456789ab\",\"FOO=image\",\"BAR=image\","
              "\"HOME=/home/alice\"]");
  assert_json(doc, "/process/terminal", "false");
  assert_json(doc, "/process/consoleSize", NULL);
  assert_json(doc, "/process/noNewPrivileges", "false");
  assert_json(doc, "/process/rlimits", NULL);
  assert_json(doc, "/process/capabilities/ambient", NULL);
  assert_json(doc, "/hostname", "\"0123456789ab\"");
  assert_json(doc, "/root/path", "\"/var/lib/husk/containers/x/rootfs\"");
  assert_json(doc, "/root/readonly", "false");
  assert_json(doc, "/linux/namespaces",
              "[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/proc/self/fd/7\"},"
              "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}]");
  assert_json(doc, "/linux/resources/memory", NULL);
  assert_json(doc, "/annotations/husk.name", "\"web\"");
  assert_json(doc, "/annotations/husk.image", "\"busybox\"");
  /* docker's default capabilities, effective for root */
  const char *caps = jget(doc, "/process/capabilities/effective");
  assert_non_null(strstr(caps, "CAP_CHOWN"));
  assert_non_null(strstr(caps, "CAP_NET_BIND_SERVICE"));
  assert_null(strstr(caps, "CAP_SYS_ADMIN"));
  json_object_put(doc);
}

static void test_spec_flags_override(void **state)
{
  fixture *f = *state;
  char *cmd[] = {"ls", "-l", NULL};
  char *env[] = {"FOO=flag", "NEW=1", "HOME=/h", NULL};
  f->o.cmd = cmd;
  f->o.env = env;
  f->o.workdir = "/work";
  f->o.user = "4242:4343";
  f->o.hostname = "box";
  f->o.tty = true;
  f->o.console_rows = 40;
  f->o.console_cols = 120;
  f->o.read_only = true;
  f->o.has_entrypoint = true;
  f->o.entrypoint = "/bin/busybox";
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/process/args", "[\"/bin/busybox\",\"ls\",\"-l\"]");
  assert_json(doc, "/process/cwd", "\"/work\"");
  assert_json(doc, "/process/user/uid", "4242");
  assert_json(doc, "/process/user/gid", "4343");
  assert_json(doc, "/process/user/additionalGids", NULL);
  assert_json(doc, "/process/env",
              "[\"PATH=/opt/bin:/bin\",\"HOSTNAME=box\",\"TERM=xterm\",\"FOO=flag\","
              "\"BAR=image\",\"NEW=1\",\"HOME=/h\"]");
  assert_json(doc, "/process/terminal", "true");
  assert_json(doc, "/process/consoleSize", "{\"height\":40,\"width\":120}");
  assert_json(doc, "/hostname", "\"box\"");
  assert_json(doc, "/root/readonly", "true");
  /* no path: a new network namespace */
  assert_json(doc, "/linux/namespaces/1", "{\"type\":\"network\"}");
  json_object_put(doc);
}

static void test_spec_entrypoint_resets_cmd(void **state)
{
  fixture *f = *state;
  f->o.has_entrypoint = true;
  f->o.entrypoint = "/bin/true";
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/process/args", "[\"/bin/true\"]");
  json_object_put(doc);
  /* --entrypoint "" and no CMD: nothing to run */
  f->o.entrypoint = "";
  husk_spec_input in = {.opts = &f->o, .image = &f->img, .id = TEST_ID, .rootfd = f->rootfd};
  struct json_object *out = NULL;
  husk_err err = {0};
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_null(out);
  assert_non_null(strstr(err.msg, "no command specified"));
  /* --entrypoint "" with a CMD: the CMD alone */
  char *cmd[] = {"/bin/echo", "x", NULL};
  f->o.cmd = cmd;
  doc = build_ok(f, NULL);
  assert_json(doc, "/process/args", "[\"/bin/echo\",\"x\"]");
  json_object_put(doc);
}

static void test_spec_defaults_without_image_config(void **state)
{
  fixture *f = *state;
  memset(&f->img, 0, sizeof(f->img));
  char *cmd[] = {"sh", NULL};
  f->o.cmd = cmd;
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/process/args", "[\"sh\"]");
  assert_json(doc, "/process/cwd", "\"/\"");
  assert_json(doc, "/process/user/uid", "0");
  assert_json(doc, "/process/env",
              "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
              "\"HOSTNAME=0123456789ab\",\"HOME=/root\"]");
  json_object_put(doc);
}

static void test_spec_resources(void **state)
{
  fixture *f = *state;
  f->o.has_memory = true;
  f->o.memory = 64 << 20;
  f->o.has_memory_swap = true;
  f->o.memory_swap = 128 << 20;
  f->o.has_cpus = true;
  husk_err err = {0};
  assert_int_equal(husk_cpus_parse("0.5", &f->o.cpu_quota, &f->o.cpu_period, &f->o.nano_cpus, &err),
                   0);
  f->o.cpuset_cpus = "0";
  f->o.has_pids_limit = true;
  f->o.pids_limit = 42;
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/linux/resources/memory", "{\"limit\":67108864,\"swap\":134217728}");
  assert_json(doc, "/linux/resources/cpu", "{\"quota\":50000,\"period\":100000,\"cpus\":\"0\"}");
  assert_json(doc, "/linux/resources/pids", "{\"limit\":42}");
  /* the default device rule stays */
  assert_json(doc, "/linux/resources/devices", "[{\"allow\":false,\"access\":\"rwm\"}]");
  json_object_put(doc);
  /* --pids-limit 0 / -1: unlimited, nothing in the spec */
  f->o.pids_limit = -1;
  doc = build_ok(f, NULL);
  assert_json(doc, "/linux/resources/pids", NULL);
  json_object_put(doc);
}

static void test_spec_host_network(void **state)
{
  fixture *f = *state;
  f->o.network = HUSK_NET_HOST;
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/linux/namespaces",
              "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},"
              "{\"type\":\"cgroup\"}]");
  json_object_put(doc);
}

static void test_spec_mounts(void **state)
{
  fixture *f = *state;
  husk_volspec v[4];
  husk_err err = {0};
  assert_int_equal(husk_volspec_parse("/srv/a:/data/sub:ro", &v[0], &err), 0);
  assert_int_equal(husk_volspec_parse("db:/data", &v[1], &err), 0);
  v[1].source = husk_xstrdup("/var/lib/husk/volumes/db/_data");
  assert_int_equal(husk_tmpfs_parse("/scratch:size=1m,exec", &v[2], &err), 0);
  assert_int_equal(husk_tmpfs_parse("/dev/shm:size=8m", &v[3], &err), 0);
  f->o.volumes = v;
  f->o.n_volumes = 4;
  struct json_object *doc = build_ok(f, NULL);
  struct json_object *mounts = NULL;
  assert_int_equal(json_pointer_get(doc, "/mounts", &mounts), 0);
  size_t n = json_object_array_length(mounts);
  /* the default /dev/shm is replaced by ours; parents come before children */
  int shm = 0;
  long data = -1, sub = -1;
  for (size_t i = 0; i < n; i++) {
    struct json_object *m = json_object_array_get_idx(mounts, i), *d = NULL;
    json_object_object_get_ex(m, "destination", &d);
    const char *dst = json_object_get_string(d);
    const char *txt =
        json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (strcmp(dst, "/dev/shm") == 0) {
      shm++;
      assert_string_equal(txt, "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":"
                               "\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"noexec\","
                               "\"size=8m\"]}");
    } else if (strcmp(dst, "/data") == 0) {
      data = (long)i;
      assert_string_equal(txt, "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":"
                               "\"/var/lib/husk/volumes/db/_data\",\"options\":[\"rbind\","
                               "\"rprivate\"]}");
    } else if (strcmp(dst, "/data/sub") == 0) {
      sub = (long)i;
      assert_string_equal(txt, "{\"destination\":\"/data/sub\",\"type\":\"bind\",\"source\":"
                               "\"/srv/a\",\"options\":[\"rbind\",\"rprivate\",\"ro\"]}");
    } else if (strcmp(dst, "/scratch") == 0) {
      assert_string_equal(txt, "{\"destination\":\"/scratch\",\"type\":\"tmpfs\",\"source\":"
                               "\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"noexec\","
                               "\"size=1m\",\"exec\"]}");
    }
  }
  assert_int_equal(shm, 1);
  assert_true(data >= 0 && sub > data);
  json_object_put(doc);

  /* the same destination twice is an error */
  husk_volspec dup[2];
  assert_int_equal(husk_volspec_parse("/a:/same", &dup[0], &err), 0);
  assert_int_equal(husk_tmpfs_parse("/same", &dup[1], &err), 0);
  f->o.volumes = dup;
  f->o.n_volumes = 2;
  husk_spec_input in = {.opts = &f->o, .image = &f->img, .id = TEST_ID, .rootfd = f->rootfd};
  struct json_object *out = NULL;
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_string_equal(err.msg, "duplicate mount point: /same");
  for (int i = 0; i < 2; i++)
    husk_volspec_clear(&dup[i]);
  for (int i = 0; i < 4; i++)
    husk_volspec_clear(&v[i]);
}

static void test_spec_network_files_are_bind_mounted(void **state)
{
  fixture *f = *state;
  husk_volspec v;
  husk_err err = {0};
  /* the user's own /etc/resolv.conf wins over the network's */
  assert_int_equal(husk_volspec_parse("/srv/resolv.conf:/etc/resolv.conf:ro", &v, &err), 0);
  f->o.volumes = &v;
  f->o.n_volumes = 1;
  f->o.network = HUSK_NET_BRIDGE;
  husk_spec_input in = {.opts = &f->o,
                        .image = &f->img,
                        .id = TEST_ID,
                        .rootfs = "/r",
                        .rootfd = f->rootfd,
                        .netns_path = "/proc/self/fd/9",
                        .hosts_file = "/c/hosts",
                        .resolv_file = "/c/resolv.conf",
                        .hostname_file = "/c/hostname"};
  struct json_object *doc = NULL;
  if (husk_pspec_build(&in, &doc, &err) < 0)
    fail_msg("%s", err.msg);
  struct json_object *mounts = NULL;
  assert_int_equal(json_pointer_get(doc, "/mounts", &mounts), 0);
  int hosts = 0, resolv = 0, hostname = 0;
  for (size_t i = 0; i < json_object_array_length(mounts); i++) {
    struct json_object *m = json_object_array_get_idx(mounts, i), *d = NULL, *src = NULL;
    json_object_object_get_ex(m, "destination", &d);
    json_object_object_get_ex(m, "source", &src);
    const char *dst = json_object_get_string(d);
    if (strcmp(dst, "/etc/hosts") == 0) {
      hosts++;
      assert_string_equal(json_object_get_string(src), "/c/hosts");
    } else if (strcmp(dst, "/etc/resolv.conf") == 0) {
      resolv++;
      assert_string_equal(json_object_get_string(src), "/srv/resolv.conf");
    } else if (strcmp(dst, "/etc/hostname") == 0) {
      hostname++;
      assert_string_equal(json_object_get_string(src), "/c/hostname");
    }
  }
  assert_int_equal(hosts, 1);
  assert_int_equal(resolv, 1);
  assert_int_equal(hostname, 1);
  assert_json(doc, "/linux/namespaces/1", "{\"type\":\"network\",\"path\":\"/proc/self/fd/9\"}");
  json_object_put(doc);
  husk_volspec_clear(&v);
}

static void test_spec_bad_inputs(void **state)
{
  fixture *f = *state;
  husk_spec_input in = {.opts = &f->o, .image = &f->img, .id = TEST_ID, .rootfd = f->rootfd};
  struct json_object *out = NULL;
  husk_err err = {0};
  f->o.user = "nobody-here";
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "unable to find user nobody-here"));
  f->o.user = NULL;
  f->o.workdir = "relative";
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "working directory relative must be an absolute path"));
  f->o.workdir = NULL;
  char longname[80];
  memset(longname, 'h', sizeof(longname) - 1);
  longname[79] = '\0';
  f->o.hostname = longname;
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "--hostname"));
  assert_null(out);
}

/* ---- security flags --------------------------------------------------------------------- */

/* The action of the argument-less rule naming syscall (NULL: no such rule). */
static const char *seccomp_action(struct json_object *doc, const char *syscall)
{
  struct json_object *rules = NULL;
  if (json_pointer_get(doc, "/linux/seccomp/syscalls", &rules) < 0)
    return NULL;
  for (size_t i = 0; i < json_object_array_length(rules); i++) {
    struct json_object *r = json_object_array_get_idx(rules, i), *names, *act, *args;
    if (json_object_object_get_ex(r, "args", &args) && json_object_array_length(args) > 0)
      continue;
    assert_true(json_object_object_get_ex(r, "names", &names));
    assert_true(json_object_object_get_ex(r, "action", &act));
    for (size_t j = 0; j < json_object_array_length(names); j++)
      if (strcmp(json_object_get_string(json_object_array_get_idx(names, j)), syscall) == 0)
        return json_object_get_string(act);
  }
  return NULL;
}

static bool seccomp_allows(struct json_object *doc, const char *syscall)
{
  const char *a = seccomp_action(doc, syscall);
  return a && strcmp(a, "SCMP_ACT_ALLOW") == 0;
}

#define DOCKER_CAPS                                                                                \
  "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\","                \
  "\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_NET_RAW\","        \
  "\"CAP_SYS_CHROOT\",\"CAP_MKNOD\",\"CAP_AUDIT_WRITE\",\"CAP_SETFCAP\"]"

static void test_spec_security_defaults(void **state)
{
  fixture *f = *state;
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/process/capabilities/bounding", DOCKER_CAPS);
  assert_json(doc, "/process/capabilities/effective", DOCKER_CAPS);
  assert_json(doc, "/process/capabilities/permitted", DOCKER_CAPS);
  assert_json(doc, "/process/capabilities/inheritable", NULL);
  assert_json(doc, "/process/capabilities/ambient", NULL);
  assert_json(doc, "/process/noNewPrivileges", "false");
  /* docker's default profile: ENOSYS for what it does not know, the dangerous
   * calls refused, the ordinary ones allowed */
  assert_json(doc, "/linux/seccomp/defaultAction", "\"SCMP_ACT_ERRNO\"");
  static const char *const blocked[] = {
      "unshare",     "setns",          "mount",         "umount2",    "pivot_root",
      "keyctl",      "add_key",        "request_key",   "kexec_load", "kexec_file_load",
      "init_module", "finit_module",   "delete_module", "bpf",        "ptrace",
      "reboot",      "swapon",         "clone3",        "open_tree",  "fsopen",
      "move_mount",  "perf_event_open"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(blocked); i++)
    if (seccomp_allows(doc, blocked[i]))
      fail_msg("the default profile allows %s", blocked[i]);
  static const char *const allowed[] = {
      "read",   "write",  "openat",    "execve",    "fork",  "wait4",   "mknod",     "chown",
      "chroot", "capset", "setresuid", "setgroups", "prctl", "seccomp", "exit_group"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(allowed); i++)
    if (!seccomp_allows(doc, allowed[i]))
      fail_msg("the default profile blocks %s", allowed[i]);
  /* clone only without namespace flags (a masked rule, not an unconditional one) */
  assert_null(seccomp_action(doc, "clone"));
  assert_non_null(strstr(jget(doc, "/linux/seccomp"), "\"names\":[\"clone\"]"));
  /* the masked and read-only /proc paths of the default spec stay */
  assert_non_null(strstr(jget(doc, "/linux/maskedPaths"), "\"/proc/kcore\""));
  assert_non_null(strstr(jget(doc, "/linux/maskedPaths"), "\"/proc/keys\""));
  assert_non_null(strstr(jget(doc, "/linux/readonlyPaths"), "\"/proc/sys\""));
  assert_non_null(strstr(jget(doc, "/linux/readonlyPaths"), "\"/proc/sysrq-trigger\""));
  assert_json(doc, "/linux/resources/devices", "[{\"allow\":false,\"access\":\"rwm\"}]");
  json_object_put(doc);
}

static void test_spec_cap_add_drop(void **state)
{
  fixture *f = *state;
  char *add[] = {"sys_admin", "CAP_net_admin", "Sys_Ptrace", NULL};
  char *drop[] = {"chown", "CAP_KILL", "cap_net_raw", NULL};
  f->o.cap_add = add;
  f->o.cap_drop = drop;
  struct json_object *doc = build_ok(f, NULL);
  const char *want = "[\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_SETGID\","
                     "\"CAP_SETUID\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_NET_ADMIN\","
                     "\"CAP_SYS_CHROOT\",\"CAP_SYS_PTRACE\",\"CAP_SYS_ADMIN\",\"CAP_MKNOD\","
                     "\"CAP_AUDIT_WRITE\",\"CAP_SETFCAP\"]";
  assert_json(doc, "/process/capabilities/bounding", want);
  assert_json(doc, "/process/capabilities/effective", want);
  /* docker's capability-conditional rules: SYS_ADMIN allows mounts and
   * namespaces, SYS_PTRACE ptrace; keyctl and modules stay blocked */
  assert_true(seccomp_allows(doc, "unshare"));
  assert_true(seccomp_allows(doc, "setns"));
  assert_true(seccomp_allows(doc, "mount"));
  assert_true(seccomp_allows(doc, "clone"));
  assert_true(seccomp_allows(doc, "ptrace"));
  assert_false(seccomp_allows(doc, "keyctl"));
  assert_false(seccomp_allows(doc, "init_module"));
  assert_false(seccomp_allows(doc, "reboot"));
  /* setns left the SCMP_ACT_ERRNO rule it was in */
  assert_string_equal(seccomp_action(doc, "setns"), "SCMP_ACT_ALLOW");
  json_object_put(doc);

  /* --cap-drop ALL: only the added ones */
  char *add1[] = {"chown", NULL};
  char *drop_all[] = {"all", NULL};
  f->o.cap_add = add1;
  f->o.cap_drop = drop_all;
  doc = build_ok(f, NULL);
  assert_json(doc, "/process/capabilities/effective", "[\"CAP_CHOWN\"]");
  json_object_put(doc);
  f->o.cap_add = NULL;
  doc = build_ok(f, NULL);
  assert_json(doc, "/process/capabilities/bounding", "[]");
  json_object_put(doc);

  /* --cap-add ALL --cap-drop MKNOD: every capability we hold but MKNOD */
  char *add_all[] = {"ALL", NULL};
  char *drop1[] = {"mknod", NULL};
  f->o.cap_add = add_all;
  f->o.cap_drop = drop1;
  doc = build_ok(f, NULL);
  const char *bnd = jget(doc, "/process/capabilities/bounding");
  assert_null(strstr(bnd, "CAP_MKNOD"));
  assert_non_null(strstr(bnd, "CAP_SYS_ADMIN"));
  assert_non_null(strstr(bnd, "CAP_CHOWN"));
  json_object_put(doc);

  /* unknown names are an error that names the flag */
  char *bad[] = {"CAP_FLY", NULL};
  f->o.cap_add = bad;
  f->o.cap_drop = NULL;
  husk_spec_input in = {.opts = &f->o, .image = &f->img, .id = TEST_ID, .rootfd = f->rootfd};
  struct json_object *out = NULL;
  husk_err err = {0};
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_string_equal(err.msg, "--cap-add CAP_FLY: unknown capability");
  assert_null(out);
  uint64_t bit;
  bool all;
  assert_int_equal(husk_cap_flag_parse("--cap-drop", "net_admin", &bit, &all, &err), 0);
  assert_int_equal(bit, UINT64_C(1) << 12);
  assert_false(all);
  assert_int_equal(husk_cap_flag_parse("--cap-drop", "All", &bit, &all, &err), 0);
  assert_true(all);
  assert_true(husk_cap_flag_parse("--cap-drop", "", &bit, &all, &err) < 0);
}

static void test_spec_privileged(void **state)
{
  fixture *f = *state;
  char *drop[] = {"ALL", NULL};
  f->o.privileged = true;
  f->o.cap_drop = drop; /* ignored with --privileged, like docker */
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/linux/seccomp", NULL);
  assert_json(doc, "/linux/maskedPaths", NULL);
  assert_json(doc, "/linux/readonlyPaths", NULL);
  assert_json(doc, "/linux/resources/devices", "[{\"allow\":true,\"access\":\"rwm\"}]");
  /* every capability of our bounding set */
  struct json_object *bnd = NULL;
  assert_int_equal(json_pointer_get(doc, "/process/capabilities/bounding", &bnd), 0);
  size_t held = 0;
  for (int c = 0; c < 64; c++)
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
      held++;
  assert_int_equal(json_object_array_length(bnd), held);
  assert_non_null(strstr(jget(doc, "/process/capabilities/effective"), "CAP_SYS_ADMIN"));
  /* /sys and the cgroup mount writable */
  const char *mounts = jget(doc, "/mounts");
  assert_non_null(strstr(mounts, "\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
                                 "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]"));
  assert_null(strstr(mounts, "\"ro\""));
  json_object_put(doc);
  /* an explicit profile still applies */
  f->o.seccomp = "unconfined";
  doc = build_ok(f, NULL);
  assert_json(doc, "/linux/seccomp", NULL);
  json_object_put(doc);
}

static void test_spec_security_opts(void **state)
{
  fixture *f = *state;
  f->o.no_new_privileges = true;
  f->o.seccomp = "unconfined";
  struct json_object *doc = build_ok(f, NULL);
  assert_json(doc, "/process/noNewPrivileges", "true");
  assert_json(doc, "/linux/seccomp", NULL);
  /* unconfined leaves the capabilities alone */
  assert_json(doc, "/process/capabilities/effective", DOCKER_CAPS);
  json_object_put(doc);

  _cleanup_free_ char *dir = tmpdir_make();
  write_file(dir, "p.json",
             "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
             "\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}");
  _cleanup_free_ char *file = husk_xasprintf("%s/p.json", dir);
  f->o.seccomp = file;
  doc = build_ok(f, NULL);
  /* a profile of the user's own is used as it is */
  assert_json(doc, "/linux/seccomp",
              "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\","
              "\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}");
  json_object_put(doc);

  husk_spec_input in = {.opts = &f->o, .image = &f->img, .id = TEST_ID, .rootfd = f->rootfd};
  struct json_object *out = NULL;
  husk_err err = {0};
  write_file(dir, "bad.json", "{\"defaultAction\": ");
  _cleanup_free_ char *bad = husk_xasprintf("%s/bad.json", dir);
  f->o.seccomp = bad;
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "not a JSON object"));
  _cleanup_free_ char *missing = husk_xasprintf("%s/missing.json", dir);
  f->o.seccomp = missing;
  assert_true(husk_pspec_build(&in, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "--security-opt seccomp="));
  assert_int_equal(err.code, ENOENT);
  assert_null(out);
}

#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_volume_bind_specs),
      cmocka_unit_test(test_volume_named_specs),
      cmocka_unit_test(test_volume_bad_specs),
      cmocka_unit_test(test_tmpfs_specs),
      cmocka_unit_test(test_container_names),
      cmocka_unit_test(test_ids),
      cmocka_unit_test(test_cpus),
      cmocka_unit_test(test_env_merge),
      cmocka_unit_test(test_env_file),
      cmocka_unit_test(test_user_resolve),
      cmocka_unit_test(test_user_passwd_symlink_stays_in_root),
      FX(test_spec_from_image_config),
      FX(test_spec_flags_override),
      FX(test_spec_entrypoint_resets_cmd),
      FX(test_spec_defaults_without_image_config),
      FX(test_spec_resources),
      FX(test_spec_host_network),
      FX(test_spec_mounts),
      FX(test_spec_network_files_are_bind_mounted),
      FX(test_spec_bad_inputs),
      FX(test_spec_security_defaults),
      FX(test_spec_cap_add_drop),
      FX(test_spec_privileged),
      FX(test_spec_security_opts),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
