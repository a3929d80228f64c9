"""husk's image store: `husk load` (docker-archive and OCI archives, gzip and
zstd layers), hostile archives, `husk pull` from a real registry (Debian's
docker-registry on loopback, with a busybox image pushed by skopeo), manifest
lists, anonymous bearer tokens, `husk images/rmi/image inspect`, the embedded
busybox default and the --data-root / $HUSK_DATA_ROOT settings.

Every test uses its own temporary data root, never /var/lib/husk.

    HUSK_BUILD=/abs/build /usr/bin/python3 -m pytest -ra pytest/test_images.py
"""

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUSYBOX = "/bin/busybox"
MTIME = 1700000000


def _build_dir():
    return Path(os.environ.get("HUSK_BUILD") or REPO / "build").resolve()


@pytest.fixture(scope="session")
def husk_bin():
    if os.geteuid() != 0:
        pytest.skip("image tests need root (layer owners, device nodes, overlay whiteouts)")
    b = _build_dir() / "runtime"
    husk, tool = b / "husk", b / "husk-image"
    for p in (husk, tool):
        if not os.access(p, os.X_OK):
            pytest.skip(f"{p} not built: run `make build` or set HUSK_BUILD")
    return str(husk)


@pytest.fixture
def root(tmp_path):
    """A private data root (and a sibling dir that must stay empty)."""
    r = tmp_path / "data"
    yield r
    shutil.rmtree(tmp_path, ignore_errors=True)


def husk(husk_bin, root, *args, env=None, input=None, check=True):
    cmd = [husk_bin]
    if root is not None:
        cmd += ["--data-root", str(root)]
    cmd += list(args)
    e = dict(os.environ)
    e.pop("HUSK_DATA_ROOT", None)
    e.pop("HUSK_INSECURE_REGISTRIES", None)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, input=input, env=e, timeout=120)
    if check and p.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {p.returncode}\nstdout: {p.stdout.decode(errors='replace')}"
            f"\nstderr: {p.stderr.decode(errors='replace')}",
            pytrace=False,
        )
    p.out = p.stdout.decode(errors="replace")
    p.err = p.stderr.decode(errors="replace")
    return p


def images_json(husk_bin, root):
    p = husk(husk_bin, root, "images", "--format", "json")
    return [json.loads(line) for line in p.out.splitlines() if line.strip()]


def inspect(husk_bin, root, name):
    return json.loads(husk(husk_bin, root, "image", "inspect", name).out)[0]


def store_entries(root, sub):
    d = Path(root) / sub
    return sorted(os.listdir(d)) if d.exists() else []


# ---- building images by hand ------------------------------------------------


