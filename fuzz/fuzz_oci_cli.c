/* libFuzzer target: the OCI command line (husk_oci_main).  The input is
 * split into arguments at NUL bytes.  Only commands that cannot change
 * anything are let through (not delete: --force acts on ids), as the first
 * argument.  run.sh passes -close_fd_mask=3 (the commands' output is noise), always with a private
 * empty --root (so every container lookup fails) and without --log/--root overrides. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/husk-fuzz-oci-XXXXXX";

static void remove_root(void)
{
  husk_err err;
  husk_remove_tree(AT_FDCWD, root, &err);
}

static const char *const allowed[] = {"state", "kill",   "start", "list",   "ps",    "features",
                                      "exec",  "update", "pause", "resume", "stats", "help"};

static int arg_ok(const char *a)
{
  /* --root/--rootless and --log (a file to write) stay ours */
  if (strncmp(a, "--r", 3) == 0 || strcmp(a, "--log") == 0 || strncmp(a, "--log=", 6) == 0)
    return 0;
  /* exec -p FILE reads a file: fine; --pid-file/--console-socket write/connect */
  if (strncmp(a, "--pid", 5) == 0 || strncmp(a, "--con", 5) == 0)
    return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  if (!ready) {
    if (!mkdtemp(root))
      abort();
    atexit(remove_root);
    ready = 1;
  }
  if (size > 4096)
    return 0;
  char *buf = malloc(size + 1);
  memcpy(buf, data, size);
  buf[size] = 0;
  char *argv[24] = {"husk-oci", "--root", root};
  int argc = 3;
  for (char *p = buf; p < buf + size && argc < 23; p += strlen(p) + 1) {
    if (!arg_ok(p))
      goto out;
    argv[argc++] = p;
  }
  argv[argc] = NULL;
  /* the first argument is the command (no global options from the input: some
   * take a value, which would let another command through): a harmless one */
  int cmd_ok = 0;
  for (size_t k = 0; argc > 3 && k < sizeof(allowed) / sizeof(allowed[0]); k++)
    cmd_ok |= strcmp(argv[3], allowed[k]) == 0;
  if (cmd_ok)
    husk_oci_main(argc, argv);
out:
  free(buf);
  return 0;
}
