"""Reliability under load and faults (issue 9): many starts leak nothing,
concurrent commands on one id are serialized or refused cleanly, a runtime
killed with SIGKILL at any stage of a start leaves only what
`delete --force` removes, a `husk run` or monitor killed at any stage leaves
only what `husk gc` / `husk rm -f` remove, a process SIGKILL cannot end (held
in a frozen freezer cgroup, D state) makes delete/rm -f/stop give up after
HUSK_KILL_TIMEOUT and keep the state, a full disk during a load or a pull
leaves no half layer, and a process that cannot start or dies early is
reported with its exit status.

Every test is selected by `-k reliability`.  The counts here are small enough
for CI (RELIABILITY_SEQ=200, RELIABILITY_PAR=20 by default); `make soak`
(bench/soak.sh) runs the same tests with the full counts.

Each test compares a host-state snapshot (husktest/snapshot.py: mounts,
cgroups, netns, veths, nftables, state dirs, IPAM leases, data-root entries,
our fds, processes naming the test's dirs) before and after.
"""

import gzip
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from husktest import host
from husktest.snapshot import CreatedNames, Scope, settle_diff, snapshot

SEQ = int(os.environ.get("RELIABILITY_SEQ", "200"))
PAR = int(os.environ.get("RELIABILITY_PAR", "20"))
PSEQ = int(os.environ.get("RELIABILITY_PORCELAIN_SEQ", "20"))
PPAR = int(os.environ.get("RELIABILITY_PORCELAIN_PAR", "8"))
REPO = Path(__file__).resolve().parent.parent


def _assert_no_leaks(before, scope, what):
    d = settle_diff(before, scope)
    assert d == [], f"{what} leaked:\n  " + "\n  ".join(d)


def _run(argv, timeout=30, stdout=subprocess.PIPE, **kw):
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                              text=True, timeout=timeout, **kw)  # fmt: skip
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung for {timeout}s: {' '.join(map(str, argv))}\n{e.stderr}", pytrace=False)


def _describe(p):
    return f"`{' '.join(map(str, p.args))}` -> {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"


@pytest.fixture
def rel(oci, bundle, workdir):
    """The oci runtime, a /bin/true bundle, a unique id prefix and the scope
    of the host snapshot."""
    token = f"rel{secrets.token_hex(3)}"
    bundle.set_args("/bin/true")
    bundle.write()
    scope = Scope(paths=[str(workdir)], fragments=[token], state_roots=[oci.root])
    return {"oci": oci, "bundle": bundle, "token": token, "scope": scope, "workdir": workdir}


# ---- load -------------------------------------------------------------------------------


def test_reliability_sequential_oci_runs_leak_nothing(rel):
    oci, b, tok = rel["oci"], rel["bundle"], rel["token"]
    oci("list", check=True)  # the state root exists before the snapshot
    before = snapshot(rel["scope"])
    t0 = time.monotonic()
    for i in range(SEQ):
        p = _run(oci.argv("run", "--bundle", b.path, f"{tok}-s{i}"))
        assert p.returncode == 0, f"run {i} of {SEQ} failed:\n{_describe(p)}"
    elapsed = time.monotonic() - t0
    _assert_no_leaks(before, rel["scope"], f"{SEQ} sequential `oci run`")
    print(f"\n{SEQ} sequential oci runs in {elapsed:.1f}s ({1000 * elapsed / SEQ:.1f} ms each)")


def test_reliability_parallel_oci_runs_leak_nothing(rel):
    oci, b, tok = rel["oci"], rel["bundle"], rel["token"]
    oci("list", check=True)
    before = snapshot(rel["scope"])
    rounds = max(1, int(os.environ.get("RELIABILITY_PAR_ROUNDS", "2")))
    for r in range(rounds):
        with ThreadPoolExecutor(PAR) as ex:
            argvs = [oci.argv("run", "--bundle", b.path, f"{tok}-p{r}-{i}") for i in range(PAR)]
            results = list(ex.map(lambda a: _run(a, timeout=60), argvs))
        bad = [_describe(p) for p in results if p.returncode != 0]
        assert not bad, f"{len(bad)} of {PAR} parallel runs failed:\n" + "\n".join(bad[:3])
    _assert_no_leaks(before, rel["scope"], f"{PAR}-way parallel `oci run`")


# ---- the porcelain ----------------------------------------------------------------------


@pytest.fixture
def porcelain(oci_binary, workdir):
    """`husk --data-root D --root S`, skipped when the build has no `husk run`."""
    binary = os.environ.get("HUSK") or str(Path(oci_binary).parent / "husk")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"porcelain binary {binary} not built")
    if _run([binary, "run", "--help"]).returncode != 0:
        pytest.skip("this build has no `husk run`")
    if not any(os.path.isfile(c) for c in ("/bin/busybox", "/usr/bin/busybox")):
        pytest.skip("no /bin/busybox for the embedded busybox image (busybox-static)")
    data, state = workdir / "data", workdir / "pstate"

    def husk(*args, timeout=60, env=None):
        return _run([binary, "--data-root", str(data), "--root", str(state), *map(str, args)],
                    timeout=timeout, env=env)  # fmt: skip

    husk.data, husk.state, husk.binary = data, state, binary
    husk.argv = lambda *a: [binary, "--data-root", str(data), "--root", str(state), *map(str, a)]
    yield husk
    # leave nothing: remove every container the test kept
    p = husk("ps", "-a", "-q")
    ids = p.stdout.split()
    if ids:
        husk("rm", "-f", *ids)


def _porcelain_scope(workdir, husk):
    return Scope(paths=[str(workdir)], state_roots=[str(husk.state)], data_roots=[str(husk.data)])


def test_reliability_sequential_porcelain_runs_leak_nothing(porcelain, workdir):
    p = porcelain("run", "--rm", "busybox", "true")  # unpacks the image once
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    watch = CreatedNames(porcelain.data / "containers")
    for i in range(PSEQ):
        p = porcelain("run", "--rm", "busybox", "true")
        assert p.returncode == 0, f"husk run {i} failed:\n{_describe(p)}"
    watch.close()
    scope.fragments += sorted(watch.names)  # the container ids: their cgroups count
    assert len(watch.names) >= PSEQ, watch.names
    assert porcelain("ps", "-a", "-q").stdout.split() == []
    _assert_no_leaks(before, scope, f"{PSEQ} sequential `husk run --rm`")


def test_reliability_parallel_porcelain_runs_leak_nothing(porcelain, workdir):
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    watch = CreatedNames(porcelain.data / "containers")
    with ThreadPoolExecutor(PPAR) as ex:
        results = list(ex.map(lambda _: porcelain("run", "--rm", "busybox", "true", timeout=120),
                              range(PPAR)))  # fmt: skip
    watch.close()
    scope.fragments += sorted(watch.names)
    bad = [_describe(p) for p in results if p.returncode != 0]
    assert not bad, f"{len(bad)} of {PPAR} parallel husk runs failed:\n" + "\n".join(bad[:3])
    assert porcelain("ps", "-a", "-q").stdout.split() == []
    _assert_no_leaks(before, scope, f"{PPAR}-way parallel `husk run --rm`")


