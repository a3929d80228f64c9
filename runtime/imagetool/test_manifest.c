/* cmocka: the image metadata parsers of husk-image (manifest.c): what
 * docker-archive manifest.json, OCI index.json, image manifests / indexes,
 * image configs and registry auth answers are accepted as, and what is
 * refused with which message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"
#include "util.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DIG_A "sha256:" HEX_A
#define DIG_B "sha256:" HEX_B
#define DIG_C "sha256:" HEX_C

static void assert_msg_contains(const husk_err *err, const char *want)
{
  if (strstr(err->msg, want) == NULL)
    fail_msg("error \"%s\" does not contain \"%s\"", err->msg, want);
}

/* ---- docker-archive manifest.json ---- */

static int docker(const char *json, husk_archive_image **v, size_t *n, husk_err *err)
{
  return husk_docker_manifest_parse(json, strlen(json), v, n, err);
}

static void test_docker_manifest_states_digests_and_normalizes_tags(void **state)
{
  (void)state;
  const char *j = "[{\"Config\":\"" HEX_C ".json\",\"RepoTags\":[\"busybox:latest\",7,"
                  "\"localhost:5000/app:1\"],\"Layers\":[\"" HEX_A
                  "/layer.tar\",\"blobs/sha256/" HEX_B "\",\"plain.tar\"]},"
                  "{\"Config\":\"other.json\",\"RepoTags\":null,\"Layers\":[]}]";
  husk_archive_image *v = NULL;
  size_t n = 0;
  husk_err err = {0};
  assert_int_equal(docker(j, &v, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].config_path, HEX_C ".json");
  assert_string_equal(v[0].config_digest, DIG_C);
  assert_null(v[0].manifest_digest);
  assert_int_equal(v[0].n_layers, 3);
  assert_string_equal(v[0].layer_paths[0], HEX_A "/layer.tar");
  /* "<hex>/layer.tar" states nothing; "sha256/<hex>" does */
  assert_null(v[0].layer_digests[0]);
  assert_string_equal(v[0].layer_digests[1], DIG_B);
  assert_null(v[0].layer_digests[2]);
  assert_int_equal(husk_strv_len(v[0].refs), 2);
  assert_string_equal(v[0].refs[0], "docker.io/library/busybox:latest");
  assert_string_equal(v[0].refs[1], "localhost:5000/app:1");
  assert_null(v[1].config_digest);
  assert_int_equal(v[1].n_layers, 0);
  assert_null(v[1].refs);
  husk_archive_images_free(v, n);
}

static void test_docker_manifest_upper_case_hex_states_no_digest(void **state)
{
  (void)state;
  const char *j =
      "[{\"Config\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.json\","
      "\"Layers\":[]}]";
  husk_archive_image *v = NULL;
  size_t n = 0;
  husk_err err = {0};
  assert_int_equal(docker(j, &v, &n, &err), 0);
  assert_null(v[0].config_digest);
  husk_archive_images_free(v, n);
}

static void test_docker_manifest_refusals(void **state)
{
  (void)state;
  static const struct {
    const char *json, *msg;
  } cases[] = {
      {"[]", "manifest.json lists no images"},
      {"{\"Config\":\"x\"}", "manifest.json lists no images"},
      {"[{\"Config\":\"x\"", "manifest.json is not valid JSON"},
      {"", "manifest.json is not valid JSON"},
      {"[{\"Layers\":[]}]", "manifest.json entry 1 has no Config or Layers"},
      {"[{\"Config\":\"x\",\"Layers\":\"a.tar\"}]",
       "manifest.json entry 1 has no Config or Layers"},
      {"[{\"Config\":5,\"Layers\":[]}]", "manifest.json entry 1 has no Config or Layers"},
      {"[{\"Config\":\"x\",\"Layers\":[\"a\",3]}]", "manifest.json: bad layer entry"},
      {"[{\"Config\":\"x\",\"Layers\":[],\"RepoTags\":[\"bad name:x\"]}]",
       "manifest.json RepoTags: "},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    husk_archive_image *v = (void *)1;
    size_t n = 99;
    husk_err err = {0};
    assert_true(docker(cases[i].json, &v, &n, &err) < 0);
    assert_int_equal(err.code, EINVAL);
    assert_msg_contains(&err, cases[i].msg);
    assert_int_equal(n, 0);
    assert_null(v);
  }
}

