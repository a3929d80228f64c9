"""Helpers for driving an OCI runtime through real clients: podman and containerd.

Everything here is private to the tests that use it:

* ``build_image_tar`` writes a tiny busybox-static image as a docker-archive
  tar, byte-for-byte deterministic (fixed mtimes, owners and ordering), so
  ``podman load`` and ``ctr images import`` accept it offline.
* ``Podman`` gives podman its own containers.conf, storage.conf and
  registries.conf plus storage under a temp dir, and cleans it all up.
* ``Containerd`` starts a private containerd (own root, state and gRPC socket,
  no CRI, no ttrpc/debug/metrics listeners) and stops it by PID.

The runtime under test is ``$HUSK_CLIENT_RUNTIME`` if set, otherwise
``$HUSK_BUILD/runtime/husk-oci`` (``HUSK_BUILD`` defaults to ``<repo>/build``).
Set ``HUSK_CLIENT_TRACE=1`` to run the runtime through a wrapper that logs every
argv it is called with (printed in failure messages).
"""

import ctypes
import ctypes.util
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_NAME = "localhost/husk-busybox:latest"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --------------------------------------------------------------------------
# generic helpers


def client_runtime():
    """Absolute path of the runtime the client tests drive."""
    rt = os.environ.get("HUSK_CLIENT_RUNTIME")
    if rt:
        return os.path.abspath(rt)
    build = os.environ.get("HUSK_BUILD") or os.path.join(REPO, "build")
    return os.path.join(os.path.abspath(build), "runtime", "husk-oci")


def find_busybox():
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(cand) and _is_static(cand):
            return cand
    return None


def _is_static(path):
    # A static ELF has no PT_INTERP program header.
    try:
        with open(path, "rb") as f:
            data = f.read(64)
            if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
                return False
            phoff = int.from_bytes(data[32:40], "little")
            phentsize = int.from_bytes(data[54:56], "little")
            phnum = int.from_bytes(data[56:58], "little")
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
        for i in range(phnum):
            if int.from_bytes(ph[i * phentsize : i * phentsize + 4], "little") == 3:
                return False
        return True
    except OSError:
        return False


def require_client(*binaries):
    """Skip the calling test/module unless root and all binaries exist."""
    if os.geteuid() != 0:
        pytest.skip("client tests need root")
    for b in binaries:
        if shutil.which(b) is None:
            pytest.skip(f"{b} is not installed")
    if find_busybox() is None:
        pytest.skip("busybox-static (/bin/busybox, statically linked) is not installed")
    rt = client_runtime()
    if not os.access(rt, os.X_OK):
        pytest.skip(f"runtime {rt} is not built (set HUSK_BUILD or HUSK_CLIENT_RUNTIME)")
    return rt


# Default time limit of one client command.  runc needs well under a second for
# each; a runtime that deadlocks should fail the test quickly, not stall CI.
CMD_TIMEOUT = float(os.environ.get("HUSK_CLIENT_TIMEOUT", "20"))


class ClientHang(AssertionError):
    """A client command did not finish in time."""


def run(argv, *, env=None, timeout=None, check=True, input=None):
    """Run argv, capture output; on unexpected failure raise with full detail."""
    timeout = timeout or CMD_TIMEOUT
    # Own session, so that on a timeout the whole group goes (podman runs the
    # runtime's `start` itself; a hung one would otherwise outlive the test).
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a daemonized grandchild holds our pipes
            proc.kill()
            proc.wait()
            out, err = "", ""
        raise ClientHang(f"timed out after {timeout}s: {' '.join(argv)}\nstdout:\n{out}\nstderr:\n{err}")
    p = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError(describe(p))
    return p


def try_run(argv, *, env=None, timeout=None):
    """run() for cleanup paths: never raises, returns None on timeout/failure to start."""
    try:
        return run(argv, env=env, timeout=timeout, check=False)
    except (ClientHang, OSError):
        return None


def describe(p):
    argv = p.args if isinstance(p.args, str) else " ".join(p.args)
    return f"command: {argv}\nexit: {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"


def mounts_under(prefix):
    """Mount points at or below prefix, deepest first."""
    prefix = os.path.realpath(prefix)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == prefix or mp.startswith(prefix + "/"):
                found.append(mp)
    return sorted(set(found), key=lambda m: m.count("/"), reverse=True)


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
MNT_DETACH = 2


