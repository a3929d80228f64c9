"""Attacks on the container boundary through the OCI face (husk-oci with a
runc-like default spec: no user namespace, three capabilities, masked and
readonly /proc paths, no seccomp).  Each test is named after the attack and
asserts that the attack fails AND that the host is intact.

The hostile program is pytest/attacker.c, compiled statically into the
container (skips when no C compiler can link statically).  Attacks on the
runtime binary run against a COPY of husk-oci in the test's directory, never
against the build's binary."""

import hashlib
import json
import signal
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from husktest import host
from husktest.asserts import assert_ok
from husktest.runtime import Runtime

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def attacker_binary(session_dir):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to build the attacker")
    out = session_dir / "attacker"
    p = subprocess.run(
        [cc, "-static", "-O1", "-o", str(out), str(HERE / "attacker.c")],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        pytest.skip(f"cannot link the attacker statically: {p.stderr.strip()[-500:]}")
    return out


@pytest.fixture
def abundle(make_bundle, attacker_binary):
    """A bundle with /bin/attacker in its rootfs."""

    def make(*args):
        b = make_bundle(args or ("/bin/attacker",))
        shutil.copy2(attacker_binary, b.rootfs / "bin/attacker")
        return b

    return make


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def runtime_copy(oci_binary, workdir):
    """A Runtime over a private copy of the runtime binary (the attacks try to
    overwrite it), with the same teardown checks as the `oci` fixture, plus:
    the copy must be byte-for-byte unchanged."""
    before = host.HostSnapshot()
    bindir = workdir / "husk-bin"
    bindir.mkdir()
    copy = bindir / os.path.basename(oci_binary)
    shutil.copy2(os.path.realpath(oci_binary), copy)
    os.chmod(copy, 0o755)
    digest = _sha256(copy)
    rt = Runtime(copy, workdir / "state-copy", workdir)
    rt.copy_path = copy
    rt.copy_digest = digest
    yield rt
    problems = rt.cleanup()
    if _sha256(copy) != digest:
        problems.append(f"the runtime binary {copy} was modified from inside a container")
    left = host.mounts_under(str(workdir))
    problems += [f"mount left in the test dir: {m['mount_point']}" for m in left]
    if left:
        host.unmount_under(str(workdir))
    problems += before.differences()
    if problems:
        pytest.fail("left behind / host changed:\n  " + "\n  ".join(problems), pytrace=False)


def _lines(res):
    return res.json_lines()


def _ops(res):
    return {d["op"]: d["result"] for d in res.json_lines() if "op" in d}


def _wait_stopped(rt, cid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rt.status(cid) in ("stopped", None):
            return
        time.sleep(0.1)
    raise AssertionError(f"container {cid} still running after {timeout}s")


def _race_execs(rt, bundle, race_seconds, exec_args, tag):
    """Start the attacker's exe-race as the container's init, hammer it with
    `exec` of exec_args while it runs, and return (its report, n_execs)."""
    report = "/tmp/race.json"
    bundle.set_args("/bin/attacker", "exe-race", str(race_seconds), report)
    cid = rt.new_id(tag)
    rt.create(bundle, cid)
    rt.start(cid)
    n = 0
    deadline = time.monotonic() + race_seconds - 0.5
    while time.monotonic() < deadline:
        res = rt("exec", cid, *exec_args, timeout=10)
        assert not res.timed_out, res.describe()
        n += 1
    # the attacker keeps trying to write for up to 5 s after the race
    _wait_stopped(rt, cid, race_seconds + 15)
    path = bundle.rootfs / report.lstrip("/")
    assert path.exists(), "the attacker wrote no report" + rt.container_output(cid)

    r = json.loads(path.read_text())
    # husk's sealed exec stub may be seen for a moment; it cannot be written
    assert r["stub_write"] != "ok", f"overwrote the sealed exec stub: {r}"
    return r, n


# ---------------------------------------------------------------------------
# CVE-2019-5736: the runtime binary through /proc/PID/exe


def test_overwrite_proc_pid_exe_of_exec_process_fails(runtime_copy, abundle):
    """A container process races `exec`: it scans /proc for the runtime's exec
    child (the runtime binary until it execs) and tries to open its exe,
    ptrace it, and overwrite the binary once it is no longer busy."""
    b = abundle()
    r, n = _race_execs(runtime_copy, b, 6, ["/bin/true"], "exerace")
    assert n >= 2, f"only {n} execs during the race"
    assert r["pids_seen"] > 0, f"the attacker never saw an exec process: {r}"
    assert r["foreign"] == 0, f"opened the runtime binary through /proc/PID/exe: {r}"
    assert r["ptraced"] == 0, f"ptraced a process of the runtime: {r}"
    assert r["write"] in ("not-tried",), r
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


def test_overwrite_proc_self_exe_fails(runtime_copy, abundle):
    """The container's own /proc/self/exe is its own binary: reopening it for
    writing must not reach anything outside the container."""
    b = abundle("/bin/attacker", "exe-self", "/tmp/self.json")
    res = runtime_copy.run(b)
    assert_ok(res, "exe-self")

    r = json.loads((b.rootfs / "tmp/self.json").read_text())
    # writing our own running binary is refused while it runs
    assert r["open_write"] == "ETXTBSY", r
    assert r["reopen_write"] == "ETXTBSY", r
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


def test_exec_of_symlink_to_proc_self_exe_cannot_overwrite_runtime(runtime_copy, abundle):
    """The image's binary is a symlink to /proc/self/exe: an `exec` of it
    would run the runtime binary itself inside the container, where the
    attacker can open it.  The runtime must refuse to exec it."""
    b = abundle()
    os.symlink("/proc/self/exe", b.rootfs / "bin/evil")
    r, n = _race_execs(runtime_copy, b, 6, ["/bin/evil", "--version"], "symexe")
    assert n >= 3
    assert r["foreign"] == 0, f"opened the runtime binary through /proc/PID/exe: {r}"
    assert r["write"] == "not-tried", r
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


def test_init_is_symlink_to_proc_self_exe_refused(runtime_copy, abundle):
    """Same trick as the container's init process (a malicious image)."""
    b = abundle()
    os.symlink("/proc/self/exe", b.rootfs / "bin/evil")
    b.set_args("/bin/evil", "--version")
    res = runtime_copy.run(b)
    assert "husk version" not in res.stdout, "the runtime binary ran as the container's init"
    assert res.returncode != 0, res.describe()
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


def _like_a_glibc_image(rt, b):
    """Give the rootfs what a glibc-based image has: the dynamic loader and
    libraries at the paths the runtime binary asks for, so that an exec of the
    runtime binary inside the container would really run it (with a planted
    libc, the attacker's code: CVE-2019-5736)."""
    out = subprocess.run(["ldd", str(rt.copy_path)], capture_output=True, text=True).stdout
    paths = [f for line in out.splitlines() for f in line.split() if f.startswith("/")]
    if not paths:
        pytest.skip("the runtime binary is static: nothing to copy")
    for f in paths:
        dst = b.rootfs / f.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst)


def test_init_via_proc_self_exe_in_a_glibc_image_reaches_only_the_sealed_stub(
    runtime_copy, abundle
):
    """With the image's own loader, /proc/self/exe of the init just before
    its exec would be the runtime binary, runnable: husk execs the container's
    program from a sealed stub instead, so this runs the stub, which refuses."""
    b = abundle()
    _like_a_glibc_image(runtime_copy, b)
    os.symlink("/proc/self/exe", b.rootfs / "bin/evil")
    for args in (("/bin/evil", "--version"), ("/bin/evil.sh",)):
        (b.rootfs / "bin/evil.sh").write_text("#!/proc/self/exe\n")
        os.chmod(b.rootfs / "bin/evil.sh", 0o755)
        b.set_args(*args)
        res = runtime_copy.run(b)
        assert "husk" not in res.stdout, f"the runtime binary ran in the container: {res.describe()}"
        assert res.returncode == 127, res.describe()
        assert "refusing to run the runtime's exec stub" in res.stderr, res.describe()
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


def test_exec_via_proc_self_exe_in_a_glibc_image_reaches_only_the_sealed_stub(
    runtime_copy, abundle
):
    b = abundle("sleep", "30")
    _like_a_glibc_image(runtime_copy, b)
    os.symlink("/proc/self/exe", b.rootfs / "bin/evil")
    cid = runtime_copy.new_id("glibcexec")
    runtime_copy.create(b, cid)
    runtime_copy.start(cid)
    res = runtime_copy("exec", cid, "/bin/evil", "--version", timeout=10)
    assert "husk version" not in res.stdout, res.describe()
    assert res.returncode == 127 and "refusing to run the runtime's exec stub" in res.stderr, (
        res.describe())
    # the stub is a sealed memfd: what the container sees of it cannot be written
    res = runtime_copy("exec", cid, "/bin/attacker", "exe-self", "/tmp/stub.json", timeout=10)
    assert_ok(res, "exe-self")
    runtime_copy("kill", cid, "KILL")
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


def test_exec_of_script_with_proc_self_exe_interpreter_cannot_overwrite_runtime(
    runtime_copy, abundle
):
    """#!/proc/self/exe as a script's interpreter: the kernel opens it while
    the exec child is still the runtime binary... or rather the sealed exec
    stub, which husk execs last (without a loader in the image the runtime
    binary would not run anyway: the glibc-image tests above)."""
    b = abundle()
    (b.rootfs / "bin/evil.sh").write_text("#!/proc/self/exe\n")
    os.chmod(b.rootfs / "bin/evil.sh", 0o755)
    r, n = _race_execs(runtime_copy, b, 6, ["/bin/evil.sh"], "shebang")
    assert r["foreign"] == 0, f"opened the runtime binary through /proc/PID/exe: {r}"
    assert _sha256(runtime_copy.copy_path) == runtime_copy.copy_digest


# ---------------------------------------------------------------------------
# CVE-2021-30465: mount destinations that leave the root


def _host_dir(workdir, name):
    d = workdir / name
    d.mkdir()
    (d / "host-file").write_text("host data\n")
    return d


def _assert_host_dir_intact(d):
    assert sorted(os.listdir(d)) == ["host-file"], f"host dir {d} changed: {os.listdir(d)}"
    assert (d / "host-file").read_text() == "host data\n"
    assert host.mounts_under(str(d)) == [], f"something was mounted on the host dir {d}"


def test_symlink_mount_destination_to_host_dir_stays_in_root(oci, abundle, workdir):
    """The rootfs has /mnt/evil -> <absolute host dir>: the tmpfs mounted on
    /mnt/evil must land inside the container, not on the host dir."""
    hostdir = _host_dir(workdir, "host-target")
    b = abundle()
    os.symlink(str(hostdir), b.rootfs / "mnt/evil")
    os.symlink("../../../../../../../../" + str(hostdir).lstrip("/"), b.rootfs / "mnt/evil-rel")
    b.add_mount("/mnt/evil", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/mnt/evil-rel/sub", "tmpfs", "tmpfs", ["size=1m"])
    b.set_args("/bin/sh", "-c", "echo pwned > /mnt/evil/pwned; echo pwned > /mnt/evil-rel/sub/pwned; cat /proc/self/mountinfo")
    res = oci.run(b)
    _assert_host_dir_intact(hostdir)
    if res.returncode == 0:
        # contained: the mounts are inside the rootfs, at the in-root target
        assert str(hostdir) in res.stdout or "/mnt" in res.stdout


def test_symlink_swap_of_mount_destination_race_stays_in_root(oci, abundle, workdir):
    """CVE-2021-30465: while the runtime sets up the mounts, the parent of a
    mount destination is swapped (rename, atomic) between a directory and a
    symlink to a host directory, as a container sharing the volume would do.
    No mount may ever land on the host directory."""
    hostdir = _host_dir(workdir, "host-swap-target")
    b = abundle("/bin/true")
    vol = b.rootfs / "vol"
    vol.mkdir()
    real = vol / "real"
    real.mkdir()
    (real / "target").mkdir()
    link_tmp = vol / "link.tmp"
    swapped = vol / "a"
    os.mkdir(swapped)
    (swapped / "target").mkdir()
    for i in range(4):
        b.add_mount(f"/vol/a/target", "tmpfs", "tmpfs", ["size=1m"])
    stop = threading.Event()
    swaps = [0]

    def swapper():
        while not stop.is_set():
            try:
                os.symlink(str(hostdir), link_tmp)
                os.rename(str(swapped), str(vol / "a.dir"))
                os.rename(str(link_tmp), str(swapped))
                os.rename(str(swapped), str(link_tmp))
                os.rename(str(vol / "a.dir"), str(swapped))
                os.unlink(link_tmp)
                swaps[0] += 1
            except OSError:
                for p in (link_tmp,):
                    if os.path.islink(p):
                        os.unlink(p)
                if not swapped.exists() and (vol / "a.dir").exists():
                    os.rename(str(vol / "a.dir"), str(swapped))

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    try:
        outcomes = {"ok": 0, "refused": 0}
        for _ in range(15):
            res = oci.run(b, timeout=20)
            outcomes["ok" if res.returncode == 0 else "refused"] += 1
            assert host.mounts_under(str(hostdir)) == [], "a mount landed on the host dir"
    finally:
        stop.set()
        t.join(5)
    assert swaps[0] > 0, "the swapper never ran"
    _assert_host_dir_intact(hostdir)


@pytest.mark.parametrize(
    "dest", ["/../../../../HOSTDIR", "/mnt/../../../../../HOSTDIR", "mnt/../../../HOSTDIR/x"]
)
def test_dotdot_in_mount_destination_stays_in_root(oci, abundle, workdir, dest):
    hostdir = _host_dir(workdir, "host-dotdot")
    dest = dest.replace("/HOSTDIR", str(hostdir))
    b = abundle("/bin/true")
    b.add_mount(dest, "tmpfs", "tmpfs", ["size=1m"])
    res = oci.run(b)
    assert not res.timed_out
    _assert_host_dir_intact(hostdir)
    if res.returncode == 0:
        # contained: whatever it created is inside the rootfs
        assert not (Path(str(hostdir)) / "x").exists()


# ---------------------------------------------------------------------------
# kernel interfaces


def test_write_to_proc_sysrq_trigger_fails(oci, bundle):
    # only opens for writing (nothing is written): harmless if it succeeded
    bundle.probe("try", "open-write", "/proc/sysrq-trigger")
    res = oci.run(bundle)
    r = res.json_lines()[-1]
    assert r["result"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), r


@pytest.mark.parametrize(
    "path",
    ["/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/uevent_helper",
     "/sys/fs/cgroup/cgroup.procs", "/sys/power/state"],
)  # fmt: skip
def test_write_to_sys_fails(oci, bundle, path):
    bundle.probe("try", "open-write", path)
    res = oci.run(bundle)
    r = res.json_lines()[-1]
    assert r["result"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), r


def test_load_kernel_module_fails(oci, abundle):
    if not os.path.exists("/proc/modules"):
        pytest.skip("kernel built without module support (no /proc/modules): nothing to load")
    b = abundle("/bin/attacker", "module")
    res = oci.run(b)
    assert_ok(res, "attacker module")
    ops = _ops(res)
    assert ops == {"init_module": "EPERM", "finit_module": "EPERM", "delete_module": "EPERM"}, ops


def test_mount_inside_without_capabilities_fails(oci, abundle):
    b = abundle("/bin/attacker", "mount")
    res = oci.run(b)
    assert_ok(res, "attacker mount")
    ops = _ops(res)
    for op, r in ops.items():
        assert r in ("EPERM", "EACCES"), f"{op}: {r} (all: {ops})"


def test_unshare_inside_without_capabilities_fails(oci, abundle):
    b = abundle("/bin/attacker", "unshare")
    res = oci.run(b)
    assert_ok(res, "attacker unshare")
    ops = _ops(res)
    assert len(ops) == 7
    for op, r in ops.items():
        assert r in ("EPERM", "EINVAL"), f"{op}: {r} (all: {ops})"
    assert ops["unshare-mnt"] == "EPERM" and ops["unshare-net"] == "EPERM"


def test_ptrace_of_runtime_fails(runtime_copy, abundle):
    """The race of test_overwrite_proc_pid_exe_of_exec_process_fails, looked
    at for PTRACE_ATTACH of the runtime's exec children."""
    b = abundle()
    r, n = _race_execs(runtime_copy, b, 4, ["/bin/true"], "ptrace")
    assert r["pids_seen"] > 0, r
    assert r["ptraced"] == 0, f"ptraced a runtime process: {r}"


def test_fork_bomb_stops_at_pids_limit(oci, abundle):
    if not (os.path.isdir("/sys/fs/cgroup/pids") or os.path.exists("/sys/fs/cgroup/cgroup.controllers")):
        pytest.skip("no pids cgroup controller")
    if "--cgroup-manager=disabled" in os.environ.get("HUSK_OCI_ARGS", ""):
        pytest.skip("cgroups disabled by HUSK_OCI_ARGS")
    b = abundle("/bin/attacker", "forkbomb", "100000")
    b.linux["resources"] = {"pids": {"limit": 40}}
    res = oci.run(b, timeout=60)
    assert_ok(res, "fork bomb")
    r = res.json_lines()[-1]
    assert r["stopped_by"] == "EAGAIN", r
    assert r["forked"] < 40, r
    # the host can still fork
    assert subprocess.run(["true"]).returncode == 0


def test_reading_another_containers_files_fails(oci, abundle):
    victim = abundle("/bin/sh", "-c", "echo victim-secret > /tmp/secret; exec sleep 30")
    vid = oci.new_id("victim")
    oci.create(victim, vid)
    oci.start(vid)
    secret_host = victim.rootfs / "tmp/secret"
    deadline = time.monotonic() + 5
    while not secret_host.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    vpid = oci.state(vid)["pid"]
    paths = [str(secret_host), f"/proc/{vpid}/root/tmp/secret", "/proc/1/root/tmp/secret",
             f"/proc/{vpid}/environ"]  # fmt: skip
    att = abundle("/bin/attacker", "readpaths", *paths)
    res = oci.run(att)
    assert_ok(res, "readpaths")
    for d in res.json_lines():
        if d["path"] == "/proc/1/root/tmp/secret":
            # pid 1 is the attacker itself: its own /tmp has no secret
            assert d["result"] == "ENOENT", d
        else:
            assert d["result"] != "ok", f"read {d['path']} of another container: {d}"
    assert "victim-secret" not in res.stdout
    oci.kill(vid, "KILL")


# ---------------------------------------------------------------------------
# what the container can see


def test_proc_kcore_and_sys_firmware_hidden(oci, bundle):
    checks = ["/proc/kcore", "/sys/firmware", "/proc/keys", "/proc/timer_list"]
    args = []
    for p in checks:
        args += ["--check", p]
    r = oci.run_probe(bundle, *args)
    c = r["checks"]
    k = c["/proc/kcore"]
    assert not k.get("exists") or k["read"] != "ok" or k.get("read_bytes", 0) == 0, k
    fw = c["/sys/firmware"]
    assert not fw.get("exists") or fw.get("n_entries", 0) == 0, fw
    for p in ("/proc/keys", "/proc/timer_list"):
        e = c[p]
        assert not e.get("exists") or e["read"] != "ok" or e.get("read_bytes", 0) == 0, e


HOST_DEVICES = ("sda", "vda", "nvme0", "nvme0n1", "mem", "kmem", "port", "kmsg", "loop0",
                "loop-control", "dm-0", "fuse", "net", "cpu", "hpet", "sg0")  # fmt: skip


def test_host_dev_not_visible(oci, bundle):
    bundle.set_args("/bin/ls", "-a", "/dev")
    res = oci.run(bundle)
    assert_ok(res, "ls /dev")
    names = set(res.stdout.split())
    leaked = sorted(names & set(HOST_DEVICES))
    assert leaked == [], f"host device nodes visible in the container: {leaked}"
    assert {"null", "zero", "urandom"} <= names, names


def test_host_mount_table_not_visible(oci, bundle):
    r = oci.run_probe(bundle)
    points = [m["mount_point"] for m in r["mounts"]]
    host_points = {m["mount_point"] for m in host.mountinfo()} - {"/", "/proc", "/sys", "/dev",
                                                                    "/dev/pts", "/dev/shm",
                                                                    "/dev/mqueue", "/sys/fs/cgroup"}  # fmt: skip
    leaked = sorted(set(points) & host_points)
    assert leaked == [], f"host mount points visible in the container: {leaked}"
    for m in r["mounts"]:
        assert not m["mount_point"].startswith(("/tmp/husktest", "/work", "/boot", "/home")), m
    assert len(points) < 40, f"{len(points)} mounts: the host's table? {points}"


def test_signal_to_own_process_group_does_not_reach_host(oci, abundle):
    """kill(0, SIGSTOP) from the container: the pid namespace does not filter
    process-group signals, so a container left in the caller's process group
    stops the runtime (and whatever shell ran it) on the host."""
    b = abundle("/bin/attacker", "stop-pgrp")
    cid = oci.new_id("pgrp")
    oci.track(cid, b)
    b.write()
    p = subprocess.Popen(oci.argv("run", "--bundle", b.path, cid), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)  # fmt: skip
    stopped = False
    try:
        deadline = time.monotonic() + 10
        while p.poll() is None and time.monotonic() < deadline:
            if host.pid_state(p.pid) == "T":
                stopped = True
                os.kill(p.pid, signal.SIGCONT)
                break
            time.sleep(0.02)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not stopped, "the container stopped the runtime through its process group"
    lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    ids = lines[0]
    assert ids["pgid"] == ids["pid"] and ids["sid"] == ids["pid"], (
        f"the container is not in a session of its own: {ids}"
    )