static void test_docker_manifest_keeps_the_images_before_a_bad_entry(void **state)
{
  (void)state;
  const char *j = "[{\"Config\":\"a.json\",\"Layers\":[]},{\"Config\":\"b.json\",\"Layers\":[]},"
                  "{\"Config\":\"c.json\"}]";
  husk_archive_image *v = NULL;
  size_t n = 0;
  husk_err err = {0};
  assert_true(docker(j, &v, &n, &err) < 0);
  assert_msg_contains(&err, "manifest.json entry 3 has no Config or Layers");
  assert_int_equal(n, 2);
  assert_string_equal(v[1].config_path, "b.json");
  husk_archive_images_free(v, n);
}

/* ---- OCI index.json and names ---- */

static void test_oci_index_json_and_descriptor_names(void **state)
{
  (void)state;
  const char *j =
      "{\"schemaVersion\":2,\"manifests\":["
      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DIG_A "\",\"size\":12,"
      "\"annotations\":{\"org.opencontainers.image.ref.name\":\"busybox:gzip\"}},"
      "{\"digest\":\"" DIG_B "\",\"annotations\":{\"io.containerd.image.name\":\"quay.io/x/y:1\","
      "\"org.opencontainers.image.ref.name\":\"1\"}},"
      "{\"digest\":\"" DIG_C
      "\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}},"
      "{\"digest\":\"" DIG_C
      "\",\"annotations\":{\"org.opencontainers.image.ref.name\":\"x/ y:1\"}},"
      "\"not an object\"]}";
  husk_manifest m;
  husk_err err = {0};
  assert_int_equal(husk_oci_index_parse(j, strlen(j), &m, &err), 0);
  assert_true(m.is_index);
  assert_int_equal(m.n_manifests, 5);
  assert_string_equal(m.manifests[0].media_type, MT_OCI_MANIFEST);
  assert_string_equal(m.manifests[0].digest, DIG_A);
  assert_int_equal(m.manifests[0].size, 12);
  assert_null(m.manifests[4].digest);

  char *name = husk_descriptor_name(&m.manifests[0], &err);
  assert_string_equal(name, "docker.io/library/busybox:gzip");
  free(name);
  name = husk_descriptor_name(&m.manifests[1], &err); /* containerd's full name wins */
  assert_string_equal(name, "quay.io/x/y:1");
  free(name);
  husk_err e2 = {0};
  assert_null(husk_descriptor_name(&m.manifests[2], &e2)); /* a bare tag: untagged */
  assert_int_equal(e2.code, 0);
  assert_null(husk_descriptor_name(&m.manifests[3], &e2)); /* not a name */
  assert_int_equal(e2.code, EINVAL);
  assert_null(husk_descriptor_name(&m.manifests[4], &e2));
  husk_manifest_free(&m);
}

static void test_oci_index_json_refusals(void **state)
{
  (void)state;
  static const char *const bad[] = {"{\"manifests\":[]}", "{}", "[]", "{\"manifests\":{}}"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    husk_manifest m;
    husk_err err = {0};
    assert_true(husk_oci_index_parse(bad[i], strlen(bad[i]), &m, &err) < 0);
    assert_string_equal(err.msg, "index.json lists no images");
  }
  husk_manifest m;
  husk_err err = {0};
  assert_true(husk_oci_index_parse("{\"manifests\":[", 14, &m, &err) < 0);
  assert_msg_contains(&err, "index.json is not valid JSON");
}

/* ---- manifests and indexes ---- */

#define OCI_MANIFEST                                                                               \
  "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"          \
  "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DIG_C "\",\"size\":581},"           \
  "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":"         \
  "\"" DIG_A "\",\"size\":2152262},{\"digest\":\"" DIG_B "\"}]}"

static int parse(const char *j, const char *desc_type, const char *ct, husk_manifest *m,
                 husk_err *err)
{
  return husk_manifest_parse(j, strlen(j), "sha256:x", desc_type, ct, m, err);
}

