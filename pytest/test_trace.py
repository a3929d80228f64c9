"""husk-trace: eBPF tracing of a container start (issue 4).

husk-trace is `$HUSK_TRACE`, else `$HUSK_BUILD/runtime/husk-trace`.  The
container-start tests use the conftest fixtures (`oci`, `make_bundle`: the
runtime under test, husk-oci or $HUSK_OCI); runc and crun are traced too when
they are installed.  Everything here needs root and a kernel that loads the
probes (BTF, tp_btf, task storage); otherwise the tests skip and say why.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from husktest.runtime import Runtime  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# OCI namespace type -> the clone flag that creates it
NS_FLAGS = {
    "pid": "CLONE_NEWPID",
    "network": "CLONE_NEWNET",
    "ipc": "CLONE_NEWIPC",
    "uts": "CLONE_NEWUTS",
    "mount": "CLONE_NEWNS",
    "cgroup": "CLONE_NEWCGROUP",
    "user": "CLONE_NEWUSER",
    "time": "CLONE_NEWTIME",
}
CREATORS = ("clone", "clone3", "unshare")

# Syscalls whose counts depend on timing, not on what the program does
# (Go's scheduler in runc, waiting loops); left out of the strace comparison.
TIMING_DEPENDENT = {
    "futex", "nanosleep", "clock_nanosleep", "sched_yield", "epoll_pwait", "epoll_wait",
    "rt_sigreturn", "tgkill", "getpid", "gettid", "wait4", "waitid", "read", "poll", "ppoll",
    "pselect6", "select", "mmap", "munmap", "madvise", "rt_sigprocmask", "sigaltstack",
}  # fmt: skip


# ---------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="session")
def husk_trace():
    if os.geteuid() != 0:
        pytest.skip("husk-trace needs root (BPF)")
    build = Path(os.environ.get("HUSK_BUILD") or REPO / "build")
    path = os.environ.get("HUSK_TRACE") or str(build / "runtime" / "husk-trace")
    if not os.access(path, os.X_OK):
        pytest.skip(f"husk-trace {path} not built (needs clang, bpftool, libbpf: HUSK_BUILD_EBPF)")
    p = subprocess.run([path, "-o", "/dev/null", "--", "true"], capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    if p.returncode != 0 and "cannot load BPF programs" in p.stderr:
        pytest.skip(f"this kernel does not load husk-trace's probes: {p.stderr.strip()}")
    assert p.returncode == 0, f"husk-trace -- true failed: {p.stderr}"
    return os.path.abspath(path)


class Trace:
    """One husk-trace --json run: the document, the exit code and stderr."""

    def __init__(self, doc, proc):
        self.doc = doc
        self.proc = proc
        self.events = doc["events"]
        self.syscalls = {s["name"]: s for s in doc["syscalls"]}

    def named(self, *names, ok=False):
        return [e for e in self.events if e["event"] in names and (not ok or e.get("ret", 0) >= 0)]

    def count(self, name):
        s = self.syscalls.get(name)
        return s["count"] if s else 0

    def describe(self, limit=400):
        lines = []
        for e in self.events[:limit]:
            args = " ".join(f"{k}={v}" for k, v in e["args"].items())
            lines.append(
                f"{e['time_ns'] / 1e6:9.3f} {e['pid']:>7} {e['nspid']:>5} {e['comm']:<16} "
                f"{e['event']:<12} ret={e.get('ret', '-')} {args}"
            )
        return "\n".join(lines) + f"\n--- husk-trace stderr ---\n{self.proc.stderr}"


def run_trace(ht, argv, out_dir, extra=(), timeout=120, **kw):
    out = Path(out_dir) / f"trace-{time.monotonic_ns()}.json"
    proc = subprocess.run([ht, "--json", "-o", str(out), *extra, "--", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, **kw)  # fmt: skip
    assert out.exists() and out.stat().st_size > 0, (
        f"husk-trace wrote no JSON (exit {proc.returncode}): {proc.stderr}"
    )
    doc = json.loads(out.read_text())
    out.unlink()
    return Trace(doc, proc)


def strace_counts(argv, out_dir, **kw):
    """Per-syscall call counts from `strace -f -c` of argv."""
    out = Path(out_dir) / "strace-c.txt"
    p = subprocess.run(["strace", "-f", "-c", "-o", str(out), "--", *map(str, argv)],
                       capture_output=True, text=True, timeout=120, **kw)  # fmt: skip
    assert p.returncode == 0, f"strace run failed: {p.stderr}"
    counts = {}
    for line in out.read_text().splitlines():
        f = line.split()
        # "% time seconds usecs/call calls [errors] syscall"
        if len(f) >= 5 and re.fullmatch(r"[\d.]+", f[0]) and f[-1] != "total":
            counts[f[-1]] = int(f[3])
    return counts


def assert_counts_agree(trace, counts):
    """husk-trace's per-syscall counts against strace -c's, within a small
    tolerance: husk-trace also sees the few syscalls its own child makes
    between fork and execve, and strace -c leaves out exit/exit_group."""
    mine = {n: s["count"] for n, s in trace.syscalls.items()}
    names = (set(mine) | set(counts)) - TIMING_DEPENDENT - {"exit", "exit_group"}
    bad = []
    for n in sorted(names):
        a, b = mine.get(n, 0), counts.get(n, 0)
        if abs(a - b) > max(2, 0.1 * max(a, b)):
            bad.append(f"{n}: husk-trace {a}, strace {b}")
    assert not bad, "syscall counts disagree with strace -f -c:\n  " + "\n  ".join(bad)
    total_mine = sum(mine.get(n, 0) for n in names)
    total_strace = sum(counts.get(n, 0) for n in names)
    assert total_strace > 20, f"strace saw only {total_strace} calls: {counts}"
    assert abs(total_mine - total_strace) <= max(5, 0.05 * total_strace), (
        f"total calls: husk-trace {total_mine}, strace {total_strace}"
    )


def flags_of(ev):
    return set(ev["args"].get("flags", "").split("|"))


def assert_container_setup_in_order(trace, namespaces, hostname, exe, hostname_after_pivot=True):
    """The timeline shows, in this order: the creation of every namespace of
    the spec (clone/clone3/unshare flags), the proc mount, pivot_root,
    sethostname with the spec's hostname, and the final execve of the
    container process (as pid 1 of its pid namespace when it has one).
    hostname_after_pivot=False only asks for sethostname between the
    namespace creation and the final execve (husk sets the hostname before
    it mounts; runc and crun after pivot_root)."""
    ev = trace.events
    want = {NS_FLAGS[n] for n in namespaces}

    proc_i = next((i for i, e in enumerate(ev) if e["event"] == "mount" and e["ret"] == 0
                   and e["args"].get("fstype") == "proc"), None)  # fmt: skip
    assert proc_i is not None, "no successful proc mount:\n" + trace.describe()
    # "/proc/self/fd/N" targets are shown as the path of that fd
    assert ev[proc_i]["args"]["target"].endswith("/proc"), ev[proc_i]
    seen = set()
    for e in ev[:proc_i]:
        if e["event"] in CREATORS and e["ret"] >= 0:
            seen |= flags_of(e) & set(NS_FLAGS.values())
    assert want <= seen, (
        f"namespaces {sorted(want - seen)} not created before the proc mount:\n" + trace.describe()
    )

    pivot_i = next((i for i, e in enumerate(ev) if i > proc_i and e["event"] == "pivot_root"
                    and e["ret"] == 0), None)  # fmt: skip
    assert pivot_i is not None, "no pivot_root after the proc mount:\n" + trace.describe()

    first_ns_i = next(i for i, e in enumerate(ev) if e["event"] in CREATORS
                      and flags_of(e) & want)  # fmt: skip
    after = pivot_i if hostname_after_pivot else first_ns_i
    host_i = next((i for i, e in enumerate(ev) if i > after and e["event"] == "sethostname"
                   and e["ret"] == 0), None)  # fmt: skip
    where = "pivot_root" if hostname_after_pivot else "the namespace creation"
    assert host_i is not None, f"no sethostname after {where}:\n" + trace.describe()
    assert ev[host_i]["args"]["name"] == hostname

    execs = [i for i, e in enumerate(ev) if e["event"] in ("execve", "execveat") and e["ret"] == 0]
    assert execs and execs[-1] > max(host_i, pivot_i), (
        "no execve after sethostname and pivot_root:\n" + trace.describe()
    )
    final = ev[execs[-1]]
    assert final["args"]["filename"].endswith(exe), final
    if "pid" in namespaces:
        assert final["nspid"] == 1, f"the container process is not pid 1: {final}"
        assert final["pid"] != 1


def check_stats_consistent(trace):
    """Every call of a syscall that always makes an event is in the timeline,
    and the histograms hold exactly the calls that returned."""
    for name in ("execve", "mount", "pivot_root", "sethostname", "unshare"):
        assert len(trace.named(name)) == trace.count(name), (
            f"{name}: {len(trace.named(name))} events but {trace.count(name)} calls"
        )
    for s in trace.doc["syscalls"]:
        in_hist = sum(b["count"] for b in s["hist"])
        if s["name"] in ("exit", "exit_group"):
            assert in_hist == 0
        else:
            assert in_hist == s["count"], s
        for b in s["hist"]:
            assert b["lo_ns"] <= b["hi_ns"]
        if s["count"]:
            assert s["max_ns"] <= s["total_ns"] or in_hist == 0


@pytest.fixture
def runc_runtime(workdir):
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc not installed")
    rt = Runtime(runc, workdir / "runc-state", workdir, name="runc")
    rt.global_args = []  # HUSK_OCI_ARGS are husk's
    yield rt
    problems = rt.cleanup()
    assert not problems, "runc left behind:\n  " + "\n  ".join(problems)


@pytest.fixture
def crun_runtime(workdir):
    crun = shutil.which("crun")
    if crun is None:
        pytest.skip("crun not installed")
    rt = Runtime(crun, workdir / "crun-state", workdir, name="crun")
    rt.global_args = []
    yield rt
    problems = rt.cleanup()
    assert not problems, "crun left behind:\n  " + "\n  ".join(problems)


def spec_namespaces(bundle):
    return [n["type"] for n in bundle.linux["namespaces"] if "path" not in n]


# ---------------------------------------------------------------------------
# container starts


def test_trace_container_start_shows_setup_in_order(husk_trace, oci, make_bundle, workdir):
    bundle = make_bundle(("/bin/true",))
    bundle.config["hostname"] = "traced-box"
    cid = oci.new_id("trace")
    oci.track(cid, bundle)
    bundle.write()
    t = run_trace(husk_trace, oci.argv("run", "--bundle", bundle.path, cid), workdir)
    assert t.proc.returncode == 0, t.describe()
    assert t.doc["exit_status"] == 0
    # husk sets the hostname right after the namespaces exist, before mounting
    assert_container_setup_in_order(t, spec_namespaces(bundle), "traced-box", "/bin/true",
                                    hostname_after_pivot=oci.is_runc)  # fmt: skip
    check_stats_consistent(t)
    assert t.doc["dropped_events"] == 0


def test_trace_syscall_counts_match_strace_for_container_start(husk_trace, oci, make_bundle,
                                                              workdir):  # fmt: skip
    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    bundle = make_bundle(("/bin/true",))
    cid1, cid2 = oci.new_id("trace"), oci.new_id("strace")
    oci.track(cid1, bundle)
    oci.track(cid2, bundle)
    bundle.write()
    t = run_trace(husk_trace, oci.argv("run", "--bundle", bundle.path, cid1), workdir)
    assert t.proc.returncode == 0, t.describe()
    counts = strace_counts(oci.argv("run", "--bundle", bundle.path, cid2), workdir)
    assert_counts_agree(t, counts)


def test_trace_syscall_counts_match_strace_for_unshare(husk_trace, workdir):
    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    argv = ["unshare", "-fpimun", "--mount-proc", "true"]
    t = run_trace(husk_trace, argv, workdir)
    assert t.proc.returncode == 0, t.describe()
    assert_counts_agree(t, strace_counts(argv, workdir))
    # the namespaces and the proc mount are decoded
    uns = t.named("unshare", ok=True)
    assert uns and {"CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWNS", "CLONE_NEWUTS",
                    "CLONE_NEWIPC"} <= flags_of(uns[0])  # fmt: skip
    procs = [e for e in t.named("mount", ok=True) if e["args"].get("fstype") == "proc"]
    assert procs and procs[0]["nspid"] == 1
    assert "MS_NOSUID" in procs[0]["args"]["flags"]
    check_stats_consistent(t)


def test_trace_runc_run_shows_container_setup(husk_trace, runc_runtime, make_bundle, workdir):
    bundle = make_bundle(("/bin/true",))
    bundle.config["hostname"] = "runc-traced"
    cid = runc_runtime.new_id("trace")
    runc_runtime.track(cid, bundle)
    bundle.write()
    t = run_trace(husk_trace, runc_runtime.argv("run", "--bundle", bundle.path, cid), workdir)
    assert t.proc.returncode == 0, t.describe()
    assert_container_setup_in_order(t, spec_namespaces(bundle), "runc-traced", "/bin/true")
    # runc's stage names show up as comm, and it writes its cgroups
    comms = {e["comm"] for e in t.events}
    assert any(c.startswith("runc:[2:INIT]") for c in comms), comms
    procs_writes = [e for e in t.named("write") if e["args"]["file"].endswith("/cgroup.procs")]
    assert procs_writes, "no cgroup.procs write decoded:\n" + t.describe()
    assert all(e["args"]["file"].startswith("/sys/fs/cgroup/") for e in procs_writes)
    assert any(cid in e["args"]["file"] for e in procs_writes)
    mkdirs = t.named("mkdir", "mkdirat", ok=True)
    assert any(cid in e["args"]["cgroup"] for e in mkdirs), "no cgroup mkdir decoded"


def test_trace_crun_run_shows_container_setup(husk_trace, crun_runtime, make_bundle, workdir):
    # crun 1.8 refuses this hybrid host; it accepts it when cgroup2's
    # /sys/fs/cgroup/unified is unmounted, which we do only inside a private
    # mount namespace (unshare -m: propagation private, the host is untouched).
    if not os.path.ismount("/sys/fs/cgroup/unified") and not os.path.isdir("/sys/fs/cgroup"):
        pytest.skip("no cgroup file system")
    bundle = make_bundle(("/bin/true",))
    bundle.config["hostname"] = "crun-traced"
    cid = crun_runtime.new_id("trace")
    crun_runtime.track(cid, bundle)
    bundle.write()
    out = workdir / "crun-trace.json"
    argv = [husk_trace, "--json", "-o", out, "--",
            *crun_runtime.argv("run", "--bundle", bundle.path, cid)]  # fmt: skip
    script = (
        "if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; "
        + " ".join(map(_sh_quote, argv))
    )
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0, f"crun under husk-trace failed: {p.stderr}"
    t = Trace(json.loads(out.read_text()), p)
    assert_container_setup_in_order(t, spec_namespaces(bundle), "crun-traced", "/bin/true")


def _sh_quote(s):
    s = str(s)
    return "'" + s.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------------------
# decoding of other setup steps


def test_trace_decodes_cgroup_mkdir_write_and_rmdir(husk_trace, workdir):
    line = next((ln for ln in Path("/proc/self/cgroup").read_text().splitlines()
                 if ln.split(":")[1] == "pids"), None)  # fmt: skip
    if line is None or not os.path.isdir("/sys/fs/cgroup/pids"):
        pytest.skip("no cgroup v1 pids hierarchy")
    parent = "/sys/fs/cgroup/pids" + line.split(":", 2)[2].rstrip("/")
    name = f"husk-trace-test-{os.getpid()}"
    child = f"{parent}/{name}"
    script = (f"mkdir {child} && echo $$ > {child}/cgroup.procs && echo 7 > {child}/pids.max; "
              f"echo $$ > {parent}/cgroup.procs; rmdir {child}")  # fmt: skip
    try:
        t = run_trace(husk_trace, ["sh", "-c", script], workdir)
    finally:
        if os.path.isdir(child):
            os.rmdir(child)
    assert t.proc.returncode == 0, t.describe()
    writes = {e["args"]["file"]: e for e in t.named("write", ok=True)}
    procs = writes.get(f"{child}/cgroup.procs")
    assert procs is not None, "no write to the new cgroup.procs:\n" + t.describe()
    assert procs["args"]["value"] == f"{procs['pid']}\\n"
    assert procs["args"]["fs"] == "cgroup"
    assert writes[f"{child}/pids.max"]["args"]["value"] == "7\\n"
    made = [e for e in t.named("mkdir", "mkdirat", ok=True) if e["args"]["cgroup"].endswith(name)]
    assert made and made[0]["args"]["cgroup"].startswith("pids:"), t.describe()
    removed = [e for e in t.named("rmdir", "unlinkat", ok=True)
               if e["args"].get("cgroup", "").endswith(name)]  # fmt: skip
    assert removed, "no cgroup rmdir:\n" + t.describe()
    # writes to ordinary files are not events
    assert all(e["args"]["file"].startswith("/sys/fs/cgroup/") for e in t.named("write"))


def test_trace_decodes_setns_namespace_type(husk_trace, netns, workdir):
    t = run_trace(husk_trace, ["nsenter", f"--net={netns['path']}", "true"], workdir)
    assert t.proc.returncode == 0, t.describe()
    ev = t.named("setns", ok=True)
    assert ev, "no setns event:\n" + t.describe()
    assert ev[0]["args"]["nstype"] == "CLONE_NEWNET"
    # the fd's path (a bind mount of the nsfs file) and the namespace's inode
    assert ev[0]["args"]["ns"] == netns["path"]
    assert ev[0]["args"]["ns_ino"] == os.stat(netns["path"]).st_ino


def test_trace_decodes_prctl_name_and_no_new_privs(husk_trace, workdir):
    # setpriv sets no_new_privs; busybox's prctl-free path is not enough, so use python
    code = ("import ctypes; l = ctypes.CDLL(None); l.prctl(15, b'stage-one', 0, 0, 0); "
            "l.prctl(38, 1, 0, 0, 0)")  # fmt: skip
    t = run_trace(husk_trace, [sys.executable, "-c", code], workdir)
    assert t.proc.returncode == 0, t.describe()
    opts = {e["args"]["option"]: e for e in t.named("prctl", ok=True)}
    assert opts["PR_SET_NAME"]["args"]["name"] == "stage-one"
    assert opts["PR_SET_NO_NEW_PRIVS"]["args"]["arg2"] == 1


# ---------------------------------------------------------------------------
# following processes, output formats, exit status


def test_trace_follows_existing_pid_tree(husk_trace, workdir):
    fifo = workdir / "go"
    os.mkfifo(fifo)
    # a process tree that waits, then makes a new uts namespace in a grandchild
    waiter = subprocess.Popen(
        ["sh", "-c", f"read x < {fifo}; unshare -u sh -c 'hostname pid-followed; true'; exit 3"]
    )
    out = workdir / "pid-trace.json"
    tracer = subprocess.Popen([husk_trace, "--json", "-o", str(out), "--pid", str(waiter.pid)],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        first = tracer.stderr.readline()
        assert "tracing pid" in first, first
        with open(fifo, "w") as f:
            f.write("go\n")
        assert waiter.wait(timeout=30) == 3
        assert tracer.wait(timeout=30) == 0, tracer.stderr.read()
    finally:
        for p in (waiter, tracer):
            if p.poll() is None:
                p.kill()
                p.wait()
        tracer.stderr.close()
    t = Trace(json.loads(out.read_text()), subprocess.CompletedProcess([], 0, "", ""))
    assert t.doc["command"] is None and t.doc["pid"] == waiter.pid
    uns = t.named("unshare", ok=True)
    assert uns and "CLONE_NEWUTS" in flags_of(uns[0])
    names = [e["args"]["name"] for e in t.named("sethostname", ok=True)]
    assert names == ["pid-followed"]
    exits = {e["pid"]: e["args"] for e in t.named("exit")}
    assert exits[waiter.pid] == {"status": 3}


def test_trace_timeline_and_hist_text(husk_trace, workdir):
    argv = [husk_trace, "--hist", "--top", "3", "--", "unshare", "-fpimun", "--mount-proc", "true"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TIME(ms)", "PID", "NSPID", "COMM", "EVENT", "LAT(us)", "RET",
                                "ARGS"]  # fmt: skip
    uns = [ln for ln in lines if " unshare " in ln and "flags=" in ln]
    assert uns and "CLONE_NEWPID" in uns[0]
    mnt = [ln for ln in lines if ' fstype="proc"' in ln]
    assert mnt and mnt[0].split()[2] == "1"  # NSPID of the forked child in the new pid ns
    # timeline sorted by time
    times = [float(ln.split()[0]) for ln in lines[1:] if re.match(r"^-?\d+\.\d+ ", ln)]
    assert times == sorted(times)
    assert any(ln.startswith("SYSCALLS (top 3 of ") for ln in lines)
    table = lines[[i for i, ln in enumerate(lines) if ln.startswith("SYSCALL ")][0] + 1:][:3]
    assert len(table) == 3 and all(len(r.split()) == 6 for r in table)
    assert sum(1 for ln in lines if re.search(r"\|\*+ *\|$", ln)) >= 3


def test_trace_exit_status_is_the_commands(husk_trace, workdir):
    t = run_trace(husk_trace, ["sh", "-c", "exit 7"], workdir)
    assert t.proc.returncode == 7
    assert t.doc["exit_status"] == 7
    assert t.named("exit")[-1]["args"] == {"status": 7}
    t = run_trace(husk_trace, ["sh", "-c", "kill -9 $$"], workdir)
    assert t.proc.returncode == 128 + 9
    assert t.named("exit")[-1]["args"] == {"signal": "SIGKILL"}


# ---------------------------------------------------------------------------
# bad input


def _one_line_error(p):
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("husk-trace: "), p.stderr
    return lines[0]


def test_trace_unknown_pid_is_an_error(husk_trace):
    pid = 4194000
    while True:
        try:
            os.kill(pid, 0)
            pid -= 1
        except ProcessLookupError:
            break
    p = subprocess.run([husk_trace, "--pid", str(pid)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert f"no such process: {pid}" in _one_line_error(p)


def test_trace_missing_command_is_an_error(husk_trace, workdir):
    for cmd, msg in (("no-such-command-husk", "command not found: no-such-command-husk"),
                     (str(workdir / "missing"), "No such file or directory")):  # fmt: skip
        p = subprocess.run([husk_trace, "--", cmd], capture_output=True, text=True, timeout=30)
        assert p.returncode == 127
        assert msg in _one_line_error(p)


def test_trace_usage_errors(husk_trace):
    for args, msg in (([], "nothing to trace"), (["--pid", "1", "--", "true"], "not both"),
                      (["--pid", "abc"], "not a process id"), (["--top", "0", "true"], "--top"),
                      (["--frobnicate"], "unknown option")):  # fmt: skip
        p = subprocess.run([husk_trace, *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 2, (args, p.stderr)
        assert msg in _one_line_error(p)


def test_trace_without_bpf_permission_is_an_error(husk_trace, workdir):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    exe = workdir / "husk-trace"
    shutil.copy2(husk_trace, exe)
    os.chmod(exe, 0o755)
    marker = workdir / "ran"
    os.chmod(workdir, 0o777)
    try:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=-all", str(exe), "--", "touch", str(marker)],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    finally:
        os.chmod(workdir, 0o755)
    assert p.returncode == 1
    line = _one_line_error(p)
    assert "cannot load BPF programs" in line and "Operation not permitted" in line, line
    assert not marker.exists(), "the command ran although tracing failed"
