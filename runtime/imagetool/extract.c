/* Unpacking tar archives (layers and image archives) with libarchive reading
 * and our own writing: every path is walked one component at a time with
 * O_NOFOLLOW below a directory fd, so nothing is ever written through a
 * symlink or outside the target directory. */
#include "imagetool.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "userns.h"
#include "util.h"

#define SRC_BUF (256 * 1024)

/* ---- reading files inside an unpacked archive ---- */

int husk_open_in_root(int rootfd, const char *path, husk_err *err)
{
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
  int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
  if (fd < 0)
    return husk_errorf(err, errno, "open %s in the archive", path);
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return husk_errorf_plain(err, EINVAL, "%s in the archive is not a regular file", path);
  }
  return fd;
}

int husk_read_in_root(int rootfd, const char *path, size_t max, char **out, size_t *len_out,
                      husk_err *err)
{
  _cleanup_close_ int fd = husk_open_in_root(rootfd, path, err);
  if (fd < 0)
    return fd;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return husk_errorf(err, errno, "stat %s", path);
  if ((uint64_t)st.st_size > max)
    return husk_errorf_plain(err, EFBIG, "%s in the archive is too large (%lld bytes)", path,
                             (long long)st.st_size);
  size_t n = (size_t)st.st_size;
  char *buf = husk_xmalloc(n + 1);
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      free(buf);
      return husk_errorf(err, e, "read %s", path);
    }
    got += (size_t)r;
  }
  buf[n] = '\0';
  *out = buf;
  if (len_out)
    *len_out = n;
  return 0;
}

/* ---- the decompressed, hashed source stream ---- */

struct source {
  struct archive *raw; /* any compression, "raw" format: the plain tar bytes */
  struct sha256_ctx sha;
  char *buf;
};

static la_ssize_t source_read(struct archive *a, void *data, const void **buf)
{
  struct source *src = data;
  la_ssize_t n = archive_read_data(src->raw, src->buf, SRC_BUF);
  if (n < 0) {
    archive_set_error(a, archive_errno(src->raw) ? archive_errno(src->raw) : EIO, "%s",
                      archive_error_string(src->raw) ? archive_error_string(src->raw)
                                                     : "decompression failed");
    return -1;
  }
  sha256_update(&src->sha, (size_t)n, (const uint8_t *)src->buf);
  *buf = src->buf;
  return n;
}

/* ---- the extraction context ---- */

struct dirtime {
  char *rel;
  struct timespec ts[2];
};

struct xctx {
  int root;
  const char *dir;
  bool layer;
  bool is_root;    /* privileged on the host: trusted xattrs, device nodes, any owner */
  char *cache_rel; /* parent path of the last entry and its fd */
  int cache_fd;
  struct dirtime *dirs;
  size_t ndirs, capdirs;
  uint64_t size;
};

static void cache_drop(struct xctx *x)
{
  free(x->cache_rel);
  x->cache_rel = NULL;
  if (x->cache_fd >= 0)
    close(x->cache_fd);
  x->cache_fd = -1;
}

/* Normalize an entry name: drop "." and empty components; refuse absolute
 * names and "..". *out is "" for the root itself. */
static int clean_path(const char *in, const char *what, char **out, husk_err *err)
{
  if (in == NULL || *in == '\0')
    return husk_errorf_plain(err, EINVAL, "archive entry without a name");
  if (in[0] == '/')
    return husk_errorf_plain(err, EPERM, "refusing %s \"%s\": absolute path", what, in);
  size_t n = strlen(in);
  char *res = husk_xmalloc(n + 1);
  size_t k = 0;
  const char *p = in;
  while (*p) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      free(res);
      return husk_errorf_plain(err, EPERM, "refusing %s \"%s\": \"..\" leaves the directory", what,
                               in);
    }
    if (len > 0 && !(len == 1 && p[0] == '.')) {
      if (k)
        res[k++] = '/';
      memcpy(res + k, p, len);
      k += len;
    }
    p += len;
    if (*p == '/')
      p++;
  }
  res[k] = '\0';
  *out = res;
  return 0;
}

/* Why openat(O_NOFOLLOW|O_DIRECTORY) of rel's component failed. */
static int walk_error(int dfd, const char *comp, const char *rel, int e, husk_err *err)
{
  struct stat st;
  if ((e == ELOOP || e == ENOTDIR) && fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode))
      return husk_errorf_plain(err, EPERM,
                               "refusing \"%s\": \"%s\" on its path is a symlink (writing through "
                               "symlinks could leave the directory)",
                               rel, comp);
    return husk_errorf_plain(err, ENOTDIR, "cannot write \"%s\": \"%s\" is not a directory", rel,
                             comp);
  }
  return husk_errorf(err, e, "open \"%s\" of \"%s\"", comp, rel);
}

