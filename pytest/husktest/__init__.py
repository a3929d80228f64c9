"""Helpers for husk's pytest integration suite (see pytest/conftest.py)."""

from .host import HostSnapshot, mountinfo, mounts_under  # noqa: F401
from .runtime import Result, Runtime, RuntimeFailed  # noqa: F401
from .spec import PROBE, Bundle, cap_mask, cap_names, default_config  # noqa: F401
