"""The safety, liveness and witness properties of spec.requirements.PROPERTIES,
checked on plain runs of the reference (the explorer checks them over every
interleaving; these are single schedules a reader can follow)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest
from support import (
    EXEC_URI,
    TCP_URI,
    events_on,
    exits,
    migrate_channel_error,
    migrate_refused,
    migrate_refused_later,
    migrate_unknown_uri,
    migrate_vm_stop_error,
    migration_events,
    new_engine,
    qmp,
    query,
    replies,
    ret,
    runstate,
    status,
    step_to_active,
)

from migspec.reference.engine import Engine
from migspec.reference.script import replay
from migspec.spec.defects import DEFECTS
from migspec.spec.states import MigrationStatus as S
from migspec.spec.transitions import COMPILED

DEST = "destination"
TERMINAL = ("completed", "failed", "cancelled")


def _complete(eng: Engine) -> None:
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}


def _cancel_setup(eng: Engine) -> None:
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert ret(eng, "migrate_cancel") == {}


def _cancel_active(eng: Engine) -> None:
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert ret(eng, "migrate_cancel") == {}


def _twice(eng: Engine) -> None:
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}


RUNS: dict[str, Callable[[Engine], None]] = {
    "complete": _complete,
    "cancel-setup": _cancel_setup,
    "cancel-active": _cancel_active,
    "unknown-uri": migrate_unknown_uri,
    "refused": migrate_refused,
    "late-refusal": migrate_refused_later,
    "channel-error": migrate_channel_error,
    "vm-stop-error": migrate_vm_stop_error,
    "twice": _twice,
}

#: How each run ends.
ENDS = {
    "complete": "completed",
    "cancel-setup": "cancelled",
    "cancel-active": "cancelled",
    "unknown-uri": "failed",
    "refused": "failed",
    "late-refusal": "failed",
    "channel-error": "failed",
    "vm-stop-error": "failed",
    "twice": "completed",
}


def allowed_steps(profile: str) -> set[tuple[str, str]]:
    """Status pairs an event may follow: a declared transition, or a new
    migration's 'setup' after 'none' or a terminal state (lines 732, 655)."""
    pairs = {(src.value, dst.value) for (src, _), dst in COMPILED[profile].items()}
    pairs |= {(t, "setup") for t in TERMINAL}
    return pairs


@pytest.mark.parametrize("profile", ["seed", "fixed"])
@pytest.mark.parametrize("name", sorted(RUNS))
def test_plain_runs_are_safe_and_live(profile: str, name: str) -> None:
    """MIG-SAFETY-001, MIG-SAFETY-003, MIG-SAFETY-008, MIG-LIVE-001, MIG-LIVE-002: in
    each plain run nothing crashes; the events follow the transition table starting
    at 'setup'; the run becomes quiescent (settle succeeds, no endless cycle) with
    the migration in its terminal state, and that terminal state's event was sent."""
    eng = new_engine(profile)
    events_on(eng)
    eng.output()
    RUNS[name](eng)
    assert eng.settle()
    out = eng.output()
    assert exits(out) == []
    assert status(eng) == ENDS[name]
    events = migration_events(out)
    assert events[0] == "setup"
    assert events[-1] == ENDS[name]
    steps = allowed_steps(profile)
    for before, after in pairwise(events):
        assert (before, after) in steps, events


@pytest.mark.parametrize("name", sorted(RUNS))
def test_no_migration_events_without_capability(name: str) -> None:
    """MIG-SAFETY-004, MIG-EVENT-001: with the capability off no run sends a MIGRATION
    event (lines 216-221)."""
    eng = new_engine()
    eng.output()
    RUNS[name](eng)
    assert eng.settle()
    assert migration_events(eng.output()) == []


def test_only_incoming_setup_without_capability() -> None:
    """MIG-SAFETY-004, MIG-EVENT-003: a destination without the capability sends only
    the 'setup' of line 240 through a whole paired migration: that of
    migrate-incoming (the start-up's reaches no client: none has negotiated)."""
    eng = new_engine()
    eng.incoming("defer")
    assert eng.execute({"execute": "migrate-incoming", "arguments": {"uri": "tcp:0:4444"}},
                       DEST) == {"return": {}}
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.settle()
    out = eng.output()
    assert migration_events(out, DEST) == ["setup"]
    assert migration_events(out) == []


@pytest.mark.parametrize("name", ["cancel-setup", "cancel-active", "refused",
                                  "late-refusal", "channel-error"])
def test_source_runs_again_after_early_end(name: str) -> None:
    """MIG-SAFETY-007, MIG-THREAD-010: a guest running when its migration started runs
    again when the migration is cancelled or fails before completion began
    (it was never stopped; lines 941-948 not reached)."""
    eng = new_engine()
    RUNS[name](eng)
    assert eng.settle()
    assert runstate(eng) == "running"


