#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cgroup.h"
#include "dmz.h"
#include "hooks.h"
#include "mounts.h"
#include "namespaces.h"
#include "process.h"
#include "husk_seccomp.h"
#include "state.h"
#include "sync.h"
#include "terminal.h"
#include "userns.h"
#include "util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum create_mode { MODE_CREATE, MODE_RUN };

/* Seconds the runtime waits for a step of the init's setup (hooks have their
 * own timeouts on top). */
#define HUSK_SETUP_TIMEOUT 120

/* Everything the container's init needs; it lives in the runtime's memory,
 * which the init inherits by clone. */
typedef struct init_args {
  const husk_spec *spec;
  const char *id;
  const char *rootfs;
  const char *bundle;
  husk_ns_plan *plan;
  enum create_mode mode;
  int sync_fd;
  int fifo_fd;     /* O_PATH of exec.fifo (create), else -1 */
  int statedir_fd; /* holds the create lock: the init must not keep it */
  int console_fd;  /* connected --console-socket, else -1 */
  const husk_seccomp_prog *seccomp;
  husk_cgroup_layout layout;
  husk_cgroup *cg;  /* joined by the init itself (NULL: the runtime joins it) */
  bool into_cgroup; /* clone3 already placed us in the v2 cgroup */
  int preserve_fds;
  sigset_t sigmask; /* to restore before exec */
  pid_t hostpid;    /* our pid as the runtime sees it (from the GO message) */
  int dmz_fd;       /* the sealed exec stub */
} init_args;

typedef struct runtime_ctx {
  husk_spec *owned_spec;
  const husk_spec *spec;
  char bundle[PATH_MAX];
  char rootfs[PATH_MAX];
  char *config_json;
  size_t config_len;
  int statedir;
  bool created_statedir;
  husk_cgroup *cg;
  husk_ns_plan plan;
  husk_seccomp_prog seccomp;
  int console_fd;
  int sync_fd;
  int tty_master;
  pid_t pid;
  int pidfd;
  int dmz_fd;
} runtime_ctx;

static void ctx_init(runtime_ctx *c)
{
  memset(c, 0, sizeof(*c));
  c->statedir = c->console_fd = c->sync_fd = c->tty_master = c->pidfd = c->dmz_fd = -1;
  for (int i = 0; i < HUSK_NS_COUNT; i++)
    c->plan.fds[i] = -1;
}

static void ctx_release(runtime_ctx *c)
{
  husk_closep(&c->statedir);
  husk_closep(&c->dmz_fd);
  husk_closep(&c->console_fd);
  husk_closep(&c->sync_fd);
  husk_closep(&c->tty_master);
  husk_closep(&c->pidfd);
  husk_ns_plan_close(&c->plan);
  husk_seccomp_prog_clear(&c->seccomp);
  if (c->cg)
    husk_cgroup_free(c->cg);
  c->cg = NULL;
  husk_spec_free(c->owned_spec);
  c->owned_spec = NULL;
  free(c->config_json);
  c->config_json = NULL;
}

/* ---- removing a state directory ------------------------------------------ */

static void remove_state_dir(const char *root, const char *id)
{
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", root, id);
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
  }
  rmdir(path);
}

/* ---- the container's init ------------------------------------------------- */

static char *init_state_json(const init_args *a, pid_t hostpid, husk_status status)
{
  husk_state st = {.id = (char *)a->id,
                   .bundle = (char *)a->bundle,
                   .oci_version = a->spec->oci_version,
                   .pid = hostpid,
                   .annotations = a->spec->annotations,
                   .n_annotations = a->spec->n_annotations};
  return husk_state_to_json(&st, status, false);
}

