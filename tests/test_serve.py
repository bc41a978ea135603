"""``migspec serve`` with clients no one here wrote: raw bytes over a socket
(as socat sends them), the ``qemu.qmp`` library's ``QMPClient`` and the
``qmp-shell`` program it ships (MIG-QMP-006, MIG-QMP-003, MIG-QMP-001).

Expected texts come from QEMU 2.4's ``monitor.c`` (``get_qmp_greeting``,
``invalid_qmp_mode``, ``handle_qmp_command``, ``qmp_check_input_obj``) and
from the README's example session, never from the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qemu.qmp import QMPClient
from qemu.qmp.qmp_client import ExecuteError
from serving import Raw, served
from support import need_program

GREETING_24 = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 4, "major": 2}, "package": ""},
                       "capabilities": []}}
RUNNING = {"running": True, "singlestep": False, "status": "running"}
JSON_ERROR = {"error": {"class": "GenericError", "desc": "Invalid JSON syntax"}}
EVENTS_ON: dict[str, Any] = {"execute": "migrate-set-capabilities",
             "arguments": {"capabilities": [{"capability": "events", "state": True}]}}


@pytest.fixture
def folder() -> Iterator[str]:
    """A private folder for sockets."""
    with tempfile.TemporaryDirectory(prefix="migspec-serve-") as path:
        yield path


def _strip(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k not in ("timestamp", "vm")}


# -- the monitor, byte by byte -------------------------------------------------
def test_greeting_negotiation_and_ids(folder: str) -> None:
    """MIG-QMP-006: QEMU 2.4's greeting; before qmp_capabilities every known
    command is refused naming it (invalid_qmp_mode), an unknown one is not
    found first (the lookup comes before the mode check); ids are echoed."""
    with served("--socket", f"{folder}/qmp.sock") as srv:
        c = Raw(srv.path())
        assert c.recv() == GREETING_24
        c.send(b'{"execute": "query-status", "id": 1}\n')
        assert c.recv() == {"error": {"class": "CommandNotFound", "desc":
                            "Expecting capabilities negotiation with 'qmp_capabilities' "
                            "before command 'query-status'"}, "id": 1}
        c.send(b'{"execute": "no-such-thing", "id": "two"}\n')
        assert c.recv() == {"error": {"class": "CommandNotFound",
                                      "desc": "The command no-such-thing has not been found"},
                            "id": "two"}
        c.send(b'{"execute": "qmp_capabilities", "id": [3]}')
        assert c.recv() == {"return": {}, "id": [3]}
        c.send(b'{"execute": "qmp_capabilities"}')
        assert c.recv() == {"error": {"class": "CommandNotFound", "desc":
                            "Capabilities negotiation is already complete, command "
                            "'qmp_capabilities' ignored"}}
        # Two messages in one write, split without newlines (json-streamer).
        c.send(b'{"execute": "query-status", "id": 4}{"execute": "stop", "id": 5}')
        assert c.recv() == {"return": RUNNING, "id": 4}
        assert c.reply() == {"return": {}, "id": 5}
        c.close()


def test_raw_lines_end_with_crlf(folder: str) -> None:
    """monitor_puts writes each message's newline as CR LF."""
    with served("--socket", f"{folder}/qmp.sock") as srv:
        c = Raw(srv.path())
        c.recv()
        c.send(b'{"execute": "qmp_capabilities"}\n')
        data = b""
        while data.count(b"\n") < 1:
            data += c.sock.recv(4096)
        assert data == b'{"return": {}}\r\n'
        c.close()


def test_socket_is_owner_only_and_removed_on_sigterm(folder: str) -> None:
    """The unix socket is created 0600; SIGTERM removes it, exit status 0."""
    path = f"{folder}/qmp.sock"
    with served("--socket", path) as srv:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        srv.proc.terminate()
        assert srv.proc.wait(timeout=10) == 0
    assert not os.path.exists(path)


