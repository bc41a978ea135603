"""migrate_cancel (lines 575-600, 764-767), migrate_fd_cleanup (536-565) and the
state-change notifiers (564, 572, 612-626, 1036)."""

from __future__ import annotations

from typing import Any

import pytest
from support import (
    ALL_STATES,
    EXEC_URI,
    TCP_URI,
    event_names,
    events_on,
    migration_events,
    new_engine,
    query,
    ret,
    runstate,
    status,
    step_to_active,
    to_state,
)

from migspec.reference.engine import Engine

CANCEL_RESULT = {
    "none": "none",
    "setup": "cancelling",
    "active": "cancelling",
    "cancelling": "cancelling",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


@pytest.mark.parametrize("state", ALL_STATES)
def test_cancel_in_every_state(state: str) -> None:
    """MIG-CANCEL-001, MIG-CANCEL-003: migrate_cancel always returns {} (no error path,
    lines 764-767); only 'setup' and 'active' become 'cancelling' (lines 581-588),
    every other state is left alone (line 585)."""
    eng = new_engine()
    to_state(eng, state)
    assert ret(eng, "migrate_cancel") == {}
    assert status(eng) == CANCEL_RESULT[state]


@pytest.mark.parametrize("state", ["none", "cancelling", "completed", "failed", "cancelled"])
def test_cancel_elsewhere_sends_no_event(state: str) -> None:
    """MIG-CANCEL-001, MIG-EVENT-002: the loop breaks before migrate_set_state
    (lines 583-586), so no MIGRATION event is sent."""
    eng = new_engine()
    events_on(eng)
    to_state(eng, state)
    eng.output()
    assert ret(eng, "migrate_cancel") == {}
    assert migration_events(eng.output()) == []


def test_cancel_in_setup_events() -> None:
    """MIG-CANCEL-001, MIG-SETSTATE-001, MIG-CLEANUP-004: cancelled before the thread's
    setup -> active swap, that swap fails (line 927 finds 'cancelling') and sends
    nothing; the thread leaves (929), schedules cleanup (1019), and cleanup moves
    cancelling -> cancelled (558-560): events setup, cancelling, cancelled."""
    eng = new_engine()
    events_on(eng)
    eng.output()
    to_state(eng, "setup")
    assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    assert migration_events(eng.output()) == ["setup", "cancelling", "cancelled"]
    assert query(eng) == {"status": "cancelled"}


def test_cancel_in_active_events() -> None:
    """MIG-CANCEL-001, MIG-THREAD-003, MIG-CLEANUP-004: setup, active (927), cancelling
    (587); the thread's loop test (929) ends the loop, cleanup sends cancelled
    (559-560). The guest was never stopped (no STOP, no RESUME) and still runs."""
    eng = new_engine()
    events_on(eng)
    eng.output()
    to_state(eng, "active")
    assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    assert event_names(eng.output()) == [
        "MIGRATION:setup", "MIGRATION:active", "MIGRATION:cancelling", "MIGRATION:cancelled"]
    assert runstate(eng) == "running"


def test_cancel_twice_sends_one_event() -> None:
    """MIG-CANCEL-001, MIG-EVENT-002: a second cancel finds 'cancelling' and breaks
    out of the loop (lines 583-586)."""
    eng = new_engine()
    events_on(eng)
    to_state(eng, "active")
    eng.output()
    assert ret(eng, "migrate_cancel") == {}
    assert ret(eng, "migrate_cancel") == {}
    assert migration_events(eng.output()) == ["cancelling"]


def test_cancel_before_connect_then_connect_succeeds() -> None:
    """MIG-CANCEL-001, MIG-CONNECT-002, MIG-CLEANUP-004: cancelled while a socket
    connect is pending (no file, line 597 shuts nothing down); the connect then
    starts the thread (1026-1041), whose swap to 'active' fails; cleanup ends in
    'cancelled'."""
    eng = new_engine(connect="delayed", connect_delay_ms=200)
    events_on(eng)
    eng.output()
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.vm().s.file is None
    assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    assert migration_events(eng.output()) == ["setup", "cancelling", "cancelled"]


def _cancel_active(uri: str) -> tuple[Engine, int]:
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": uri}) == {}
    if eng.vm().s.file is None:
        eng.step("source", "main")  # the socket's connect callback: migrate_fd_connect
    step_to_active(eng)
    fid = eng.vm().s.file
    assert fid is not None
    assert ret(eng, "migrate_cancel") == {}
    return eng, fid


def test_cancel_shuts_down_socket_file() -> None:
    """MIG-CANCEL-002: cancelling with a socket file calls qemu_file_shutdown
    (lines 597-599); the migration still ends 'cancelled' (cleanup, 558-560)."""
    eng, fid = _cancel_active(TCP_URI)
    assert eng.world.files[fid].shut_down is True
    assert eng.settle()
    assert status(eng) == "cancelled"


def test_cancel_cannot_shut_down_exec_file() -> None:
    """MIG-CANCEL-002: a popen (exec:) file has no shutdown (-ENOSYS), so the file
    stays up; the thread leaves its loop by the state test (line 929)."""
    eng, fid = _cancel_active(EXEC_URI)
    assert eng.world.files[fid].shut_down is False
    assert eng.settle()
    assert status(eng) == "cancelled"


@pytest.mark.parametrize("state", ["completed", "cancelled"])
def test_cleanup_releases_everything(state: str) -> None:
    """MIG-CLEANUP-001, MIG-CLEANUP-002, MIG-THREAD-011: the thread always schedules
    the cleanup bottom half (line 1019); cleanup deletes and clears cleanup_bh
    (540-541), joins the thread and closes and clears the file (543-552)."""
    eng = new_engine()
    to_state(eng, "setup")
    fid = eng.vm().s.file
    assert fid is not None
    if state == "cancelled":
        assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    s = eng.vm().s
    assert status(eng) == state
    assert s.cleanup_bh is None
    assert s.file is None
    assert eng.vm().threads == {}
    assert eng.world.files[fid].closed is True


def test_cleanup_leaves_failed_alone() -> None:
    """MIG-CLEANUP-004, MIG-THREAD-008: a channel error fails the migration (lines
    970-974); cleanup changes only 'cancelling' (558), so 'failed' stays."""
    eng = new_engine(channel_error=True)
    events_on(eng)
    eng.output()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert migration_events(eng.output()) == ["setup", "active", "failed"]
    assert query(eng) == {"status": "failed"}


@pytest.mark.parametrize(
    ("how", "seen"),
    [
        ("complete", ["setup", "completed"]),
        ("cancel", ["setup", "cancelled"]),
        ("channel", ["setup", "failed"]),
        ("refused", ["failed"]),
        ("unknown", []),
    ],
)
def test_notifier_calls(how: str, seen: list[str]) -> None:
    """MIG-NOTIFY-001, MIG-CLEANUP-005, MIG-CONNECT-001, MIG-FDERROR-001: the
    notifiers run in migrate_fd_connect while 'setup' (line 1036), at the end of
    cleanup with the final state (564), in migrate_fd_error with 'failed' (572),
    and never for an unknown URI (750-755)."""
    env: dict[str, Any] = {}
    if how == "channel":
        env["channel_error"] = True
    if how == "refused":
        env["connect"] = "refused"
    eng = new_engine(**env)
    uri = "gopher:x" if how == "unknown" else EXEC_URI
    eng.execute({"execute": "migrate", "arguments": {"uri": uri}})
    if how == "cancel":
        assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    assert eng.vm().notifications == seen


def in_setup(state: str) -> bool:
    """migration_in_setup (lines 612-615)."""
    return state == "setup"


def has_finished(state: str) -> bool:
    """migration_has_finished (lines 617-620)."""
    return state == "completed"


def has_failed(state: str) -> bool:
    """migration_has_failed (lines 622-626)."""
    return state in ("cancelled", "failed")


@pytest.mark.parametrize(
    ("how", "classes"),
    [
        ("complete", [(True, False, False), (False, True, False)]),
        ("cancel", [(True, False, False), (False, False, True)]),
    ],
)
def test_notifiers_can_classify(how: str, classes: list[tuple[bool, bool, bool]]) -> None:
    """MIG-NOTIFY-002: at connect a notifier sees migration_in_setup; after cleanup it
    sees migration_has_finished for 'completed' and migration_has_failed for
    'cancelled' (lines 612-626)."""
    eng = new_engine()
    to_state(eng, "setup")
    if how == "cancel":
        step_to_active(eng)
        assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    got = [(in_setup(s), has_finished(s), has_failed(s)) for s in eng.vm().notifications]
    assert got == classes
