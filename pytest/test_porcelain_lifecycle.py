"""Detached containers and the everyday commands: run -d, ps, logs, exec,
stop, kill, rm, inspect; the per-container monitor that keeps the log and
records the exit code."""

import json
import os
import re
import subprocess
import time

import pytest

from test_porcelain_helpers import (  # noqa: F401  (fixtures)
    cgroup_v1_file,
    comm,
    husk_bin,
    phusk,
)
from husktest import host

LOOP = "echo started; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done"


def test_detached_lifecycle(phusk):
    cid = phusk.run_d("--name", "life", "busybox", "sh", "-c", LOOP)
    # ps: running, short id, name, image, command
    rows = phusk.ps()
    assert len(rows) == 1
    r = rows[0]
    assert r["ID"] == cid and r["Names"] == "life" and r["Image"] == "busybox"
    assert r["State"] == "running" and r["Status"].startswith("Up ")
    assert r["Command"].startswith("sh -c echo started")
    table = phusk("ps").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "NAME", "IMAGE", "COMMAND", "CREATED", "STATUS"]
    assert table[1].startswith(cid[:12] + " ")
    assert phusk("ps", "-q").stdout.split() == [cid[:12]]
    # logs
    phusk.wait_log("life", "tick 2")
    assert phusk("logs", "life").stdout.startswith("started\ntick 0\n")
    # exec
    p = phusk("exec", "life", "sh", "-c", "echo in $(hostname); exit 4", check=False)
    assert p.returncode == 4
    assert p.stdout == f"in {cid[:12]}\n"
    # stop: sh as pid 1 ignores SIGTERM, so SIGKILL after the grace period
    t0 = time.monotonic()
    assert phusk("stop", "-t", "1", "life").stdout.strip() == "life"
    assert 0.9 < time.monotonic() - t0 < 8
    rows = phusk.ps("-a")
    assert rows[0]["State"] == "exited" and rows[0]["ExitCode"] == 137
    assert phusk.ps() == []
    doc = phusk.inspect("life")
    assert doc["State"]["Status"] == "exited"
    assert doc["State"]["FinishedAt"]
    # the exited container holds no mount, state or cgroup any more
    assert not os.path.ismount(doc["GraphDriver"]["Data"]["MergedDir"])
    assert not (phusk.state_root / cid).exists()
    assert host.cgroup_dirs_named(cid) == []
    # its log stays readable until rm
    assert "tick 2" in phusk("logs", "life").stdout
    assert phusk("rm", "life").stdout.strip() == "life"
    assert phusk.ps("-a") == []
    assert phusk.leftovers() == []


def test_stop_with_sigterm_handler_exits_cleanly(phusk):
    cid = phusk.run_d("busybox", "sh", "-c",
                      "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done")
    phusk.wait_log(cid, "ready")
    t0 = time.monotonic()
    phusk("stop", cid)
    assert time.monotonic() - t0 < 5
    assert phusk.inspect(cid)["State"]["ExitCode"] == 0
    assert "got TERM" in phusk("logs", cid).stdout
    phusk("rm", cid)


def test_stop_signal_flag(phusk):
    cid = phusk.run_d("--stop-signal", "USR2", "busybox", "sh", "-c",
                      "trap 'exit 12' USR2; echo ready; while :; do sleep 0.05; done")
    phusk.wait_log(cid, "ready")
    phusk("stop", cid)
    assert phusk.inspect(cid)["State"]["ExitCode"] == 12
    phusk("rm", cid)


def test_stop_of_a_stopped_container_is_fine(phusk):
    phusk("run", "--name", "done", "busybox", "true")
    assert phusk("stop", "done").returncode == 0
    phusk("rm", "done")