def unmount_under(prefix):
    """Lazily unmount everything at/below prefix (only our own temp dirs)."""
    for _ in range(5):
        mps = mounts_under(prefix)
        if not mps:
            return
        for mp in mps:
            _libc.umount2(mp.encode(), MNT_DETACH)


def rmtree(path):
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


def pids_mentioning(needle):
    """PIDs whose argv contains `needle` (a unique temp path of ours)."""
    needle = needle.encode()
    me = os.getpid()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if needle in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def cgroup_roots():
    """Mount points of every cgroup v1 hierarchy and of cgroup2."""
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype in ("cgroup", "cgroup2"):
                roots.append(fields[4])
    return roots


def remove_cgroup_tree(rel):
    """Kill what is left in the cgroup `rel` (ours: a unique name) and rmdir it everywhere."""
    rel = rel.strip("/")
    if not rel:
        return []
    left = []
    for root in cgroup_roots():
        top = os.path.join(root, rel)
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            for _ in range(40):
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        kill_pids(int(x) for x in f.read().split())
                except OSError:
                    pass
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                left.append(dirpath)
    return left


def _make_trace_wrapper(dirpath, runtime):
    """A `husk-oci`-named wrapper that logs argv then execs the runtime.

    It keeps the basename so podman still passes --log-format=json."""
    os.makedirs(dirpath, exist_ok=True)
    wrapper = os.path.join(dirpath, os.path.basename(runtime))
    log = os.path.join(dirpath, "argv.log")
    with open(wrapper, "w") as f:
        f.write(
            "#!/bin/sh\n"
            f'printf "%s\\n" "$*" >> {log}\n'
            f'exec {runtime} "$@"\n'
        )
    os.chmod(wrapper, 0o755)
    return wrapper, log


# --------------------------------------------------------------------------
# the image