@pytest.mark.parametrize("args", [
    ["--tcp", "0.0.0.0:0"],
    ["--tcp", "nonsense"],
    ["--socket", "/nonexistent-folder/x.sock"],
    ["--socket", "/tmp", "--pair", "--time-scale", "0"],
    ["--socket", "/tmp/x.sock", "--env", "connect=bogus"],
])
def test_bad_arguments_exit_2_with_one_line(args: list[str]) -> None:
    """Bad input: one line on standard error, exit status 2, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "migspec", "serve", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("migspec serve: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not os.path.exists("/tmp/x.sock")


def test_no_control_refuses_x_migspec(folder: str) -> None:
    """--no-control: the x-migspec-* commands are unknown, as on a QEMU."""
    with served("--socket", f"{folder}/qmp.sock", "--no-control") as srv:
        c = Raw(srv.path())
        c.negotiate()
        c.send({"execute": "x-migspec-env", "arguments": {"connect": "refused"}})
        assert c.reply() == {"error": {"class": "CommandNotFound",
                                       "desc": "The command x-migspec-env has not been found"}}
        c.close()


# -- bad input, one client at a time --------------------------------------------
def test_bad_input_is_answered_for_that_client_alone(folder: str) -> None:
    """MIG-QMP-003/005: each bad message gets QEMU 2.4's error on its own
    connection, while another connection is served on."""
    with served("--socket", f"{folder}/qmp.sock", "--max-message", "4096") as srv:
        bad, good = Raw(srv.path()), Raw(srv.path())
        bad.negotiate()
        good.negotiate()
        cases: list[tuple[bytes, list[dict[str, Any]]]] = [
            # A stray ']' makes the bracket count negative: the message ends there
            # (json-streamer.c), and then the '}' alone is one more.
            (b'{"execute": ]}', [JSON_ERROR] * 2),
            # 'N' is no token's first byte: JSON_ERROR ends the message there and
            # the streamer starts over (out_emit_bad), so the keyword "a", the
            # second 'N' and the stray '}' are each answered too.
            (b'{"execute": "query-status", "id": NaN}', [JSON_ERROR] * 4),
            (b'"just a string"', [{"error": {"class": "GenericError",
                                             "desc": "Expected 'object' in QMP input"}}]),
            (b'{"execute": 1}', [{"error": {"class": "GenericError", "desc":
                                            "QMP input object member 'execute' expects "
                                            "'string'"}}]),
            (b'{"execute": "stop", "arguments": []}', [{"error": {
                "class": "GenericError",
                "desc": "QMP input object member 'arguments' expects 'object'"}}]),
            (b'{"execute": "stop", "bogus": 1, "id": 9}', [{"error": {
                "class": "GenericError", "desc": "QMP input object member 'bogus' is "
                                                 "unexpected"}}]),
            (b'{"id": 1}', [{"error": {"class": "GenericError",
                                       "desc": "Expected 'execute' in QMP input"}}]),
            (b'{"execute": "migrate_set_speed", "arguments": {"value": "x"}, "id": 7}',
             [{"error": {"class": "GenericError",
                         "desc": "Invalid parameter type for 'value', expected: int"},
               "id": 7}]),
            (b'{"execute": "migrate", "id": 8}',
             [{"error": {"class": "GenericError", "desc": "Parameter 'uri' is missing"},
               "id": 8}]),
            # Deeper than MAX_NESTING (1024) inside a well-formed message.
            (b'{"execute": "stop", "arguments": {"a": ' + b"[" * 1100 + b"]" * 1100 + b"}}",
             [JSON_ERROR]),
            # Past --max-message (4096 bytes): answered at once, then the rest is
            # read as new input: the string's tail and each stray '}'.
            (b'{"execute": "x", "arguments": {"a": "' + b"a" * 8000 + b'"}}',
             [JSON_ERROR] * 4),
            (b"\xff\n", [JSON_ERROR]),  # not a byte any token starts with
        ]
        for n, (data, expected) in enumerate(cases):
            bad.send(data + b"\n")
            got = [bad.reply() for _ in expected]
            assert got == expected, data[:60]
            good.send({"execute": "query-status", "id": n})
            assert good.reply() == {"return": RUNNING, "id": n}
        # Still one monitor each: the bad connection goes on too.
        bad.send({"execute": "query-status", "id": "after"})
        assert bad.reply() == {"return": RUNNING, "id": "after"}
        # A client that disconnects in the middle of a message.
        bad.send(b'{"execute": "query-sta')
        bad.close()
        good.send({"execute": "query-status", "id": "last"})
        assert good.reply() == {"return": RUNNING, "id": "last"}
        good.close()


def test_never_reading_client_is_disconnected(folder: str) -> None:
    """A client that never reads its replies is closed once its unread
    output passes --max-output; another client is served on, and the
    server's memory stays bounded."""
    with served("--socket", f"{folder}/qmp.sock", "--max-output", "65536") as srv:
        good = Raw(srv.path())
        good.negotiate()
        hog = Raw(srv.path())
        hog.negotiate()
        hog.sock.settimeout(30)
        command = b'{"execute": "query-migrate-capabilities"}\n' * 1000
        broken = False
        for _ in range(2000):  # at most ~42 MB of commands
            try:
                hog.sock.sendall(command)
            except (BrokenPipeError, ConnectionResetError):
                broken = True
                break
        assert broken
        good.send({"execute": "query-status", "id": 1})
        assert good.reply() == {"return": RUNNING, "id": 1}
        assert srv.peak_kib() < 200 * 1024
        good.close()