static void test_image_manifest_and_its_import_plan(void **state)
{
  (void)state;
  husk_manifest m;
  husk_err err = {0};
  assert_int_equal(parse(OCI_MANIFEST, NULL, NULL, &m, &err), 0);
  assert_false(m.is_index);
  assert_string_equal(m.media_type, MT_OCI_MANIFEST);
  assert_string_equal(m.config.digest, DIG_C);
  assert_int_equal(m.n_layers, 2);
  assert_int_equal(m.layers[0].size, 2152262);
  assert_int_equal(m.layers[1].size, 0);
  assert_null(m.layers[1].media_type);

  husk_archive_image img;
  husk_oci_archive_image(&m, DIG_B, "docker.io/library/x:y", &img);
  assert_string_equal(img.config_path, "blobs/sha256/" HEX_C);
  assert_string_equal(img.config_digest, DIG_C);
  assert_string_equal(img.manifest_digest, DIG_B);
  assert_int_equal(img.n_layers, 2);
  assert_string_equal(img.layer_paths[1], "blobs/sha256/" HEX_B);
  assert_string_equal(img.layer_digests[0], DIG_A);
  assert_string_equal(img.refs[0], "docker.io/library/x:y");
  assert_null(img.refs[1]);
  husk_archive_image_free(&img);
  husk_oci_archive_image(&m, DIG_B, NULL, &img);
  assert_null(img.refs);
  husk_archive_image_free(&img);
  husk_manifest_free(&m);
}

static void test_media_type_descriptor_then_document_then_content_type(void **state)
{
  (void)state;
  husk_manifest m;
  husk_err err = {0};
  /* the descriptor's type wins over the document's */
  assert_int_equal(parse("{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"manifests\":[]}", MT_OCI_INDEX,
                         NULL, &m, &err),
                   0);
  assert_true(m.is_index);
  assert_string_equal(m.media_type, MT_OCI_INDEX);
  husk_manifest_free(&m);
  /* the document's wins over Content-Type */
  assert_int_equal(parse("{\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":[]}", NULL,
                         MT_OCI_MANIFEST, &m, &err),
                   0);
  assert_true(m.is_index);
  husk_manifest_free(&m);
  /* Content-Type, parameters dropped */
  assert_int_equal(parse("{\"manifests\":[{\"digest\":\"" DIG_A "\"}]}", NULL,
                         MT_OCI_INDEX " ; charset=utf-8", &m, &err),
                   0);
  assert_true(m.is_index);
  assert_string_equal(m.media_type, MT_OCI_INDEX);
  assert_int_equal(m.n_manifests, 1);
  husk_manifest_free(&m);
  /* no type at all: "manifests" makes an index */
  assert_int_equal(parse("{\"manifests\":[]}", NULL, NULL, &m, &err), 0);
  assert_true(m.is_index);
  assert_null(m.media_type);
  husk_manifest_free(&m);
  /* a stated manifest type with "manifests" is not an index: config and layers needed */
  assert_true(parse("{\"manifests\":[]}", NULL, MT_DOCKER_MANIFEST, &m, &err) < 0);
  assert_string_equal(err.msg, "manifest sha256:x has no config or layers");
}

static void test_manifest_refusals(void **state)
{
  (void)state;
  static const struct {
    const char *json;
    int code;
    const char *msg;
  } cases[] = {
      {"{\"schemaVersion\":2,", EINVAL, "manifest sha256:x is not valid JSON"},
      {"[]", EINVAL, "manifest sha256:x is not a JSON object"},
      {"\"x\"", EINVAL, "manifest sha256:x is not a JSON object"},
      {"{\"schemaVersion\":1,\"fsLayers\":[]}", ENOTSUP, "manifest sha256:x is schema 1"},
      {"{\"config\":{\"digest\":\"" DIG_C "\"}}", EINVAL,
       "manifest sha256:x has no config or layers"},
      {"{\"layers\":[]}", EINVAL, "manifest sha256:x has no config or layers"},
      {"{\"config\":{},\"layers\":[]}", EINVAL, "manifest sha256:x: bad config digest"},
      {"{\"config\":\"" DIG_C "\",\"layers\":[]}", EINVAL, "manifest sha256:x: bad config digest"},
      {"{\"config\":{\"digest\":\"sha256:ABC\"},\"layers\":[]}", EINVAL,
       "manifest sha256:x: bad config digest"},
      {"{\"config\":{\"digest\":\"" DIG_C "\"},\"layers\":[{\"digest\":\"sha512:" HEX_A "\"}]}",
       EINVAL, "manifest sha256:x: bad layer digest"},
      {"{\"config\":{\"digest\":\"" DIG_C "\"},\"layers\":[\"" DIG_A "\"]}", EINVAL,
       "manifest sha256:x: bad layer digest"},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    husk_manifest m;
    husk_err err = {0};
    assert_true(parse(cases[i].json, NULL, NULL, &m, &err) < 0);
    assert_int_equal(err.code, cases[i].code);
    assert_msg_contains(&err, cases[i].msg);
  }
}

