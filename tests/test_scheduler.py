"""The scheduler (reference/scheduler.py): which moves are enabled, with which
actor and task names (README step directive: actor ``main`` with task kinds
qmp, connect, bh, join, accept, load), when a VM's main loop is free to answer
a command at once (README: only when the main loop is busy do the other actors
run first), and how ``run`` uses its scheduler, clock and step budget."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from support import EXEC_URI, MIB, command, new_engine, ret, status

from migspec.reference import scheduler as sched
from migspec.reference.world import Move, World

DEST = "destination"


def test_every_main_loop_task_is_a_main_move() -> None:
    """MIG-CONNECT-002, MIG-INCOMING-005, MIG-THREAD-011, MIG-CLEANUP-001,
    MIG-CLEANUP-002, MIG-INCOMING-007: README step, actor "main" and a task kind:
    a migration to a listening destination driven one main-loop task at a time:
    the submitted command (qmp), the socket's connect callback (connect), the
    destination's accept (accept), the cleanup bottom half (bh), its join
    (join) and the destination's load (load)."""
    eng = new_engine(ram_bytes=MIB, bandwidth=100_000_000)
    eng.incoming("tcp:0:4444")
    eng.submit(command("migrate", {"uri": "tcp:127.0.0.1:4444"}))
    assert Move("source", "main", "qmp") in sched.moves(eng.world)
    assert eng.step(actor="main", task="qmp") == Move("source", "main", "qmp")
    assert status(eng) == "setup"
    assert eng.step(actor="main", task="connect") == Move("source", "main", "connect:0")
    fid = eng.vm().s.file
    assert fid is not None
    assert Move(DEST, "main", f"accept:{fid}") in sched.moves(eng.world)
    assert eng.step(DEST, "main", "accept") == Move(DEST, "main", f"accept:{fid}")
    eng.step_thread_until("source", "final")
    eng.step(actor="thread")
    vm = eng.vm()
    bh = vm.scheduled_bhs[0]
    assert eng.step(actor="main", task="bh") == Move("source", "main", f"bh:{bh}")
    assert vm.joining is not None
    assert Move("source", "main", "join") in sched.moves(eng.world)
    assert eng.step(actor="main", task="join") == Move("source", "main", "join")
    assert vm.joining is None and vm.s.file is None
    assert eng.step(DEST, "main", "load") == Move(DEST, "main", "load")
    assert status(eng) == "completed"
    assert eng.vm(DEST).runstate.value == "running"


def test_a_free_main_loop_answers_at_once() -> None:
    """MIG-QMP-001: README, a QMP command is answered by the VM's main loop; the
    other actors run first only if that main loop is busy. The destination's
    main loop is free (time 0, no lock held, nothing joined), so its command is
    answered at once: the command still queued on the source is not run."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    eng.output()
    eng.submit(command("query-status"))
    reply = eng.execute(command("query-status"), vm=DEST)
    assert reply == {"return": {"running": False, "singlestep": False, "status": "inmigrate"}}
    assert len(eng.vm().queue) == 1
    assert eng.output() == [{**reply, "vm": DEST}]


def test_a_joining_main_loop_is_busy() -> None:
    """MIG-CLEANUP-002, MIG-MIGRATE-001: migrate_fd_cleanup drops the lock and
    joins the thread (545-547); the main loop answers nothing until the join
    returns. Here (DEF-MIGRATE-BEFORE-CLEANUP) the old thread's bottom half joins
    the new migration's thread, which at its own 1019 schedules the NULL
    cleanup_bh and kills the process: the command is never answered."""
    eng = new_engine(ram_bytes=MIB)
    eng.set_env({"channel_error": True})
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "final")
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    old = min(eng.vm().threads)
    eng.step(actor="thread", task=str(old))
    eng.step(actor="main", task="bh")
    vm = eng.vm()
    assert vm.joining is not None and not vm.threads[vm.joining].done
    assert not sched.main_loop_free(eng.world, "source")
    assert eng.execute(command("query-migrate")) is None
    assert vm.exited is not None


def test_a_main_loop_is_free_again_when_the_lock_is_released() -> None:
    """MIG-THREAD-006: completion holds the big lock until the stream's end is
    written (941-954); at the very microsecond it is released the main loop is
    free again."""
    eng = new_engine(ram_bytes=MIB, bandwidth=1_000_000, device_bytes=100_000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "complete")
    eng.step(actor="thread")
    vm = eng.vm()
    release = vm.bql_until_us
    assert not sched.main_loop_free(eng.world, "source")
    eng.step(actor="thread")  # after_complete, at its wake-up: the lock's release
    assert eng.world.clock_us == release
    assert sched.main_loop_free(eng.world, "source")


class _Recording:
    """A scheduler that takes the first move and remembers what it was shown."""

    def __init__(self) -> None:
        self.calls: list[tuple[World, list[Move]]] = []

    def choose(self, world: World, moves: Sequence[Move]) -> Move:
        self.calls.append((world, list(moves)))
        return moves[0]


def test_run_asks_the_given_scheduler() -> None:
    """MIG-LIVE-001, MIG-THREAD-009: the scheduler chooses every move of a run
    (the explorer tries every choice through it): settle, run to quiescence,
    asks the engine's scheduler, with the engine's world, at every step."""
    eng = new_engine(ram_bytes=MIB)
    rec = _Recording()
    eng.scheduler = rec
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert status(eng) == "completed"
    assert rec.calls
    assert all(world is eng.world and moves for world, moves in rec.calls)


def test_advance_runs_what_is_due_at_its_end() -> None:
    """MIG-THREAD-002: README advance lets ms of virtual time pass with every
    actor running: setup taking 250 ms (env setup_ms) is over after advance 250,
    the swap to active (926-927) included."""
    eng = new_engine(setup_ms=250)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.advance(250) is False
    assert eng.world.clock_us == 250_000
    assert status(eng) == "active"


def test_run_out_of_steps_is_not_quiescence() -> None:
    """MIG-LIVE-001: quiescence means nothing can move; a run that stops because
    its step budget is spent while actors can still move does not report it:
    it raises StepBoundReached with the steps taken and where the clock stands."""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    with pytest.raises(sched.StepBoundReached) as caught:
        sched.run(eng.world, 10**12, max_steps=1)
    assert (caught.value.steps, caught.value.clock_us) == (1, 0)
    assert status(eng) == "setup"
    assert sched.moves(eng.world)