static int init_setup(init_args *a, husk_err *err)
{
  const husk_spec *spec = a->spec;
  husk_sync_msg msg;
  int r = husk_sync_recv(a->sync_fd, &msg, NULL);
  if (r < 0)
    return husk_errorf(err, -r, "wait for the runtime");
  if (msg.type != HUSK_SYNC_GO)
    _exit(1); /* the runtime gave up; it reports its own error */
  pid_t hostpid = a->hostpid = msg.value;
  if (husk_cgroup_enter_self(a->cg, a->into_cgroup, err) < 0)
    return husk_error_ret(err);

  if (a->plan->clone_flags & CLONE_NEWUSER) {
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
      return husk_errorf(err, errno, "become root in the user namespace");
  }
  if (husk_ns_join_child(a->plan, err) < 0)
    return husk_error_ret(err);
  if ((a->plan->unshare_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
    return husk_errorf(err, errno, "create cgroup namespace");

  if (husk_process_apply_limits(&spec->process, spec, err) < 0)
    return husk_error_ret(err);

  bool mountns = spec->ns[HUSK_NS_MOUNT].present;
  husk_rootfs rfs = {.spec = spec,
                     .rootfs = a->rootfs,
                     .bundle = a->bundle,
                     .userns = spec->ns[HUSK_NS_USER].present,
                     .cgroup_layout = a->layout,
                     .rootfd = -1};
  if (mountns && husk_rootfs_prepare(&rfs, err) < 0)
    return husk_error_ret(err);
  if (!mountns) {
    rfs.rootfd = open(a->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rfs.rootfd < 0)
      return husk_errorf(err, errno, "open rootfs %s", a->rootfs);
  }

  _cleanup_free_ char *state_json = NULL;
  if (spec->hooks.count[HUSK_HOOK_PRESTART] || spec->hooks.count[HUSK_HOOK_CREATE_RUNTIME]) {
    husk_sync_send(a->sync_fd, HUSK_SYNC_HOOKS, 0, NULL);
    r = husk_sync_recv(a->sync_fd, &msg, NULL);
    if (r < 0 || msg.type != HUSK_SYNC_HOOKS_DONE)
      _exit(1);
  }
  if (spec->hooks.count[HUSK_HOOK_CREATE_CONTAINER]) {
    state_json = init_state_json(a, hostpid, HUSK_STATUS_CREATING);
    if (husk_hooks_run(spec, HUSK_HOOK_CREATE_CONTAINER, state_json, err) < 0)
      return husk_error_ret(err);
  }

  if (husk_rootfs_pivot(&rfs, mountns, err) < 0)
    return husk_error_ret(err);
  if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
    return husk_errorf(err, errno, "sethostname %s", spec->hostname);
  if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
    return husk_errorf(err, errno, "setdomainname %s", spec->domainname);
  if (husk_apply_sysctl(spec, err) < 0)
    return husk_error_ret(err);
  if (mountns && husk_rootfs_finish(&rfs, err) < 0)
    return husk_error_ret(err);
  husk_closep(&rfs.rootfd);

  if (spec->process.terminal) {
    int master = -1, slave = -1;
    if (husk_tty_open(&master, &slave, spec->process.console_height, spec->process.console_width,
                      mountns, err) < 0)
      return husk_error_ret(err);
    if (a->console_fd >= 0)
      r = husk_tty_send(a->console_fd, master, err);
    else
      r = husk_sync_send_fd(a->sync_fd, HUSK_SYNC_TTY, master) < 0
              ? husk_errorf(err, EPIPE, "send pty to the runtime")
              : 0;
    close(master);
    husk_closep(&a->console_fd);
    if (r < 0)
      return r;
    if (husk_tty_make_stdio(slave, err) < 0)
      return husk_error_ret(err);
  }
  return 0;
}

static _Noreturn void init_main(init_args *a)
{
  husk_err err = {0};
  close(a->statedir_fd); /* the flock is shared with the runtime's fd */
  prctl(PR_SET_NAME, "husk:init", 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  const husk_process *proc = &a->spec->process;
  char exe[PATH_MAX];
  if (init_setup(a, &err) < 0 || husk_process_find_exec(proc, exe, sizeof(exe), &err) < 0) {
    husk_sync_send(a->sync_fd, HUSK_SYNC_ERROR, 0, &err);
    _exit(1);
  }
  /* The runtime may exit once we are ready (create); we must survive it. */
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  husk_sync_send(a->sync_fd, HUSK_SYNC_READY, 0, NULL);
  close(a->sync_fd);

  if (a->mode == MODE_CREATE) {
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", a->fifo_fd);
    int fd;
    do
      fd = open(p, O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 || write(fd, "0", 1) != 1)
      _exit(1);
    close(fd);
    close(a->fifo_fd);
  }
  if (a->spec->hooks.count[HUSK_HOOK_START_CONTAINER]) {
    _cleanup_free_ char *sj = init_state_json(a, a->hostpid, HUSK_STATUS_RUNNING);
    if (husk_hooks_run(a->spec, HUSK_HOOK_START_CONTAINER, sj, &err) < 0)
      goto fail;
  }
  syscall(SYS_close_range, 3 + a->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
  sigprocmask(SIG_SETMASK, &a->sigmask, NULL);
  if (husk_process_finalize(proc, a->seccomp, &err) < 0)
    goto fail;
  husk_process_exec(exe, proc, a->dmz_fd, &err);
fail:
  dprintf(2, "husk: %s\n", err.msg);
  _exit(127);
}

/* ---- cloning ------------------------------------------------------------- */

static pid_t clone_child(uint64_t flags, int cgroup_fd, bool *into_cgroup)
{
  struct clone_args args = {.flags = flags, .exit_signal = SIGCHLD};
  *into_cgroup = false;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
    long pid = syscall(SYS_clone3, &args, sizeof(args));
    if (pid >= 0) {
      *into_cgroup = true;
      return (pid_t)pid;
    }
    args.flags = flags;
    args.cgroup = 0;
  }
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0 && errno == ENOSYS)
    pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
  return (pid_t)pid;
}

/* ---- create ---------------------------------------------------------------- */

static int resolve_paths(runtime_ctx *c, const husk_create_opts *o, husk_err *err)
{
  const char *b = o->bundle ? o->bundle : ".";
  if (realpath(b, c->bundle) == NULL)
    return husk_errorf(err, errno, "bundle %s", b);
  if (o->spec) {
    c->spec = o->spec;
  } else {
    char cfg[PATH_MAX];
    if (o->config)
      snprintf(cfg, sizeof(cfg), "%s", o->config);
    else
      snprintf(cfg, sizeof(cfg), "%s/config.json", c->bundle);
    if (husk_read_file_at(AT_FDCWD, cfg, &c->config_json, &c->config_len, err) < 0)
      return husk_error_ret(err);
    if (husk_spec_parse(c->config_json, c->config_len, &c->owned_spec, err) < 0)
      return husk_error_ret(err);
    c->spec = c->owned_spec;
  }
  const char *root = c->spec->root_path;
  if (root == NULL)
    return husk_errorf_plain(err, EINVAL, "config.json: root.path is required");
  char joined[PATH_MAX];
  if (root[0] == '/')
    snprintf(joined, sizeof(joined), "%s", root);
  else
    snprintf(joined, sizeof(joined), "%s/%s", c->bundle, root);
  if (realpath(joined, c->rootfs) == NULL)
    return husk_errorf(err, errno, "root.path %s", joined);
  struct stat st;
  if (stat(c->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
    return husk_errorf_plain(err, ENOTDIR, "root.path %s is not a directory", c->rootfs);
  if (!c->spec->has_process)
    return husk_errorf_plain(err, EINVAL, "config.json: process is required to start a container");
  return 0;
}

static int write_pid_file(const char *path, pid_t pid, husk_err *err)
{
  if (path == NULL)
    return 0;
  char buf[32], dir[PATH_MAX];
  int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  const char *base = path;
  _cleanup_close_ int dfd = -1;
  if (slash) {
    *slash = '\0';
    base = slash + 1;
    dfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
      return husk_errorf(err, errno, "pid file directory %s", dir[0] ? dir : "/");
  }
  if (husk_write_file_atomic(slash ? dfd : AT_FDCWD, base, buf, (size_t)n, err) < 0)
    return husk_error_wrap(err, "pid file %s", path);
  return 0;
}

/* The state fields every writer of state.json or of a hook's stdin shares. */
static husk_state ctx_state(const runtime_ctx *c, const char *id)
{
  return (husk_state){.id = (char *)id,
                      .bundle = (char *)c->bundle,
                      .rootfs = (char *)c->rootfs,
                      .oci_version = c->spec->oci_version,
                      .pid = c->pid,
                      .cgroup_path = c->cg ? (char *)husk_cgroup_path(c->cg) : NULL,
                      .annotations = c->spec->annotations,
                      .n_annotations = c->spec->n_annotations};
}

/* The owner is not looked up here (getpwuid loads NSS on every start): `list`
 * derives it from the state directory's uid, like runc. */
static int save_state(runtime_ctx *c, const husk_create_opts *o, husk_err *err)
{
  char created[64];
  husk_rfc3339_now(created, sizeof(created));
  husk_state st = ctx_state(c, o->id);
  st.pid_start_time = husk_pid_start_time(c->pid);
  st.created = created;
  st.use_terminal = c->spec->process.terminal;
  if (c->config_json &&
      husk_write_file_atomic(c->statedir, "config.json", c->config_json, c->config_len, err) < 0)
    return husk_error_ret(err);
  return husk_state_save(c->statedir, &st, err);
}

/* Before the init exists: enough for `delete --force` to find the cgroup. */
static int save_early_state(runtime_ctx *c, const husk_create_opts *o, husk_err *err)
{
  husk_state st = ctx_state(c, o->id);
  st.pid = 0;
  return husk_state_save(c->statedir, &st, err);
}

static char *ctx_state_json(runtime_ctx *c, const char *id, husk_status status)
{
  husk_state st = ctx_state(c, id);
  return husk_state_to_json(&st, status, false);
}

static void kill_and_reap(runtime_ctx *c)
{
  if (c->pid > 0) {
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
  }
}

static void create_failed(runtime_ctx *c, const husk_create_opts *o)
{
  kill_and_reap(c);
  if (c->cg) {
    husk_err e;
    husk_cgroup_destroy(c->cg, &e);
  }
  if (c->created_statedir)
    remove_state_dir(o->root, o->id);
}

/* Compile linux.seccomp through the on-disk cache under the state root. */
static int compile_seccomp(const char *root, const husk_seccomp *s, husk_seccomp_prog *out,
                           husk_err *err)
{
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s/.seccomp-cache", root);
  int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT && mkdir(dir, 0700) == 0)
    fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  int r = husk_seccomp_compile_cached(s, fd, out, err);
  if (fd >= 0)
    close(fd);
  return r;
}

/* Everything up to "the init is ready": shared by create and run. */
static int do_create(runtime_ctx *c, const husk_create_opts *o, enum create_mode mode,
                     const sigset_t *init_mask, husk_err *err)
{
  int r = resolve_paths(c, o, err);
  if (r < 0)
    return r;
  const husk_spec *spec = c->spec;

  r = husk_state_dir_open(o->root, o->id, true, &c->statedir, err);
  if (r < 0)
    return r;
  c->created_statedir = true;
  flock(c->statedir, LOCK_EX);
  /* a `delete --force` may have removed the directory before we locked it */
  struct stat sb;
  if (fstat(c->statedir, &sb) == 0 && sb.st_nlink == 0) {
    c->created_statedir = false;
    return husk_errorf_plain(err, ENOENT, "container %s was deleted while being created", o->id);
  }

  if ((r = husk_ns_plan_init(spec, &c->plan, err)) < 0)
    return r;

  const char *manager = o->cgroup_manager ? o->cgroup_manager : "cgroupfs";
  husk_err warning = {0};
  husk_cgroup_config cgc = {.id = o->id,
                            .cgroups_path = spec->cgroups_path,
                            .resources = spec->resources,
                            .manager = manager,
                            .devices = spec->devices,
                            .n_devices = spec->n_devices,
                            .rootless = geteuid() != 0,
                            .warning = &warning};
  if ((r = husk_cgroup_create(&cgc, &c->cg, err)) < 0)
    return r;
  if (warning.code && o->warn)
    o->warn(o->warn_arg, warning.msg);
  /* From here on the state names the cgroup (pid 0: not running), so that
   * `delete --force` finds it even if we are killed before the end. */
  if (c->cg && (r = save_early_state(c, o, err)) < 0)
    return r;

  if (spec->seccomp && (r = compile_seccomp(o->root, spec->seccomp, &c->seccomp, err)) < 0)
    return r;

  _cleanup_close_ int fifo = -1;
  if (mode == MODE_CREATE) {
    if (mkfifoat(c->statedir, "exec.fifo", 0600) < 0)
      return husk_errorf(err, errno, "create exec.fifo");
    /* the init opens it as the container's root, which may be unprivileged on the host */
    if (spec->n_uid_mappings || spec->n_gid_mappings) {
      uid_t u = 0;
      gid_t g = 0;
      for (size_t i = 0; i < spec->n_uid_mappings; i++)
        if (spec->uid_mappings[i].container_id == 0)
          u = spec->uid_mappings[i].host_id;
      for (size_t i = 0; i < spec->n_gid_mappings; i++)
        if (spec->gid_mappings[i].container_id == 0)
          g = spec->gid_mappings[i].host_id;
      if (fchownat(c->statedir, "exec.fifo", u, g, 0) < 0)
        return husk_errorf(err, errno, "chown exec.fifo");
    }
    fifo = openat(c->statedir, "exec.fifo", O_PATH | O_CLOEXEC);
    if (fifo < 0)
      return husk_errorf(err, errno, "open exec.fifo");
  }
  if (spec->process.terminal && o->console_socket &&
      (r = husk_console_socket_connect(o->console_socket, &c->console_fd, err)) < 0)
    return r;

  if ((c->dmz_fd = husk_dmz_open(err)) < 0)
    return c->dmz_fd;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return husk_errorf(err, errno, "socketpair");
  c->sync_fd = sv[0];
  /* never wait forever for an init stuck in its setup */
  struct timeval tv = {.tv_sec = HUSK_SETUP_TIMEOUT};
  setsockopt(c->sync_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  if ((r = husk_ns_prepare_parent(spec, &c->plan, err)) < 0) {
    close(sv[1]);
    return r;
  }

  init_args a = {.spec = spec,
                 .id = o->id,
                 .rootfs = c->rootfs,
                 .bundle = c->bundle,
                 .plan = &c->plan,
                 .mode = mode,
                 .sync_fd = sv[1],
                 .fifo_fd = fifo,
                 .statedir_fd = c->statedir,
                 .console_fd = c->console_fd,
                 .seccomp = c->seccomp.len ? &c->seccomp : NULL,
                 .layout = husk_cgroup_detect(),
                 .preserve_fds = o->preserve_fds,
                 .sigmask = *init_mask,
                 .dmz_fd = c->dmz_fd};
  /* In a new user namespace the init cannot write the host's cgroup files:
   * the runtime joins it for it. */
  bool userns = spec->ns[HUSK_NS_USER].present;
  pid_t pid = clone_child((uint64_t)c->plan.clone_flags, c->cg ? husk_cgroup_clone_fd(c->cg) : -1,
                          &a.into_cgroup);
  if (pid == 0) {
    close(sv[0]);
    a.cg = userns ? NULL : c->cg;
    init_main(&a);
  }
  close(sv[1]);
  if (pid < 0)
    return husk_errorf(err, errno, "clone container init");
  c->pid = pid;
  c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

  if (c->plan.clone_flags & CLONE_NEWUSER && (r = husk_ns_write_idmaps(pid, spec, err)) < 0)
    return r;
  if (c->cg && userns && (r = husk_cgroup_enter(c->cg, pid, a.into_cgroup, err)) < 0)
    return r;
  husk_sync_send(c->sync_fd, HUSK_SYNC_GO, pid, NULL);

  for (;;) {
    husk_sync_msg msg;
    int fd = -1;
    r = husk_sync_recv(c->sync_fd, &msg, &fd);
    if (r == -EAGAIN || r == -EWOULDBLOCK) {
      kill(pid, SIGKILL); /* create_failed() reaps it */
      return husk_errorf_plain(err, ETIMEDOUT,
                               "container init did not finish its setup in %d s (stuck in a "
                               "mount or a hook?)",
                               HUSK_SETUP_TIMEOUT);
    }
    if (r < 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      c->pid = 0;
      if (WIFSIGNALED(status))
        return husk_errorf_plain(err, ECHILD, "container init was killed by signal %d",
                                 WTERMSIG(status));
      return husk_errorf_plain(err, ECHILD, "container init exited with status %d during setup",
                               WEXITSTATUS(status));
    }
    if (msg.type == HUSK_SYNC_ERROR) {
      *err = msg.err;
      return husk_error_ret(err);
    }
    if (msg.type == HUSK_SYNC_TTY) {
      husk_closep(&c->tty_master);
      c->tty_master = fd;
      continue;
    }
    if (fd >= 0)
      close(fd);
    if (msg.type == HUSK_SYNC_HOOKS) {
      _cleanup_free_ char *sj = ctx_state_json(c, o->id, HUSK_STATUS_CREATING);
      if (husk_hooks_run(spec, HUSK_HOOK_PRESTART, sj, err) < 0 ||
          husk_hooks_run(spec, HUSK_HOOK_CREATE_RUNTIME, sj, err) < 0)
        return husk_error_ret(err);
      husk_sync_send(c->sync_fd, HUSK_SYNC_HOOKS_DONE, 0, NULL);
      continue;
    }
    if (msg.type == HUSK_SYNC_READY)
      break;
  }
  husk_closep(&c->sync_fd);
  husk_closep(&c->console_fd);

  if ((r = save_state(c, o, err)) < 0)
    return r;
  if ((r = write_pid_file(o->pid_file, pid, err)) < 0)
    return r;
  return 0;
}

int husk_container_create(const husk_create_opts *o, husk_err *err)
{
  runtime_ctx c;
  ctx_init(&c);
  sigset_t mask;
  sigprocmask(SIG_SETMASK, NULL, &mask);
  int r = do_create(&c, o, MODE_CREATE, &mask, err);
  if (r < 0)
    create_failed(&c, o);
  ctx_release(&c);
  return r;
}

/* ---- start ------------------------------------------------------------------ */

int husk_container_load_spec(const char *root, const char *id, husk_spec **out, husk_err *err)
{
  _cleanup_close_ int dfd = -1;
  int r = husk_state_dir_open(root, id, false, &dfd, err);
  if (r < 0)
    return r;
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  if (husk_read_file_at(dfd, "config.json", &buf, &len, err) < 0) {
    if (err->code != ENOENT)
      return husk_error_ret(err);
    /* created from an in-memory spec (the porcelain): its bundle has the
     * config.json it was parsed from */
    _cleanup_state_ husk_state *st = NULL;
    char path[PATH_MAX];
    if (husk_state_load(root, id, &st, err) < 0 || st->bundle == NULL)
      return husk_error_ret(err);
    snprintf(path, sizeof(path), "%s/config.json", st->bundle);
    if (husk_read_file_at(AT_FDCWD, path, &buf, &len, err) < 0) {
      if (err->code != ENOENT)
        return husk_error_ret(err);
      *out = NULL;
      return 0;
    }
  }
  return husk_spec_parse(buf, len, out, err);
}

static int run_poststart(const char *root, const husk_state *st, husk_err *err)
{
  _cleanup_spec_ husk_spec *spec = NULL;
  if (husk_container_load_spec(root, st->id, &spec, err) < 0)
    return husk_error_ret(err);
  if (spec == NULL || spec->hooks.count[HUSK_HOOK_POSTSTART] == 0)
    return 0;
  _cleanup_free_ char *sj = husk_state_to_json(st, HUSK_STATUS_RUNNING, false);
  return husk_hooks_run(spec, HUSK_HOOK_POSTSTART, sj, err);
}

int husk_container_start(const char *root, const char *id, husk_err *err)
{
  _cleanup_close_ int lock = -1;
  int r = husk_state_lock(root, id, &lock, err);
  if (r < 0)
    return r;
  _cleanup_state_ husk_state *st = NULL;
  if ((r = husk_state_load(root, id, &st, err)) < 0)
    return r;
  husk_status s = husk_state_status(root, st);
  if (s != HUSK_STATUS_CREATED)
    return husk_errorf_plain(err, EINVAL, "cannot start container %s: it is %s", id,
                             husk_status_name(s));
  _cleanup_close_ int fifo = openat(lock, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo < 0)
    return husk_errorf(err, errno, "open exec.fifo of %s", id);
  _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  for (;;) {
    struct pollfd p[2] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
    int n = poll(p, pidfd >= 0 ? 2 : 1, 10000);
    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      return husk_errorf_plain(err, ETIMEDOUT, "start %s: init did not answer in 10 s", id);
    if (p[0].revents & POLLIN) {
      char b;
      if (read(fifo, &b, 1) == 1)
        break;
    }
    if (pidfd >= 0 && (p[1].revents & POLLIN))
      return husk_errorf_plain(err, ESRCH, "start %s: container init has exited", id);
    if (p[0].revents & POLLHUP)
      return husk_errorf_plain(err, EPIPE, "start %s: init closed exec.fifo", id);
  }
  unlinkat(lock, "exec.fifo", 0);
  if (run_poststart(root, st, err) < 0)
    return husk_error_wrap(err, "start %s", id);
  return 0;
}

/* ---- waiting, with signals forwarded and an optional pty proxy --------------- */

static const int forwarded_signals[] = {SIGHUP,  SIGINT,   SIGQUIT, SIGTERM, SIGUSR1,
                                        SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

static void forward_mask(sigset_t *set)
{
  sigemptyset(set);
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(forwarded_signals); i++)
    sigaddset(set, forwarded_signals[i]);
}

static int status_to_code(int status)
{
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 255;
}

static int wait_child(pid_t pid, int pidfd, int tty_master, int *exit_code)
{
  sigset_t set;
  forward_mask(&set);
  _cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  bool stdin_open = tty_master >= 0;
  /* Proxying a pty: our terminal goes raw (^C, ^D reach the container as
   * characters) and lends its size to the container's. */
  struct termios saved;
  bool raw = tty_master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
  }
  if (tty_master >= 0) {
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0)
      ioctl(tty_master, TIOCSWINSZ, &ws);
  }
  for (;;) {
    struct pollfd p[4] = {{.fd = pidfd, .events = POLLIN},
                          {.fd = sfd, .events = POLLIN},
                          {.fd = tty_master, .events = POLLIN},
                          {.fd = stdin_open ? 0 : -1, .events = POLLIN}};
    int n = poll(p, 4, pidfd >= 0 ? -1 : 100);
    if (n < 0 && errno != EINTR)
      break;
    if (n > 0 && (p[1].revents & POLLIN)) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGWINCH && tty_master >= 0) {
          struct winsize ws;
          if (ioctl(0, TIOCGWINSZ, &ws) == 0)
            ioctl(tty_master, TIOCSWINSZ, &ws);
        } else {
          kill(pid, (int)si.ssi_signo);
        }
      }
    }
    if (n > 0 && tty_master >= 0 && (p[2].revents & (POLLIN | POLLHUP))) {
      char buf[8192];
      ssize_t r = read(tty_master, buf, sizeof(buf));
      if (r > 0)
        husk_write_all(1, buf, (size_t)r);
    }
    if (n > 0 && stdin_open && (p[3].revents & (POLLIN | POLLHUP))) {
      char buf[4096];
      ssize_t r = read(0, buf, sizeof(buf));
      if (r <= 0)
        stdin_open = false;
      else
        husk_write_all(tty_master, buf, (size_t)r);
    }
    int status;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      if (tty_master >= 0) {
        fcntl(tty_master, F_SETFL, fcntl(tty_master, F_GETFL) | O_NONBLOCK);
        char buf[8192];
        ssize_t r;
        while ((r = read(tty_master, buf, sizeof(buf))) > 0)
          husk_write_all(1, buf, (size_t)r);
      }
      *exit_code = status_to_code(status);
      if (raw)
        tcsetattr(0, TCSANOW, &saved);
      return 0;
    }
    if (w < 0 && errno == ECHILD)
      break;
  }
  if (raw)
    tcsetattr(0, TCSANOW, &saved);
  *exit_code = 255;
  return -ECHILD;
}

