/* cmocka: image reference parsing (name:tag@digest), docker.io
 * normalization and the registry host rules (which first component is a
 * registry, which registries speak plain HTTP). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reference.h"
#include "util.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect_norm(const char *in, const char *domain, const char *path, const char *tag,
                        const char *digest, const char *full)
{
  husk_ref r;
  husk_err err = {0};
  if (husk_ref_parse(in, &r, &err) != 0)
    fail_msg("parse %s: %s", in, err.msg);
  assert_string_equal(r.domain, domain);
  assert_string_equal(r.path, path);
  if (tag)
    assert_string_equal(r.tag, tag);
  else
    assert_null(r.tag);
  if (digest)
    assert_string_equal(r.digest, digest);
  else
    assert_null(r.digest);
  char *s = husk_ref_string(&r);
  assert_string_equal(s, full);
  free(s);
  husk_ref_free(&r);
}

static void expect_invalid(const char *in, const char *needle)
{
  husk_ref r;
  husk_err err = {0};
  int rc = husk_ref_parse(in, &r, &err);
  if (rc == 0)
    fail_msg("%s parsed but must be refused", in);
  assert_int_equal(rc, -EINVAL);
  if (needle && strstr(err.msg, needle) == NULL)
    fail_msg("error for %s is \"%s\", expected it to mention \"%s\"", in, err.msg, needle);
}

static void test_short_names_normalize_to_docker_hub(void **state)
{
  (void)state;
  expect_norm("busybox", "docker.io", "library/busybox", "latest", NULL,
              "docker.io/library/busybox:latest");
  expect_norm("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL,
              "docker.io/library/busybox:1.36");
  expect_norm("user/app", "docker.io", "user/app", "latest", NULL, "docker.io/user/app:latest");
  expect_norm("docker.io/busybox", "docker.io", "library/busybox", "latest", NULL,
              "docker.io/library/busybox:latest");
  expect_norm("index.docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", NULL,
              "docker.io/library/busybox:musl");
}

static void test_tag_and_digest(void **state)
{
  (void)state;
  expect_norm("busybox@" D64, "docker.io", "library/busybox", NULL, D64,
              "docker.io/library/busybox@" D64);
  expect_norm("busybox:1.36@" D64, "docker.io", "library/busybox", "1.36", D64,
              "docker.io/library/busybox:1.36@" D64);
  expect_norm("localhost:5000/a/b/c:v1.0-rc_2", "localhost:5000", "a/b/c", "v1.0-rc_2", NULL,
              "localhost:5000/a/b/c:v1.0-rc_2");
}

static void test_registry_host_rules(void **state)
{
  (void)state;
  /* a first component is a registry when it has a dot, a colon, is localhost
   * or has upper case; otherwise it is a Docker Hub user */
  expect_norm("localhost/app", "localhost", "app", "latest", NULL, "localhost/app:latest");
  expect_norm("localhost:5000/app", "localhost:5000", "app", "latest", NULL,
              "localhost:5000/app:latest");
  expect_norm("127.0.0.1:5000/busybox:latest", "127.0.0.1:5000", "busybox", "latest", NULL,
              "127.0.0.1:5000/busybox:latest");
  expect_norm("quay.io/coreos/etcd", "quay.io", "coreos/etcd", "latest", NULL,
              "quay.io/coreos/etcd:latest");
  expect_norm("[::1]:5000/app", "[::1]:5000", "app", "latest", NULL, "[::1]:5000/app:latest");
  expect_norm("Registry/app", "Registry", "app", "latest", NULL, "Registry/app:latest");
  expect_norm("myhost/app", "docker.io", "myhost/app", "latest", NULL,
              "docker.io/myhost/app:latest");
  assert_true(husk_ref_is_domain("example.com", 11));
  assert_true(husk_ref_is_domain("host:80", 7));
  assert_true(husk_ref_is_domain("localhost", 9));
  assert_false(husk_ref_is_domain("library", 7));
  assert_string_equal(husk_registry_host("docker.io"), "registry-1.docker.io");
  assert_string_equal(husk_registry_host("quay.io"), "quay.io");
}

