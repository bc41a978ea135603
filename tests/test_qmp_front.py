"""The QMP front of QEMU 2.4 (monitor.c and the QAPI input visitor): what a
client gets for malformed input. Expected texts are the QERR templates of
qerror.h (see migspec/spec/errors.py) and monitor.c of QEMU 2.4."""

from __future__ import annotations

from typing import Any

import pytest
from support import EXEC_URI, GENERIC, new_engine, query, ret

from migspec.reference.engine import Engine


def reply_of(eng: Engine, cmd: Any, vm: str = "source") -> dict[str, Any]:
    reply = eng.execute(cmd, vm)
    assert reply is not None
    return reply


def error_of(eng: Engine, cmd: Any) -> tuple[str, str]:
    reply = reply_of(eng, cmd)
    assert "error" in reply, reply
    assert set(reply) <= {"error", "id"}
    return reply["error"]["class"], reply["error"]["desc"]


@pytest.mark.parametrize("name", ["foo", "migrate-cancel", "query_migrate", ""])
def test_unknown_command(name: str) -> None:
    """MIG-QMP-001: an unknown name gets class CommandNotFound, "The command NAME has
    not been found" (command names are exact: migrate_cancel has an underscore)."""
    eng = new_engine()
    assert error_of(eng, {"execute": name}) == (
        "CommandNotFound", f"The command {name} has not been found")


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("migrate", "uri"),
        ("migrate-incoming", "uri"),
        ("migrate_set_speed", "value"),
        ("migrate_set_downtime", "value"),
        ("migrate-set-cache-size", "value"),
        ("migrate-set-capabilities", "capabilities"),
    ],
)
def test_missing_argument(name: str, arg: str) -> None:
    """MIG-QMP-002: check_mandatory_args reports "Parameter 'ARG' is missing", with or
    without an (empty) arguments object."""
    eng = new_engine()
    assert error_of(eng, {"execute": name}) == (GENERIC, f"Parameter '{arg}' is missing")
    assert error_of(eng, {"execute": name, "arguments": {}}) == (
        GENERIC, f"Parameter '{arg}' is missing")


def test_missing_checked_before_unknown() -> None:
    """MIG-QMP-002: check_mandatory_args runs before check_client_args_type."""
    eng = new_engine()
    assert error_of(eng, {"execute": "migrate", "arguments": {"bogus": 1}}) == (
        GENERIC, "Parameter 'uri' is missing")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("migrate", {"uri": EXEC_URI, "bogus": 1}),
        ("query-migrate", {"bogus": 1}),
        ("migrate_cancel", {"bogus": True}),
        ("migrate-set-parameters", {"bogus": 1}),
        ("query-migrate-capabilities", {"bogus": 1}),
        ("query-migrate-parameters", {"bogus": 1}),
        ("query-migrate-cache-size", {"bogus": 1}),
        ("migrate-set-cache-size", {"value": 4096, "bogus": 1}),
        ("migrate_set_speed", {"value": 1, "bogus": 1}),
        ("migrate_set_downtime", {"value": 1, "bogus": 1}),
        ("migrate-incoming", {"uri": "tcp:0:1", "bogus": 1}),
        ("migrate-set-capabilities", {"capabilities": [], "bogus": 1}),
        ("query-status", {"bogus": 1}),
        ("stop", {"bogus": 1}),
        ("cont", {"bogus": 1}),
    ],
)
def test_unknown_argument(name: str, args: dict[str, Any]) -> None:
    """MIG-QMP-002: an argument the command does not declare is "Invalid parameter
    'bogus'"; the handler does not run (query-migrate stays {})."""
    eng = new_engine()
    assert error_of(eng, {"execute": name, "arguments": args}) == (
        GENERIC, "Invalid parameter 'bogus'")
    assert query(eng) == {}


