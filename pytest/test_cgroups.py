"""Resource control through cgroups (issue 3), on whatever layout the host has
(v1, v2 or hybrid): limits are enforced, visible inside the container, can be
updated, paused and resumed, reported as stats, and nothing is left behind.

Every test is named test_cgroups_* so `pytest -k cgroups` selects them all.
Runs against $HUSK_OCI too (e.g. runc) to check the tests themselves; the
husk-only command `stats` is skipped there."""

import json
import os
import re
import subprocess
import time

import pytest

from husktest import host
from husktest.asserts import assert_clean_failure, assert_ok, wait_for_path

CG = "/sys/fs/cgroup"
MiB = 1024 * 1024


def _fstype(path):
    p = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return p.stdout.strip()


def host_layout():
    if _fstype(CG) == "cgroup2fs":
        return "v2"
    if os.path.isdir(f"{CG}/unified") and _fstype(f"{CG}/unified") == "cgroup2fs":
        return "hybrid"
    return "v1"


LAYOUT = host_layout() if os.path.isdir(CG) else None


@pytest.fixture(autouse=True)
def _need_cgroups():
    if LAYOUT is None:
        pytest.skip("no cgroup filesystem at /sys/fs/cgroup")


def cgroup_dirs(pid):
    """{controller or "unified": host directory} of a process, from
    /proc/PID/cgroup as the host sees it."""
    dirs = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls == "":
                if LAYOUT == "v2":
                    dirs["unified"] = CG + path
                elif LAYOUT == "hybrid":
                    dirs["unified"] = f"{CG}/unified{path}"
                continue
            names = [n.replace("name=", "") for n in ctrls.split(",")]
            hier = f"{CG}/{','.join(names)}"
            if not os.path.isdir(hier):
                hier = f"{CG}/{names[0]}"
            for n in names:
                dirs[n] = hier.rstrip("/") + path
    return dirs


def limit_path(dirs, ctrl, v1_file, v2_file):
    if LAYOUT == "v2":
        return os.path.join(dirs["unified"], v2_file)
    return os.path.join(dirs[ctrl], v1_file)


def read(path):
    with open(path) as f:
        return f.read().strip()


def keyed(path, key):
    for line in read(path).splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return None


def start(oci, bundle, args, resources=None, tag="c", extra_linux=None, cid=None):
    """create + start a container running args; returns (id, pid, cgroup dirs)."""
    bundle.set_args(*args)
    if resources is not None:
        bundle.linux["resources"] = resources
    if extra_linux:
        bundle.linux.update(extra_linux)
    cid = cid or oci.new_id(tag)
    oci.create(bundle, cid)
    oci.start(cid)
    pid = oci.state(cid)["pid"]
    return cid, pid, cgroup_dirs(pid)


def stats(oci, cid):
    res = oci("events", "--stats", cid)
    assert_ok(res, "events --stats")
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, f"events --stats printed {len(lines)} lines:\n{res.describe()}"
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid, ev
    return ev["data"]


def cpu_ns(oci, cid):
    return int(stats(oci, cid)["cpu"]["usage"]["total"])


# ---------------------------------------------------------------------------
# limits are enforced


