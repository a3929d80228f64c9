/* husk-netfw: applies husk's nftables rules.  husk runs it only when its
 * rules must change (first/last container of a network, published ports),
 * so that husk itself does not load libnftables (and libnftnl, libjansson,
 * libgmp, libxtables) on every start.
 *
 *   husk-netfw apply   read an nft script on stdin, run it as one transaction
 *   husk-netfw check   the same, without committing (--check)
 *   husk-netfw list    print `table ip husk` (nothing when it does not exist)
 */
#include <errno.h>
#include <stdbool.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_stdin(void)
{
  size_t cap = 8192, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  for (;;) {
    if (len + 1 >= cap) {
      cap *= 2;
      char *n = realloc(buf, cap);
      if (n == NULL) {
        free(buf);
        return NULL;
      }
      buf = n;
    }
    ssize_t r = read(0, buf + len, cap - len - 1);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      free(buf);
      return NULL;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  return buf;
}

static void usage(FILE *f)
{
  fprintf(f, "Usage: husk-netfw apply|check|list\n"
             "  apply  run the nft script on stdin as one transaction\n"
             "  check  parse and check the script on stdin without applying it\n"
             "  list   print husk's table (table ip husk)\n");
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  bool list = strcmp(cmd, "list") == 0;
  bool check = strcmp(cmd, "check") == 0;
  if (!list && !check && strcmp(cmd, "apply") != 0) {
    usage(stderr);
    return 2;
  }
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == NULL) {
    fprintf(stderr, "husk-netfw: cannot create an nftables context\n");
    return 1;
  }
  nft_ctx_buffer_error(ctx);
  int rc;
  if (list) {
    rc = nft_run_cmd_from_buffer(ctx, "list table ip husk");
    if (rc != 0) {
      /* no table: nothing to list */
      nft_ctx_free(ctx);
      return 0;
    }
  } else {
    char *script = read_stdin();
    if (script == NULL) {
      fprintf(stderr, "husk-netfw: cannot read the rules: %s\n", strerror(errno));
      nft_ctx_free(ctx);
      return 1;
    }
    if (check)
      nft_ctx_set_dry_run(ctx, true);
    rc = nft_run_cmd_from_buffer(ctx, script);
    free(script);
  }
  if (rc != 0) {
    const char *msg = nft_ctx_get_error_buffer(ctx);
    fprintf(stderr, "%s", msg && *msg ? msg : "husk-netfw: nftables refused the rules\n");
  }
  nft_ctx_free(ctx);
  return rc == 0 ? 0 : 1;
}