def test_kill_sends_the_signal(phusk):
    cid = phusk.run_d("busybox", "sh", "-c",
                      "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done")
    phusk.wait_log(cid, "ready")
    phusk("kill", "-s", "USR1", cid)
    phusk.wait_log(cid, "got USR1")
    assert phusk.status(cid) == "running"
    phusk("kill", cid)  # KILL by default
    phusk.wait_status(cid, "exited")
    assert phusk.inspect(cid)["State"]["ExitCode"] == 137
    p = phusk("kill", cid, check=False)
    assert p.returncode == 1 and "not running" in p.stderr
    p = phusk("kill", "-s", "NOPE", cid, check=False)
    assert p.returncode != 0 and "NOPE" in p.stderr
    phusk("rm", cid)


def test_exit_code_of_a_detached_container_is_recorded(phusk):
    cid = phusk.run_d("busybox", "sh", "-c", "echo bye; exit 23")
    phusk.wait_status(cid, "exited")
    doc = phusk.inspect(cid)
    assert doc["State"]["ExitCode"] == 23
    assert phusk("logs", cid).stdout == "bye\n"
    assert "Exited (23)" in phusk.ps("-a")[0]["Status"]
    phusk("rm", cid)


def test_detached_rm_removes_the_container_on_exit(phusk):
    cid = phusk.run_d("--rm", "busybox", "sh", "-c", "sleep 0.3")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and phusk.container_dirs():
        time.sleep(0.05)
    assert phusk.container_dirs() == []
    assert phusk.names() == []
    assert not (phusk.state_root / cid).exists()


def test_logs_follow_streams_until_exit(phusk):
    cid = phusk.run_d("busybox", "sh", "-c",
                      "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; echo end")
    t0 = time.monotonic()
    p = phusk("logs", "-f", cid, timeout=20)
    assert time.monotonic() - t0 < 15
    assert p.stdout == "line 1\nline 2\nline 3\nline 4\nline 5\nend\n"
    phusk("rm", cid)


def test_logs_tail(phusk):
    cid = phusk.run_d("busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo $i; done")
    phusk.wait_status(cid, "exited")
    assert phusk("logs", "--tail", "2", cid).stdout == "4\n5\n"
    assert phusk("logs", "-n", "0", cid).stdout == ""
    assert phusk("logs", "--tail", "50", cid).stdout == "1\n2\n3\n4\n5\n"
    phusk("rm", cid)


def test_logs_keep_stderr_too(phusk):
    cid = phusk.run_d("busybox", "sh", "-c", "echo out; echo err >&2")
    phusk.wait_status(cid, "exited")
    out = phusk("logs", cid).stdout
    assert "out\n" in out and "err\n" in out
    phusk("rm", cid)