def test_cgroups_memory_hog_is_oom_killed_137(oci, make_bundle):
    """A process allocating without end under a 32 MiB limit (no swap) is killed
    by the cgroup's OOM killer: exit 137, counted in the container's memory
    cgroup (not a host-wide OOM), and the host goes on."""
    limits = {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        b = make_bundle()
        b.set_args("tail", "/dev/zero")
        b.linux["resources"] = limits
        t0 = time.monotonic()
        res = oci.run(b, timeout=60)
        assert res.returncode == 137, f"memory hog not OOM-killed:\n{res.describe()}"
        assert time.monotonic() - t0 < 30

        # the same hog, watched: the kill is the memory cgroup's own
        b2 = make_bundle()
        b2.set_args("tail", "/dev/zero")
        b2.linux["resources"] = limits
        cid = oci.new_id("oom")
        oci.create(b2, cid)
        # its cgroup while the init waits for start (once started it may be
        # killed before anyone could look)
        dirs = cgroup_dirs(oci.state(cid)["pid"])
        oci.start(cid)
        oci.wait_status(cid, "stopped", timeout=30)
        if LAYOUT == "v2":
            kills = keyed(os.path.join(dirs["unified"], "memory.events"), "oom_kill")
        else:
            kills = keyed(os.path.join(dirs["memory"], "memory.oom_control"), "oom_kill")
        assert kills and kills >= 1, f"no OOM kill recorded in the container's cgroup {dirs}"
        assert_ok(oci.delete(cid, check=False))
        assert bystander.poll() is None, "a host process died with the container"
    finally:
        bystander.kill()
        bystander.wait()


def test_cgroups_fork_bomb_stops_at_pids_limit(oci, bundle):
    limit = 16
    cid, pid, dirs = start(oci, bundle, ["sleep", "1000"], {"pids": {"limit": limit}}, "forkbomb")
    # busybox sh gives up at the first refused fork; its children stay
    bomb = "while :; do sleep 100 </dev/null >/dev/null 2>&1 & done"
    res = oci("exec", cid, "sh", "-c", bomb, timeout=60)
    assert not res.timed_out, f"the fork bomb was not stopped:\n{res.describe()}"
    pids_dir = dirs["unified"] if LAYOUT == "v2" else dirs["pids"]
    # the bomb filled the cgroup up to the limit, then its shell gave up
    current = int(read(os.path.join(pids_dir, "pids.current")))
    assert limit - 1 <= current <= limit, f"pids.current {current}, limit {limit}"
    assert read(os.path.join(pids_dir, "pids.max")) == str(limit)
    refused = keyed(os.path.join(pids_dir, "pids.events"), "max")
    assert refused and refused > 0, "no fork was refused at the limit"
    assert int(stats(oci, cid)["pids"]["current"]) == current
    # the host can still fork
    assert subprocess.run(["true"]).returncode == 0
    # delete kills every one of them
    assert_ok(oci.delete(cid, force=True, check=False), "delete --force a fork bomb")
    for d in dirs.values():
        assert not os.path.exists(d), f"cgroup {d} left after delete"


def test_cgroups_cpu_quota_limits_usage_to_20_percent(oci, bundle):
    cid, pid, dirs = start(
        oci, bundle, ["sh", "-c", "while :; do :; done"],
        {"cpu": {"quota": 20000, "period": 100000}}, "cpuquota",
    )  # fmt: skip
    time.sleep(0.3)
    u0, t0 = cpu_ns(oci, cid), time.monotonic()
    time.sleep(3)
    u1, t1 = cpu_ns(oci, cid), time.monotonic()
    share = (u1 - u0) / 1e9 / (t1 - t0)
    assert 0.12 <= share <= 0.26, f"CPU use {share:.1%} of a core, expected about 20%"
    # the host's view of the same cgroup agrees
    q = limit_path(dirs, "cpu", "cpu.cfs_quota_us", "cpu.max")
    assert read(q).split()[0] == "20000"
    oci.delete(cid, force=True)


def test_cgroups_cpuset_pins_the_process(oci, bundle):
    online = read("/sys/devices/system/cpu/online")
    cpus = []
    for part in online.split(","):
        a, _, b = part.partition("-")
        cpus += list(range(int(a), int(b or a) + 1))
    if len(cpus) < 2:
        pytest.skip("needs two online CPUs to tell pinning apart")
    want = cpus[-1]
    bundle.set_args("sh", "-c", "grep Cpus_allowed_list /proc/self/status")
    bundle.linux["resources"] = {"cpu": {"cpus": str(want)}}
    res = oci.run(bundle)
    assert_ok(res, "run with cpuset")
    m = re.search(r"Cpus_allowed_list:\s*(\S+)", res.stdout)
    assert m and m.group(1) == str(want), f"affinity {m and m.group(1)}, want {want}"


def _try_loop_control(oci, bundle, devices):
    """Make a /dev/loop-control node (10:237, not among the default devices
    of husk or runc) inside the container and try to open it."""
    bundle.set_args("sh", "-c", "mknod /tmp/lc c 10 237 && exec /bin/probe try open-write /tmp/lc")
    for caps in bundle.process["capabilities"].values():
        caps.append("CAP_MKNOD")
    bundle.linux["resources"] = {"devices": devices}
    res = oci.run(bundle)
    lines = res.json_lines()
    assert lines, f"no probe report:\n{res.describe()}"
    return lines[-1]["result"]


def test_cgroups_device_rules_are_enforced(oci, make_bundle):
    deny_all = [{"allow": False, "access": "rwm"}]
    # the default spec's deny-all: refused, /dev/null (a default device) fine
    assert _try_loop_control(oci, make_bundle(), deny_all) == "EPERM"
    b = make_bundle()
    b.set_args("sh", "-c", "echo x > /dev/null && head -c 1 /dev/zero >/dev/null && echo ok")
    b.linux["resources"] = {"devices": deny_all}
    res = oci.run(b)
    assert_ok(res, "default devices under deny-all")
    assert "ok" in res.stdout
    # an allow rule for it: the device cgroup lets it through
    allow = deny_all + [{"allow": True, "type": "c", "major": 10, "minor": 237, "access": "rw"}]
    assert _try_loop_control(oci, make_bundle(), allow) != "EPERM"


# ---------------------------------------------------------------------------
# update, pause, resume, stats


def test_cgroups_update_changes_a_running_containers_limits(oci, bundle):
    cid, pid, dirs = start(
        oci, bundle, ["sleep", "1000"], {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}},
        "update",
    )  # fmt: skip
    mem = limit_path(dirs, "memory", "memory.limit_in_bytes", "memory.max")
    pids = limit_path(dirs, "pids", "pids.max", "pids.max")
    assert int(read(mem)) == 64 * MiB

    assert_ok(oci("update", "--memory", "128m", cid), "update --memory 128m")
    assert int(read(mem)) == 128 * MiB
    assert_ok(oci("update", "--memory=96m", "--pids-limit=50", cid), "update --flag=value")
    assert int(read(mem)) == 96 * MiB and read(pids) == "50"
    res = oci("update", "--resources", "-", cid, input=json.dumps({"memory": {"limit": 80 * MiB}}))
    assert_ok(res, "update --resources -")
    assert int(read(mem)) == 80 * MiB

    # a bad value is refused with the reason, and changes nothing
    res = oci("update", "--cpuset-cpus", "0-999", cid)
    assert res.returncode != 0 and re.search(r"cpus", res.stderr), res.describe()
    assert int(read(mem)) == 80 * MiB
    assert oci.status(cid) == "running"
    assert host.pid_alive(pid)
    oci.delete(cid, force=True)


