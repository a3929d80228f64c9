"""podman drives the runtime: load, run, exit codes, detached + exec, kill, stop, rm, tty.

Runtime: $HUSK_CLIENT_RUNTIME or $HUSK_BUILD/runtime/husk-oci (see clients.py).
podman gets private config/storage under a temp dir that is removed afterwards.
"""

import os
import shutil
import tempfile
import time

import pytest

from clients import (  # noqa: F401
    IMAGE_NAME,
    Podman,
    cgroup_roots,
    client_image,
    pids_mentioning,
    require_client,
    rmtree,
)

IMG = IMAGE_NAME


@pytest.fixture(scope="module")
def podman(client_image):  # noqa: F811
    runtime = require_client("podman", "conmon")
    base = tempfile.mkdtemp(prefix="husk-pm-", dir="/tmp")
    pm = None
    try:
        pm = Podman(base, runtime)
        p = pm("load", "-i", client_image)
        assert IMG in p.stdout + p.stderr, pm.explain(p)
        yield pm
    finally:
        if pm is not None:
            pm.cleanup()
        rmtree(base)
    assert not os.path.exists(base)
    assert pids_mentioning(base) == []
    assert [r for r in cgroup_roots() if os.path.exists(r + pm.cgroup_parent)] == []


def _wait_state(pm, name, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        p = pm("inspect", "--format", "{{.State.Status}}", name, check=False)
        state = p.stdout.strip()
        if state == want or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def test_podman_image_loaded_and_listed(podman):
    p = podman("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert IMG in p.stdout.split()


def test_podman_run_prints_pid_1_and_hostname(podman):
    p = podman("run", "--rm", "--hostname", "huskpod", IMG, "sh", "-c", "echo pid=$$; hostname")
    assert p.stdout.split() == ["pid=1", "huskpod"], podman.explain(p)


def test_podman_run_propagates_exit_code(podman):
    p = podman("run", "--rm", IMG, "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3, podman.explain(p)


def test_podman_run_missing_binary_exits_127(podman):
    p = podman("run", "--rm", IMG, "/no/such/binary", check=False)
    assert p.returncode == 127, podman.explain(p)


def test_podman_run_passes_stdin(podman):
    p = podman("run", "--rm", "-i", IMG, "cat", input="through stdin\n")
    assert p.stdout == "through stdin\n", podman.explain(p)


def test_podman_detached_exec_stop_rm(podman):
    name = "husk-detached"
    p = podman("run", "-d", "--name", name, IMG, "sleep", "1000")
    cid = p.stdout.strip()
    try:
        assert _wait_state(podman, name, "running") == "running"
        p = podman("exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline | tr '\\0' ' '")
        assert p.stdout.splitlines() == ["exec-ok", "sleep 1000 "], podman.explain(p)
        p = podman("exec", name, "sh", "-c", "exit 5", check=False)
        assert p.returncode == 5, podman.explain(p)
        podman("exec", "-d", name, "sleep", "999")
        p = podman("exec", name, "ps", "-o", "args")
        assert "sleep 999" in p.stdout, podman.explain(p)
        # sleep as PID 1 ignores SIGTERM: stop escalates to SIGKILL after 1 s.
        podman("stop", "-t", "1", name)
        assert _wait_state(podman, name, "exited") == "exited"
        p = podman("inspect", "--format", "{{.State.ExitCode}}", name)
        assert p.stdout.strip() == "137", podman.explain(p)
        podman("rm", name)
        p = podman("ps", "-aq", "--no-trunc")
        assert cid not in p.stdout
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def test_podman_kill_delivers_signal(podman):
    name = "husk-kill"
    script = 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done'
    podman("run", "-d", "--name", name, IMG, "sh", "-c", script)
    try:
        deadline = time.monotonic() + 10
        while "ready" not in podman("logs", name).stdout and time.monotonic() < deadline:
            time.sleep(0.1)
        podman("kill", "-s", "TERM", name)
        p = podman("wait", name, timeout=20)
        assert p.stdout.strip() == "7", podman.explain(p)
        p = podman("rm", name)
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def test_podman_run_with_tty(podman):
    if shutil.which("script") is None:
        pytest.skip("script (bsdutils) is not installed")
    p = podman.in_tty(podman.argv("run", "--rm", "-t", IMG, "sh", "-c",
                                  "tty; test -t 0 && test -t 1 && echo both-tty"))
    out = p.stdout.replace("\r", "")
    assert p.returncode == 0, podman.explain(p)
    assert "/dev/pts/0" in out and "both-tty" in out, podman.explain(p)


def test_podman_leaves_no_runtime_processes(podman):
    """After rm, no conmon of ours survives (they name our private dirs)."""
    podman("rm", "-af", "-t", "0")
    mine = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read()
            except OSError:
                continue
            if argv.startswith(b"/usr/bin/conmon") and podman.base.encode() in argv:
                mine.append(int(d))
    assert mine == []


def test_podman_default_confinement_applies(podman):
    """podman's spec carries seccomp, a capability set, masked and readonly paths."""
    p = podman("create", IMG, "true")
    cid = p.stdout.strip()
    want_caps = podman("inspect", "--format", "{{len .EffectiveCaps}}", cid).stdout.strip()
    podman("rm", cid)
    script = ("grep -E '^(Seccomp|CapEff):' /proc/self/status; "
              "echo timer_list=$(wc -c < /proc/timer_list); "
              "echo firmware=$(ls /sys/firmware | wc -l); "
              "echo proc_sys=$(grep ' /proc/sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1)")
    p = podman("run", "--rm", IMG, "sh", "-c", script)
    got = dict(ln.replace(":\t", "=").split("=", 1) for ln in p.stdout.splitlines() if "=" in ln
               or ":\t" in ln)
    assert got.get("Seccomp") == "2", podman.explain(p)
    caps = int(got.get("CapEff", "0"), 16)
    assert str(bin(caps).count("1")) == want_caps, podman.explain(p)
    assert not caps & (1 << 21), podman.explain(p)  # no CAP_SYS_ADMIN
    assert got.get("proc_sys") == "ro", podman.explain(p)
    assert got.get("firmware") == "0", podman.explain(p)
    if os.path.exists("/proc/timer_list"):
        assert got.get("timer_list") == "0", podman.explain(p)
