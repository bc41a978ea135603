"""Which actor steps next: the enabled moves, one step, and schedulers.

A plain sequential run is one schedule (:class:`DefaultScheduler`); the
explorer tries them all through the same :func:`moves` and :func:`step`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from migspec.reference import mainloop, thread
from migspec.reference.qmp import run_queued, send_reply
from migspec.reference.rounds import RoundJumper
from migspec.reference.world import Crash, Move, World


class Scheduler(Protocol):
    """Chooses the next move among the enabled ones (never empty)."""

    def choose(self, world: World, moves: Sequence[Move]) -> Move:
        """The move to run next."""
        ...


class DefaultScheduler:
    """Deterministic: main-loop work first (FIFO within a VM, VMs in creation
    order), then migration threads by id."""

    def choose(self, world: World, moves: Sequence[Move]) -> Move:
        """The first move in :func:`moves` order."""
        return moves[0]


def main_loop_free(world: World, name: str) -> bool:
    """The VM's main loop can start a task now (not joining, lock not held)."""
    vm = world.vms[name]
    return vm.exited is None and vm.joining is None and world.clock_us >= vm.bql_until_us


def moves(world: World) -> list[Move]:
    """Every step that can run now: main-loop tasks, then thread steps."""
    now = world.clock_us
    main: list[Move] = []
    threads: list[Move] = []
    for name, vm in world.vms.items():
        if vm.exited is not None:
            continue
        if vm.joining is not None:
            if mainloop.join_done(vm):
                main.append(Move(name, "main", "join"))
        elif now >= vm.bql_until_us:
            if vm.reply is not None:
                main.append(Move(name, "main", "reply"))
            elif vm.queue:
                main.append(Move(name, "main", "qmp"))
            for i, c in enumerate(vm.connects):
                if c.due_us <= now:
                    main.append(Move(name, "main", f"connect:{i}"))
            for bh in vm.scheduled_bhs:
                main.append(Move(name, "main", f"bh:{bh}"))
            for fid in vm.incoming.accepted:
                main.append(Move(name, "main", f"accept:{fid}"))
            incoming = vm.incoming.file
            if incoming is not None and mainloop.stream_finished(world, incoming):
                main.append(Move(name, "main", "load"))
        for tid, t in vm.threads.items():
            if thread.enabled(world, vm, t):
                threads.append(Move(name, "thread", str(tid)))
    return main + threads


def next_time(world: World) -> int | None:
    """The earliest future time at which something becomes enabled."""
    now = world.clock_us
    best: int | None = None
    for vm in world.vms.values():
        if vm.exited is not None:
            continue
        times = [t.wake_us for t in vm.threads.values() if not t.done]
        times += [c.due_us for c in vm.connects]
        times.append(vm.bql_until_us)
        if vm.incoming.file is not None:
            times.append(world.files[vm.incoming.file].complete_at_us)
        for when in times:
            if when > now and (best is None or when < best):
                best = when
    return best


def step(world: World, move: Move) -> None:
    """Run one move; a crash ends its process."""
    vm = world.vms[move.vm]
    try:
        if move.actor == "thread":
            thread.step(world, vm, vm.threads[int(move.task)])
        elif move.task == "qmp":
            run_queued(world, vm)
        elif move.task == "reply":
            send_reply(world, vm)
        elif move.task == "join":
            mainloop.cleanup_after_join(world, vm)
        elif move.task == "load":
            mainloop.incoming_load_done(world, vm)
        else:
            kind, _, arg = move.task.partition(":")
            if kind == "connect":
                mainloop.connect_callback(world, vm, int(arg))
            elif kind == "bh":
                mainloop.cleanup_start(world, vm, int(arg))
            elif kind == "accept":
                mainloop.incoming_accept(world, vm, int(arg))
            else:
                raise ValueError(f"unknown move {move}")
    except Crash as crash:
        world.crash(vm, crash.reason, crash.line)


#: Steps a :func:`run` takes before it looks for identical rounds to jump
#: (reference/rounds.py); a short run never pays for looking.
ROUNDS_AFTER = 10_000

#: Steps one :func:`run` takes at most (a ``settle`` or an ``advance``)
#: before it stops and raises :class:`StepBoundReached`.
STEP_BOUND = 5_000_000


class StepBoundReached(Exception):
    """:func:`run` took its ``max_steps`` steps before it reached ``until_us``
    or quiescence: the world stands where the last step left it, the clock at
    ``clock_us``, earlier than asked. Never silent: the script runner prints
    it as a notice with ``"bound"``."""

    def __init__(self, steps: int, clock_us: int) -> None:
        super().__init__(
            f"stopped after {steps} steps at {clock_us // 1000} ms of virtual time, "
            "before the time asked for"
        )
        self.steps = steps
        self.clock_us = clock_us


def run(
    world: World,
    until_us: int,
    scheduler: Scheduler | None = None,
    stop_at_quiescence: bool = False,
    max_steps: int | None = None,
    allow: Callable[[Move], bool] | None = None,
) -> bool:
    """Step every actor, jumping the clock to the next wake-up whenever nothing
    is enabled, up to ``until_us``.

    Returns True when nothing can move any more. With ``stop_at_quiescence``
    the clock stays where that happened; otherwise, and whenever something
    still waits for a later time, it ends at ``until_us``. After
    ``max_steps`` (default :data:`STEP_BOUND`) steps short of both it raises
    :class:`StepBoundReached`. With ``allow``, only the moves it accepts run
    (a move it refuses is held: ``migspec serve``'s hold points); the rest
    of the world goes on.
    """
    chooser = scheduler or DefaultScheduler()
    bound = STEP_BOUND if max_steps is None else max_steps
    jumper = RoundJumper() if type(chooser) is DefaultScheduler and allow is None else None
    for taken in range(bound):
        enabled = moves(world)
        if allow is not None:
            enabled = [m for m in enabled if allow(m)]
        if enabled:
            step(world, chooser.choose(world, enabled))
            continue
        when = next_time(world)
        if when is None or when > until_us:
            if when is not None or not stop_at_quiescence:
                world.clock_us = max(world.clock_us, until_us)
            return when is None
        world.clock_us = when
        if jumper is not None and taken >= ROUNDS_AFTER:
            jumper.sample(world, until_us)
    raise StepBoundReached(bound, world.clock_us)
