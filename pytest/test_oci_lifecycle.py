"""The runc-compatible command line: create/start/state/kill/delete, exec,
list, ps, spec, features, --log, --console-socket, hooks."""

import json
import os
import re
import socket
import threading
import time

import pytest

from husktest import host
from husktest.asserts import assert_ok, wait_for_path
from husktest.spec import PROBE

SIGNALS = {"HUP": 1, "INT": 2, "USR1": 10, "USR2": 12, "TERM": 15}


def _start_waiting(oci, bundle, tag="c", extra=()):
    """create + start a container whose probe waits for a signal; returns the
    id once the probe is ready."""
    bundle.probe("signal-wait", "--ready", "/ready", "--out", "/signal.json")
    cid = oci.new_id(tag)
    oci.create(bundle, cid, extra=extra)
    oci.start(cid)
    assert wait_for_path(bundle.rootfs / "ready"), "container process never became ready"
    return cid


def test_state_created_running_stopped(oci, bundle):
    bundle.config["annotations"] = {"org.husk.test": "yes"}
    bundle.probe("signal-wait", "--ready", "/ready")
    cid = oci.new_id("state")
    oci.create(bundle, cid)

    st = oci.state(cid)
    assert st["status"] == "created", st
    assert st["id"] == cid
    assert st["bundle"] == str(bundle.path)
    assert re.match(r"^1\.\d+\.\d+", st["ociVersion"]), st
    assert st.get("annotations", {}).get("org.husk.test") == "yes", st
    pid = st["pid"]
    assert pid > 0 and host.pid_alive(pid), f"created container has no live pid: {st}"
    assert not (bundle.rootfs / "ready").exists(), "process ran before start"

    oci.start(cid)
    assert wait_for_path(bundle.rootfs / "ready"), "process did not run after start"
    st = oci.state(cid)
    assert st["status"] == "running" and st["pid"] == pid, st

    oci.kill(cid, "TERM")
    oci.wait_status(cid, "stopped")
    assert not host.pid_alive(pid)

    assert_ok(oci.delete(cid, check=False), "delete a stopped container")
    assert oci.state(cid, check=False) is None, "state still answers after delete"
    assert oci.leftovers(cid) == []


def test_start_twice_fails(oci, bundle):
    cid = _start_waiting(oci, bundle, "twice")
    res = oci.start(cid, check=False)
    assert res.returncode != 0, "second start of a running container succeeded"


@pytest.mark.parametrize("form", ["USR1", "SIGUSR1", "10"])
def test_kill_delivers_signal(oci, bundle, form):
    cid = _start_waiting(oci, bundle, "kill")
    assert_ok(oci.kill(cid, form, check=False), f"kill {form}")
    oci.wait_status(cid, "stopped")
    got = json.loads((bundle.rootfs / "signal.json").read_text())
    assert got["signal"] == SIGNALS["USR1"], got
    assert "signal" in (bundle.path / "stdout.log").read_text(), "container stdout lost"


def test_kill_default_signal_is_term(oci, bundle):
    cid = _start_waiting(oci, bundle, "killdef")
    assert_ok(oci("kill", cid), "kill without a signal")
    oci.wait_status(cid, "stopped")
    assert json.loads((bundle.rootfs / "signal.json").read_text())["signal"] == 15


def test_kill_all_reaches_every_process(oci, bundle):
    # pid 1 is a shell that ignores USR2 and waits for two probes
    bundle.set_args(
        "/bin/sh", "-c",
        'trap "" USR2; '
        "/bin/probe signal-wait --ready /r1 --out /s1.json & "
        "/bin/probe signal-wait --ready /r2 --out /s2.json & wait",
    )  # fmt: skip
    cid = oci.new_id("killall")
    oci.create(bundle, cid)
    oci.start(cid)
    assert wait_for_path(bundle.rootfs / "r1") and wait_for_path(bundle.rootfs / "r2")
    assert_ok(oci.kill(cid, "USR2", check=False), "kill USR2")
    time.sleep(0.3)
    assert not (bundle.rootfs / "s1.json").exists(), "kill without --all reached a child"
    assert oci.status(cid) == "running"
    assert_ok(oci.kill(cid, "USR2", "--all", check=False), "kill --all")
    oci.wait_status(cid, "stopped")
    for f in ("s1.json", "s2.json"):
        assert (bundle.rootfs / f).exists(), "kill --all missed a process"
        assert json.loads((bundle.rootfs / f).read_text())["signal"] == 12


