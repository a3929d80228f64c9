"""Volumes: bind mounts (rw, ro, the host path must exist), named volumes
(created on first use, kept after the container, shared between
containers), tmpfs, and `husk volume ls/create/rm/inspect`."""

import json
import os

from test_porcelain_helpers import cfg_image, husk_bin, phusk  # noqa: F401  (fixtures)


def one_line_error(p, *words):
    assert p.returncode != 0
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1, f"expected one line, got {p.stderr!r}"
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


def test_bind_mount_is_read_write(phusk, tmp_path):
    (tmp_path / "in").write_text("from host\n")
    p = phusk("run", "--rm", "-v", f"{tmp_path}:/mnt/host", "busybox", "sh", "-c",
              "cat /mnt/host/in; echo from container > /mnt/host/out")
    assert p.stdout == "from host\n"
    assert (tmp_path / "out").read_text() == "from container\n"


def test_volume_ro_rejects_write(phusk, tmp_path):
    (tmp_path / "in").write_text("x\n")
    p = phusk("run", "--rm", "-v", f"{tmp_path}:/ro:ro", "busybox", "sh", "-c",
              "cat /ro/in; echo y > /ro/new", check=False)
    assert p.returncode != 0
    assert p.stdout == "x\n"
    assert "Read-only file system" in p.stderr
    assert not (tmp_path / "new").exists()


def test_named_volume_ro_rejects_write(phusk):
    phusk("run", "--rm", "-v", "rodata:/data", "busybox", "sh", "-c", "echo 1 > /data/f")
    p = phusk("run", "--rm", "-v", "rodata:/data:ro", "busybox", "sh", "-c",
              "cat /data/f; echo 2 > /data/f", check=False)
    assert p.returncode != 0
    assert p.stdout == "1\n"
    assert "Read-only file system" in p.stderr


def test_bind_source_must_exist(phusk, tmp_path):
    missing = tmp_path / "missing"
    p = phusk("run", "--rm", "-v", f"{missing}:/x", "busybox", "true", check=False)
    assert p.returncode == 125
    one_line_error(p, "volume source", str(missing))
    assert not missing.exists()  # not created behind our back
    assert phusk.container_dirs() == []


def test_bind_mount_of_a_file(phusk, tmp_path):
    f = tmp_path / "conf"
    f.write_text("setting=1\n")
    p = phusk("run", "--rm", "-v", f"{f}:/etc/app.conf:ro", "busybox", "cat", "/etc/app.conf")
    assert p.stdout == "setting=1\n"


