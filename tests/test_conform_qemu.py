"""migspec conform against real processes: a launched QEMU (few
repetitions), and targets that hang or die (fake binaries and sockets);
every process ended and every folder removed, also on Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import need_program

from migspec.cli import main

QEMU = shutil.which("qemu-system-x86_64")


def _need_qemu() -> None:
    need_program("qemu-system-x86_64")


def _run(tmp_path: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    out = tmp_path / "report.json"
    code = main(["conform", "--quiet", "--json", str(out), *args])
    return code, json.loads(out.read_text())


def _fake(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-qemu"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def _left(pidfile: Path) -> list[int]:
    """PIDs from the file that are still running (zombies count as ended)."""
    alive = []
    for line in pidfile.read_text().split():
        try:
            status = Path(f"/proc/{line}/status").read_text()
        except FileNotFoundError:
            continue
        if "State:\tZ" not in status:
            alive.append(int(line))
    return alive


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR and the PID file of this test only."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setenv("MIGSPEC_CONFORM_PIDFILE", str(tmp_path / "pids"))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_qemu_scenarios_run_and_clean_up(tmp_path: Path, private_tmp: Path) -> None:
    """A launched QEMU answers the scenarios; 7.2 removed migrate_set_speed
    (CommandNotFound), its cancel against a listening destination ends
    'cancelled' or 'completed'; no process or folder is left."""
    _need_qemu()
    code, doc = _run(tmp_path, "--target", "qemu", "--reps", "3",
                     "--scenario", "speed-downtime", "--scenario", "race-migrate-cancel",
                     "--scenario", "stop-cont")
    assert code in (0, 1)
    by = {s["name"]: s for s in doc["scenarios"]}
    assert by["stop-cont"]["verdict"] == "PASS"
    assert by["speed-downtime"]["verdict"] == "FAIL"  # seed's migrate_set_speed is gone
    assert "CommandNotFound" in json.dumps(by["speed-downtime"]["failing_trace"])
    race = by["race-migrate-cancel"]
    assert sum(race["runs"].values()) == 3
    finals = [" ".join(o["outcome"]) for o in race["outcomes"]]
    assert finals and all("cancelled" in f or "completed" in f for f in finals)
    assert _left(tmp_path / "pids") == []
    assert list(private_tmp.iterdir()) == []


def test_a_binary_that_never_opens_its_socket_is_unresolved(
        tmp_path: Path, private_tmp: Path) -> None:
    """A hang at start: UNRESOLVED within the timeout, the process ended."""
    fake = _fake(tmp_path, "exec sleep 60")
    began = time.monotonic()
    code, doc = _run(tmp_path, "--target", f"qemu:{fake}", "--timeout", "1",
                     "--scenario", "cancel-idle")
    assert time.monotonic() - began < 20
    res = doc["scenarios"][0]
    assert res["verdict"] == "UNRESOLVED"
    assert "did not appear within 1s" in res["detail"]
    assert doc["requirements"]["MIG-CANCEL-003"]["verdict"] == "UNRESOLVED"
    assert code == 0  # nothing FAILed
    assert _left(tmp_path / "pids") == []
    assert list(private_tmp.iterdir()) == []


def test_a_binary_that_dies_is_unresolved_with_its_exit(tmp_path: Path,
                                                        private_tmp: Path) -> None:
    """A death: UNRESOLVED with the exit status and the tail of stderr."""
    fake = _fake(tmp_path, "echo 'fake qemu: cannot go on' >&2; exit 3")
    _, doc = _run(tmp_path, "--target", f"qemu:{fake}", "--timeout", "2",
                  "--scenario", "cancel-idle")
    res = doc["scenarios"][0]
    assert res["verdict"] == "UNRESOLVED"
    assert "exit status 3: fake qemu: cannot go on" in res["detail"]
    assert list(private_tmp.iterdir()) == []


def test_a_qmp_endpoint_that_never_answers_is_unresolved(tmp_path: Path) -> None:
    """qmp:PATH that accepts and never sends a greeting: UNRESOLVED in bounded time."""
    path = str(tmp_path / "mute.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    try:
        began = time.monotonic()
        _, doc = _run(tmp_path, "--target", f"qmp:{path}", "--timeout", "1",
                      "--scenario", "cancel-idle")
        assert time.monotonic() - began < 20
    finally:
        server.close()
    res = doc["scenarios"][0]
    assert res["verdict"] == "UNRESOLVED"
    assert "within 1s" in res["detail"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_leaves_no_qemu_and_no_folder(tmp_path: Path, signum: int) -> None:
    """Ctrl-C (or SIGTERM) during a run: exit 130, every QEMU it started
    ended, no folder left."""
    _need_qemu()
    folder = tmp_path / "tmp"
    folder.mkdir()
    pids = tmp_path / "pids"
    env = dict(os.environ, TMPDIR=str(folder), MIGSPEC_CONFORM_PIDFILE=str(pids))
    proc = subprocess.Popen(
        [sys.executable, "-m", "migspec", "conform", "--target", "qemu", "--quiet",
         "--scenario", "race-migrate-cancel", "--reps", "400"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if pids.exists() and len(pids.read_text().split()) >= 6:
                break
            time.sleep(0.02)
        assert pids.exists(), "the harness started no QEMU"
        proc.send_signal(signum)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 130
    assert _left(pids) == []
    assert list(folder.iterdir()) == []


def test_qemu_behind_the_single_process_target_protocol(private_tmp: Path) -> None:
    """The state machines' Target protocol over a launched QEMU: replies keep
    the command's id, events arrive, an -incoming defer destination answers,
    and close ends every process."""
    _need_qemu()
    from migspec.properties.conform.realtarget import RealTarget, qemu_seed
    from migspec.properties.targets import Target, Unsupported

    target = qemu_seed()
    assert isinstance(target, RealTarget)
    try:
        assert isinstance(target, Target)
        assert (target.supports_env, target.supports_time, target.supports_incoming) == (
            False, False, True)
        assert target.execute({"execute": "query-migrate", "id": 7}) == {"return": {}, "id": 7}
        assert target.execute({"execute": "stop"}) == {"return": {}}
        assert target.events() == [{"event": "STOP"}]
        with pytest.raises(Unsupported):
            target.advance(10)
        target.reset(incoming="defer")
        assert target.alive()
        reply = target.execute({"execute": "migrate", "arguments": {"uri": "exec:true"}})
        assert reply == {"error": {"class": "GenericError",
                                   "desc": "Guest is waiting for an incoming migration"}}
    finally:
        target.close()
    assert _left(Path(os.environ["MIGSPEC_CONFORM_PIDFILE"])) == []
    assert list(private_tmp.iterdir()) == []


def test_a_qmp_endpoint_that_stops_answering_is_unresolved(tmp_path: Path) -> None:
    """qmp:PATH that greets, negotiates and then never replies: the first
    command times out, UNRESOLVED naming it, in bounded time."""
    import threading

    path = str(tmp_path / "stuck.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    conns: list[socket.socket] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        conns.append(conn)
        conn.sendall(b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},'
                     b' "package": ""}, "capabilities": []}}\r\n')
        # qemu.qmp writes each message as one JSON object without a newline
        ident = json.loads(conn.recv(65536)).get("id")  # qmp_capabilities
        conn.sendall(json.dumps({"return": {}, "id": ident}).encode() + b"\r\n")
        conn.recv(65536)  # the scenario's first command: never answered

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        began = time.monotonic()
        _, doc = _run(tmp_path, "--target", f"qmp:{path}", "--timeout", "1",
                      "--scenario", "cancel-idle")
        assert time.monotonic() - began < 20
    finally:
        server.close()
        for conn in conns:
            conn.close()
        thread.join(5)
    res = doc["scenarios"][0]
    assert res["verdict"] == "UNRESOLVED"
    assert "no reply to migrate_cancel within 1s" in res["detail"]