class Tar:
    """A deterministic tar written with python's tarfile."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.t = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, type_, mode):
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = mode
        ti.mtime = MTIME
        ti.uname = ti.gname = "root"
        return ti

    def dir(self, name, mode=0o755):
        self.t.addfile(self._info(name, tarfile.DIRTYPE, mode))
        return self

    def file(self, name, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.t.addfile(ti, io.BytesIO(data))
        return self

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.t.addfile(ti)
        return self

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o644)
        ti.linkname = target
        self.t.addfile(ti)
        return self

    def bytes(self):
        self.t.close()
        return self.buf.getvalue()


def busybox_layer(extra=None):
    t = Tar()
    for d in ("bin", "etc", "root", "tmp"):
        t.dir(d, 0o1777 if d == "tmp" else 0o755)
    t.file("bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
    for applet in ("sh", "ls", "cat", "echo", "id"):
        t.symlink(f"bin/{applet}", "busybox")
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    t.file("etc/group", "root:x:0:\n")
    if extra:
        extra(t)
    return t.bytes()


def image_config(diff_ids, cmd=("sh",)):
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"], "WorkingDir": "/root"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        sort_keys=True,
    ).encode()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def docker_archive(path, layers, tags=("busybox:latest",), compress_layers=False, diff_ids=None,
                   outer=None):
    """Write a docker-archive (docker save format) with the given layer tars."""
    diff_ids = diff_ids or [f"sha256:{sha(layer)}" for layer in layers]
    cfg = image_config(diff_ids)
    t = outer or Tar()
    names = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0) if compress_layers else layer
        name = f"{sha(layer)}/layer.tar"
        t.file(name, blob)
        names.append(name)
    t.file(f"{sha(cfg)}.json", cfg)
    t.file("manifest.json", json.dumps([{"Config": f"{sha(cfg)}.json", "RepoTags": list(tags),
                                         "Layers": names}]))
    Path(path).write_bytes(t.bytes())
    return f"sha256:{sha(cfg)}"


def skopeo(*args):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo not installed (apt-get install skopeo)")
    p = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        pytest.fail(f"skopeo {' '.join(args)}: {p.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def archives():
    """busybox as docker-archive, and as OCI archives with gzip and zstd layers."""
    if not os.path.isfile(BUSYBOX):
        pytest.skip("no /bin/busybox (apt-get install busybox-static)")
    d = Path(tempfile.mkdtemp(prefix="husk-archives-"))
    docker = d / "busybox-docker.tar"
    config_id = docker_archive(docker, [busybox_layer()])
    yield {"dir": d, "docker": docker, "config_id": config_id}
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def oci_archives(archives):
    d = archives["dir"]
    gz, zst = d / "busybox-oci-gzip.tar", d / "busybox-oci-zstd.tar"
    skopeo("copy", f"docker-archive:{archives['docker']}", f"oci-archive:{gz}:busybox:gzip")
    skopeo("copy", "--dest-compress-format", "zstd", f"docker-archive:{archives['docker']}",
           f"oci-archive:{zst}:docker.io/library/busybox:zstd")
    return {"gzip": gz, "zstd": zst}


def oci_layer_magics(archive):
    """The first bytes of every layer blob of an OCI archive."""
    with tarfile.open(archive) as t:
        index = json.load(t.extractfile("index.json"))
        man = json.load(t.extractfile(f"blobs/sha256/{index['manifests'][0]['digest'][7:]}"))
        return [t.extractfile(f"blobs/sha256/{layer['digest'][7:]}").read(4)
                for layer in man["layers"]]


# ---- load -------------------------------------------------------------------


def test_load_docker_archive_lists_and_unpacks_the_image(husk_bin, root, archives):
    p = husk(husk_bin, root, "load", "-i", str(archives["docker"]))
    assert p.out.strip() == "Loaded image: busybox:latest"
    rows = images_json(husk_bin, root)
    assert [(r["Repository"], r["Tag"]) for r in rows] == [("busybox", "latest")]
    assert rows[0]["ID"] == archives["config_id"][7:19]
    info = inspect(husk_bin, root, "busybox")
    assert info["Id"] == archives["config_id"]
    assert info["Config"]["Cmd"] == ["sh"]
    assert info["RepoTags"] == ["busybox:latest"]
    (layer,) = info["GraphDriver"]["Data"]["LayerDirs"]
    assert os.access(Path(layer) / "bin/busybox", os.X_OK)
    assert os.readlink(Path(layer) / "bin/sh") == "busybox"
    assert oct(os.stat(Path(layer) / "tmp").st_mode & 0o7777) == oct(0o1777)
    assert store_entries(root, "tmp") == []


def test_load_docker_archive_with_gzip_layers(husk_bin, root, tmp_path):
    if not os.path.isfile(BUSYBOX):
        pytest.skip("no /bin/busybox")
    arch = tmp_path / "gz.tar"
    cid = docker_archive(arch, [busybox_layer()], tags=("gz:1",), compress_layers=True)
    assert "Loaded image: gz:1" in husk(husk_bin, root, "load", "-i", str(arch)).out
    assert inspect(husk_bin, root, "gz:1")["Id"] == cid


def test_load_reads_stdin(husk_bin, root, archives):
    p = husk(husk_bin, root, "load", input=archives["docker"].read_bytes())
    assert "Loaded image: busybox:latest" in p.out


def test_load_oci_archive_gzip_layers(husk_bin, root, oci_archives):
    assert all(m[:2] == b"\x1f\x8b" for m in oci_layer_magics(oci_archives["gzip"]))
    p = husk(husk_bin, root, "image", "load", "-i", str(oci_archives["gzip"]))
    assert p.out.strip() == "Loaded image: busybox:gzip"
    info = inspect(husk_bin, root, "busybox:gzip")
    (layer,) = info["GraphDriver"]["Data"]["LayerDirs"]
    assert os.access(Path(layer) / "bin/busybox", os.X_OK)
    assert info["ManifestDigest"].startswith("sha256:")


def test_load_oci_archive_zstd_layers(husk_bin, root, oci_archives):
    assert all(m == b"\x28\xb5\x2f\xfd" for m in oci_layer_magics(oci_archives["zstd"]))
    p = husk(husk_bin, root, "load", "-i", str(oci_archives["zstd"]))
    assert p.out.strip() == "Loaded image: busybox:zstd"
    (layer,) = inspect(husk_bin, root, "busybox:zstd")["GraphDriver"]["Data"]["LayerDirs"]
    assert os.access(Path(layer) / "bin/busybox", os.X_OK)


def test_same_layer_is_unpacked_once(husk_bin, root, archives, oci_archives):
    for a in (archives["docker"], oci_archives["gzip"], oci_archives["zstd"]):
        husk(husk_bin, root, "load", "-i", str(a))
    assert len(store_entries(root, "layers")) == 1
    assert len(images_json(husk_bin, root)) == 3


def test_unknown_archive_format_refused(husk_bin, root, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(Tar().file("hello", "world").bytes())
    p = husk(husk_bin, root, "load", "-i", str(bad), check=False)
    assert p.returncode != 0
    assert "neither a docker-archive" in p.err
    assert store_entries(root, "images") == [] and store_entries(root, "tmp") == []


# ---- hostile archives ---------------------------------------------------------


def _assert_nothing_left(root, outside):
    assert list(outside.iterdir()) == [], f"written outside the store: {list(outside.iterdir())}"
    assert store_entries(root, "layers") == [], "a half layer was left"
    assert store_entries(root, "tmp") == [], "temp files were left"
    assert store_entries(root, "images") == []


@pytest.mark.parametrize(
    "case",
    ["dotdot", "absolute", "symlink_then_write", "hardlink_out", "hardlink_through_symlink"],
)
def test_hostile_layer_is_refused_and_writes_nothing_outside(husk_bin, root, tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("secret")

    def hostile(t):
        if case == "dotdot":
            t.file("../../../../../../.." + str(outside) + "/pwned", "x")
        elif case == "absolute":
            t.file(str(outside) + "/pwned", "x")
        elif case == "symlink_then_write":
            t.symlink("escape", str(outside))
            t.file("escape/pwned", "x")
        elif case == "hardlink_out":
            t.hardlink("stolen", str(secret))
        elif case == "hardlink_through_symlink":
            t.symlink("up", str(tmp_path))
            t.hardlink("stolen", "up/secret")

    arch = tmp_path / "hostile.tar"
    layer = Tar().dir("etc").file("etc/ok", "fine")
    hostile(layer)
    docker_archive(arch, [layer.bytes()], tags=("hostile:latest",))
    p = husk(husk_bin, root, "load", "-i", str(arch), check=False)
    assert p.returncode != 0, "a hostile layer was loaded"
    assert p.err.startswith("husk: ") and len(p.err.strip().splitlines()) == 1
    assert "refusing" in p.err
    _assert_nothing_left(root, outside)
    assert secret.read_text() == "secret"
    assert husk(husk_bin, root, "images", "-q").out == ""


def test_hostile_outer_archive_is_refused(husk_bin, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    arch = tmp_path / "outer.tar"
    t = Tar().symlink("blobs", str(outside)).file("blobs/pwned", "x")
    docker_archive(arch, [Tar().file("a", "b").bytes()], outer=t)
    p = husk(husk_bin, root, "load", "-i", str(arch), check=False)
    assert p.returncode != 0
    assert "symlink" in p.err
    _assert_nothing_left(root, outside)


def test_layer_not_matching_its_diff_id_is_refused(husk_bin, root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    arch = tmp_path / "lie.tar"
    layer = Tar().file("a", "b").bytes()
    docker_archive(arch, [layer], diff_ids=["sha256:" + "1" * 64])
    p = husk(husk_bin, root, "load", "-i", str(arch), check=False)
    assert p.returncode != 0
    assert "diff id" in p.err
    _assert_nothing_left(root, outside)


def test_config_not_matching_its_digest_is_refused(husk_bin, root, tmp_path):
    arch = tmp_path / "cfg.tar"
    layer = Tar().file("a", "b").bytes()
    cfg = image_config([f"sha256:{sha(layer)}"])
    t = Tar().file("l/layer.tar", layer).file("f" * 64 + ".json", cfg)
    t.file("manifest.json", json.dumps([{"Config": "f" * 64 + ".json", "RepoTags": ["x:y"],
                                         "Layers": ["l/layer.tar"]}]))
    arch.write_bytes(t.bytes())
    p = husk(husk_bin, root, "load", "-i", str(arch), check=False)
    assert p.returncode != 0
    assert "digest mismatch" in p.err
    assert store_entries(root, "images") == []


def test_whiteouts_become_overlay_whiteouts(husk_bin, root, tmp_path):
    base = Tar().dir("etc").file("etc/motd", "hi").dir("var").dir("var/cache").file(
        "var/cache/old", "x").bytes()
    upper = Tar().dir("etc").file("etc/.wh.motd", "").dir("var").dir("var/cache").file(
        "var/cache/.wh..wh..opq", "").file("var/cache/new", "y").bytes()
    arch = tmp_path / "wh.tar"
    docker_archive(arch, [base, upper], tags=("wh:latest",))
    husk(husk_bin, root, "load", "-i", str(arch))
    lower_dir, upper_dir = inspect(husk_bin, root, "wh")["GraphDriver"]["Data"]["LayerDirs"]
    st = os.lstat(Path(upper_dir) / "etc/motd")
    assert (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0, "not a 0/0 char device"
    assert os.getxattr(Path(upper_dir) / "var/cache", "trusted.overlay.opaque") == b"y"
    assert not (Path(upper_dir) / "etc/.wh.motd").exists()
    assert (Path(lower_dir) / "etc/motd").read_text() == "hi"


# ---- images / rmi / inspect ---------------------------------------------------------


def test_rmi_untags_deletes_and_collects_garbage(husk_bin, root, archives):
    husk(husk_bin, root, "load", "-i", str(archives["docker"]))
    p = husk(husk_bin, root, "rmi", "busybox")
    assert p.out.splitlines() == ["Untagged: busybox:latest", f"Deleted: {archives['config_id']}"]
    assert store_entries(root, "images") == []
    assert store_entries(root, "layers") == []
    assert store_entries(root, "blobs/sha256") == []
    p = husk(husk_bin, root, "rmi", "busybox", check=False)
    assert p.returncode != 0 and "no such image: busybox" in p.err


def test_rmi_by_id_with_two_references_needs_force(husk_bin, root, archives, tmp_path):
    husk(husk_bin, root, "load", "-i", str(archives["docker"]))
    other = tmp_path / "other.tar"
    docker_archive(other, [busybox_layer()], tags=("mirror/busybox:v1",))
    husk(husk_bin, root, "load", "-i", str(other))
    short = archives["config_id"][7:19]
    p = husk(husk_bin, root, "rmi", short, check=False)
    assert p.returncode != 0 and "must be forced" in p.err
    p = husk(husk_bin, root, "image", "rm", "-f", short)
    assert "Untagged: busybox:latest" in p.out and "Untagged: mirror/busybox:v1" in p.out
    assert f"Deleted: {archives['config_id']}" in p.out
    assert husk(husk_bin, root, "images", "-q").out == ""


def test_images_quiet_filter_and_template(husk_bin, root, archives, tmp_path):
    husk(husk_bin, root, "load", "-i", str(archives["docker"]))
    other = tmp_path / "other.tar"
    docker_archive(other, [busybox_layer()], tags=("busybox:other", "localhost:5000/bb:1"))
    husk(husk_bin, root, "load", "-i", str(other))
    assert husk(husk_bin, root, "images", "-q").out.split() == [archives["config_id"][7:19]]
    rows = husk(husk_bin, root, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    assert sorted(rows) == ["busybox:latest", "busybox:other", "localhost:5000/bb:1"]
    rows = husk(husk_bin, root, "images", "busybox").out.splitlines()
    assert rows[0].split()[:2] == ["REPOSITORY", "TAG"] and len(rows) == 3
    assert len(husk(husk_bin, root, "images", "busybox:other").out.splitlines()) == 2


def test_inspect_unknown_image_is_a_one_line_error(husk_bin, root):
    p = husk(husk_bin, root, "image", "inspect", "nosuchimage", check=False)
    assert p.returncode != 0
    assert len(p.err.strip().splitlines()) == 1
    assert p.err.startswith("husk") and p.err.strip().endswith("no such image: nosuchimage")
    p = husk(husk_bin, root, "image", "inspect", "Bad:Name:x", check=False)
    assert p.returncode != 0 and "invalid reference" in p.err


# ---- the embedded busybox default -------------------------------------------------


def test_busybox_is_there_offline_and_deterministic(husk_bin, tmp_path):
    if not os.path.isfile(BUSYBOX):
        pytest.skip("no /bin/busybox (apt-get install busybox-static)")
    a, b = tmp_path / "a", tmp_path / "b"
    ia = inspect(husk_bin, a, "busybox")
    ib = inspect(husk_bin, b, "docker.io/library/busybox:latest")
    assert ia["Id"] == ib["Id"]
    assert ia["RepoTags"] == ["busybox:latest"]
    assert ia["Config"]["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in ia["Config"]["Env"])
    (layer,) = ia["GraphDriver"]["Data"]["LayerDirs"]
    assert os.access(Path(layer) / "bin/busybox", os.X_OK)
    assert os.readlink(Path(layer) / "bin/sh") == "busybox"
    assert "root:x:0:0" in (Path(layer) / "etc/passwd").read_text()
    rows = images_json(husk_bin, a)
    assert [(r["Repository"], r["Tag"]) for r in rows] == [("busybox", "latest")]
    shutil.rmtree(tmp_path, ignore_errors=True)


# ---- --data-root and HUSK_DATA_ROOT -------------------------------------------------


def test_data_root_flag_and_env_both_work(husk_bin, tmp_path, archives):
    env_root, flag_root = tmp_path / "env", tmp_path / "flag"
    husk(husk_bin, None, "load", "-i", str(archives["docker"]), env={"HUSK_DATA_ROOT": str(env_root)})
    assert len(store_entries(env_root, "images")) == 1
    assert husk(husk_bin, None, "images", "-q", env={"HUSK_DATA_ROOT": str(env_root)}).out.strip()
    # the flag wins over the environment
    p = husk(husk_bin, flag_root, "images", "-q", env={"HUSK_DATA_ROOT": str(env_root)})
    assert p.out == ""
    husk(husk_bin, flag_root, "load", "-i", str(archives["docker"]),
         env={"HUSK_DATA_ROOT": str(env_root)})
    assert len(store_entries(flag_root, "images")) == 1
    shutil.rmtree(tmp_path, ignore_errors=True)


# ---- pull from a real registry ------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def registry(archives):
    """Debian's docker-registry on 127.0.0.1:<free port> with busybox pushed by skopeo."""
    exe = shutil.which("docker-registry") or shutil.which("registry")
    if exe is None:
        pytest.skip("docker-registry not installed (apt-get install docker-registry)")
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo not installed (apt-get install skopeo)")
    d = Path(tempfile.mkdtemp(prefix="husk-registry-"))
    port = free_port()
    (d / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {d}/data\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = open(d / "log", "w")
    proc = subprocess.Popen([exe, "serve", str(d / "config.yml")], stdout=log, stderr=log)
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"docker-registry did not start: {(d / 'log').read_text()}")
                time.sleep(0.1)
        host = f"127.0.0.1:{port}"
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{archives['docker']}",
               f"docker://{host}/busybox:latest")
        yield {"host": host, "dir": d}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def manifest_digest(host, repo, ref):
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/{ref}",
        method="HEAD",
        headers={"Accept": "application/vnd.oci.image.index.v1+json, "
                           "application/vnd.docker.distribution.manifest.list.v2+json, "
                           "application/vnd.oci.image.manifest.v1+json, "
                           "application/vnd.docker.distribution.manifest.v2+json"},
    )
    return urllib.request.urlopen(req, timeout=10).headers["Docker-Content-Digest"]


