/* cmocka: the layer extractor of husk-image.  Whiteouts become overlay
 * whiteouts, hard links/devices/xattrs/owners survive, diff ids are the
 * sha256 of the uncompressed tar whatever the compression, and hostile
 * archives are refused without writing outside the target or leaving a
 * half layer.  Needs root (mknod, chown, trusted.* xattrs). */
/* the entry tables below leave trailing fields out on purpose */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "image.h"
#include "imagetool.h"
#include "util.h"

enum { T_FILE, T_DIR, T_SYMLINK, T_HARDLINK, T_CHR, T_FIFO };

struct tent {
  const char *name;
  int type;
  mode_t mode;
  const char *data; /* file content, symlink or hard link target */
  unsigned uid, gid;
  dev_t rdev;
  const char *xattr_name, *xattr_value;
};

enum { F_NONE, F_GZIP, F_ZSTD };

/* Build a tar (pax) of the entries into a memfd; returns the fd (offset 0). */
static int build_tar(const struct tent *e, size_t n, int filter)
{
  int fd = memfd_create("tar", MFD_CLOEXEC);
  assert_true(fd >= 0);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == F_GZIP)
    assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  else if (filter == F_ZSTD && archive_write_add_filter_zstd(a) != ARCHIVE_OK) {
    archive_write_free(a);
    close(fd);
    return -1;
  }
  archive_write_set_bytes_in_last_block(a, 1);
  assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e[i].name);
    archive_entry_set_uid(ae, e[i].uid);
    archive_entry_set_gid(ae, e[i].gid);
    archive_entry_set_mtime(ae, 1700000000, 0);
    size_t len = 0;
    switch (e[i].type) {
    case T_FILE:
      len = e[i].data ? strlen(e[i].data) : 0;
      archive_entry_set_filetype(ae, AE_IFREG);
      archive_entry_set_size(ae, (la_int64_t)len);
      break;
    case T_DIR:
      archive_entry_set_filetype(ae, AE_IFDIR);
      break;
    case T_SYMLINK:
      archive_entry_set_filetype(ae, AE_IFLNK);
      archive_entry_set_symlink(ae, e[i].data);
      break;
    case T_HARDLINK:
      archive_entry_set_filetype(ae, AE_IFREG);
      archive_entry_set_hardlink(ae, e[i].data);
      archive_entry_set_size(ae, 0);
      break;
    case T_CHR:
      archive_entry_set_filetype(ae, AE_IFCHR);
      archive_entry_set_rdev(ae, e[i].rdev);
      break;
    case T_FIFO:
      archive_entry_set_filetype(ae, AE_IFIFO);
      break;
    }
    archive_entry_set_perm(ae, e[i].mode ? e[i].mode : (e[i].type == T_DIR ? 0755 : 0644));
    if (e[i].xattr_name)
      archive_entry_xattr_add_entry(ae, e[i].xattr_name, e[i].xattr_value,
                                    strlen(e[i].xattr_value));
    assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
    if (len)
      assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
    archive_entry_free(ae);
  }
  assert_int_equal(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

struct fixture {
  char base[64]; /* a private temp dir */
  char dir[96];  /* base/layer: the extraction target */
  char outside[96];
};

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof(*f));
  snprintf(f->base, sizeof(f->base), "/tmp/husk-extract-XXXXXX");
  if (mkdtemp(f->base) == NULL)
    return -1;
  snprintf(f->dir, sizeof(f->dir), "%s/layer", f->base);
  snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
  mkdir(f->dir, 0700);
  mkdir(f->outside, 0700);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  husk_err err;
  husk_remove_tree(AT_FDCWD, f->base, &err);
  free(f);
  return 0;
}

static int extract(const char *dir, int fd, char **diff, husk_err *err)
{
  husk_extract_opts o = {.layer = true};
  return husk_extract_fd(fd, dir, &o, diff, NULL, err);
}

static bool dir_is_empty(const char *path)
{
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", path);
  return system(cmd) == 0;
}

static void skip_unless_root(void)
{
  if (geteuid() != 0) {
    fprintf(stderr, "skipped: needs root (mknod, chown, trusted xattrs)\n");
    skip();
  }
}

/* ---- whiteouts ---- */