/* ---- run --------------------------------------------------------------------- */

static void teardown(const char *root, const char *id, const husk_spec *spec, husk_cgroup *cg,
                     const char *bundle, pid_t pid)
{
  husk_err e;
  if (cg)
    husk_cgroup_destroy(cg, &e);
  if (spec && spec->hooks.count[HUSK_HOOK_POSTSTOP]) {
    husk_state st = {.id = (char *)id,
                     .bundle = (char *)bundle,
                     .oci_version = spec->oci_version,
                     .pid = pid,
                     .annotations = spec->annotations,
                     .n_annotations = spec->n_annotations};
    _cleanup_free_ char *sj = husk_state_to_json(&st, HUSK_STATUS_STOPPED, false);
    husk_hooks_run(spec, HUSK_HOOK_POSTSTOP, sj, &e);
  }
  remove_state_dir(root, id);
}

int husk_container_run(const husk_create_opts *o, int *exit_code, husk_err *err)
{
  runtime_ctx c;
  ctx_init(&c);
  sigset_t fwd, old;
  forward_mask(&fwd);
  sigprocmask(SIG_BLOCK, o->detach ? NULL : &fwd, &old);
  int r = do_create(&c, o, MODE_RUN, &old, err);
  if (r < 0) {
    create_failed(&c, o);
    goto out;
  }
  if (c.spec->hooks.count[HUSK_HOOK_POSTSTART]) {
    _cleanup_free_ char *sj = ctx_state_json(&c, o->id, HUSK_STATUS_RUNNING);
    if ((r = husk_hooks_run(c.spec, HUSK_HOOK_POSTSTART, sj, err)) < 0) {
      create_failed(&c, o);
      goto out;
    }
  }
  husk_closep(&c.statedir); /* releases the create lock */
  if (o->detach) {
    *exit_code = 0;
    goto out;
  }
  wait_child(c.pid, c.pidfd, c.tty_master, exit_code);
  if (!o->keep)
    teardown(o->root, o->id, c.spec, c.cg, c.bundle, c.pid);
out:
  sigprocmask(SIG_SETMASK, &old, NULL);
  ctx_release(&c);
  return r;
}