/* ---- platforms ---- */

static const husk_descriptor *pick(const husk_manifest *m, const char *platform, bool only_one)
{
  husk_platform p;
  husk_err err = {0};
  assert_int_equal(husk_platform_parse(platform, &p, &err), 0);
  return husk_manifest_pick(m, &p, only_one);
}

static void test_platform_pick(void **state)
{
  (void)state;
  const char *j =
      "{\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":["
      "{\"digest\":\"att\",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
      "{\"digest\":\"amd64\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
      "{\"digest\":\"arm-v6\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","
      "\"variant\":\"v6\"}},"
      "{\"digest\":\"arm-v7\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","
      "\"variant\":\"v7\"}},"
      "{\"digest\":\"arm64-v9\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
      "\"variant\":\"v9\"}},"
      "{\"digest\":\"arm64-v8\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
      "\"variant\":\"v8\"}},"
      "{\"digest\":\"win\",\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";
  husk_manifest m;
  husk_err err = {0};
  assert_int_equal(parse(j, NULL, NULL, &m, &err), 0);
  assert_true(m.is_index);
  assert_string_equal(pick(&m, "linux/amd64", false)->digest, "amd64");
  assert_string_equal(pick(&m, "windows/amd64", false)->digest, "win");
  assert_string_equal(pick(&m, "linux/arm/v7", false)->digest, "arm-v7");
  assert_string_equal(pick(&m, "linux/arm", false)->digest, "arm-v6");     /* the first arm */
  assert_string_equal(pick(&m, "linux/arm64", false)->digest, "arm64-v8"); /* v8 preferred */
  assert_string_equal(pick(&m, "linux/arm64/v9", false)->digest, "arm64-v9");
  assert_null(pick(&m, "linux/s390x", true));
  assert_null(pick(&m, "linux/arm/v5", false));
  husk_manifest_free(&m);

  /* arm64 with no v8: any arm64 */
  const char *j2 = "{\"manifests\":[{\"digest\":\"a\",\"platform\":{\"os\":\"linux\","
                   "\"architecture\":\"arm64\",\"variant\":\"v9\"}}]}";
  assert_int_equal(parse(j2, NULL, NULL, &m, &err), 0);
  assert_string_equal(pick(&m, "linux/arm64", false)->digest, "a");
  husk_manifest_free(&m);

  /* a single descriptor without a platform: only with only_one */
  const char *j3 = "{\"manifests\":[{\"digest\":\"only\"}]}";
  assert_int_equal(parse(j3, NULL, NULL, &m, &err), 0);
  assert_null(pick(&m, "linux/amd64", false));
  assert_string_equal(pick(&m, "linux/amd64", true)->digest, "only");
  husk_manifest_free(&m);
}

static void test_platform_parse(void **state)
{
  (void)state;
  husk_platform p;
  husk_err err = {0};
  assert_int_equal(husk_platform_parse(NULL, &p, &err), 0);
  assert_string_equal(p.os, "linux");
  assert_string_equal(p.arch, husk_host_platform_arch());
  assert_string_equal(p.variant, "");
  assert_int_equal(husk_platform_parse("linux/arm/v7", &p, &err), 0);
  assert_string_equal(p.arch, "arm");
  assert_string_equal(p.variant, "v7");
  static const char *const bad[] = {"linux", "", "/amd64", "linux/"};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(bad); i++) {
    assert_true(husk_platform_parse(bad[i], &p, &err) < 0);
    assert_msg_contains(&err, "expected OS/ARCH[/VARIANT]");
  }
}

/* ---- image config ---- */