def test_delete_removes_state_and_mounts(oci, bundle, workdir):
    shared = workdir / "vol"
    shared.mkdir()
    bundle.add_mount("/vol", "bind", shared, ["rbind", "rw"])
    bundle.probe("sleep", "300")
    cid = oci.new_id("delete")
    oci.create(bundle, cid)
    pid = oci.state(cid)["pid"]
    start = host.pid_start_time(pid)
    assert os.path.isdir(os.path.join(oci.root, cid)), "no state directory under --root"
    ns_mounts = host.mountinfo(pid)
    assert any(m["mount_point"] == "/vol" or m["mount_point"].endswith("/vol") for m in ns_mounts)

    assert_ok(oci.delete(cid, check=False), "delete a created container")
    assert host.wait_pid_gone(pid, start, 5), "delete left the container process running"
    assert not os.path.lexists(os.path.join(oci.root, cid)), "state directory left"
    assert host.mounts_under(str(bundle.path)) == []
    assert host.cgroup_dirs_named(cid) == []
    assert oci.leftovers(cid) == []


def test_delete_running_needs_force(oci, bundle):
    cid = _start_waiting(oci, bundle, "delrun")
    res = oci.delete(cid, check=False)
    assert res.returncode != 0, "delete of a running container without --force succeeded"
    assert oci.status(cid) == "running"
    pid = oci.state(cid)["pid"]
    start = host.pid_start_time(pid)
    assert_ok(oci.delete(cid, force=True, check=False), "delete --force")
    assert host.wait_pid_gone(pid, start, 5)
    assert oci.leftovers(cid) == []


def test_delete_force_missing_is_ok(oci):
    cid = oci.new_id("missing")
    res = oci.delete(cid, force=True, check=False)
    assert res.returncode == 0, f"delete --force of a missing container failed:\n{res.describe()}"
    res = oci.delete(cid, check=False)
    assert res.returncode != 0, "delete of a missing container succeeded"
    assert len(res.error_lines()) == 1, res.describe()


def test_state_of_missing_container_fails(oci):
    res = oci("state", "ht-never-created")
    assert res.returncode != 0
    assert len(res.error_lines()) == 1, res.describe()


def test_create_refuses_duplicate_id(oci, bundle, make_bundle):
    bundle.probe("sleep", "300")
    cid = oci.new_id("dup")
    oci.create(bundle, cid)
    other = make_bundle()
    other.probe("sleep", "300")
    res = oci.create(other, cid, check=False)
    assert res.returncode != 0, "a second container with the same id was created"
    assert oci.state(cid)["bundle"] == str(bundle.path)


def test_pid_file_written(oci, bundle, workdir):
    bundle.probe("sleep", "300")
    cid = oci.new_id("pidfile")
    pidfile = workdir / "init.pid"
    oci.create(bundle, cid, extra=["--pid-file", pidfile])
    assert int(pidfile.read_text().strip()) == oci.state(cid)["pid"]


def test_exec_joins_namespaces(oci, bundle, workdir):
    bundle.config["hostname"] = "husk-exec-test"
    cid = _start_waiting(oci, bundle, "exec")
    init_pid = oci.state(cid)["pid"]

    res = oci("exec", cid, PROBE)
    assert_ok(res, "exec")
    r = res.json()
    assert r["hostname"] == "husk-exec-test"
    assert r["pid"] != 1 and 1 in r["proc_pids"], f"exec is not in the container's pid ns: {r['proc_pids']}"
    for ns in ("pid", "net", "ipc", "uts", "mnt", "cgroup", "user"):
        want = os.stat(f"/proc/{init_pid}/ns/{ns}").st_ino
        assert r["ns"][ns] == want, f"exec did not join the {ns} namespace"

    # a detached exec stays in the container's cgroups
    pidfile = workdir / "exec.pid"
    with open(workdir / "exec.out", "w") as out:
        res = oci("exec", "--detach", "--pid-file", pidfile, cid, PROBE, "sleep", "300", stdout=out, stderr=out)
    assert_ok(res, "exec --detach")
    exec_pid = int(pidfile.read_text().strip())
    oci.watch_pid(exec_pid)
    with open(f"/proc/{init_pid}/cgroup") as f:
        init_cg = f.read()
    with open(f"/proc/{exec_pid}/cgroup") as f:
        exec_cg = f.read()
    assert exec_cg == init_cg, f"exec is in other cgroups:\n{exec_cg}\nvs init:\n{init_cg}"
    assert os.readlink(f"/proc/{exec_pid}/root") == os.readlink(f"/proc/{init_pid}/root")


def test_exec_options_env_cwd_user(oci, bundle):
    cid = _start_waiting(oci, bundle, "execopt")
    res = oci("exec", "--env", "HUSK_X=1", "--cwd", "/tmp", "--user", "1000:1000", cid, PROBE)
    assert_ok(res, "exec with --env --cwd --user")
    r = res.json()
    assert "HUSK_X=1" in r["env"]
    assert r["cwd"] == "/tmp"
    assert (r["uid"], r["gid"]) == (1000, 1000)


