"""Shared fixtures: the real QEMU 7.2 the tests that need one run against."""

from __future__ import annotations

import importlib.util
import subprocess

import pytest
from support import need_program


@pytest.fixture(scope="module")
def real_qemu() -> str:
    """Debian 12's ``qemu-system-x86_64`` 7.2 and ``qemu.qmp``: the path of the
    binary; skipped without them, failed under ``CI=true``."""
    binary = need_program("qemu-system-x86_64")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    why = None if "version 7.2." in version else f"not QEMU 7.2: {version.splitlines()[:1]}"
    if importlib.util.find_spec("qemu.qmp") is None:
        why = "qemu.qmp is not installed"
    if why is not None:
        need_program("", why)
    return binary
