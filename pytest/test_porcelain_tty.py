"""`-it` through a real pty (python's pty module plays the user's terminal):
the prompt, the window size and its changes, ^C reaching the container's
foreground process, ^D ending the shell, the exit code, and exec -it."""

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time

import pytest

from test_porcelain_helpers import husk_bin, phusk  # noqa: F401  (fixtures)


class Terminal:
    """A husk command on the slave side of a fresh pty (as its controlling
    terminal, like an interactive shell would run it)."""

    def __init__(self, argv, rows=24, cols=80):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.resize(rows, cols, notify=False)
        self.buf = b""

    def resize(self, rows, cols, notify=True):
        # the kernel sends SIGWINCH to the terminal's foreground process group
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def write(self, data):
        os.write(self.fd, data)

    def expect(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while pattern not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"timeout waiting for {pattern!r}; terminal shows {self.buf!r}",
                            pytrace=False)
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    pytest.fail(f"EOF waiting for {pattern!r}; terminal shows {self.buf!r}",
                                pytrace=False)
                self.buf += data
        before, _, self.buf = self.buf.partition(pattern)
        return before

    def wait(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # keep draining so the child never blocks on a full pty
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    self.buf += os.read(self.fd, 4096)
                except OSError:
                    pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        self.kill()
        pytest.fail("husk did not exit", pytrace=False)

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


PROMPT = b"/ # "


def test_it_gives_an_interactive_shell(phusk):
    t = Terminal(phusk.cmd("run", "-it", "--rm", "busybox", "sh"), rows=33, cols=101)
    try:
        t.expect(PROMPT)
        t.write(b"tty; stty size; echo $TERM\n")
        out = t.expect(PROMPT)
        assert b"/dev/pts/0" in out
        assert b"33 101" in out
        assert b"xterm" in out
        # the shell's own line editing works through the pty: no local echo doubling
        t.write(b"echo abc\n")
        out = t.expect(PROMPT)
        assert out.count(b"abc") == 2  # the echoed command line and the output
        t.write(b"exit 7\n")
        assert t.wait() == 7
    finally:
        t.kill()
    assert phusk.container_dirs() == []


def test_it_window_resize_reaches_the_container(phusk):
    t = Terminal(phusk.cmd("run", "-it", "--rm", "busybox", "sh"), rows=24, cols=80)
    try:
        t.expect(PROMPT)
        t.resize(50, 132)
        time.sleep(0.3)
        t.write(b"stty size\n")
        t.expect(b"50 132")
        t.write(b"exit\n")
        assert t.wait() == 0
    finally:
        t.kill()


def test_it_ctrl_c_interrupts_the_foreground_command(phusk):
    t = Terminal(phusk.cmd("run", "-it", "--rm", "busybox", "sh"))
    try:
        t.expect(PROMPT)
        t.write(b"sleep 100; echo after-sleep $?\n")
        time.sleep(0.5)
        t0 = time.monotonic()
        t.write(b"\x03")
        out = t.expect(PROMPT)
        assert time.monotonic() - t0 < 5
        assert b"^C" in out
        # the shell survived: ^C went to sleep (the pty's foreground group), not to husk
        t.write(b"echo still-here\n")
        t.expect(b"still-here")
        t.write(b"exit\n")
        assert t.wait() == 0
    finally:
        t.kill()


def test_it_ctrl_d_ends_the_shell(phusk):
    t = Terminal(phusk.cmd("run", "-it", "--rm", "busybox", "sh"))
    try:
        t.expect(PROMPT)
        t.write(b"\x04")
        assert t.wait() == 0
    finally:
        t.kill()
    assert phusk.container_dirs() == []


def test_it_restores_the_terminal(phusk):
    # a shell on the terminal prints its settings before and after husk -it
    husk = " ".join(phusk.cmd("run", "-it", "--rm", "busybox", "true"))
    script = f"echo before=$(stty -g); {husk}; echo after=$(stty -g); echo done"
    t = Terminal(["/bin/sh", "-c", script])
    try:
        t.expect(b"before=")
        before = t.expect(b"\r\n")
        t.expect(b"after=")
        after = t.expect(b"\r\n")
        t.expect(b"done")
        assert t.wait() == 0
    finally:
        t.kill()
    assert before == after
    assert before  # stty printed something


def test_t_without_i_allocates_a_pty_for_output(phusk):
    p = phusk("run", "--rm", "-t", "busybox", "sh", "-c", "tty; echo line", binary=True)
    # output came through the pty: ONLCR turns \n into \r\n
    assert p.stdout == b"/dev/pts/0\r\nline\r\n"


def test_it_needs_a_terminal(phusk):
    p = phusk("run", "-it", "--rm", "busybox", "true", check=False)
    assert p.returncode == 125
    assert "not a TTY" in p.stderr
    assert phusk.container_dirs() == []


def test_exec_it_through_a_pty(phusk):
    cid = phusk.run_d("busybox", "sleep", "60")
    t = Terminal(phusk.cmd("exec", "-it", cid, "sh"), rows=40, cols=90)
    try:
        t.expect(PROMPT)
        t.write(b"stty size; hostname\n")
        out = t.expect(PROMPT)
        assert b"40 90" in out
        assert cid[:12].encode() in out
        t.write(b"sleep 100\n")
        time.sleep(0.3)
        t.write(b"\x03")
        t.expect(PROMPT)
        t.write(b"exit 3\n")
        assert t.wait() == 3
    finally:
        t.kill()
    assert phusk.status(cid) == "running"
    phusk("rm", "-f", cid)


def test_detached_tty_output_goes_to_the_log(phusk):
    cid = phusk.run_d("-t", "busybox", "sh", "-c", "tty; echo hello")
    phusk.wait_status(cid, "exited")
    assert phusk("logs", cid, binary=True).stdout == b"/dev/pts/0\r\nhello\r\n"
    assert phusk.inspect(cid)["State"]["ExitCode"] == 0
    phusk("rm", cid)
