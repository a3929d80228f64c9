"""`husk run`: every flag, exit codes, image config, bad input that leaves
nothing behind.  Each test has a private --data-root/--root (the phusk
fixture), whose teardown fails the test on any leftover mount, directory,
state, cgroup or process."""

import json
import os
import re
import subprocess

import pytest

from test_porcelain_helpers import (  # noqa: F401  (fixtures)
    cfg_image,
    husk_bin,
    phusk,
)


def lines(p):
    return p.stdout.strip().splitlines()


def one_line_error(p, *words):
    """A failed husk run: non-zero, one line on stderr that names the problem."""
    assert p.returncode != 0
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1, f"expected one line, got {p.stderr!r}"
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


# ---- basics --------------------------------------------------------------------------


def test_run_prints_output(phusk):
    p = phusk("run", "--rm", "busybox", "echo", "hello", "world")
    assert p.stdout == "hello world\n"
    assert p.stderr == ""


def test_run_returns_the_exit_code(phusk):
    for code in (0, 1, 3, 42, 255):
        p = phusk("run", "--rm", "busybox", "sh", "-c", f"exit {code}", check=False)
        assert p.returncode == code, p.stderr


def test_run_default_command_is_the_image_cmd(phusk):
    # busybox's Cmd is ["sh"]: with stdin closed it reads EOF and exits 0
    p = phusk("run", "--rm", "busybox")
    assert p.returncode == 0


def test_command_not_found_is_127_and_leaves_nothing(phusk):
    p = phusk("run", "--rm", "busybox", "no-such-command", check=False)
    assert p.returncode == 127
    assert "no-such-command" in p.stderr
    assert phusk.container_dirs() == []
    assert phusk.names() == []


