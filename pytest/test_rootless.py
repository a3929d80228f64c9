"""Rootless husk: an unprivileged user (created here, removed afterwards) runs
containers in user namespaces mapped from /etc/subuid and /etc/subgid.

Select with `pytest -k rootless`.  What is checked:
  - the OCI face (`husk oci run`) with a one-id map written by husk itself, and
    with subordinate ranges written through newuidmap/newgidmap;
  - the state under $XDG_RUNTIME_DIR/husk and the store under
    ~/.local/share/husk;
  - limits: a clear warning (and no limit) when cgroups are not delegated,
    the limits applied when they are (a v1 subtree chowned to the user);
  - the porcelain: run, -d, exec, stop, rm, image ownership kept through the
    user namespace, --network none / slirp4netns, bridge refused;
  - the container's root is not the host's root.
"""

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from test_images import Tar, busybox_layer, docker_archive

BUSYBOX = "/bin/busybox"
CG = Path("/sys/fs/cgroup")


class User:
    def __init__(self, name, bindir, xdg):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir)
        self.bindir, self.xdg = bindir, xdg

    def env(self, **extra):
        e = {"HOME": str(self.home), "USER": self.name, "XDG_RUNTIME_DIR": str(self.xdg),
             "PATH": f"{self.bindir}:/usr/sbin:/usr/bin:/sbin:/bin", "HUSK_NETWORK": "none"}
        e.update(extra)
        return e

    def run(self, *argv, env=None, timeout=60, input=None, cwd=None):
        cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--",
               *argv]
        return subprocess.run(cmd, env=self.env(**(env or {})), capture_output=True, text=True,
                              timeout=timeout, input=input, cwd=cwd or str(self.home))

    def husk(self, *args, **kw):
        return self.run(str(self.bindir / "husk"), *args, **kw)

    def subid(self, path):
        for line in Path(path).read_text().splitlines():
            f = line.split(":")
            if len(f) == 3 and f[0] == self.name:
                return int(f[1]), int(f[2])
        return None


def _ok(p, what):
    assert p.returncode == 0, f"{what}: rc={p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


@pytest.fixture(scope="module")
def user(oci_binary):
    for tool in ("newuidmap", "newgidmap", "useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install uidmap passwd util-linux)")
    name = "huskrl" + secrets.token_hex(3)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    tmp = Path(tempfile.mkdtemp(prefix="husk-rootless-"))
    try:
        os.chmod(tmp, 0o755)
        u = User(name, tmp / "bin", tmp / "xdg")
        if u.subid("/etc/subuid") is None or u.subid("/etc/subgid") is None:
            subprocess.run(["usermod", "--add-subuids", "300000-365535", "--add-subgids",
                            "300000-365535", name], check=True, capture_output=True)
        # husk and husk-image where the user can run them (the build dir may be private)
        u.bindir.mkdir()
        runtime = Path(os.path.realpath(oci_binary)).parent
        for b in ("husk", "husk-image"):
            shutil.copy2(runtime / b, u.bindir / b)
        u.xdg.mkdir(mode=0o700)
        os.chown(u.xdg, u.uid, u.gid)
        yield u
    finally:
        # containers die with their init; what is left of the user's are ours
        p = subprocess.run(["pgrep", "-u", name], capture_output=True, text=True)
        for pid in p.stdout.split():
            try:
                os.kill(int(pid), 9)
            except ProcessLookupError:
                pass
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _bundle(u, args, tag):
    """An OCI bundle in the user's home from `husk oci spec --rootless`."""
    b = u.home / f"bundle-{tag}"
    rootfs = b / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "tmp").mkdir()
    os.chmod(rootfs / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for a in ("sh", "id", "cat", "touch", "ls", "stat"):
        (rootfs / "bin" / a).symlink_to("busybox")
    subprocess.run(["chown", "-R", f"{u.uid}:{u.gid}", str(b)], check=True)
    _ok(u.husk("oci", "spec", "--rootless", cwd=str(b)), "spec --rootless")
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = list(args)
    cfg["process"]["terminal"] = False
    return b, cfg


def _write(b, cfg):
    (b / "config.json").write_text(json.dumps(cfg))


def test_rootless_oci_run_maps_the_user_to_root(user):
    b, cfg = _bundle(user, ["sh", "-c", "id -u; cat /proc/self/uid_map"], "single")
    _write(b, cfg)
    p = _ok(user.husk("oci", "run", "c1", cwd=str(b)), "oci run")
    lines = p.stdout.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(user.uid), "1"]
    # state under $XDG_RUNTIME_DIR/husk, owned by the user, gone after run
    root = user.xdg / "husk"
    assert root.is_dir() and root.stat().st_uid == user.uid
    assert not (root / "c1").exists()