static void test_config_diff_ids(void **state)
{
  (void)state;
  const char *j = "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":"
                  "\"layers\",\"diff_ids\":[\"" DIG_A "\",\"" DIG_B "\"]}}";
  char **v = NULL;
  husk_err err = {0};
  assert_int_equal(husk_config_diff_ids(j, strlen(j), "sha256:c", 2, &v, &err), 0);
  assert_int_equal(husk_strv_len(v), 2);
  assert_string_equal(v[0], DIG_A);
  assert_string_equal(v[1], DIG_B);
  husk_strv_free(v);

  assert_true(husk_config_diff_ids(j, strlen(j), "sha256:c", 1, &v, &err) < 0);
  assert_null(v);
  assert_string_equal(
      err.msg, "image sha256:c: the config lists 2 layers (rootfs.diff_ids), the manifest 1");
  /* an image of no layers needs no rootfs */
  assert_int_equal(husk_config_diff_ids("{}", 2, "sha256:c", 0, &v, &err), 0);
  assert_null(v[0]);
  husk_strv_free(v);
  assert_true(husk_config_diff_ids("[]", 2, "sha256:c", 1, &v, &err) < 0);
  assert_msg_contains(&err, "the config lists 0 layers");
  const char *bad = "{\"rootfs\":{\"diff_ids\":[\"" DIG_A "\",\"sha256:short\"]}}";
  assert_true(husk_config_diff_ids(bad, strlen(bad), "sha256:c", 2, &v, &err) < 0);
  assert_string_equal(err.msg, "image sha256:c: bad diff id in config");
  assert_true(husk_config_diff_ids("{\"rootfs\":", 10, "sha256:c", 0, &v, &err) < 0);
  assert_msg_contains(&err, "image sha256:c config is not valid JSON");
}

/* ---- registry auth ---- */

static void test_auth_challenge(void **state)
{
  (void)state;
  const char *hub = "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                    "scope=\"repository:library/busybox:pull\"";
  char *v = husk_auth_challenge_param(hub, "realm");
  assert_string_equal(v, "https://auth.docker.io/token");
  free(v);
  v = husk_auth_challenge_param(hub, "SCOPE");
  assert_string_equal(v, "repository:library/busybox:pull");
  free(v);
  assert_null(husk_auth_challenge_param(hub, "error"));
  v = husk_auth_challenge_param("Bearer realm=http://h/t, service=svc", "service");
  assert_string_equal(v, "svc");
  free(v);
  v = husk_auth_challenge_param("Bearer realm=\"unterminated", "realm");
  assert_string_equal(v, "unterminated");
  free(v);
  assert_null(husk_auth_challenge_param("Bearer", "realm"));
  assert_null(husk_auth_challenge_param("Bearer ,,realm,=x", "realm"));
}

static void test_auth_token(void **state)
{
  (void)state;
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"{\"token\":\"t1\",\"access_token\":\"t2\"}", "t1"},
      {"{\"access_token\":\"t2\"}", "t2"},
      {"{\"token\":5}", NULL},
      {"<html>", NULL},
      {"", NULL},
  };
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(cases); i++) {
    char *t = husk_auth_token_parse(cases[i].json, strlen(cases[i].json));
    if (cases[i].want)
      assert_string_equal(t, cases[i].want);
    else
      assert_null(t);
    free(t);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_docker_manifest_states_digests_and_normalizes_tags),
      cmocka_unit_test(test_docker_manifest_upper_case_hex_states_no_digest),
      cmocka_unit_test(test_docker_manifest_refusals),
      cmocka_unit_test(test_docker_manifest_keeps_the_images_before_a_bad_entry),
      cmocka_unit_test(test_oci_index_json_and_descriptor_names),
      cmocka_unit_test(test_oci_index_json_refusals),
      cmocka_unit_test(test_image_manifest_and_its_import_plan),
      cmocka_unit_test(test_media_type_descriptor_then_document_then_content_type),
      cmocka_unit_test(test_manifest_refusals),
      cmocka_unit_test(test_platform_pick),
      cmocka_unit_test(test_platform_parse),
      cmocka_unit_test(test_config_diff_ids),
      cmocka_unit_test(test_auth_challenge),
      cmocka_unit_test(test_auth_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
