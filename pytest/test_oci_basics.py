"""The container's process sees its own namespaces: PID 1, its hostname, its
own /proc; exit codes and signals come back through `run`."""

import os
import signal
import time

import pytest

from husktest.asserts import assert_ok, mount_at, wait_for_path


def test_pid_is_1(oci, bundle):
    r = oci.run_probe(bundle)
    assert r["pid"] == 1, f"container process has pid {r['pid']}, not 1"
    assert r["ppid"] == 0, f"pid 1 has a parent inside the container: {r['ppid']}"


def test_hostname_is_set(oci, bundle):
    bundle.config["hostname"] = "husk-hostname-test"
    r = oci.run_probe(bundle, "--read", "/proc/sys/kernel/hostname")
    assert r["hostname"] == "husk-hostname-test"
    assert r["files"]["/proc/sys/kernel/hostname"].strip() == "husk-hostname-test"
    assert r["ns"]["uts"] != os.stat("/proc/self/ns/uts").st_ino, "no new UTS namespace"


def test_domainname_is_set(oci, bundle):
    bundle.config["domainname"] = "husk.example"
    r = oci.run_probe(bundle)
    assert r["domainname"] == "husk.example"


def test_proc_is_the_containers(oci, bundle):
    r = oci.run_probe(bundle)
    assert r["proc_pids"] == [1], f"/proc shows pids that are not the container's: {r['proc_pids']}"
    proc = mount_at(r, "/proc")
    assert proc is not None and proc["fstype"] == "proc", "no proc mounted at /proc"
    host_pidns = os.stat("/proc/self/ns/pid").st_ino
    assert r["ns"]["pid"] != host_pidns, "container shares the host pid namespace"


def test_namespaces_are_new(oci, bundle):
    r = oci.run_probe(bundle)
    for ns in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        host_ino = os.stat(f"/proc/self/ns/{ns}").st_ino
        assert r["ns"][ns] != host_ino, f"container shares the host {ns} namespace"
    assert r["ns"]["user"] == os.stat("/proc/self/ns/user").st_ino, "unexpected user namespace"


def test_args_are_passed_verbatim(oci, bundle):
    bundle.set_args("/bin/probe", "--check", "/with space", "--check", 'quote"and\\back')
    r = oci.run_probe(bundle)
    assert r["args"] == ["/bin/probe", "--check", "/with space", "--check", 'quote"and\\back']


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_code_propagates(oci, bundle, code):
    bundle.probe("exit", str(code))
    res = oci.run(bundle)
    assert not res.timed_out, res.describe()
    assert res.returncode == code, f"run returned {res.returncode}, process exited {code}\n{res.describe()}"


def test_stdio_passes_through(oci, bundle):
    bundle.set_args("/bin/sh", "-c", "echo out-line; echo err-line >&2")
    res = oci.run(bundle)
    assert_ok(res)
    assert res.stdout == "out-line\n"
    assert "err-line" in res.stderr


@pytest.mark.parametrize(
    "sig,pid_ns",
    [("KILL", True), ("TERM", False)],
    ids=["SIGKILL-pid1", "SIGTERM-no-pidns"],
)
def test_signal_exit_code_is_128_plus(oci, bundle, sig, pid_ns):
    """`run` returns 128+N when the container's process dies of signal N.
    (PID 1 of a pid namespace ignores SIGTERM without a handler, so TERM is
    checked on a container without its own pid namespace.)"""
    if not pid_ns:
        bundle.remove_namespace("pid")
    bundle.probe("sleep", "300")
    cid = oci.new_id("sig")
    bundle.write()
    p = oci.popen("run", "--bundle", bundle.path, cid)
    oci.track(cid, bundle)
    try:
        oci.wait_status(cid, "running", timeout=15)
        oci._remember_pid(cid)
        assert_ok(oci.kill(cid, sig, check=False), f"kill {sig}")
        rc = p.wait(timeout=15)
    finally:
        if p.poll() is None:
            oci.kill(cid, "KILL", check=False)
            p.wait(timeout=15)
    want = 128 + getattr(signal, "SIG" + sig)
    assert rc == want, f"run returned {rc}, want {want}; stderr: {p.stderr.read()}"


def test_run_detach_returns_while_container_runs(oci, bundle, workdir):
    bundle.probe("signal-wait", "--ready", "/ready")
    cid = oci.new_id("detach")
    bundle.write()
    out = open(workdir / "detach.out", "w")
    t0 = time.monotonic()
    res = oci("run", "--detach", "--bundle", bundle.path, cid, stdout=out, stderr=out)
    out.close()
    oci.track(cid, bundle)
    assert_ok(res, "run --detach")
    assert time.monotonic() - t0 < 20
    assert wait_for_path(bundle.rootfs / "ready"), "container process never started"
    assert oci.status(cid) == "running"


def test_init_is_named_until_start(oci, bundle):
    """Before start the container's pid is the runtime's waiting init (named
    for ps, e.g. husk:init), not yet the user's program."""
    bundle.probe("signal-wait", "--ready", "/ready")
    cid = oci.new_id("name")
    oci.create(bundle, cid)
    pid = oci.state(cid)["pid"]
    with open(f"/proc/{pid}/comm") as f:
        before = f.read().strip()
    assert before and before != "probe", f"user process already exec'd before start: {before!r}"
    if "husk" in os.path.basename(oci.binary):
        assert before.startswith("husk:"), f"init stage not named husk:*: {before!r}"
    oci.start(cid)
    assert wait_for_path(bundle.rootfs / "ready")
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "probe"


def test_oom_score_adj_applied(oci, bundle):
    bundle.process["oomScoreAdj"] = 123
    r = oci.run_probe(bundle)
    assert r["oom_score_adj"] == 123


def test_sysctl_applied(oci, bundle):
    knobs = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
    paths = {k: "/proc/sys/" + k.replace(".", "/") for k in knobs}
    host_before = {k: open(p).read() for k, p in paths.items()}
    assert host_before["kernel.msgmax"].strip() != "4096", "pick another test value"
    bundle.linux["sysctl"] = knobs
    args = []
    for p in paths.values():
        args += ["--read", p]
    r = oci.run_probe(bundle, *args)
    for k, p in paths.items():
        assert r["files"][p].strip() == knobs[k], f"sysctl {k} not applied"
    # the host's values are untouched (the net and ipc namespaces are new)
    assert {k: open(p).read() for k, p in paths.items()} == host_before
