"""Whole migrations as a client sees them: event sequences, failures at each
stage, and a source paired with a destination."""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    MIB,
    TCP_URI,
    event_names,
    events_on,
    exits,
    migration_events,
    new_engine,
    query,
    ret,
    runstate,
    status,
    step_to_active,
)

from migspec.reference.engine import Engine

DEST = "destination"


def started(profile: str = "seed", **env: object) -> Engine:
    """An engine with events on and its output consumed."""
    eng = new_engine(profile, **env)
    events_on(eng)
    eng.output()
    return eng


def test_complete_event_sequence() -> None:
    """MIG-INIT-002, MIG-THREAD-002, MIG-THREAD-006, MIG-EVENT-002: setup (655),
    active (927), STOP when completion stops the guest (948), completed (963-964)."""
    eng = started()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert event_names(eng.output()) == [
        "MIGRATION:setup", "MIGRATION:active", "STOP", "MIGRATION:completed"]
    assert runstate(eng) == "postmigrate"


def test_no_events_without_capability() -> None:
    """MIG-EVENT-001: with the capability off a whole migration sends no MIGRATION
    event (lines 218-220); STOP is not a migration event and still comes."""
    eng = new_engine()
    eng.output()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert event_names(eng.output()) == ["STOP"]


def test_async_connect_failure() -> None:
    """MIG-CONNECT-002, MIG-FDERROR-001: a socket connect that fails later: migrate
    returns {} in 'setup' with no file; the callback's migrate_fd_error then moves
    setup -> failed (571) and notifies (572)."""
    eng = started(connect="delayed-refused", connect_delay_ms=100)
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert query(eng) == {"status": "setup"}
    assert eng.vm().s.file is None
    assert eng.settle()
    assert migration_events(eng.output()) == ["setup", "failed"]
    assert query(eng) == {"status": "failed"}
    assert eng.vm().notifications == ["failed"]


def test_delayed_connect_stays_setup_until_connected() -> None:
    """MIG-CONNECT-002, MIG-CONNECT-001: until the connect callback runs the state
    is 'setup' with no file; then migrate_fd_connect opens the file and starts the
    thread (1026-1041)."""
    eng = started(connect="delayed", connect_delay_ms=500)
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    eng.advance(499)
    assert query(eng) == {"status": "setup"}
    assert eng.vm().s.file is None
    assert eng.vm().threads == {}
    eng.advance(2)
    assert eng.vm().s.file is not None
    assert eng.settle()
    assert migration_events(eng.output()) == ["setup", "active", "completed"]


def test_channel_error_in_thread() -> None:
    """MIG-THREAD-008, MIG-THREAD-010: the outgoing channel fails: the thread still
    swaps setup -> active (927), then the file error moves active -> failed
    (970-974); completion never began, so the guest was never stopped and keeps
    running (no STOP, no RESUME)."""
    eng = started(channel_error=True)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert event_names(eng.output()) == [
        "MIGRATION:setup", "MIGRATION:active", "MIGRATION:failed"]
    assert runstate(eng) == "running"


def test_completion_vm_stop_error_resumes_guest() -> None:
    """MIG-THREAD-007, MIG-THREAD-010: vm_stop_force_state fails (ret < 0,
    lines 948, 956-959): active -> failed; the guest was running when completion
    began (944), so vm_start resumes it (1015-1017): STOP, failed, RESUME."""
    eng = started(completion_error="vm-stop")
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert event_names(eng.output()) == [
        "MIGRATION:setup", "MIGRATION:active", "STOP", "MIGRATION:failed", "RESUME"]
    assert query(eng) == {"status": "failed"}
    assert runstate(eng) == "running"


def test_completion_vm_stop_error_paused_guest_stays_stopped() -> None:
    """MIG-THREAD-007, MIG-THREAD-010: a paused guest is not running at line 944;
    vm_stop_force_state sets finish-migrate and fails; old_vm_running is false, so
    nothing restarts it (1015): it stays in finish-migrate."""
    eng = new_engine(completion_error="vm-stop")
    assert ret(eng, "stop") == {}
    eng.output()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert status(eng) == "failed"
    assert runstate(eng) == "finish-migrate"
    assert event_names(eng.output()) == []