@pytest.mark.parametrize(
    ("name", "args", "arg", "expected"),
    [
        ("migrate_set_speed", {"value": "fast"}, "value", "int"),
        ("migrate_set_speed", {"value": 1.5}, "value", "int"),
        ("migrate_set_speed", {"value": 2**63}, "value", "int"),
        ("migrate_set_speed", {"value": -(2**63) - 1}, "value", "int"),
        ("migrate_set_speed", {"value": True}, "value", "int"),
        ("migrate-set-cache-size", {"value": 65536.0}, "value", "int"),
        ("migrate_set_downtime", {"value": "1"}, "value", "number"),
        ("migrate_set_downtime", {"value": False}, "value", "number"),
        ("migrate", {"uri": 5}, "uri", "string"),
        ("migrate", {"uri": EXEC_URI, "blk": "yes"}, "blk", "bool"),
        ("migrate", {"uri": EXEC_URI, "inc": 1}, "inc", "bool"),
        ("migrate-incoming", {"uri": None}, "uri", "string"),
        ("migrate-set-parameters", {"compress-level": "3"}, "compress-level", "int"),
        ("migrate-set-parameters", {"compress-threads": 2.0}, "compress-threads", "int"),
    ],
)
def test_wrong_argument_type(name: str, args: dict[str, Any], arg: str, expected: str) -> None:
    """MIG-QMP-002, MIG-SPEED-001: check_client_args_type: 'i'/'o' need a QInt (a JSON
    integer within int64; larger ones parse as QFloat), 'T' a QInt or QFloat, 's' a
    QString, '-' a QBool: "Invalid parameter type for 'ARG', expected: KIND". The
    handler does not run."""
    eng = new_engine()
    assert error_of(eng, {"execute": name, "arguments": args}) == (
        GENERIC, f"Invalid parameter type for '{arg}', expected: {expected}")
    assert query(eng) == {}
    assert eng.vm().s.bandwidth_limit == 32 << 20


def test_int64_bounds_accepted() -> None:
    """MIG-QMP-002, MIG-SPEED-001: the extreme int64 values are QInts."""
    eng = new_engine()
    assert ret(eng, "migrate_set_speed", {"value": -(2**63)}) == {}
    assert ret(eng, "migrate_set_speed", {"value": 2**63 - 1}) == {}
    assert eng.vm().s.bandwidth_limit == 2**63 - 1


@pytest.mark.parametrize("cmd", ["query-migrate", ["query-migrate"], 5, None, True])
def test_input_not_an_object(cmd: Any) -> None:
    """MIG-QMP-003: qmp_check_input_obj: "Expected 'object' in QMP input"."""
    eng = new_engine()
    assert error_of(eng, cmd) == (GENERIC, "Expected 'object' in QMP input")


def test_input_without_execute() -> None:
    """MIG-QMP-003: an object without 'execute': "Expected 'execute' in QMP input"."""
    eng = new_engine()
    assert error_of(eng, {"arguments": {}}) == (GENERIC, "Expected 'execute' in QMP input")


@pytest.mark.parametrize(
    ("cmd", "desc"),
    [
        ({"execute": 5}, "QMP input object member 'execute' expects 'string'"),
        ({"execute": "migrate", "arguments": ["x"]},
         "QMP input object member 'arguments' expects 'object'"),
        ({"execute": "query-migrate", "foo": 1}, "QMP input object member 'foo' is unexpected"),
    ],
)
def test_input_object_members(cmd: dict[str, Any], desc: str) -> None:
    """MIG-QMP-003: qmp_check_input_obj checks each member: 'execute' a string,
    'arguments' an object, 'id' anything, nothing else."""
    eng = new_engine()
    assert error_of(eng, cmd) == (GENERIC, desc)


def test_nan_is_not_json() -> None:
    """MIG-QMP-003, MIG-DOWNTIME-001: NaN is no JSON token, so a downtime of NaN never
    reaches the handler: "Invalid JSON syntax"."""
    eng = new_engine()
    assert error_of(eng, {"execute": "migrate_set_downtime",
                          "arguments": {"value": float("nan")}}) == (
        GENERIC, "Invalid JSON syntax")
    assert eng.vm().max_downtime == 300_000_000


@pytest.mark.parametrize("ident", ["x1", 7, {"n": [1, 2]}, None])
def test_id_echoed(ident: Any) -> None:
    """MIG-QMP-003: the monitor copies 'id' into the reply: on success, on a handler
    error, on an unknown command and on an argument error."""
    eng = new_engine()
    ok = reply_of(eng, {"execute": "query-migrate", "id": ident})
    assert ok == {"return": {}, "id": ident}
    failed = reply_of(eng, {"execute": "migrate", "arguments": {"uri": "nope"}, "id": ident})
    assert failed["id"] == ident and "error" in failed
    unknown = reply_of(eng, {"execute": "nosuch", "id": ident})
    assert unknown["id"] == ident and unknown["error"]["class"] == "CommandNotFound"
    bad_arg = reply_of(eng, {"execute": "migrate_set_speed", "arguments": {"value": "x"},
                             "id": ident})
    assert bad_arg["id"] == ident and "error" in bad_arg


