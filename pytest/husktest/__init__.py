"""Helpers for husk's pytest integration suite (see pytest/conftest.py):
host.py (mounts, cgroups, processes, host snapshot), spec.py (rootfs, bundle,
config generator), runtime.py (driving the runtime, cleanup), asserts.py."""

from .host import HostSnapshot, mountinfo, mounts_under
from .runtime import Result, Runtime, RuntimeFailed
from .spec import PROBE, Bundle, cap_mask, cap_names, default_config

__all__ = [
    "HostSnapshot", "mountinfo", "mounts_under", "Result", "Runtime", "RuntimeFailed",
    "PROBE", "Bundle", "cap_mask", "cap_names", "default_config",
]  # fmt: skip