# -- qemu.qmp's QMPClient ---------------------------------------------------------
def test_qmpclient_errors_and_replies(folder: str) -> None:
    """QMPClient negotiates on its own and sees QEMU 2.4's errors (MIG-QMP-001)."""
    async def go(path: str) -> None:
        qmp = QMPClient("test")
        await qmp.connect(path)
        assert await qmp.execute("query-status") == RUNNING
        with pytest.raises(ExecuteError) as err:
            await qmp.execute("no-such-command")
        assert err.value.error_class == "CommandNotFound"
        assert err.value.error.error.desc == "The command no-such-command has not been found"
        with pytest.raises(ExecuteError) as err:
            await qmp.execute("migrate", {"uri": "bogus:x"})
        assert err.value.error.error.desc == "Parameter 'uri' expects a valid migration protocol"
        await qmp.disconnect()

    with served("--socket", f"{folder}/qmp.sock") as srv:
        asyncio.run(go(srv.path()))


def test_tcp_loopback_with_qmpclient() -> None:
    """--tcp on loopback, port 0: the printed address works."""
    async def go(host: str, port: int) -> None:
        qmp = QMPClient("tcp")
        await qmp.connect((host, port))
        assert await qmp.execute("query-status") == RUNNING
        await qmp.disconnect()

    with served("--tcp", "127.0.0.1:0") as srv:
        _, host, port = srv.info["endpoints"]["source"].split(":")
        asyncio.run(go(host, int(port)))


# The README's example session, as a script for `migspec run` and as QMP traffic.
README_SCRIPT: list[dict[str, Any]] = [
    EVENTS_ON,
    {"migspec": "env", "ram_bytes": 1048576, "bandwidth": 10000000},
    {"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:4444"}},
    {"migspec": "settle"},
    {"execute": "query-migrate"},
    {"migspec": "qmp", "vm": "destination", "command": {"execute": "query-status"}},
]