static void test_invalid_references_refused(void **state)
{
  (void)state;
  expect_invalid("", "empty");
  expect_invalid("BusyBox", "lowercase");
  expect_invalid("busybox:", "tag");
  expect_invalid("busybox:-bad", "tag");
  expect_invalid("busybox@sha256:abc", "digest");
  expect_invalid("busybox@md5:0123456789abcdef0123456789abcdef", "sha256");
  expect_invalid("a//b", NULL);
  expect_invalid("a/-b", NULL);
  expect_invalid("a__-b", NULL);
  expect_invalid("host:port/app", "registry host");
  expect_invalid(":latest", NULL);
  expect_invalid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64-byte");
  char long_name[300];
  memset(long_name, 'a', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  expect_invalid(long_name, "longer than");
  char long_tag[200] = "busybox:";
  memset(long_tag + 8, 't', 129);
  long_tag[8 + 129] = '\0';
  expect_invalid(long_tag, "tag");
}

static void test_separators_in_path(void **state)
{
  (void)state;
  expect_norm("user/a.b_c__d-e---f", "docker.io", "user/a.b_c__d-e---f", "latest", NULL,
              "docker.io/user/a.b_c__d-e---f:latest");
}

static void test_familiar_forms(void **state)
{
  (void)state;
  char *f = husk_ref_familiar("docker.io/library/busybox:latest");
  assert_string_equal(f, "busybox:latest");
  free(f);
  f = husk_ref_familiar("docker.io/user/app:v1");
  assert_string_equal(f, "user/app:v1");
  free(f);
  f = husk_ref_familiar("localhost:5000/app:v1");
  assert_string_equal(f, "localhost:5000/app:v1");
  free(f);
  f = husk_ref_familiar("docker.io/library/busybox@" D64);
  assert_string_equal(f, "busybox@" D64);
  free(f);
}

static void test_plain_http_registries(void **state)
{
  (void)state;
  unsetenv("HUSK_INSECURE_REGISTRIES");
  assert_true(husk_registry_is_insecure("localhost", NULL));
  assert_true(husk_registry_is_insecure("localhost:5000", NULL));
  assert_true(husk_registry_is_insecure("127.0.0.1:5000", NULL));
  assert_true(husk_registry_is_insecure("127.1.2.3", NULL));
  assert_true(husk_registry_is_insecure("[::1]:5000", NULL));
  assert_false(husk_registry_is_insecure("docker.io", NULL));
  assert_false(husk_registry_is_insecure("10.0.0.1:5000", NULL));
  assert_false(husk_registry_is_insecure("localhost.example.com", NULL));

  char *flag[] = {(char *)"registry.lan:5000", (char *)"other.lan", NULL};
  assert_true(husk_registry_is_insecure("registry.lan:5000", flag));
  assert_false(husk_registry_is_insecure("registry.lan:6000", flag));
  assert_true(husk_registry_is_insecure("other.lan:443", flag)); /* a bare host: any port */

  setenv("HUSK_INSECURE_REGISTRIES", " a.lan:1 , http://b.lan ", 1);
  assert_true(husk_registry_is_insecure("a.lan:1", NULL));
  assert_true(husk_registry_is_insecure("b.lan", NULL));
  assert_false(husk_registry_is_insecure("c.lan", NULL));
  unsetenv("HUSK_INSECURE_REGISTRIES");
}

static void test_digest_validation(void **state)
{
  (void)state;
  assert_true(husk_digest_valid(D64));
  assert_false(husk_digest_valid("sha256:0123"));
  assert_false(
      husk_digest_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
  assert_false(husk_digest_valid(NULL));
  assert_true(husk_hex64_valid(&D64[7]));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_short_names_normalize_to_docker_hub),
      cmocka_unit_test(test_tag_and_digest),
      cmocka_unit_test(test_registry_host_rules),
      cmocka_unit_test(test_invalid_references_refused),
      cmocka_unit_test(test_separators_in_path),
      cmocka_unit_test(test_familiar_forms),
      cmocka_unit_test(test_plain_http_registries),
      cmocka_unit_test(test_digest_validation),
  };
  return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
