"""The reference engine's front door (reference/engine.py): tick, execute while
the main loop is busy, submit, step, step_thread_until and feed, and the
EngineError texts a script's user is shown."""

from __future__ import annotations

from typing import Any

import pytest
from support import EXEC_URI, TCP_URI, new_engine, query, ret

from migspec.reference.engine import Engine, EngineError, tick

DEST = "destination"


def delayed_connect(delay_ms: int = 50) -> Engine:
    """A source whose socket connect calls back ``delay_ms`` after migrate
    (MIG-CONNECT-002: until then 'setup' with no file)."""
    eng = new_engine(connect="delayed", connect_delay_ms=delay_ms)
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert eng.vm().s.file is None
    return eng


# -- tick ------------------------------------------------------------------------
def test_tick_with_nothing_waiting() -> None:
    """README tick: nothing waits for time, so there is no wake-up to go to; the
    clock stays."""
    eng = Engine()
    assert tick(eng.world) is False
    assert eng.world.clock_us == 0


def test_tick_goes_to_the_next_wake_up_and_runs_nothing() -> None:
    """README tick: the clock moves to the next wake-up, the connect callback due
    50 ms after migrate, without running anyone: the connect is still pending
    and the state still 'setup' (MIG-CONNECT-002)."""
    eng = delayed_connect(50)
    assert tick(eng.world) is True
    assert eng.world.clock_us == 50_000
    assert len(eng.vm().connects) == 1
    assert eng.vm().s.file is None
    assert query(eng) == {"status": "setup"}


# -- execute while the main loop is busy ---------------------------------------------
def test_command_waiting_for_the_lock_gets_its_error_reply() -> None:
    """README: if the source's main loop is busy the other actors run first and
    the command then gets its reply, an error reply as much as a success.
    Completion holds the big lock (941-954) while 0.5 s of device state is sent;
    an unknown command sent meanwhile is answered after that with CommandNotFound
    (MIG-QMP-001)."""
    eng = new_engine(ram_bytes=64 * 1024, bandwidth=1_000_000, device_bytes=500_000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "after_complete")
    before = eng.world.ms
    reply = eng.execute({"execute": "no-such-command"})
    assert reply == {"error": {"class": "CommandNotFound",
                               "desc": "The command no-such-command has not been found"}}
    assert eng.world.ms >= before + 500


# -- submit ------------------------------------------------------------------------
def test_submit_to_an_exited_vm() -> None:
    """A destination whose -incoming URI is unknown exits (MIG-INCOMING-004); a
    command submitted to it is not queued: like execute, the engine logs it
    unanswered with the exit reason (README, Output), and the run goes on."""
    eng = new_engine()
    eng.incoming("gopher:x")
    eng.output()
    eng.submit({"execute": "query-status"}, DEST)
    assert eng.output() == [{
        "migspec": "unanswered",
        "reason": "-incoming gopher:x: unknown migration protocol: gopher:x",
        "vm": "destination",
    }]
    assert eng.vm(DEST).queue == []


# -- step --------------------------------------------------------------------------
def test_step_defaults_to_the_source_migration_thread() -> None:
    """README step: *vm* source, *actor* thread by default."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    move = eng.step()
    assert (move.vm, move.actor) == ("source", "thread")


def test_step_rejects_an_unknown_actor() -> None:
    """README step: actor is "thread" or "main"; the error says so."""
    eng = new_engine()
    with pytest.raises(EngineError) as caught:
        eng.step("source", "cpu")
    assert str(caught.value) == "step actor must be 'main' or 'thread'"


@pytest.mark.parametrize(
    ("actor", "task", "message"),
    [
        ("thread", None, "no enabled move for source thread"),
        ("main", None, "no enabled move for source main"),
        ("main", "bh", "no enabled move for source main bh"),
        ("thread", "7", "no enabled move for source thread 7"),
    ],
)
def test_step_with_nothing_to_move(actor: str, task: str | None, message: str) -> None:
    """README step: an error if nothing can move; it names the VM, the actor and
    the task asked for. A fresh source has no thread and no main-loop work."""
    eng = new_engine()
    with pytest.raises(EngineError) as caught:
        eng.step("source", actor, task)
    assert str(caught.value) == message
    assert eng.world.clock_us == 0


def test_step_main_waits_for_the_connect_callback() -> None:
    """README step: an actor that only waits for time has the clock moved to its
    wake-up first; task "connect" names the kind of main-loop work. The callback
    runs migrate_fd_connect (MIG-CONNECT-001): a file and a migration thread."""
    eng = delayed_connect(50)
    move = eng.step("source", "main", "connect")
    assert (move.vm, move.actor) == ("source", "main")
    assert move.task.startswith("connect")
    assert eng.world.clock_us == 50_000
    assert eng.vm().s.file is not None
    assert len(eng.vm().threads) == 1


def test_step_main_without_task_waits_for_the_connect_callback() -> None:
    """As above without a task: the main loop's only future work is the callback."""
    eng = delayed_connect(30)
    eng.step("source", "main")
    assert eng.world.clock_us == 30_000
    assert eng.vm().s.file is not None


# -- step_thread_until -----------------------------------------------------------------
def test_step_until_without_a_thread() -> None:
    """No migration thread: the error names the VM and the program counter."""
    eng = new_engine()
    with pytest.raises(EngineError) as caught:
        eng.step_thread_until("source", "final")
    assert str(caught.value) == "source has no migration thread to step to 'final'"


def test_step_until_gives_up_after_its_limit() -> None:
    """A program counter not reached within the step limit: the error names the
    VM, the program counter and the limit. Two steps (914-925, 926-927) do not
    reach the end of the thread (1003)."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    with pytest.raises(EngineError) as caught:
        eng.step_thread_until("source", "final", limit=2)
    assert str(caught.value) == "source's thread did not reach 'final' in 2 steps"


# -- feed ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcome", "runstate", "message"),
    [
        ("succeed", None, "feed outcome must be 'complete' or 'fail'"),
        ("fail", 5, "feed runstate must be a run-state name or null"),
    ],
)
def test_feed_rejects_bad_arguments(outcome: str, runstate: Any, message: str) -> None:
    """README feed: outcome is "complete" or "fail"; runstate a string or None (any
    name reaches the engine, MIG-DEST-002)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    with pytest.raises(EngineError) as caught:
        eng.feed(DEST, outcome, runstate)
    assert str(caught.value) == message
    assert eng.vm(DEST).incoming.listening == ["tcp:0:4444"]


def test_feed_needs_a_listener() -> None:
    """-incoming defer listens on nothing (MIG-INCOMING-002): nothing can connect."""
    eng = new_engine()
    eng.incoming("defer")
    with pytest.raises(EngineError) as caught:
        eng.feed(DEST, "complete", None)
    assert str(caught.value) == 'VM "destination" is not listening for an incoming migration'