def _tarinfo(name, type_, mode, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def _layer_bytes(busybox):
    with open(busybox, "rb") as f:
        bb = f.read()
    applets = subprocess.run([busybox, "--list"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    files = {
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
        "etc/hostname": b"husk\n",
    }
    entries = []
    for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("proc", 0o555),
                    ("root", 0o700), ("run", 0o755), ("sys", 0o555), ("tmp", 0o1777),
                    ("usr", 0o755), ("var", 0o755)):
        entries.append((_tarinfo(d + "/", tarfile.DIRTYPE, mode), None))
    entries.append((_tarinfo("bin/busybox", tarfile.REGTYPE, 0o755, len(bb)), bb))
    for a in sorted(set(applets)):
        if a != "busybox" and "/" not in a:
            entries.append((_tarinfo("bin/" + a, tarfile.SYMTYPE, 0o777, linkname="busybox"), None))
    for name, data in files.items():
        entries.append((_tarinfo(name, tarfile.REGTYPE, 0o644, len(data)), data))
    entries.sort(key=lambda e: e[0].name)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def build_image_tar(dest, busybox=None, name=IMAGE_NAME):
    """Write a docker-archive tar of a busybox-static image to dest; return dest."""
    busybox = busybox or find_busybox()
    layer = _layer_bytes(busybox)
    layer_sha = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Env": [PATH_ENV], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_sha]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "husk pytest/clients.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_sha = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{"Config": config_sha + ".json", "RepoTags": [name], "Layers": [layer_sha + "/layer.tar"]}]
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    repo, tag = name.rsplit(":", 1)
    repositories = json.dumps({repo: {tag: layer_sha}}, sort_keys=True, separators=(",", ":")).encode()

    members = [
        (_tarinfo(layer_sha + "/", tarfile.DIRTYPE, 0o755), None),
        (_tarinfo(layer_sha + "/VERSION", tarfile.REGTYPE, 0o644, 3), b"1.0"),
        (_tarinfo(layer_sha + "/layer.tar", tarfile.REGTYPE, 0o644, len(layer)), layer),
        (_tarinfo(config_sha + ".json", tarfile.REGTYPE, 0o644, len(config_bytes)), config_bytes),
        (_tarinfo("manifest.json", tarfile.REGTYPE, 0o644, len(manifest_bytes)), manifest_bytes),
        (_tarinfo("repositories", tarfile.REGTYPE, 0o644, len(repositories)), repositories),
    ]
    tmp = dest + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    os.replace(tmp, dest)
    return dest


@pytest.fixture(scope="session")
def client_image(tmp_path_factory):
    """Path of the busybox docker-archive, built once per session."""
    if find_busybox() is None:
        pytest.skip("busybox-static is not installed")
    d = tmp_path_factory.mktemp("client-image")
    return build_image_tar(str(d / "husk-busybox.tar"))


# --------------------------------------------------------------------------
# podman

PODMAN_RUNTIMES_JSON = ["crun", "runc", "kata", "runsc", "krun", "youki", "husk-oci", "husk"]


def _toml_str(s):
    return json.dumps(s)


def overlay_usable(where):
    """True if the kernel overlayfs mounts on the filesystem holding `where`."""
    d = tempfile.mkdtemp(prefix="ovl-", dir=where)
    try:
        for sub in ("l", "u", "w", "m"):
            os.mkdir(os.path.join(d, sub))
        p = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={d}/l,upperdir={d}/u,workdir={d}/w", f"{d}/m"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if p.returncode != 0:
            return False
        _libc.umount2(f"{d}/m".encode(), MNT_DETACH)
        return True
    finally:
        rmtree(d)


class _Client:
    """Shared bits: trace wrapper, the hang circuit-breaker, failure detail."""

    def __init__(self, base, runtime):
        self.base = base
        # unique, names our cgroups / containerd namespace: [A-Za-z0-9]+ joined by '-'
        self.tag = re.sub(r"[^A-Za-z0-9]+", "-", os.path.basename(base)).strip("-")
        self.real_runtime = runtime
        self.runtime = runtime
        self.trace_log = None
        if os.environ.get("HUSK_CLIENT_TRACE"):
            self.runtime, self.trace_log = _make_trace_wrapper(os.path.join(base, "trace"), runtime)
        self.hung = None
        self.env = None

    def in_tty(self, argv, check=False, timeout=None):
        """Run argv under `script`, i.e. with a pseudo-terminal as its stdio."""
        return self._call(["script", "-qec", shlex.join(argv), "/dev/null"], self.env, check,
                          timeout, None)

    def _call(self, argv, env, check, timeout, input):
        if self.hung:
            raise AssertionError("not run: an earlier client command hung and its processes may "
                                 f"still hold the runtime's locks:\n{self.hung}")
        try:
            p = run(argv, env=env, timeout=timeout, check=False, input=input)
        except ClientHang as e:
            self.hung = str(e).splitlines()[0]
            raise ClientHang(str(e) + self.extra()) from None
        if check and p.returncode != 0:
            raise AssertionError(self.explain(p))
        return p

    def extra(self):
        msg = ""
        if self.trace_log and os.path.exists(self.trace_log):
            with open(self.trace_log) as f:
                msg += "\nruntime invocations:\n" + f.read()[-4000:]
        return msg

    def explain(self, p):
        """Failure detail: the command, its output, the runtime's argv when traced."""
        return describe(p) + self.extra()


# podman 4.3 (containers/image 5.23) keeps a blob-info cache here for root, whatever
# the storage root; the cleanup removes it again if the tests created it.
BLOB_INFO_CACHE = "/var/lib/containers/cache"


class Podman(_Client):
    """podman with private config, storage and cgroup parent under `base`."""

    def __init__(self, base, runtime, driver=None):
        super().__init__(base, runtime)
        self._preexisting = [d for d in (os.path.dirname(BLOB_INFO_CACHE), BLOB_INFO_CACHE)
                             if os.path.exists(d)]
        self.driver = driver or os.environ.get("HUSK_PODMAN_DRIVER") or (
            "overlay" if overlay_usable(base) else "vfs")
        # Containers land in <cgroup_parent>/libpod-ID and conmon in <cgroup_parent>/conmon.
        self.cgroup_parent = "/" + self.tag
        self.root = os.path.join(base, "storage")
        self.runroot = os.path.join(base, "runroot")
        self.tmpdir = os.path.join(base, "tmp")
        for d in ("storage", "runroot", "tmp", "libpod", "volumes", "cni", "conf", "logs"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        conf = os.path.join(base, "conf")
        self.containers_conf = os.path.join(conf, "containers.conf")
        self.storage_conf = os.path.join(conf, "storage.conf")
        self.registries_conf = os.path.join(conf, "registries.conf")
        self.events_log = os.path.join(base, "logs", "events.log")
        j = _toml_str
        with open(self.containers_conf, "w") as f:
            f.write(
                "[containers]\n"
                'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
                'netns = "none"\n'
                'log_driver = "k8s-file"\n'
                "[network]\n"
                'network_backend = "cni"\n'
                f"network_config_dir = {j(os.path.join(base, 'cni'))}\n"
                "[engine]\n"
                'cgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
                f"events_logfile_path = {j(self.events_log)}\n"
                'lock_type = "file"\n'
                f"runtime_supports_json = {json.dumps(PODMAN_RUNTIMES_JSON)}\n"
                f"static_dir = {j(os.path.join(base, 'libpod'))}\n"
                f"tmp_dir = {j(self.tmpdir)}\n"
                f"volume_path = {j(os.path.join(base, 'volumes'))}\n"
                "num_locks = 128\n"
            )
        with open(self.storage_conf, "w") as f:
            f.write(
                "[storage]\n"
                f"driver = {j(self.driver)}\n"
                f"graphroot = {j(self.root)}\n"
                f"runroot = {j(self.runroot)}\n"
            )
        with open(self.registries_conf, "w") as f:
            f.write('unqualified-search-registries = []\nshort-name-mode = "permissive"\n')
        self.env = dict(os.environ)
        self.env.update(
            CONTAINERS_CONF=self.containers_conf,
            CONTAINERS_STORAGE_CONF=self.storage_conf,
            CONTAINERS_REGISTRIES_CONF=self.registries_conf,
            TMPDIR=self.tmpdir,
        )
        self.env.pop("XDG_RUNTIME_DIR", None)
        self.env.pop("XDG_CONFIG_HOME", None)

    def argv(self, *args, debug=False):
        a = ["podman", "--runtime", self.runtime, "--root", self.root, "--runroot", self.runroot,
             "--storage-driver", self.driver, "--cgroup-manager", "cgroupfs",
             "--events-backend", "file", "--tmpdir", self.tmpdir]
        if debug:
            a.append("--log-level=debug")
        args = [str(x) for x in args]
        if args and args[0] in ("run", "create"):
            args.insert(1, "--cgroup-parent=" + self.cgroup_parent)
        return a + args

    def __call__(self, *args, check=True, timeout=None, input=None):
        return self._call(self.argv(*args), self.env, check, timeout, input)

    def debug_run(self, *args, timeout=None):
        """Run with --log-level=debug (shows conmon/runtime command lines)."""
        return try_run(self.argv(*args, debug=True), env=self.env, timeout=timeout)

    def cleanup(self):
        """Remove every container, image, process, cgroup, mount and file of ours."""
        ids = []
        if not self.hung:
            p = try_run(self.argv("ps", "-aq", "--no-trunc"), env=self.env)
            ids = p.stdout.split() if p else []
            try_run(self.argv("rm", "-af", "-t", "0"), env=self.env)
        # conmon and runtime processes name our dirs; container processes sit in our cgroups.
        kill_pids(pids_mentioning(self.base))
        remove_cgroup_tree(self.cgroup_parent)
        try_run(self.argv("rm", "-af", "-t", "0"), env=self.env)
        try_run(self.argv("rmi", "-af"), env=self.env)
        try_run(self.argv("system", "reset", "-f"), env=self.env)
        kill_pids(pids_mentioning(self.base))
        rmtree(self.base)
        if BLOB_INFO_CACHE not in self._preexisting:
            shutil.rmtree(BLOB_INFO_CACHE, ignore_errors=True)
            if os.path.dirname(BLOB_INFO_CACHE) not in self._preexisting:
                try:
                    os.rmdir(os.path.dirname(BLOB_INFO_CACHE))
                except OSError:
                    pass
        return ids


# --------------------------------------------------------------------------
# containerd


class Containerd(_Client):
    """A private containerd daemon under `base`, stopped by PID."""

    def __init__(self, base, runtime):
        super().__init__(base, runtime)
        # The namespace names ctr's cgroups (/<ns>/<id>): unique, so cleanup can remove them.
        self.NS = self.tag
        self.root = os.path.join(base, "root")
        self.state = os.path.join(base, "state")
        self.sock = os.path.join(base, "containerd.sock")
        self.runc_root = os.path.join(base, "runc-root")
        self.fifo_dir = os.path.join(base, "fifo")
        self.tmp = os.path.join(base, "tmp")
        self.log_path = os.path.join(base, "containerd.log")
        self.config = os.path.join(base, "config.toml")
        for d in (self.root, self.state, self.runc_root, self.fifo_dir, self.tmp):
            os.makedirs(d, exist_ok=True)
        j = _toml_str
        with open(self.config, "w") as f:
            f.write(
                "version = 2\n"
                f"root = {j(self.root)}\n"
                f"state = {j(self.state)}\n"
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                "[grpc]\n"
                f"  address = {j(self.sock)}\n"
                "[ttrpc]\n"
                '  address = ""\n'
                "[debug]\n"
                '  address = ""\n'
                '  level = "debug"\n'
                "[metrics]\n"
                '  address = ""\n'
                '[plugins."io.containerd.internal.v1.opt"]\n'
                f"  path = {j(os.path.join(base, 'opt'))}\n"
            )
        self.proc = None
        self._log = None
        # The runc shim keeps its sockets in /run/containerd/s whatever the config says.
        self._made_run_dirs = [d for d in ("/run/containerd", "/run/containerd/s")
                               if not os.path.exists(d)]

    def start(self, timeout=20):
        env = dict(os.environ, TMPDIR=self.tmp)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["containerd", "--config", self.config],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"containerd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.exists(self.sock):
                p = try_run(["ctr", "-a", self.sock, "version"], timeout=5)
                if p is not None and p.returncode == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"containerd did not come up in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n=6000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def ctr_argv(self, *args):
        return ["ctr", "-a", self.sock, "-n", self.NS] + [str(a) for a in args]

    def ctr(self, *args, check=True, timeout=None, input=None):
        return self._call(self.ctr_argv(*args), None, check, timeout, input)

    def runtime_flags(self):
        return ["--runc-binary", self.runtime, "--runc-root", self.runc_root, "--fifo-dir", self.fifo_dir]

    def runtime_logs(self):
        """The shim's runtime log.json files (errors from the runtime's --log)."""
        out = []
        for dirpath, _dirs, files in os.walk(self.state):
            for fn in files:
                if fn == "log.json":
                    p = os.path.join(dirpath, fn)
                    try:
                        with open(p, errors="replace") as f:
                            out.append(f"{p}:\n{f.read()[-3000:]}")
                    except OSError:
                        pass
        return "\n".join(out)

    def extra(self):
        msg = super().extra()
        logs = self.runtime_logs()
        if logs:
            msg += "\nruntime logs:\n" + logs
        tail = "\n".join(ln for ln in self.log_tail(20000).splitlines()
                         if "level=debug" not in ln and "level=info" not in ln)
        return msg + "\ncontainerd log (warnings/errors, tail):\n" + tail[-3000:]

    def stop(self):
        """Stop our daemon by PID and remove every task, shim, cgroup, mount and file of ours."""
        if self.proc is not None and self.proc.poll() is None and not self.hung:
            # Remove whatever a failed test left behind while the daemon is up.
            p = try_run(self.ctr_argv("tasks", "ls", "-q"), timeout=10)
            for cid in (p.stdout.split() if p else []):
                try_run(self.ctr_argv("tasks", "kill", "-s", "SIGKILL", "--all", cid), timeout=10)
                try_run(self.ctr_argv("tasks", "delete", "-f", cid), timeout=10)
            p = try_run(self.ctr_argv("containers", "ls", "-q"), timeout=10)
            for cid in (p.stdout.split() if p else []):
                try_run(self.ctr_argv("containers", "delete", cid), timeout=10)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Shims (argv names our socket) and runtime processes (argv names our dirs),
        # then whatever still runs in our containers' cgroups.
        kill_pids(pids_mentioning(self.base))
        remove_cgroup_tree(self.NS)
        if self._log:
            self._log.close()
        rmtree(self.base)
        for d in reversed(self._made_run_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