/* Open the directory that holds rel's last component (an owned fd); each
 * component is opened O_NOFOLLOW, missing ones are created when create is
 * set.  *base points into rel. */
static int open_parent(struct xctx *x, const char *rel, bool create, const char **base,
                       husk_err *err)
{
  const char *slash = strrchr(rel, '/');
  *base = slash ? slash + 1 : rel;
  size_t plen = slash ? (size_t)(slash - rel) : 0;
  if (plen == 0) {
    int fd = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
    return fd < 0 ? husk_errorf(err, errno, "dup") : fd;
  }
  if (x->cache_rel && strlen(x->cache_rel) == plen && strncmp(x->cache_rel, rel, plen) == 0) {
    int fd = fcntl(x->cache_fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
      return husk_errorf(err, errno, "dup");
    return fd;
  }
  _cleanup_free_ char *parent = husk_xasprintf("%.*s", (int)plen, rel);
  int cur = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    return husk_errorf(err, errno, "dup");
  for (char *save = NULL, *c = strtok_r(parent, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
    int next = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        close(cur);
        return husk_errorf(err, e, "mkdir \"%s\" for \"%s\"", c, rel);
      }
      next = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      int r = walk_error(cur, c, rel, errno, err);
      close(cur);
      return r;
    }
    close(cur);
    cur = next;
  }
  cache_drop(x);
  x->cache_rel = husk_xasprintf("%.*s", (int)plen, rel);
  x->cache_fd = fcntl(cur, F_DUPFD_CLOEXEC, 3);
  return cur;
}

/* Remove whatever is at pfd/base, keeping an existing directory when
 * keep_dir.  Returns 1 when a directory was kept. */
static int remove_existing(struct xctx *x, int pfd, const char *base, const char *rel,
                           bool keep_dir, husk_err *err)
{
  struct stat st;
  if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return 0;
    return husk_errorf(err, errno, "stat \"%s\"", rel);
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir)
      return 1;
    cache_drop(x);
    return husk_remove_tree(pfd, base, err);
  }
  if (unlinkat(pfd, base, 0) < 0)
    return husk_errorf(err, errno, "replace \"%s\"", rel);
  return 0;
}

static bool xattr_allowed(const char *name)
{
  /* overlay's own attributes come only from whiteout entries: a layer must
   * not smuggle in redirects or opaque markers of its own choosing */
  return strncmp(name, "trusted.overlay.", 16) != 0 && strncmp(name, "user.overlay.", 13) != 0;
}

static int apply_xattrs(struct xctx *x, struct archive_entry *e, int fd, int pfd, const char *base,
                        const char *rel, husk_err *err)
{
  if (!x->layer || archive_entry_xattr_reset(e) == 0)
    return 0;
  const char *name;
  const void *val;
  size_t size;
  char procpath[64 + NAME_MAX];
  snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d/%s", pfd, base);
  while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
    if (name == NULL || !xattr_allowed(name))
      continue;
    int r = fd >= 0 ? fsetxattr(fd, name, val, size, 0) : lsetxattr(procpath, name, val, size, 0);
    if (r < 0) {
      if (errno == ENOTSUP && strcmp(name, "security.capability") != 0)
        continue; /* the filesystem cannot hold it: like tar, go on */
      return husk_errorf(err, errno, "set xattr %s on \"%s\"", name, rel);
    }
  }
  return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime_is_set(e) ? archive_entry_mtime(e) : 0;
  ts[1].tv_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;
  if (archive_entry_atime_is_set(e)) {
    ts[0].tv_sec = archive_entry_atime(e);
    ts[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    ts[0] = ts[1];
  }
}

/* Owner, mode, xattrs and times of a just written entry.  fd: an open fd of
 * it (regular files, dirs) or -1. */