@pytest.mark.parametrize(
    "cmd",
    [
        {"execute": "query-migrate", "id": 3, "foo": 1},
        {"execute": 5, "id": 3},
        {"id": 3},
        {"execute": "query-migrate", "arguments": 1, "id": 3},
    ],
)
def test_id_not_echoed_on_input_object_errors(cmd: dict[str, Any]) -> None:
    """MIG-QMP-003: handle_qmp_command reads 'id' only after qmp_check_input_obj
    accepted the object, so these errors carry no id."""
    eng = new_engine()
    reply = reply_of(eng, cmd)
    assert "error" in reply
    assert "id" not in reply


def caps_cmd(value: Any) -> dict[str, Any]:
    return {"execute": "migrate-set-capabilities", "arguments": {"capabilities": value}}


@pytest.mark.parametrize(
    ("value", "desc"),
    [
        ([{"capability": "nonsense", "state": True}], "Invalid parameter 'nonsense'"),
        ([{"capability": "events", "state": "yes"}],
         "Invalid parameter type for 'state', expected: boolean"),
        ([{"capability": "events"}], "Invalid parameter type for 'state', expected: boolean"),
        ({"capability": "events", "state": True},
         "Invalid parameter type for 'capabilities', expected: list"),
        ([{"capability": "events", "state": True, "extra": 1}],
         "QMP input object member 'extra' is unexpected"),
        ([{"capability": 5, "state": True}],
         "Invalid parameter type for 'capability', expected: string"),
        ([{"state": True}], "Invalid parameter type for 'capability', expected: string"),
        (["events"], "Invalid parameter type for 'null', expected: QDict"),
        ([{"capability": "nonsense", "state": "yes"}], "Invalid parameter 'nonsense'"),
    ],
)
def test_capability_list_errors(value: Any, desc: str) -> None:
    """MIG-QMP-002, MIG-CAPS-001: the QAPI visitor of MigrationCapabilityStatusList
    rejects an unknown enum name (QERR_INVALID_PARAMETER), a non-string or missing
    capability, a non-boolean or missing state (capability is visited first), an
    element that is no object (its name is NULL, printed "null"), a non-list and an
    extra member; nothing is set."""
    eng = new_engine()
    assert error_of(eng, caps_cmd(value)) == (GENERIC, desc)
    caps = ret(eng, "query-migrate-capabilities")
    assert not any(c["state"] for c in caps)


def test_capability_list_all_or_nothing() -> None:
    """MIG-QMP-002, MIG-CAPS-001: the whole list is visited before
    qmp_migrate_set_capabilities runs (lines 468-483), so a valid entry before an
    invalid one is not set either."""
    eng = new_engine()
    value = [{"capability": "events", "state": True}, {"capability": "bogus", "state": True}]
    assert error_of(eng, caps_cmd(value)) == (GENERIC, "Invalid parameter 'bogus'")
    caps = {c["capability"]: c["state"] for c in ret(eng, "query-migrate-capabilities")}
    assert caps["events"] is False


def test_qmp_capabilities_in_command_mode() -> None:
    """MIG-QMP-004: the reference's monitor is in command mode already, so
    qmp_capabilities is recognised but answered as QEMU 2.4 answers it after
    negotiation: CommandNotFound "Capabilities negotiation is already complete,
    command 'qmp_capabilities' ignored"."""
    eng = new_engine()
    assert error_of(eng, {"execute": "qmp_capabilities"}) == (
        "CommandNotFound",
        "Capabilities negotiation is already complete, command 'qmp_capabilities' ignored",
    )


def test_commands_without_arguments_accept_empty_object() -> None:
    """MIG-QMP-002, MIG-CANCEL-003: an empty arguments object is fine for a command
    that takes none."""
    eng = new_engine()
    assert reply_of(eng, {"execute": "migrate_cancel", "arguments": {}}) == {"return": {}}


def test_visitor_errors_come_before_the_handler() -> None:
    """MIG-QMP-002, MIG-CAPS-002: the argument list is visited before
    qmp_migrate_set_capabilities runs, so in 'setup' a bad list gets the visitor's
    error, not QERR_MIGRATION_ACTIVE (lines 474-477)."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert error_of(eng, caps_cmd([{"capability": "nonsense", "state": True}])) == (
        GENERIC, "Invalid parameter 'nonsense'")