def test_reliability_lost_run_dir_leaves_the_data_root_usable(porcelain, workdir):
    """A reboot loses /run (the --root): the data root must still work."""
    p = porcelain("run", "--name", "kept", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    shutil.rmtree(porcelain.state)
    p = porcelain("ps", "-a", "--format", "json")
    assert p.returncode == 0, _describe(p)
    rows = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
    assert [r["Names"] for r in rows] == ["kept"], rows
    p = porcelain("run", "--rm", "busybox", "echo", "alive")
    assert p.returncode == 0 and p.stdout == "alive\n", _describe(p)
    p = porcelain("rm", "kept")
    assert p.returncode == 0, _describe(p)
    assert porcelain("ps", "-a", "-q").stdout.split() == []


# ---- concurrency on one id --------------------------------------------------------------


def _one_line_error(p):
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    return len(lines) == 1


def test_reliability_start_kill_delete_race_is_serialized(oci, make_bundle, workdir):
    b = make_bundle(("/bin/sleep", "1000"))
    scope = Scope(paths=[str(workdir)], state_roots=[oci.root])
    oci("list", check=True)
    before = snapshot(scope)
    for rnd in range(4):
        cid = oci.new_id(f"race{rnd}")
        scope.fragments.append(cid)
        oci.create(b, cid)
        cmds = [("start", cid), ("kill", cid, "KILL"), ("delete", "--force", cid),
                ("state", cid), ("start", cid), ("kill", cid, "TERM")]  # fmt: skip
        if rnd % 2:
            cmds.reverse()
        barrier = threading.Barrier(len(cmds))

        def go(args):
            barrier.wait()
            return _run(oci.argv(*args), timeout=20)

        with ThreadPoolExecutor(len(cmds)) as ex:
            results = list(ex.map(go, cmds))
        for p in results:
            assert p.returncode == 0 or _one_line_error(p), f"unclean failure:\n{_describe(p)}"
        # delete --force ran: whatever order, the container is gone
        assert results[cmds.index(("delete", "--force", cid))].returncode == 0
        st = _run(oci.argv("state", cid))
        assert st.returncode != 0 and "does not exist" in st.stderr, _describe(st)
    _assert_no_leaks(before, scope, "start/kill/delete races")


def test_reliability_two_creates_of_one_id_exactly_one_wins(oci, make_bundle, workdir):
    scope = Scope(paths=[str(workdir)], state_roots=[oci.root])
    oci("list", check=True)
    before = snapshot(scope)
    bundles = [make_bundle(("/bin/sleep", "1000")) for _ in range(2)]
    for b in bundles:
        b.write()
    for rnd in range(5):
        cid = oci.new_id(f"twin{rnd}")
        scope.fragments.append(cid)
        barrier = threading.Barrier(2)

        def go(b, cid=cid):
            barrier.wait()
            # the init keeps create's stdio: files, not pipes
            with open(b.path / "out.log", "w") as out, open(b.path / "err.log", "w+") as err:
                p = subprocess.run(oci.argv("create", "--bundle", b.path, cid), timeout=20,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err)  # fmt: skip
                err.seek(0)
                p.stdout, p.stderr = "", err.read()
                return p

        with ThreadPoolExecutor(2) as ex:
            results = list(ex.map(go, bundles))
        won = [p for p in results if p.returncode == 0]
        lost = [p for p in results if p.returncode != 0]
        assert len(won) == 1, "exactly one create must win:\n" + "\n".join(map(_describe, results))
        assert _one_line_error(lost[0]) and "already exists" in lost[0].stderr, _describe(lost[0])
        st = oci.state(cid)
        assert st["status"] == "created", st
        winner = bundles[results.index(won[0])]
        assert st["bundle"] == str(winner.path), "the loser changed the winner's state"
        oci.start(cid)
        assert oci.status(cid) == "running"
        oci.delete(cid, force=True)
    _assert_no_leaks(before, scope, "concurrent creates")


def test_reliability_concurrent_delete_force(oci, make_bundle, workdir):
    b = make_bundle(("/bin/sleep", "1000"))
    scope = Scope(paths=[str(workdir)], state_roots=[oci.root])
    oci("list", check=True)
    before = snapshot(scope)
    for rnd in range(3):
        cid = oci.new_id(f"del{rnd}")
        scope.fragments.append(cid)
        oci.create(b, cid)
        if rnd % 2 == 0:
            oci.start(cid)
        barrier = threading.Barrier(5)

        def go(_, cid=cid):
            barrier.wait()
            return _run(oci.argv("delete", "--force", cid), timeout=20)

        with ThreadPoolExecutor(5) as ex:
            results = list(ex.map(go, range(5)))
        bad = [_describe(p) for p in results if p.returncode != 0]
        assert not bad, "concurrent delete --force failed:\n" + "\n".join(bad)
        assert oci.state(cid, check=False) is None
    _assert_no_leaks(before, scope, "concurrent delete --force")


# ---- faults -----------------------------------------------------------------------------


def _strace_available():
    return shutil.which("strace") is not None


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _first_traced_pid(trace):
    """The runtime's pid from the first line of a `strace -f -o` trace (when
    it came and went before we could see it as strace's child)."""
    try:
        with open(trace) as f:
            first = f.readline().split(maxsplit=1)
        return int(first[0]) if first and first[0].isdigit() else None
    except OSError:
        return None


def traced(argv, workdir, name, strace_args=(), timeout=30):
    """Run argv under `strace -f -I1 [strace_args]`, the trace written to
    workdir/<name>.trace.  Returns (exit status of the runtime, trace path).
    Once the runtime process is gone, strace is told to detach (SIGTERM)
    from whatever it still traces (a container init waiting for `start`)."""
    trace = workdir / f"{name}.trace"
    with open(workdir / f"{name}.out", "w") as out:
        p = subprocess.Popen(
            ["strace", "-f", "-I1", "-qq", "-o", str(trace), *strace_args, *argv],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            # LeakSanitizer cannot run under ptrace (an ASan build, `make test-asan`)
            env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"),
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    rt = None
    while time.monotonic() < deadline and p.poll() is None:
        if rt is None:
            kids = _children(p.pid)
            rt = kids[0] if kids else _first_traced_pid(trace)
        if rt is not None and not host.pid_alive(rt):
            try:
                p.wait(timeout=1.0)  # everything it traced exited
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)  # detach from the survivors
            break
        time.sleep(0.01)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        # what strace and its tracees were doing, for the report
        who = [p.pid] + _children(p.pid)
        states = []
        for pid in who:
            try:
                with open(f"/proc/{pid}/status") as f:
                    st = [ln.strip() for ln in f if ln.startswith(("Name", "State", "TracerPid"))]
                with open(f"/proc/{pid}/wchan") as f:
                    st.append("wchan " + f.read())
            except OSError:
                st = ["gone"]
            states.append(f"{pid}: {', '.join(st)}")
        p.kill()
        p.wait()
        pytest.fail(f"strace did not finish: {argv}\n" + "\n".join(states), pytrace=False)
    return trace, (workdir / f"{name}.out").read_text()


def _syscalls_of(trace, pid):
    """[(name, line)] of the syscalls pid made, in order (strace -f -o format)."""
    out = []
    for line in Path(trace).read_text().splitlines():
        head, _, rest = line.partition(" ")
        rest = rest.lstrip()
        if head != str(pid) or "(" not in rest or rest.startswith(("---", "+++", "<...")):
            continue
        out.append((rest.split("(", 1)[0], rest))
    return out


def _first_pid(trace):
    for line in Path(trace).read_text().splitlines():
        return int(line.split(None, 1)[0])
    return None


STAGES = {
    # stage: (syscall, how to find the N-th call of it in the runtime's own trace)
    "after-state-dir-mkdir": ("flock", lambda calls, cid: 1),
    "first-cgroup-mkdir": ("mkdirat", lambda calls, cid: _nth(calls, "mkdirat", f"/{cid}\"", 1)),
    "middle-cgroup-mkdir": ("mkdirat", lambda calls, cid: _nth(calls, "mkdirat", f"/{cid}\"", 4)),
    "clone3": ("clone3", lambda calls, cid: 1),
    "state-json-rename": ("renameat", lambda calls, cid: _nth(calls, "renameat", "state.json", -1)),
}
AFTER_CGROUP = ("clone3", "cgroup-procs-write", "state-json-rename")
INIT_STAGES = {"init-mount": "mount", "init-pivot-root": "pivot_root", "init-execve": "execve"}


def _nth(calls, name, mention, k):
    """1-based index among `name` calls of the k-th one mentioning `mention`
    (k=-1: the last)."""
    hits, i = [], 0
    for n, line in calls:
        if n == name:
            i += 1
            if mention in line:
                hits.append(i)
    assert hits, f"no {name} mentioning {mention} in the calibration trace"
    return hits[k if k < 0 else k - 1]


@pytest.fixture
def fault(oci, make_bundle, workdir):
    if not _strace_available():
        pytest.skip("strace is not installed (apt-get install strace)")
    b = make_bundle(("/bin/sleep", "1000"))
    b.write()
    oci("list", check=True)
    # calibration: a normal create, traced, to count syscalls
    cid = oci.new_id("calib")
    trace, out = traced(oci.argv("create", "--bundle", b.path, cid), workdir, "calib")
    st = oci.state(cid, check=False)
    assert st and st["status"] == "created", f"calibration create failed: {out}"
    oci.delete(cid, force=True)
    calls = _syscalls_of(trace, _first_pid(trace))
    return {"oci": oci, "bundle": b, "calls": calls, "calib_id": cid}


def _check_clean_after_fault(oci, cid, scope, before, stage, out):
    lst = _run(oci.argv("list", "--format", "json"))
    assert lst.returncode == 0, f"list after a fault at {stage} failed:\n{_describe(lst)}"
    st = _run(oci.argv("state", cid))
    if st.returncode == 0:
        # the init never got past its setup, or waits for a start that the
        # dead runtime never recorded: not startable, reported stopped
        doc = json.loads(st.stdout)
        assert doc["status"] in ("stopped", "created"), doc
    d = _run(oci.argv("delete", "--force", cid))
    assert d.returncode == 0, f"delete --force after a fault at {stage}:\n{_describe(d)}"
    st = _run(oci.argv("state", cid))
    assert st.returncode != 0 and "does not exist" in st.stderr, _describe(st)
    _assert_no_leaks(before, scope, f"runtime killed at {stage} (then delete --force):\n{out}\n")


@pytest.mark.parametrize("stage", list(STAGES))
def test_reliability_runtime_killed_at_stage_is_cleaned_by_delete_force(fault, workdir, stage):
    oci, b = fault["oci"], fault["bundle"]
    syscall, find = STAGES[stage]
    n = find(fault["calls"], fault["calib_id"])
    cid = oci.new_id(f"f-{stage}")
    scope = Scope(paths=[str(workdir)], fragments=[cid], state_roots=[oci.root])
    before = snapshot(scope)
    trace, out = traced(oci.argv("create", "--bundle", b.path, cid), workdir, stage,
                        ["-e", f"inject={syscall}:signal=SIGKILL:when={n}"])  # fmt: skip
    calls = _syscalls_of(trace, _first_pid(trace))
    assert any("+++ killed by SIGKILL" in ln for ln in trace.read_text().splitlines()), (
        f"the runtime was not killed at {stage} ({syscall} #{n})"
    )
    assert calls, "no trace"
    st = _run(oci.argv("state", cid))
    if stage in AFTER_CGROUP:
        # the state is recorded as soon as the cgroup exists: the init died
        # with the runtime (or waits on a start that was never recorded)
        assert st.returncode == 0, f"no state after a fault at {stage}:\n{_describe(st)}"
    if st.returncode == 0:
        assert json.loads(st.stdout)["status"] == "stopped", st.stdout
    _check_clean_after_fault(oci, cid, scope, before, stage, out)


def _first_cgroup_hierarchy(calls, cid):
    """The hierarchy whose cgroup the runtime makes first (v1: cpuset/...)."""
    for n, line in calls:
        if n == "mkdirat" and f"/husk/{cid}\"" in line:
            return line.split('"')[1].split("/husk/")[0]
    return None


@pytest.mark.parametrize("stage", list(INIT_STAGES) + ["cgroup-join-write"])
def test_reliability_init_killed_at_stage_fails_create_cleanly(fault, workdir, stage):
    oci, b = fault["oci"], fault["bundle"]
    cid = oci.new_id(f"f-{stage}")
    scope = Scope(paths=[str(workdir)], fragments=[cid], state_roots=[oci.root])
    before = snapshot(scope)
    if stage == "cgroup-join-write":
        # the init joins its cgroup itself (writes 0 to tasks/cgroup.procs);
        # -P limits the injection to writes on those files
        hier = _first_cgroup_hierarchy(fault["calls"], fault["calib_id"])
        if hier is None:
            pytest.skip("the runtime made no cgroup (cgroup manager disabled?)")
        d = f"/sys/fs/cgroup/{hier}/husk/{cid}".replace("//", "/")
        inject = ["-P", f"{d}/tasks", "-P", f"{d}/cgroup.procs",
                  "-e", "inject=write:signal=SIGKILL:when=1"]  # fmt: skip
    else:
        syscall = INIT_STAGES[stage]
        # per-process counters: the first call of the init (a child of the runtime)
        rt_calls = [n for n, _ in fault["calls"][1:] if n == syscall]  # [0]: strace's execve
        assert not rt_calls, f"the runtime itself calls {syscall}: the stage would hit it"
        inject = ["-e", f"inject={syscall}:signal=SIGKILL:when=1"]
    # the init calls execve only once started: `run` for that stage
    cmd = "run" if stage == "init-execve" else "create"
    trace, out = traced(oci.argv(cmd, "--bundle", b.path, cid), workdir, stage, inject)
    text = trace.read_text()
    assert "+++ killed by SIGKILL" in text, f"nothing was killed at {stage}"
    rt = _first_pid(trace)
    if "-P" in inject:  # only the init's matching call is in the trace
        assert "killed by signal 9" in out, f"the runtime did not report the init's death:\n{out}"
    else:
        assert not re.search(rf"^{rt} +\+\+\+ killed", text, re.M), f"runtime killed:\n{out}"
    if "-P" in inject:
        pass
    elif cmd == "run":  # the process died of SIGKILL: run exits 128+9
        assert re.search(rf"^{rt} +exit_group\(137\)", text, re.M), f"run did not exit 137:\n{out}"
    else:
        assert re.search(rf"^{rt} +exit_group\([1-9]", text, re.M), f"create did not fail:\n{out}"
        assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out
        assert "signal 9" in out or "killed" in out, out
    st = _run(oci.argv("state", cid))
    assert st.returncode != 0 and "does not exist" in st.stderr, _describe(st)
    _check_clean_after_fault(oci, cid, scope, before, stage, out)


def test_reliability_state_of_a_created_container_whose_init_died_is_stopped(oci, make_bundle):
    b = make_bundle(("/bin/sleep", "1000"))
    cid = oci.new_id("died")
    oci.create(b, cid)
    pid, start = oci.pids[cid]
    os.kill(pid, signal.SIGKILL)
    host.wait_pid_gone(pid, start)
    assert oci.status(cid) == "stopped"
    t0 = time.monotonic()
    res = oci.start(cid, check=False)
    assert time.monotonic() - t0 < 5, "start of a dead init did not fail within its timeout"
    assert res.returncode != 0 and len(res.error_lines()) == 1, res.describe()
    assert "stopped" in res.stderr, res.describe()
    oci.delete(cid)  # a stopped container is deleted without --force
    assert oci.state(cid, check=False) is None


def test_reliability_start_with_init_killed_during_start_fails_within_timeout(oci, make_bundle):
    """kill the init while `start` waits on it: start returns promptly."""
    b = make_bundle(("/bin/sleep", "1000"))
    cid = oci.new_id("killstart")
    oci.create(b, cid)
    pid, start = oci.pids[cid]
    os.kill(pid, signal.SIGSTOP)  # the init cannot answer start's fifo read
    t0 = time.monotonic()
    p = subprocess.Popen(oci.argv("start", cid), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)  # fmt: skip
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    try:
        _, err = p.communicate(timeout=12)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("start hung after its init died")
    assert time.monotonic() - t0 < 12
    # it either won (read the fifo first) or saw the init die
    if p.returncode != 0:
        assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
    host.wait_pid_gone(pid, start)
    assert oci.status(cid) == "stopped"


def test_reliability_hook_that_hangs_is_killed_and_create_fails_cleanly(oci, make_bundle, workdir):
    b = make_bundle(("/bin/sleep", "1000"))
    marker = f"{30 + secrets.randbelow(1000) / 1000 + 0.0001:.4f}"
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", marker],
                                            "timeout": 1}]}  # fmt: skip
    cid = oci.new_id("hook")
    scope = Scope(paths=[str(workdir)], fragments=[cid, f"sleep {marker}"], state_roots=[oci.root])
    oci("list", check=True)
    before = snapshot(scope)
    t0 = time.monotonic()
    res = oci.create(b, cid, check=False, timeout=20)
    took = time.monotonic() - t0
    assert not res.timed_out and res.returncode != 0, res.describe()
    assert took < 6, f"create took {took:.1f}s with a 1 s hook timeout"
    assert len(res.error_lines()) == 1 and "timed out" in res.stderr, res.describe()
    assert oci.state(cid, check=False) is None
    assert oci.leftovers(cid) == []
    _assert_no_leaks(before, scope, "a hook timeout")