/* ---- kill ------------------------------------------------------------------- */

static int signal_pid(const husk_state *st, int sig, husk_err *err)
{
  _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  if (pidfd < 0)
    return husk_errorf(err, errno, "container %s is not running", st->id);
  /* the pid could have been reused between the status check and pidfd_open */
  if (st->pid_start_time && husk_pid_start_time(st->pid) != st->pid_start_time)
    return husk_errorf_plain(err, ESRCH, "container %s is not running", st->id);
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    return husk_errorf(err, errno, "kill container %s", st->id);
  return 0;
}

int husk_container_kill(const char *root, const char *id, int sig, bool all, husk_err *err)
{
  _cleanup_state_ husk_state *st = NULL;
  int r = husk_state_load(root, id, &st, err);
  if (r < 0)
    return r;
  husk_status s = husk_state_status(root, st);
  if (s == HUSK_STATUS_STOPPED && !all)
    return husk_errorf_plain(err, ESRCH, "container %s is not running", id);
  if (all && st->cgroup_path) {
    husk_cgroup *cg = NULL;
    if ((r = husk_cgroup_open(st->cgroup_path, &cg, err)) < 0)
      return r;
    pid_t *pids = NULL;
    size_t n = 0;
    r = husk_cgroup_pids(cg, &pids, &n, err);
    husk_cgroup_free(cg);
    if (r < 0)
      return r;
    for (size_t i = 0; i < n; i++)
      kill(pids[i], sig);
    free(pids);
    if (s == HUSK_STATUS_PAUSED && (sig == SIGKILL || sig == SIGTERM)) {
      if (husk_cgroup_open(st->cgroup_path, &cg, err) == 0) {
        husk_cgroup_freeze(cg, false, err);
        husk_cgroup_free(cg);
      }
    }
    return 0;
  }
  if (s == HUSK_STATUS_STOPPED)
    return 0;
  return signal_pid(st, sig, err);
}

