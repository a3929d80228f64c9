"""A snapshot of the host state a container runtime can leak, and a diff that
names what leaked (issue 9).

    snap = snapshot(scope)          # before
    ... run containers ...
    leaks = settle_diff(snap, scope)   # after; [] when nothing leaked

On a machine shared with other tests, only the cgroups, netns and veths that
mention the scope count (see strict_default); mounts, state dirs, leases,
fds and processes are always compared.

What is captured:
  mounts      every mount line (mount point, fstype, source, root), counted,
              except mounts under other tools' volatile prefixes that are not
              in the scope (other engineers share the machine)
  cgroups     directories under every hierarchy of /sys/fs/cgroup whose name
              contains "husk" or one of the scope's fragments, and every
              directory below those
  netns       names in /run/netns and `ip netns` ids
  veths       veth links of the host network namespace
  nft         nftables tables named husk (any family), with a rule count
  state       entries of the husk state roots (/run/husk and the scope's)
  leases      IPAM leases under the scope's data roots
  data        entries of the scope's data roots that a crash can leave:
              containers/*, containers/.names/*, holds/*, tmp/*, layers/*,
              blobs/sha256/* (a half layer, a record-less container dir, a
              name or image hold of a missing container)
  fds         open fds of the test process (with what they point to)
  procs       processes whose cmdline or cwd mentions a scope path or fragment

Scope: `Scope(paths=[...], fragments=[...], state_roots=[...],
data_roots=[...])`.  Paths are the test's own directories; fragments are
container ids or a token in them.

Nothing here changes the host.
"""

import collections
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from . import host

CGROUP_ROOT = "/sys/fs/cgroup"
DEFAULT_STATE_ROOTS = ("/run/husk",)


@dataclass
class Scope:
    paths: list = field(default_factory=list)  # the test's directories
    fragments: list = field(default_factory=list)  # ids / tokens in names
    state_roots: list = field(default_factory=list)  # husk --root dirs
    data_roots: list = field(default_factory=list)  # husk --data-root dirs

    def mentions(self, text):
        return any(p and p in text for p in self.paths) or any(
            f and f in text for f in self.fragments
        )


@dataclass
class Snapshot:
    mounts: collections.Counter
    cgroups: set
    netns: set
    veths: set
    nft: dict
    state: set
    leases: set
    data: set
    fds: dict
    procs: dict


# ---- collectors -------------------------------------------------------------------------


def _mounts(scope):
    out = collections.Counter()
    for m in host.mountinfo():
        mp = m["mount_point"]
        volatile = any(mp.startswith(p) for p in host.VOLATILE_MOUNT_PREFIXES)
        if volatile and not scope.mentions(mp) and not scope.mentions(m["root"]):
            continue
        out[(mp, m["fstype"], m["source"], m["root"])] += 1
    return out


def _cgroups(scope, max_depth=6):
    """cgroup directories named like husk or the scope, and all below them."""
    found = set()
    if not os.path.isdir(CGROUP_ROOT):
        return found
    base = CGROUP_ROOT.rstrip("/").count("/")
    for dirpath, dirnames, _ in os.walk(CGROUP_ROOT):
        depth = dirpath.count("/") - base
        inside = "husk" in dirpath[len(CGROUP_ROOT) :] or scope.mentions(dirpath)
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if inside or "husk" in d or scope.mentions(d):
                found.add(p)
        if depth >= max_depth:
            dirnames[:] = []
    return found