def test_pull_from_local_registry(husk_bin, root, registry, archives):
    host = registry["host"]
    p = husk(husk_bin, root, "pull", f"{host}/busybox")
    lines = p.out.splitlines()
    assert lines[0] == "latest: Pulling from busybox"
    assert any(line.endswith(": Pull complete") for line in lines)
    assert f"Status: Downloaded newer image for {host}/busybox:latest" in lines
    assert lines[-1] == f"{host}/busybox:latest"
    digest = manifest_digest(host, "busybox", "latest")
    assert f"Digest: {digest}" in lines
    info = inspect(husk_bin, root, f"{host}/busybox:latest")
    assert info["Id"] == archives["config_id"]
    assert info["RepoDigests"] == [f"{host}/busybox@{digest}"]
    (layer,) = info["GraphDriver"]["Data"]["LayerDirs"]
    assert os.access(Path(layer) / "bin/busybox", os.X_OK)

    # again: nothing downloaded or unpacked twice
    p = husk(husk_bin, root, "image", "pull", f"{host}/busybox:latest")
    assert any(line.endswith(": Already exists") for line in p.out.splitlines())
    assert f"Status: Image is up to date for {host}/busybox:latest" in p.out
    assert len(store_entries(root, "layers")) == 1

    # by digest
    p = husk(husk_bin, root, "pull", "-q", f"{host}/busybox@{digest}")
    assert p.out.strip() == f"{host}/busybox@{digest}"
    assert inspect(husk_bin, root, f"{host}/busybox@{digest}")["Id"] == archives["config_id"]