def test_cgroups_pause_freezes_and_resume_thaws(oci, bundle):
    cid, pid, dirs = start(oci, bundle, ["sh", "-c", "while :; do :; done"], None, "pause")
    time.sleep(0.2)
    assert_ok(oci("pause", cid), "pause")
    assert oci.status(cid) == "paused"
    if "freezer" in dirs:
        assert read(os.path.join(dirs["freezer"], "freezer.state")) == "FROZEN"
    else:
        assert keyed(os.path.join(dirs["unified"], "cgroup.events"), "frozen") == 1
    u0 = cpu_ns(oci, cid)
    time.sleep(0.5)
    frozen_ns = cpu_ns(oci, cid) - u0
    assert frozen_ns < 20_000_000, f"a paused container used {frozen_ns / 1e6:.1f} ms of CPU"
    res = oci("pause", cid)
    assert res.returncode != 0, "pausing a paused container succeeded"

    assert_ok(oci("resume", cid), "resume")
    assert oci.status(cid) == "running"
    u0 = cpu_ns(oci, cid)
    time.sleep(0.5)
    assert cpu_ns(oci, cid) - u0 > 100_000_000, "the container does not run after resume"
    res = oci("resume", cid)
    assert res.returncode != 0, "resuming a running container succeeded"
    oci.delete(cid, force=True)


def test_cgroups_events_stats_reports_usage(oci, bundle):
    cid, pid, dirs = start(oci, bundle, ["sleep", "1000"], {"memory": {"limit": 64 * MiB}},
                           "events")  # fmt: skip
    data = stats(oci, cid)
    assert int(data["memory"]["usage"]["usage"]) > 0, data["memory"]
    assert int(data["memory"]["usage"]["limit"]) == 64 * MiB, data["memory"]
    assert int(data["pids"]["current"]) >= 1, data["pids"]
    assert int(data["cpu"]["usage"]["total"]) > 0, data["cpu"]

    # without --stats: a line per interval until the container stops
    p = oci.popen("events", "--interval", "200ms", cid)
    lines = [p.stdout.readline(), p.stdout.readline()]
    for ln in lines:
        ev = json.loads(ln)
        assert ev["type"] == "stats" and ev["id"] == cid, ev
    oci.kill(cid, "KILL")
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        if not oci.is_runc:  # runc's events keeps running
            pytest.fail("events did not end when the container stopped")
    oci.delete(cid, force=True)