def test_exec_process_json(oci, bundle, workdir):
    cid = _start_waiting(oci, bundle, "execproc")
    proc = dict(bundle.process)
    proc.update(args=[PROBE], env=["PATH=/bin", "FROM_PROCESS_JSON=yes"], cwd="/etc")
    pf = workdir / "process.json"
    pf.write_text(json.dumps(proc))
    res = oci("exec", "--process", pf, cid)
    assert_ok(res, "exec --process")
    r = res.json()
    assert "FROM_PROCESS_JSON=yes" in r["env"]
    assert r["cwd"] == "/etc"


def test_exec_exit_code_propagates(oci, bundle):
    cid = _start_waiting(oci, bundle, "execrc")
    res = oci("exec", cid, PROBE, "exit", "7")
    assert res.returncode == 7, res.describe()


def test_list_and_ps(oci, bundle):
    cid = _start_waiting(oci, bundle, "list")
    pid = oci.state(cid)["pid"]

    res = oci("list", "--format", "json")
    assert_ok(res, "list --format json")
    entries = {e["id"]: e for e in res.json() or []}
    assert cid in entries, f"{cid} not listed: {res.stdout}"
    assert entries[cid]["status"] == "running" and entries[cid]["pid"] == pid

    res = oci("list")
    assert_ok(res, "list")
    lines = res.stdout.splitlines()
    assert lines and lines[0].split()[0] == "ID", f"no table header: {res.stdout!r}"
    assert any(ln.split()[0] == cid for ln in lines[1:]), res.stdout

    res = oci("ps", "--format", "json", cid)
    assert_ok(res, "ps --format json")
    assert pid in res.json(), f"init pid {pid} not in {res.stdout}"

    res = oci("ps", cid)
    assert_ok(res, "ps")
    assert re.search(rf"\b{pid}\b", res.stdout), res.stdout


def test_list_empty_root(oci):
    res = oci("list", "--format", "json")
    assert_ok(res)
    assert res.json() in ([], None)


def test_spec_writes_default_config(oci, make_bundle, workdir):
    d = workdir / "specdir"
    d.mkdir()
    res = oci("spec", cwd=d)
    assert_ok(res, "spec")
    cfg = json.loads((d / "config.json").read_text())
    assert re.match(r"^1\.\d+\.\d+", cfg["ociVersion"]), cfg["ociVersion"]
    assert cfg["root"]["path"] == "rootfs"
    assert cfg["process"]["args"], "no default process"
    types = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert {"pid", "mount", "ipc", "uts", "network"} <= types, types

    # the default config runs as-is on our rootfs
    b = make_bundle()
    b.config = cfg
    b.config["process"]["terminal"] = False
    b.config["process"]["args"] = [PROBE]
    r = oci.run_probe(b)
    assert r["pid"] == 1
    if cfg.get("hostname"):
        assert r["hostname"] == cfg["hostname"]