def test_pull_unknown_tag_and_unreachable_registry_fail_cleanly(husk_bin, root, registry):
    p = husk(husk_bin, root, "pull", f"{registry['host']}/busybox:nope", check=False)
    assert p.returncode != 0 and "not found" in p.err
    p = husk(husk_bin, root, "pull", f"127.0.0.1:{free_port()}/busybox", check=False)
    assert p.returncode != 0 and "connect" in p.err.lower()
    assert store_entries(root, "images") == [] and store_entries(root, "tmp") == []


def _oci_layout_with_index(d, amd64_layer, arm64_layer):
    """An OCI layout holding one index: linux/arm64 and linux/amd64 images."""
    blobs = d / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data):
        (blobs / sha(data)).write_bytes(data)
        return {"digest": f"sha256:{sha(data)}", "size": len(data)}

    manifests = []
    configs = {}
    for arch, layer in (("arm64", arm64_layer), ("amd64", amd64_layer)):
        cfg = json.loads(image_config([f"sha256:{sha(layer)}"]))
        cfg["architecture"] = arch
        cfg = json.dumps(cfg, sort_keys=True).encode()
        configs[arch] = f"sha256:{sha(cfg)}"
        man = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        **put(gzip.compress(layer, mtime=0))}],
        }).encode()
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(man),
                          "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": manifests}).encode()
    desc = put(index)
    (d / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (d / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", **desc,
                       "annotations": {"org.opencontainers.image.ref.name": "multi"}}],
    }))
    return configs