/* ---- delete ----------------------------------------------------------------- */

int husk_kill_timeout_ms(void)
{
  const char *v = getenv("HUSK_KILL_TIMEOUT");
  if (v && *v) {
    char *end = NULL;
    double s = strtod(v, &end);
    if (end && *end == '\0' && s >= 0 && s <= 86400)
      return (int)(s * 1000);
  }
  return 10000;
}

/* ", pid 123 (D, disk sleep, in __refrigerator)" appended to buf. */
static void describe_pid(pid_t pid, char *buf, size_t len)
{
  char path[64], status[4096] = "", wchan[128] = "";
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    husk_read_all(fd, status, sizeof(status));
  /* "State:\tD (disk sleep)" -> "D, disk sleep" */
  const char *s = strstr(status, "\nState:\t");
  char state[64] = "gone";
  if (s) {
    s += 8;
    const char *open_paren = strchr(s, '('), *close_paren = strchr(s, ')');
    if (open_paren && close_paren && close_paren > open_paren && s[0] != '\n')
      snprintf(state, sizeof(state), "%c, %.*s", s[0], (int)(close_paren - open_paren - 1),
               open_paren + 1);
  }
  snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
  _cleanup_close_ int wfd = open(path, O_RDONLY | O_CLOEXEC);
  if (wfd >= 0)
    husk_read_all(wfd, wchan, sizeof(wchan));
  wchan[strcspn(wchan, "\n")] = '\0';
  size_t used = strlen(buf);
  if (used + 1 >= len)
    return;
  snprintf(buf + used, len - used, "%spid %d (%s%s%s)", used ? ", " : "", (int)pid, state,
           wchan[0] && strcmp(wchan, "0") != 0 ? ", in " : "",
           wchan[0] && strcmp(wchan, "0") != 0 ? wchan : "");
}

