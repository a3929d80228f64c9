"""OCI bundles for the tests: a busybox-static root filesystem with the probe,
and a config.json generator modelled on `runc spec`."""

import copy
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE = "/bin/probe"

# Linux capability numbers (linux/capability.h).
CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]  # fmt: skip
CAP_BIT = {name: i for i, name in enumerate(CAPS)}

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

DEFAULT_MASKED = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
]
DEFAULT_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

SECCOMP_ARCHES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


def cap_mask(names):
    """The /proc/self/status hex value for a set of capability names."""
    mask = 0
    for n in names:
        mask |= 1 << CAP_BIT[n]
    return mask


def cap_names(mask_hex):
    mask = int(mask_hex, 16)
    return sorted(n for n, b in CAP_BIT.items() if mask & (1 << b))


def default_mounts(cgroup=False):
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
    ]
    if cgroup:
        mounts.append(
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            }
        )
    return mounts


def default_config(args=(PROBE,), hostname="husktest"):
    """A config.json dict like `runc spec`'s, with terminal off, a writable
    root (tests flip root.readonly themselves) and a cgroup namespace."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": [PATH_ENV, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted", "ambient")
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": default_mounts(),
        "linux": {
            "namespaces": [
                {"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")
            ],
            "maskedPaths": list(DEFAULT_MASKED),
            "readonlyPaths": list(DEFAULT_READONLY),
        },
    }


def seccomp_arches():
    return SECCOMP_ARCHES.get(platform.machine(), [])


# ---------------------------------------------------------------------------
# root filesystem


PASSWD = """root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
wheel:x:10:root
tty:x:5:
tester:x:1000:
extra:x:2000:tester
nogroup:x:65534:
"""


def build_base_rootfs(dest, busybox, probe):
    """A minimal root filesystem: static busybox with its applet symlinks, the
    probe at /bin/probe, /etc/passwd and /etc/group, and the usual empty
    directories.  Built once per session; tests get copies."""
    dest = Path(dest)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
              "home/tester", "mnt", "run", "var/tmp"):  # fmt: skip
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    os.chmod(dest / "var/tmp", 0o1777)
    os.chmod(dest / "root", 0o700)
    os.chown(dest / "home/tester", 1000, 1000)
    shutil.copy2(busybox, dest / "bin/busybox")
    os.chmod(dest / "bin/busybox", 0o755)
    listing = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True)
    for rel in listing.stdout.split():
        rel = rel.strip("/")
        if not rel or rel == "bin/busybox":
            continue
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    shutil.copy2(probe, dest / "bin/probe")
    os.chmod(dest / "bin/probe", 0o755)
    (dest / "etc/passwd").write_text(PASSWD)
    (dest / "etc/group").write_text(GROUP)
    (dest / "etc/hostname").write_text("rootfs\n")
    os.chmod(dest, 0o755)


class Bundle:
    """An OCI bundle directory: `rootfs/` (a private copy of the base rootfs)
    and `config.json`, written from `self.config` just before the runtime is
    called (so tests edit the dict freely), unless `write_raw` froze it."""

    def __init__(self, path, base_rootfs, args=(PROBE,)):
        self.path = Path(path)
        self.path.mkdir(parents=True)
        os.chmod(self.path, 0o755)
        self.rootfs = self.path / "rootfs"
        subprocess.run(["cp", "-a", str(base_rootfs), str(self.rootfs)], check=True)
        self.config = default_config(args)
        self._raw = None

    # -- config -------------------------------------------------------------
    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config["linux"]

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)

    def probe(self, *args):
        """Run the probe with these arguments as the container process."""
        self.set_args(PROBE, *args)

    def namespace(self, ns_type):
        for ns in self.linux["namespaces"]:
            if ns["type"] == ns_type:
                return ns
        return None

    def set_namespace(self, ns_type, path=None):
        ns = self.namespace(ns_type)
        if ns is None:
            ns = {"type": ns_type}
            self.linux["namespaces"].append(ns)
        if path is not None:
            ns["path"] = str(path)
        return ns

    def remove_namespace(self, ns_type):
        self.linux["namespaces"] = [n for n in self.linux["namespaces"] if n["type"] != ns_type]

    def add_mount(self, destination, type_, source, options=None):
        m = {"destination": destination, "type": type_, "source": str(source)}
        if options is not None:
            m["options"] = list(options)
        self.config["mounts"].append(m)
        return m

    def write_raw(self, text):
        """Use this exact config.json text (for malformed-input tests)."""
        self._raw = text
        (self.path / "config.json").write_text(text)

    def write(self):
        if self._raw is not None:
            return
        with open(self.path / "config.json", "w") as f:
            json.dump(self.config, f, indent=2)

    def snapshot(self):
        return copy.deepcopy(self.config)