def test_paired_run() -> None:
    """MIG-THREAD-009, MIG-GLOBAL-001, MIG-GLOBAL-002, MIG-INCOMING-008: -incoming tcp
    then migrate tcp: the source stores 'running' (946), sends the section (it is
    not optional), completes and ends 'postmigrate' (1013); the destination
    receives 'running' and, with autostart, runs the guest (297-300)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    eng.output()
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.settle()
    out = eng.output()
    assert status(eng) == "completed"
    assert runstate(eng) == "postmigrate"
    assert runstate(eng, DEST) == "running"
    assert eng.vm().global_state.runstate == "running"
    assert eng.vm(DEST).global_state.received is True
    assert event_names(out) == ["STOP"]
    assert event_names(out, DEST) == ["RESUME"]


def test_paired_run_after_migrate_incoming() -> None:
    """MIG-INCOMING-002, MIG-INCOMING-010, MIG-INCOMING-005, MIG-INCOMING-007:
    -incoming defer, migrate-incoming tcp:, then migrate: the destination sends
    active and completed with its events capability on (269, 282)."""
    eng = new_engine()
    eng.incoming("defer")
    events_on(eng, DEST)
    assert ret(eng, "migrate-incoming", {"uri": "tcp:0:4444"}, vm=DEST) == {}
    eng.output()
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.settle()
    assert migration_events(eng.output(), DEST) == ["active", "completed"]
    assert runstate(eng, DEST) == "running"


@pytest.mark.parametrize(
    ("source", "optional", "autostart", "after"),
    [
        ("running", False, True, "running"),
        ("running", False, False, "paused"),
        ("paused", False, True, "paused"),
        ("paused", True, True, "running"),
        ("paused", True, False, "paused"),
        ("running", True, True, "running"),
        ("suspended", False, True, "running"),
    ],
)
def test_paired_runstate(source: str, optional: bool, autostart: bool, after: str) -> None:
    """MIG-GLOBAL-001, MIG-GLOBAL-002, MIG-INCOMING-008, MIG-THREAD-006: the source
    stores its run state (946; a suspended guest is woken first, 943, and stores
    'running'); the section is sent unless optional with 'running'/'paused'
    (140-160); the destination obeys autostart without a section or with 'running',
    and sets any other received state (293-306)."""
    eng = new_engine()
    if source == "paused":
        assert ret(eng, "stop") == {}
    elif source != "running":
        eng.configure_vm("source", {"runstate": source})
    eng.configure_vm("source", {"global_state_optional": optional})
    eng.incoming("tcp:0:4444")
    eng.configure_vm(DEST, {"autostart": autostart})
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.settle()
    assert status(eng) == "completed"
    assert runstate(eng) == "postmigrate"
    assert runstate(eng, DEST) == after
    sent = not optional or source not in ("running", "paused")
    assert eng.vm(DEST).global_state.received is sent


def test_paired_cancel_makes_destination_exit() -> None:
    """MIG-CANCEL-002, MIG-INCOMING-006: cancelling a tcp migration shuts the socket
    down (597-599); the destination's load fails and it exits (276-281); the source
    ends 'cancelled' and its guest still runs."""
    eng = new_engine(ram_bytes=128 * MIB)
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    eng.advance(300)
    assert status(eng) == "active"
    assert ret(eng, "migrate_cancel") == {}
    eng.settle()
    out = eng.output()
    assert len(exits(out, DEST)) == 1
    assert exits(out) == []
    assert status(eng) == "cancelled"
    assert runstate(eng) == "running"


def test_file_error_before_delivery() -> None:
    """MIG-THREAD-008, MIG-THREAD-010, MIG-INCOMING-006: the file fails during
    qemu_savevm_state_complete: no COMPLETED (962-966); the error check fails the
    migration (970-974); the guest, running before, resumes (1015-1017); the
    destination's load fails and it exits."""
    eng = new_engine(completion_error="file-before-delivery")
    eng.incoming("tcp:0:4444")
    events_on(eng)
    eng.output()
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    eng.settle()
    out = eng.output()
    assert event_names(out) == [
        "MIGRATION:setup", "MIGRATION:active", "STOP", "MIGRATION:failed", "RESUME"]
    assert runstate(eng) == "running"
    assert len(exits(out, DEST)) == 1


