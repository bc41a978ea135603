"""The destination: -incoming, migrate-incoming and the incoming coroutine
(lines 224-319, 673-694)."""

from __future__ import annotations

import pytest
from support import (
    GENERIC,
    event_names,
    events_on,
    exits,
    from_vm,
    migration_events,
    new_engine,
    query,
    ret,
    runstate,
)

from migspec.reference.engine import Engine

DEST = "destination"
NOT_DEFERRED = "For use with '-incoming defer'"
ALREADY_STARTED = "The incoming migration has already been started"
ALREADY_DEFERRED = "Incoming migration already deferred"


def deferred() -> Engine:
    """A destination started with -incoming defer; its output consumed."""
    eng = new_engine()
    eng.incoming("defer")
    eng.output()
    return eng


def dest_err(eng: Engine, uri: str) -> tuple[str, str]:
    reply = eng.execute({"execute": "migrate-incoming", "arguments": {"uri": uri}}, DEST)
    assert reply is not None and "error" in reply, reply
    return reply["error"]["class"], reply["error"]["desc"]


def dest_ok(eng: Engine, uri: str) -> None:
    assert ret(eng, "migrate-incoming", {"uri": uri}, vm=DEST) == {}


def test_incoming_defer_waits_and_no_client_sees_its_setup() -> None:
    """MIG-INCOMING-002, MIG-EVENT-003: -incoming defer sends MIGRATION 'setup'
    (line 240) from vl.c before the main loop, when no monitor has negotiated
    capabilities: no client receives it (monitor_qapi_event_emit). It marks the
    incoming migration deferred (233) and the guest waits in 'inmigrate' (vl.c)."""
    eng = new_engine()
    eng.incoming("defer")
    out = eng.output()
    assert migration_events(out, DEST) == []
    assert eng.vm(DEST).deferred_incoming is True
    assert runstate(eng, DEST) == "inmigrate"


def test_migrate_incoming_after_defer() -> None:
    """MIG-INCOMING-001, MIG-INCOMING-010, MIG-EVENT-003: after -incoming defer,
    migrate-incoming tcp: starts listening (lines 243-244, 686) and sends another
    'setup' (240)."""
    eng = deferred()
    dest_ok(eng, "tcp:0:4444")
    assert migration_events(eng.output(), DEST) == ["setup"]
    assert eng.vm(DEST).incoming.listening == ["tcp:0:4444"]


@pytest.mark.parametrize("uri", ["tcp:0:4444", "exec:cat", "unix:/tmp/m", "fd:3"])
def test_incoming_schemes(uri: str) -> None:
    """MIG-INCOMING-001: tcp:, exec:, unix: and fd: dispatch to a transport
    (lines 243-256)."""
    eng = deferred()
    dest_ok(eng, uri)
    assert eng.vm(DEST).incoming.listening == [uri]


def test_migrate_incoming_without_defer() -> None:
    """MIG-INCOMING-010: without -incoming defer, migrate-incoming fails with "For use
    with '-incoming defer'" (lines 678-681) before qemu_start_incoming_migration,
    so no 'setup' event."""
    eng = new_engine()
    eng.output()
    assert dest_err_on(eng, "source", "tcp:0:4444") == (GENERIC, NOT_DEFERRED)
    assert event_names(eng.output()) == []
    eng.incoming("tcp:0:4444")
    eng.output()
    assert dest_err(eng, "tcp:0:4445") == (GENERIC, NOT_DEFERRED)
    assert event_names(eng.output(), DEST) == []


def dest_err_on(eng: Engine, vm: str, uri: str) -> tuple[str, str]:
    reply = eng.execute({"execute": "migrate-incoming", "arguments": {"uri": uri}}, vm)
    assert reply is not None and "error" in reply, reply
    return reply["error"]["class"], reply["error"]["desc"]


