"""``migspec serve`` under fuzzing and load (MIG-QMP-003, MIG-QMP-005,
MIG-QMP-001, MIG-QMP-002).

- Hypothesis sends malformed messages in batches over one connection of one
  server (fixed budget, derandomized: 220 examples of 50 messages, 11,000
  messages): each message has exactly one fault whose reply QEMU 2.4's
  monitor fixes (``qmp_check_input_obj``, ``handle_qmp_command``,
  ``check_client_args_type``, the streamer's ``MAX_NESTING``), written here
  as literals; a batch ends with a command whose id marks the end, so every
  reply is accounted for. Garbage bytes (no quote, no opening bracket, so the
  stream cannot stay inside a string or an object) get only errors.
- 32 clients send 1,000 pipelined commands each at once: every reply comes
  back, in order, to the client that sent it; the server's peak memory is
  printed (``pytest -s``) and bounded.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving import Raw, Served, served

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = (INT64 | st.text(max_size=8) | st.booleans() | st.none()
           | st.floats(allow_nan=False, allow_infinity=False))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=6)
#: Command names QEMU 2.4 and the server know (the fuzz avoids them).
KNOWN = {"migrate", "migrate_cancel", "migrate-incoming", "migrate-set-capabilities",
         "query-migrate-capabilities", "migrate-set-parameters", "query-migrate-parameters",
         "migrate-set-cache-size", "query-migrate-cache-size", "migrate_set_speed",
         "migrate_set_downtime", "query-migrate", "query-status", "stop", "cont",
         "qmp_capabilities"}

Case = tuple[bytes, list[dict[str, Any]]]


def _generic(desc: str) -> dict[str, Any]:
    return {"error": {"class": "GenericError", "desc": desc}}


def _line(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


JSON_SYNTAX = _generic("Invalid JSON syntax")
NOT_OBJECT = _generic("Expected 'object' in QMP input")
RUNNING = {"running": True, "singlestep": False, "status": "running"}


def _printed_24(value: Any) -> Any:
    """What a client reads for a scalar QEMU 2.4 echoes (MIG-QMP-007): a double
    printed with C's '%f', trailing zeros and dot dropped."""
    if type(value) is not float:
        return value
    return json.loads(("%f" % value).rstrip("0").rstrip("."))  # noqa: UP031 (C's %f)


@st.composite
def malformed(draw: st.DrawFn) -> Case:
    """One message with one fault, and the replies QEMU 2.4 gives it."""
    kind = draw(st.integers(0, 10))
    if kind == 0:  # a JSON value that is not an object
        value = draw(st.one_of(SCALARS, st.lists(JSON_VALUES, max_size=3)))
        return _line(value), [NOT_OBJECT]
    if kind == 1:  # no execute
        obj = {k: draw(JSON_VALUES) for k in draw(st.sets(st.sampled_from(["id"])))}
        if draw(st.booleans()):
            obj["arguments"] = {}
        return _line(obj), [_generic("Expected 'execute' in QMP input")]
    if kind == 2:  # execute is not a string
        value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, str)))
        return _line({"execute": value}), [
            _generic("QMP input object member 'execute' expects 'string'")]
    if kind == 3:  # arguments is not an object
        value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        return _line({"execute": "stop", "arguments": value}), [
            _generic("QMP input object member 'arguments' expects 'object'")]
    if kind == 4:  # an extra member
        key = draw(st.text(max_size=8).filter(lambda k: k not in ("execute", "arguments", "id")))
        return _line({"execute": "stop", key: draw(JSON_VALUES)}), [
            _generic(f"QMP input object member '{key}' is unexpected")]
    if kind == 5:  # an unknown command, with an id to echo
        name = draw(st.text(max_size=12).filter(
            lambda n: n not in KNOWN and not n.startswith("x-migspec-")))
        ident = draw(SCALARS)
        return _line({"execute": name, "id": ident}), [
            {"error": {"class": "CommandNotFound",
                       "desc": f"The command {name} has not been found"},
             "id": _printed_24(ident)}]
    if kind == 6:  # an argument of the wrong type
        command, arg, want, ok = draw(st.sampled_from([
            ("migrate_set_speed", "value", "int", (int,)),
            ("migrate-set-cache-size", "value", "int", (int,)),
            ("migrate_set_downtime", "value", "number", (int, float)),
            ("migrate", "uri", "string", (str,)),
            ("migrate-incoming", "uri", "string", (str,)),
        ]))
        value = draw(JSON_VALUES.filter(
            lambda v: not isinstance(v, ok) or isinstance(v, bool)))
        return _line({"execute": command, "arguments": {arg: value}}), [
            _generic(f"Invalid parameter type for '{arg}', expected: {want}")]
    if kind == 7:  # an argument the command does not take
        key = draw(st.text(min_size=1, max_size=8))
        return _line({"execute": "query-status", "arguments": {key: draw(JSON_VALUES)}}), [
            _generic(f"Invalid parameter '{key}'")]
    if kind == 8:  # bad syntax inside balanced braces (no byte is a lexer error)
        tokens = draw(st.lists(st.sampled_from(
            ['"execute"', '"stop"', ":", ",", "1", "true", "null", "nope", "1.5e3"]),
            min_size=1, max_size=8))
        text = "{" + " ".join(tokens) + "}"
        try:
            json.loads(text)
            valid = True
        except ValueError:
            valid = False
        if valid:  # {} or {"execute": ...}-like: not the fault this kind is about
            text = "{" + text[1:-1] + " ,}"
        return text.encode() + b"\n", [JSON_SYNTAX]
    if kind == 9:  # nested deeper than MAX_NESTING (1024)
        depth = draw(st.integers(1025, 1100))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a": ', "}")]))
        text = '{"execute": "stop", "arguments": {"a": ' + opener * depth + "1" * (
            opener == "[") + closer * depth + "}}"
        if opener != "[":
            text = text.replace('{"a": }', '{"a": 1}')
        return text.encode() + b"\n", [JSON_SYNTAX]
    # Garbage: no quote, backslash or opening bracket, so it cannot leave the
    # stream inside a string or an object; only errors come back.
    garbage = draw(st.binary(min_size=1, max_size=40).filter(
        lambda b: not set(b) & set(b"\"'\\{[") and b.strip(b" \t\r\n")))
    return garbage + b"\n", []


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    """One server for the whole fuzz run."""
    with tempfile.TemporaryDirectory(prefix="migspec-fuzz-") as folder, \
            served("--socket", f"{folder}/q.sock", "--manual-time") as srv:
        yield srv