# ---- disk full while unpacking ---------------------------------------------------


def test_reliability_disk_full_while_loading_leaves_no_half_layer(tmp_path):
    """A data root on a 4 MiB tmpfs (in a private mount namespace: nothing is mounted on
    the host) and an image whose layer does not fit: the load fails with one clear line,
    no half layer or temp file is left, and the store still works for an image that fits."""
    import test_images as ti

    husk_path = Path(os.environ.get("HUSK_BUILD") or Path(__file__).resolve().parent.parent /
                     "build") / "runtime" / "husk"
    if os.geteuid() != 0 or not husk_path.exists():
        pytest.skip("needs root and the husk binary")
    if not os.path.exists(ti.BUSYBOX):
        pytest.skip("no static busybox")
    big = tmp_path / "big.tar"
    small = tmp_path / "small.tar"

    def filler(t):
        t.file("junk", os.urandom(6 << 20))  # incompressible, larger than the store

    ti.docker_archive(big, [ti.busybox_layer(filler)], tags=("big:1",))
    ti.docker_archive(small, [ti.Tar().bytes()], tags=("small:1",))
    store = tmp_path / "store"
    store.mkdir()
    script = f"""
set -u
mount -t tmpfs -o size=4m tmpfs {store}
{husk_path} --data-root {store} load -i {big} >{tmp_path}/big.out 2>{tmp_path}/big.err
echo "big=$?"
echo "layers=$(ls {store}/layers 2>/dev/null | wc -l) tmp=$(ls {store}/tmp 2>/dev/null | wc -l)"
{husk_path} --data-root {store} load -i {small} >/dev/null 2>{tmp_path}/small.err
echo "small=$?"
{husk_path} --data-root {store} images -q | wc -l | sed 's/^/images=/'
"""
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],  # noqa: E501
                       capture_output=True, text=True, timeout=120)
    out = dict(line.split("=", 1) for line in p.stdout.split() if "=" in line)
    print(p.stdout, p.stderr)
    err = (tmp_path / "big.err").read_text()
    print("load error:", err)
    assert out.get("big") not in (None, "0"), f"loading a layer larger than the disk succeeded: {p.stdout}"
    assert len(err.strip().splitlines()) == 1 and "space" in err.lower(), f"not one clear line: {err!r}"
    assert out.get("layers") == "0" and out.get("tmp") == "0", f"half layer or temp files left: {p.stdout}"
    assert out.get("small") == "0", (tmp_path / "small.err").read_text()
    assert out.get("images") == "1", p.stdout