def test_unknown_incoming_protocol_can_be_retried() -> None:
    """MIG-INCOMING-004, MIG-INCOMING-011, MIG-EVENT-003: an unknown URI reports
    "unknown migration protocol: foo:bar" (lines 257-259) after the unconditional
    'setup' event (240); 'once' stays true (693 not reached), so a retry works."""
    eng = deferred()
    assert dest_err(eng, "foo:bar") == (GENERIC, "unknown migration protocol: foo:bar")
    assert migration_events(eng.output(), DEST) == ["setup"]
    dest_ok(eng, "tcp:0:4444")
    assert eng.vm(DEST).incoming.listening == ["tcp:0:4444"]


def test_rdma_incoming_unknown_without_config_rdma() -> None:
    """MIG-INCOMING-001, MIG-INCOMING-004: rdma: exists only with CONFIG_RDMA
    (lines 245-248)."""
    eng = deferred()
    assert dest_err(eng, "rdma:0:4444")[1] == "unknown migration protocol: rdma:0:4444"


def test_defer_twice() -> None:
    """MIG-INCOMING-003: migrate-incoming defer after -incoming defer reports
    "Incoming migration already deferred" (lines 230-232); it is still deferred and
    a real URI can follow."""
    eng = deferred()
    assert dest_err(eng, "defer") == (GENERIC, ALREADY_DEFERRED)
    assert eng.vm(DEST).deferred_incoming is True
    dest_ok(eng, "tcp:0:4444")


def test_second_migrate_incoming_refused() -> None:
    """MIG-INCOMING-011: after one successful migrate-incoming, 'once' is false
    (line 693) and the next one reports "The incoming migration has already been
    started" (lines 682-684)."""
    for profile in ("seed", "fixed"):
        eng = new_engine(profile)
        eng.incoming("defer")
        dest_ok(eng, "tcp:0:4444")
        assert dest_err(eng, "tcp:0:4445") == (GENERIC, ALREADY_STARTED)


def test_bad_incoming_uri_on_command_line_exits() -> None:
    """MIG-INCOMING-004, MIG-EVENT-003: -incoming foo:bar sends 'setup' (line 240)
    to no client (start-up: no negotiated monitor), fails with "unknown
    migration protocol: foo:bar" (257-259) and vl.c exits."""
    eng = new_engine()
    eng.incoming("foo:bar")
    out = eng.output()
    assert migration_events(out, DEST) == []
    gone = exits(out, DEST)
    assert len(gone) == 1
    assert "unknown migration protocol: foo:bar" in gone[0]["reason"]
    assert eng.execute({"execute": "query-status"}, DEST) is None


# (received run state or None, autostart) -> run state after the load
RULES = [
    (None, True, "running"),
    (None, False, "paused"),
    ("running", True, "running"),
    ("running", False, "paused"),
    ("paused", True, "paused"),
    ("paused", False, "paused"),
    ("suspended", True, "suspended"),
    ("suspended", False, "suspended"),
    ("io-error", True, "io-error"),
    ("shutdown", False, "shutdown"),
    ("guest-panicked", True, "guest-panicked"),
]


@pytest.mark.parametrize(("received", "autostart", "after"), RULES)
def test_incoming_runstate_rule(received: str | None, autostart: bool, after: str) -> None:
    """MIG-INCOMING-008, MIG-GLOBAL-003: without a global-state section, or with
    'running', autostart decides: vm_start (RESUME event) or 'paused'; any other
    received run state is set as it is (lines 293-306)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    eng.configure_vm(DEST, {"autostart": autostart})
    eng.output()
    eng.feed(DEST, "complete", received)
    assert eng.settle()
    out = eng.output()
    assert runstate(eng, DEST) == after
    assert ("RESUME" in event_names(out, DEST)) == (after == "running")
    assert eng.vm(DEST).global_state.received == (received is not None)


def test_received_runstate_outside_vl_table_aborts() -> None:
    """MIG-INCOMING-008: runstate_set of a received state that vl.c does not allow
    from 'inmigrate' (here 'postmigrate') aborts the destination (line 305)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    eng.feed(DEST, "complete", "postmigrate")
    eng.settle()
    gone = exits(eng.output(), DEST)
    assert len(gone) == 1
    assert gone[0]["reason"] == "invalid runstate transition: 'inmigrate' -> 'postmigrate'"