def test_rootless_oci_subordinate_ranges_through_newuidmap(user):
    start, count = user.subid("/etc/subuid")
    gstart, gcount = user.subid("/etc/subgid")
    b, cfg = _bundle(user, ["sh", "-c", "id; cat /proc/self/uid_map; touch /tmp/made-by-1000"],
                     "ranges")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": user.uid, "size": 1},
                                   {"containerID": 1, "hostID": start, "size": count}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": user.gid, "size": 1},
                                   {"containerID": 1, "hostID": gstart, "size": gcount}]
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    cfg["root"]["readonly"] = False
    _write(b, cfg)
    p = _ok(user.husk("oci", "run", "c2", cwd=str(b)), "oci run")
    assert "uid=1000 gid=1000" in p.stdout
    assert [line.split() for line in p.stdout.splitlines()[1:3]] == [
        ["0", str(user.uid), "1"], ["1", str(start), str(count)]]
    # container uid 1000 is host uid start+999
    st = (b / "rootfs" / "tmp" / "made-by-1000").stat()
    assert (st.st_uid, st.st_gid) == (start + 999, gstart + 999)


def test_rootless_oci_ranges_not_granted_are_refused(user):
    b, cfg = _bundle(user, ["id"], "denied")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
    _write(b, cfg)
    p = user.husk("oci", "run", "c3", cwd=str(b))
    assert p.returncode != 0
    assert "newuidmap" in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not (user.xdg / "husk" / "c3").exists()


def test_rootless_limits_without_delegation_warn(user):
    b, cfg = _bundle(user, ["cat", "/proc/self/cgroup"], "nodeleg")
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 20}}
    _write(b, cfg)
    p = _ok(user.husk("oci", "run", "c4", cwd=str(b)), "oci run")
    assert "warning: rootless: resource limits ignored: cgroups are not delegated" in p.stderr
    assert not (CG / "memory" / "husk" / "c4").exists()


@pytest.fixture
def delegated(user):
    """A cgroup v1 subtree in every hierarchy, chowned to the user (the
    delegation a v1 host can give)."""
    if not (CG / "memory" / "cgroup.procs").exists():
        pytest.skip("no cgroup v1 memory hierarchy on this host")
    name = "husk-rl-" + secrets.token_hex(3)
    made = []
    try:
        for h in sorted(CG.iterdir()):
            if h.name == "unified" or h.is_symlink() or not (h / "cgroup.procs").exists():
                continue
            d = h / name
            d.mkdir()
            made.append(d)
            if h.name == "cpuset":
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((h / f).read_text())
            subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(d)], check=True)
        yield name
    finally:
        for d in made:
            for child in sorted(d.iterdir()):
                if child.is_dir():
                    child.rmdir()
            d.rmdir()


def test_rootless_limits_apply_in_delegated_cgroups(user, delegated):
    b, cfg = _bundle(user, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                            "/sys/fs/cgroup/pids/pids.max"], "deleg")
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 20}}
    cfg["linux"]["cgroupsPath"] = f"/{delegated}/c5"
    _write(b, cfg)
    p = _ok(user.husk("oci", "run", "c5", cwd=str(b)), "oci run")
    assert p.stdout.split() == [str(64 << 20), "20"]
    assert "warning" not in p.stderr
    assert not (CG / "memory" / delegated / "c5").exists()  # removed with the container


def test_rootless_porcelain_run_detach_exec_stop_rm(user):
    p = _ok(user.husk("run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map"),
            "husk run")
    assert p.stdout.split("\n")[0] == "0"
    assert p.stdout.split("\n")[1].split()[:2] == ["0", str(user.uid)]
    store = user.home / ".local" / "share" / "husk"
    assert (store / "images").is_dir() and store.stat().st_uid == user.uid

    cid = _ok(user.husk("run", "-d", "--name", "rl1", "busybox", "sleep", "60"), "run -d")
    cid = cid.stdout.strip()
    try:
        ps = _ok(user.husk("ps"), "ps")
        assert "rl1" in ps.stdout and "Up" in ps.stdout
        # a file made by a non-root user of the container (a subordinate id on the host)
        # (an ASan build's LeakSanitizer cannot stop a process that joined a
        # user namespace, which is then not dumpable: it would spin at exit)
        ex = _ok(user.husk("exec", "-u", "1000", "rl1", "sh", "-c",
                           "id -u; mkdir /tmp/d && touch /tmp/d/f",
                           env={"ASAN_OPTIONS": "detect_leaks=0"}), "exec")
        assert ex.stdout.strip() == "1000"
        assert (user.xdg / "husk" / cid).is_dir()
        _ok(user.husk("stop", "-t", "1", "rl1"), "stop")
    finally:
        user.husk("rm", "-f", "rl1")
    # rm works in the user namespace: the subordinate-owned files are gone too
    assert not (store / "containers" / cid).exists()
    assert not (user.xdg / "husk" / cid).exists()