def test_setup_lasts_while_state_begin_runs() -> None:
    """MIG-THREAD-001, MIG-THREAD-002: qemu_savevm_state_begin runs before the swap to
    'active' (lines 923-927): while it takes its 300 ms the state stays 'setup'."""
    eng = new_engine(setup_ms=300)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(299)
    assert query(eng) == {"status": "setup"}
    eng.advance(2)
    info = query(eng)
    assert info["status"] == "active"
    assert info["setup-time"] == 300


def test_ram_is_sent_while_active() -> None:
    """MIG-THREAD-004: while pending >= max_size the thread sends rounds
    (lines 933-937): transferred grows and remaining shrinks."""
    eng = new_engine(ram_bytes=128 * MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    first = query(eng)["ram"]
    eng.advance(500)
    later = query(eng)
    assert later["status"] == "active"
    assert later["ram"]["transferred"] > first["transferred"]
    assert later["ram"]["remaining"] < first["remaining"]


def test_expected_downtime_follows_dirty_rate() -> None:
    """MIG-THREAD-005: with dirty memory (dirty_bytes_rate > 0) and more than 10000
    bytes sent in a window, expected_downtime = dirty_bytes_rate / bandwidth
    (lines 989-991), bandwidth in bytes/ms <= (3355443 + 4096) / 100 at the default
    limit; 20 MB/s of dirtying thus gives more than the initial 300 ms. (The dirty
    rate is measured by ram.c's bitmap sync, which first runs when the first pass
    over 128 MiB is nearly done, after about 3.5 s.)"""
    eng = new_engine(ram_bytes=128 * MIB, dirty_rate=20_000_000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(5000)
    info = query(eng)
    assert info["status"] == "active"
    rate = eng.vm().s.dirty_bytes_rate
    assert rate > 0
    assert info["expected-downtime"] >= rate // ((3355443 + 4096) // 100 + 1)
    assert info["expected-downtime"] > 300


def test_second_migration_after_first_completed() -> None:
    """MIG-MIGRATE-006, MIG-INIT-001, MIG-INIT-002: after a completed migration (and
    its cleanup) a new one starts from 'none' and runs to 'completed' again;
    total-time restarts (657)."""
    eng = started()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert ret(eng, "cont") == {}
    eng.advance(1000)
    eng.output()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert query(eng)["total-time"] == 0
    assert eng.settle()
    assert migration_events(eng.output()) == ["setup", "active", "completed"]


def test_migrating_a_postmigrate_guest_aborts_destination() -> None:
    """MIG-GLOBAL-001, MIG-GLOBAL-002, MIG-INCOMING-008: a source migrated once and not
    continued is 'postmigrate' (1013). Migrated again, completion stores that name
    (946), sends it (not optional, 147-148), and the new destination's
    runstate_set('postmigrate') from 'inmigrate' (305) is not in vl.c's table
    (spec/runstates.py): it aborts, although the source reports 'completed'."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.settle()
    assert runstate(eng) == "postmigrate"
    eng.incoming("tcp:0:4445", "second")
    eng.output()
    assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4445"}) == {}
    eng.settle()
    out = eng.output()
    assert status(eng) == "completed"
    assert eng.vm().global_state.runstate == "postmigrate"
    gone = exits(out, "second")
    assert len(gone) == 1
    assert gone[0]["reason"] == "invalid runstate transition: 'inmigrate' -> 'postmigrate'"


def test_fixed_profile_lands_a_postmigrate_guest() -> None:
    """DEF-INCOMING-PRELAUNCH-ABORT repaired: with 'inmigrate' -> 'postmigrate'
    allowed, the second destination takes the received run state as it is
    (line 305) and keeps running as a process."""
    eng = new_engine("fixed")
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.settle()
    eng.incoming("tcp:0:4445", "second")
    assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4445"}) == {}
    assert eng.settle()
    assert exits(eng.output(), "second") == []
    assert eng.vm("second").runstate == "postmigrate"