def test_cgroups_stats_command(oci, bundle):
    if oci.is_runc:
        pytest.skip("`stats` is a husk command")
    cid, pid, dirs = start(oci, bundle, ["sleep", "1000"], {"pids": {"limit": 30}}, "stats")
    res = oci("stats", cid)
    assert_ok(res, "stats")
    doc = res.json()
    assert doc["type"] == "stats" and doc["id"] == cid
    assert int(doc["data"]["pids"]["limit"]) == 30
    oci.delete(cid, force=True)


# ---------------------------------------------------------------------------
# the container's view, paths, cleanup, errors


@pytest.mark.parametrize("cgroupns", [True, False], ids=["cgroupns", "no-cgroupns"])
def test_cgroups_container_sees_its_own_limits(oci, bundle, cgroupns):
    if LAYOUT == "v2":
        files = {"memory": "memory.max", "pids": "pids.max", "cpu": "cpu.max"}
    else:
        files = {
            "memory": "memory/memory.limit_in_bytes",
            "pids": "pids/pids.max",
            "cpu": "cpu/cpu.cfs_quota_us",
        }
    script = "; ".join(f"echo {k}=$(cat /sys/fs/cgroup/{v})" for k, v in files.items())
    script += "; cat /proc/self/cgroup; touch /sys/fs/cgroup/x 2>/dev/null && echo writable"
    if LAYOUT == "hybrid":
        script += "; test -f /sys/fs/cgroup/unified/cgroup.procs && echo unified-ok"
    script += "; true"
    bundle.set_args("sh", "-c", script)
    bundle.config["mounts"].append(
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        }
    )
    if not cgroupns:
        bundle.remove_namespace("cgroup")
    bundle.linux["resources"] = {
        "memory": {"limit": 48 * MiB},
        "pids": {"limit": 33},
        "cpu": {"quota": 50000, "period": 100000},
    }
    res = oci.run(bundle)
    assert_ok(res, "run with a cgroup mount")
    out = res.stdout
    assert f"memory={48 * MiB}" in out, out
    assert "pids=33" in out, out
    assert re.search(r"cpu=50000( 100000)?\b", out), out
    assert "writable" not in out, "the ro cgroup mount is writable"
    if LAYOUT == "hybrid" and not oci.is_runc:  # husk also shows the unified part
        assert "unified-ok" in out, out
    if cgroupns:
        paths = [ln.split(":", 2)[2] for ln in out.splitlines() if re.match(r"^\d+:", ln)]
        assert paths and all(p == "/" for p in paths), f"cgroup namespace not rooted: {paths}"


def test_cgroups_default_and_custom_paths(oci, make_bundle):
    b = make_bundle()
    cid, pid, dirs = start(oci, b, ["sleep", "1000"], {"pids": {"limit": 10}}, "path")
    if not oci.is_runc:
        assert all(d.endswith(f"/husk/{cid}") for d in dirs.values()), dirs
    oci.delete(cid, force=True)

    parent = f"husktest-parent-{os.getpid()}"
    b2 = make_bundle()
    cid2 = oci.new_id("custom")
    try:
        cid2, pid2, dirs2 = start(oci, b2, ["sleep", "1000"], None, "custom",
                                  {"cgroupsPath": f"/{parent}/{cid2}"}, cid=cid2)  # fmt: skip
        assert all(d.endswith(f"/{parent}/{cid2}") for d in dirs2.values()), dirs2
        assert_ok(oci.delete(cid2, force=True, check=False))
        for d in dirs2.values():
            assert not os.path.exists(d), f"{d} left after delete"
    finally:
        for d in host.cgroup_dirs_named(parent):
            host.remove_cgroup_tree(d)


