/* Container records and named volumes on disk (a temporary data root):
 * the name index (in use, stale entries, generated names), lookups by name,
 * id and prefix, listing order, record fields, the lock noticing removal,
 * the live status from a record, volumes and their users, and rm -rf that
 * refuses to descend into a mount point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "porcelain.h"
#include "util.h"

typedef struct fx {
  char *base;
  char *data, *state;
  husk_home h;
} fx;

static int setup(void **state)
{
  fx *f = husk_xcalloc(1, sizeof(*f));
  char tmpl[] = "/tmp/husk-unit-store-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  f->base = husk_xstrdup(tmpl);
  f->data = husk_xasprintf("%s/data", f->base);
  f->state = husk_xasprintf("%s/state", f->base);
  f->h.data_root = f->data;
  f->h.state_root = f->state;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  /* a failed test_rm_rf_refuses_mount_points must not leave its tmpfs */
  _cleanup_free_ char *mnt = husk_xasprintf("%s/tree/a/mnt", f->base);
  umount2(mnt, MNT_DETACH);
  _cleanup_free_ char *ov = husk_xasprintf("%s/ov/merged", f->base);
  umount2(ov, MNT_DETACH);
  _cleanup_close_ int tmp = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
  husk_err err = {0};
  if (husk_rm_rf_at(tmp, f->base + strlen("/tmp/"), &err) < 0)
    fail_msg("cleanup: %s", err.msg);
  free(f->base);
  free(f->data);
  free(f->state);
  free(f);
  return 0;
}

/* A container directory with a record. */
static void make_container(fx *f, const char *id, const char *name, int64_t created_ns,
                           const char *extra_json)
{
  _cleanup_free_ char *dir = husk_xasprintf("%s/containers/%s", f->data, id);
  husk_err err = {0};
  assert_int_equal(husk_mkdir_p(AT_FDCWD, dir, 0700, &err), 0);
  _cleanup_free_ char *rec = husk_xasprintf("%s/container.json", dir);
  FILE *fp = fopen(rec, "w");
  assert_non_null(fp);
  fprintf(fp,
          "{\"Id\":\"%s\",\"Name\":\"%s\",\"CreatedNs\":%lld,\"State\":{\"Status\":\"exited\","
          "\"ExitCode\":3}%s%s}",
          id, name ? name : "", (long long)created_ns, extra_json ? "," : "",
          extra_json ? extra_json : "");
  fclose(fp);
}

static void id_of(char c, char out[HUSK_ID_LEN + 1])
{
  memset(out, c, HUSK_ID_LEN);
  out[HUSK_ID_LEN] = '\0';
}