@pytest.fixture
def shared_tmp():
    """A temp dir the test user can reach (pytest's tmp_path is root's only)."""
    d = Path(tempfile.mkdtemp(prefix="husk-rl-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_rootless_images_keep_their_owners(user, shared_tmp):
    tmp_path = shared_tmp
    def extra(t):
        ti = t._info("home/u1000", tarfile.DIRTYPE, 0o755)
        ti.uid = ti.gid = 1000
        t.t.addfile(ti)
        t.dir("opq")
        t.file("opq/old", "old")

    top = Tar().dir("opq").file("opq/.wh..wh..opq", "").file("opq/new", "new").bytes()
    archive = tmp_path / "img.tar"
    docker_archive(archive, [busybox_layer(extra), top], tags=("rlimg:1",))
    os.chmod(tmp_path, 0o755)
    os.chmod(archive, 0o644)
    _ok(user.husk("load", "-i", str(archive)), "load")
    p = _ok(user.husk("run", "--rm", "rlimg:1", "sh", "-c",
                      "ls -lnd /home/u1000; ls /opq"), "run")
    lines = p.stdout.splitlines()
    assert lines[0].split()[2:4] == ["1000", "1000"], p.stdout
    assert lines[1:] == ["new"]  # the opaque directory hides the lower layer's file
    _ok(user.husk("rmi", "rlimg:1"), "rmi")


def test_rootless_root_in_the_container_is_not_root_on_the_host(user, shared_tmp):
    tmp_path = shared_tmp
    host_dir = tmp_path / "root-owned"
    host_dir.mkdir()
    os.chmod(tmp_path, 0o755)
    (host_dir / "secret").write_text("x")
    os.chmod(host_dir / "secret", 0o600)
    p = user.husk("run", "--rm", "-v", f"{host_dir}:/mnt", "busybox", "sh", "-c",
                  "id -u; cat /mnt/secret; touch /mnt/new; echo done")
    assert p.stdout.split() == ["0", "done"], p.stdout + p.stderr
    assert "Permission denied" in p.stderr
    assert not (host_dir / "new").exists()


def test_rootless_bridge_is_refused_clearly(user):
    p = user.husk("run", "--rm", "--network", "bridge", "busybox", "true")
    assert p.returncode == 125
    assert "--network bridge needs root" in p.stderr and p.stderr.count("\n") == 1
    containers = user.home / ".local" / "share" / "husk" / "containers"
    assert not any(c.name != ".names" for c in containers.iterdir())


@pytest.fixture
def tun_for_users():
    """slirp4netns opens /dev/net/tun as the user: udev makes it 0666; some
    VMs leave it 0600.  Opened up for the test, then put back."""
    tun = Path("/dev/net/tun")
    if not tun.exists():
        pytest.skip("no /dev/net/tun")
    mode = tun.stat().st_mode & 0o777
    os.chmod(tun, 0o666)
    yield
    os.chmod(tun, mode)


def test_rootless_slirp4netns_network(user, tun_for_users):
    if shutil.which("slirp4netns") is None:
        pytest.skip("slirp4netns not installed (apt-get install slirp4netns)")
    # the default network of a rootless run (HUSK_NETWORK unset) is slirp4netns;
    # the only peer used is slirp's own gateway: nothing leaves the host
    p = _ok(user.husk("run", "--rm", "busybox", "sh", "-c",
                      "ip -4 -o addr show tap0; ip route; cat /etc/resolv.conf; "
                      "ping -c1 -W5 10.0.2.2 >/dev/null && echo reached",
                      env={"HUSK_NETWORK": ""}), "run")
    assert "inet 10.0.2.100/24" in p.stdout
    assert "default via 10.0.2.2 dev tap0" in p.stdout
    assert "nameserver 10.0.2.3" in p.stdout
    assert p.stdout.strip().endswith("reached")
    # slirp4netns ends with the container
    left = subprocess.run(["pgrep", "-u", user.name, "slirp4netns"], capture_output=True,
                          text=True).stdout.split()
    for pid in left:  # allow a moment for the exit-fd to be seen
        for _ in range(50):
            if _gone(pid):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"slirp4netns {pid} still runs after the container exited")


def _gone(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rootless_slirp4netns_publish(user, tun_for_users):
    if shutil.which("slirp4netns") is None:
        pytest.skip("slirp4netns not installed (apt-get install slirp4netns)")
    import urllib.request
    port = _free_port()
    pub = f"127.0.0.1:{port}:80"
    cid = _ok(user.husk("run", "-d", "--name", "rlweb", "--network", "slirp4netns", "-p", pub,
                        "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"), "run -d").stdout.strip()
    try:
        body = None
        for _ in range(50):  # httpd may need a moment to listen
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=2) as r:
                    body = r.read().decode().strip()
                break
            except OSError:
                time.sleep(0.1)
        assert body == cid[:12]
        # the same host port again: refused clearly, nothing left behind
        p = user.husk("run", "--rm", "--network", "slirp4netns", "-p", pub, "busybox", "true")
        assert p.returncode == 125 and "slirp4netns refused it" in p.stderr, p.stderr
    finally:
        _ok(user.husk("rm", "-f", "rlweb"), "rm -f")
    containers = user.home / ".local" / "share" / "husk" / "containers"
    assert not any(c.name != ".names" for c in containers.iterdir())
