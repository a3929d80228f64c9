"""Fixtures and helpers shared by the porcelain tests (test_porcelain_*.py).

This module has no tests of its own; the test modules import from it:

    from test_porcelain_helpers import phusk, husk_bin, cfg_image  # noqa: F401

`phusk` is a `husk` CLI with a private --data-root and --root under /tmp.
Its teardown removes whatever the test left (containers, volumes), then
fails the test if anything survived the removal: overlay mounts, container
directories, runtime state, cgroups named after the test's containers,
monitor or container processes.
"""

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from husktest import host

REPO = Path(__file__).resolve().parent.parent


def _build_dir():
    return Path(os.environ.get("HUSK_BUILD") or REPO / "build").resolve()


@pytest.fixture(scope="session")
def husk_bin():
    if os.geteuid() != 0:
        pytest.skip("porcelain tests need root (namespaces, mounts, cgroups)")
    b = os.environ.get("HUSK") or str(_build_dir() / "runtime" / "husk")
    if not os.access(b, os.X_OK):
        pytest.skip(f"{b} not found: build with `make build` or set HUSK_BUILD")
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(cand):
            break
    else:
        pytest.skip("no /bin/busybox for the embedded busybox image (apt-get install busybox-static)")
    return os.path.abspath(b)


class Husk:
    """`husk --data-root D --root S ...` for one test."""

    def __init__(self, binary, base):
        self.binary = binary
        self.base = Path(base)
        self.data_root = self.base / "data"
        self.state_root = self.base / "state"
        self.ids = set()  # every container id the test is known to have made
        self.prefix = []  # e.g. nsenter --net=...: run husk in another network namespace

    def cmd(self, *args):
        return [
            *self.prefix,
            self.binary,
            "--data-root",
            str(self.data_root),
            "--root",
            str(self.state_root),
            *[str(a) for a in args],
        ]

    def __call__(self, *args, check=True, input=None, timeout=60, env=None, stdin=None,
                 binary=False):
        """Run husk; returns CompletedProcess (text, or bytes with binary=True).
        check=True asserts exit 0."""
        kw = {}
        if input is None and stdin is None:
            kw["stdin"] = subprocess.DEVNULL
        elif stdin is not None:
            kw["stdin"] = stdin
        p = subprocess.run(
            self.cmd(*args),
            input=input,
            capture_output=True,
            text=not binary,
            timeout=timeout,
            env=env,
            **kw,
        )
        if check and p.returncode != 0:
            pytest.fail(
                f"husk {' '.join(map(str, args))} exited {p.returncode}\n"
                f"stdout: {p.stdout}\nstderr: {p.stderr}",
                pytrace=False,
            )
        self._learn_ids()
        return p

    def _learn_ids(self):
        d = self.data_root / "containers"
        if d.is_dir():
            for e in d.iterdir():
                if re.fullmatch(r"[0-9a-f]{64}", e.name):
                    self.ids.add(e.name)

    def run_d(self, *args):
        """`husk run -d ARGS`: the full id."""
        p = self("run", "-d", *args)
        cid = p.stdout.strip()
        assert re.fullmatch(r"[0-9a-f]{64}", cid), f"run -d printed {p.stdout!r}"
        self.ids.add(cid)
        return cid

    def inspect(self, ref):
        p = self("inspect", ref)
        docs = json.loads(p.stdout)
        assert len(docs) == 1
        return docs[0]

    def status(self, ref):
        return self("inspect", "-f", "{{.State.Status}}", ref).stdout.strip()

    def ps(self, *args):
        p = self("ps", "--format", "json", *args)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def wait_status(self, ref, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.status(ref)
            if st == want:
                return
            time.sleep(0.05)
        pytest.fail(f"container {ref} is {st}, expected {want} within {timeout}s", pytrace=False)

    def wait_log(self, ref, text, timeout=10.0):
        """Wait until the container's log contains text (a trap is set, ...)."""
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            out = self("logs", ref).stdout
            if text in out:
                return out
            time.sleep(0.05)
        pytest.fail(f"{text!r} not in the log of {ref} within {timeout}s: {out!r}", pytrace=False)

    def container_dirs(self):
        d = self.data_root / "containers"
        if not d.is_dir():
            return []
        return sorted(e.name for e in d.iterdir() if e.name != ".names")

    def names(self):
        d = self.data_root / "containers" / ".names"
        return sorted(os.listdir(d)) if d.is_dir() else []

    def leftovers(self):
        """Everything of this test's containers that still exists."""
        problems = []
        for m in host.mounts_under(str(self.base)):
            problems.append(f"mount left: {m['mount_point']} ({m['fstype']})")
        for c in self.container_dirs():
            problems.append(f"container directory left: {c}")
        for n in self.names():
            problems.append(f"name index entry left: {n}")
        if self.state_root.is_dir():
            for e in self.state_root.iterdir():
                if not e.name.startswith("."):
                    problems.append(f"runtime state left: {e}")
        for cid in self.ids:
            for cg in host.cgroup_dirs_named(cid):
                problems.append(f"cgroup left: {cg}")
        for pid in pids_mentioning(str(self.data_root)):
            problems.append(f"process left: {pid} {comm(pid)}")
        holds = self.data_root / "holds"
        if holds.is_dir():
            for h in holds.iterdir():
                if h.name in self.ids:
                    problems.append(f"image hold left: {h.name}")
        return problems

    def cleanup(self):
        """Remove what the test left; return what could not be removed."""
        if self.data_root.is_dir():
            p = self("ps", "-a", "-q", "--no-trunc", check=False)
            ids = p.stdout.split()
            if ids:
                self("rm", "-f", *ids, check=False, timeout=60)
            p = self("volume", "ls", "-q", check=False)
            vols = p.stdout.split()
            if vols:
                self("volume", "rm", *vols, check=False)
        problems = self.leftovers()
        # last resort, so one broken test does not break the next ones
        for pid in pids_mentioning(str(self.data_root)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if host.mounts_under(str(self.base)):
            host.unmount_under(str(self.base))
        for cid in self.ids:
            for cg in host.cgroup_dirs_named(cid):
                host.remove_cgroup_tree(cg)
        return problems


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def pids_mentioning(text):
    """Live processes whose command line mentions text (our data root)."""
    out = []
    me = os.getpid()
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        try:
            cmd = Path(f"/proc/{e}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and host.pid_alive(int(e)):
            out.append(int(e))
    return out


@pytest.fixture
def phusk(husk_bin):
    base = Path(tempfile.mkdtemp(prefix="husktest-porcelain-", dir="/tmp"))
    os.chmod(base, 0o755)
    before = host.HostSnapshot()
    h = Husk(husk_bin, base)
    yield h
    problems = h.cleanup()
    changed = before.differences()
    if changed:
        before.restore_names()
    problems += changed
    if not host.mounts_under(str(base)):
        subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)
    if problems:
        pytest.fail("left behind:\n  " + "\n  ".join(problems), pytrace=False)


# ---- a docker-archive with an image config of our own ----------------------------


def _tar_add(tf, name, data=None, mode=0o644, symlink=None, isdir=False, uid=0, gid=0):
    ti = tarfile.TarInfo(name)
    ti.uid, ti.gid = uid, gid
    ti.mtime = 0
    if isdir:
        ti.type = tarfile.DIRTYPE
        ti.mode = mode
        tf.addfile(ti)
    elif symlink is not None:
        ti.type = tarfile.SYMTYPE
        ti.linkname = symlink
        ti.mode = 0o777
        tf.addfile(ti)
    else:
        ti.size = len(data)
        ti.mode = mode
        tf.addfile(ti, io.BytesIO(data))


def busybox_layer(extra_files=None):
    """A layer tar (bytes): static busybox with its applets, /etc/passwd with
    root and app (uid 1234, groups app 1234 and extra 5000), and extra files
    {path: bytes}."""
    bb = Path("/bin/busybox").read_bytes()
    applets = subprocess.run(
        ["/bin/busybox", "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for d in ("bin", "etc", "tmp", "root", "home"):
            _tar_add(tf, d, isdir=True, mode=0o1777 if d == "tmp" else 0o755)
        _tar_add(tf, "home/app", isdir=True, mode=0o750, uid=1234, gid=1234)
        _tar_add(tf, "home/app/.profile", b"# app\n", mode=0o640, uid=1234, gid=1234)
        _tar_add(tf, "bin/busybox", bb, mode=0o755)
        for a in applets:
            if a != "busybox":
                _tar_add(tf, f"bin/{a}", symlink="busybox")
        _tar_add(
            tf,
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/home/app:/bin/sh\n",
        )
        _tar_add(tf, "etc/group", b"root:x:0:\napp:x:1234:\nextra:x:5000:app\n")
        for path, data in (extra_files or {}).items():
            _tar_add(tf, path.lstrip("/"), data)
    return buf.getvalue()


def docker_archive(path, tag, config, layer):
    """Write a docker-archive tarball: one layer, the given `config` section."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    cfg_bytes = json.dumps(cfg).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + ".json"
    layer_name = hashlib.sha256(layer).hexdigest() + "/layer.tar"
    manifest = [{"Config": cfg_name, "RepoTags": [tag], "Layers": [layer_name]}]
    with tarfile.open(path, "w") as tf:
        _tar_add(tf, cfg_name, cfg_bytes)
        _tar_add(tf, layer_name.split("/")[0], isdir=True, mode=0o755)
        _tar_add(tf, layer_name, layer)
        _tar_add(tf, "manifest.json", json.dumps(manifest).encode())


CFG_IMAGE = "husktest/cfg:latest"
CFG_CONFIG = {
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ['echo "cmd:$0:$(id -u):$(pwd):$FROM_IMAGE"'],
    "Env": ["PATH=/usr/local/bin:/bin", "FROM_IMAGE=yes", "SHARED=image"],
    "WorkingDir": "/srv/app",
    "User": "app",
    "StopSignal": "SIGUSR1",
}


@pytest.fixture
def cfg_image(phusk):
    """Load an image whose config sets Entrypoint, Cmd, Env, WorkingDir, User
    and StopSignal; returns its reference."""
    arc = phusk.base / "cfg.tar"
    docker_archive(arc, CFG_IMAGE, CFG_CONFIG, busybox_layer())
    p = phusk("load", "-i", arc, check=False)
    if p.returncode != 0:
        pytest.fail(f"husk load of the test image failed: {p.stderr}", pytrace=False)
    return CFG_IMAGE


def cgroup_v1_file(cid, controller, name):
    """The host-side value of a v1 cgroup file of container cid, or None."""
    p = Path(host.CGROUP_ROOT) / controller / "husk" / cid / name
    try:
        return p.read_text().strip()
    except OSError:
        return None
