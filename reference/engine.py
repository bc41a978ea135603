"""The reference engine's front door: a world plus the operations a client,
a script or a checker performs on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migspec.reference import scheduler as sched
from migspec.reference import thread
from migspec.reference.environment import Env, ram_block_bytes
from migspec.reference.handlers import QmpError, qemu_start_incoming_migration
from migspec.reference.mainloop import feed_stream
from migspec.reference.profiles import Profile, get_profile
from migspec.reference.qmp import Reply, dispatch
from migspec.reference.stream import stream_of
from migspec.reference.vm import VM
from migspec.reference.wire import text_of
from migspec.reference.world import DESTINATION, SOURCE, Crash, Move, World
from migspec.spec.runstates import RunState
from migspec.spec.uris import DEFER, BuildConfig

StepBoundReached = sched.StepBoundReached

#: ``settle`` gives up after this much virtual time without quiescence.
DEFAULT_SETTLE_MS = 3_600_000

VM_KEYS = ("runstate", "autostart", "global_state_optional", "blockers", "unmigratable", "fds")


def execute_now(world: World, vm: VM, cmd: Any) -> Reply | None:
    """The main loop (free now) handles ``cmd`` as one step; the reply is
    logged. None if the process died handling it."""
    try:
        reply = dispatch(world, vm, cmd)
    except Crash as crash:
        world.crash(vm, crash.reason, crash.line)
        return None
    world.log.append((vm.name, reply))
    return reply


def tick(world: World) -> bool:
    """Move the clock to the next wake-up without running anyone; False if
    nothing waits for time."""
    when = sched.next_time(world)
    if when is None:
        return False
    world.clock_us = when
    return True


class EngineError(ValueError):
    """A request the engine cannot carry out (bad directive arguments)."""


class Engine:
    """One reference world, driven by QMP commands and directives."""

    def __init__(
        self,
        profile: str | Profile = "seed",
        build: BuildConfig | None = None,
        env: Env | None = None,
    ) -> None:
        prof = get_profile(profile) if isinstance(profile, str) else profile
        if build is None:  # Debian builds QEMU 7.2 with RDMA (QEMU72-BUILD-RDMA)
            build = BuildConfig(config_rdma=prof.deviates("QEMU72-BUILD-RDMA"))
        self.world = World(profile=prof, build=build, env=env or Env())
        self.scheduler: sched.Scheduler = sched.DefaultScheduler()
        #: Moves :meth:`settle` and :meth:`advance` may run (None: all); a move
        #: it refuses is held where it stands (``migspec serve``'s hold points).
        self.allow: Callable[[Move], bool] | None = None
        self._read = 0

    # -- lookups ---------------------------------------------------------------
    def vm(self, name: str = SOURCE) -> VM:
        """The VM called ``name``; EngineError if there is none."""
        try:
            return self.world.vms[name]
        except KeyError:
            raise EngineError(
                f"no VM named {text_of(name)} (have: {', '.join(self.world.vms)})"
            ) from None

    def output(self) -> list[dict[str, Any]]:
        """Replies, events and notices logged since the last call, in order;
        lines from VMs other than the source carry ``"vm"``."""
        out: list[dict[str, Any]] = []
        for name, obj in self.world.log[self._read:]:
            out.append(obj if name == SOURCE else {**obj, "vm": name})
        self._read = len(self.world.log)
        return out

    def drain_log(self) -> list[tuple[str, dict[str, Any]]]:
        """Every log entry (VM name, reply, event or notice) not drained yet,
        then forgets them, so a long-running server's memory stays bounded
        (:meth:`output` starts over with the entries logged after this)."""
        out = list(self.world.log)
        self.world.log.clear()
        self._read = 0
        return out

    # -- QMP ---------------------------------------------------------------------
    def execute(self, cmd: Any, vm: str = SOURCE) -> Reply | None:
        """Run one QMP command to its reply, as a client waiting for it would.

        If the main loop is busy (joining a thread, or a thread holds the big
        lock) the other actors run first under the engine's scheduler. None
        when the process exits before it answers.
        """
        target = self.vm(vm)
        world = self.world
        if target.exited is not None:
            world.log.append((vm, {"migspec": "unanswered", "reason": target.exited}))
            return None
        if not target.queue and sched.main_loop_free(world, vm):
            return execute_now(world, target, cmd)
        target.queue.append(cmd)
        mark = len(world.log)
        while target.queue or not self._answered(mark, vm):
            enabled = sched.moves(world)
            if not enabled:
                when = sched.next_time(world)
                if when is None or target.exited is not None:
                    return None
                world.clock_us = when
                continue
            sched.step(world, self.scheduler.choose(world, enabled))
            if target.exited is not None:
                return None
        return self._last_reply(mark, vm)

    def _answered(self, mark: int, vm: str) -> bool:
        return self._last_reply(mark, vm) is not None

    def _last_reply(self, mark: int, vm: str) -> Reply | None:
        for name, obj in reversed(self.world.log[mark:]):
            if name == vm and ("return" in obj or "error" in obj):
                reply: Reply = obj
                return reply
        return None

    def submit(self, cmd: Any, vm: str = SOURCE) -> None:
        """Queue a command without running it (it runs as a ``main``/``qmp`` move).

        A VM that has exited never answers: as with :meth:`execute`, an
        ``unanswered`` notice is logged instead (README, Output)."""
        target = self.vm(vm)
        if target.exited is not None:
            self.world.log.append((vm, {"migspec": "unanswered", "reason": target.exited}))
            return
        target.queue.append(cmd)

    # -- time and scheduling -----------------------------------------------------
    def settle(self, max_ms: int = DEFAULT_SETTLE_MS) -> bool:
        """Run every actor until nothing can move; False if still busy after
        ``max_ms`` of virtual time. :class:`StepBoundReached` if it took
        :data:`~migspec.reference.scheduler.STEP_BOUND` steps short of both."""
        until = self.world.clock_us + max_ms * 1000
        return sched.run(self.world, until, self.scheduler, stop_at_quiescence=True,
                         allow=self.allow)

    def advance(self, ms: int) -> bool:
        """Let ``ms`` of virtual time pass with every actor running
        (:class:`StepBoundReached` as for :meth:`settle`)."""
        if ms < 0:
            raise EngineError("advance needs ms >= 0")
        return sched.run(self.world, self.world.clock_us + ms * 1000, self.scheduler,
                         allow=self.allow)

    def step(self, vm: str = SOURCE, actor: str = "thread", task: str | None = None) -> Move:
        """Run the first enabled move of ``vm``'s ``actor`` (and ``task``).

        If that actor is only waiting for time, the clock moves to its wake-up
        first. EngineError if it cannot move at all.
        """
        self.vm(vm)
        if actor not in ("main", "thread"):
            raise EngineError("step actor must be 'main' or 'thread'")
        for _ in range(2):
            for move in sched.moves(self.world):
                if move.vm == vm and move.actor == actor and (
                    task is None or move.task == task or move.task.startswith(task + ":")
                ):
                    sched.step(self.world, move)
                    return move
            wake = self._wake_of(vm, actor)
            if wake is None:
                break
            self.world.clock_us = wake
        what = f"{vm} {actor}" + (f" {task}" if task else "")
        raise EngineError(f"no enabled move for {what}")

    def step_thread_until(self, vm: str, pc: str, limit: int = 100_000) -> None:
        """Step ``vm``'s migration thread until its next region is ``pc`` (a
        program counter of reference/thread.py; ``complete_stop`` and
        ``complete_save`` occur only in a profile with the qemu-7.2 deviations
        that split the completion)."""
        if not isinstance(pc, str) or pc not in thread.PROGRAM_COUNTERS:
            raise EngineError(f"step until must be a thread program counter "
                              f"(one of: {', '.join(thread.PROGRAM_COUNTERS)})")
        for _ in range(limit):
            live = [t for t in self.vm(vm).threads.values() if not t.done]
            if not live:
                raise EngineError(f"{vm} has no migration thread to step to {pc!r}")
            if live[0].pc == pc:
                return
            self.step(vm, "thread", str(live[0].tid))
        raise EngineError(f"{vm}'s thread did not reach {pc!r} in {limit} steps")

    def _wake_of(self, name: str, actor: str) -> int | None:
        target = self.world.vms[name]
        now = self.world.clock_us
        if actor == "thread":
            times = [max(t.wake_us, target.bql_until_us) for t in target.threads.values()
                     if not t.done]
        else:
            times = [max(c.due_us, target.bql_until_us) for c in target.connects]
        future = [t for t in times if t > now]
        return min(future) if future else None

    # -- environment and processes -----------------------------------------------
    def set_env(self, values: dict[str, Any]) -> None:
        """Change environment knobs (see :class:`~migspec.reference.environment.Env`)."""
        try:
            self.world.env.update(values)
        except ValueError as err:
            raise EngineError(str(err)) from None
        if "ram_bytes" in values:
            for vm in self.world.vms.values():
                if not vm.ram.active:
                    vm.ram.total = ram_block_bytes(self.world.env.ram_bytes)

    def configure_vm(self, name: str, values: dict[str, Any]) -> None:
        """Set a VM's run state, autostart, global-state optionality, blockers,
        unmigratable device or monitor file descriptors."""
        vm = self.vm(name)
        for key, value in values.items():
            if key == "runstate":
                if not isinstance(value, str) or value not in {r.value for r in RunState}:
                    raise EngineError(f"unknown runstate {text_of(value)}")
                vm.runstate = RunState(value)
            elif key in ("autostart", "global_state_optional"):
                if not isinstance(value, bool):
                    raise EngineError(f"vm {key} must be a boolean")
                if key == "autostart":
                    vm.autostart = value
                else:
                    vm.global_state.optional = value
            elif key in ("blockers", "fds"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise EngineError(f"vm {key} must be a list of strings")
                if key == "blockers":
                    vm.blockers = list(reversed(value))  # migrate_add_blocker prepends
                else:
                    vm.fds = list(value)
            elif key == "unmigratable":
                if value is not None and not isinstance(value, str):
                    raise EngineError("vm unmigratable must be a device name or null")
                vm.unmigratable = value
            else:
                raise EngineError(f"unknown vm key {text_of(key)} (known: {', '.join(VM_KEYS)})")

    def incoming(self, uri: str, name: str = DESTINATION) -> None:
        """Start a new process ``name`` as with ``-incoming URI`` (vl.c):
        prelaunch -> inmigrate, then qemu_start_incoming_migration; an error
        there makes QEMU exit(1).

        vl.c runs all of this before main_loop(): no monitor has negotiated
        capabilities yet, and monitor_qapi_event_emit sends an event only to
        negotiated QMP monitors (monitor.c), so no client ever receives the
        'setup' event of line 240 sent here (MIG-EVENT-003)."""
        if name in self.world.vms and self.world.vms[name].exited is None:
            raise EngineError(f"VM {text_of(name)} already exists")
        vm = self.world.add_vm(name)
        vm.runstate = RunState.PRELAUNCH
        mark = len(self.world.log)
        try:
            self.world.runstate_set(vm, RunState.INMIGRATE)
            if uri == DEFER and self.world.profile.deviates("QEMU72-INCOMING-DEFER-UNKNOWN"):
                vm.deferred_incoming = True  # QEMU 7.2's vl.c starts nothing for defer
                return
            qemu_start_incoming_migration(self.world, vm, uri)
            if self.world.profile.deviates("QEMU72-INCOMING-URI-ONCE"):
                vm.incoming_once = False  # vl.c went through qmp_migrate_incoming
        except QmpError as err:
            self.world.crash(vm, f"-incoming {uri}: {err.desc}", None)
        except Crash as crash:
            self.world.crash(vm, crash.reason, crash.line)
        finally:
            # events of the start-up reach no client (no negotiated monitor yet)
            self.world.log[mark:] = [
                (who, obj) for who, obj in self.world.log[mark:]
                if who != vm.name or "event" not in obj]

    def feed(self, name: str, outcome: str, runstate: str | None = None,
             **stream: Any) -> None:
        """A source this world does not model connects to ``name`` and sends a
        stream that completes or fails: ``runstate`` is the short form of its
        global-state section (a name, or None for none); ``section`` and
        ``at`` describe any other stream (:func:`~migspec.reference.stream.stream_of`)."""
        vm = self.vm(name)
        obj: dict[str, Any] = {"outcome": outcome, **stream}
        if "section" not in stream:
            obj["runstate"] = runstate
        elif runstate is not None:
            raise EngineError("feed takes runstate or section, not both")
        try:
            payload = stream_of(obj)
        except ValueError as err:
            raise EngineError(str(err)) from None
        if not vm.incoming.listening:
            raise EngineError(f"VM {text_of(name)} is not listening for an incoming migration")
        if vm.exited is not None:
            raise EngineError(f"VM {text_of(name)} has exited")
        feed_stream(self.world, vm, payload)
