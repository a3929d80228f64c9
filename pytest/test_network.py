"""Container networking through `husk run` (issue 7): bridge networks, veth
pairs, IPAM, published ports, /etc/hosts, `husk network`.

The host is never touched: every husk command and every client of these
tests runs inside a network namespace made for this module (`ip netns add`,
entered with `nsenter --net`, so husk's mounts and cgroups behave as in the
other porcelain tests).  The bridge, the veths, husk's nftables table and
the forwarding sysctl all live and die in that namespace; only its
loopback and the containers' namespaces are contacted.

Each test checks on exit that nothing is left in the namespace: no veth,
no lease, no `table ip husk` (besides the porcelain's own leftover checks).
"""

import concurrent.futures
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from husktest import host
from test_porcelain_helpers import Husk, husk_bin  # noqa: F401  (fixture)

BUSYBOX = "/bin/busybox"


def _netfw(husk_binary):
    p = Path(os.environ.get("HUSK_NETFW") or Path(husk_binary).parent / "husk-netfw")
    return str(p) if os.access(p, os.X_OK) else None


@pytest.fixture(scope="module")
def netns_name():
    """A network namespace of our own for the whole module, lo up."""
    if os.geteuid() != 0:
        pytest.skip("networking tests need root")
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` not installed (iproute2 / util-linux)")
    name = f"husktest-net-{secrets.token_hex(4)}"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {p.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


class NetHusk(Husk):
    """`husk` run inside the test's network namespace."""

    def __init__(self, binary, base, ns):
        super().__init__(binary, base)
        self.ns = ns
        self.env = dict(os.environ)
        fw = _netfw(binary)
        if fw:
            self.env["HUSK_NETFW"] = fw

    def cmd(self, *args):
        return ["nsenter", f"--net=/run/netns/{self.ns}", *super().cmd(*args)]

    def __call__(self, *args, **kw):
        kw.setdefault("env", self.env)
        return super().__call__(*args, **kw)

    def inns(self, *argv, timeout=20, check=False):
        """Run a command in the test's namespace (the "host" of the containers)."""
        return subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.ns}", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            stdin=subprocess.DEVNULL,
        )

    def ip_of(self, ref, network="bridge"):
        doc = self.inspect(ref)
        addr = doc["NetworkSettings"]["Networks"][network]["IPAddress"]
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", addr), doc["NetworkSettings"]
        return addr

    def veths(self):
        p = self.inns("ip", "-o", "link", "show", "type", "veth", check=True)
        return [line.split(":")[1].strip().split("@")[0] for line in p.stdout.splitlines()]

    def leases(self):
        out = []
        d = self.data_root / "networks"
        if d.is_dir():
            for net in d.iterdir():
                ld = net / "leases"
                if ld.is_dir():
                    out += [f"{net.name}/{e.name}" for e in ld.iterdir()]
        return out

    def husk_table(self):
        fw = self.env.get("HUSK_NETFW")
        if fw:
            return self.inns(fw, "list", check=True).stdout.strip()
        if shutil.which("nft"):
            p = self.inns("nft", "list", "table", "ip", "husk")
            return p.stdout.strip() if p.returncode == 0 else ""
        return ""

    def net_leftovers(self):
        problems = [f"veth left: {v}" for v in self.veths()]
        problems += [f"lease left: {lease}" for lease in self.leases()]
        if self.husk_table():
            problems.append("table ip husk left:\n" + self.husk_table())
        return problems


@pytest.fixture
def nhusk(husk_bin, netns_name):  # noqa: F811
    if _netfw(husk_bin) is None:
        pytest.skip("husk-netfw not built (libnftables-dev missing?)")
    if not os.path.isfile(BUSYBOX):
        pytest.skip("no /bin/busybox (apt-get install busybox-static)")
    base = Path(tempfile.mkdtemp(prefix="husktest-net-", dir="/tmp"))
    os.chmod(base, 0o755)
    before = host.HostSnapshot()
    h = NetHusk(husk_bin, base, netns_name)
    yield h
    problems = h.cleanup()
    problems += h.net_leftovers()
    p = h("network", "ls", "-q", check=False)
    nets = p.stdout.split() if p.returncode == 0 else []
    if nets:
        h("network", "rm", *nets, check=False)
    changed = before.differences()
    if changed:
        before.restore_names()
    problems += changed
    if not host.mounts_under(str(base)):
        subprocess.run(["rm", "-rf", "--one-file-system", str(base)], check=False)
    if problems:
        pytest.fail("left behind:\n  " + "\n  ".join(problems), pytrace=False)


SERVER = "echo ready; while true; do echo hello-from-$(hostname) | nc -l -p 7000; done"


def start_server(h, *flags, name=None):
    args = ["--network", "bridge", *flags]
    if name:
        args += ["--name", name]
    cid = h.run_d(*args, "busybox", "sh", "-c", SERVER)
    h.wait_log(cid, "ready")
    return cid


def fetch(h, addr, port, in_container=None, tries=25):
    """Read the greeting at addr:port from the test namespace, or from a new
    container on the bridge (in_container: extra run flags)."""
    last = None
    for _ in range(tries):
        if in_container is None:
            p = h.inns(BUSYBOX, "nc", "-w", "3", addr, str(port))
        else:
            p = h("run", "--rm", *in_container, "busybox", "nc", "-w", "3", addr, str(port),
                  check=False)
        if p.returncode == 0 and "hello-from-" in p.stdout:
            return p.stdout.strip()
        last = p
        time.sleep(0.2)  # the server's nc is between two connections
    pytest.fail(f"no greeting from {addr}:{port}: rc={last.returncode} out={last.stdout!r} "
                f"err={last.stderr!r}", pytrace=False)


def one_line_error(p, *words):
    assert p.returncode != 0, f"expected a failure, got rc 0: {p.stdout!r}"
    err = p.stderr.strip()
    assert err.count("\n") == 0, f"error is not one line: {err!r}"
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


# ---- tests ------------------------------------------------------------------------


def test_network_two_containers_exchange_tcp_by_address_and_name(nhusk):
    srv = start_server(nhusk, name="srv", )
    addr = nhusk.ip_of(srv)
    short = srv[:12]
    assert fetch(nhusk, addr, 7000, in_container=["--network", "bridge"]) == f"hello-from-{short}"
    assert fetch(nhusk, "srv", 7000, in_container=["--network", "bridge"]) == f"hello-from-{short}"


def test_network_earlier_container_learns_later_names(nhusk):
    first = nhusk.run_d("--network", "bridge", "--name", "first", "busybox", "sleep", "60")
    nhusk.run_d("--network", "bridge", "--name", "second", "busybox", "sleep", "60")
    hosts = nhusk("exec", first, "cat", "/etc/hosts").stdout
    assert re.search(r"^\d+\.\d+\.\d+\.\d+\t.*\bsecond\b", hosts, re.M), hosts
    nhusk("rm", "-f", "second")
    hosts = nhusk("exec", first, "cat", "/etc/hosts").stdout
    assert "second" not in hosts


def test_network_host_reaches_container_address(nhusk):
    srv = start_server(nhusk)
    addr = nhusk.ip_of(srv)
    assert addr.startswith("10.88.")  # the namespace has no route in 10.88.0.0/16
    assert fetch(nhusk, addr, 7000).startswith("hello-from-")


def test_network_container_has_eth0_address_and_default_route(nhusk):
    p = nhusk("run", "--rm", "--network", "bridge", "busybox", "sh", "-c",
              "ip -o -4 addr show eth0; ip route; cat /etc/resolv.conf")
    assert re.search(r"eth0\s+inet 10\.88\.\d+\.\d+/16", p.stdout), p.stdout
    assert "default via 10.88.0.1 dev eth0" in p.stdout
    assert "nameserver" in p.stdout


def test_network_published_port_answers_on_localhost(nhusk):
    srv = start_server(nhusk, "-p", "127.0.0.1:18080:7000", "-p", "18081:7000")
    short = srv[:12]
    assert fetch(nhusk, "127.0.0.1", 18080) == f"hello-from-{short}"
    assert fetch(nhusk, "127.0.0.1", 18081) == f"hello-from-{short}"
    assert "dnat to" in nhusk.husk_table()


def test_network_none_has_only_lo(nhusk):
    p = nhusk("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
    links = [line.split(":")[1].strip() for line in p.stdout.splitlines()]
    assert links == ["lo"], p.stdout
    assert "UP" in p.stdout


def test_network_20_parallel_starts_get_20_distinct_addresses(nhusk):
    def start(i):
        return nhusk("run", "-d", "--network", "bridge", "--name", f"par{i}", "busybox", "sleep",
                     "60", check=False, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(start, range(20)))
    for p in results:
        assert p.returncode == 0, p.stderr
    nhusk._learn_ids()
    doc = json.loads(nhusk("network", "inspect", "bridge").stdout)[0]
    addrs = [c["IPv4Address"] for c in doc["Containers"].values()]
    assert len(addrs) == 20
    assert len(set(addrs)) == 20, addrs
    assert len(nhusk.veths()) == 20


def test_network_rm_leaves_no_veth_rule_or_lease(nhusk):
    srv = start_server(nhusk, "-p", "18082:7000/tcp", "-p", "18083:7000/udp")
    assert len(nhusk.veths()) == 1
    assert len(nhusk.leases()) == 1
    assert "dport 18082" in nhusk.husk_table()
    nhusk("rm", "-f", srv)
    assert nhusk.veths() == []
    assert nhusk.leases() == []
    assert nhusk.husk_table() == ""


def test_network_port_in_use_is_a_clear_error_leaving_nothing(nhusk):
    listener = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{nhusk.ns}", "/usr/bin/python3", "-c",
         "import socket, sys, time\n"
         "s = socket.socket()\n"
         "s.bind(('127.0.0.1', 18090))\n"
         "s.listen()\n"
         "print('listening', flush=True)\n"
         "time.sleep(60)\n"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert listener.stdout.readline().strip() == "listening"
        p = nhusk("run", "--rm", "--network", "bridge", "-p", "18090:7000", "busybox", "true",
                  check=False)
        one_line_error(p, "18090", "already in use")
    finally:
        listener.kill()
        listener.wait()
    assert nhusk.container_dirs() == []
    assert nhusk.net_leftovers() == []


def test_network_port_published_twice_is_a_clear_error(nhusk):
    start_server(nhusk, "-p", "18091:7000", name="holder")
    p = nhusk("run", "--rm", "--network", "bridge", "-p", "18091:7000", "busybox", "true",
              check=False)
    one_line_error(p, "18091", "already published by container holder")
    assert len(nhusk.leases()) == 1


@pytest.mark.parametrize(
    "spec,words",
    [
        ("80", ["host port is required"]),
        ("0:80", ["host port"]),
        ("70000:80", ["host port"]),
        ("8080:80/sctp", ["unknown protocol"]),
        ("1.2.3:8080:80", ["not an IPv4 address"]),
        ("x:y", ["host port"]),
    ],
)
def test_network_malformed_publish_is_a_clear_error(nhusk, spec, words):
    p = nhusk("run", "--rm", "--network", "bridge", "-p", spec, "busybox", "true", check=False)
    one_line_error(p, spec, *words)
    assert nhusk.container_dirs() == []
    assert nhusk.net_leftovers() == []


def test_network_create_ls_rm_and_run_on_it(nhusk):
    nhusk("network", "create", "front", "--subnet", "10.77.0.0/24")
    ls = nhusk("network", "ls").stdout
    assert re.search(r"^front\s+hk-front\s+10\.77\.0\.0/24\s+10\.77\.0\.1\s+0$", ls, re.M), ls
    cid = nhusk.run_d("--network", "front", "busybox", "sleep", "60")
    assert nhusk.ip_of(cid, "front") == "10.77.0.2"
    p = nhusk("network", "rm", "front", check=False)
    assert p.returncode != 0 and "in use" in p.stderr
    nhusk("rm", "-f", cid)
    nhusk("network", "rm", "front")
    assert "front" not in nhusk("network", "ls", "-q").stdout.split()
    assert nhusk.inns("ip", "link", "show", "hk-front").returncode != 0


def test_network_create_rejects_bad_subnets(nhusk):
    p = nhusk("network", "create", "bad", "--subnet", "10.77.0.5/24", check=False)
    one_line_error(p, "host bits", "10.77.0.0/24")
    p = nhusk("network", "create", "bad", "--subnet", "10.77.0.0", check=False)
    one_line_error(p, "prefix")
    nhusk("network", "create", "one", "--subnet", "10.78.0.0/16")
    p = nhusk("network", "create", "two", "--subnet", "10.78.4.0/24", check=False)
    one_line_error(p, "overlaps network one")
    p = nhusk("network", "create", "one", "--subnet", "10.79.0.0/16", check=False)
    one_line_error(p, "already exists")
    p = nhusk("run", "--rm", "--network", "nosuch", "busybox", "true", check=False)
    one_line_error(p, "network nosuch not found")