static int apply_meta(struct xctx *x, struct archive_entry *e, int fd, int pfd, const char *base,
                      const char *rel, mode_t type, husk_err *err)
{
  if (!x->layer)
    return 0;
  uid_t uid = (uid_t)archive_entry_uid(e);
  gid_t gid = (gid_t)archive_entry_gid(e);
  int r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
  /* rootless: the ids outside our maps stay ours (EPERM, or EINVAL in a user namespace) */
  if (r < 0 && !((errno == EPERM || errno == EINVAL) && !x->is_root))
    return husk_errorf(err, errno, "chown \"%s\" to %u:%u", rel, (unsigned)uid, (unsigned)gid);
  if (type != AE_IFLNK) {
    mode_t perm = archive_entry_perm(e) & 07777;
    r = fd >= 0 ? fchmod(fd, perm) : fchmodat(pfd, base, perm, 0);
    if (r < 0)
      return husk_errorf(err, errno, "chmod \"%s\"", rel);
  }
  r = apply_xattrs(x, e, fd, pfd, base, rel, err);
  if (r < 0)
    return r;
  struct timespec ts[2];
  entry_times(e, ts);
  if (type == AE_IFDIR) {
    if (x->ndirs == x->capdirs) {
      x->capdirs = x->capdirs ? x->capdirs * 2 : 64;
      x->dirs = husk_xrealloc(x->dirs, x->capdirs * sizeof(*x->dirs));
    }
    x->dirs[x->ndirs].rel = husk_xstrdup(rel);
    x->dirs[x->ndirs].ts[0] = ts[0];
    x->dirs[x->ndirs].ts[1] = ts[1];
    x->ndirs++;
    return 0;
  }
  r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
  if (r < 0)
    return husk_errorf(err, errno, "set times of \"%s\"", rel);
  return 0;
}

static int write_data(struct archive *a, int fd, const char *rel, husk_err *err)
{
  const void *buf;
  size_t size;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
    const char *p = buf;
    while (size > 0) {
      ssize_t w = pwrite(fd, p, size, off);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return husk_errorf(err, errno, "write \"%s\"", rel);
      }
      p += w;
      size -= (size_t)w;
      off += w;
    }
  }
  if (r != ARCHIVE_EOF)
    return husk_errorf_plain(err, archive_errno(a) > 0 ? archive_errno(a) : EIO,
                             "read \"%s\" from the archive: %s", rel, archive_error_string(a));
  return 0;
}

