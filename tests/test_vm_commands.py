"""query-status, stop and cont beside the seed (qmp.c and cpus.c of QEMU 2.4), and
how the migration thread moves the source's run state (lines 941-1018)."""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    GENERIC,
    err,
    event_names,
    new_engine,
    ret,
    runstate,
    status,
    to_state,
)

DEST = "destination"


def test_query_status_running() -> None:
    """MIG-VM-001: a fresh guest runs; StatusInfo has running, singlestep, status."""
    assert ret(new_engine(), "query-status") == {
        "running": True, "singlestep": False, "status": "running"}


def test_stop_and_cont() -> None:
    """MIG-VM-002, MIG-VM-003: stop pauses a running guest with a STOP event; a second
    stop does nothing (do_vm_stop tests runstate_is_running); cont resumes it with
    RESUME; a second cont does nothing (vm_start tests it too)."""
    eng = new_engine()
    eng.output()
    assert ret(eng, "stop") == {}
    assert ret(eng, "stop") == {}
    assert ret(eng, "query-status") == {
        "running": False, "singlestep": False, "status": "paused"}
    assert ret(eng, "cont") == {}
    assert ret(eng, "cont") == {}
    assert runstate(eng) == "running"
    assert event_names(eng.output()) == ["STOP", "RESUME"]


@pytest.mark.parametrize("state", ["shutdown", "internal-error"])
def test_cont_needs_reset(state: str) -> None:
    """MIG-VM-003: runstate_needs_reset refuses cont with "Resetting the Virtual
    Machine is required"."""
    eng = new_engine()
    eng.configure_vm("source", {"runstate": state})
    assert err(eng, "cont") == (GENERIC, "Resetting the Virtual Machine is required")
    assert runstate(eng) == state


def test_cont_leaves_suspended_guest() -> None:
    """MIG-VM-003: qmp_cont returns at once for a suspended guest."""
    eng = new_engine()
    eng.configure_vm("source", {"runstate": "suspended"})
    eng.output()
    assert ret(eng, "cont") == {}
    assert runstate(eng) == "suspended"
    assert event_names(eng.output()) == []


def test_stop_on_waiting_destination_clears_autostart() -> None:
    """MIG-VM-002, MIG-INCOMING-008: stop while 'inmigrate' clears autostart, so a
    stream without global state leaves the guest 'paused' (lines 297-303)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    assert ret(eng, "stop", vm=DEST) == {}
    assert runstate(eng, DEST) == "inmigrate"
    eng.feed(DEST, "complete", None)
    assert eng.settle()
    assert runstate(eng, DEST) == "paused"


def test_cont_on_waiting_destination_sets_autostart() -> None:
    """MIG-VM-003, MIG-INCOMING-008: cont while 'inmigrate' sets autostart (the guest
    does not start yet), so after the load vm_start runs (lines 299-300)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    eng.configure_vm(DEST, {"autostart": False})
    assert ret(eng, "cont", vm=DEST) == {}
    assert runstate(eng, DEST) == "inmigrate"
    eng.feed(DEST, "complete", "running")
    assert eng.settle()
    assert runstate(eng, DEST) == "running"


def test_completed_source_is_postmigrate_and_can_continue() -> None:
    """MIG-THREAD-006, MIG-THREAD-009, MIG-VM-003: completion stops the guest (STOP,
    finish-migrate, line 948) and then sets 'postmigrate' (line 1013); cont from
    'postmigrate' runs it again (RESUME)."""
    eng = new_engine()
    eng.output()
    to_state(eng, "completed")
    assert runstate(eng) == "postmigrate"
    assert ret(eng, "cont") == {}
    assert runstate(eng) == "running"
    assert [e for e in event_names(eng.output()) if not e.startswith("MIGRATION")] == [
        "STOP", "RESUME"]


def test_paused_source_migrates_without_stop_event() -> None:
    """MIG-THREAD-006, MIG-THREAD-009: a paused guest is not running at completion
    (line 944), vm_stop_force_state just sets finish-migrate without STOP
    (line 948), and the source ends 'postmigrate' (1013)."""
    eng = new_engine()
    assert ret(eng, "stop") == {}
    eng.output()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert status(eng) == "completed"
    assert runstate(eng) == "postmigrate"
    assert event_names(eng.output()) == []