static void test_whiteout_becomes_overlay_char_device(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  const struct tent e[] = {
      {"etc/", T_DIR, 0755},
      {"etc/.wh.passwd", T_FILE, 0644, ""},
      {".wh.tmp", T_FILE, 0644, ""},
  };
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  husk_err err = {0};
  assert_int_equal(extract(f->dir, fd, NULL, &err), 0);
  close(fd);
  char p[256];
  struct stat st;
  snprintf(p, sizeof(p), "%s/etc/passwd", f->dir);
  assert_int_equal(lstat(p, &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(st.st_rdev, makedev(0, 0));
  snprintf(p, sizeof(p), "%s/tmp", f->dir);
  assert_int_equal(lstat(p, &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  snprintf(p, sizeof(p), "%s/etc/.wh.passwd", f->dir);
  assert_int_equal(lstat(p, &st), -1);
}

static void test_opaque_marker_sets_overlay_xattr(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  const struct tent e[] = {
      {"var/", T_DIR, 0755},
      {"var/cache/", T_DIR, 0755},
      {"var/cache/.wh..wh..opq", T_FILE, 0644, ""},
      {"var/cache/new", T_FILE, 0644, "x"},
      {"var/.wh..wh.plnk", T_FILE, 0644, ""},
  };
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  husk_err err = {0};
  assert_int_equal(extract(f->dir, fd, NULL, &err), 0);
  close(fd);
  char p[256], v[8] = "";
  snprintf(p, sizeof(p), "%s/var/cache", f->dir);
  assert_int_equal(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
  assert_int_equal(v[0], 'y');
  snprintf(p, sizeof(p), "%s/var/cache/.wh..wh..opq", f->dir);
  assert_int_equal(access(p, F_OK), -1);
  snprintf(p, sizeof(p), "%s/var/.wh..wh.plnk", f->dir);
  assert_int_equal(access(p, F_OK), -1);
}

static void test_archive_overlay_xattrs_are_dropped(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  const struct tent e[] = {
      {"d/", T_DIR, 0755, NULL, 0, 0, 0, "trusted.overlay.redirect", "/etc"},
  };
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  husk_err err = {0};
  assert_int_equal(extract(f->dir, fd, NULL, &err), 0);
  close(fd);
  char p[256], v[64];
  snprintf(p, sizeof(p), "%s/d", f->dir);
  assert_int_equal(lgetxattr(p, "trusted.overlay.redirect", v, sizeof(v)), -1);
}

/* ---- metadata ---- */

static void test_hardlinks_devices_xattrs_owners_kept(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  const struct tent e[] = {
      {"bin/", T_DIR, 0755},
      {"bin/tool", T_FILE, 04755, "#!/bin/sh\n", 1000, 1001, 0, "user.husk", "kept"},
      {"bin/alias", T_HARDLINK, 0, "bin/tool"},
      {"dev/", T_DIR, 0755},
      {"dev/null", T_CHR, 0666, NULL, 0, 0, makedev(1, 3)},
      {"run/fifo", T_FIFO, 0600},
      {"lib", T_SYMLINK, 0777, "/usr/lib"},
  };
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  husk_err err = {0};
  assert_int_equal(extract(f->dir, fd, NULL, &err), 0);
  close(fd);
  char p[256], q[256];
  struct stat a, b;
  snprintf(p, sizeof(p), "%s/bin/tool", f->dir);
  snprintf(q, sizeof(q), "%s/bin/alias", f->dir);
  assert_int_equal(lstat(p, &a), 0);
  assert_int_equal(lstat(q, &b), 0);
  assert_int_equal(a.st_ino, b.st_ino);
  assert_int_equal(a.st_nlink, 2);
  assert_int_equal(a.st_mode & 07777, 04755);
  assert_int_equal(a.st_uid, 1000);
  assert_int_equal(a.st_gid, 1001);
  assert_int_equal(a.st_mtime, 1700000000);
  char v[16] = "";
  assert_int_equal(lgetxattr(p, "user.husk", v, sizeof(v)), 4);
  assert_memory_equal(v, "kept", 4);
  snprintf(p, sizeof(p), "%s/dev/null", f->dir);
  assert_int_equal(lstat(p, &a), 0);
  assert_true(S_ISCHR(a.st_mode));
  assert_int_equal(a.st_rdev, makedev(1, 3));
  snprintf(p, sizeof(p), "%s/run/fifo", f->dir);
  assert_int_equal(lstat(p, &a), 0);
  assert_true(S_ISFIFO(a.st_mode));
  snprintf(p, sizeof(p), "%s/lib", f->dir);
  char target[64] = "";
  assert_int_equal(readlink(p, target, sizeof(target) - 1), 8);
  assert_string_equal(target, "/usr/lib");
}

/* ---- diff ids ---- */

static void test_diff_id_is_sha256_of_uncompressed_tar(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  const struct tent e[] = {
      {"a/", T_DIR, 0755},
      {"a/file", T_FILE, 0644, "hello layer\n"},
  };
  int plain = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  char want_hex[65];
  assert_int_equal(husk_sha256_fd(plain, want_hex, NULL), 0);
  lseek(plain, 0, SEEK_SET);
  char want[80];
  snprintf(want, sizeof(want), "sha256:%s", want_hex);

  int filters[] = {F_NONE, F_GZIP, F_ZSTD};
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(filters); i++) {
    int fd = filters[i] == F_NONE ? dup(plain) : build_tar(e, HUSK_ARRAY_SIZE(e), filters[i]);
    if (fd < 0) {
      fprintf(stderr, "note: libarchive cannot write zstd here, zstd case skipped\n");
      continue;
    }
    lseek(fd, 0, SEEK_SET);
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/d%zu", f->base, i);
    mkdir(dir, 0700);
    husk_err err = {0};
    _cleanup_free_ char *diff = NULL;
    assert_int_equal(extract(dir, fd, &diff, &err), 0);
    close(fd);
    assert_string_equal(diff, want);
    char p[200];
    snprintf(p, sizeof(p), "%s/a/file", dir);
    assert_int_equal(access(p, F_OK), 0);
  }
  close(plain);
}

/* ---- hostile archives ---- */

static void expect_refused(struct fixture *f, const struct tent *e, size_t n, const char *needle)
{
  int fd = build_tar(e, n, F_NONE);
  husk_err err = {0};
  int r = extract(f->dir, fd, NULL, &err);
  close(fd);
  assert_true(r < 0);
  if (strstr(err.msg, needle) == NULL)
    fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
  assert_true(dir_is_empty(f->outside));
}

static void test_dotdot_path_refused(void **state)
{
  struct fixture *f = *state;
  const struct tent e[] = {{"../outside/pwned", T_FILE, 0644, "x"}};
  expect_refused(f, e, 1, "\"..\"");
  const struct tent e2[] = {{"a/../../outside/pwned", T_FILE, 0644, "x"}};
  expect_refused(f, e2, 1, "\"..\"");
}

static void test_absolute_path_refused(void **state)
{
  struct fixture *f = *state;
  char abs[200];
  snprintf(abs, sizeof(abs), "%s/pwned", f->outside);
  const struct tent e[] = {{abs, T_FILE, 0644, "x"}};
  expect_refused(f, e, 1, "absolute path");
}

static void test_write_through_symlink_refused(void **state)
{
  struct fixture *f = *state;
  const struct tent e[] = {
      {"escape", T_SYMLINK, 0777, f->outside},
      {"escape/pwned", T_FILE, 0644, "x"},
  };
  expect_refused(f, e, HUSK_ARRAY_SIZE(e), "symlink");
  const struct tent e2[] = {
      {"up", T_SYMLINK, 0777, "../outside"},
      {"up/pwned", T_FILE, 0644, "x"},
  };
  expect_refused(f, e2, HUSK_ARRAY_SIZE(e2), "symlink");
  /* a whiteout through a symlink would delete outside */
  char victim[200];
  snprintf(victim, sizeof(victim), "%s/victim", f->outside);
  const struct tent e3[] = {
      {"up2", T_SYMLINK, 0777, "../outside"},
      {"up2/.wh.victim", T_FILE, 0644, ""},
  };
  expect_refused(f, e3, HUSK_ARRAY_SIZE(e3), "symlink");
}

static void test_hardlink_out_of_layer_refused(void **state)
{
  struct fixture *f = *state;
  char abs[200];
  snprintf(abs, sizeof(abs), "%s/secret", f->outside);
  const struct tent e[] = {{"h", T_HARDLINK, 0, abs}};
  expect_refused(f, e, 1, "absolute path");
  const struct tent e2[] = {{"h", T_HARDLINK, 0, "../outside/secret"}};
  expect_refused(f, e2, 1, "\"..\"");
  /* through a symlink in the layer */
  const struct tent e3[] = {
      {"up", T_SYMLINK, 0777, "../outside"},
      {"h", T_HARDLINK, 0, "up/secret"},
  };
  expect_refused(f, e3, HUSK_ARRAY_SIZE(e3), "symlink");
}

static void test_symlink_replaced_by_file_does_not_follow(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  char target[200];
  snprintf(target, sizeof(target), "%s/victim", f->outside);
  int vfd = open(target, O_WRONLY | O_CREAT, 0644);
  assert_true(vfd >= 0);
  assert_int_equal(write(vfd, "safe", 4), 4);
  close(vfd);
  const struct tent e[] = {
      {"link", T_SYMLINK, 0777, target},
      {"link", T_FILE, 0644, "pwned"},
  };
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  husk_err err = {0};
  assert_int_equal(extract(f->dir, fd, NULL, &err), 0);
  close(fd);
  char buf[16] = "";
  vfd = open(target, O_RDONLY);
  assert_int_equal(read(vfd, buf, sizeof(buf)), 4);
  close(vfd);
  assert_string_equal(buf, "safe");
  unlink(target);
}

static void test_failed_unpack_leaves_no_half_layer(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  char root[160];
  snprintf(root, sizeof(root), "%s/store", f->base);
  husk_store *s = NULL;
  husk_err err = {0};
  assert_int_equal(husk_store_open(root, &s, &err), 0);
  const struct tent e[] = {
      {"ok", T_FILE, 0644, "fine"},
      {"up", T_SYMLINK, 0777, "../../../outside"},
      {"up/pwned", T_FILE, 0644, "x"},
  };
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_NONE);
  char blob[200];
  snprintf(blob, sizeof(blob), "%s/blob.tar", f->base);
  int out = open(blob, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    assert_int_equal(write(out, buf, (size_t)n), n);
  close(out);
  close(fd);
  const char *diff = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  assert_true(husk_layer_unpack(s, blob, diff, NULL, &err) < 0);
  assert_non_null(strstr(err.msg, "symlink"));
  char p[200];
  snprintf(p, sizeof(p), "%s/layers", root);
  assert_true(dir_is_empty(p));
  snprintf(p, sizeof(p), "%s/tmp", root);
  assert_true(dir_is_empty(p));
  assert_true(dir_is_empty(f->outside));
  husk_store_close(s);
}

static void test_wrong_diff_id_rejected(void **state)
{
  skip_unless_root();
  struct fixture *f = *state;
  char root[160];
  snprintf(root, sizeof(root), "%s/store", f->base);
  husk_store *s = NULL;
  husk_err err = {0};
  assert_int_equal(husk_store_open(root, &s, &err), 0);
  const struct tent e[] = {{"ok", T_FILE, 0644, "fine"}};
  int fd = build_tar(e, HUSK_ARRAY_SIZE(e), F_GZIP);
  char blob[200];
  snprintf(blob, sizeof(blob), "%s/blob.tar.gz", f->base);
  int out = open(blob, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    assert_int_equal(write(out, buf, (size_t)n), n);
  close(out);
  close(fd);
  const char *diff = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  assert_true(husk_layer_unpack(s, blob, diff, NULL, &err) < 0);
  assert_non_null(strstr(err.msg, "diff id"));
  char p[200];
  snprintf(p, sizeof(p), "%s/layers", root);
  assert_true(dir_is_empty(p));
  snprintf(p, sizeof(p), "%s/tmp", root);
  assert_true(dir_is_empty(p));
  husk_store_close(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_whiteout_becomes_overlay_char_device, setup, teardown),
      cmocka_unit_test_setup_teardown(test_opaque_marker_sets_overlay_xattr, setup, teardown),
      cmocka_unit_test_setup_teardown(test_archive_overlay_xattrs_are_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hardlinks_devices_xattrs_owners_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diff_id_is_sha256_of_uncompressed_tar, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dotdot_path_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_absolute_path_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_through_symlink_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hardlink_out_of_layer_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_symlink_replaced_by_file_does_not_follow, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_failed_unpack_leaves_no_half_layer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_diff_id_rejected, setup, teardown),
  };
  return cmocka_run_group_tests_name("image_extract", tests, NULL, NULL);
}