def test_command_not_executable_is_126(phusk):
    p = phusk("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert p.returncode == 126, p.stderr


def test_run_without_rm_keeps_the_exited_container(phusk):
    p = phusk("run", "--name", "keepme", "busybox", "sh", "-c", "exit 7", check=False)
    assert p.returncode == 7
    rows = phusk.ps("-a")
    assert [r["Names"] for r in rows] == ["keepme"]
    assert rows[0]["State"] == "exited"
    assert rows[0]["ExitCode"] == 7
    assert "Exited (7)" in rows[0]["Status"]
    assert phusk.ps() == []  # not running
    # no mount while it is stopped, only its directory
    doc = phusk.inspect("keepme")
    assert not os.path.ismount(doc["GraphDriver"]["Data"]["MergedDir"])
    assert doc["State"]["ExitCode"] == 7
    phusk("rm", "keepme")
    assert phusk.container_dirs() == []


def test_rm_removes_everything_after_exit(phusk):
    phusk("run", "--rm", "busybox", "sh", "-c", "echo data > /file; exit 0")
    assert phusk.container_dirs() == []
    assert phusk.names() == []
    assert phusk.leftovers() == []


def test_run_writes_go_to_the_container_not_the_image(phusk):
    phusk("run", "--rm", "busybox", "sh", "-c", "echo changed > /etc/motd-test; rm /bin/ls")
    p = phusk("run", "--rm", "busybox", "sh", "-c", "test -e /etc/motd-test || echo clean; ls /")
    assert "clean" in p.stdout
    assert "bin" in p.stdout


# ---- stdin -------------------------------------------------------------------------------


def test_stdin_is_empty_without_i(phusk):
    p = phusk("run", "--rm", "busybox", "cat", input="should not arrive\n")
    assert p.stdout == ""


def test_i_passes_stdin(phusk):
    p = phusk("run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z", input="hello\n")
    assert p.stdout == "HELLO\n"


# ---- environment, user, workdir, hostname -----------------------------------------------


def test_env_flags_env_file_and_precedence(phusk, tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROM_FILE=file\nBOTH=file\n\nHUSK_TEST_HOSTVAR\n")
    env = dict(os.environ, HUSK_TEST_HOSTVAR="from-host", HUSK_TEST_DASH_E="host-e")
    p = phusk(
        "run", "--rm", "-e", "PLAIN=1", "-e", "BOTH=flag", "-e", "HUSK_TEST_DASH_E",
        "-e", "HUSK_TEST_UNSET_VAR", "--env-file", envfile, "busybox", "env", env=env,
    )
    got = dict(line.split("=", 1) for line in lines(p))
    assert got["PLAIN"] == "1"
    assert got["FROM_FILE"] == "file"
    assert got["BOTH"] == "flag"  # -e wins over --env-file
    assert got["HUSK_TEST_HOSTVAR"] == "from-host"
    assert got["HUSK_TEST_DASH_E"] == "host-e"
    assert "HUSK_TEST_UNSET_VAR" not in got
    assert got["PATH"].startswith("/usr/local/sbin")
    assert got["HOME"] == "/root"
    assert re.fullmatch(r"[0-9a-f]{12}", got["HOSTNAME"])


def test_env_file_missing_is_an_error(phusk):
    p = phusk("run", "--rm", "--env-file", "/nonexistent/env", "busybox", "true", check=False)
    one_line_error(p, "--env-file", "/nonexistent/env")
    assert phusk.container_dirs() == []


def test_user_numeric_uid_gid(phusk):
    p = phusk("run", "--rm", "-u", "4242:4343", "busybox", "id")
    assert p.stdout.strip() == "uid=4242 gid=4343"


def test_user_by_name_from_image_passwd(phusk, cfg_image):
    p = phusk("run", "--rm", "-u", "app", "--entrypoint", "", cfg_image, "id")
    # supplementary group "extra" (5000) comes from the image's /etc/group
    assert p.stdout.strip().startswith("uid=1234(app) gid=1234(app)")
    assert "5000(extra)" in p.stdout
    p = phusk("run", "--rm", "-u", "app", "--entrypoint", "", cfg_image, "sh", "-c", "echo $HOME")
    assert p.stdout.strip() == "/home/app"


def test_unknown_user_is_an_error_that_leaves_nothing(phusk):
    p = phusk("run", "--rm", "-u", "nosuchuser", "busybox", "true", check=False)
    one_line_error(p, "nosuchuser")
    assert phusk.container_dirs() == []


def test_workdir_is_created_and_used(phusk):
    p = phusk("run", "--rm", "-w", "/does/not/exist/yet", "busybox", "pwd")
    assert p.stdout.strip() == "/does/not/exist/yet"


def test_relative_workdir_is_rejected(phusk):
    p = phusk("run", "--rm", "-w", "rel", "busybox", "pwd", check=False)
    one_line_error(p, "-w rel")


def test_hostname_defaults_to_the_short_id(phusk):
    cid = phusk.run_d("busybox", "sleep", "30")
    p = phusk("exec", cid, "hostname")
    assert p.stdout.strip() == cid[:12]
    p = phusk("exec", cid, "cat", "/etc/hostname")
    assert p.stdout.strip() == cid[:12]
    phusk("rm", "-f", cid)


def test_hostname_flag_and_hosts_file(phusk):
    p = phusk("run", "--rm", "--hostname", "box1", "busybox", "sh", "-c",
              "hostname; cat /etc/hostname; grep box1 /etc/hosts")
    out = lines(p)
    assert out[0] == "box1"
    assert out[1] == "box1"
    assert "box1" in out[2]


# ---- image config ------------------------------------------------------------------------


def test_image_config_is_applied(phusk, cfg_image):
    # Entrypoint sh -c, Cmd echo ..., User app, WorkingDir /srv/app (created), Env
    p = phusk("run", "--rm", cfg_image)
    assert p.stdout.strip() == "cmd:/bin/sh:1234:/srv/app:yes"


def test_cmd_after_the_image_replaces_the_image_cmd(phusk, cfg_image):
    p = phusk("run", "--rm", cfg_image, "echo override:$SHARED:$FROM_IMAGE")
    assert p.stdout.strip() == "override:image:yes"


def test_e_overrides_the_image_env(phusk, cfg_image):
    p = phusk("run", "--rm", "-e", "SHARED=flag", cfg_image, "echo $SHARED $PATH")
    assert p.stdout.strip() == "flag /usr/local/bin:/bin"


def test_entrypoint_flag_resets_the_image_cmd(phusk, cfg_image):
    p = phusk("run", "--rm", "--entrypoint", "/bin/pwd", cfg_image)
    assert p.stdout.strip() == "/srv/app"
    p = phusk("run", "--rm", "--entrypoint", "/bin/echo", cfg_image, "a", "b")
    assert p.stdout.strip() == "a b"


def test_u_and_w_override_the_image_config(phusk, cfg_image):
    p = phusk("run", "--rm", "-u", "0", "-w", "/tmp", cfg_image)
    assert p.stdout.strip() == "cmd:/bin/sh:0:/tmp:yes"


def test_image_stop_signal_is_used_by_stop(phusk, cfg_image):
    # the image's StopSignal is SIGUSR1: the trap exits 9 on it
    cid = phusk.run_d("-u", "0", cfg_image,
                      "trap 'exit 9' USR1; echo ready; while :; do sleep 0.1; done")
    phusk.wait_log(cid, "ready")
    phusk("stop", "-t", "10", cid)
    assert phusk.inspect(cid)["State"]["ExitCode"] == 9
    phusk("rm", cid)


# ---- root filesystem and mounts ---------------------------------------------------------


def test_read_only_root_rejects_writes(phusk):
    p = phusk("run", "--rm", "--read-only", "busybox", "touch", "/newfile", check=False)
    assert p.returncode != 0
    assert "Read-only file system" in p.stderr


def test_read_only_root_with_a_writable_tmpfs(phusk):
    p = phusk("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c",
              "echo ok > /scratch/f && cat /scratch/f")
    assert p.stdout.strip() == "ok"


def test_tmpfs_is_mounted_with_options(phusk):
    p = phusk("run", "--rm", "--tmpfs", "/scratch:size=1m,mode=700", "busybox", "sh", "-c",
              "grep ' /scratch ' /proc/mounts; stat -c %a /scratch")
    mnt, mode = lines(p)
    assert mnt.split()[2] == "tmpfs"
    assert "size=1024k" in mnt
    assert "noexec" in mnt and "nosuid" in mnt and "nodev" in mnt
    assert mode == "700"


def test_root_is_an_overlay_of_the_image(phusk):
    cid = phusk.run_d("busybox", "sleep", "30")
    doc = phusk.inspect(cid)
    merged = doc["GraphDriver"]["Data"]["MergedDir"]
    assert os.path.ismount(merged)
    assert doc["GraphDriver"]["Name"] == "overlay"
    assert merged.startswith(str(phusk.data_root / "containers" / cid))
    phusk("rm", "-f", cid)
    assert not os.path.exists(merged)


# ---- resources --------------------------------------------------------------------------


def test_memory_limit_is_applied(phusk):
    p = phusk("run", "--rm", "-m", "64m", "busybox", "sh", "-c",
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
              "cat /sys/fs/cgroup/memory.max")
    assert p.stdout.strip() == str(64 * 1024 * 1024)


def test_memory_limit_kills_hog(phusk):
    # tail of an endless line keeps it all in memory until the OOM killer comes
    p = phusk("run", "--rm", "-m", "16m", "--memory-swap", "16m", "busybox", "tail", "/dev/zero",
              check=False, timeout=120)
    assert p.returncode == 137, (p.returncode, p.stderr)


def test_memory_swap_without_memory_is_an_error(phusk):
    p = phusk("run", "--rm", "--memory-swap", "32m", "busybox", "true", check=False)
    one_line_error(p, "--memory-swap")


def test_bad_memory_string_fails_and_leaves_nothing(phusk):
    for bad in ("12x", "lots", "-5m", "1.g"):
        p = phusk("run", "--rm", "-m", bad, "busybox", "true", check=False)
        assert p.returncode == 125
        one_line_error(p, "--memory", bad)
    assert phusk.container_dirs() == []


def test_cpus_sets_the_cfs_quota(phusk):
    p = phusk("run", "--rm", "--cpus", "0.5", "busybox", "sh", "-c",
              "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
              "2>/dev/null || cat /sys/fs/cgroup/cpu.max")
    out = p.stdout.split()
    assert out[:2] == ["50000", "100000"], p.stdout


def test_bad_cpus_is_an_error(phusk):
    p = phusk("run", "--rm", "--cpus", "many", "busybox", "true", check=False)
    one_line_error(p, "--cpus")
    p = phusk("run", "--rm", "--cpus", "100000", "busybox", "true", check=False)
    one_line_error(p, "--cpus", "range")


def test_cpuset_cpus(phusk):
    p = phusk("run", "--rm", "--cpuset-cpus", "0", "busybox", "sh", "-c",
              "cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null || "
              "cat /sys/fs/cgroup/cpuset.cpus; grep Cpus_allowed_list /proc/self/status")
    out = lines(p)
    assert out[0] == "0"
    assert out[1].split()[-1] == "0"


def test_pids_limit(phusk):
    p = phusk("run", "--rm", "--pids-limit", "7", "busybox", "sh", "-c",
              "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
    assert p.stdout.strip() == "7"


def test_limits_are_in_inspect(phusk):
    cid = phusk.run_d("-m", "32m", "--cpus", "0.25", "--pids-limit", "9", "busybox", "sleep", "30")
    hc = phusk.inspect(cid)["HostConfig"]
    assert hc["Memory"] == 32 * 1024 * 1024
    assert hc["NanoCpus"] == 250000000
    assert hc["PidsLimit"] == 9
    phusk("rm", "-f", cid)


# ---- network ----------------------------------------------------------------------------


def test_network_none_has_only_loopback_up(phusk):
    p = phusk("run", "--rm", "busybox", "cat", "/proc/net/dev")
    ifaces = [line.split(":")[0].strip() for line in lines(p)[2:]]
    assert ifaces == ["lo"]
    p = phusk("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link", "show", "lo")
    assert "UP" in p.stdout


def test_network_none_loopback_works(phusk):
    p = phusk("run", "--rm", "busybox", "sh", "-c",
              # the listener's stdin stays open: busybox nc stops at EOF on it
              "(sleep 5 | nc -l -p 5555 > /tmp/got) & "
              "for i in $(seq 50); do echo ping | nc 127.0.0.1 5555 && break; sleep 0.1; done; "
              "for i in $(seq 50); do [ -s /tmp/got ] && break; sleep 0.1; done; cat /tmp/got")
    assert "ping" in p.stdout


def test_network_host_shares_the_host_network(phusk):
    want = sorted(os.listdir("/sys/class/net"))
    p = phusk("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert sorted(p.stdout.split()) == want
    p = phusk("run", "--rm", "--network", "host", "busybox", "hostname")
    assert p.stdout.strip() == os.uname().nodename


def test_network_unknown_mode_is_an_error(phusk):
    p = phusk("run", "--rm", "--network", "carrier-pigeon", "busybox", "true", check=False)
    one_line_error(p, "carrier-pigeon")


# ---- names and bad input ----------------------------------------------------------------


def test_unknown_image_fails_and_leaves_nothing(phusk):
    p = phusk("run", "--rm", "no-such-image-anywhere", "true", check=False)
    assert p.returncode == 125
    one_line_error(p, "no-such-image-anywhere")
    assert phusk.container_dirs() == []
    assert phusk.names() == []


def test_name_in_use_fails_and_leaves_the_first_alone(phusk):
    cid = phusk.run_d("--name", "web", "busybox", "sleep", "30")
    p = phusk("run", "--rm", "--name", "web", "busybox", "true", check=False)
    assert p.returncode == 125
    one_line_error(p, "web", "already in use", cid[:12])
    assert phusk.container_dirs() == [cid]
    assert phusk.status("web") == "running"
    phusk("rm", "-f", "web")
    # the name is free again
    phusk("run", "--rm", "--name", "web", "busybox", "true")


def test_invalid_name_is_rejected(phusk):
    for bad in ("a", "-x", "has/slash", "sp ace"):
        p = phusk("run", "--rm", "--name", bad, "busybox", "true", check=False)
        one_line_error(p, "name")
    assert phusk.container_dirs() == []


def test_unknown_flag_is_an_error(phusk):
    p = phusk("run", "--frobnicate", "busybox", "true", check=False)
    assert p.returncode == 125
    one_line_error(p, "--frobnicate")


def test_missing_image_argument(phusk):
    p = phusk("run", "--rm", check=False)
    one_line_error(p, "IMAGE")


def test_duplicate_mount_point_is_an_error(phusk, tmp_path):
    p = phusk("run", "--rm", "-v", f"{tmp_path}:/x", "--tmpfs", "/x", "busybox", "true",
              check=False)
    one_line_error(p, "duplicate mount point", "/x")
    assert phusk.container_dirs() == []


# ---- help ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd", ["run", "ps", "logs", "exec", "stop", "kill", "rm", "inspect", "volume"]
)
def test_every_command_has_help(phusk, cmd):
    p = phusk(cmd, "--help")
    assert p.stdout.startswith(f"Usage: husk {cmd}")


def test_global_help_lists_the_commands(phusk):
    p = phusk("--help")
    for cmd in ("run", "ps", "logs", "exec", "stop", "kill", "rm", "inspect", "volume", "oci"):
        assert re.search(rf"^  {cmd}\s", p.stdout, re.M), cmd


def test_data_root_from_the_environment(phusk):
    env = dict(os.environ, HUSK_DATA_ROOT=str(phusk.data_root))
    p = subprocess.run(
        [phusk.binary, "--root", str(phusk.state_root), "run", "--name", "envroot", "busybox",
         "true"],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert phusk.ps("-a")[0]["Names"] == "envroot"
    phusk("rm", "envroot")


def test_inspect_of_a_run_container_is_json(phusk):
    phusk("run", "--name", "insp", "-e", "K=V", "busybox", "true")
    doc = phusk.inspect("insp")
    assert doc["Name"] == "insp"
    assert doc["Path"] == "true"
    assert "K=V" in doc["Config"]["Env"]
    assert doc["State"]["Status"] == "exited"
    assert doc["ImageName"] == "busybox"
    assert doc["Image"].startswith("sha256:")
    json.dumps(doc)
    phusk("rm", "insp")