@pytest.mark.parametrize("end", TERMINAL)
def test_terminal_state_left_only_by_new_migration(end: str) -> None:
    """MIG-SAFETY-006, MIG-CANCEL-001: once terminal, cancel, settings and time do not
    change the state (no transition leaves it but migrate_reset, line 732); a new
    migrate does."""
    eng = new_engine()
    RUNS[{"completed": "complete", "failed": "unknown-uri", "cancelled": "cancel-active"}[end]](
        eng)
    assert eng.settle()
    assert status(eng) == end
    assert ret(eng, "migrate_cancel") == {}
    assert ret(eng, "migrate_set_speed", {"value": 1}) == {}
    assert ret(eng, "migrate-set-parameters", {"compress-level": 2}) == {}
    eng.advance(10_000)
    assert status(eng) == end
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert status(eng) == "setup"


def test_migrate_refused_until_cleanup_when_fixed() -> None:
    """MIG-SAFETY-005 (DEF-MIGRATE-BEFORE-CLEANUP): in the fixed profile migrate is
    refused after the thread failed the migration but before cleanup ran, and
    accepted once it has run (lines 1019, 536-552)."""
    eng = new_engine("fixed", channel_error=True)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    while status(eng) != "failed":
        eng.step("source", "thread")
    assert qmp(eng, "migrate", {"uri": EXEC_URI})["error"]["desc"] == (
        "There's a migration process in progress")
    assert eng.settle()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}


def test_fixed_counterexamples_do_not_crash() -> None:
    """MIG-SAFETY-001: no defect counterexample crashes a process in the fixed profile;
    a destination's exit after a failed load (line 278) is by design, and only
    DEF-GLOBAL-STATE-UNTERMINATED's stream, which names no run state, fails its load."""
    for defect in DEFECTS:
        _, out = replay(defect.counterexample, "fixed")
        exits = [ln for ln in out if ln.get("migspec") == "exited"]
        designed = [ln for ln in exits if ln.get("line") == 278]
        assert [ln for ln in exits if ln not in designed] == [], defect.id
        assert bool(designed) == (defect.id == "DEF-GLOBAL-STATE-UNTERMINATED"), defect.id


@pytest.mark.parametrize("mode", ["none", "file-before-delivery", "file-after-delivery"])
def test_no_split_brain_when_fixed(mode: str) -> None:
    """MIG-SAFETY-002: in the fixed profile the source and the destination never both
    run the guest after a paired migration, whatever fails at completion."""
    eng = new_engine("fixed", completion_error=mode)
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    eng.settle()
    src = eng.vm().runstate.value
    dst = eng.vm(DEST).runstate.value if eng.vm(DEST).exited is None else "exited"
    assert not (src == "running" and dst == "running")


def test_one_incoming_when_fixed() -> None:
    """MIG-SAFETY-009 (DEF-INCOMING-ONCE-NO-RETURN): in the fixed profile a second
    migrate-incoming opens no second listener (lines 682-684)."""
    eng = new_engine("fixed")
    eng.incoming("defer")
    assert ret(eng, "migrate-incoming", {"uri": "tcp:0:4444"}, vm=DEST) == {}
    assert "error" in qmp(eng, "migrate-incoming", {"uri": "unix:/tmp/x"}, vm=DEST)
    assert eng.vm(DEST).incoming.listening == ["tcp:0:4444"]


def test_stuck_cancel_is_live_when_fixed() -> None:
    """MIG-LIVE-001, MIG-FDERROR-003: a cancel before a failing connect reaches a
    terminal state in the fixed profile; in the seed the quiescent state is
    'cancelling' (DEF-CANCEL-CONNECT-STUCK)."""
    for profile, end in (("seed", "cancelling"), ("fixed", "cancelled")):
        eng = new_engine(profile, connect="delayed-refused", connect_delay_ms=10)
        assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
        assert ret(eng, "migrate_cancel") == {}
        assert eng.settle()
        assert status(eng) == end


def _into_completion(eng: Engine) -> None:
    """Start a migration and step its thread until it has stopped the guest for
    completion (lines 941-954) but not yet swapped active -> completed (963)."""
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    for _ in range(10_000):
        if eng.vm().runstate.value == "finish-migrate":
            break
        eng.step("source", "thread")
    assert eng.vm().runstate.value == "finish-migrate"
    assert eng.vm().s.state.value == "active"


@pytest.mark.parametrize("profile", ["seed", "fixed"])
def test_cancel_can_win_after_completion_began(profile: str) -> None:
    """MIG-WITNESS-001: migrate_cancel runs between the completion (941-954) and the
    thread's swap (963): active -> cancelling (587); the swap then fails (530) and
    cleanup ends the migration 'cancelled' (559-560)."""
    eng = new_engine(profile)
    _into_completion(eng)
    assert ret(eng, "migrate_cancel") == {}
    assert status(eng) == "cancelling"
    assert eng.settle()
    assert query(eng) == {"status": "cancelled"}


@pytest.mark.parametrize("profile", ["seed", "fixed"])
def test_completion_can_win_over_cancel(profile: str) -> None:
    """MIG-WITNESS-002: a migrate_cancel that arrives after completion began but runs
    after the thread's swap active -> completed (963-964) finds 'completed' and
    changes nothing (583-586)."""
    eng = new_engine(profile)
    _into_completion(eng)
    eng.output()
    eng.submit({"execute": "migrate_cancel"})
    eng.step("source", "thread")
    assert eng.vm().s.state.value == "completed"
    assert eng.settle()
    assert replies(eng.output()) == [{"return": {}}]
    assert query(eng)["status"] == "completed"
    assert eng.vm().s.state == S.COMPLETED
