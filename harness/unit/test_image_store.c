/* cmocka: the image store (image_store.c): the embedded busybox image,
 * lookups by name/id/prefix, listing, holds, rmi and garbage collection. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image.h"
#include "util.h"

struct fx {
  char root[64];
  husk_store *s;
};

static bool have_busybox(void)
{
  return access("/bin/busybox", X_OK) == 0;
}

static int setup(void **state)
{
  struct fx *f = calloc(1, sizeof(*f));
  snprintf(f->root, sizeof(f->root), "/tmp/husk-store-XXXXXX");
  if (mkdtemp(f->root) == NULL)
    return -1;
  husk_err err = {0};
  if (husk_store_open(f->root, &f->s, &err) < 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fx *f = *state;
  husk_store_close(f->s);
  husk_err err;
  husk_remove_tree(AT_FDCWD, f->root, &err);
  free(f);
  return 0;
}

static size_t count_entries(const char *root, const char *sub)
{
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "ls -A %s/%s | wc -l", root, sub);
  FILE *p = popen(cmd, "r");
  size_t n = 0;
  if (p) {
    if (fscanf(p, "%zu", &n) != 1)
      n = 0;
    pclose(p);
  }
  return n;
}

static void test_data_root_flag_beats_env_beats_default(void **state)
{
  (void)state;
  unsetenv("HUSK_DATA_ROOT");
  assert_string_equal(husk_data_root(NULL), "/var/lib/husk");
  setenv("HUSK_DATA_ROOT", "/tmp/env-root", 1);
  assert_string_equal(husk_data_root(NULL), "/tmp/env-root");
  assert_string_equal(husk_data_root("/tmp/flag-root"), "/tmp/flag-root");
  unsetenv("HUSK_DATA_ROOT");
}

static void test_busybox_is_created_offline(void **state)
{
  if (!have_busybox())
    skip();
  struct fx *f = *state;
  husk_image *img = NULL;
  husk_err err = {0};
  assert_int_equal(husk_image_get(f->s, "busybox", &img, &err), 0);
  assert_non_null(img->id);
  assert_true(strncmp(img->id, "sha256:", 7) == 0);
  assert_string_equal(img->reference, "docker.io/library/busybox:latest");
  assert_int_equal(img->n_layers, 1);
  char p[512];
  struct stat st;
  snprintf(p, sizeof(p), "%s/bin/busybox", img->layers[0]);
  assert_int_equal(stat(p, &st), 0);
  assert_true(st.st_mode & S_IXUSR);
  snprintf(p, sizeof(p), "%s/bin/sh", img->layers[0]);
  char target[64] = "";
  assert_true(readlink(p, target, sizeof(target) - 1) > 0);
  assert_string_equal(target, "busybox");
  snprintf(p, sizeof(p), "%s/etc/passwd", img->layers[0]);
  assert_int_equal(access(p, R_OK), 0);
  snprintf(p, sizeof(p), "%s/tmp", img->layers[0]);
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 07777, 01777);
  assert_non_null(img->config.cmd);
  assert_string_equal(img->config.cmd[0], "sh");
  assert_null(img->config.cmd[1]);
  assert_non_null(img->config.env);
  assert_true(strncmp(img->config.env[0], "PATH=", 5) == 0);
  assert_true(img->size > 0);

  /* the other spellings find the same image and create nothing new */
  const char *names[] = {"busybox:latest", "docker.io/library/busybox",
                         "docker.io/library/busybox:latest", "index.docker.io/library/busybox"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(names); i++) {
    husk_image *again = NULL;
    assert_int_equal(husk_image_get(f->s, names[i], &again, &err), 0);
    assert_string_equal(again->id, img->id);
    husk_image_free(again);
  }
  assert_int_equal(count_entries(f->root, "images"), 1);
  husk_image_free(img);
}

static void test_busybox_image_is_deterministic(void **state)
{
  if (!have_busybox())
    skip();
  struct fx *f = *state;
  char other[64];
  snprintf(other, sizeof(other), "/tmp/husk-store2-XXXXXX");
  assert_non_null(mkdtemp(other));
  husk_store *s2 = NULL;
  husk_err err = {0};
  assert_int_equal(husk_store_open(other, &s2, &err), 0);
  husk_image *a = NULL, *b = NULL;
  assert_int_equal(husk_image_get(f->s, "busybox", &a, &err), 0);
  assert_int_equal(husk_image_get(s2, "busybox", &b, &err), 0);
  assert_string_equal(a->id, b->id);
  const char *la = strrchr(a->layers[0], '/'), *lb = strrchr(b->layers[0], '/');
  assert_string_equal(la, lb);
  husk_image_free(a);
  husk_image_free(b);
  husk_store_close(s2);
  husk_remove_tree(AT_FDCWD, other, &err);
}