static int do_whiteout(struct xctx *x, struct archive_entry *e, int pfd, const char *base,
                       const char *rel, husk_err *err)
{
  if (strcmp(base, ".wh..wh..opq") == 0) {
    /* rootless stores are mounted with overlay's userxattr option */
    const char *attr = x->is_root ? "trusted.overlay.opaque" : "user.overlay.opaque";
    if (fsetxattr(pfd, attr, "y", 1, 0) < 0)
      return husk_errorf(err, errno, "mark the directory of \"%s\" opaque", rel);
    return 0;
  }
  if (strncmp(base, ".wh..wh.", 8) == 0)
    return 0; /* aufs metadata (.wh..wh.plnk, ...): nothing for overlay */
  const char *name = base + 4;
  if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return husk_errorf_plain(err, EPERM, "refusing whiteout \"%s\": no name", rel);
  int r = remove_existing(x, pfd, name, rel, false, err);
  if (r < 0)
    return r;
  if (mknodat(pfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
    return husk_errorf(err, errno, "create the whiteout of \"%s\"", rel);
  if (fchownat(pfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
               AT_SYMLINK_NOFOLLOW) < 0 &&
      errno != EPERM && errno != EINVAL)
    return husk_errorf(err, errno, "chown the whiteout of \"%s\"", rel);
  return 0;
}

static int do_hardlink(struct xctx *x, struct archive_entry *e, int pfd, const char *base,
                       const char *rel, husk_err *err)
{
  _cleanup_free_ char *target = NULL;
  int r = clean_path(archive_entry_hardlink(e), "hard link target", &target, err);
  if (r < 0)
    return husk_error_wrap(err, "hard link \"%s\"", rel);
  if (*target == '\0')
    return husk_errorf_plain(err, EPERM, "refusing hard link \"%s\" to the root directory", rel);
  const char *tbase;
  _cleanup_close_ int tpfd = open_parent(x, target, false, &tbase, err);
  if (tpfd < 0)
    return husk_error_wrap(err, "hard link \"%s\"", rel);
  /* open_parent may have replaced the cache: pfd stays valid, it is ours */
  struct stat tst, dst;
  if (fstatat(tpfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
    return husk_errorf(err, errno, "refusing hard link \"%s\": target \"%s\" is not in the archive",
                       rel, target);
  if (S_ISDIR(tst.st_mode))
    return husk_errorf_plain(err, EPERM, "refusing hard link \"%s\" to directory \"%s\"", rel,
                             target);
  if (fstatat(pfd, base, &dst, AT_SYMLINK_NOFOLLOW) == 0 && dst.st_ino == tst.st_ino &&
      dst.st_dev == tst.st_dev)
    return 0;
  r = remove_existing(x, pfd, base, rel, false, err);
  if (r < 0)
    return r;
  if (linkat(tpfd, tbase, pfd, base, 0) < 0)
    return husk_errorf(err, errno, "hard link \"%s\" to \"%s\"", rel, target);
  return 0;
}

static int do_entry(struct xctx *x, struct archive *a, struct archive_entry *e, husk_err *err)
{
  _cleanup_free_ char *rel = NULL;
  int r = clean_path(archive_entry_pathname(e), "path", &rel, err);
  if (r < 0)
    return r;
  if (*rel == '\0')
    return 0; /* "./": the root directory itself */
  const char *base;
  _cleanup_close_ int pfd = open_parent(x, rel, true, &base, err);
  if (pfd < 0)
    return pfd;
  if (strlen(base) > NAME_MAX)
    return husk_errorf_plain(err, ENAMETOOLONG, "name too long: \"%s\"", rel);

  if (x->layer && strncmp(base, ".wh.", 4) == 0)
    return do_whiteout(x, e, pfd, base, rel, err);
  if (archive_entry_hardlink(e))
    return do_hardlink(x, e, pfd, base, rel, err);

  mode_t type = archive_entry_filetype(e);
  switch (type) {
  case AE_IFDIR: {
    r = remove_existing(x, pfd, base, rel, true, err);
    if (r < 0)
      return r;
    if (r == 0 && mkdirat(pfd, base, 0700) < 0)
      return husk_errorf(err, errno, "mkdir \"%s\"", rel);
    _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return husk_errorf(err, errno, "open \"%s\"", rel);
    if (!x->layer)
      return 0;
    return apply_meta(x, e, fd, pfd, base, rel, type, err);
  }
  case AE_IFREG: {
    r = remove_existing(x, pfd, base, rel, false, err);
    if (r < 0)
      return r;
    _cleanup_close_ int fd =
        openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
      return husk_errorf(err, errno, "create \"%s\"", rel);
    r = write_data(a, fd, rel, err);
    if (r < 0)
      return r;
    if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
      return husk_errorf(err, errno, "truncate \"%s\"", rel);
    x->size += (uint64_t)archive_entry_size(e);
    return apply_meta(x, e, fd, pfd, base, rel, type, err);
  }
  case AE_IFLNK: {
    const char *target = archive_entry_symlink(e);
    if (target == NULL || *target == '\0')
      return husk_errorf_plain(err, EINVAL, "symlink \"%s\" without a target", rel);
    r = remove_existing(x, pfd, base, rel, false, err);
    if (r < 0)
      return r;
    if (symlinkat(target, pfd, base) < 0)
      return husk_errorf(err, errno, "symlink \"%s\"", rel);
    return apply_meta(x, e, -1, pfd, base, rel, type, err);
  }
  case AE_IFCHR:
  case AE_IFBLK:
  case AE_IFIFO: {
    if (!x->layer)
      return 0; /* an image archive holds no devices that matter */
    r = remove_existing(x, pfd, base, rel, false, err);
    if (r < 0)
      return r;
    dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
    if (mknodat(pfd, base, type | (archive_entry_perm(e) & 07777), dev) < 0) {
      if (errno == EPERM && !x->is_root && type != AE_IFIFO)
        return 0; /* rootless: no device nodes (the runtime provides /dev) */
      return husk_errorf(err, errno, "mknod \"%s\"", rel);
    }
    return apply_meta(x, e, -1, pfd, base, rel, type, err);
  }
  case AE_IFSOCK:
    return 0;
  default:
    return husk_errorf_plain(err, EINVAL, "\"%s\": unsupported entry type 0%o", rel,
                             (unsigned)type);
  }
}

static int finish_dirs(struct xctx *x, husk_err *err)
{
  for (size_t i = x->ndirs; i-- > 0;) {
    const char *base;
    _cleanup_close_ int pfd = open_parent(x, x->dirs[i].rel, false, &base, err);
    if (pfd < 0) {
      if (err->code == ENOENT)
        continue; /* removed by a later entry */
      return pfd;
    }
    if (utimensat(pfd, base, x->dirs[i].ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
      return husk_errorf(err, errno, "set times of \"%s\"", x->dirs[i].rel);
  }
  return 0;
}

int husk_extract_fd(int fd, const char *dir, const husk_extract_opts *o, char **diff_id_out,
                    uint64_t *size_out, husk_err *err)
{
  struct xctx x = {.layer = o && o->layer, .dir = dir, .cache_fd = -1, .is_root = !husk_rootless()};
  x.root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (x.root < 0)
    return husk_errorf(err, errno, "open %s", dir);
  struct source src = {.buf = husk_xmalloc(SRC_BUF)};
  sha256_init(&src.sha);
  struct archive *tar = NULL;
  int r = 0;

  src.raw = archive_read_new();
  archive_read_support_filter_all(src.raw);
  archive_read_support_format_raw(src.raw);
  struct archive_entry *re;
  if (archive_read_open_fd(src.raw, fd, SRC_BUF) != ARCHIVE_OK ||
      archive_read_next_header(src.raw, &re) != ARCHIVE_OK) {
    r = husk_errorf_plain(err, EINVAL, "not a readable archive: %s",
                          archive_error_string(src.raw) ? archive_error_string(src.raw) : "empty");
    goto out;
  }
  tar = archive_read_new();
  archive_read_support_format_tar(tar);
  if (archive_read_open(tar, &src, NULL, source_read, NULL) != ARCHIVE_OK) {
    r = husk_errorf_plain(err, EINVAL, "not a tar archive: %s", archive_error_string(tar));
    goto out;
  }
  for (;;) {
    struct archive_entry *e;
    int ar = archive_read_next_header(tar, &e);
    if (ar == ARCHIVE_EOF)
      break;
    if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
      r = husk_errorf_plain(err, EINVAL, "bad tar archive: %s", archive_error_string(tar));
      goto out;
    }
    r = do_entry(&x, tar, e, err);
    if (r < 0)
      goto out;
  }
  /* the bytes after the end-of-archive blocks count for the diff id too */
  for (;;) {
    la_ssize_t n = archive_read_data(src.raw, src.buf, SRC_BUF);
    if (n < 0) {
      r = husk_errorf_plain(err, EIO, "read archive: %s", archive_error_string(src.raw));
      goto out;
    }
    if (n == 0)
      break;
    sha256_update(&src.sha, (size_t)n, (const uint8_t *)src.buf);
  }
  r = finish_dirs(&x, err);
  if (r < 0)
    goto out;
  if (x.layer)
    fchmod(x.root, 0755);
  if (diff_id_out) {
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&src.sha, sizeof(d), d);
    char *s = husk_xmalloc(7 + 64 + 1);
    memcpy(s, "sha256:", 7);
    for (size_t i = 0; i < sizeof(d); i++)
      sprintf(s + 7 + 2 * i, "%02x", d[i]);
    *diff_id_out = s;
  }
  if (size_out)
    *size_out = x.size;
out:
  if (tar)
    archive_read_free(tar);
  archive_read_free(src.raw);
  free(src.buf);
  cache_drop(&x);
  for (size_t i = 0; i < x.ndirs; i++)
    free(x.dirs[i].rel);
  free(x.dirs);
  close(x.root);
  return r;
}

int husk_layer_unpack(husk_store *s, const char *path, const char *diff_id, uint64_t *size_out,
                      husk_err *err)
{
  if (husk_store_has_layer(s, diff_id)) {
    if (size_out) {
      _cleanup_free_ char *lp = husk_store_layer_path(s, diff_id);
      _cleanup_close_ int lfd = open(lp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      *size_out = lfd >= 0 ? husk_layer_dir_size(lfd) : 0;
    }
    return 0;
  }
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return husk_errorf(err, errno, "open layer %s", path);
  _cleanup_free_ char *tmp = NULL;
  int r = husk_store_mkdtemp(s, "layer-", &tmp, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *got = NULL;
  husk_extract_opts o = {.layer = true};
  uint64_t size = 0;
  r = husk_extract_fd(fd, tmp, &o, &got, &size, err);
  if (r >= 0 && strcmp(got, diff_id) != 0)
    r = husk_errorf_plain(err, EINVAL, "layer content has diff id %s but the image config says %s",
                          got, diff_id);
  if (r >= 0)
    r = husk_store_put_layer_dir(s, tmp, diff_id, err);
  if (r < 0) {
    husk_err ignored;
    husk_remove_tree(AT_FDCWD, tmp, &ignored);
    return husk_error_wrap(err, "unpack layer %.19s", diff_id);
  }
  if (size_out)
    *size_out = size;
  return 0;
}

const char *husk_host_platform_arch(void)
{
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#elif defined(__powerpc64__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv)
  return "riscv64";
#else
  return "amd64";
#endif
}