def test_cgroups_nothing_left_after_delete(oci, make_bundle):
    resources = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 64}, "cpu": {"shares": 512}}
    cid, pid, dirs = start(oci, make_bundle(), ["sleep", "1000"], resources, "left")
    assert len(dirs) >= 1
    for d in dirs.values():
        assert os.path.isdir(d), f"the container is not in cgroup {d}"
        assert d.rstrip("/") != CG and not d.endswith(":"), f"container in a root cgroup: {d}"
    assert_ok(oci.delete(cid, force=True, check=False))
    for d in dirs.values():
        assert not os.path.exists(d), f"cgroup {d} left after delete"
    assert host.cgroup_dirs_named(cid) == []

    # a container that exits by itself and is deleted
    b = make_bundle()
    b.set_args("true")
    b.linux["resources"] = resources
    res = oci.run(b)
    assert_ok(res, "run true")
    assert host.cgroup_dirs_named(res.cid) == []


INVALID = [
    ({"memory": {"limit": -5}}, r"memory\.limit"),
    ({"cpu": {"cpus": "0-999"}}, r"cpus.*(not online|invalid|out of range)|cpuset"),
    ({"pids": {"limit": "ten"}}, r"pids"),
    ({"cpu": {"quota": 10}}, r"quota"),
]


@pytest.mark.parametrize("resources,mention", INVALID, ids=["memory", "cpuset", "pids", "quota"])
def test_cgroups_invalid_value_is_a_clear_error_and_leaves_no_cgroup(oci, bundle, resources,
                                                                     mention):  # fmt: skip
    bundle.linux["resources"] = resources
    cid = oci.new_id("invalid")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, mention)
    assert host.cgroup_dirs_named(cid) == []


def test_cgroups_missing_controller_is_named(oci, bundle):
    """A limit on a controller this host does not have (net_cls here) is an
    error that names it; nothing is left."""
    if oci.is_runc:
        pytest.skip("runc skips limits of missing controllers silently")
    if LAYOUT != "v2" and os.path.isdir(f"{CG}/net_cls"):
        pytest.skip("this host has the net_cls controller")
    bundle.linux["resources"] = {"network": {"classID": 1048577}}
    cid = oci.new_id("nocontroller")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, r"network.*(net_cls|cgroup v2)")
    assert host.cgroup_dirs_named(cid) == []


def test_cgroups_plain_v1_mode_kills_everything_on_delete(oci, bundle, monkeypatch):
    """HUSK_CGROUP_LAYOUT=v1 makes husk ignore the unified mount of a hybrid
    host: the pure-v1 code paths (no CLONE_INTO_CGROUP, no cgroup.kill: delete
    freezes, kills and thaws) run for real."""
    if oci.is_runc:
        pytest.skip("husk's layout override")
    if LAYOUT != "hybrid":
        pytest.skip("needs a hybrid host to run the v1 paths alongside the v2 ones")
    monkeypatch.setenv("HUSK_CGROUP_LAYOUT", "v1")
    cid, pid, dirs = start(oci, bundle, ["sleep", "1000"], {"pids": {"limit": 12}}, "v1mode")
    assert not os.path.exists(f"{CG}/unified/husk/{cid}"), "the unified part was used"
    res = oci("exec", cid, "sh", "-c", "for i in 1 2 3 4 5; do sleep 300 </dev/null >/dev/null "
              "2>&1 & done")  # fmt: skip
    assert_ok(res, "exec background sleeps")
    procs = [int(p) for p in read(os.path.join(dirs["pids"], "cgroup.procs")).split()]
    assert len(procs) == 6, procs
    starts = {p: host.pid_start_time(p) for p in procs}
    assert_ok(oci("pause", cid), "pause (v1 freezer)")
    assert oci.status(cid) == "paused"
    # delete --force of a paused container: frozen processes die too
    assert_ok(oci.delete(cid, force=True, check=False), "delete --force")
    for p, st in starts.items():
        assert host.wait_pid_gone(p, st, timeout=5), f"process {p} survived delete"
    assert dirs["unified"] == f"{CG}/unified/", "v1 mode joined a unified cgroup"
    for ctrl, d in dirs.items():
        if ctrl != "unified":
            assert not os.path.exists(d), f"cgroup {d} left after delete"