/* SIGKILL the init (when alive) and every process of the cgroup until none
 * is left, at most timeout_ms.  Processes in uninterruptible sleep or in a
 * frozen cgroup keep the signal pending: then ETIMEDOUT names them. */
static int kill_wait_gone(const husk_state *st, bool init_alive, husk_cgroup *cg, int timeout_ms,
                          husk_err *err)
{
  _cleanup_close_ int pidfd = -1;
  if (init_alive && st->pid > 0) {
    pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
    /* the pid could have been reused since the status check */
    if (pidfd >= 0 && st->pid_start_time && husk_pid_start_time(st->pid) != st->pid_start_time)
      husk_closep(&pidfd);
  }
  uint64_t start = husk_now_ns();
  /* a SIGKILL takes a moment even for a process that can die */
  uint64_t deadline = start + (uint64_t)(timeout_ms > 100 ? timeout_ms : 100) * 1000000ULL;
  int delay = 1;
  for (;;) {
    if (pidfd >= 0)
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    pid_t *pids = NULL;
    size_t n = 0;
    husk_err ignored;
    if (cg && husk_cgroup_pids(cg, &pids, &n, &ignored) < 0)
      n = 0;
    for (size_t i = 0; i < n; i++)
      kill(pids[i], SIGKILL);
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    bool init_gone = pidfd < 0 || poll(&p, 1, 0) > 0;
    if (init_gone && n == 0) {
      free(pids);
      return 0;
    }
    if (husk_now_ns() >= deadline) {
      char who[700] = "";
      size_t left = n;
      bool init_listed = false;
      for (size_t i = 0; i < n; i++)
        init_listed = init_listed || pids[i] == st->pid;
      if (!init_gone && !init_listed) {
        describe_pid(st->pid, who, sizeof(who));
        left++;
      }
      for (size_t i = 0; i < n && i < 8; i++)
        describe_pid(pids[i], who, sizeof(who));
      free(pids);
      return husk_errorf_plain(err, ETIMEDOUT,
                               "container %s: %s still there %.1f s after SIGKILL: %s (stuck in "
                               "the kernel or in a frozen cgroup?)",
                               st->id, left > 1 ? "processes are" : "a process is",
                               (double)(husk_now_ns() - start) / 1e9, who);
    }
    free(pids);
    poll(pidfd >= 0 ? &p : NULL, pidfd >= 0 ? 1 : 0, delay); /* a sleep without a pidfd */
    delay = delay < 50 ? delay * 2 : 50;
  }
}

/* Thaw a paused container (its processes could not die frozen), then
 * kill_wait_gone. */