def test_pull_manifest_list_resolves_linux_amd64(husk_bin, root, registry, tmp_path):
    if os.uname().machine != "x86_64":
        pytest.skip("the test index has an amd64 image for this host")
    layout = tmp_path / "layout"
    amd = busybox_layer(lambda t: t.file("etc/arch", "amd64\n"))
    arm = Tar().file("etc/arch", "arm64\n").bytes()
    configs = _oci_layout_with_index(layout, amd, arm)
    host = registry["host"]
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi",
           f"docker://{host}/multi:latest")
    husk(husk_bin, root, "pull", f"{host}/multi")
    info = inspect(husk_bin, root, f"{host}/multi")
    assert info["Id"] == configs["amd64"]
    assert info["Architecture"] == "amd64"
    (layer,) = info["GraphDriver"]["Data"]["LayerDirs"]
    assert (Path(layer) / "etc/arch").read_text() == "amd64\n"
    # the repo digest is the one of the list, as docker records it
    assert info["RepoDigests"] == [f"{host}/multi@{manifest_digest(host, 'multi', 'latest')}"]
    p = husk(husk_bin, root, "pull", "--platform", "linux/s390x", f"{host}/multi", check=False)
    assert p.returncode != 0 and "no image for linux/s390x" in p.err


class _TokenProxy(http.server.BaseHTTPRequestHandler):
    """Docker Hub's scheme in front of the registry: /v2/ needs a bearer token
    that /token hands out anonymously.  corrupt=True flips a byte of blobs."""

    backend = None
    token = "husk-test-token"
    corrupt = False
    seen = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        cls.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/token"):
            body = json.dumps({"token": cls.token}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.headers.get("Authorization") != f"Bearer {cls.token}":
            host = self.headers.get("Host")
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="http://{host}/token",service="husk-test",'
                f'scope="repository:busybox:pull"',
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        req = urllib.request.Request(f"http://{cls.backend}{self.path}",
                                     headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            r = urllib.request.urlopen(req, timeout=20)
            status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        if cls.corrupt and "/blobs/" in self.path and status == 200 and len(body) > 100:
            body = body[:50] + bytes([body[50] ^ 0xFF]) + body[51:]
        self.send_response(status)
        for h in ("Content-Type", "Docker-Content-Digest"):
            if headers.get(h):
                self.send_header(h, headers[h])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def token_proxy(registry):
    handler = type("Proxy", (_TokenProxy,), {"backend": registry["host"], "seen": [],
                                             "corrupt": False})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield handler, f"localhost:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_pull_with_anonymous_bearer_token(husk_bin, root, token_proxy, archives):
    handler, host = token_proxy
    husk(husk_bin, root, "pull", f"{host}/busybox")
    assert inspect(husk_bin, root, f"{host}/busybox")["Id"] == archives["config_id"]
    token_requests = [p for p, _ in handler.seen if p.startswith("/token")]
    assert token_requests, "no token was asked for"
    assert "scope=repository%3Abusybox%3Apull" in token_requests[0]
    assert "service=husk-test" in token_requests[0]
    assert any(a == f"Bearer {handler.token}" for p, a in handler.seen if "/blobs/" in p)


def test_pull_refuses_a_blob_that_does_not_match_its_digest(husk_bin, root, token_proxy):
    handler, host = token_proxy
    handler.corrupt = True
    p = husk(husk_bin, root, "pull", f"{host}/busybox", check=False)
    assert p.returncode != 0
    assert "digest mismatch" in p.err
    assert store_entries(root, "layers") == []
    assert store_entries(root, "images") == []
    assert store_entries(root, "tmp") == []


def test_pull_progress_bar_on_a_terminal(husk_bin, root, registry):
    if shutil.which("script") is None:
        pytest.skip("script(1) not installed (bsdutils)")
    cmd = f"{husk_bin} --data-root {root} pull {registry['host']}/busybox"
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=120)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out
    assert "Downloading [" in out and "\r" in out and "Pull complete" in out