# ---- a process SIGKILL cannot end (D state) ----------------------------------------------

FREEZER = "/sys/fs/cgroup/freezer"


def _cgroup_of(pid, controller):
    """The v1 cgroup path of pid in the hierarchy holding controller, or None."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if controller in ctrls.split(","):
                    return path
    except OSError:
        pass
    return None


class Stuck:
    """Put pid in a FROZEN child freezer cgroup (`<its cgroup>/stuck`) that husk
    does not thaw: a SIGKILL stays pending and the process shows as D (disk
    sleep), like one blocked in uninterruptible I/O.  thaw() lets it go; the
    context exit thaws too (a failing test must not leave it stuck)."""

    def __init__(self, pid):
        rel = _cgroup_of(pid, "freezer")
        if rel is None or not os.path.isdir(FREEZER + rel):
            pytest.skip("no cgroup v1 freezer hierarchy (a v2 freezer lets SIGKILL through)")
        self.pid = pid
        self.dir = Path(FREEZER + rel) / "stuck"

    def __enter__(self):
        self.dir.mkdir()
        (self.dir / "cgroup.procs").write_text(str(self.pid))
        (self.dir / "freezer.state").write_text("FROZEN")
        deadline = time.monotonic() + 5
        while (self.dir / "freezer.state").read_text().strip() != "FROZEN":
            assert time.monotonic() < deadline, "the freezer did not freeze the process"
            time.sleep(0.01)
        return self

    def thaw(self):
        try:
            (self.dir / "freezer.state").write_text("THAWED")
        except OSError:
            pass  # removed with the container

    def __exit__(self, *exc):
        self.thaw()
        host.wait_pid_gone(self.pid, timeout=5)
        try:
            self.dir.rmdir()
        except OSError:
            pass


def test_reliability_delete_of_an_unkillable_process_gives_up_and_keeps_the_state(
        oci, make_bundle, workdir):  # fmt: skip
    b = make_bundle(("/bin/sleep", "1000"))
    cid = oci.new_id("dstate")
    scope = Scope(paths=[str(workdir)], fragments=[cid], state_roots=[oci.root])
    oci("list", check=True)
    before = snapshot(scope)
    oci.create(b, cid)
    oci.start(cid)
    pid, start = oci.pids[cid]
    env = dict(os.environ, HUSK_KILL_TIMEOUT="1")
    with Stuck(pid) as stuck:
        t0 = time.monotonic()
        res = oci("delete", "--force", cid, env=env, timeout=30)
        took = time.monotonic() - t0
        assert res.returncode != 0 and not res.timed_out, res.describe()
        assert took < 4, f"delete --force took {took:.1f}s with HUSK_KILL_TIMEOUT=1"
        assert len(res.error_lines()) == 1, res.describe()
        assert f"pid {pid} (D, disk sleep" in res.stderr, res.describe()
        assert "state is kept" in res.stderr, res.describe()
        # the state is kept, so that a later delete can finish
        assert oci.status(cid) == "running"
        assert host.pid_state(pid) == "D"
        stuck.thaw()
        assert host.wait_pid_gone(pid, start, timeout=5), "the pending SIGKILL did not end it"
        res = oci("delete", "--force", cid, env=env, timeout=30)
        assert res.returncode == 0, res.describe()
    assert oci.state(cid, check=False) is None
    _assert_no_leaks(before, scope, "a delete that gave up, then a retry")


def test_reliability_stop_and_rm_f_of_an_unkillable_process_give_up(porcelain, workdir):
    p = porcelain("run", "--rm", "busybox", "true")  # unpacks the image once
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    p = porcelain("run", "-d", "--name", "stuck", "busybox", "sleep", "1000")
    assert p.returncode == 0, _describe(p)
    cid = p.stdout.strip()
    scope.fragments.append(cid)
    pid = int(porcelain("inspect", "-f", "{{.State.Pid}}", cid).stdout)
    env = dict(os.environ, HUSK_KILL_TIMEOUT="1")
    with Stuck(pid) as stuck:
        for cmd in (("stop", "-t", "0"), ("rm", "-f")):
            t0 = time.monotonic()
            p = porcelain(*cmd, "stuck", env=env, timeout=30)
            took = time.monotonic() - t0
            assert p.returncode != 0, _describe(p)
            assert took < 4, f"husk {cmd[0]} took {took:.1f}s with HUSK_KILL_TIMEOUT=1"
            assert len(p.stderr.strip().splitlines()) == 1, _describe(p)
            assert f"pid {pid} (D, disk sleep" in p.stderr, _describe(p)
        # the record is kept for a later rm
        rows = _ps_all(porcelain)
        assert [r["Names"] for r in rows] == ["stuck"], rows
        stuck.thaw()
        assert host.wait_pid_gone(pid, timeout=5)
        p = porcelain("rm", "-f", "stuck", env=env)
        assert p.returncode == 0, _describe(p)
    assert porcelain("ps", "-a", "-q").stdout.split() == []
    _assert_no_leaks(before, scope, "rm -f after a thaw")


# ---- the porcelain killed at each stage, then husk gc -------------------------------------

PORCELAIN_STAGES = {
    # stage: (syscall, its index in the calibration trace of `husk run --rm`)
    "name-reserved": ("renameat", lambda calls: _nth(calls, "renameat", ".tmp.", 1)),  # the hold
    "hold-written": ("mkdir", lambda calls: _nth(calls, "mkdir", "/containers/", 1)),
    "dir-made": ("renameat", lambda calls: _nth(calls, "renameat", "container.json", 1)),
    "record-saved": ("mount", lambda calls: _nth(calls, "mount", "overlay", 1)),
    "overlay-mounted": ("unshare", lambda calls: _nth(calls, "unshare", "CLONE_NEWNET", 1)),
    "state-dir-made": ("mkdirat", lambda calls: _nth(calls, "mkdirat", "/husk/", 1)),
    "cgroups-made": ("clone3", lambda calls: 1),
    "init-ready": ("renameat", lambda calls: _nth(calls, "renameat", "state.json", -1)),
}
# killed before the record exists: what is left has no owner, gc waits --min-age
RECORDLESS = ("name-reserved", "hold-written", "dir-made")
_PCALIB = {}


@pytest.fixture
def pfault(porcelain, workdir):
    """The porcelain, its image unpacked, and the syscalls of a traced `husk run --rm`."""
    if not _strace_available():
        pytest.skip("strace is not installed (apt-get install strace)")
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    if porcelain.binary not in _PCALIB:
        trace, out = traced(porcelain.argv("run", "--rm", "busybox", "true"), workdir, "pcalib")
        calls = _syscalls_of(trace, _first_pid(trace))
        assert any(n == "clone3" for n, _ in calls), f"calibration run failed:\n{out}"
        _PCALIB[porcelain.binary] = calls
    return {"husk": porcelain, "calls": _PCALIB[porcelain.binary]}


def _killed(trace):
    return re.search(rf"^{_first_pid(trace)} +\+\+\+ killed by SIGKILL", trace.read_text(), re.M)


def _ps_all(husk):
    p = husk("ps", "-a", "--format", "json")
    assert p.returncode == 0, _describe(p)
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


@pytest.mark.parametrize("stage", list(PORCELAIN_STAGES))
def test_reliability_husk_run_killed_at_stage_is_cleaned_by_gc(pfault, workdir, stage):
    husk = pfault["husk"]
    syscall, find = PORCELAIN_STAGES[stage]
    n = find(pfault["calls"])
    scope = _porcelain_scope(workdir, husk)
    before = snapshot(scope)
    watch = CreatedNames(husk.data / "containers")
    trace, out = traced(husk.argv("run", "--rm", "busybox", "sleep", "1000"), workdir, stage,
                        ["-e", f"inject={syscall}:signal=SIGKILL:when={n}"])  # fmt: skip
    watch.close()
    scope.fragments += sorted(watch.names)
    assert _killed(trace), f"husk run was not killed at {stage} ({syscall} #{n}):\n{out}"
    left = settle_diff(before, scope, timeout=0)
    assert left, f"killed at {stage}, husk run left nothing for gc to find: is the stage right?"
    if stage in RECORDLESS:
        # fresh leftovers without an owner may be a husk run at work: not yet
        p = husk("gc")
        assert p.returncode == 0 and p.stdout == "", _describe(p)
        assert settle_diff(before, scope, timeout=0) == left
    p = husk("gc", "--min-age", "0")
    print(f"killed at {stage}; husk gc:\n{p.stdout}")
    assert p.returncode == 0 and p.stderr == "", _describe(p)
    assert p.stdout.strip(), "gc removed nothing"
    assert _ps_all(husk) == []
    _assert_no_leaks(before, scope, f"husk run --rm killed at {stage}, then husk gc:\n{p.stdout}")
    p = husk("gc", "--min-age", "0")
    assert p.returncode == 0 and p.stdout == "", f"gc is not idempotent:\n{_describe(p)}"


def test_reliability_killed_husk_run_of_a_kept_container_leaves_it_exited(pfault, workdir):
    """Not --rm: gc releases what the container held at run time and records it
    exited (255: unknown, its waiter died); `husk rm` removes it."""
    husk = pfault["husk"]
    syscall, find = PORCELAIN_STAGES["cgroups-made"]
    scope = _porcelain_scope(workdir, husk)
    before = snapshot(scope)
    watch = CreatedNames(husk.data / "containers")
    inject = f"inject={syscall}:signal=SIGKILL:when={find(pfault['calls'])}"
    trace, out = traced(husk.argv("run", "--name", "kept", "busybox", "sleep", "1000"), workdir,
                        "kept", ["-e", inject])
    watch.close()
    scope.fragments += sorted(watch.names)
    assert _killed(trace), out
    p = husk("gc")
    assert p.returncode == 0, _describe(p)
    assert "released container" in p.stdout and "(kept)" in p.stdout, p.stdout
    (row,) = _ps_all(husk)
    assert row["Names"] == "kept" and "Exited (255)" in row["Status"], row
    err = husk("inspect", "-f", "{{.State.Error}}", "kept").stdout
    assert "killed" in err, err
    assert not host.mounts_mentioning(str(husk.data / "containers")), "the rootfs is still mounted"
    p = husk("rm", "kept")
    assert p.returncode == 0, _describe(p)
    _assert_no_leaks(before, scope, "a kept container released by gc, then rm")


def test_reliability_husk_run_killed_while_running_is_cleaned_by_rm_f(porcelain, workdir):
    """The container outlives its foreground husk run (like docker's outlives the
    client): gc leaves a running container alone, rm -f removes everything."""
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    run = subprocess.Popen(porcelain.argv("run", "--rm", "--name", "orphan", "busybox", "sleep",
                                          "1000"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not any(r["State"] == "running" for r in _ps_all(porcelain)):
            assert time.monotonic() < deadline and run.poll() is None, "husk run did not start"
            time.sleep(0.05)
        run.kill()
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    (row,) = _ps_all(porcelain)
    scope.fragments.append(row["ID"])
    assert row["State"] == "running", row
    p = porcelain("gc", "--min-age", "0")
    assert p.returncode == 0 and p.stdout == "", f"gc touched a running container:\n{_describe(p)}"
    p = porcelain("rm", "-f", "orphan")
    assert p.returncode == 0, _describe(p)
    assert _ps_all(porcelain) == []
    _assert_no_leaks(before, scope, "rm -f of a container whose husk run was killed")


MONITOR_STAGES = {
    # the monitor is the only process of `husk run -d` calling these
    "monitor-started": ("setsid", 1),
    "monitor-before-start": ("pidfd_open", 2),  # created; the init waits for its start
}


@pytest.mark.parametrize("stage", list(MONITOR_STAGES))
def test_reliability_monitor_killed_at_stage_leaves_nothing(pfault, workdir, stage):
    """husk run -d sees its monitor die and removes what the monitor made."""
    husk = pfault["husk"]
    syscall, n = MONITOR_STAGES[stage]
    scope = _porcelain_scope(workdir, husk)
    before = snapshot(scope)
    watch = CreatedNames(husk.data / "containers")
    trace, out = traced(husk.argv("run", "-d", "--name", "mon", "busybox", "sleep", "1000"),
                        workdir, stage, ["-e", f"inject={syscall}:signal=SIGKILL:when={n}"])
    watch.close()
    scope.fragments += sorted(watch.names)
    assert "+++ killed by SIGKILL" in trace.read_text(), f"nothing was killed at {stage}:\n{out}"
    assert "monitor exited before the container started" in out, out
    assert _ps_all(husk) == []
    _assert_no_leaks(before, scope, f"monitor killed at {stage}")
    p = husk("gc", "--min-age", "0")
    assert p.returncode == 0 and p.stdout == "", _describe(p)


def test_reliability_monitor_killed_while_running_then_rm_f(porcelain, workdir):
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    p = porcelain("run", "-d", "--name", "nomon", "busybox", "sleep", "1000")
    assert p.returncode == 0, _describe(p)
    cid = p.stdout.strip()
    scope.fragments.append(cid)
    mon = int(porcelain("inspect", "-f", "{{.State.MonitorPid}}", cid).stdout)
    os.kill(mon, signal.SIGKILL)
    assert host.wait_pid_gone(mon)
    p = porcelain("gc", "--min-age", "0")
    assert p.returncode == 0 and p.stdout == "", f"gc touched a running container:\n{_describe(p)}"
    assert _ps_all(porcelain)[0]["State"] == "running"
    p = porcelain("rm", "-f", "nomon")
    assert p.returncode == 0, _describe(p)
    _assert_no_leaks(before, scope, "rm -f of a container whose monitor was killed")


def test_reliability_monitor_and_init_killed_are_released_by_gc(porcelain, workdir):
    """Everything of a detached container dies at once (OOM killer, kill -9 of
    the session): its runtime state, cgroup and rootfs mount stay until gc,
    which records it exited (255)."""
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    p = porcelain("run", "-d", "--name", "dead", "busybox", "sleep", "1000")
    assert p.returncode == 0, _describe(p)
    cid = p.stdout.strip()
    scope.fragments.append(cid)
    mon, pid = (int(porcelain("inspect", "-f", f"{{{{.State.{k}}}}}", cid).stdout)
                for k in ("MonitorPid", "Pid"))  # fmt: skip
    os.kill(mon, signal.SIGKILL)
    assert host.wait_pid_gone(mon)
    os.kill(pid, signal.SIGKILL)
    assert host.wait_pid_gone(pid)
    assert settle_diff(before, scope, timeout=0), "nothing left before gc?"
    p = porcelain("gc")
    assert p.returncode == 0, _describe(p)
    assert "released container" in p.stdout and "runtime state" in p.stdout, p.stdout
    assert "overlay mount" in p.stdout, p.stdout
    (row,) = _ps_all(porcelain)
    assert "Exited (255)" in row["Status"], row
    p = porcelain("rm", "dead")
    assert p.returncode == 0, _describe(p)
    _assert_no_leaks(before, scope, "a dead monitor and init, then gc and rm")


def test_reliability_dead_bridge_container_gives_back_lease_and_firewall_on_gc(
        porcelain, workdir, netns):  # fmt: skip
    """Bridge networking in a network namespace of the test's own: a detached
    container whose monitor and init are killed keeps its IPAM lease and the
    nftables rules of its network until gc releases them."""
    if shutil.which("nsenter") is None or shutil.which("nft") is None:
        pytest.skip("nsenter (util-linux) or nft (nftables) not installed")
    ns = ["nsenter", f"--net={netns['path']}"]

    def nhusk(*args):
        return _run([*ns, *porcelain.argv(*args)], timeout=60)

    def husk_tables():
        p = _run(["ip", "netns", "exec", netns["name"], "nft", "list", "tables"])
        return sorted(ln for ln in p.stdout.splitlines() if "husk" in ln)

    p = nhusk("run", "--rm", "--network", "bridge", "busybox", "true")
    if p.returncode != 0:
        pytest.skip(f"bridge networking does not work here: {p.stderr.strip()}")
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    tables_before = husk_tables()
    p = nhusk("run", "-d", "--network", "bridge", "--name", "web", "busybox", "sleep", "1000")
    assert p.returncode == 0, _describe(p)
    cid = p.stdout.strip()
    scope.fragments.append(cid)
    mon, pid = (int(porcelain("inspect", "-f", f"{{{{.State.{k}}}}}", cid).stdout)
                for k in ("MonitorPid", "Pid"))  # fmt: skip
    for victim in (mon, pid):
        os.kill(victim, signal.SIGKILL)
        assert host.wait_pid_gone(victim)
    assert snapshot(scope).leases - before.leases, "no lease left to give back?"
    assert husk_tables(), "no firewall table while the lease is held?"
    p = nhusk("gc")
    print(p.stdout)
    assert p.returncode == 0 and "network lease" in p.stdout, _describe(p)
    assert husk_tables() == tables_before
    p = nhusk("rm", "web")
    assert p.returncode == 0, _describe(p)
    _assert_no_leaks(before, scope, "a dead bridge container, gc, rm")


@pytest.mark.parametrize("stage", ["record-saved", "cgroups-made", "init-ready"])
def test_reliability_husk_run_killed_at_stage_is_cleaned_by_rm_f(pfault, workdir, stage):
    """What a killed `husk run` leaves once it wrote its record is a container
    `husk ps -a` lists and `husk rm -f` removes completely."""
    husk = pfault["husk"]
    syscall, find = PORCELAIN_STAGES[stage]
    scope = _porcelain_scope(workdir, husk)
    before = snapshot(scope)
    watch = CreatedNames(husk.data / "containers")
    inject = f"inject={syscall}:signal=SIGKILL:when={find(pfault['calls'])}"
    trace, out = traced(husk.argv("run", "--name", "victim", "busybox", "sleep", "1000"), workdir,
                        stage, ["-e", inject])
    watch.close()
    scope.fragments += sorted(watch.names)
    assert _killed(trace), out
    assert [r["Names"] for r in _ps_all(husk)] == ["victim"]
    p = husk("rm", "-f", "victim")
    assert p.returncode == 0, _describe(p)
    _assert_no_leaks(before, scope, f"husk run killed at {stage}, then rm -f")


def test_reliability_gc_during_parallel_runs_removes_nothing_in_use(porcelain, workdir):
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    stop = threading.Event()
    gc_out = []

    def gc_loop():
        while not stop.is_set():
            gc_out.append(porcelain("gc"))

    t = threading.Thread(target=gc_loop)
    t.start()
    try:
        with ThreadPoolExecutor(PPAR) as ex:
            results = list(ex.map(lambda _: porcelain("run", "--rm", "busybox", "sleep", "0.1",
                                                      timeout=120), range(2 * PPAR)))  # fmt: skip
    finally:
        stop.set()
        t.join()
    bad = [_describe(p) for p in results if p.returncode != 0]
    assert not bad, "runs failed while gc ran:\n" + "\n".join(bad[:3])
    gcs = [_describe(p) for p in gc_out if p.returncode != 0 or p.stdout]
    assert len(gc_out) > 1 and not gcs, "gc removed something in use:\n" + "\n".join(gcs[:3])
    _assert_no_leaks(before, scope, "parallel runs with gc")


# ---- disk full while pulling ------------------------------------------------------------


class _Registry(http.server.BaseHTTPRequestHandler):
    """The distribution API's read side, enough for `husk pull`: manifests and
    blobs of images built in memory (blobs = {digest: bytes}, manifests =
    {"repo:tag": bytes})."""

    blobs, manifests = {}, {}
    MT = "application/vnd.docker.distribution.manifest.v2+json"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", ctype="application/octet-stream", digest=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/(.+)", self.path)
        if self.path == "/v2/":
            return self._send(200, b"{}", "application/json")
        if m and m.group(2) == "manifests" and f"{m.group(1)}:{m.group(3)}" in self.manifests:
            body = self.manifests[f"{m.group(1)}:{m.group(3)}"]
            return self._send(200, body, self.MT, "sha256:" + hashlib.sha256(body).hexdigest())
        if m and m.group(2) == "blobs" and m.group(3) in self.blobs:
            return self._send(200, self.blobs[m.group(3)])
        return self._send(404, b'{"errors":[{"code":"NOT_FOUND"}]}', "application/json")

    do_HEAD = do_GET


def _push(reg, repo_tag, layer_tar):
    """Put an image of one gzip layer into the in-memory registry."""
    import test_images as ti

    def put(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        reg.blobs[d] = data
        return d, len(data)

    blob = gzip.compress(layer_tar, compresslevel=1, mtime=0)
    ld, lsize = put(blob)
    cd, csize = put(ti.image_config([f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]))
    reg.manifests[repo_tag] = json.dumps({
        "schemaVersion": 2, "mediaType": _Registry.MT,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": csize,
                   "digest": cd},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": lsize, "digest": ld}]}).encode()  # fmt: skip


def test_reliability_disk_full_while_pulling_leaves_no_half_layer(tmp_path):
    """A data root on a 4 MiB tmpfs (in a private mount namespace) and a local
    registry: a layer whose download does not fit and one whose unpacking does
    not fit both fail with one clear line and leave no temp file, no half
    layer and no blob that is not whole; once there is room, both pulls work."""
    import test_images as ti

    husk_path = Path(os.environ.get("HUSK_BUILD") or REPO / "build") / "runtime" / "husk"
    if os.geteuid() != 0 or not husk_path.exists():
        pytest.skip("needs root and the husk binary")
    reg = type("Reg", (_Registry,), {"blobs": {}, "manifests": {}})

    def junk(mib):
        return ti.Tar().dir("data").file("data/junk", os.urandom(mib << 20)).bytes()

    _push(reg, "big:1", junk(6))  # its download does not fit
    _push(reg, "mid:1", junk(3))  # its blob fits, the unpacked layer next to it does not
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), reg)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    host_port = f"127.0.0.1:{srv.server_address[1]}"
    store = tmp_path / "store"
    store.mkdir()
    h = f"{husk_path} --data-root {store}"
    script = f"""
