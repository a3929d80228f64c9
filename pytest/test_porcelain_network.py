"""--network none / host / bridge through the porcelain's network hook.
Bridge tests run husk inside a network namespace of the test's own (the
conftest `netns` fixture, entered with nsenter --net), so the bridge, the
veths and the firewall table never touch the host's network."""

import json
import re
import shutil
import subprocess
import time

import pytest

from test_porcelain_helpers import husk_bin, phusk  # noqa: F401  (fixtures)


@pytest.fixture
def bhusk(phusk, netns):
    if shutil.which("nsenter") is None:
        pytest.skip("nsenter (util-linux) not installed")
    phusk.prefix = ["nsenter", f"--net={netns['path']}"]
    p = phusk("run", "--rm", "--network", "bridge", "busybox", "true", check=False)
    if p.returncode != 0:
        pytest.skip(f"bridge networking does not work here: {p.stderr.strip()}")
    yield phusk
    # the fixture's cleanup (rm -f) still runs inside the namespace


def addr_of(out):
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/(\d+)", out)
    assert m, out
    return m.group(1), int(m.group(2))


def test_bridge_gives_eth0_an_address_and_a_default_route(bhusk):
    p = bhusk("run", "--rm", "--network", "bridge", "busybox", "sh", "-c",
              "ip -4 -o addr show eth0; ip route")
    ip, prefix = addr_of(p.stdout)
    assert prefix > 0
    assert re.search(r"^default via \d+\.\d+\.\d+\.\d+ dev eth0", p.stdout, re.M)


def test_bridge_etc_files_are_the_networks(bhusk):
    p = bhusk("run", "--rm", "--network", "bridge", "--name", "files", "--hostname", "hn1",
              "busybox", "sh", "-c", "cat /etc/hostname; hostname; grep hn1 /etc/hosts; "
              "grep -c nameserver /etc/resolv.conf")
    out = p.stdout.splitlines()
    assert out[0] == "hn1" and out[1] == "hn1"
    assert "files" in out[2] and "hn1" in out[2]
    assert int(out[3]) >= 1


def test_bridge_containers_reach_each_other_by_name(bhusk):
    srv = bhusk.run_d("--network", "bridge", "--name", "srv", "busybox", "sh", "-c",
                      "while :; do echo hello-from-srv | nc -l -p 80; done")
    p = bhusk("run", "--rm", "--network", "bridge", "busybox", "sh", "-c",
              "for i in $(seq 50); do out=$(nc srv 80 </dev/null) && [ -n \"$out\" ] && "
              "break; sleep 0.1; done; echo $out")
    assert p.stdout.strip() == "hello-from-srv"
    # the server's hosts file learnt about the client while it ran; it is a
    # bind mount of the file the library keeps current
    hosts = bhusk("exec", srv, "cat", "/etc/hosts").stdout
    assert "srv" in hosts
    bhusk("rm", "-f", srv)


def host_veths(bhusk):
    """husk's host-side veths (hk + 12 hex) in the test's network namespace."""
    out = subprocess.run(bhusk.prefix + ["ip", "-o", "link"], capture_output=True,
                         text=True).stdout
    return re.findall(r"\b(hk[0-9a-f]{12})@", out)


def test_bridge_addresses_are_unique_and_released(bhusk):
    a = bhusk.run_d("--network", "bridge", "busybox", "sleep", "30")
    b = bhusk.run_d("--network", "bridge", "busybox", "sleep", "30")
    ia = bhusk.inspect(a)["NetworkSettings"]["IPAddress"]
    ib = bhusk.inspect(b)["NetworkSettings"]["IPAddress"]
    assert ia and ib and ia != ib
    assert len(host_veths(bhusk)) == 2
    bhusk("rm", "-f", a, b)
    assert host_veths(bhusk) == []
    leases = bhusk.data_root / "networks" / "bridge" / "leases"
    assert not leases.exists() or list(leases.iterdir()) == []


def test_bridge_network_settings_in_inspect(bhusk):
    cid = bhusk.run_d("--network", "bridge", "-p", "8080:80", "busybox", "sleep", "30")
    ns = bhusk.inspect(cid)["NetworkSettings"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ns["IPAddress"])
    assert ns["Gateway"] and ns["Bridge"]
    assert ns["Ports"] == ["0.0.0.0:8080:80/tcp"]
    assert "bridge" in ns["Networks"]
    p = bhusk("exec", cid, "ip", "-4", "-o", "addr", "show", "eth0")
    assert addr_of(p.stdout)[0] == ns["IPAddress"]
    bhusk("rm", "-f", cid)


def test_bridge_rm_on_exit_releases_the_address(bhusk):
    bhusk("run", "--rm", "--network", "bridge", "busybox", "true")
    leases = bhusk.data_root / "networks" / "bridge" / "leases"
    assert not leases.exists() or list(leases.iterdir()) == []


def test_publish_needs_a_bridge(phusk):
    p = phusk("run", "--rm", "-p", "8080:80", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "--publish needs a bridge network" in p.stderr
    assert phusk.container_dirs() == []


def test_bad_port_mapping_is_an_error(phusk):
    p = phusk("run", "--rm", "--network", "bridge", "-p", "99999:80", "busybox", "true",
              check=False)
    assert p.returncode == 125
    assert "99999" in p.stderr
    assert phusk.container_dirs() == []


def test_unknown_network_is_an_error_that_leaves_nothing(bhusk):
    p = bhusk("run", "--rm", "--network", "nosuchnet", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "nosuchnet" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert bhusk.container_dirs() == []


def test_detached_bridge_container_is_torn_down_when_it_exits(bhusk):
    cid = bhusk.run_d("--network", "bridge", "busybox", "sh", "-c", "sleep 0.3")
    bhusk.wait_status(cid, "exited")
    deadline = time.monotonic() + 5
    leases = bhusk.data_root / "networks" / "bridge" / "leases"
    while time.monotonic() < deadline and leases.exists() and list(leases.iterdir()):
        time.sleep(0.05)
    assert not leases.exists() or list(leases.iterdir()) == []
    doc = bhusk.inspect(cid)
    assert doc["HostConfig"]["NetworkMode"] == "bridge"
    json.dumps(doc)
    bhusk("rm", cid)


def test_network_container_joins_the_other_containers_namespace(phusk):
    owner = phusk.run_d("--network", "none", "--name", "netowner", "busybox", "sleep", "60")
    want = phusk("exec", "netowner", "readlink", "/proc/self/ns/net").stdout.strip()
    p = phusk("run", "--rm", "--network", "container:netowner", "busybox", "readlink",
              "/proc/self/ns/net")
    assert p.stdout.strip() == want, "not in the other container's network namespace"
    phusk("rm", "-f", owner)


def test_network_container_of_a_missing_container_is_a_clear_error(phusk):
    p = phusk("run", "--rm", "--network", "container:nosuch", "busybox", "true", check=False)
    assert p.returncode != 0
    assert "nosuch" in p.stderr and len(p.stderr.strip().splitlines()) == 1