static int stop_everything(const husk_state *st, husk_status s, husk_cgroup *cg, int timeout_ms,
                           husk_err *err)
{
  if (s == HUSK_STATUS_PAUSED && cg)
    husk_cgroup_freeze(cg, false, err);
  return kill_wait_gone(st, s != HUSK_STATUS_STOPPED, cg,
                        timeout_ms < 0 ? husk_kill_timeout_ms() : timeout_ms, err);
}

int husk_container_kill_wait(const char *root, const char *id, int timeout_ms, husk_err *err)
{
  _cleanup_state_ husk_state *st = NULL;
  int r = husk_state_load(root, id, &st, err);
  if (r < 0)
    return r;
  husk_cgroup *cg = NULL;
  if (st->cgroup_path && husk_cgroup_open(st->cgroup_path, &cg, err) < 0)
    cg = NULL;
  r = stop_everything(st, husk_state_status(root, st), cg, timeout_ms, err);
  if (cg)
    husk_cgroup_free(cg);
  return r;
}

/* A create killed while it made the default cgroup (before state.json named
 * it) leaves empty directories /husk/<id>: remove them, but only when no
 * process is in them (then they cannot be another container's). */
static void remove_orphan_cgroup(const char *id)
{
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "/husk/%s", id);
  husk_cgroup *cg = NULL;
  husk_err e;
  if (husk_cgroup_open(path, &cg, &e) < 0)
    return;
  pid_t *pids = NULL;
  size_t n = 0;
  if (husk_cgroup_pids(cg, &pids, &n, &e) == 0 && n == 0)
    husk_cgroup_destroy(cg, &e);
  free(pids);
  husk_cgroup_free(cg);
}

int husk_container_delete(const char *root, const char *id, bool force, husk_err *err)
{
  _cleanup_close_ int lock = -1;
  int r = husk_state_lock(root, id, &lock, err);
  if (r < 0) {
    if (force && err->code == ENOENT)
      return 0;
    return r;
  }
  _cleanup_state_ husk_state *st = NULL;
  if ((r = husk_state_load(root, id, &st, err)) < 0) {
    if (force) {
      remove_orphan_cgroup(id);
      remove_state_dir(root, id);
      return 0;
    }
    return r;
  }
  husk_status s = husk_state_status(root, st);
  if ((s == HUSK_STATUS_RUNNING || s == HUSK_STATUS_PAUSED) && !force)
    return husk_errorf_plain(err, EBUSY, "cannot delete container %s that is %s (use --force)", id,
                             husk_status_name(s));
  husk_cgroup *cg = NULL;
  if (st->cgroup_path && husk_cgroup_open(st->cgroup_path, &cg, err) < 0)
    cg = NULL;
  /* bounded: a process SIGKILL cannot end keeps the state for a later delete */
  if ((r = stop_everything(st, s, cg, -1, err)) < 0) {
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n,
             "; the state is kept: delete again once it is gone");
    if (cg)
      husk_cgroup_free(cg);
    return r;
  }
  _cleanup_spec_ husk_spec *spec = NULL;
  husk_err e;
  if (husk_container_load_spec(root, id, &spec, &e) < 0)
    spec = NULL;
  teardown(root, id, spec, cg, st->bundle, st->pid);
  if (cg)
    husk_cgroup_free(cg);
  return 0;
}

/* ---- exec ------------------------------------------------------------------- */

typedef struct exec_args {
  const husk_process *proc;
  int pidfd;   /* of the container's init */
  int nsflags; /* namespaces to join through pidfd */
  int sync_fd;
  int console_fd;
  const husk_seccomp_prog *seccomp;
  int preserve_fds;
  const char *name;
  husk_cgroup *cg; /* joined by the exec child itself, or NULL */
  bool into_cgroup;
  sigset_t sigmask;
  int dmz_fd; /* the sealed exec stub */
} exec_args;

static int exec_setup(exec_args *a, char *exe, size_t len, husk_err *err)
{
  husk_sync_msg msg;
  if (husk_sync_recv(a->sync_fd, &msg, NULL) < 0 || msg.type != HUSK_SYNC_GO)
    _exit(1);
  if (husk_cgroup_enter_self(a->cg, a->into_cgroup, err) < 0)
    return husk_error_ret(err);
  if (a->nsflags && setns(a->pidfd, a->nsflags) < 0)
    return husk_errorf(err, errno, "join the container's namespaces");
  if (a->nsflags & CLONE_NEWUSER) {
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
      return husk_errorf(err, errno, "become root in the user namespace");
  }
  if (husk_process_apply_limits(a->proc, NULL, err) < 0)
    return husk_error_ret(err);
  if (a->proc->terminal) {
    int master = -1, slave = -1;
    if (husk_tty_open(&master, &slave, a->proc->console_height, a->proc->console_width, 0, err) < 0)
      return husk_error_ret(err);
    int r = a->console_fd >= 0 ? husk_tty_send(a->console_fd, master, err)
                               : (husk_sync_send_fd(a->sync_fd, HUSK_SYNC_TTY, master) < 0
                                      ? husk_errorf(err, EPIPE, "send pty to the runtime")
                                      : 0);
    close(master);
    husk_closep(&a->console_fd);
    if (r < 0)
      return r;
    if (husk_tty_make_stdio(slave, err) < 0)
      return husk_error_ret(err);
  }
  if (a->proc->cwd && chdir(a->proc->cwd) < 0)
    return husk_errorf(err, errno, "chdir to cwd %s", a->proc->cwd);
  return husk_process_find_exec(a->proc, exe, len, err);
}

