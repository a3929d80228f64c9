"""Assertions shared by the OCI tests."""

import re
import time
from pathlib import Path


def assert_ok(res, what="runtime command"):
    assert not res.timed_out and res.returncode == 0, f"{what} failed:\n{res.describe()}"


def assert_clean_failure(oci, res, cid, mention=None):
    """The runtime refused: non-zero exit, exactly one clear error line on
    stderr (matching `mention` when given), and nothing left of `cid`."""
    assert not res.timed_out, f"runtime hung:\n{res.describe()}"
    assert res.returncode != 0, f"expected the runtime to refuse:\n{res.describe()}"
    lines = res.error_lines()
    assert len(lines) == 1, f"expected a one-line error, got {len(lines)} lines:\n{res.describe()}"
    if mention is not None:
        assert re.search(mention, lines[0], re.I), (
            f"error does not say what is wrong (want /{mention}/i): {lines[0]!r}"
        )
    assert oci.state(cid, check=False) is None, f"`state {cid}` still works after a failed create"
    left = oci.leftovers(cid)
    assert left == [], "failed create left things behind:\n  " + "\n  ".join(left)


def wait_for_path(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    p = Path(path)
    while time.monotonic() < deadline:
        if p.exists():
            return True
        time.sleep(0.02)
    return p.exists()


def mount_at(report, mount_point):
    """The last (topmost) mount at mount_point in a probe report, or None."""
    found = [m for m in report["mounts"] if m["mount_point"] == mount_point]
    return found[-1] if found else None


def mount_options(m):
    return set(m["options"].split(",")) | set(m["super_options"].split(","))
