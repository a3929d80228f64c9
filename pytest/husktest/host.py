"""Facts about the host the OCI tests compare before and after: mounts,
cgroup directories, processes, hostname.

Nothing here changes the host except `force_cleanup`, which only touches what
a test created (mounts under its own work dir, cgroups named after its own
container ids, processes whose pid and start time it recorded)."""

import os
import re
import signal
import socket
import subprocess
import time

CGROUP_ROOT = "/sys/fs/cgroup"

# Mount points below these prefixes belong to tests or other tools running at
# the same time (other engineers share the machine): leave them out of the
# "host mounts must not change" comparison.
VOLATILE_MOUNT_PREFIXES = (
    "/tmp/",
    "/var/tmp/",
    "/run/netns",
    "/run/user/",
    "/run/containerd",
    "/run/containers",
    "/run/husk",
    "/run/runc",
    "/run/crun",
    "/var/lib/containers",
    "/var/lib/containerd",
    "/work/",
)


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo(pid="self"):
    """Parsed /proc/PID/mountinfo: a list of dicts (id, parent, root,
    mount_point, options, fstype, source, super_options)."""
    out = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            left, _, right = line.rstrip("\n").partition(" - ")
            fields = left.split(" ")
            rfields = right.split(" ")
            if len(fields) < 6 or len(rfields) < 1:
                continue
            out.append(
                {
                    "id": int(fields[0]),
                    "parent": int(fields[1]),
                    "root": _unescape(fields[3]),
                    "mount_point": _unescape(fields[4]),
                    "options": fields[5],
                    "fstype": rfields[0],
                    "source": _unescape(rfields[1]) if len(rfields) > 1 else "",
                    "super_options": rfields[2] if len(rfields) > 2 else "",
                }
            )
    return out


def _under(path, prefix):
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def mounts_under(prefix):
    """Host mounts whose mount point is `prefix` or below it, deepest first."""
    prefix = os.path.realpath(prefix)
    found = [m for m in mountinfo() if _under(m["mount_point"], prefix)]
    return sorted(found, key=lambda m: -len(m["mount_point"]))


def mounts_mentioning(text):
    """Host mount lines whose mount point, root or source contains `text`."""
    return [
        m
        for m in mountinfo()
        if text in m["mount_point"] or text in m["root"] or text in m["source"]
    ]


def cgroup_dirs_named(fragment, max_depth=5):
    """Directories under /sys/fs/cgroup whose name contains `fragment`."""
    found = []
    if not os.path.isdir(CGROUP_ROOT):
        return found
    base_depth = CGROUP_ROOT.rstrip("/").count("/")
    for dirpath, dirnames, _ in os.walk(CGROUP_ROOT):
        depth = dirpath.count("/") - base_depth
        for d in dirnames:
            if fragment in d:
                found.append(os.path.join(dirpath, d))
        if depth >= max_depth:
            dirnames[:] = []
    return found


def remove_cgroup_tree(path):
    """rmdir a cgroup directory and its children, deepest first."""
    for dirpath, dirnames, _ in os.walk(path, topdown=False):
        for d in dirnames:
            try:
                os.rmdir(os.path.join(dirpath, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def pid_start_time(pid):
    """Field 22 of /proc/PID/stat (clock ticks since boot), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    # rest[0] is field 3 (state); start time is field 22.
    return int(rest[19])


def pid_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(")") + 2 :].split()[0]


def pid_alive(pid, start_time=None):
    """True when pid exists (not a zombie) and, if given, has that start time."""
    st = pid_start_time(pid)
    if st is None:
        return False
    if start_time is not None and st != start_time:
        return False
    return pid_state(pid) not in (None, "Z", "X")


def wait_pid_gone(pid, start_time=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid, start_time):
            return True
        time.sleep(0.05)
    return not pid_alive(pid, start_time)


def kill_recorded(pid, start_time):
    """SIGKILL a process this test started, identified by pid + start time."""
    if pid and pid_alive(pid, start_time):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        wait_pid_gone(pid, start_time, 5)


def unmount_under(prefix):
    """Lazily unmount every mount at or below prefix (deepest first)."""
    for m in mounts_under(prefix):
        subprocess.run(["umount", "-l", m["mount_point"]], capture_output=True)


def netns_names():
    try:
        return sorted(os.listdir("/run/netns"))
    except OSError:
        return []


class HostSnapshot:
    """What must be the same after every OCI test: the hostname and
    domainname, the host's own (non-volatile) mounts, no new mounts on
    non-volatile paths."""

    def __init__(self):
        uts = os.uname()
        self.hostname = uts.nodename
        self.domainname = _read("/proc/sys/kernel/domainname").strip()
        self.mounts = {self._key(m) for m in mountinfo() if self._stable(m)}

    @staticmethod
    def _key(m):
        return (m["mount_point"], m["fstype"], m["source"])

    @staticmethod
    def _stable(m):
        mp = m["mount_point"]
        return not any(mp.startswith(p) for p in VOLATILE_MOUNT_PREFIXES)

    def differences(self):
        """Human-readable list of changes since the snapshot (empty when none)."""
        problems = []
        now = HostSnapshot.__new__(HostSnapshot)
        now.hostname = socket.gethostname()
        now.domainname = _read("/proc/sys/kernel/domainname").strip()
        if now.hostname != self.hostname:
            problems.append(f"host hostname changed: {self.hostname!r} -> {now.hostname!r}")
        if now.domainname != self.domainname:
            problems.append(f"host domainname changed: {self.domainname!r} -> {now.domainname!r}")
        current = {self._key(m) for m in mountinfo() if self._stable(m)}
        for k in sorted(self.mounts - current):
            problems.append(f"host mount disappeared: {k[0]} ({k[1]} from {k[2]})")
        for k in sorted(current - self.mounts):
            problems.append(f"new host mount: {k[0]} ({k[1]} from {k[2]})")
        return problems

    def restore_names(self):
        """Put the hostname/domainname back if a runtime bug changed them."""
        if socket.gethostname() != self.hostname:
            subprocess.run(["hostname", self.hostname], capture_output=True)
        if _read("/proc/sys/kernel/domainname").strip() != self.domainname:
            try:
                with open("/proc/sys/kernel/domainname", "w") as f:
                    f.write(self.domainname)
            except OSError:
                pass


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