def test_named_volume_persists_across_containers(phusk):
    phusk("run", "--rm", "-v", "pdata:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
    p = phusk("run", "--rm", "-v", "pdata:/other", "busybox", "cat", "/other/f")
    assert p.stdout == "persisted\n"


def test_named_volume_is_created_on_first_use_and_kept(phusk):
    assert phusk("volume", "ls", "-q").stdout == ""
    phusk("run", "--name", "user1", "-v", "keep:/data", "busybox", "touch", "/data/x")
    assert phusk("volume", "ls", "-q").stdout.split() == ["keep"]
    data = phusk.data_root / "volumes" / "keep" / "_data"
    assert (data / "x").exists()
    phusk("rm", "user1")
    assert phusk("volume", "ls", "-q").stdout.split() == ["keep"]
    assert (data / "x").exists()


def test_named_volume_shared_by_running_containers(phusk):
    a = phusk.run_d("-v", "shared:/s", "busybox", "sh", "-c",
                    "while [ ! -e /s/ping ]; do sleep 0.05; done; echo pong > /s/pong; sleep 30")
    phusk("run", "--rm", "-v", "shared:/s", "busybox", "touch", "/s/ping")
    p = phusk("run", "--rm", "-v", "shared:/s", "busybox", "sh", "-c",
              "for i in $(seq 100); do [ -e /s/pong ] && break; sleep 0.05; done; cat /s/pong")
    assert p.stdout == "pong\n"
    phusk("rm", "-f", a)


def test_volume_create_ls_inspect_rm(phusk):
    assert phusk("volume", "create", "v1").stdout.strip() == "v1"
    anon = phusk("volume", "create").stdout.strip()
    assert len(anon) == 64
    p = phusk("volume", "ls")
    assert p.stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(phusk("volume", "ls", "-q").stdout.split()) == sorted(["v1", anon])
    doc = json.loads(phusk("volume", "inspect", "v1").stdout)[0]
    assert doc["Name"] == "v1"
    assert doc["Driver"] == "local"
    assert doc["Mountpoint"] == str(phusk.data_root / "volumes" / "v1" / "_data")
    assert os.path.isdir(doc["Mountpoint"])
    assert doc["CreatedAt"]
    # creating an existing volume is fine and keeps its data
    open(os.path.join(doc["Mountpoint"], "f"), "w").close()
    phusk("volume", "create", "v1")
    assert os.path.exists(os.path.join(doc["Mountpoint"], "f"))
    assert phusk("volume", "rm", "v1", anon).stdout.split() == ["v1", anon]
    assert phusk("volume", "ls", "-q").stdout == ""
    assert not (phusk.data_root / "volumes" / "v1").exists()


def test_volume_rm_refused_while_in_use(phusk):
    phusk("run", "--name", "holder", "-v", "busy:/b", "busybox", "true")
    p = phusk("volume", "rm", "busy", check=False)
    assert p.returncode != 0
    assert "in use" in p.stderr
    doc = json.loads(phusk("volume", "inspect", "busy").stdout)[0]
    assert len(doc["UsedBy"]) == 1
    phusk("rm", "holder")
    phusk("volume", "rm", "busy")


def test_volume_errors(phusk):
    p = phusk("volume", "rm", "nope", check=False)
    assert p.returncode == 1 and "no such volume: nope" in p.stderr
    phusk("volume", "rm", "-f", "nope")
    p = phusk("volume", "inspect", "nope", check=False)
    assert p.returncode == 1
    p = phusk("volume", "create", "bad/name", check=False)
    one_line_error(p, "invalid volume name")
    p = phusk("volume", "frob", check=False)
    one_line_error(p, "unknown volume command frob")


def test_bad_volume_specs_leave_nothing(phusk):
    for spec, words in (
        ("/only-destination", ("anonymous",)),
        ("relative/path:/x", ("absolute",)),
        ("vol:relative", ("absolute",)),
        ("/tmp:/x:bogus", ("bogus",)),
        ("/tmp:/", ("cannot be /",)),
    ):
        p = phusk("run", "--rm", "-v", spec, "busybox", "true", check=False)
        assert p.returncode == 125
        one_line_error(p, *words)
    assert phusk.container_dirs() == []
    assert phusk("volume", "ls", "-q").stdout == ""


def test_failed_run_removes_the_volume_it_created(phusk):
    # the named volume would be new, but the run fails (unknown user): no volume stays
    p = phusk("run", "--rm", "-v", "fresh:/d", "-u", "ghost", "busybox", "true", check=False)
    assert p.returncode == 125
    assert phusk("volume", "ls", "-q").stdout == ""
    assert phusk.container_dirs() == []


def test_mounts_in_inspect(phusk, tmp_path):
    cid = phusk.run_d("-v", f"{tmp_path}:/b:ro", "-v", "iv:/v", "--tmpfs", "/t", "busybox",
                      "sleep", "30")
    mounts = {m["Destination"]: m for m in phusk.inspect(cid)["Mounts"]}
    assert mounts["/b"]["Type"] == "bind" and mounts["/b"]["RW"] is False
    assert mounts["/b"]["Source"] == str(tmp_path)
    assert mounts["/v"]["Type"] == "volume" and mounts["/v"]["Name"] == "iv"
    assert mounts["/v"]["RW"] is True
    assert mounts["/t"]["Type"] == "tmpfs"
    phusk("rm", "-f", cid)


def test_new_named_volume_is_filled_from_the_image(phusk, cfg_image):
    # like docker: a new volume mounted on a directory of the image starts
    # with that directory's content, owners and modes
    p = phusk("run", "--rm", "-u", "0", "-v", "etcvol:/etc", "--entrypoint", "", cfg_image,
              "cat", "/etc/group")
    assert "extra:x:5000:app" in p.stdout
    data = phusk.data_root / "volumes" / "etcvol" / "_data"
    assert (data / "passwd").read_text().startswith("root:")
    # an existing volume is not filled again: its own content stays
    (data / "passwd").write_text("mine\n")
    p = phusk("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/passwd")
    assert p.stdout == "mine\n"
    # the volume's root gets the owner and mode of the image's directory
    phusk("run", "--rm", "-v", "homevol:/home/app", cfg_image)
    data = phusk.data_root / "volumes" / "homevol" / "_data"
    st = data.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 1234, 0o750)
    st = (data / ".profile").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 1234, 0o640)
    assert (data / ".profile").read_text() == "# app\n"
    phusk("volume", "rm", "etcvol", "homevol")


def test_nocopy_leaves_a_new_volume_empty(phusk):
    p = phusk("run", "--rm", "-v", "emptyvol:/etc:nocopy", "busybox", "ls", "-A", "/etc")
    assert p.stdout == ""
    p = phusk("run", "--rm", "-v", "fullvol:/bin", "busybox", "ls", "/bin")
    assert "busybox" in p.stdout.split()
    assert os.path.islink(phusk.data_root / "volumes" / "fullvol" / "_data" / "sh")
