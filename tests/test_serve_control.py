"""``migspec serve``'s time and control plane (MIG-QMP-006): the virtual
clock (real time, scaled, manual), pair mode with ``-incoming defer``, the
``x-migspec-*`` commands and hold points, through qemu.qmp's QMPClient.

The split-brain race of DEF-SPLIT-BRAIN (MIG-THREAD-010), a cancel that
arrives between the completion and the thread's ACTIVE -> COMPLETED, is
reached on the first try in real time with a hold point.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
from qemu.qmp import QMPClient
from qemu.qmp.qmp_client import ExecuteError
from serving import Raw, served

RUNNING = {"running": True, "singlestep": False, "status": "running"}
EVENTS_ON = [{"capability": "events", "state": True}]
#: Generous bound on waiting for an event in real time (not a timing check).
WAIT = 60.0


@pytest.fixture
def folder() -> Iterator[str]:
    """A private folder for sockets."""
    with tempfile.TemporaryDirectory(prefix="migspec-serve-") as path:
        yield path


async def _event(events: Any, name: str, status: str | None = None) -> dict[str, Any]:
    """The next event called ``name`` (with MIGRATION ``status``)."""
    while True:
        ev = dict(await asyncio.wait_for(events.get(), WAIT))
        if ev["event"] == name and (status is None or ev["data"]["status"] == status):
            return ev


async def _status(qmp: QMPClient) -> str:
    """The run-state name query-status reports."""
    reply: dict[str, Any] = await qmp.execute("query-status")  # type: ignore[assignment]
    return str(reply["status"])


def test_real_time_migration_completes_with_wall_clock_timestamps(folder: str) -> None:
    """Default clock: the migration runs as real time passes; the events'
    timestamps are wall-clock times."""
    async def go(path: str) -> tuple[float, float, dict[str, Any]]:
        qmp = QMPClient("rt")
        await qmp.connect(path)
        with qmp.listener() as events:
            await qmp.execute("migrate-set-capabilities", {"capabilities": EVENTS_ON})
            before = time.time()
            await qmp.execute("x-migspec-env", {"ram_bytes": 1048576, "bandwidth": 10000000})
            await qmp.execute("migrate", {"uri": "tcp:127.0.0.1:4444"})
            done = await _event(events, "MIGRATION", "completed")
            after = time.time()
        assert await qmp.execute("query-status") == {"running": False, "singlestep": False,
                                                     "status": "postmigrate"}
        await qmp.disconnect()
        return before, after, done

    with served("--socket", f"{folder}/q.sock") as srv:
        before, after, done = asyncio.run(go(srv.path()))
    stamp = done["timestamp"]["seconds"] + done["timestamp"]["microseconds"] / 1e6
    assert before - 1 <= stamp <= after + 1


def test_manual_time_moves_only_when_asked(folder: str) -> None:
    """--manual-time: nothing runs between commands, the migration thread
    included; x-migspec-advance lets time pass (1 MiB at 10 MB/s takes about 105 ms)."""
    with served("--socket", f"{folder}/q.sock", "--manual-time") as srv:
        c = Raw(srv.path())
        c.negotiate()
        c.send({"execute": "x-migspec-env",
                 "arguments": {"ram_bytes": 1048576, "bandwidth": 10000000}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}})
        assert c.reply() == {"return": {}}
        for _ in range(3):  # as in a migspec run script: no actor runs between commands
            c.send({"execute": "query-migrate"})
            assert c.reply()["return"]["status"] == "setup"
        c.send({"execute": "x-migspec-advance", "arguments": {"ms": 50}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-migrate"})
        assert c.reply()["return"]["status"] == "active"
        c.send({"execute": "x-migspec-advance", "arguments": {"ms": 1000}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-migrate"})
        assert c.reply()["return"]["status"] == "completed"
        c.send({"execute": "x-migspec-trace"})
        trace = c.reply()["return"]
        assert trace and all("what" in entry and "ms" in entry for entry in trace)
        c.close()


def test_time_scale_runs_a_long_migration_fast(folder: str) -> None:
    """--time-scale 1000: a migration of about 107 s of virtual time ends."""
    async def go(path: str) -> dict[str, Any]:
        qmp = QMPClient("scaled")
        await qmp.connect(path)
        with qmp.listener() as events:
            await qmp.execute("migrate-set-capabilities", {"capabilities": EVENTS_ON})
            await qmp.execute("x-migspec-env", {"ram_bytes": 1 << 30, "bandwidth": 10000000})
            await qmp.execute("migrate", {"uri": "exec:cat > /dev/null"})
            await _event(events, "MIGRATION", "completed")
        info: dict[str, Any] = await qmp.execute("query-migrate")  # type: ignore[assignment]
        await qmp.disconnect()
        return info

    with served("--socket", f"{folder}/q.sock", "--time-scale", "1000") as srv:
        info = asyncio.run(go(srv.path()))
    assert info["status"] == "completed"
    assert info["total-time"] >= 100_000  # ms of virtual time: 2^30 B at 10 MB/s


def test_control_errors_are_generic_errors(folder: str) -> None:
    """x-migspec-* arguments are checked as the script directives are."""
    with served("--socket", f"{folder}/q.sock", "--manual-time") as srv:
        c = Raw(srv.path())
        c.negotiate()
        c.send({"execute": "x-migspec-advance", "id": 1})
        assert c.reply() == {"error": {"class": "GenericError", "desc": "advance needs ms"},
                             "id": 1}
        c.send({"execute": "x-migspec-env", "arguments": {"connect": "sideways"}})
        assert c.reply() == {"error": {"class": "GenericError", "desc":
                             "env connect must be one of auto, immediate, refused, delayed, "
                             "delayed-refused"}}
        c.send({"execute": "x-migspec-hold", "arguments": {"until": "nowhere"}})
        assert c.reply()["error"]["desc"].startswith("until must be a thread program counter")
        c.send({"execute": "x-migspec-step", "arguments": {"vm": "nobody"}})
        assert c.reply()["error"]["desc"] == 'no VM named "nobody" (have: source)'
        c.close()


def test_pair_incoming_defer(folder: str) -> None:
    """--pair --incoming defer: the destination waits in inmigrate until
    migrate-incoming on its own socket; then migrate on the source ends."""
    async def go(src_path: str, dst_path: str) -> list[str]:
        src, dst = QMPClient("src"), QMPClient("dst")
        await src.connect(src_path)
        await dst.connect(dst_path)
        assert await dst.execute("query-status") == {"running": False, "singlestep": False,
                                                     "status": "inmigrate"}
        await dst.execute("migrate-incoming", {"uri": "tcp:0:5555"})
        with dst.listener() as dst_events:
            await src.execute("x-migspec-env", {"ram_bytes": 1048576})
            await src.execute("migrate", {"uri": "tcp:127.0.0.1:5555"})
            await _event(dst_events, "RESUME")
        status = [await _status(q) for q in (src, dst)]
        await src.disconnect()
        await dst.disconnect()
        return status

    with served("--socket", folder, "--pair", "--incoming", "defer") as srv:
        assert asyncio.run(go(srv.path("source"), srv.path("destination"))) == [
            "postmigrate", "running"]


def _run(profile: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = "".join(json.dumps(obj) + "\n" for obj in lines)
    proc = subprocess.run([sys.executable, "-m", "migspec", "run", "--profile", profile, "-"],
                          input=text, capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.parametrize("profile", ["seed", "fixed"])
def test_hold_point_puts_a_cancel_between_completion_and_its_state_change(
        folder: str, profile: str) -> None:
    """DEF-SPLIT-BRAIN in real time, on the first try: hold the source's
    migration thread before after_complete, wait for STOP (the completion
    ran), cancel, release. The seed resumes the source guest while the
    destination runs too (MIG-THREAD-010); the fixed profile keeps it
    stopped. The source's events are those `migspec run` prints when the
    script steps the thread to the same point."""
    async def go(src_path: str, dst_path: str) -> tuple[list[str], list[dict[str, Any]]]:
        src, dst = QMPClient("src"), QMPClient("dst")
        await src.connect(src_path)
        await dst.connect(dst_path)
        seen: list[dict[str, Any]] = []
        with src.listener() as events:
            await src.execute("migrate-set-capabilities", {"capabilities": EVENTS_ON})
            await src.execute("x-migspec-env", {"ram_bytes": 1048576})
            await src.execute("x-migspec-hold", {"until": "after_complete"})
            await src.execute("migrate", {"uri": "tcp:127.0.0.1:4444"})
            while not seen or seen[-1]["event"] != "STOP":
                seen.append(dict(await asyncio.wait_for(events.get(), WAIT)))
            await src.execute("migrate_cancel")
            await src.execute("x-migspec-release")
            while seen[-1].get("data", {}).get("status") != "cancelled":
                seen.append(dict(await asyncio.wait_for(events.get(), WAIT)))
        status = [await _status(q) for q in (src, dst)]
        await src.disconnect()
        await dst.disconnect()
        return status, [{k: v for k, v in e.items() if k != "timestamp"} for e in seen]

    with served("--socket", folder, "--pair", "--profile", profile) as srv:
        status, seen = asyncio.run(go(srv.path("source"), srv.path("destination")))
    assert status == (["running", "running"] if profile == "seed" else ["postmigrate", "running"])
    expected = _run(profile, [
        {"migspec": "incoming", "uri": "tcp:0:4444"},
        {"execute": "migrate-set-capabilities", "arguments": {"capabilities": EVENTS_ON}},
        {"migspec": "env", "ram_bytes": 1048576},
        {"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:4444"}},
        {"migspec": "step", "actor": "main"},
        {"migspec": "step", "until": "after_complete"},
        {"execute": "migrate_cancel"},
        {"migspec": "settle"},
    ])
    assert seen == [{k: v for k, v in o.items() if k != "timestamp"}
                    for o in expected if "event" in o and "vm" not in o]
    assert [e["event"] for e in seen][-3:] == (
        ["MIGRATION", "RESUME", "MIGRATION"] if profile == "seed"
        else ["STOP", "MIGRATION", "MIGRATION"])


def test_control_by_flags(folder: str) -> None:
    """--env and --hold set knobs and hold points at start (MIG-FDERROR-001):
    a refused connect fails migrate with the configured text."""
    async def go(path: str) -> str:
        qmp = QMPClient("flags")
        await qmp.connect(path)
        with pytest.raises(ExecuteError) as err:
            await qmp.execute("migrate", {"uri": "tcp:127.0.0.1:4444"})
        await qmp.disconnect()
        return str(err.value.error.error.desc)

    with served("--socket", f"{folder}/q.sock", "--env", "connect=refused",
                "--env", 'connect_error="nobody home"', "--hold", "source:complete") as srv:
        assert asyncio.run(go(srv.path())) == "nobody home"


def test_step_vm_and_reset(folder: str) -> None:
    """x-migspec-vm, x-migspec-step (with until: then held) and x-migspec-reset
    (a fresh world, the connection stays negotiated; MIG-BLOCKER-001)."""
    with served("--socket", f"{folder}/q.sock", "--manual-time") as srv:
        c = Raw(srv.path())
        c.negotiate()
        c.send({"execute": "x-migspec-vm", "arguments": {"blockers": ["no way"]}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}})
        assert c.reply() == {"error": {"class": "GenericError", "desc": "no way"}}
        c.send({"execute": "x-migspec-vm", "arguments": {"blockers": []}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "x-migspec-step", "arguments": {"until": "iterate"}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-migrate"})
        assert c.reply()["return"]["status"] == "active"
        # Held before 'iterate': time passes, the migration does not move on.
        c.send({"execute": "x-migspec-advance", "arguments": {"ms": 60000}})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-migrate"})
        assert c.reply()["return"]["status"] == "active"
        c.send({"execute": "x-migspec-release"})
        assert c.reply() == {"return": {}}
        c.send({"execute": "x-migspec-settle"})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-migrate"})
        assert c.reply()["return"]["status"] == "completed"
        c.send({"execute": "x-migspec-reset"})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-migrate"})
        assert c.reply() == {"return": {}}
        c.send({"execute": "query-status"})
        assert c.reply() == {"return": RUNNING}
        c.close()


def test_sigint_stops_cleanly(folder: str) -> None:
    """SIGINT, like SIGTERM: exit status 0, the socket file removed."""
    import os
    import signal

    path = f"{folder}/q.sock"
    with served("--socket", path) as srv:
        c = Raw(path)
        c.negotiate()
        os.kill(srv.proc.pid, signal.SIGINT)
        assert srv.proc.wait(timeout=10) == 0
        assert c.closed()
    assert not os.path.exists(path)


def test_a_process_that_exits_closes_its_connections(folder: str) -> None:
    """A destination whose incoming migration fails exits (QEMU 2.4's
    process_incoming_migration_co exits with status 1): its connections
    close, a new one is closed at once, until x-migspec-reset (MIG-INCOMING-006)."""
    with served("--socket", folder, "--pair", "--manual-time") as srv:
        src = Raw(srv.path("source"))
        src.negotiate()
        dst = Raw(srv.path("destination"))
        dst.negotiate()
        steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
            ({"execute": "x-migspec-env", "arguments": {
                "completion_error": "file-before-delivery", "ram_bytes": 1048576}}, {}),
            ({"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:4444"}}, {}),
            ({"execute": "x-migspec-settle"}, {}),
            ({"execute": "query-migrate"}, {"status": "failed"}),
        ]
        for cmd, reply in steps:
            src.send(cmd)
            assert src.reply() == {"return": reply}
        assert dst.closed()
        assert Raw(srv.path("destination")).closed()
        src.send({"execute": "x-migspec-reset"})
        assert src.reply() == {"return": {}}
        again = Raw(srv.path("destination"))
        assert again.recv()["QMP"]["version"]["qemu"]["major"] == 2
        again.close()
        src.close()