def _run_script(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = "\n".join(json.dumps(obj) for obj in
                     [{"migspec": "incoming", "uri": "tcp:0:4444"}, *lines]) + "\n"
    proc = subprocess.run([sys.executable, "-m", "migspec", "run", "-"], input=text,
                          capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_pair_migration_with_qmpclient_matches_migspec_run(folder: str) -> None:
    """--pair --manual-time driven by QMPClient gives each VM what `migspec
    run` prints for the same script (timestamps aside). The destination's
    setup event is sent when it starts, before any client is connected (as a
    real QEMU started with -incoming sends it), so no client sees it."""
    async def go(src: str, dst: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        source, destination = QMPClient("source"), QMPClient("destination")
        await source.connect(src)
        await destination.connect(dst)
        seen: dict[str, list[dict[str, Any]]] = {"source": [], "destination": []}
        with source.listener() as src_events, destination.listener() as dst_events:
            for line in README_SCRIPT:
                if "execute" in line:
                    reply = await source.execute(line["execute"], line.get("arguments"))
                    seen["source"].append({"return": reply})
                elif line["migspec"] == "qmp":
                    cmd = line["command"]
                    reply = await destination.execute(cmd["execute"], cmd.get("arguments"))
                    seen["destination"].append({"return": reply})
                else:
                    args = {k: v for k, v in line.items() if k != "migspec"}
                    await source.execute(f"x-migspec-{line['migspec']}", args)
                # QMPClient queues events apart from replies: compare each
                # kind's order, and the whole as a multiset.
                for name, events in (("source", src_events), ("destination", dst_events)):
                    while not events.empty():
                        seen[name].append(_strip(dict(await events.get())))
        await source.disconnect()
        await destination.disconnect()
        return seen["source"], seen["destination"]

    with served("--socket", folder, "--pair", "--manual-time") as srv:
        src, dst = asyncio.run(go(srv.path("source"), srv.path("destination")))
    expected = _run_script(README_SCRIPT)
    exp_src = [_strip(o) for o in expected if "vm" not in o]
    exp_dst = [_strip(o) for o in expected if o.get("vm") == "destination"]
    # MIG-EVENT-003: the destination's start-up 'setup' reaches no client, in
    # migspec run as on the socket (compared whole, nothing dropped)
    assert expected[0] == {"return": {}}
    assert sorted(map(json.dumps, src)) == sorted(map(json.dumps, exp_src))
    assert [o for o in src if "event" in o] == [o for o in exp_src if "event" in o]
    assert [o for o in src if "return" in o] == [o for o in exp_src if "return" in o]
    assert dst == exp_dst
    assert [o["event"] for o in exp_src if "event" in o] == [
        "MIGRATION", "MIGRATION", "STOP", "MIGRATION"]
    assert exp_dst == [{"event": "RESUME"}, {"return": RUNNING}]


# -- qmp-shell ------------------------------------------------------------------------
def test_qmp_shell_drives_a_migration_and_a_cancel(folder: str) -> None:
    """The qmp-shell program of qemu.qmp, fed through its standard input."""
    shell = shutil.which("qmp-shell") or str(Path(sys.executable).parent / "qmp-shell")
    commands = "\n".join([
        "query-status",
        "x-migspec-env connect=delayed connect_delay_ms=1000",
        "migrate uri=tcp:127.0.0.1:4444",
        "migrate uri=tcp:127.0.0.1:4444",
        "migrate_cancel",
        "x-migspec-settle",
        "query-migrate",
        "bogus-command",
    ]) + "\n"
    with served("--socket", f"{folder}/qmp.sock", "--manual-time") as srv:
        proc = subprocess.run([shell, srv.path()], input=commands, capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    replies = [json.loads(line.split("(QEMU) ", 1)[1]) for line in proc.stdout.splitlines()
               if line.startswith("(QEMU) {")]
    assert "Connected to QEMU 2.4.0" in proc.stdout
    assert replies == [
        {"return": RUNNING},
        {"return": {}},
        {"return": {}},
        {"error": {"class": "GenericError", "desc": "There's a migration process in progress"}},
        {"return": {}},
        {"return": {}},
        {"return": {"status": "cancelled"}},
        {"error": {"class": "CommandNotFound",
                   "desc": "The command bogus-command has not been found"}},
    ]


# -- socat: raw bytes -----------------------------------------------------------------
SOCAT_SCRIPT: list[dict[str, Any]] = [
    EVENTS_ON,
    {"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}, "id": "m"},
    {"execute": "query-migrate", "id": 1},
    {"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}, "id": 2},
    {"execute": "migrate_cancel"},
    {"execute": "query-migrate-parameters", "id": {"nested": [1, 2]}},
    {"execute": "migrate_set_speed", "arguments": {"value": -1}},
    {"execute": "query-status"},
]


def test_socat_raw_bytes_match_migspec_run(folder: str) -> None:
    """socat sends the script's commands as bytes; with --manual-time what
    comes back is what `migspec run` prints for the same script (after the
    greeting and the negotiation reply; timestamps aside), each line ending
    with CR LF."""
    socat = need_program("socat")
    data = "".join(json.dumps(o) + "\n" for o in [{"execute": "qmp_capabilities"},
                                                    *SOCAT_SCRIPT])
    with served("--socket", f"{folder}/q.sock", "--manual-time") as srv:
        proc = subprocess.run([socat, "-t", "10", "-", f"UNIX-CONNECT:{srv.path()}"],
                              input=data.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    raw = proc.stdout.split(b"\r\n")
    assert raw[-1] == b"" and all(b"\n" not in line for line in raw)
    lines = [json.loads(line) for line in raw[:-1]]
    assert lines[:2] == [GREETING_24, {"return": {}}]
    text = "".join(json.dumps(o) + "\n" for o in SOCAT_SCRIPT)
    expected = subprocess.run([sys.executable, "-m", "migspec", "run", "-"], input=text,
                              capture_output=True, text=True, timeout=120, check=True)
    want = [_strip(json.loads(line)) for line in expected.stdout.splitlines()]
    assert [_strip(o) for o in lines[2:]] == want
    assert {"error": {"class": "GenericError",
                      "desc": "There's a migration process in progress"}, "id": 2} in want


def test_events_go_to_every_negotiated_client(folder: str) -> None:
    """monitor_qapi_event_emit: an event reaches each connection in command
    mode and none still negotiating (MIG-QMP-006)."""
    with served("--socket", f"{folder}/q.sock") as srv:
        a, b, late = Raw(srv.path()), Raw(srv.path()), Raw(srv.path())
        a.negotiate()
        b.negotiate()
        assert late.recv() == GREETING_24
        a.send({"execute": "stop", "id": "s"})
        assert _strip(a.recv()) == {"event": "STOP"}
        assert a.recv() == {"return": {}, "id": "s"}
        assert _strip(b.recv()) == {"event": "STOP"}
        # The connection that had not negotiated saw nothing; it gets the next one.
        late.send({"execute": "qmp_capabilities"})
        assert late.recv() == {"return": {}}
        b.send({"execute": "cont"})
        assert b.reply() == {"return": {}}
        for conn in (a, late):
            assert _strip(conn.recv()) == {"event": "RESUME"}
        for conn in (a, b, late):
            conn.close()
