"""containerd (via ctr and containerd-shim-runc-v2) drives the runtime.

A private containerd is started per module (own root/state/socket, CRI disabled),
the busybox image is imported, and the runtime is selected per container with
`--runc-binary`.  Runtime: $HUSK_CLIENT_RUNTIME or $HUSK_BUILD/runtime/husk-oci.
"""

import os
import shutil
import tempfile
import time

import pytest

from clients import (  # noqa: F401
    IMAGE_NAME,
    Containerd,
    cgroup_roots,
    client_image,
    mounts_under,
    pids_mentioning,
    require_client,
    rmtree,
)

IMG = IMAGE_NAME

# ctr/containerd 1.6 can drop the output of a process that exits right after
# printing (seen with runc too, ~1 in 300 under load; cf. containerd#770,
# concourse#6775).  Commands whose output we check linger briefly after it.
LINGER = "; sleep 0.2"


@pytest.fixture(scope="module")
def ctrd(client_image):  # noqa: F811
    runtime = require_client("containerd", "ctr", "containerd-shim-runc-v2")
    base = tempfile.mkdtemp(prefix="husk-ctrd-", dir="/tmp")
    cd = None
    try:
        cd = Containerd(base, runtime)
        cd.start()
        p = cd.ctr("images", "import", client_image)
        assert IMG in p.stdout + p.stderr, cd.explain(p)
        yield cd
    finally:
        if cd is not None:
            cd.stop()
        rmtree(base)
    assert mounts_under(base) == []
    assert not os.path.exists(base)
    assert pids_mentioning(base) == []
    assert [r for r in cgroup_roots() if os.path.exists(os.path.join(r, cd.NS))] == []


def _task_status(cd, cid):
    p = cd.ctr("tasks", "ls", check=False)
    for line in p.stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return f[-1]
    return None


def _wait_status(cd, cid, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        st = _task_status(cd, cid)
        if st == want or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def test_ctr_image_imported(ctrd):
    p = ctrd.ctr("images", "ls", "-q")
    assert IMG in p.stdout.split()


def test_ctr_run_prints_pid_1_and_output(ctrd):
    p = ctrd.ctr("run", "--rm", *ctrd.runtime_flags(), IMG, "husk-run1",
                 "sh", "-c", "echo pid=$$; cat /etc/hostname; echo out-$((6*7))" + LINGER)
    assert p.stdout.split() == ["pid=1", "husk", "out-42"], ctrd.explain(p)
    assert ctrd.ctr("containers", "ls", "-q").stdout.split() == []


def test_ctr_run_propagates_exit_code(ctrd):
    p = ctrd.ctr("run", "--rm", *ctrd.runtime_flags(), IMG, "husk-exit3", "sh", "-c", "exit 3",
                 check=False)
    assert p.returncode == 3, ctrd.explain(p)


def test_ctr_run_passes_stdin(ctrd):
    # ctr 1.6 never closes the task's stdin on EOF, so read exactly one line.
    p = ctrd.ctr("run", "--rm", *ctrd.runtime_flags(), IMG, "husk-stdin", "sh", "-c", "head -n 1" + LINGER,
                 input="through stdin\nnot read\n")
    assert p.stdout == "through stdin\n", ctrd.explain(p)


def test_ctr_detached_task_exec_kill_delete(ctrd):
    cid = "husk-detached"
    script = 'trap "exit 7" TERM; while :; do sleep 0.1; done'
    ctrd.ctr("run", "-d", *ctrd.runtime_flags(), IMG, cid, "sh", "-c", script)
    try:
        assert _wait_status(ctrd, cid, "RUNNING") == "RUNNING"
        p = ctrd.ctr("tasks", "exec", "--fifo-dir", ctrd.fifo_dir, "--exec-id", "e1", cid,
                     "sh", "-c", "echo exec-ok; cat /proc/1/cmdline | tr '\\0' ' '" + LINGER)
        assert p.stdout.splitlines() == ["exec-ok", f"sh -c {script} "], ctrd.explain(p)
        p = ctrd.ctr("tasks", "exec", "--fifo-dir", ctrd.fifo_dir, "--exec-id", "e2", cid,
                     "sh", "-c", "exit 5", check=False)
        assert p.returncode == 5, ctrd.explain(p)
        p = ctrd.ctr("tasks", "ps", cid)
        assert len(p.stdout.splitlines()) >= 2, ctrd.explain(p)
        ctrd.ctr("tasks", "kill", "-s", "SIGTERM", cid)
        assert _wait_status(ctrd, cid, "STOPPED") == "STOPPED"
        p = ctrd.ctr("tasks", "delete", cid)
        assert "exit code 7" in p.stderr, ctrd.explain(p)
        assert _task_status(ctrd, cid) is None
        ctrd.ctr("containers", "delete", cid)
        assert cid not in ctrd.ctr("containers", "ls", "-q").stdout.split()
        assert os.listdir(ctrd.runc_root) == [] or cid not in os.listdir(
            os.path.join(ctrd.runc_root, ctrd.NS)), "runtime state left behind"
    finally:
        ctrd.ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False)
        ctrd.ctr("tasks", "delete", "-f", cid, check=False)
        ctrd.ctr("containers", "delete", cid, check=False)