def _run(argv):
    if shutil.which(argv[0]) is None:
        return ""
    p = subprocess.run(argv, capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else ""


def _netns():
    names = set(host.netns_names())
    for line in _run(["ip", "netns", "list"]).splitlines():
        if line.strip():
            names.add(line.split()[0])
    return names


def _veths():
    out = set()
    for line in _run(["ip", "-o", "link", "show", "type", "veth"]).splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            out.add(parts[1].strip().split("@")[0])
    return out


def _nft():
    """{(family, table): number of rules} for tables named like husk."""
    out = {}
    tables = _run(["nft", "list", "tables"])
    for line in tables.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "table" and "husk" in f[2]:
            body = _run(["nft", "-a", "list", "table", f[1], f[2]])
            out[(f[1], f[2])] = sum(1 for ln in body.splitlines() if "# handle" in ln and ";" in ln)
    return out


def _state(scope):
    out = set()
    for root in list(DEFAULT_STATE_ROOTS) + list(scope.state_roots):
        try:
            for e in os.listdir(root):
                out.add(os.path.join(root, e))
        except OSError:
            pass
    return out


def _leases(scope):
    out = set()
    for dr in scope.data_roots:
        nets = os.path.join(dr, "networks")
        try:
            names = os.listdir(nets)
        except OSError:
            continue
        for n in names:
            try:
                for lease in os.listdir(os.path.join(nets, n, "leases")):
                    out.add(f"{n}/{lease}")
            except OSError:
                pass
    return out


DATA_DIRS = ("containers", "containers/.names", "holds", "tmp", "layers", "blobs/sha256")


def _data(scope):
    out = set()
    for dr in scope.data_roots:
        for sub in DATA_DIRS:
            try:
                for e in os.listdir(os.path.join(dr, sub)):
                    if sub == "containers" and e == ".names":
                        continue
                    out.add(f"{dr}/{sub}/{e}")
            except OSError:
                pass
    return out


def _fds():
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return out


def _procs(scope):
    """{pid: cmdline} of processes (not us) whose cmdline or cwd mentions the scope."""
    out = {}
    me = os.getpid()
    if not scope.paths and not scope.fragments:
        return out
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        try:
            with open(f"/proc/{e}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        try:
            cwd = os.readlink(f"/proc/{e}/cwd")
        except OSError:
            cwd = ""
        if host.pid_state(int(e)) in (None, "Z", "X"):
            continue
        if scope.mentions(cmd) or (cwd and scope.mentions(cwd)):
            out[int(e)] = cmd or f"[{cwd}]"
    return out


def snapshot(scope=None):
    scope = scope or Scope()
    return Snapshot(
        mounts=_mounts(scope),
        cgroups=_cgroups(scope),
        netns=_netns(),
        veths=_veths(),
        nft=_nft(),
        state=_state(scope),
        leases=_leases(scope),
        data=_data(scope),
        fds=_fds(),
        procs=_procs(scope),
    )


# ---- diff -------------------------------------------------------------------------------


def strict_default():
    """Strict diffs count every new husk cgroup, netns, veth and nftables
    change as a leak, also those no test of ours can be tied to.  Right on a
    quiet machine (CI); on a machine shared with other engineers' tests their
    containers would show up, so only in CI or with HUSK_SNAPSHOT_STRICT=1."""
    v = os.environ.get("HUSK_SNAPSHOT_STRICT")
    if v is not None:
        return v not in ("", "0", "no")
    return os.environ.get("CI", "") == "true"


def diff(before, after, scope=None, strict=None):
    """What is in `after` and not in `before` (leaks), and what disappeared:
    a list of readable lines, empty when the host is the same.

    Not strict: cgroups, netns, veths and nftables count only when they
    mention the scope (its paths or fragments, e.g. container ids)."""
    strict = strict_default() if strict is None else strict
    if not strict:
        scope = scope or Scope()
        before = _filtered(before, scope)
        after = _filtered(after, scope)
    out = []
    for k in sorted((after.mounts - before.mounts).elements()):
        out.append(f"mount leaked: {k[0]} ({k[1]} from {k[2]}, root {k[3]})")
    for k in sorted((before.mounts - after.mounts).elements()):
        out.append(f"mount disappeared: {k[0]} ({k[1]} from {k[2]})")
    out += [f"cgroup leaked: {p}" for p in sorted(after.cgroups - before.cgroups)]
    out += [f"network namespace leaked: {n}" for n in sorted(after.netns - before.netns)]
    out += [f"veth leaked: {n}" for n in sorted(after.veths - before.veths)]
    for t in sorted(set(after.nft) | set(before.nft)):
        a, b = after.nft.get(t), before.nft.get(t)
        if b is None:
            out.append(f"nftables table leaked: {t[0]} {t[1]} ({a} rules)")
        elif a is None:
            out.append(f"nftables table disappeared: {t[0]} {t[1]}")
        elif a != b:
            out.append(f"nftables table {t[0]} {t[1]}: {b} rules before, {a} after")
    out += [f"state dir leaked: {p}" for p in sorted(after.state - before.state)]
    out += [f"IPAM lease leaked: {x}" for x in sorted(after.leases - before.leases)]
    out += [f"data-root entry leaked: {x}" for x in sorted(after.data - before.data)]
    for fd in sorted(set(after.fds) - set(before.fds)):
        out.append(f"fd leaked in the test process: {fd} -> {after.fds[fd]}")
    for pid in sorted(set(after.procs) - set(before.procs)):
        out.append(f"process leaked: {pid} {after.procs[pid]!r}")
    return out


def _filtered(snap, scope):
    mine = scope.mentions
    roots = [r.rstrip("/") + "/" for r in scope.state_roots]
    return Snapshot(
        mounts=snap.mounts,
        cgroups={p for p in snap.cgroups if mine(p)},
        netns={n for n in snap.netns if mine(n)},
        veths={n for n in snap.veths if mine(n)},
        nft={},
        state={p for p in snap.state if mine(p) or any(p.startswith(r) for r in roots)},
        leases=snap.leases,
        data=snap.data,
        fds=snap.fds,
        procs=snap.procs,
    )


def settle_diff(before, scope=None, timeout=3.0, strict=None):
    """diff(before, snapshot now), retried until it is empty or `timeout`
    passed (an exiting process or a lazily freed cgroup takes a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        d = diff(before, snapshot(scope), scope, strict)
        if not d or time.monotonic() >= deadline:
            return d
        time.sleep(0.1)


class CreatedNames:
    """Names created in a directory while this watches it (inotify), e.g. the
    ids of containers the porcelain made under <data-root>/containers, which
    --rm removes again before a snapshot could see them."""

    IN_CREATE, IN_MOVED_TO, IN_NONBLOCK = 0x100, 0x80, 0o4000

    def __init__(self, path):
        import ctypes

        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(self.IN_NONBLOCK | 0o2000000)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        wd = self._libc.inotify_add_watch(self.fd, str(path).encode(),
                                          self.IN_CREATE | self.IN_MOVED_TO)  # fmt: skip
        if wd < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self.names = set()

    def collect(self):
        import struct

        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            i = 0
            while i + 16 <= len(buf):
                _, _, _, ln = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16 : i + 16 + ln].rstrip(b"\0").decode(errors="replace")
                if name:
                    self.names.add(name)
                i += 16 + ln
        return self.names

    def close(self):
        self.collect()
        os.close(self.fd)
