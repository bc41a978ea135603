"""The monitor declaration of QEMU 7.2 (``spec/monitor.py``, the slot the
``qemu-7.2`` profile speaks from) against the real ``qemu-system-x86_64``
of Debian 12: the same bytes get the same negotiation replies from the real
QEMU and from ``migspec serve`` speaking as 7.2 (MIG-QMP-006).

Needs QEMU: skipped when it is missing, except on CI (``CI=true``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from typing import Any

import pytest
from support import need_program

from migspec.properties.conform.processes import end_by_pid
from migspec.serve import server
from migspec.spec.monitor import QEMU_7_2

EXCHANGE = [
    {"execute": "query-status", "id": 1},
    {"execute": "no-such-command", "id": 2},
    {"execute": "qmp_capabilities", "id": 3},
    {"execute": "qmp_capabilities"},
    {"execute": "query-status", "id": 4},
]


async def _talk(path: str) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(path)
    out = [json.loads(await reader.readline())]
    for cmd in EXCHANGE:
        writer.write(json.dumps(cmd).encode() + b"\n")
        await writer.drain()
        out.append(json.loads(await reader.readline()))
    writer.close()
    await writer.wait_closed()
    return out


def _real_qemu(folder: str) -> list[dict[str, Any]]:
    qemu = need_program("qemu-system-x86_64")
    sock = f"{folder}/qemu.sock"
    proc = subprocess.Popen([qemu, "-nodefaults", "-display", "none", "-machine", "none",
                             "-qmp", f"unix:{sock},server=on,wait=off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert proc.poll() is None and time.monotonic() < deadline, "QEMU did not start"
            time.sleep(0.05)
        return asyncio.run(_talk(sock))
    finally:
        end_by_pid(proc)


def _serve_as_72(folder: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setattr(server, "monitor_for", lambda profile: QEMU_7_2)
    sock = f"{folder}/serve.sock"

    async def go() -> list[dict[str, Any]]:
        stop = asyncio.Event()
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve(
            server.ServeConfig(), {"source": server.Listen(path=sock)},
            lambda info: ready.set(), stop))
        await ready.wait()
        try:
            return await _talk(sock)
        finally:
            stop.set()
            await task

    return asyncio.run(go())


def test_qemu_72_negotiation_matches_the_real_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory(prefix="migspec-72-") as folder:
        real = _real_qemu(folder)
        ours = _serve_as_72(folder, monkeypatch)
    # The greeting: same shape and capabilities; the version as declared.
    assert real[0]["QMP"]["capabilities"] == ours[0]["QMP"]["capabilities"] == ["oob"]
    assert real[0]["QMP"]["version"]["qemu"]["major"] == 7
    assert real[0]["QMP"]["version"]["qemu"]["minor"] == 2
    assert ours[0] == QEMU_7_2.greeting()
    assert real[1:] == ours[1:]
    assert real[2] == {"id": 2, "error": {"class": "CommandNotFound", "desc":
                       "Expecting capabilities negotiation with 'qmp_capabilities'"}}
