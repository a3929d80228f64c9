/* libFuzzer target: the layer extractor (husk_extract_fd) on an archive in a
 * memfd, into a fresh directory under a private temp dir.  Also checks the
 * extractor's promise: nothing is written outside the target directory. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "imagetool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[] = "/tmp/husk-fuzz-extract-XXXXXX";

static void remove_base(void)
{
  husk_err err;
  husk_remove_tree(AT_FDCWD, base, &err);
}

static int count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  int n = 0;
  if (!d)
    return -1;
  for (struct dirent *e; (e = readdir(d));)
    n++;
  closedir(d);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  if (!ready) {
    if (!mkdtemp(base))
      abort();
    atexit(remove_base);
    ready = 1;
  }
  int fd = memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
    abort();
  char dir[128];
  snprintf(dir, sizeof(dir), "%s/x", base);
  if (mkdir(dir, 0755) < 0)
    abort();
  husk_err err = {0};
  husk_extract_opts o = {.layer = (size & 1) == 0};
  char *diff_id = NULL;
  uint64_t sz = 0;
  husk_extract_fd(fd, dir, &o, &diff_id, &sz, &err);
  free(diff_id);
  close(fd);
  /* base holds only x: anything else escaped the target directory */
  if (count_entries(base) != 3)
    abort();
  if (husk_remove_tree(AT_FDCWD, dir, &err) < 0)
    abort();
  return 0;
}
