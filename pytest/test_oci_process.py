"""The process settings of the spec: env, cwd, user, capabilities,
noNewPrivileges, rlimits, seccomp; user and network namespaces."""

import errno
import json
import os
import socket
import subprocess
import time

import pytest

from husktest.asserts import assert_ok, wait_for_path
from husktest.spec import PATH_ENV, cap_mask, cap_names, seccomp_arches


def _caps(report, which):
    return int(report["caps"][which], 16)


def test_env_cwd_user(oci, bundle):
    p = bundle.process
    p["env"] = [PATH_ENV, "HUSK_TEST=hello world", "EMPTY="]
    p["cwd"] = "/home/tester"
    p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 2000], "umask": 0o027}
    r = oci.run_probe(bundle)
    assert (r["uid"], r["euid"], r["suid"]) == (1000, 1000, 1000), r
    assert (r["gid"], r["egid"], r["sgid"]) == (1000, 1000, 1000), r
    assert {10, 2000} <= set(r["groups"]) <= {10, 2000, 1000}, f"groups: {r['groups']}"
    assert r["umask"] == 0o027, oct(r["umask"])
    assert r["cwd"] == "/home/tester"
    for e in p["env"]:
        assert e in r["env"], f"{e!r} missing from {r['env']}"
    leaked = [e for e in r["env"] if e.split("=", 1)[0] in ("PYTEST_CURRENT_TEST", "HUSK_BUILD", "HUSK_OCI")]
    assert not leaked, f"the runtime's environment leaked into the container: {leaked}"


def test_root_user_defaults(oci, bundle):
    r = oci.run_probe(bundle)
    assert (r["uid"], r["gid"]) == (0, 0)
    assert r["umask"] in (0o022, 0o002), oct(r["umask"])
    assert r["cwd"] == "/"


def test_missing_cwd_is_created_or_refused(oci, bundle):
    bundle.process["cwd"] = "/no/such/dir"
    res = oci.run(bundle)
    if res.returncode == 0:
        assert res.json()["cwd"] == "/no/such/dir"
    else:
        assert len(res.error_lines()) == 1, res.describe()


def test_capabilities_applied(oci, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bundle.process["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted", "inheritable")}
    bundle.process["capabilities"]["ambient"] = []
    bundle.set_args(
        "/bin/sh", "-c",
        "/bin/probe write /f x >/dev/null; /bin/probe try chown /f 1 1; /bin/probe try unshare-uts; "
        "/bin/probe try mknod /node; /bin/probe",
    )  # fmt: skip
    res = oci.run(bundle)
    assert_ok(res)
    chown, unshare, mknod, r = res.json_lines()
    want = cap_mask(caps)
    assert _caps(r, "bounding") == want, f"bounding: {cap_names(r['caps']['bounding'])}"
    assert _caps(r, "effective") == want, f"effective: {cap_names(r['caps']['effective'])}"
    assert _caps(r, "permitted") == want, f"permitted: {cap_names(r['caps']['permitted'])}"
    assert chown["result"] == "ok", "CAP_CHOWN granted but chown failed"
    assert unshare["result"] == "EPERM", "unshare worked without CAP_SYS_ADMIN"
    assert mknod["result"] == "EPERM", "mknod worked without CAP_MKNOD"


def test_capabilities_for_non_root_use_ambient(oci, bundle):
    bounding = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"]
    kept = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    bundle.process["capabilities"] = {
        "bounding": bounding,
        "permitted": kept,
        "effective": kept,
        "inheritable": kept,
        "ambient": kept,
    }
    r = oci.run_probe(bundle)
    assert _caps(r, "bounding") == cap_mask(bounding), cap_names(r["caps"]["bounding"])
    for which in ("effective", "permitted", "ambient"):
        assert _caps(r, which) == cap_mask(kept), f"{which}: {cap_names(r['caps'][which])}"
    assert _caps(r, "inheritable") == cap_mask(kept)


def test_no_capabilities_when_none_given(oci, bundle):
    bundle.process["capabilities"] = {k: [] for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    r = oci.run_probe(bundle)
    for which in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        assert _caps(r, which) == 0, f"{which}: {cap_names(r['caps'][which])}"


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(oci, bundle, nnp):
    bundle.process["noNewPrivileges"] = nnp
    r = oci.run_probe(bundle)
    assert r["no_new_privs"] == (1 if nnp else 0)


def test_rlimits_applied(oci, bundle):
    bundle.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
        {"type": "RLIMIT_CORE", "soft": 1024, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
    ]
    r = oci.run_probe(bundle)
    lim = r["rlimits"]
    assert lim["RLIMIT_NOFILE"] == {"soft": 256, "hard": 512}
    assert lim["RLIMIT_CORE"] == {"soft": 1024, "hard": 4096}
    assert lim["RLIMIT_NPROC"] == {"soft": 300, "hard": 400}


def test_seccomp_denies_syscall(oci, bundle):
    arches = seccomp_arches()
    if not arches:
        pytest.skip(f"no seccomp architecture list for {os.uname().machine}")
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": arches,
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV},
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": socket.AF_INET6, "op": "SCMP_CMP_EQ"}],
            },
        ],
    }
    bundle.set_args(
        "/bin/sh", "-c",
        f"/bin/probe try mkdir /tmp/d; /bin/probe try socket {int(socket.AF_INET6)} 2; "
        f"/bin/probe try socket {int(socket.AF_INET)} 2; /bin/probe",
    )  # fmt: skip
    res = oci.run(bundle)
    assert_ok(res)
    mkdir, sock6, sock4, r = res.json_lines()
    assert mkdir["result"] == "EXDEV", f"mkdir not denied with errnoRet: {mkdir}"
    assert sock6["result"] == "EPERM", f"socket(AF_INET6) not denied by the argument rule: {sock6}"
    assert sock4["result"] == "ok", f"socket(AF_INET) denied although the rule does not match: {sock4}"
    assert r["seccomp"] == 2, "process is not in seccomp filter mode"
    assert not (bundle.rootfs / "tmp" / "d").exists()