set -u
mount -t tmpfs -o size=4m tmpfs {store}
for img in big mid; do
  {h} pull -q {host_port}/$img:1 >/dev/null 2>{tmp_path}/$img.err
  echo "$img=$?"
done
echo "layers=$(ls {store}/layers | wc -l) tmp=$(ls {store}/tmp | wc -l)"
echo "images=$({h} images -q | wc -l)"
cd {store}/blobs/sha256 && for b in *; do [ -e "$b" ] || continue
  [ "$(sha256sum "$b" | cut -d' ' -f1)" = "$b" ] || echo "partial=$b"; done
mount -o remount,size=32m {store}
for img in big mid; do
  {h} pull -q {host_port}/$img:1 >/dev/null 2>{tmp_path}/$img.again.err
  echo "$img.again=$?"
done
echo "images.after=$({h} images -q | wc -l) tmp.after=$(ls {store}/tmp | wc -l)"
echo "junk=$(stat -c %s {store}/layers/*/data/junk | sort -u | tr '\\n' ,)"
"""
    try:
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        srv.shutdown()
        srv.server_close()
    out = dict(line.split("=", 1) for line in p.stdout.split() if "=" in line)
    print(p.stdout, p.stderr)
    for img in ("big", "mid"):
        err = (tmp_path / f"{img}.err").read_text()
        print(f"{img}: {err}")
        assert out.get(img) not in (None, "0"), f"pulling {img} into a full disk worked: {p.stdout}"
        assert len(err.strip().splitlines()) == 1 and "space" in err.lower(), (
            f"{img}: not one clear line: {err!r}")  # fmt: skip
    assert out.get("layers") == "0" and out.get("tmp") == "0", f"half layer or temp: {p.stdout}"
    assert out.get("images") == "0", p.stdout
    assert not [k for k in out if k == "partial"], f"a partial blob is left: {p.stdout}"
    for img in ("big", "mid"):
        assert out.get(f"{img}.again") == "0", (tmp_path / f"{img}.again.err").read_text()
    assert out.get("images.after") == "2" and out.get("tmp.after") == "0", p.stdout
    assert out.get("junk") == f"{3 << 20},{6 << 20},", p.stdout


# ---- a process that dies early is reported with its exit status -------------------------


def test_reliability_start_failures_are_kept_exited_with_dockers_codes(porcelain, workdir):
    """Like docker: not found 127, not executable 126; the container (not --rm)
    stays, exited with that code and the error, and holds nothing at run time."""
    p = porcelain("run", "--rm", "busybox", "true")
    assert p.returncode == 0, _describe(p)
    scope = _porcelain_scope(workdir, porcelain)
    before = snapshot(scope)
    for name, cmd, code in (("nf", "/no/such/cmd", 127), ("nx", "/etc/passwd", 126)):
        p = porcelain("run", "--name", name, "busybox", cmd)
        assert p.returncode == code, _describe(p)
        assert len(p.stderr.strip().splitlines()) == 1 and cmd in p.stderr, _describe(p)
        st = porcelain("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}",
                       name).stdout  # fmt: skip
        assert st.startswith(f"exited {code} ") and cmd in st, st
    p = porcelain("run", "--rm", "busybox", "/no/such/cmd")
    assert p.returncode == 127, _describe(p)
    # an init that exits or is killed right away
    p = porcelain("run", "-d", "--name", "ex3", "busybox", "sh", "-c", "exit 3")
    assert p.returncode == 0, _describe(p)
    p = porcelain("run", "-d", "--name", "k9", "busybox", "sleep", "1000")
    assert p.returncode == 0, _describe(p)
    os.kill(int(porcelain("inspect", "-f", "{{.State.Pid}}", "k9").stdout), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while {r["Names"] for r in _ps_all(porcelain) if r["State"] == "exited"} != {"nf", "nx", "ex3",
                                                                                   "k9"}:
        assert time.monotonic() < deadline, _ps_all(porcelain)
        time.sleep(0.05)
    status = {r["Names"]: r["Status"] for r in _ps_all(porcelain)}
    for name, code in (("nf", 127), ("nx", 126), ("ex3", 3), ("k9", 137)):
        assert status[name].startswith(f"Exited ({code})"), status
    assert not host.mounts_mentioning(str(porcelain.data / "containers")), "a rootfs is mounted"
    assert os.listdir(porcelain.state) in ([], [".seccomp-cache"]), os.listdir(porcelain.state)
    p = porcelain("gc", "--min-age", "0")
    assert p.returncode == 0 and p.stdout == "", f"gc touched exited containers:\n{_describe(p)}"
    p = porcelain("rm", "nf", "nx", "ex3", "k9")
    assert p.returncode == 0, _describe(p)
    _assert_no_leaks(before, scope, "start failures and early exits, then rm")


# ---- gc and the OCI state root ----------------------------------------------------------


def test_reliability_gc_removes_unfinished_oci_creates_and_stopped_ones_only_with_oci(
        oci, make_bundle, workdir):  # fmt: skip
    husk_bin = str(Path(oci.binary).parent / "husk")
    if not os.access(husk_bin, os.X_OK):
        pytest.skip(f"{husk_bin} not built")

    def gc(*args):
        p = _run([husk_bin, "--data-root", str(workdir / "gcdata"), "--root", oci.root, "gc",
                  *args])  # fmt: skip
        assert p.returncode == 0 and p.stderr == "", _describe(p)
        return p.stdout

    running, done = oci.new_id("running"), oci.new_id("done")
    oci.create(make_bundle(("/bin/sleep", "1000")), running)
    oci.start(running)
    oci.create(make_bundle(("/bin/true",)), done)
    oci.start(done)
    oci.wait_status(done, "stopped")
    # a create killed right after it made its state directory
    half = oci.new_id("half")
    os.mkdir(os.path.join(oci.root, half), 0o700)
    assert gc() == "", "gc removed a fresh state directory (a create may be making it)"
    out = gc("--min-age", "0")
    assert half in out and done not in out and running not in out, out
    assert not os.path.exists(os.path.join(oci.root, half))
    assert oci.status(done) == "stopped" and oci.status(running) == "running"
    out = gc("--oci", "--min-age", "0")
    assert done in out and running not in out, out
    assert oci.state(done, check=False) is None and oci.status(running) == "running"

