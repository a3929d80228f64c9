"""Driving the OCI runtime under test (`husk-oci`, or $HUSK_OCI such as runc)
from the tests, and making sure every container a test created is gone
afterwards: state directory, mounts, cgroups and processes."""

import json
import os
import secrets
import shlex
import subprocess
import time
from pathlib import Path

from . import host

DEFAULT_TIMEOUT = 30


class Result:
    def __init__(self, argv, returncode, stdout, stderr, timed_out=False):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def describe(self):
        cmd = " ".join(self.argv)
        status = "timed out" if self.timed_out else f"exit {self.returncode}"
        return (
            f"`{cmd}` -> {status}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n"
            f"--- stderr ---\n{self.stderr[-4000:]}"
        )

    def json(self):
        """The stdout as one JSON document (the probe's report, state, ...)."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stdout is not JSON ({e}):\n{self.describe()}") from None

    def json_lines(self):
        """Every stdout line that is a JSON object, parsed."""
        out = []
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def error_lines(self):
        return [ln for ln in self.stderr.splitlines() if ln.strip()]

    def __repr__(self):
        return f"<Result {self.argv[1:]} rc={self.returncode}>"


class RuntimeFailed(AssertionError):
    pass


class Runtime:
    """One runtime binary with a private `--root` state directory.

    Every container id made with `new_id` (or passed to create/run) is
    recorded; `cleanup()` deletes them with `delete --force` and returns the
    list of anything left behind."""

    def __init__(self, binary, root, workdir, name="runtime"):
        self.binary = str(binary)
        self.root = str(root)
        self.workdir = Path(workdir)
        self.name = name
        self.ids = []
        self.pids = {}  # id -> (pid, start time) seen while it ran
        self.bundles = {}  # id -> Bundle
        self.popens = []
        self.history = []
        self.extra_pids = []  # (pid, start time) of other container processes (exec)
        # extra global flags for every call, e.g. HUSK_OCI_ARGS=--cgroup-manager=disabled
        self.global_args = shlex.split(os.environ.get("HUSK_OCI_ARGS", ""))

    @property
    def is_runc(self):
        return os.path.basename(os.path.realpath(self.binary)) in ("runc", "crun")

    # -- invocation ---------------------------------------------------------
    def argv(self, *args):
        return [self.binary, "--root", self.root, *self.global_args, *[str(a) for a in args]]

    def __call__(self, *args, check=False, timeout=DEFAULT_TIMEOUT, input=None, stdout=None,
                 stderr=None, cwd=None, env=None, pass_fds=()):  # fmt: skip
        """Run `runtime --root R ARGS...`, capture output, return a Result.
        stdout/stderr may be open files (for commands whose container keeps
        the runtime's stdio, like create)."""
        argv = self.argv(*args)
        out_file, err_file = stdout, stderr
        try:
            p = subprocess.run(
                argv,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                stdout=out_file if out_file is not None else subprocess.PIPE,
                stderr=err_file if err_file is not None else subprocess.PIPE,
                timeout=timeout,
                cwd=cwd,
                env=env,
                pass_fds=pass_fds,
                text=True,
            )
            res = Result(argv, p.returncode, p.stdout or "", p.stderr or "")
        except subprocess.TimeoutExpired as e:
            res = Result(argv, None, _text(e.stdout), _text(e.stderr), timed_out=True)
        if out_file is not None:
            res.stdout = _read_file(out_file.name)
        if err_file is not None:
            res.stderr = _read_file(err_file.name)
        self.history.append(res)
        if check and (res.timed_out or res.returncode != 0):
            raise RuntimeFailed(res.describe())
        return res

    def popen(self, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        """Start the runtime in the background (e.g. a foreground `run`)."""
        p = subprocess.Popen(
            self.argv(*args), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, text=True
        )
        self.popens.append(p)
        return p

    # -- container ids ------------------------------------------------------
    def new_id(self, tag="c"):
        tag = "".join(ch if ch.isalnum() else "-" for ch in tag)[:24].strip("-") or "c"
        cid = f"ht-{tag}-{secrets.token_hex(4)}"
        self.track(cid)
        return cid

    def track(self, cid, bundle=None):
        if cid not in self.ids:
            self.ids.append(cid)
        if bundle is not None:
            self.bundles[cid] = bundle

    # -- lifecycle helpers --------------------------------------------------
    def create(self, bundle, cid=None, extra=(), check=True, timeout=DEFAULT_TIMEOUT, global_args=()):
        """`create --bundle B [extra] ID` with the container's stdio going to
        files in the bundle (stdout.log/stderr.log), since the container keeps
        the runtime's stdio open."""
        cid = cid or self.new_id("create")
        self.track(cid, bundle)
        bundle.write()
        with open(bundle.path / "stdout.log", "w") as out, open(bundle.path / "stderr.log", "w") as err:
            res = self(*global_args, "create", "--bundle", bundle.path, *extra, cid,
                       check=False, timeout=timeout, stdout=out, stderr=err)  # fmt: skip
        res.cid = cid
        if res.returncode == 0:
            self._remember_pid(cid)
        if check and (res.timed_out or res.returncode != 0):
            raise RuntimeFailed(res.describe())
        return res

    def run(self, bundle, cid=None, extra=(), check=False, timeout=DEFAULT_TIMEOUT, pass_fds=()):
        """`run --bundle B ID` in the foreground; the container's output is the
        result's stdout/stderr."""
        cid = cid or self.new_id("run")
        self.track(cid, bundle)
        bundle.write()
        res = self("run", "--bundle", bundle.path, *extra, cid, check=check, timeout=timeout,
                   pass_fds=pass_fds)  # fmt: skip
        res.cid = cid
        return res

    def run_probe(self, bundle, *probe_args, cid=None, expect_rc=0, timeout=DEFAULT_TIMEOUT):
        """Run the probe (with args) as the container process; return its
        parsed report after checking the exit code."""
        if probe_args or bundle.process["args"][:1] != ["/bin/probe"]:
            bundle.probe(*probe_args)
        res = self.run(bundle, cid, timeout=timeout)
        if res.returncode != expect_rc:
            raise RuntimeFailed(f"expected exit {expect_rc}\n" + res.describe())
        return res.json()

    def start(self, cid, check=True):
        res = self("start", cid, check=False)
        if res.returncode == 0:
            self._remember_pid(cid)
        elif check:
            raise RuntimeFailed(res.describe() + self.container_output(cid))
        return res

    def container_output(self, cid):
        """The stdout/stderr the container's process wrote (create/start)."""
        bundle = self.bundles.get(cid)
        if bundle is None:
            return ""
        out = []
        for name in ("stdout.log", "stderr.log"):
            text = _read_file(bundle.path / name)
            if text:
                out.append(f"\n--- container {name} ---\n{text[-4000:]}")
        return "".join(out)

    def state(self, cid, check=True):
        res = self("state", cid, check=check)
        if res.returncode != 0:
            return None
        return res.json()

    def status(self, cid):
        st = self.state(cid, check=False)
        return st["status"] if st else None

    def wait_status(self, cid, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(cid)
            if last == want:
                return last
            time.sleep(0.05)
        raise AssertionError(f"container {cid} did not reach {want!r} in {timeout}s (last: {last!r})")

    def kill(self, cid, sig="TERM", *extra, check=True):
        return self("kill", *extra, cid, str(sig), check=check)

    def delete(self, cid, force=False, check=True):
        args = ["delete"] + (["--force"] if force else []) + [cid]
        return self(*args, check=check)

    def watch_pid(self, pid):
        """Record another container process (e.g. a detached exec): cleanup
        checks it is gone after the containers are deleted."""
        self.extra_pids.append((pid, host.pid_start_time(pid)))

    def _remember_pid(self, cid):
        st = self.state(cid, check=False)
        if st and st.get("pid"):
            pid = int(st["pid"])
            self.pids[cid] = (pid, host.pid_start_time(pid))

    # -- cleanup ------------------------------------------------------------
    def _state_quick(self, cid):
        res = self("state", cid, timeout=10)
        if res.returncode != 0:
            return None
        try:
            return json.loads(res.stdout)
        except ValueError:
            return None

    def leftovers(self, cid):
        """What is left of container `cid` on the host (strings; empty = clean)."""
        problems = []
        state_dir = os.path.join(self.root, cid)
        if os.path.lexists(state_dir):
            problems.append(f"state directory left: {state_dir}")
        bundle = self.bundles.get(cid)
        if bundle is not None:
            for m in host.mounts_under(str(bundle.path)):
                problems.append(f"mount left under the bundle: {m['mount_point']} ({m['fstype']})")
        for m in host.mounts_mentioning(cid):
            problems.append(f"mount mentioning the id left: {m['mount_point']} ({m['fstype']})")
        for d in host.cgroup_dirs_named(cid):
            problems.append(f"cgroup left: {d}")
        rec = self.pids.get(cid)
        if rec and host.pid_alive(*rec):
            problems.append(f"container process {rec[0]} still running")
        return problems

    def cleanup(self):
        """delete --force every container this runtime object created, then
        report (and clean up by force) whatever is left."""
        problems = []
        for p in self.popens:
            if p.poll() is None:
                try:
                    p.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
        for cid in self.ids:
            st = self._state_quick(cid)
            if st and st.get("pid") and cid not in self.pids:
                pid = int(st["pid"])
                self.pids[cid] = (pid, host.pid_start_time(pid))
            if st is not None or os.path.lexists(os.path.join(self.root, cid)):
                res = self("delete", "--force", cid, timeout=20)
                if res.returncode != 0 or res.timed_out:
                    why = "timed out" if res.timed_out else f"exit {res.returncode}"
                    problems.append(f"{cid}: `delete --force` failed ({why}): {res.stderr.strip()!r}")
            rec = self.pids.get(cid)
            if rec:
                host.wait_pid_gone(rec[0], rec[1], timeout=5)
            left = self.leftovers(cid)
            problems += [f"{cid}: {p}" for p in left]
            if left:
                self._force_clean(cid)
        for pid, start in self.extra_pids:
            if not host.wait_pid_gone(pid, start, timeout=5):
                problems.append(f"container process {pid} survived delete --force")
                host.kill_recorded(pid, start)
        for p in self.popens:
            if p.poll() is None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    problems.append(f"runtime process {p.args[3:]} did not exit; killed it")
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        return problems

    def _force_clean(self, cid):
        rec = self.pids.get(cid)
        if rec:
            host.kill_recorded(*rec)
        bundle = self.bundles.get(cid)
        if bundle is not None:
            host.unmount_under(str(bundle.path))
        for d in sorted(host.cgroup_dirs_named(cid), key=len, reverse=True):
            host.remove_cgroup_tree(d)
        state_dir = os.path.join(self.root, cid)
        if os.path.isdir(state_dir) and not host.mounts_under(state_dir):
            subprocess.run(["rm", "-rf", "--one-file-system", state_dir], capture_output=True)


def _text(b):
    if b is None:
        return ""
    if isinstance(b, bytes):
        return b.decode(errors="replace")
    return b


def _read_file(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