static void test_lookup_by_id_prefix_and_unknown(void **state)
{
  if (!have_busybox())
    skip();
  struct fx *f = *state;
  husk_image *img = NULL;
  husk_err err = {0};
  assert_int_equal(husk_image_get(f->s, "busybox", &img, &err), 0);
  char shortid[16];
  snprintf(shortid, sizeof(shortid), "%.12s", img->id + 7);
  char *id = NULL;
  assert_int_equal(husk_image_resolve(f->s, shortid, &id, &err), 0);
  assert_string_equal(id, img->id);
  free(id);
  assert_int_equal(husk_image_resolve(f->s, img->id, &id, &err), 0);
  assert_string_equal(id, img->id);
  free(id);
  assert_int_equal(husk_image_resolve(f->s, img->id + 7, &id, &err), 0);
  free(id);

  husk_image *none = NULL;
  assert_int_equal(husk_image_get(f->s, "alpine", &none, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "no such image: alpine"));
  assert_int_equal(husk_image_get(f->s, "Bad Name", &none, &err), -EINVAL);
  husk_image_free(img);
}

static void test_missing_busybox_binary_is_a_clear_error(void **state)
{
  struct fx *f = *state;
  setenv("HUSK_BUSYBOX", "/nonexistent/busybox", 1);
  husk_image *img = NULL;
  husk_err err = {0};
  int r = husk_image_get(f->s, "busybox", &img, &err);
  unsetenv("HUSK_BUSYBOX");
  assert_true(r < 0);
  assert_non_null(strstr(err.msg, "busybox-static"));
  assert_int_equal(count_entries(f->root, "images"), 0);
  assert_int_equal(count_entries(f->root, "layers"), 0);
}

static void test_list_and_rmi_collects_garbage(void **state)
{
  if (!have_busybox())
    skip();
  struct fx *f = *state;
  husk_image *img = NULL;
  husk_err err = {0};
  assert_int_equal(husk_image_get(f->s, "busybox", &img, &err), 0);
  husk_image_info *v = NULL;
  size_t n = 0;
  assert_int_equal(husk_store_list(f->s, &v, &n, &err), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, img->id);
  assert_string_equal(v[0].repo_tags[0], "docker.io/library/busybox:latest");
  husk_image_info_free(v, n);

  char **untagged = NULL, **deleted = NULL;
  assert_int_equal(husk_image_remove(f->s, "busybox", false, &untagged, &deleted, &err), 0);
  assert_string_equal(untagged[0], "docker.io/library/busybox:latest");
  assert_string_equal(deleted[0], img->id);
  husk_strv_free(untagged);
  husk_strv_free(deleted);
  assert_int_equal(count_entries(f->root, "images"), 0);
  assert_int_equal(count_entries(f->root, "layers"), 0);
  assert_int_equal(count_entries(f->root, "blobs/sha256"), 0);
  assert_int_equal(husk_image_remove(f->s, "busybox", false, NULL, NULL, &err), -ENOENT);
  husk_image_free(img);
}

static void test_held_image_survives_forced_rmi(void **state)
{
  if (!have_busybox())
    skip();
  struct fx *f = *state;
  husk_image *img = NULL;
  husk_err err = {0};
  assert_int_equal(husk_image_get(f->s, "busybox", &img, &err), 0);
  assert_int_equal(husk_image_hold(f->s, img->id, "ctr1", &err), 0);
  assert_int_equal(husk_image_remove(f->s, "busybox", false, NULL, NULL, &err), -EBUSY);
  assert_non_null(strstr(err.msg, "ctr1"));
  assert_int_equal(husk_image_remove(f->s, img->id, false, NULL, NULL, &err), -EBUSY);
  /* forced: untagged, but the container keeps its layers */
  assert_int_equal(husk_image_remove(f->s, "busybox", true, NULL, NULL, &err), 0);
  char *id = NULL;
  assert_int_equal(husk_image_resolve(f->s, "busybox", &id, &err), -ENOENT);
  assert_int_equal(husk_image_resolve(f->s, img->id, &id, &err), 0);
  free(id);
  assert_int_equal(access(img->layers[0], F_OK), 0);
  assert_int_equal(husk_image_release(f->s, "ctr1", &err), 0);
  char **deleted = NULL;
  assert_int_equal(husk_image_remove(f->s, img->id, false, NULL, &deleted, &err), 0);
  assert_string_equal(deleted[0], img->id);
  husk_strv_free(deleted);
  assert_int_equal(access(img->layers[0], F_OK), -1);
  assert_int_equal(husk_image_hold(f->s, img->id, "../evil", &err), -EINVAL);
  husk_image_free(img);
}

static void test_inspect_json_names_layers(void **state)
{
  if (!have_busybox())
    skip();
  struct fx *f = *state;
  char *js = NULL;
  husk_err err = {0};
  assert_int_equal(husk_image_inspect_json(f->s, "busybox", &js, &err), 0);
  assert_non_null(strstr(js, "\"RepoTags\""));
  assert_non_null(strstr(js, "\"busybox:latest\""));
  assert_non_null(strstr(js, "\"Cmd\""));
  assert_non_null(strstr(js, "\"RootFS\""));
  free(js);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_root_flag_beats_env_beats_default),
      cmocka_unit_test_setup_teardown(test_busybox_is_created_offline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_busybox_image_is_deterministic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookup_by_id_prefix_and_unknown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_busybox_binary_is_a_clear_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_list_and_rmi_collects_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_held_image_survives_forced_rmi, setup, teardown),
      cmocka_unit_test_setup_teardown(test_inspect_json_names_layers, setup, teardown),
  };
  return cmocka_run_group_tests_name("image_store", tests, NULL, NULL);
}
