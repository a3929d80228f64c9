/* State serialization, id validation, status from a pid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

static void test_state_round_trip(void **state)
{
  (void)state;
  husk_kv ann[] = {{"org.example/a", "1"}, {"b", "two \"quoted\""}};
  husk_state st = {.id = "c1",
                   .bundle = "/b",
                   .rootfs = "/b/rootfs",
                   .oci_version = "1.2.0",
                   .pid = 1234,
                   .pid_start_time = 99,
                   .created = "2026-01-01T00:00:00.000000000Z",
                   .owner = "root",
                   .cgroup_path = "/husk/c1",
                   .annotations = ann,
                   .n_annotations = 2};
  char *s = husk_state_to_json(&st, HUSK_STATUS_RUNNING, false);
  json_object *o = json_tokener_parse(s);
  assert_non_null(o);
  assert_string_equal(json_object_get_string(json_object_object_get(o, "status")), "running");
  assert_string_equal(json_object_get_string(json_object_object_get(o, "ociVersion")), "1.2.0");
  assert_int_equal(json_object_get_int(json_object_object_get(o, "pid")), 1234);
  assert_string_equal(json_object_get_string(json_object_object_get(o, "bundle")), "/b");
  json_object_put(o);

  husk_state *back = NULL;
  husk_err err;
  assert_int_equal(husk_state_from_json(s, &back, &err), 0);
  assert_string_equal(back->id, "c1");
  assert_int_equal(back->pid, 1234);
  assert_true(back->pid_start_time == 99);
  assert_string_equal(back->cgroup_path, "/husk/c1");
  assert_int_equal(back->n_annotations, 2);
  assert_string_equal(back->annotations[1].value, "two \"quoted\"");
  husk_state_free(back);
  free(s);

  /* a stopped container reports pid 0 */
  s = husk_state_to_json(&st, HUSK_STATUS_STOPPED, true);
  o = json_tokener_parse(s);
  assert_int_equal(json_object_get_int(json_object_object_get(o, "pid")), 0);
  assert_string_equal(json_object_get_string(json_object_object_get(o, "status")), "stopped");
  json_object_put(o);
  free(s);
}

static void test_state_corrupt(void **state)
{
  (void)state;
  husk_state *st = NULL;
  husk_err err;
  assert_true(husk_state_from_json("{", &st, &err) < 0);
  assert_non_null(strstr(err.msg, "corrupt"));
  assert_true(husk_state_from_json("[]", &st, &err) < 0);
  assert_true(husk_state_from_json("{\"pid\": 3}", &st, &err) < 0);
  assert_non_null(strstr(err.msg, "no id"));
}

static void test_validate_id(void **state)
{
  (void)state;
  husk_err err;
  assert_int_equal(husk_validate_id("abc-DEF_1.2+3", &err), 0);
  assert_true(husk_validate_id("", &err) < 0);
  assert_true(husk_validate_id(".", &err) < 0);
  assert_true(husk_validate_id("..", &err) < 0);
  assert_true(husk_validate_id("a/b", &err) < 0);
  assert_true(husk_validate_id("../etc", &err) < 0);
  assert_true(husk_validate_id("a b", &err) < 0);
  assert_true(husk_validate_id("a\nb", &err) < 0);
  char longid[1100];
  memset(longid, 'a', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0';
  assert_true(husk_validate_id(longid, &err) < 0);
}

static void test_save_load_and_status(void **state)
{
  (void)state;
  char root[] = "/tmp/husk-test-state-XXXXXX";
  assert_non_null(mkdtemp(root));
  husk_err err;
  int dfd = -1;
  assert_int_equal(husk_state_dir_open(root, "c2", true, &dfd, &err), 0);
  /* a second create of the same id is refused */
  int dfd2 = -1;
  assert_int_equal(husk_state_dir_open(root, "c2", true, &dfd2, &err), -EEXIST);
  assert_non_null(strstr(err.msg, "already exists"));

  husk_state st = {
      .id = "c2", .bundle = "/b", .pid = getpid(), .pid_start_time = husk_pid_start_time(getpid())};
  assert_true(st.pid_start_time > 0);
  assert_int_equal(husk_state_save(dfd, &st, &err), 0);
  husk_state *back = NULL;
  assert_int_equal(husk_state_load(root, "c2", &back, &err), 0);
  assert_int_equal(husk_state_status(root, back), HUSK_STATUS_RUNNING);
  /* a different start time means the pid was reused: stopped */
  back->pid_start_time += 1;
  assert_int_equal(husk_state_status(root, back), HUSK_STATUS_STOPPED);
  back->pid_start_time -= 1;
  /* the exec fifo marks a created container */
  assert_int_equal(mkfifoat(dfd, "exec.fifo", 0600), 0);
  assert_int_equal(husk_state_status(root, back), HUSK_STATUS_CREATED);
  husk_state_free(back);

  assert_true(husk_state_load(root, "nope", &back, &err) < 0);
  assert_non_null(strstr(err.msg, "does not exist"));

  unlinkat(dfd, "exec.fifo", 0);
  unlinkat(dfd, "state.json", 0);
  close(dfd);
  char p[256];
  snprintf(p, sizeof(p), "%s/c2", root);
  assert_int_equal(rmdir(p), 0);
  assert_int_equal(rmdir(root), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_round_trip),
      cmocka_unit_test(test_state_corrupt),
      cmocka_unit_test(test_validate_id),
      cmocka_unit_test(test_save_load_and_status),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