def test_ctr_kill_sigkill_stops_sleeping_task(ctrd):
    cid = "husk-sigkill"
    ctrd.ctr("run", "-d", *ctrd.runtime_flags(), IMG, cid, "sleep", "1000")
    try:
        assert _wait_status(ctrd, cid, "RUNNING") == "RUNNING"
        ctrd.ctr("tasks", "kill", "-s", "SIGKILL", "--all", cid)
        assert _wait_status(ctrd, cid, "STOPPED") == "STOPPED"
        p = ctrd.ctr("tasks", "delete", cid)
        assert "exit code 137" in p.stderr, ctrd.explain(p)
        ctrd.ctr("containers", "delete", cid)
    finally:
        ctrd.ctr("tasks", "delete", "-f", cid, check=False)
        ctrd.ctr("containers", "delete", cid, check=False)


def test_ctr_run_with_tty(ctrd):
    if shutil.which("script") is None:
        pytest.skip("script (bsdutils) is not installed")
    p = ctrd.in_tty(ctrd.ctr_argv("run", "--rm", "-t", *ctrd.runtime_flags(), IMG, "husk-tty",
                                  "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty" + LINGER))
    out = p.stdout.replace("\r", "")
    assert p.returncode == 0, ctrd.explain(p)
    assert "/dev/pts/0" in out and "both-tty" in out, ctrd.explain(p)


def test_ctr_default_confinement_applies(ctrd):
    """containerd's default spec masks paths, keeps /proc/sys readonly, drops caps."""
    script = ("grep -E '^CapEff:' /proc/self/status; "
              "echo timer_list=$(wc -c < /proc/timer_list); "
              "echo firmware=$(ls /sys/firmware | wc -l); "
              "echo proc_sys=$(grep ' /proc/sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1)"
              + LINGER)
    p = ctrd.ctr("run", "--rm", *ctrd.runtime_flags(), IMG, "husk-confined", "sh", "-c", script)
    got = dict(ln.replace(":\t", "=").split("=", 1) for ln in p.stdout.splitlines() if "=" in ln
               or ":\t" in ln)
    caps = int(got.get("CapEff", "0"), 16)
    assert caps != 0 and not caps & (1 << 21), ctrd.explain(p)  # no CAP_SYS_ADMIN
    assert got.get("proc_sys") == "ro", ctrd.explain(p)
    assert got.get("firmware") == "0", ctrd.explain(p)
    if os.path.exists("/proc/timer_list"):
        assert got.get("timer_list") == "0", ctrd.explain(p)