def test_features_json(oci):
    res = oci("features")
    assert_ok(res, "features")
    f = res.json()
    assert re.match(r"^1\.0", f["ociVersionMin"]), f
    assert re.match(r"^1\.\d+", f["ociVersionMax"]), f
    hooks = set(f.get("hooks", []))
    assert {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} <= hooks
    assert {"bind", "rbind", "ro", "nosuid"} <= set(f.get("mountOptions", []))
    lin = f["linux"]
    assert {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"} <= set(lin["namespaces"])
    assert {"CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"} <= set(lin["capabilities"])
    assert lin["seccomp"]["enabled"] is True
    assert "SCMP_ACT_ERRNO" in lin["seccomp"]["actions"]


@pytest.mark.parametrize("form", ["separate", "equals"])
def test_log_format_json_errors(oci, workdir, form):
    log = workdir / "runtime-log.json"
    if form == "separate":
        gflags = ["--log", log, "--log-format", "json"]
    else:
        gflags = [f"--log={log}", "--log-format=json"]
    cid = oci.new_id("log")
    res = oci(*gflags, "create", "--bundle", workdir / "no-such-bundle", cid)
    assert res.returncode != 0
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    assert lines, "nothing written to --log"
    entries = [json.loads(ln) for ln in lines]
    for e in entries:
        assert {"level", "msg", "time"} <= set(e), e
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", e["time"]), e
    errors = [e for e in entries if e["level"] == "error"]
    assert errors and "no-such-bundle" in errors[-1]["msg"], entries


def _console_server(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    srv.settimeout(30)
    got = {}

    def serve():
        try:
            conn, _ = srv.accept()
            with conn:
                msg, fds, _, _ = socket.recv_fds(conn, 4096, 4)
                got["msg"], got["fds"] = msg, fds
        except OSError as e:
            got["error"] = e

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t, got


def _read_pty(fd, timeout=15):
    out = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_console_socket_receives_pty(oci, bundle, workdir):
    sock_path = workdir / "console.sock"
    srv, t, got = _console_server(sock_path)
    try:
        bundle.process["terminal"] = True
        bundle.process["consoleSize"] = {"height": 40, "width": 120}
        bundle.probe("--check", "/dev/console")
        cid = oci.new_id("tty")
        oci.create(bundle, cid, extra=["--console-socket", sock_path])
        t.join(15)
        assert "error" not in got, got
        assert len(got.get("fds", [])) == 1, f"expected one fd over SCM_RIGHTS, got {got}"
        master = got["fds"][0]
        try:
            assert os.isatty(master), "received fd is not a terminal"
            oci.start(cid)
            data = _read_pty(master)
        finally:
            os.close(master)
        text = data.decode(errors="replace").replace("\r\n", "\n")
        r = json.loads(text[text.index("{") :])
        assert r["tty"]["stdin"] and r["tty"]["stdout"] and r["tty"]["stderr"], r["tty"]
        assert r["tty"]["name"] and r["tty"]["name"].startswith("/dev/pts/"), r["tty"]
        assert r["checks"]["/dev/console"]["exists"], "no /dev/console with a terminal"
    finally:
        srv.close()


def test_hooks_run_with_state_on_stdin(oci, bundle, workdir):
    out = workdir / "hooks"
    out.mkdir()
    order = bundle.rootfs / "hook-order"

    def host_hook(name):
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}/{name}.json; echo {name} >> {order}"]}

    bundle.config["hooks"] = {
        "prestart": [host_hook("prestart")],
        "createRuntime": [host_hook("createRuntime")],
        "createContainer": [host_hook("createContainer")],
        "startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", "cat > /startContainer.json; echo startContainer >> /hook-order"]}
        ],
        "poststart": [host_hook("poststart")],
        "poststop": [host_hook("poststop")],
    }
    bundle.probe("signal-wait", "--ready", "/ready")
    cid = oci.new_id("hooks")
    oci.create(bundle, cid)
    pid = oci.state(cid)["pid"]
    for name in ("prestart", "createRuntime", "createContainer"):
        assert (out / f"{name}.json").exists(), f"{name} hook did not run at create"
    assert not (out / "poststart.json").exists(), "poststart ran before start"
    oci.start(cid)
    assert wait_for_path(bundle.rootfs / "ready")
    assert wait_for_path(out / "poststart.json", 5), "poststart hook did not run"
    oci.kill(cid, "TERM")
    oci.wait_status(cid, "stopped")
    assert not (out / "poststop.json").exists(), "poststop ran before delete"
    oci.delete(cid)
    assert (out / "poststop.json").exists(), "poststop hook did not run at delete"

    states = {n: json.loads((out / f"{n}.json").read_text()) for n in
              ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}  # fmt: skip
    states["startContainer"] = json.loads((bundle.rootfs / "startContainer.json").read_text())
    for name, st in states.items():
        assert st["id"] == cid, f"{name}: {st}"
        assert st["bundle"] == str(bundle.path), f"{name}: {st}"
        assert "ociVersion" in st and "status" in st, f"{name}: {st}"
        if name in ("createContainer", "startContainer"):
            # run inside the container: the pid may be given as seen there
            assert st["pid"] in (pid, 1), f"{name} got pid {st.get('pid')}, container pid is {pid}"
        elif name != "poststop":
            assert st["pid"] == pid, f"{name} got pid {st.get('pid')}, container pid is {pid}"
    assert states["poststart"]["status"] == "running"
    assert states["poststop"]["status"] == "stopped"

    seq = order.read_text().split()
    idx = {n: seq.index(n) for n in seq}
    assert set(idx) == set(states), seq
    assert max(idx["prestart"], idx["createRuntime"]) < idx["createContainer"] < idx["startContainer"], seq
    assert idx["poststart"] < idx["poststop"], seq


def test_failing_prestart_hook_fails_create(oci, bundle):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false", "args": ["false"]}]}
    bundle.probe("sleep", "300")
    cid = oci.new_id("badhook")
    res = oci.create(bundle, cid, check=False)
    assert res.returncode != 0, "create succeeded although a prestart hook failed"
    assert oci.state(cid, check=False) is None
    assert oci.leftovers(cid) == []


def test_hook_timeout_fails_create(oci, bundle):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    bundle.probe("sleep", "300")
    cid = oci.new_id("hooktimeout")
    t0 = time.monotonic()
    res = oci.create(bundle, cid, check=False)
    assert res.returncode != 0, "create succeeded although a hook timed out"
    assert time.monotonic() - t0 < 15, "the hook timeout was not enforced"
    assert oci.state(cid, check=False) is None