def test_incoming_events_with_capability() -> None:
    """MIG-INCOMING-005, MIG-INCOMING-007, MIG-EVENT-001: with the destination's
    events capability on, the coroutine sends 'active' when it starts (line 269)
    and 'completed' after the load (282)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    events_on(eng, DEST)
    eng.output()
    eng.feed(DEST, "complete", "running")
    assert eng.settle()
    assert migration_events(eng.output(), DEST) == ["active", "completed"]


def test_incoming_events_without_capability() -> None:
    """MIG-INCOMING-005, MIG-INCOMING-007, MIG-EVENT-001: lines 269 and 282 use
    migrate_generate_event, so without the capability only migrate-incoming's
    'setup' (240, not gated) is ever seen."""
    eng = deferred()
    dest_ok(eng, "tcp:0:4444")
    eng.feed(DEST, "complete", None)
    assert eng.settle()
    assert migration_events(eng.output(), DEST) == ["setup"]


def test_failed_load_exits() -> None:
    """MIG-INCOMING-006: a failed load sends 'failed' (with the capability, line 277)
    and exits with EXIT_FAILURE (278-280); the process answers nothing more."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    events_on(eng, DEST)
    eng.output()
    eng.feed(DEST, "fail", None)
    eng.settle()
    out = eng.output()
    assert migration_events(out, DEST) == ["active", "failed"]
    gone = exits(out, DEST)
    assert len(gone) == 1
    assert "load of migration failed" in gone[0]["reason"]
    assert from_vm(out, DEST)[-1] == gone[0]
    assert eng.execute({"execute": "query-migrate"}, DEST) is None


def test_destination_query_migrate_stays_none() -> None:
    """MIG-QUERY-001, MIG-INCOMING-005: the incoming side never touches the outgoing
    MigrationState (lines 262-308): query-migrate on the destination stays {}."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    eng.feed(DEST, "complete", None)
    assert eng.settle()
    assert query(eng, DEST) == {}


@pytest.mark.parametrize(("profile", "setups"), [("seed", ["setup"]), ("fixed", [])])
def test_second_migrate_incoming_first_error_wins(profile: str, setups: list[str]) -> None:
    """MIG-INCOMING-011, MIG-EVENT-003 (DEF-INCOMING-ONCE-NO-RETURN): a second
    migrate-incoming with a bad URI: the seed sets "already been started" (683),
    goes on into qemu_start_incoming_migration (sending 'setup', 240) whose own
    error error_propagate discards because errp is already set (689): the client
    sees "already been started". The fixed profile returns at once: same error, no
    event."""
    eng = new_engine(profile)
    eng.incoming("defer")
    dest_ok(eng, "tcp:0:4444")
    eng.output()
    assert dest_err(eng, "foo:bar") == (GENERIC, ALREADY_STARTED)
    assert migration_events(eng.output(), DEST) == setups


def test_setup_event_before_reply() -> None:
    """MIG-EVENT-003: qemu_start_incoming_migration sends 'setup' (240) while the
    command runs, so the event precedes the command's reply."""
    eng = deferred()
    dest_ok(eng, "tcp:0:4444")
    out = from_vm(eng.output(), DEST)
    assert [("event" in ln, "return" in ln) for ln in out] == [(True, False), (False, True)]


@pytest.mark.parametrize("profile", ["seed", "fixed", "qemu-7.2"])
@pytest.mark.parametrize("uri", ["defer", "tcp:0:4444", "unix:/tmp/m", "exec:cat", "fd:3",
                                 "foo:bar"])
def test_start_up_events_reach_no_client(profile: str, uri: str) -> None:
    """MIG-EVENT-003: whatever the -incoming URI and profile, a client of the
    new process sees no event from its start-up (QEMU sends events only to
    monitors that negotiated capabilities; vl.c starts the incoming migration
    before the main loop serves any). QEMU 7.2 printed none for defer and tcp:
    (the probes of tests/test_reading_real.py)."""
    eng = Engine(profile)
    eng.output()
    eng.incoming(uri)
    assert [o for o in eng.output() if "event" in o] == []