static _Noreturn void exec_main(exec_args *a)
{
  husk_err err = {0};
  char exe[PATH_MAX];
  prctl(PR_SET_NAME, a->name, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (exec_setup(a, exe, sizeof(exe), &err) < 0)
    goto fail;
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  syscall(SYS_close_range, 3 + a->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
  sigprocmask(SIG_SETMASK, &a->sigmask, NULL);
  if (husk_process_finalize(a->proc, a->seccomp, &err) < 0)
    goto fail;
  husk_process_exec(exe, a->proc, a->dmz_fd, &err);
fail:
  husk_sync_send(a->sync_fd, HUSK_SYNC_ERROR, 0, &err);
  _exit(127);
}

/* Namespaces of pid that differ from ours (those are the ones to join). */
static int differing_namespaces(pid_t pid)
{
  static const struct {
    const char *name;
    int flag;
  } nss[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},
             {"net", CLONE_NEWNET},   {"ipc", CLONE_NEWIPC},
             {"uts", CLONE_NEWUTS},   {"cgroup", CLONE_NEWCGROUP},
             {"pid", CLONE_NEWPID},   {"time", 0x80 /* CLONE_NEWTIME */}};
  int flags = 0;
  for (size_t i = 0; i < HUSK_ARRAY_SIZE(nss); i++) {
    char a[64], b[64];
    struct stat sa, sb;
    snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, nss[i].name);
    snprintf(b, sizeof(b), "/proc/self/ns/%s", nss[i].name);
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
        (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev))
      flags |= nss[i].flag;
  }
  return flags;
}

int husk_container_exec(const char *root, const char *id, const husk_exec_opts *o, int *exit_code,
                        husk_err *err)
{
  _cleanup_state_ husk_state *st = NULL;
  int r = husk_state_load(root, id, &st, err);
  if (r < 0)
    return r;
  husk_status s = husk_state_status(root, st);
  if (s != HUSK_STATUS_RUNNING && s != HUSK_STATUS_CREATED)
    return husk_errorf_plain(err, EINVAL, "cannot exec in container %s: it is %s", id,
                             husk_status_name(s));
  _cleanup_spec_ husk_spec *spec = NULL;
  if ((r = husk_container_load_spec(root, id, &spec, err)) < 0)
    return r;
  husk_seccomp_prog prog = {0};
  if (spec && spec->seccomp && (r = compile_seccomp(root, spec->seccomp, &prog, err)) < 0)
    return r;

  _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  if (pidfd < 0) {
    husk_seccomp_prog_clear(&prog);
    return husk_errorf(err, errno, "container %s is not running", id);
  }
  int nsflags = differing_namespaces(st->pid);
  /* pid and time namespaces apply to children: enter them here */
  int parent_flags = nsflags & (CLONE_NEWPID | 0x80);
  /* unprivileged (rootless): into the container's user namespace too, where
   * we may join the others (setns with several flags enters it first) */
  if ((nsflags & CLONE_NEWUSER) && parent_flags && husk_rootless())
    parent_flags |= CLONE_NEWUSER;
  /* ... and only for this one child: keep our own to go back to */
  _cleanup_close_ int own_pidns = -1, own_timens = -1;
  if (parent_flags & CLONE_NEWPID)
    own_pidns = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
  if (parent_flags & 0x80)
    own_timens = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  if (parent_flags && setns(pidfd, parent_flags) < 0) {
    husk_seccomp_prog_clear(&prog);
    return husk_errorf(err, errno, "join the pid namespace of %s", id);
  }
  husk_cgroup *cg = NULL;
  if (st->cgroup_path && (r = husk_cgroup_open(st->cgroup_path, &cg, err)) < 0) {
    husk_seccomp_prog_clear(&prog);
    return r;
  }
  _cleanup_close_ int console = -1, sync = -1, child_pidfd = -1;
  _cleanup_close_ int dmz = husk_dmz_open(err);
  if (dmz < 0) {
    r = dmz;
    goto out;
  }
  if (o->process->terminal && o->console_socket &&
      (r = husk_console_socket_connect(o->console_socket, &console, err)) < 0)
    goto out;

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    r = husk_errorf(err, errno, "socketpair");
    goto out;
  }
  sigset_t fwd, old;
  forward_mask(&fwd);
  sigprocmask(SIG_BLOCK, o->detach ? NULL : &fwd, &old);
  exec_args a = {.proc = o->process,
                 .pidfd = pidfd,
                 .nsflags = nsflags & ~parent_flags,
                 .sync_fd = sv[1],
                 .console_fd = console,
                 .seccomp = prog.len ? &prog : NULL,
                 .preserve_fds = o->preserve_fds,
                 .name = o->name ? o->name : "husk:exec",
                 .dmz_fd = dmz,
                 .cg = (nsflags & CLONE_NEWUSER) ? NULL : cg,
                 .sigmask = old};
  bool into = false;
  pid_t pid = clone_child(0, cg ? husk_cgroup_clone_fd(cg) : -1, &into);
  if (pid == 0) {
    a.into_cgroup = into;
    close(sv[0]);
    exec_main(&a);
  }
  close(sv[1]);
  sync = sv[0];
  if (own_pidns >= 0)
    setns(own_pidns, CLONE_NEWPID);
  if (own_timens >= 0)
    setns(own_timens, 0x80);
  if (pid < 0) {
    r = husk_errorf(err, errno, "clone exec process");
    goto restore;
  }
  child_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (cg && (nsflags & CLONE_NEWUSER) && (r = husk_cgroup_enter(cg, pid, into, err)) < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    goto restore;
  }
  husk_sync_send(sync, HUSK_SYNC_GO, pid, NULL);
  int tty_master = -1;
  for (;;) {
    husk_sync_msg msg;
    int fd = -1;
    if (husk_sync_recv(sync, &msg, &fd) < 0)
      break; /* EOF: exec succeeded */
    if (msg.type == HUSK_SYNC_TTY) {
      tty_master = fd;
      continue;
    }
    if (fd >= 0)
      close(fd);
    if (msg.type == HUSK_SYNC_ERROR) {
      *err = msg.err;
      r = husk_error_ret(err);
      waitpid(pid, NULL, 0);
      if (tty_master >= 0)
        close(tty_master);
      goto restore;
    }
  }
  if ((r = write_pid_file(o->pid_file, pid, err)) < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  } else if (o->detach) {
    *exit_code = 0;
  } else {
    wait_child(pid, child_pidfd, tty_master, exit_code);
  }
  if (tty_master >= 0)
    close(tty_master);
restore:
  sigprocmask(SIG_SETMASK, &old, NULL);
out:
  if (cg)
    husk_cgroup_free(cg);
  husk_seccomp_prog_clear(&prog);
  return r;
}