static void test_name_in_use_and_stale_entries(void **state)
{
  fx *f = *state;
  char a[HUSK_ID_LEN + 1], b[HUSK_ID_LEN + 1];
  id_of('a', a);
  id_of('b', b);
  make_container(f, a, "web", 1, NULL);
  husk_err err = {0};
  char *name = NULL;
  assert_int_equal(husk_name_reserve(&f->h, "web", a, &name, &err), 0);
  assert_string_equal(name, "web");
  free(name);
  name = NULL;
  assert_int_equal(husk_name_reserve(&f->h, "web", b, &name, &err), -EEXIST);
  assert_null(name);
  assert_string_equal(err.msg,
                      "the container name \"web\" is already in use by container aaaaaaaaaaaa");
  /* releasing with another id does nothing */
  husk_name_release(&f->h, "web", b);
  assert_int_equal(husk_name_reserve(&f->h, "web", b, &name, &err), -EEXIST);
  /* the container is gone without releasing its name: the entry is stale */
  _cleanup_free_ char *cdir = husk_xasprintf("%s/containers", f->data);
  _cleanup_close_ int cfd = open(cdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal(husk_rm_rf_at(cfd, a, &err), 0);
  assert_int_equal(husk_name_reserve(&f->h, "web", b, &name, &err), 0);
  free(name);
  char id[HUSK_ID_LEN + 1];
  make_container(f, b, "web", 2, NULL);
  assert_int_equal(husk_pctr_resolve(&f->h, "web", id, &err), 0);
  assert_string_equal(id, b);
  husk_name_release(&f->h, "web", b);
  assert_int_equal(husk_pctr_resolve(&f->h, "web", id, &err), -ENOENT);
  assert_string_equal(err.msg, "no such container: web");
  /* invalid names never reach the disk */
  assert_int_equal(husk_name_reserve(&f->h, "a/b", b, &name, &err), -EINVAL);
}

static void test_generated_names(void **state)
{
  fx *f = *state;
  regex_t re;
  assert_int_equal(regcomp(&re, "^[a-z]+_[a-z]+[0-9]*$", REG_EXTENDED | REG_NOSUB), 0);
  char *names[40];
  for (int i = 0; i < 40; i++) {
    char id[HUSK_ID_LEN + 1];
    husk_id_generate(id);
    make_container(f, id, NULL, i, NULL);
    husk_err err = {0};
    names[i] = NULL;
    if (husk_name_reserve(&f->h, NULL, id, &names[i], &err) < 0)
      fail_msg("%s", err.msg);
    if (regexec(&re, names[i], 0, NULL, 0) != 0)
      fail_msg("generated name %s", names[i]);
    for (int j = 0; j < i; j++)
      assert_string_not_equal(names[i], names[j]);
  }
  for (int i = 0; i < 40; i++)
    free(names[i]);
  regfree(&re);
}

static void test_resolve_by_id_name_and_prefix(void **state)
{
  fx *f = *state;
  char a[HUSK_ID_LEN + 1], b[HUSK_ID_LEN + 1];
  husk_err err = {0};
  snprintf(a, sizeof(a), "%s", "12345aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  snprintf(b, sizeof(b), "%s", "12346bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  make_container(f, a, "alpha", 1, NULL);
  make_container(f, b, "beta", 2, NULL);
  char *n = NULL;
  assert_int_equal(husk_name_reserve(&f->h, "alpha", a, &n, &err), 0);
  free(n);
  char id[HUSK_ID_LEN + 1];
  assert_int_equal(husk_pctr_resolve(&f->h, a, id, &err), 0);
  assert_string_equal(id, a);
  assert_int_equal(husk_pctr_resolve(&f->h, "alpha", id, &err), 0);
  assert_string_equal(id, a);
  assert_int_equal(husk_pctr_resolve(&f->h, "12345", id, &err), 0);
  assert_string_equal(id, a);
  assert_int_equal(husk_pctr_resolve(&f->h, "12346b", id, &err), 0);
  assert_string_equal(id, b);
  assert_int_equal(husk_pctr_resolve(&f->h, "1234", id, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "ambiguous"));
  assert_int_equal(husk_pctr_resolve(&f->h, "beta", id, &err), -ENOENT); /* never named */
  assert_int_equal(husk_pctr_resolve(&f->h, "../x", id, &err), -ENOENT);
  assert_int_equal(husk_pctr_resolve(&f->h, "", id, &err), -EINVAL);

  _cleanup_pctr_ husk_pctr *c = NULL;
  assert_int_equal(husk_pctr_get(&f->h, "alpha", false, &c, &err), 0);
  assert_string_equal(husk_pctr_str(c, "Name"), "alpha");
  assert_int_equal(husk_pctr_int(c, "State.ExitCode", -1), 3);
  assert_int_equal(husk_pctr_int(c, "State.Missing", -7), -7);
  assert_null(husk_pctr_str(c, "Nope.Deeper"));
}

static void test_list_is_newest_first(void **state)
{
  fx *f = *state;
  char ids[3][HUSK_ID_LEN + 1];
  id_of('1', ids[0]);
  id_of('2', ids[1]);
  id_of('3', ids[2]);
  make_container(f, ids[0], "one", 300, NULL);
  make_container(f, ids[1], "two", 100, NULL);
  make_container(f, ids[2], "three", 200, NULL);
  /* not a container: ignored */
  _cleanup_free_ char *junk = husk_xasprintf("%s/containers/not-an-id", f->data);
  assert_int_equal(mkdir(junk, 0700), 0);
  _cleanup_strv_ char **list = NULL;
  husk_err err = {0};
  assert_int_equal(husk_pctr_list(&f->h, &list, &err), 0);
  assert_int_equal(husk_strv_len(list), 3);
  assert_string_equal(list[0], ids[0]);
  assert_string_equal(list[1], ids[2]);
  assert_string_equal(list[2], ids[1]);
}

static void test_list_of_an_empty_data_root(void **state)
{
  fx *f = *state;
  _cleanup_strv_ char **list = NULL;
  husk_err err = {0};
  assert_int_equal(husk_pctr_list(&f->h, &list, &err), 0);
  assert_null(list[0]);
  char id[HUSK_ID_LEN + 1];
  assert_int_equal(husk_pctr_resolve(&f->h, "anything", id, &err), -ENOENT);
}

static void test_record_save_and_reload(void **state)
{
  fx *f = *state;
  char a[HUSK_ID_LEN + 1];
  id_of('c', a);
  make_container(f, a, "rec", 1, NULL);
  husk_err err = {0};
  {
    _cleanup_pctr_ husk_pctr *c = NULL;
    assert_int_equal(husk_pctr_open(&f->h, a, true, &c, &err), 0);
    husk_pctr_set(c, "State.Status", json_object_new_string("running"));
    husk_pctr_set(c, "New.Nested.Field", json_object_new_int(5));
    assert_int_equal(husk_pctr_save(c, &err), 0);
  }
  _cleanup_pctr_ husk_pctr *c = NULL;
  assert_int_equal(husk_pctr_open(&f->h, a, false, &c, &err), 0);
  assert_string_equal(husk_pctr_str(c, "State.Status"), "running");
  assert_int_equal(husk_pctr_int(c, "New.Nested.Field", 0), 5);
  assert_int_equal(husk_pctr_record_exit(c, 42, &err), 0);
  _cleanup_pctr_ husk_pctr *again = NULL;
  assert_int_equal(husk_pctr_open(&f->h, a, false, &again, &err), 0);
  assert_string_equal(husk_pctr_str(again, "State.Status"), "exited");
  assert_int_equal(husk_pctr_int(again, "State.ExitCode", 0), 42);
  assert_non_null(husk_pctr_str(again, "State.FinishedAt"));
}

static void test_lock_notices_removal(void **state)
{
  fx *f = *state;
  char a[HUSK_ID_LEN + 1];
  id_of('d', a);
  make_container(f, a, "gone", 1, NULL);
  husk_err err = {0};
  _cleanup_pctr_ husk_pctr *c = NULL;
  assert_int_equal(husk_pctr_open(&f->h, a, false, &c, &err), 0);
  _cleanup_free_ char *rec = husk_xasprintf("%s/containers/%s/container.json", f->data, a);
  assert_int_equal(unlink(rec), 0);
  assert_int_equal(husk_pctr_lock(c, &err), -ENOENT);
  assert_int_equal(c->lockfd, -1);
  _cleanup_pctr_ husk_pctr *none = NULL;
  char b[HUSK_ID_LEN + 1];
  id_of('e', b);
  assert_int_equal(husk_pctr_open(&f->h, b, false, &none, &err), -ENOENT);
  assert_int_equal(husk_pctr_open(&f->h, "short", false, &none, &err), -EINVAL);
}

static void test_live_status_from_the_record(void **state)
{
  fx *f = *state;
  char a[HUSK_ID_LEN + 1], b[HUSK_ID_LEN + 1];
  id_of('f', a);
  id_of('0', b);
  make_container(f, a, "ex", 1, NULL);
  husk_err err = {0};
  _cleanup_pctr_ husk_pctr *c = NULL;
  assert_int_equal(husk_pctr_open(&f->h, a, false, &c, &err), 0);
  husk_plive l;
  husk_pctr_live(&f->h, c, &l);
  assert_int_equal(l.status, HUSK_P_EXITED);
  assert_int_equal(l.exit_code, 3);
  assert_true(l.exit_known);
  /* "running" in the record, but no runtime state and a runner that is gone */
  make_container(f, b, "lost", 1, NULL);
  _cleanup_pctr_ husk_pctr *d = NULL;
  assert_int_equal(husk_pctr_open(&f->h, b, false, &d, &err), 0);
  husk_pctr_set(d, "State.Status", json_object_new_string("running"));
  husk_pctr_set(d, "State.MonitorPid", json_object_new_int(999999999));
  husk_pctr_live(&f->h, d, &l);
  assert_int_equal(l.status, HUSK_P_EXITED);
  assert_false(l.exit_known);
  assert_string_equal(husk_pstatus_name(l.status), "exited");
}

static void test_volumes_and_their_users(void **state)
{
  fx *f = *state;
  husk_err err = {0};
  bool created = false;
  assert_int_equal(husk_volume_create(&f->h, "data", &created, &err), 0);
  assert_true(created);
  assert_int_equal(husk_volume_create(&f->h, "data", &created, &err), 0);
  assert_false(created);
  assert_int_equal(husk_volume_create(&f->h, "aaa", &created, &err), 0);
  assert_int_equal(husk_volume_create(&f->h, "bad name", &created, &err), -EINVAL);
  _cleanup_strv_ char **names = NULL;
  assert_int_equal(husk_volume_list(&f->h, &names, &err), 0);
  assert_int_equal(husk_strv_len(names), 2);
  assert_string_equal(names[0], "aaa");
  assert_string_equal(names[1], "data");
  _cleanup_free_ char *path = NULL;
  assert_int_equal(husk_volume_path(&f->h, "data", &path, &err), 0);
  _cleanup_free_ char *want = husk_xasprintf("%s/volumes/data/_data", f->data);
  assert_string_equal(path, want);
  struct json_object *doc = NULL;
  assert_int_equal(husk_volume_inspect(&f->h, "data", &doc, &err), 0);
  struct json_object *v = NULL;
  assert_true(json_object_object_get_ex(doc, "CreatedAt", &v));
  json_object_put(doc);

  char a[HUSK_ID_LEN + 1];
  id_of('9', a);
  make_container(f, a, "user", 1,
                 "\"Mounts\":[{\"Type\":\"volume\",\"Name\":\"data\",\"Destination\":\"/d\"}]");
  _cleanup_strv_ char **users = NULL;
  assert_int_equal(husk_volume_users(&f->h, "data", &users, &err), 0);
  assert_int_equal(husk_strv_len(users), 1);
  assert_string_equal(users[0], a);
  assert_int_equal(husk_volume_remove(&f->h, "data", &err), -EBUSY);
  assert_non_null(strstr(err.msg, "volume data is in use by container 999999999999"));
  assert_int_equal(husk_volume_remove(&f->h, "aaa", &err), 0);
  assert_int_equal(husk_volume_remove(&f->h, "aaa", &err), -ENOENT);
  assert_string_equal(err.msg, "no such volume: aaa");
  assert_int_equal(husk_volume_path(&f->h, "aaa", &path, &err), -ENOENT);
}

static void test_rm_rf_refuses_mount_points(void **state)
{
  fx *f = *state;
  _cleanup_free_ char *top = husk_xasprintf("%s/tree", f->base);
  _cleanup_free_ char *mnt = husk_xasprintf("%s/tree/a/mnt", f->base);
  husk_err err = {0};
  assert_int_equal(husk_mkdir_p(AT_FDCWD, mnt, 0755, &err), 0);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0) {
    /* not root: only the plain removal can be checked */
    _cleanup_close_ int bfd = open(f->base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_int_equal(husk_rm_rf_at(bfd, "tree", &err), 0);
    skip();
  }
  _cleanup_free_ char *keep = husk_xasprintf("%s/precious", mnt);
  FILE *fp = fopen(keep, "w");
  assert_non_null(fp);
  fclose(fp);
  _cleanup_close_ int bfd = open(f->base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int r = husk_rm_rf_at(bfd, "tree", &err);
  assert_int_equal(r, -EBUSY);
  assert_non_null(strstr(err.msg, "a file system is mounted there"));
  assert_int_equal(access(keep, F_OK), 0); /* nothing below the mount was touched */
  /* the overlay helper unmounts it (and a second call is fine) */
  assert_int_equal(husk_overlay_umount(mnt, &err), 0);
  assert_int_equal(husk_overlay_umount(mnt, &err), 0);
  assert_int_equal(husk_rm_rf_at(bfd, "tree", &err), 0);
  assert_int_equal(access(top, F_OK), -1);
  /* a file, and something that does not exist */
  fp = fopen(top, "w");
  assert_non_null(fp);
  fclose(fp);
  assert_int_equal(husk_rm_rf_at(bfd, "tree", &err), 0);
  assert_int_equal(husk_rm_rf_at(bfd, "tree", &err), 0);
}

static void put(const char *dir, const char *name, const char *content)
{
  _cleanup_free_ char *p = husk_xasprintf("%s/%s", dir, name);
  FILE *fp = fopen(p, "w");
  assert_non_null(fp);
  fputs(content, fp);
  fclose(fp);
}

static char *slurp(const char *dir, const char *name)
{
  _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char *buf = NULL;
  husk_err err = {0};
  if (husk_read_file_at(fd, name, &buf, NULL, &err) < 0)
    return NULL;
  return buf;
}

/* Many long layer paths (more than a page of options: the new mount API
 * path) and paths with ':' and ',' (which mount(2) options cannot carry). */
static void overlay_case(fx *f, size_t n_layers, const char *component, bool vol)
{
  char **layers = husk_xcalloc(n_layers + 1, sizeof(char *));
  husk_err err = {0};
  for (size_t i = 0; i < n_layers; i++) {
    layers[i] = husk_xasprintf("%s/layers/%s-%03zu-%s", f->base, component, i,
                               "pad-pad-pad-pad-pad-pad-pad-pad-pad-pad-pad-pad-pad-pad-pad");
    assert_int_equal(husk_mkdir_p(AT_FDCWD, layers[i], 0755, &err), 0);
    char name[32];
    snprintf(name, sizeof(name), "only-%zu", i);
    put(layers[i], name, "x");
    char v[32];
    snprintf(v, sizeof(v), "layer %zu", i);
    put(layers[i], "shadowed", v);
  }
  _cleanup_free_ char *upper = husk_xasprintf("%s/ov/upper", f->base);
  _cleanup_free_ char *work = husk_xasprintf("%s/ov/work", f->base);
  _cleanup_free_ char *merged = husk_xasprintf("%s/ov/merged", f->base);
  assert_int_equal(husk_mkdir_p(AT_FDCWD, upper, 0755, &err), 0);
  assert_int_equal(husk_mkdir_p(AT_FDCWD, work, 0755, &err), 0);
  assert_int_equal(husk_mkdir_p(AT_FDCWD, merged, 0755, &err), 0);
  husk_overlay ov = {
      .layers = layers, .n_layers = n_layers, .upper = upper, .work = work, .volatile_upper = vol};
  int r = husk_overlay_mount(&ov, merged, &err);
  if (r < 0 && (err.code == EPERM || err.code == ENODEV)) {
    for (size_t i = 0; i < n_layers; i++)
      free(layers[i]);
    free(layers);
    skip();
  }
  if (r < 0)
    fail_msg("%s", err.msg);
  /* the last layer is the top one; every layer is visible */
  _cleanup_free_ char *top = slurp(merged, "shadowed");
  char want[32];
  snprintf(want, sizeof(want), "layer %zu", n_layers - 1);
  assert_string_equal(top, want);
  for (size_t i = 0; i < n_layers; i++) {
    _cleanup_free_ char *p = husk_xasprintf("%s/only-%zu", merged, i);
    assert_int_equal(access(p, F_OK), 0);
  }
  /* writes go to the upper dir */
  put(merged, "new", "y");
  _cleanup_free_ char *inup = slurp(upper, "new");
  assert_string_equal(inup, "y");
  assert_int_equal(husk_overlay_umount(merged, &err), 0);
  assert_int_equal(access(merged, F_OK), 0);
  _cleanup_free_ char *gone = husk_xasprintf("%s/new", merged);
  assert_int_equal(access(gone, F_OK), -1); /* unmounted */
  for (size_t i = 0; i < n_layers; i++)
    free(layers[i]);
  free(layers);
}

static void test_overlay_many_long_layers(void **state)
{
  overlay_case(*state, 60, "l", false);
}

static void test_overlay_layer_paths_with_separators(void **state)
{
  overlay_case(*state, 3, "a:b,c", true);
}

static void test_overlay_needs_layers(void **state)
{
  fx *f = *state;
  husk_err err = {0};
  husk_overlay ov = {0};
  assert_int_equal(husk_overlay_mount(&ov, f->base, &err), -EINVAL);
  assert_string_equal(err.msg, "image has no layers");
  /* not mounted: unmounting is fine */
  assert_int_equal(husk_overlay_umount(f->base, &err), 0);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(test_name_in_use_and_stale_entries), T(test_generated_names),
      T(test_resolve_by_id_name_and_prefix), T(test_list_is_newest_first),
      T(test_list_of_an_empty_data_root),    T(test_record_save_and_reload),
      T(test_lock_notices_removal),          T(test_live_status_from_the_record),
      T(test_volumes_and_their_users),       T(test_rm_rf_refuses_mount_points),
      T(test_overlay_many_long_layers),      T(test_overlay_layer_paths_with_separators),
      T(test_overlay_needs_layers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
