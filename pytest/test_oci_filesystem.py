"""The container's filesystem: readonly root, masked and readonly paths, bind
mounts, default devices."""

import os

from husktest.asserts import assert_ok, mount_at, mount_options


def test_readonly_root_rejects_writes(oci, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.probe("--check", "/", "--check", "/etc/passwd", "--check", "/tmp", "--check", "/dev/shm")
    r = oci.run_probe(bundle)
    c = r["checks"]
    assert c["/"]["write"] == "EROFS", f"/ is writable: {c['/']}"
    assert c["/etc/passwd"]["write"] == "EROFS"
    assert c["/etc/passwd"]["read"] == "ok"
    assert c["/tmp"]["write"] == "EROFS"
    # mounts on top of the readonly root keep their own mode
    assert c["/dev/shm"]["write"] == "ok", "tmpfs on /dev/shm should stay writable"
    root = mount_at(r, "/")
    assert "ro" in root["options"].split(","), f"root mount not ro: {root}"
    assert not (bundle.rootfs / ".probe-write-1").exists()


def test_writable_root_accepts_writes(oci, bundle):
    bundle.probe("write", "/written-inside", "hello\n")
    res = oci.run(bundle)
    assert_ok(res, "write into a writable root")
    assert (bundle.rootfs / "written-inside").read_text() == "hello\n"


def test_masked_paths_hidden(oci, bundle):
    (bundle.rootfs / "secret-file").write_text("top secret\n")
    (bundle.rootfs / "secret-dir").mkdir()
    (bundle.rootfs / "secret-dir" / "inner").write_text("hidden\n")
    bundle.linux["maskedPaths"] += ["/secret-file", "/secret-dir", "/does-not-exist"]
    host_present = [p for p in bundle.linux["maskedPaths"] if p.startswith(("/proc", "/sys")) and os.path.exists(p)]
    checks = ["/secret-file", "/secret-dir"] + host_present
    args = []
    for p in checks:
        args += ["--check", p]
    r = oci.run_probe(bundle, *args)
    c = r["checks"]

    f = c["/secret-file"]
    assert f["read"] != "ok" or f.get("read_bytes") == 0, f"masked file readable: {f}"
    d = c["/secret-dir"]
    assert d.get("n_entries", 0) == 0, f"masked directory shows its content: {d}"
    assert d["write"] != "ok", "masked directory is writable"
    for p in host_present:
        e = c[p]
        if e.get("type") == "dir":
            assert e.get("n_entries", 0) == 0, f"{p} not masked: {e}"
        elif e.get("exists") and e.get("type") == "file":
            assert e["read"] != "ok" or e.get("read_bytes") == 0, f"{p} not masked: {e}"
    # the rootfs itself is untouched
    assert (bundle.rootfs / "secret-file").read_text() == "top secret\n"
    assert (bundle.rootfs / "secret-dir" / "inner").exists()
    assert not (bundle.rootfs / "does-not-exist").exists()


def test_readonly_paths_readonly(oci, bundle):
    (bundle.rootfs / "ro-dir").mkdir()
    (bundle.rootfs / "ro-dir" / "file").write_text("data\n")
    (bundle.rootfs / "rw-dir").mkdir()
    bundle.linux["readonlyPaths"] += ["/ro-dir"]
    r = oci.run_probe(
        bundle,
        "--check", "/ro-dir", "--check", "/ro-dir/file", "--check", "/rw-dir",
        "--check", "/proc/sys/kernel/domainname", "--check", "/proc/sysrq-trigger",
    )  # fmt: skip
    c = r["checks"]
    assert c["/ro-dir"]["write"] == "EROFS", c["/ro-dir"]
    assert c["/ro-dir"]["n_entries"] == 1, "readonly path lost its content"
    assert c["/ro-dir/file"]["read"] == "ok"
    assert c["/ro-dir/file"]["write"] == "EROFS"
    assert c["/rw-dir"]["write"] == "ok", "a sibling of a readonly path became readonly"
    assert c["/proc/sys/kernel/domainname"]["write"] == "EROFS"
    if c["/proc/sysrq-trigger"]["exists"]:
        assert c["/proc/sysrq-trigger"]["write"] in ("EROFS", "EACCES"), c["/proc/sysrq-trigger"]
    sysm = mount_at(r, "/proc/sys")
    assert sysm is not None and "ro" in sysm["options"].split(",")


def test_bind_mount_rw(oci, bundle, workdir):
    shared = workdir / "shared-rw"
    shared.mkdir()
    (shared / "from-host").write_text("host data\n")
    bundle.add_mount("/mnt/rw", "bind", shared, ["rbind", "rw"])
    bundle.set_args(
        "/bin/sh", "-c",
        "/bin/probe write /mnt/rw/from-container 'container data' && "
        "/bin/probe --check /mnt/rw --check /mnt/rw/from-host",
    )  # fmt: skip
    res = oci.run(bundle)
    assert_ok(res, "rw bind mount")
    r = res.json_lines()[-1]
    assert r["checks"]["/mnt/rw/from-host"]["read"] == "ok"
    assert r["checks"]["/mnt/rw"]["write"] == "ok"
    assert (shared / "from-container").read_text() == "container data"
    m = mount_at(r, "/mnt/rw")
    assert m is not None and "rw" in m["options"].split(","), f"bind mount: {m}"


def test_bind_mount_ro_rejects_write(oci, bundle, workdir):
    shared = workdir / "shared-ro"
    shared.mkdir()
    (shared / "from-host").write_text("host data\n")
    bundle.add_mount("/mnt/ro", "bind", shared, ["bind", "ro"])
    bundle.set_args(
        "/bin/sh", "-c",
        "/bin/probe write /mnt/ro/from-container x; "
        "/bin/probe --check /mnt/ro --check /mnt/ro/from-host",
    )  # fmt: skip
    res = oci.run(bundle)
    assert_ok(res, "ro bind mount")
    write, r = res.json_lines()[-2:]
    assert write["result"] == "EROFS", f"write into a ro bind mount: {write}"
    assert r["checks"]["/mnt/ro/from-host"]["read"] == "ok"
    assert sorted(os.listdir(shared)) == ["from-host"], "the ro bind mount changed the host dir"
    m = mount_at(r, "/mnt/ro")
    assert m is not None and "ro" in m["options"].split(","), f"bind mount: {m}"


def test_bind_mount_of_a_file(oci, bundle, workdir):
    src = workdir / "hosts-file"
    src.write_text("127.0.0.1 husk-test\n")
    bundle.add_mount("/etc/hosts", "bind", src, ["bind", "ro"])
    bundle.set_args("/bin/cat", "/etc/hosts")
    res = oci.run(bundle)
    assert_ok(res)
    assert res.stdout == "127.0.0.1 husk-test\n"


def test_tmpfs_mount_with_options(oci, bundle):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=1770", "size=1m"])
    r = oci.run_probe(bundle, "--check", "/scratch")
    m = mount_at(r, "/scratch")
    assert m is not None and m["fstype"] == "tmpfs"
    opts = mount_options(m)
    assert {"nosuid", "nodev"} <= opts, opts
    assert "size=1024k" in opts, opts
    assert r["checks"]["/scratch"]["mode"] == 0o1770


def test_default_devices_exist(oci, bundle):
    devs = {
        "/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7",
        "/dev/random": "1:8", "/dev/urandom": "1:9", "/dev/tty": "5:0",
    }  # fmt: skip
    args = []
    for d in list(devs) + ["/dev/ptmx", "/dev/pts/ptmx", "/dev/shm", "/dev/fd", "/dev/stdin"]:
        args += ["--check", d]
    r = oci.run_probe(bundle, *args)
    c = r["checks"]
    for d, rdev in devs.items():
        assert c[d]["exists"] and c[d]["type"] == "char" and c[d]["rdev"] == rdev, f"{d}: {c[d]}"
    assert c["/dev/null"]["write"] == "ok"
    assert c["/dev/ptmx"]["exists"], "/dev/ptmx missing"
    assert c["/dev/shm"]["type"] == "dir"
    assert c["/dev/fd"]["lstat_type"] == "symlink"
    assert c["/dev/stdin"]["lstat_type"] == "symlink"


def test_linux_devices_created(oci, bundle):
    bundle.linux["devices"] = [
        {"path": "/dev/husk-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 0, "gid": 5}
    ]
    r = oci.run_probe(bundle, "--check", "/dev/husk-null")
    c = r["checks"]["/dev/husk-null"]
    assert c["exists"] and c["type"] == "char" and c["rdev"] == "1:3", c
    assert c["mode"] == 0o620 and c["gid"] == 5, c


def test_absolute_root_path(oci, bundle):
    bundle.config["root"]["path"] = str(bundle.rootfs)
    r = oci.run_probe(bundle)
    assert r["pid"] == 1
