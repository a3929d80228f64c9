"""Fixtures for husk's OCI integration tests.

The runtime under test is `$HUSK_OCI` if set (e.g. /usr/sbin/runc, to check
the tests themselves), else `$HUSK_BUILD/runtime/husk-oci`; the probe is
`$HUSK_PROBE` or `$HUSK_BUILD/harness/probe` (HUSK_BUILD defaults to
<repo>/build).  `$HUSK_OCI_ARGS` adds global flags to every runtime call
(e.g. `--cgroup-manager=disabled` while cgroup support is missing);
`HUSK_KEEP_TMP=1` keeps the test dirs (/tmp/husktest-*) for a post-mortem.
Run as root:

    HUSK_BUILD=/abs/build /usr/bin/python3 -m pytest -ra pytest

Fixtures:
  oci          a Runtime with a private --root; deletes every container it
               made afterwards and fails the test if anything is left (state
               dir, mounts, cgroups, processes) or the host changed
  bundle       a fresh Bundle (busybox rootfs + probe, runc-spec-like config)
  make_bundle  factory for more bundles
  workdir      the test's private directory (mode 0755, under /tmp)
  netns        a network namespace made with `ip netns add`, removed after
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from husktest import host  # noqa: E402
from husktest.runtime import Runtime  # noqa: E402
from husktest.spec import Bundle, build_base_rootfs  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# `husk run` defaults to the bridge network like docker; tests must never touch
# the host's network namespace, so their default is none (network tests ask for
# a bridge explicitly, inside a namespace of their own).
os.environ.setdefault("HUSK_NETWORK", "none")


def _build_dir():
    return Path(os.environ.get("HUSK_BUILD") or REPO / "build").resolve()


def _is_static_elf(path):
    try:
        out = subprocess.run(["file", "-L", str(path)], capture_output=True, text=True).stdout
    except OSError:
        return True  # no `file`: let the rootfs tell
    return "statically linked" in out or "static-pie" in out


@pytest.fixture(scope="session")
def oci_binary():
    if os.geteuid() != 0:
        pytest.skip("OCI integration tests need root (namespaces, mounts, cgroups)")
    binary = os.environ.get("HUSK_OCI") or str(_build_dir() / "runtime" / "husk-oci")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"runtime {binary} not found: build with `make build` or set HUSK_OCI")
    return os.path.abspath(binary)


@pytest.fixture(scope="session")
def probe_binary():
    probe = os.environ.get("HUSK_PROBE") or str(_build_dir() / "harness" / "probe")
    if not os.access(probe, os.X_OK):
        pytest.skip(f"probe {probe} not found: build with `make build` or set HUSK_PROBE")
    if not _is_static_elf(probe):
        pytest.skip(f"probe {probe} is not statically linked")
    return probe


@pytest.fixture(scope="session")
def busybox_binary():
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.isfile(cand) and _is_static_elf(cand):
            return cand
    pytest.skip("no static busybox (apt-get install busybox-static)")


@pytest.fixture(scope="session")
def session_dir():
    """/tmp/husktest-XXXX, mode 0755 so user-namespace containers can reach
    their rootfs (pytest's own tmp dirs are 0700)."""
    d = Path(tempfile.mkdtemp(prefix="husktest-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    left = host.mounts_under(str(d))
    if left:
        warnings.warn(
            f"not removing {d}: mounts are left under it: "
            + ", ".join(m["mount_point"] for m in left)
        )
        return
    if os.environ.get("HUSK_KEEP_TMP"):
        print(f"\nHUSK_KEEP_TMP: test dirs kept in {d}")
        return
    subprocess.run(["rm", "-rf", "--one-file-system", str(d)], check=False)


@pytest.fixture(scope="session")
def base_rootfs(session_dir, busybox_binary, probe_binary):
    dest = session_dir / "rootfs-base"
    build_base_rootfs(dest, busybox_binary, probe_binary)
    return dest


_counter = [0]


@pytest.fixture
def workdir(session_dir, request):
    _counter[0] += 1
    name = request.node.name.replace("test_", "", 1)
    name = "".join(c if c.isalnum() else "-" for c in name)[:24]
    d = session_dir / f"{_counter[0]:03d}-{name}"
    d.mkdir()
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def oci(oci_binary, workdir):
    """The runtime under test, with a private --root.  Teardown deletes every
    container the test made and fails the test if anything is left over or
    the host changed."""
    before = host.HostSnapshot()
    rt = Runtime(oci_binary, workdir / "state", workdir)
    yield rt
    problems = rt.cleanup()
    left_mounts = host.mounts_under(str(workdir))
    for m in left_mounts:
        problems.append(f"mount left in the test dir: {m['mount_point']} ({m['fstype']})")
    if left_mounts:
        host.unmount_under(str(workdir))
    changed = before.differences()
    if changed:
        before.restore_names()
    problems += changed
    if problems:
        pytest.fail("left behind / host changed:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def make_bundle(base_rootfs, workdir):
    n = [0]

    def make(args=("/bin/probe",)):
        n[0] += 1
        return Bundle(workdir / f"bundle{n[0]}", base_rootfs, args)

    return make


@pytest.fixture
def bundle(make_bundle):
    return make_bundle()


@pytest.fixture
def netns():
    """A named network namespace of our own (ip netns add), with lo up and a
    veth pair inside it; removed afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 `ip` not installed")
    name = f"husktest-{secrets.token_hex(4)}"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {p.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        veth = subprocess.run(
            ["ip", "-n", name, "link", "add", "hkveth0", "type", "veth", "peer", "name", "hkveth1"],
            capture_output=True,
            text=True,
        )
        yield {"name": name, "path": f"/run/netns/{name}", "veth": veth.returncode == 0}
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture(scope="session", autouse=True)
def _default_state_root_cleanup():
    """podman passes no --root, so husk-oci keeps state (and its compiled seccomp
    cache) in the default /run/husk; remove what the session created there."""
    root = Path("/run/husk")
    existed = root.exists()
    cache_existed = (root / ".seccomp-cache").exists()
    yield
    if not existed and root.exists():
        shutil.rmtree(root / ".seccomp-cache", ignore_errors=True)
        try:
            root.rmdir()  # only when empty: a container left there is reported, not hidden
        except OSError:
            pass
    elif existed and not cache_existed:
        shutil.rmtree(root / ".seccomp-cache", ignore_errors=True)
