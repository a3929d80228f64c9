"""`husk run` security defaults, like docker's: the default capability set,
--cap-add/--cap-drop, --privileged, the default seccomp profile,
--security-opt seccomp=FILE|unconfined and no-new-privileges, and the masked
and read-only /proc paths."""

import json
import re

from test_porcelain_helpers import husk_bin, phusk  # noqa: F401

# docker's 14: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
# NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
CAP = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
       "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13,
       "SYS_CHROOT": 18, "SYS_ADMIN": 21, "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31}
DOCKER_CAPS = [c for c in CAP if c not in ("NET_ADMIN", "SYS_ADMIN")]


def mask(*names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m


def status(phusk, *args, cmd="cat /proc/self/status"):
    """Fields of /proc/self/status inside a container run with args."""
    p = phusk("run", "--rm", *args, "busybox", "sh", "-c", cmd)
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def host_bounding():
    for line in open("/proc/self/status"):
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapBnd")


def test_default_caps_are_dockers_14(phusk):
    st = status(phusk)
    want = mask(*DOCKER_CAPS)
    assert int(st["CapEff"], 16) == want
    assert int(st["CapPrm"], 16) == want
    assert int(st["CapBnd"], 16) == want
    assert int(st["CapInh"], 16) == 0
    assert int(st["CapAmb"], 16) == 0


def test_non_root_user_has_no_effective_caps(phusk):
    st = status(phusk, "-u", "1234:1234")
    assert int(st["CapEff"], 16) == 0
    assert int(st["CapAmb"], 16) == 0
    assert int(st["CapBnd"], 16) == mask(*DOCKER_CAPS)


def test_cap_add_and_drop(phusk):
    st = status(phusk, "--cap-add", "net_admin", "--cap-add", "CAP_SYS_ADMIN",
                "--cap-drop", "chown", "--cap-drop", "CAP_net_raw")
    want = (mask(*DOCKER_CAPS) | mask("NET_ADMIN", "SYS_ADMIN")) & ~mask("CHOWN", "NET_RAW")
    assert int(st["CapEff"], 16) == want
    assert int(st["CapBnd"], 16) == want


def test_cap_drop_all_keeps_only_added(phusk):
    st = status(phusk, "--cap-drop", "ALL", "--cap-add", "kill")
    assert int(st["CapEff"], 16) == mask("KILL")
    assert int(st["CapBnd"], 16) == mask("KILL")


def test_cap_drop_chown_refuses_chown(phusk):
    p = phusk("run", "--rm", "--cap-drop", "CHOWN", "busybox", "sh", "-c",
              "touch /tmp/f && chown 1234 /tmp/f", check=False)
    assert p.returncode != 0
    assert "Operation not permitted" in p.stderr
    phusk("run", "--rm", "busybox", "sh", "-c", "touch /tmp/f && chown 1234 /tmp/f")


def test_unknown_cap_is_an_error(phusk):
    p = phusk("run", "--rm", "--cap-add", "CAP_FLY", "busybox", "true", check=False)
    assert p.returncode != 0
    assert "--cap-add CAP_FLY: unknown capability" in p.stderr


def test_privileged_has_every_cap_no_seccomp_no_masks(phusk):
    st = status(phusk, "--privileged")
    assert int(st["CapEff"], 16) == host_bounding()
    assert int(st["CapBnd"], 16) == host_bounding()
    assert st["Seccomp"] == "0"
    p = phusk("run", "--rm", "--privileged", "busybox", "cat", "/proc/mounts")
    mounts = {line.split()[1]: line.split()[3] for line in p.stdout.splitlines()}
    for masked in ("/proc/keys", "/proc/timer_list", "/proc/acpi"):
        assert masked not in mounts, p.stdout
    assert "/proc/sys" not in mounts
    assert mounts["/sys"].startswith("rw"), p.stdout


def test_default_masks_and_readonly_proc_paths(phusk):
    p = phusk("run", "--rm", "busybox", "cat", "/proc/mounts")
    mounts = {line.split()[1]: (line.split()[2], line.split()[3]) for line in p.stdout.splitlines()}
    assert mounts["/proc/keys"][0] == "tmpfs" or mounts["/proc/keys"][0] == "devtmpfs", p.stdout
    assert mounts["/proc/timer_list"][0] in ("tmpfs", "devtmpfs"), p.stdout
    for ro in ("/proc/sys", "/proc/irq", "/proc/bus"):
        assert mounts[ro][1].split(",")[0] == "ro", (ro, p.stdout)
    assert mounts["/sys"][1].split(",")[0] == "ro"
    p = phusk("run", "--rm", "busybox", "wc", "-c", "/proc/timer_list")
    assert p.stdout.split()[0] == "0"


def test_default_seccomp_blocks_unshare_user_namespace(phusk):
    st = status(phusk)
    assert st["Seccomp"] == "2"
    assert st["NoNewPrivs"] == "0"
    p = phusk("run", "--rm", "busybox", "unshare", "-U", "true", check=False)
    assert p.returncode != 0
    assert "Operation not permitted" in p.stderr


def test_default_seccomp_allows_normal_work(phusk):
    script = (
        "set -e; mkdir -p /tmp/w/a && cd /tmp/w && echo hi > a/f && cp -a a b && "
        "ln -s b/f l && cat l && tar cf t.tar a b && tar tf t.tar | sort | tr '\\n' ' ' && "
        "mknod /tmp/w/null c 1 3 && chown -R 1234:1234 /tmp/w && chmod 700 b; "
        "sleep 0.01 & wait; ps >/dev/null; date >/dev/null; id -u; "
        "echo x | sha256sum >/dev/null; chroot / true; renice -n 1 $$ >/dev/null; "
        "setpriv --nnp true; echo done"
    )
    p = phusk("run", "--rm", "busybox", "sh", "-c", script)
    assert p.stdout.splitlines()[-1] == "done", p.stdout + p.stderr
    assert "hi" in p.stdout


def test_seccomp_unconfined_allows_unshare(phusk):
    st = status(phusk, "--security-opt", "seccomp=unconfined")
    assert st["Seccomp"] == "0"
    phusk("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox",
          "unshare", "-U", "true")


def test_cap_add_sys_admin_allows_unshare_like_docker(phusk):
    phusk("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "unshare", "-U", "true")


def test_seccomp_file_applies(phusk):
    prof = phusk.base / "no-mkdir.json"
    prof.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }))
    p = phusk("run", "--rm", "--security-opt", f"seccomp={prof}", "busybox", "sh", "-c",
              "echo alive; mkdir /tmp/d", check=False)
    assert p.stdout.strip() == "alive"
    assert p.returncode != 0
    assert "Operation not permitted" in p.stderr
    # the same profile allows unshare (the default one would not)
    phusk("run", "--rm", "--security-opt", f"seccomp={prof}", "busybox", "unshare", "-U", "true")


def test_seccomp_file_missing_is_an_error(phusk):
    p = phusk("run", "--rm", "--security-opt", f"seccomp={phusk.base}/nope.json", "busybox",
              "true", check=False)
    assert p.returncode != 0
    assert "nope.json" in p.stderr


def test_no_new_privileges(phusk):
    st = status(phusk, "--security-opt", "no-new-privileges")
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    st = status(phusk, "--security-opt", "no-new-privileges=true")
    assert st["NoNewPrivs"] == "1"
    st = status(phusk, "--security-opt", "no-new-privileges=false")
    assert st["NoNewPrivs"] == "0"


def test_unsupported_security_opt_is_an_error(phusk):
    p = phusk("run", "--rm", "--security-opt", "label=disable", "busybox", "true", check=False)
    assert p.returncode != 0
    assert re.search(r"--security-opt label=disable: unsupported", p.stderr)