FUZZ = settings(max_examples=220, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
SENT = {"messages": 0}


def test_fuzz_malformed_messages(server: Served) -> None:
    """Every malformed message gets QEMU 2.4's reply on its connection, and
    the server stays up (11,000 messages)."""
    conn = Raw(server.path())
    conn.negotiate()

    @FUZZ
    @given(st.lists(malformed(), min_size=50, max_size=50))
    def batch(cases: list[Case]) -> None:
        SENT["messages"] += len(cases)
        marker = SENT["messages"]
        # Each garbage message is followed by its own marker: its replies are
        # those before that marker's reply.
        conn.send(b"".join(
            data + (b"" if expected else _line({"execute": "query-status", "id": [marker, i]}))
            for i, (data, expected) in enumerate(cases))
            + _line({"execute": "query-status", "id": marker}))
        for i, (data, expected) in enumerate(cases):
            if expected:
                assert [conn.reply() for _ in expected] == expected, data[:80]
                continue
            got = []
            while (reply := conn.reply()).get("id") != [marker, i]:
                got.append(reply)
            assert got and all(r in (JSON_SYNTAX, NOT_OBJECT) for r in got), data
        assert conn.reply() == {"return": RUNNING, "id": marker}

    batch()
    assert SENT["messages"] >= 10_000
    assert server.proc.poll() is None
    other = Raw(server.path())
    other.negotiate()
    other.send({"execute": "query-status", "id": "alive"})
    assert other.reply() == {"return": RUNNING, "id": "alive"}
    print(f"\nfuzz: {SENT['messages']} malformed messages, server up")
    conn.close()
    other.close()


CLIENTS = 32
COMMANDS = 1000


async def _client(path: str, n: int) -> tuple[int, int]:
    """Pipeline COMMANDS commands; (replies received, replies crossed or out of order)."""
    reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
    await reader.readline()  # greeting
    writer.write(b'{"execute": "qmp_capabilities"}\n')
    assert json.loads(await reader.readline()) == {"return": {}}
    cycle: list[dict[str, Any]] = [
        {"execute": "query-status"}, {"execute": "query-migrate-capabilities"},
        {"execute": "migrate_set_speed", "arguments": {"value": 1000 + n}},
        {"execute": "query-migrate"}]
    writer.write(b"".join(_line({**cycle[k % 4], "id": [n, k]}) for k in range(COMMANDS)))
    await writer.drain()
    replies = wrong = 0
    while replies < COMMANDS:
        reply = json.loads(await reader.readline())
        if "event" in reply:
            continue
        if reply.get("id") != [n, replies] or "return" not in reply:
            wrong += 1
        replies += 1
    writer.close()
    await writer.wait_closed()
    return replies, wrong


def test_load_32_clients_1000_commands_each() -> None:
    """No reply lost, none crossed to another client; peak memory bounded."""
    async def go(path: str) -> list[tuple[int, int]]:
        return await asyncio.gather(*(_client(path, n) for n in range(CLIENTS)))

    with tempfile.TemporaryDirectory(prefix="migspec-load-") as folder, \
            served("--socket", f"{folder}/q.sock") as srv:
        results = asyncio.run(go(srv.path()))
        peak = srv.peak_kib()
    replies = sum(r for r, _ in results)
    crossed = sum(w for _, w in results)
    print(f"\nload: {CLIENTS} clients x {COMMANDS} commands: {replies} replies, "
          f"lost {CLIENTS * COMMANDS - replies}, crossed {crossed}, "
          f"server peak memory {peak / 1024:.1f} MiB")
    assert replies == CLIENTS * COMMANDS
    assert crossed == 0
    assert peak < 256 * 1024