def test_seccomp_kill_action_kills_process(oci, bundle):
    arches = seccomp_arches()
    if not arches:
        pytest.skip(f"no seccomp architecture list for {os.uname().machine}")
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": arches,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}],
    }
    bundle.probe("try", "mkdir", "/tmp/denied")
    res = oci.run(bundle)
    assert res.returncode == 128 + 31, f"want death by SIGSYS (159):\n{res.describe()}"
    assert not (bundle.rootfs / "tmp" / "denied").exists()


def test_user_namespace_mapping(oci, bundle):
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            if int(f.read()) == 0:
                pytest.skip("user namespaces are disabled (user.max_user_namespaces=0)")
    except OSError:
        pytest.skip("no /proc/sys/user/max_user_namespaces: kernel without user namespaces")
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.probe("signal-wait", "--ready", "/tmp/ready")
    cid = oci.new_id("userns")
    oci.create(bundle, cid)
    oci.start(cid)
    assert wait_for_path(bundle.rootfs / "tmp" / "ready"), "container did not start"
    pid = oci.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    uid_line = next(ln for ln in status.splitlines() if ln.startswith("Uid:"))
    assert uid_line.split()[1:] == ["100000"] * 4, f"host sees {uid_line!r}"
    with open(f"/proc/{pid}/uid_map") as f:
        assert f.read().split() == ["0", "100000", "65536"]
    with open(f"/proc/{pid}/gid_map") as f:
        assert f.read().split() == ["0", "100000", "65536"]
    assert os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino

    res = oci("exec", cid, "/bin/probe")
    assert_ok(res, "exec into a user-namespace container")
    r = res.json()
    assert (r["uid"], r["gid"]) == (0, 0), "process is not root inside its user namespace"
    assert r["uid_map"].split() == ["0", "100000", "65536"]


def test_join_existing_netns_by_path(oci, bundle, netns):
    bundle.set_namespace("network", netns["path"])
    r = oci.run_probe(bundle)
    assert r["ns"]["net"] == os.stat(netns["path"]).st_ino, "container is not in the given netns"
    names = {i["name"]: i for i in r["net"]}
    assert "lo" in names and "UP" in names["lo"]["flags"], names
    if netns["veth"]:
        assert "hkveth0" in names, f"interfaces of the joined netns missing: {sorted(names)}"
    # the netns is still there and still ours after the container
    assert os.path.exists(netns["path"])


def test_new_netns_has_only_loopback(oci, bundle):
    r = oci.run_probe(bundle)
    names = [i["name"] for i in r["net"]]
    assert names == ["lo"], f"a new network namespace should hold only lo: {names}"


def test_time_namespace_offsets(oci, bundle):
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("kernel without time namespaces")
    day = 86400
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {
        "monotonic": {"secs": 10 * day, "nanosecs": 0},
        "boottime": {"secs": 20 * day, "nanosecs": 0},
    }
    r = oci.run_probe(bundle)
    host_mono = time.clock_gettime(time.CLOCK_MONOTONIC)
    host_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    assert r["ns"]["time"] != os.stat("/proc/self/ns/time").st_ino, "no new time namespace"
    assert abs(r["clocks"]["monotonic"] - (host_mono + 10 * day)) < 120, r["clocks"]
    assert abs(r["clocks"]["boottime"] - (host_boot + 20 * day)) < 120, r["clocks"]


def _fds(report):
    return {f["fd"]: f["target"] for f in report["fds"]}


def test_no_fds_leak_into_container_run(oci, bundle):
    r = oci.run_probe(bundle)
    assert sorted(_fds(r)) == [0, 1, 2], f"runtime fds leaked into the container: {_fds(r)}"


def test_no_fds_leak_into_container_create_start(oci, bundle):
    cid = oci.new_id("fds")
    oci.create(bundle, cid)
    oci.start(cid)
    oci.wait_status(cid, "stopped")
    out = (bundle.path / "stdout.log").read_text()
    fds = {f["fd"]: f["target"] for f in json.loads(out)["fds"]}
    assert sorted(fds) == [0, 1, 2], f"runtime fds leaked into the container: {fds}"


def test_preserve_fds_passes_extra_fds(oci, bundle, workdir):
    extra = workdir / "extra-fd"
    extra.write_text("x")
    cid = oci.new_id("preserve")
    oci.track(cid, bundle)
    bundle.write()
    # a shell gives the runtime fd 3 (pytest's own fd 3 is left alone)
    argv = ["sh", "-c", 'f=$1; shift; exec "$@" 3<"$f"', "sh", str(extra)]
    argv += oci.argv("run", "--preserve-fds", "1", "--bundle", bundle.path, cid)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    fds = _fds(json.loads(p.stdout))
    assert sorted(fds) == [0, 1, 2, 3], fds
    assert fds[3] == str(extra), fds