def test_monitor_is_the_parent_of_the_container(phusk):
    cid = phusk.run_d("busybox", "sleep", "30")
    pid = phusk.inspect(cid)["State"]["Pid"]
    assert pid > 0
    with open(f"/proc/{pid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert comm(ppid) == "husk:monitor"
    # daemonless: the monitor is in a session of its own, not our child
    assert os.getsid(ppid) == ppid
    phusk("rm", "-f", cid)
    assert not host.pid_alive(ppid)


def test_killing_the_monitor_does_not_lose_the_container(phusk):
    cid = phusk.run_d("busybox", "sleep", "30")
    pid = phusk.inspect(cid)["State"]["Pid"]
    with open(f"/proc/{pid}/stat") as f:
        mon = int(f.read().rsplit(")", 1)[1].split()[1])
    os.kill(mon, 9)
    assert host.wait_pid_gone(mon)
    assert phusk.status(cid) == "running"
    phusk("stop", "-t", "0", cid)
    assert phusk.status(cid) == "exited"
    phusk("rm", cid)


def test_exec_flags(phusk, tmp_path):
    cid = phusk.run_d("-e", "FROM_RUN=1", "busybox", "sleep", "30")
    p = phusk("exec", "-e", "X=2", "-w", "/tmp", "-u", "1000:1001", cid, "sh", "-c",
              "echo $FROM_RUN $X $(pwd) $(id -u) $(id -g)")
    assert p.stdout.strip() == "1 2 /tmp 1000 1001"
    p = phusk("exec", "-i", cid, "cat", input="via stdin\n")
    assert p.stdout == "via stdin\n"
    p = phusk("exec", cid, "cat", input="not without -i\n")
    assert p.stdout == ""
    p = phusk("exec", cid, "no-such-binary", check=False)
    assert p.returncode == 127
    # exec joins the container's namespaces: same pid namespace, pid 1 is sleep
    p = phusk("exec", cid, "cat", "/proc/1/cmdline")
    assert p.stdout.startswith("sleep")
    phusk("rm", "-f", cid)


def test_exec_detached(phusk):
    cid = phusk.run_d("busybox", "sleep", "30")
    phusk("exec", "-d", cid, "sh", "-c", "sleep 0.2; touch /from-exec")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if phusk("exec", cid, "test", "-e", "/from-exec", check=False).returncode == 0:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the detached exec did not run")
    phusk("rm", "-f", cid)


def test_exec_in_a_stopped_container_fails(phusk):
    phusk("run", "--name", "stopped", "busybox", "true")
    p = phusk("exec", "stopped", "true", check=False)
    assert p.returncode != 0
    assert "not running" in p.stderr
    phusk("rm", "stopped")


def test_rm_of_a_running_container_needs_force(phusk):
    cid = phusk.run_d("--name", "busy", "busybox", "sleep", "30")
    p = phusk("rm", "busy", check=False)
    assert p.returncode == 1
    assert "busy" in p.stderr and "rm -f" in p.stderr
    assert phusk.status("busy") == "running"
    pid = phusk.inspect("busy")["State"]["Pid"]
    phusk("rm", "-f", "busy")
    assert not host.pid_alive(pid)
    assert phusk.container_dirs() == []
    assert host.cgroup_dirs_named(cid) == []


def test_rm_several_and_unknown(phusk):
    phusk("run", "--name", "one", "busybox", "true")
    phusk("run", "--name", "two", "busybox", "true")
    p = phusk("rm", "one", "nonexistent", "two", check=False)
    assert p.returncode == 1
    assert p.stdout.split() == ["one", "two"]
    assert "no such container: nonexistent" in p.stderr
    assert phusk.container_dirs() == []


def test_containers_are_found_by_name_id_and_prefix(phusk):
    cid = phusk.run_d("--name", "findme", "busybox", "sleep", "30")
    for ref in ("findme", cid, cid[:12], cid[:5]):
        assert phusk.inspect(ref)["Id"] == cid
    p = phusk("inspect", "nothing-like-this", check=False)
    assert p.returncode == 1 and "no such container" in p.stderr
    phusk("rm", "-f", cid[:8])


def test_generated_names_are_unique(phusk):
    names = set()
    for _ in range(5):
        phusk("run", "busybox", "true")
    for r in phusk.ps("-a"):
        assert re.fullmatch(r"[a-z]+_[a-z]+[0-9]*", r["Names"]), r["Names"]
        names.add(r["Names"])
    assert len(names) == 5
    phusk("rm", *names)


def test_ps_all_quiet_and_json(phusk):
    a = phusk.run_d("--name", "running1", "busybox", "sleep", "30")
    phusk("run", "--name", "exited1", "busybox", "sh", "-c", "exit 2", check=False)
    assert [r["Names"] for r in phusk.ps()] == ["running1"]
    assert [r["Names"] for r in phusk.ps("-a")] == ["exited1", "running1"]  # newest first
    quiet = phusk("ps", "-a", "-q").stdout.split()
    assert len(quiet) == 2 and a[:12] in quiet
    full = phusk("ps", "-a", "-q", "--no-trunc").stdout.split()
    assert a in full
    for r in phusk.ps("-a"):
        json.dumps(r)
        assert set(r) >= {"ID", "Names", "Image", "Command", "CreatedAt", "State", "Status"}
    phusk("rm", "-f", "running1", "exited1")


def test_inspect_format_and_fields(phusk):
    cid = phusk.run_d("--name", "ins", "-m", "64m", "busybox", "sleep", "30")
    doc = phusk.inspect("ins")
    assert doc["Id"] == cid and doc["Name"] == "ins"
    assert doc["State"]["Running"] is True and doc["State"]["Pid"] > 0
    assert doc["Config"]["Cmd"] == ["sleep", "30"]
    assert doc["HostConfig"]["Memory"] == 64 << 20
    assert doc["LogPath"].endswith("/ctr.log")
    assert phusk("inspect", "-f", "{{.State.Status}}/{{.Name}}", "ins").stdout == "running/ins\n"
    assert phusk("inspect", "-f", "{{json .Config.Cmd}}", "ins").stdout == '["sleep","30"]\n'
    assert cgroup_v1_file(cid, "memory", "memory.limit_in_bytes") in (str(64 << 20), None)
    phusk("rm", "-f", "ins")


def test_container_dies_on_its_own_and_ps_notices(phusk):
    cid = phusk.run_d("busybox", "sleep", "0.2")
    phusk.wait_status(cid, "exited")
    assert phusk.ps() == []
    assert phusk.ps("-a")[0]["ExitCode"] == 0
    phusk("rm", cid)


def test_foreground_container_is_visible_while_it_runs(phusk):
    proc = subprocess.Popen(phusk.cmd("run", "--name", "fg", "busybox", "sleep", "30"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = phusk.ps()
            if rows and rows[0]["State"] == "running":
                break
            time.sleep(0.05)
        assert phusk.ps()[0]["Names"] == "fg"
        assert "ran in the foreground" in phusk("logs", "fg").stderr
        phusk("stop", "-t", "1", "fg")
        assert proc.wait(timeout=10) == 137
        assert phusk.status("fg") == "exited"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    phusk("rm", "fg")


def test_signals_to_a_foreground_run_reach_the_container(phusk):
    proc = subprocess.Popen(
        phusk.cmd("run", "--rm", "busybox", "sh", "-c",
                  "trap 'echo got INT; exit 5' INT; echo ready; while :; do sleep 0.05; done"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=10)
        assert out == "got INT\n"
        assert proc.returncode == 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert phusk.container_dirs() == []


def test_a_killed_husk_run_leaves_a_container_rm_can_clean(phusk):
    # husk run itself dies (SIGKILL): the container goes on, orphaned; ps, stop
    # and rm -f still manage it and leave nothing behind
    proc = subprocess.Popen(phusk.cmd("run", "--name", "orphan", "busybox", "sleep", "30"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = phusk.ps()
        if rows and rows[0]["State"] == "running":
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert phusk.status("orphan") == "running"
    phusk("stop", "-t", "0", "orphan")
    assert phusk.status("orphan") == "exited"
    doc = phusk.inspect("orphan")
    assert not os.path.ismount(doc["GraphDriver"]["Data"]["MergedDir"])
    phusk("rm", "orphan")
    assert phusk.leftovers() == []


def test_rm_f_of_an_orphaned_running_container(phusk):
    proc = subprocess.Popen(phusk.cmd("run", "--name", "orphan2", "busybox", "sleep", "30"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = phusk.ps()
        if rows and rows[0]["State"] == "running":
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    pid = phusk.inspect("orphan2")["State"]["Pid"]
    phusk("rm", "-f", "orphan2")
    assert not host.pid_alive(pid)
    assert phusk.leftovers() == []


def test_stop_of_a_detached_rm_container_removes_it(phusk):
    cid = phusk.run_d("--rm", "--name", "tmpbox", "busybox", "sleep", "30")
    assert phusk("stop", "-t", "0", "tmpbox").stdout.strip() == "tmpbox"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and phusk.container_dirs():
        time.sleep(0.05)
    assert phusk.container_dirs() == []
    assert host.cgroup_dirs_named(cid) == []


def test_detached_start_failure_is_reported_and_leaves_nothing(phusk):
    t0 = time.monotonic()
    p = phusk("run", "-d", "--name", "broken", "busybox", "no-such-command", check=False)
    assert time.monotonic() - t0 < 3
    assert p.returncode == 127
    assert p.stdout == ""
    assert "no-such-command" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert phusk.container_dirs() == []
    assert phusk.names() == []
    assert phusk.leftovers() == []
