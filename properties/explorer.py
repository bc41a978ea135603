"""Exhaustive, breadth-first exploration of every interleaving of a scenario.

The state is the whole world (both VMs, files, threads, pending bottom halves
and connect callbacks, the client's remaining budget, and everything clients
saw). Moves are the engine's steps (:func:`migspec.reference.scheduler.moves`),
the client's commands, environment events and clock ticks. Breadth-first
order makes each counterexample a shortest trace; each is also a ``migspec
run`` script that replays it.
"""

from __future__ import annotations

import gc
import json
import resource
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from migspec.properties.graphs import fair_cycles, words
from migspec.properties.observers import (
    OBSERVER_BITS,
    OBSERVER_MASK,
    LastStatus,
    event_order_violations,
    final_event_violations,
    last_statuses,
)
from migspec.properties.places import PlaceGraph
from migspec.properties.scenarios import Scenario
from migspec.reference import scheduler as sched
from migspec.reference.engine import Engine, execute_now, tick
from migspec.reference.mainloop import environment_event, environment_event_enabled, is_feed
from migspec.reference.profiles import Profile, RecordingProfile, adapt, get_profile
from migspec.reference.script import parse, run_script
from migspec.reference.snapshot import WorldStore, clone, key
from migspec.reference.vm import VM
from migspec.reference.world import SOURCE, Move, World
from migspec.spec.capabilities import Capability
from migspec.spec.defects import DEFECTS
from migspec.spec.errors import QERR_MIGRATION_ACTIVE
from migspec.spec.runstates import RunState
from migspec.spec.states import IN_PROGRESS, TERMINAL, MigrationStatus
from migspec.spec.transitions import TRANSITIONS, compile_table, transitions_for

#: A move label: ("engine", vm, actor, task, did) | ("client", i, outcome) |
#: ("env", j) | ("tick",)
Label = tuple[Any, ...]
LogKey = tuple[tuple[Any, ...], ...]

#: Defects whose repair adds a transition (and so changes the compiled table
#: and the event orders MIG-SAFETY-003 allows, wherever a run goes).
_ADDS_TRANSITION = frozenset(t.repair for t in TRANSITIONS if t.repair)

#: The destination's exit after a failed load is by design (lines 276-281).
DESIGNED_EXIT_LINE = 278


@dataclass
class Violation:
    """A property that fails, with the shortest trace that shows it."""

    property: str
    kind: str
    detail: str
    trace: list[dict[str, str]]
    script: list[dict[str, Any]]
    defect: str | None = None
    #: What clients had seen when the violation showed (compact log entries);
    #: replaying ``script`` must reproduce exactly this.
    observed: LogKey = ()
    #: Every seed defect whose repair alone removes this counterexample.
    defects: list[str] = field(default_factory=list)
    #: The trace as the explorer's move labels.
    path: list[Label] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The JSON form of the report."""
        return {
            "property": self.property,
            "kind": self.kind,
            "detail": self.detail,
            "defect": self.defect,
            "defects": self.defects,
            "trace": self.trace,
            "script": self.script,
        }


@dataclass
class Result:
    """What one exploration found."""

    profile: str
    scenario: str
    states: int = 0
    edges: int = 0
    #: Distinct worlds (engine states without the log) and places (a world
    #: with the budget left); each world's moves ran on the engine once.
    worlds: int = 0
    places: int = 0
    seconds: float = 0.0
    #: Processor time the search took (on a shared machine, what one core spent).
    cpu_seconds: float = 0.0
    #: The process's peak resident memory when the search ended (MiB).
    peak_mib: float = 0.0
    complete: bool = True
    transitions_fired: list[str] = field(default_factory=list)
    transitions_declared: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    witnesses: dict[str, bool] = field(default_factory=dict)
    sequences: dict[str, list[list[str]]] = field(default_factory=dict)
    #: The explored state graph (successor ids per state), when asked for.
    graph: list[list[int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The JSON form of the report."""
        return {
            "profile": self.profile,
            "scenario": self.scenario,
            "states": self.states,
            "edges": self.edges,
            "worlds": self.worlds,
            "places": self.places,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "peak_mib": self.peak_mib,
            "complete": self.complete,
            "transitions_fired": self.transitions_fired,
            "transitions_declared": self.transitions_declared,
            "witnesses": self.witnesses,
            "violations": [v.as_json() for v in self.violations],
        }


def compact(name: str, obj: dict[str, Any]) -> tuple[Any, ...]:
    """A log entry as the explorer keeps it: what distinguishes it for a client."""
    if "event" in obj:
        data = obj.get("data") or {}
        return (name, "E", obj["event"], data.get("status", ""))
    if "return" in obj:
        return (name, "R", "ok")
    if "error" in obj:
        return (name, "R", obj["error"]["desc"])
    return (name, "X", str(obj.get("reason", "")))


def _tag(prop: str, detail: str) -> tuple[str, str]:
    """How findings are told apart: one per property, crashes one per reason."""
    return (prop, detail if prop == "MIG-SAFETY-001" else "")


def _spend(used: tuple[int, ...], index: int) -> tuple[int, ...]:
    """The budget use after one more of action ``index``."""
    return used[:index] + (used[index] + 1,) + used[index + 1:]


def final_events(world: World, quiescent: bool) -> tuple[tuple[str, str], ...]:
    """The terminal status each VM must have sent an event for (MIG-SAFETY-008):
    in a quiescent world, every live VM whose migration started with the
    events capability on and has ended."""
    if not quiescent:
        return ()
    return tuple(
        (name, vm.s.state.value) for name, vm in world.vms.items()
        if vm.exited is None and vm.migrations and vm.events_at_start
        and vm.s.state in TERMINAL
    )


def engine_labels(world: World) -> tuple[list[Label], bool]:
    """The engine's own moves from ``world``: every scheduler step (labelled
    ``("engine", vm, actor, task, did)``, ``did`` the thread's program counter
    or the main-loop task), or a clock tick ``("tick",)`` when no step can run
    but something waits for time; and whether the world is quiescent (neither).
    Shared with :mod:`migspec.properties.tracecheck`."""
    out: list[Label] = []
    for move in sched.moves(world):
        vm = world.vms[move.vm]
        did = vm.threads[int(move.task)].pc if move.actor == "thread" else move.task
        out.append(("engine", move.vm, move.actor, move.task, did))
    quiescent = not out
    if quiescent and sched.next_time(world) is not None:
        out.append(("tick",))
        quiescent = False
    return out, quiescent


def perform_engine(world: World, label: Label) -> None:
    """Run an engine label of :func:`engine_labels` on ``world`` (mutated)."""
    if label[0] == "engine":
        sched.step(world, Move(label[1], label[2], label[3]))
    else:
        tick(world)


class _Node(NamedTuple):
    """What a world allows, whatever clients saw before it."""

    quiescent: bool
    #: Engine actors that can step (for weak fairness).
    enabled: frozenset[str]
    finals: tuple[tuple[str, str], ...]
    #: Quiescent and every migration ended (:meth:`Explorer.good`).
    good: bool


class _Move(NamedTuple):
    """One move from a world, run on the engine once."""

    label: Label
    #: The index of the budget it spends (-1 for none).
    budget: int
    #: The world it leads to.
    world: int
    #: The id of what clients saw during it (0 for nothing).
    new_id: int
    #: Violations of the properties that do not depend on the log before it.
    static: tuple[tuple[str, str], ...]
    #: It sent MIGRATION events (the observer then moves).
    events: bool
    actor: str


#: A progress callback of :meth:`Explorer.run`: states, places, worlds so far
#: and the seconds since the start.
Progress = Callable[[int, int, int, float], None]


def _peak_mib() -> float:
    """The process's peak resident memory so far, in MiB (Linux: KiB units)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def spelled_prefix(log: LogKey, name: str) -> tuple[str, ...]:
    """The MIGRATION statuses ``name`` sent in ``log``."""
    return tuple(str(e[3]) for e in log if e[0] == name and e[1] == "E" and e[2] == "MIGRATION")


def _successors(repaired: frozenset[str],
                deviations: frozenset[str]) -> dict[str, frozenset[str]]:
    table = compile_table(repaired, deviations)
    succ: dict[str, set[str]] = {s.value: set() for s in MigrationStatus}
    for (src, _), dest in table.items():
        succ[src.value].add(dest.value)
    for state in TERMINAL | {MigrationStatus.NONE, MigrationStatus.SETUP}:
        # A new migration; on a destination, -incoming defer and then
        # migrate-incoming each send 'setup' (line 240).
        succ[state.value].add(MigrationStatus.SETUP.value)
    return {k: frozenset(v) for k, v in succ.items()}


def _actor(label: Label) -> str:
    """Who acts in a move, for fairness: ``vm.main``, ``vm.thread`` or the outside."""
    if label[0] == "engine":
        return f"{label[1]}.{label[2]}"
    return str(label[0])


def _in_progress(vm: VM) -> bool:
    """A migration is in progress: its state, or its thread or cleanup pending."""
    return (
        vm.s.state in IN_PROGRESS
        or vm.s.cleanup_bh is not None
        or bool(vm.scheduled_bhs)
        or any(not t.done for t in vm.threads.values())
    )


class Explorer:
    """Breadth-first exploration of one scenario under one profile."""

    def __init__(self, scenario: Scenario, profile: str | Profile) -> None:
        self.scenario = scenario
        prof = get_profile(profile) if isinstance(profile, str) else profile
        #: The profile's own repairs (its declared transitions), before assume_repaired.
        self.base_repaired = prof.repaired
        if not set(scenario.assume_repaired) <= prof.repaired:
            prof = replace(prof, repaired=prof.repaired | set(scenario.assume_repaired))
        self.prof = prof
        #: The scenario's set-up in this profile's commands (one declaration).
        self.setup = adapt(scenario.setup, prof)
        self.profile = self.prof.name
        self.successors = _successors(self.prof.repaired, self.prof.deviations)
        self._variants: dict[str, Explorer] = {}
        engine = Engine(self.prof)
        setup = "\n".join(json.dumps(line) for line in self.setup)
        for _ in run_script(engine, parse(setup, f"scenario {scenario.name}")):
            pass
        #: Repair sites the set-up consulted (with a recording profile).
        self.setup_consulted = frozenset(
            self.prof.consulted if isinstance(self.prof, RecordingProfile) else ())
        engine.world.tracing = False
        engine.world.trace.clear()
        #: What clients saw during the set-up (events before exploration starts).
        self.root_log: LogKey = tuple(compact(n, o) for n, o in engine.world.log)
        engine.world.log.clear()
        self.root = engine.world
        self.budget = tuple(a.limit for a in scenario.client) + tuple(
            e.limit for e in scenario.env
        )
        #: Check after every move that it changed no VM it shares with the
        #: world it came from (tests and ``verify`` turn this on).
        self.check_sharing = False

    # -- moves --------------------------------------------------------------------
    def world_labels(self, world: World) -> tuple[list[tuple[Label, int]], bool]:
        """Every move from ``world`` whatever the budget, each with the index of
        the budget it spends (-1 for none), and whether the world is quiescent
        (no engine step and nothing waiting for time)."""
        engine, quiescent = engine_labels(world)
        out: list[tuple[Label, int]] = [(label, -1) for label in engine]
        n_client = len(self.scenario.client)
        for i, action in enumerate(self.scenario.client):
            if not sched.main_loop_free(world, action.vm):
                continue
            for outcome in action.connect or ("",):
                out.append((("client", i, outcome), i))
        for j, event in enumerate(self.scenario.env):
            if environment_event_enabled(world, event.values):  # a feed needs a listener
                out.append((("env", j), n_client + j))
        return out, quiescent

    def labels(self, world: World, used: tuple[int, ...]) -> tuple[list[Label], bool]:
        """Every move from ``world`` within the budget ``used`` leaves, and
        whether the world is quiescent."""
        labels, quiescent = self.world_labels(world)
        return [lb for lb, b in labels if b < 0 or used[b] < self.budget[b]], quiescent

    def apply(self, world: World, used: tuple[int, ...], label: Label) -> tuple[int, ...]:
        """Run ``label`` on ``world`` (mutated); the new budget use."""
        self.perform(world, label)
        if label[0] == "client":
            return _spend(used, label[1])
        if label[0] == "env":
            return _spend(used, len(self.scenario.client) + label[1])
        return used

    def acting(self, label: Label) -> str | None:
        """The VM a move acts for (the only one its step may change without
        :meth:`World.own`); None for the environment and the clock."""
        if label[0] == "engine":
            return str(label[1])
        if label[0] == "client":
            return self.scenario.client[label[1]].vm
        return None

    def perform(self, world: World, label: Label) -> None:
        """Run ``label`` on ``world`` (mutated)."""
        kind = label[0]
        if kind == "client":
            action = self.scenario.client[label[1]]
            if label[2]:
                world.env.connect = label[2]
            execute_now(world, world.vms[action.vm], action.command)
        elif kind == "env":
            environment_event(world, self.scenario.env[label[1]].values)
        else:
            perform_engine(world, label)

    def describe(self, label: Label) -> dict[str, str]:
        """A trace step: who acted and what it did."""
        if label[0] == "engine":
            return {"actor": f"{label[1]}.{label[2]}", "did": str(label[4])}
        if label[0] == "client":
            action = self.scenario.client[label[1]]
            did = action.label + (f" (connect {label[2]})" if label[2] else "")
            return {"actor": f"client@{action.vm}", "did": did}
        if label[0] == "env":
            return {"actor": "env", "did": self.scenario.env[label[1]].label}
        return {"actor": "clock", "did": "tick"}

    def script_line(self, label: Label) -> list[dict[str, Any]]:
        """The ``migspec run`` lines that replay ``label``."""
        if label[0] == "engine":
            return [{"migspec": "step", "vm": label[1], "actor": label[2], "task": label[3]}]
        if label[0] == "client":
            action = self.scenario.client[label[1]]
            lines: list[dict[str, Any]] = []
            if label[2]:
                lines.append({"migspec": "env", "connect": label[2]})
            if action.vm == SOURCE:
                lines.append(action.command)
            else:
                lines.append({"migspec": "qmp", "vm": action.vm, "command": action.command})
            return lines
        if label[0] == "env":
            values = self.scenario.env[label[1]].values
            return [dict(values)] if is_feed(values) else [{"migspec": "env", **values}]
        return [{"migspec": "tick"}]

    # -- properties -------------------------------------------------------------
    def edge_violations(
        self, pre: World, post: World, label: Label, log: LogKey, new: LogKey
    ) -> Iterator[tuple[str, str]]:
        """Safety properties of one step (``post.log`` extends ``pre.log``)."""
        yield from self.step_violations(pre, post, label, post.log[len(pre.log):], new)
        yield from event_order_violations(self.successors, last_statuses(log), new)

    def step_violations(
        self, pre: World, post: World, label: Label,
        raw: list[tuple[str, dict[str, Any]]], new: LogKey,
    ) -> Iterator[tuple[str, str]]:
        """The safety properties of one step that do not depend on what clients
        saw before it: ``raw`` is what the step logged, ``new`` its compact form."""
        for name, obj in raw:
            if obj.get("migspec") == "exited" and obj.get("line") != DESIGNED_EXIT_LINE:
                line = obj.get("line")
                prop = {554: "MIG-CLEANUP-003", 570: "MIG-FDERROR-002"}.get(
                    line if isinstance(line, int) else -1, "MIG-SAFETY-001"
                )
                yield prop, f"{name} died: {obj['reason']}"
        for entry in new:
            name = entry[0]
            if entry[1] == "E" and entry[2] == "MIGRATION":
                status = str(entry[3])
                vm = post.vms[name]
                if not vm.s.enabled_capabilities[Capability.EVENTS]:
                    incoming = label[0] == "client" and \
                        self.scenario.client[label[1]].command["execute"] == "migrate-incoming"
                    if not (incoming and status == MigrationStatus.SETUP.value):
                        yield "MIG-SAFETY-004", f"{name} sent '{status}' with events off"
        if label[0] == "client":
            action = self.scenario.client[label[1]]
            accepted = bool(new) and new[-1][1:] == ("R", "ok")
            if action.command["execute"] == "migrate-incoming" and accepted and not any(
                e[:4] == (action.vm, "E", "MIGRATION", "setup") for e in new
            ):
                yield "MIG-EVENT-003", f"{action.vm} started incoming without a 'setup' event"
            if action.command["execute"] == "migrate":
                was = _in_progress(pre.vms[action.vm])
                reply = new[-1] if new and new[-1][1] == "R" else None
                refused = reply is not None and reply[2] == QERR_MIGRATION_ACTIVE
                if was != refused:
                    what = "accepted while in progress" if was else "refused while idle"
                    yield "MIG-SAFETY-005", f"migrate {what}"
        for name, after in post.vms.items():
            before = pre.vms.get(name)
            if before is None or after.exited is not None:
                continue
            if before.runstate == RunState.RUNNING and after.runstate != RunState.RUNNING \
                    and (name, "E", "STOP", "") not in new:
                yield "MIG-DEST-101", f"{name} left 'running' for " \
                    f"'{after.runstate.value}' without a STOP event"
        for name, after in post.vms.items():
            before = pre.vms.get(name)
            if after.global_state.overread and (before is None or not before.global_state.overread):
                yield "MIG-DEST-102", f"{name} read past the 100-byte global-state buffer"
        for name, vm in pre.vms.items():
            after = post.vms[name]
            if vm.s.state in TERMINAL and after.s.state != vm.s.state and \
                    after.migrations == vm.migrations and after.s.state != MigrationStatus.NONE:
                yield "MIG-SAFETY-006", f"{name} left '{vm.s.state.value}' for " \
                    f"'{after.s.state.value}'"

    def state_violations(self, world: World, log: LogKey, quiescent: bool) -> Iterator[
            tuple[str, str]]:
        """Safety properties of one state."""
        yield from self.world_violations(world, quiescent)
        yield from final_event_violations(final_events(world, quiescent), last_statuses(log))

    @staticmethod
    def world_violations(world: World, quiescent: bool) -> Iterator[tuple[str, str]]:
        """The safety properties of one state that do not depend on what
        clients saw."""
        source = world.vms[SOURCE]
        for name, vm in world.vms.items():
            if len(vm.incoming.listening) + len(vm.incoming.accepted) > 1:
                yield "MIG-SAFETY-009", f"{name} started more than one incoming migration"
        for name, vm in world.vms.items():
            if vm.exited is None and vm.incoming.finished and vm.incoming.file is None \
                    and vm.runstate == RunState.INMIGRATE:
                yield "MIG-DEST-103", f"{name} loaded a stream and is still 'inmigrate'"
        for name, vm in world.vms.items():
            if name == SOURCE or vm.exited is not None or not vm.incoming.finished:
                continue
            # (a destination that loaded a stream fed from outside, while the
            # source never migrated, shares no guest with it)
            if vm.runstate.value == "running" and source.runstate.value == "running" and \
                    source.exited is None and source.migrations:
                yield "MIG-SAFETY-002", f"source and {name} both run the guest"
        for name, vm in world.vms.items():
            s, f = vm.s, world.files.get(vm.s.file) if vm.s.file is not None else None
            if f is not None and s.state == MigrationStatus.ACTIVE and \
                    not vm.completion_started and s.bandwidth_limit > 0 and f.xfer_limit == 0:
                yield "MIG-SAFETY-010", \
                    f"{name} asked for {s.bandwidth_limit} B/s and its channel has no limit"
        if not quiescent:
            return
        for name, vm in world.vms.items():
            if vm.exited is not None or not vm.migrations:
                continue
            state = vm.s.state
            if state in (MigrationStatus.FAILED, MigrationStatus.CANCELLED) and \
                    vm.running_at_start and not vm.completion_started and \
                    vm.runstate.value != "running":
                yield "MIG-SAFETY-007", f"{name} stays '{vm.runstate.value}' after '{state.value}'"

    @staticmethod
    def good(world: World) -> bool:
        """(Of a quiescent world) every started migration is terminal and cleaned
        up, and no incoming load is left half done (or the VM died)."""
        return all(
            vm.exited is not None
            or (
                (not vm.migrations or (vm.s.state in TERMINAL and not _in_progress(vm)))
                and vm.incoming.file is None
            )
            for vm in world.vms.values()
        )

    # -- search ------------------------------------------------------------------
    def run(
        self, max_states: int | None = None, sequences: bool = False,
        progress: Progress | None = None,
    ) -> Result:
        """Explore every interleaving within the scenario's bounds.

        A state is a *place* (a world, keyed without its log, and the budget
        the client and environment have left) together with the state of the
        observer automaton (:class:`~migspec.properties.observers.LastStatus`:
        the last MIGRATION status each client saw), which is all the
        properties over client observations need; histories are not kept.
        What can happen next depends on the place alone, so each world's moves
        are run on the engine once, when the first place holding it is
        expanded, and the world itself is then let go (its key stays); each
        place's successors are listed once. Liveness and the event
        sequences are decided on the places (see :meth:`_liveness` and
        :func:`~migspec.properties.graphs.words`); a counterexample's log is
        rebuilt along its trace. ``progress`` is called every 65,536 states.
        """
        # The search allocates many small tuples that never form cycles; the
        # cyclic collector would only walk them again and again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(max_states, sequences, progress)
        finally:
            if collecting:
                gc.enable()

    def _run(self, max_states: int | None, sequences: bool,
             progress: Progress | None) -> Result:
        limit = max_states or self.scenario.max_states
        start = time.perf_counter()
        cpu_start = time.process_time()
        result = Result(self.profile, self.scenario.name)
        budget = self.budget
        observer = LastStatus(list(self.root.vms), self.successors, self.root_log)
        # Budget use: each distinct tuple once, numbered; ``spend[u][b]`` is
        # the number of the use after one more of action b (-1: none left).
        used_list: list[tuple[int, ...]] = [tuple(0 for _ in budget)]
        used_ids = {used_list[0]: 0}
        spend: list[list[int] | None] = [None]
        n_used = 1
        for b in budget:
            n_used *= b + 1

        def spend_table(uid: int) -> list[int]:
            table = spend[uid]
            if table is None:
                used = used_list[uid]
                table = []
                for b in range(len(budget)):
                    if used[b] >= budget[b]:
                        table.append(-1)
                        continue
                    after = _spend(used, b)
                    a = used_ids.get(after)
                    if a is None:
                        a = used_ids[after] = len(used_list)
                        used_list.append(after)
                        spend.append(None)
                    table.append(a)
                spend[uid] = table
            return table

        # Worlds: each key once; no world object is kept (a world is rebuilt
        # from its key while its moves run).
        store = WorldStore(self.root)
        world_keys: list[tuple[Any, ...]] = [store.key(self.root)]
        world_ids: dict[tuple[Any, ...], int] = {world_keys[0]: 0}
        #: Each world's moves, None until run (a move is run when the first
        #: place that may take it is expanded).
        world_moves: list[list[_Move | None] | None] = [None]
        nodes: list[_Node | None] = [None]
        node_ids: dict[_Node, _Node] = {}
        #: The budget index each of a world's moves spends (-1: none).
        world_spends: list[tuple[int, ...]] = [()]
        spend_ids: dict[tuple[int, ...], tuple[int, ...]] = {}
        #: The world being expanded and its labels, rebuilt when needed.
        current: list[Any] = [-1, None, None]
        #: Each distinct label once (many worlds have the same moves).
        labels_seen: dict[Label, Label] = {}
        new_ids: dict[LogKey, int] = {(): 0}
        new_logs: list[LogKey] = [()]
        # Places: a world and its budget use, packed as world * n_used + use.
        place_ids: dict[int, int] = {0: 0}
        place_keys = array("q", [0])
        graph: PlaceGraph[_Move, _Node] = PlaceGraph()
        graph.add()
        #: The first state of each place (where its findings are reported).
        place_first = array("q", [0])
        # States: a place and an observer state, packed as place << bits | observer.
        root_key = observer.root
        #: The observer states met at each place, as a bit mask.
        place_obs: list[int] = [1 << observer.root]
        state_key = array("q", [root_key])
        #: Each state's parent and the move from it (breadth-first: shortest).
        parent = array("q", [-1])
        via: list[_Move | None] = [None]
        edges = 0
        #: (property, crash reason) -> where it first showed (state, the move
        #: that showed it or None, detail); each property is reported once
        #: with its shortest trace, crashes once per reason.
        found: dict[tuple[str, str], tuple[int, _Move | None, str]] = {}
        fired: set[str] = set()
        reached: set[str] = set()

        def note(prop: str, sid: int, detail: str, move: _Move | None = None) -> None:
            tag = _tag(prop, detail)
            if tag not in found:
                found[tag] = (sid, move, detail)

        def world_of(wid: int) -> tuple[World, list[tuple[Label, int]], bool]:
            """The world ``wid``, its labels and whether it is quiescent."""
            if current[0] != wid:
                world = store.world(world_keys[wid])
                current[:] = [wid, world, self.world_labels(world)]
            return current[1], current[2][0], current[2][1]

        def expand_world(wid: int, sid: int) -> tuple[list[_Move | None], _Node]:
            """The world's node and its moves, none run yet."""
            world, labels, quiescent = world_of(wid)
            for prop, detail in self.world_violations(world, quiescent):
                note(prop, sid, detail)
            for vm in world.vms.values():
                if vm.cancel_after_completion and vm.s.state == MigrationStatus.CANCELLED:
                    reached.add("MIG-WITNESS-001")
                if vm.cancel_after_completion and vm.s.state == MigrationStatus.COMPLETED:
                    reached.add("MIG-WITNESS-002")
            node = _Node(
                quiescent,
                frozenset(_actor(lb) for lb, _ in labels if lb[0] == "engine"),
                final_events(world, quiescent),
                quiescent and self.good(world),
            )
            node = nodes[wid] = node_ids.setdefault(node, node)
            spends = tuple(b for _, b in labels)
            world_spends[wid] = spend_ids.setdefault(spends, spends)
            moves: list[_Move | None] = [None] * len(labels)
            world_moves[wid] = moves
            return moves, node

        def make_move(wid: int, i: int) -> _Move:
            """Run the world's ``i``-th move on the engine."""
            world, labels, _ = world_of(wid)
            label, b = labels[i]
            child = clone(world, self.acting(label))
            self.perform(child, label)
            if self.check_sharing and store.changed(child):
                raise AssertionError(f"{self.describe(label)} changed the VMs "
                                     f"{store.changed(child)} it shares (copy on write)")
            raw = child.log
            new = tuple([compact(n, o) for n, o in raw])
            static = tuple(self.step_violations(world, child, label, raw, new))
            fired.update(child.fired)
            child.log = []
            child.fired = []
            k = store.key(child)
            cwid = world_ids.get(k)
            if cwid is None:
                cwid = world_ids[k] = len(world_keys)
                world_keys.append(k)
                world_moves.append(None)
                nodes.append(None)
                world_spends.append(())
            new_id = new_ids.get(new)
            if new_id is None:
                new_id = new_ids[new] = len(new_logs)
                new_logs.append(new)
            label = labels_seen.setdefault(label, label)
            return _Move(label, b, cwid, new_id, static,
                         any(e[1] == "E" and e[2] == "MIGRATION" for e in new), _actor(label))

        def expand_place(pid: int, sid: int) -> None:
            wid, uid = divmod(place_keys[pid], n_used)
            moves = world_moves[wid]
            node = nodes[wid]
            if moves is None or node is None:
                moves, node = expand_world(wid, sid)
            table = spend_table(uid)
            targets: list[int] = []
            taken: list[_Move] = []
            for i, b in enumerate(world_spends[wid]):
                cu = uid
                if b >= 0:
                    cu = table[b]
                    if cu < 0:
                        continue
                move = moves[i]
                if move is None:
                    move = moves[i] = make_move(wid, i)
                for prop, detail in move.static:
                    note(prop, sid, detail, move)
                ck = move.world * n_used + cu
                cpid = place_ids.get(ck)
                if cpid is None:
                    cpid = place_ids[ck] = graph.add()
                    place_obs.append(0)
                    place_keys.append(ck)
                    place_first.append(-1)
                targets.append(cpid)
                taken.append(move)
            graph.expand(pid, targets, tuple(taken), node)

        place_moves = graph.moves
        place_nodes = graph.nodes
        starts = graph.start
        flat = graph.flat
        step = observer.step
        # States are numbered in the order found, so the queue of the
        # breadth-first search is the list of states itself, read as it grows
        # (up to the bound).
        for sid, k in enumerate(state_key):
            if sid >= limit:
                break
            if progress is not None and not sid & 0xFFFF and sid:
                progress(sid, len(place_keys), len(world_ids), time.perf_counter() - start)
            pid = k >> OBSERVER_BITS
            mon = k & OBSERVER_MASK
            taken_moves = place_moves[pid]
            if taken_moves is None:
                place_first[pid] = sid
                expand_place(pid, sid)
                taken_moves = place_moves[pid]
                assert taken_moves is not None
            node = place_nodes[pid]
            assert node is not None
            if node.finals:
                for prop, detail in observer.final(mon, node.finals):
                    note(prop, sid, detail)
            s0 = starts[pid]
            edges += len(taken_moves)
            for cpid, move in zip(flat[s0:s0 + len(taken_moves)], taken_moves, strict=True):
                cmon = mon
                if move.events:
                    cmon, bad = step(mon, move.new_id, new_logs[move.new_id])
                    for prop, detail in bad:
                        note(prop, sid, detail, move)
                met = place_obs[cpid]
                if not met >> cmon & 1:
                    place_obs[cpid] = met | 1 << cmon
                    parent.append(sid)
                    via.append(move)
                    state_key.append(cpid << OBSERVER_BITS | cmon)
        result.states = len(parent)
        result.complete = len(parent) <= limit
        result.edges = edges
        result.worlds = len(world_ids)
        result.places = len(place_keys)
        result.peak_mib = _peak_mib()
        # Free what the rest does not need before deciding liveness.
        place_obs.clear()
        world_ids.clear()
        world_keys.clear()
        store.clear()
        current[:] = [-1, None, None]
        self._liveness(graph, place_first, note)
        declared = [t.trigger for t in transitions_for(self.base_repaired, self.prof.deviations)]
        result.transitions_declared = list(dict.fromkeys(declared))
        result.transitions_fired = [t for t in result.transitions_declared if t in fired]
        for witness in self.scenario.witnesses:
            result.witnesses[witness] = witness in reached
            if witness not in reached:
                found.setdefault((witness, ""), (0, None, "never reached"))
        for (prop, _), (sid, last_move, detail) in sorted(
                found.items(), key=lambda kv: kv[1][0]):
            kind = "liveness" if prop.startswith("MIG-LIVE") else (
                "witness" if prop.startswith("MIG-WITNESS") else "safety")
            moves_along = [] if kind == "witness" else self._moves_to(parent, via, sid)
            if last_move is not None:
                moves_along.append(last_move)
            path = [m.label for m in moves_along]
            seen = () if kind == "witness" else self.root_log + tuple(
                entry for m in moves_along for entry in new_logs[m.new_id])
            defects = self.attribute(prop, path) if kind != "witness" else []
            result.violations.append(Violation(
                prop, kind, detail,
                [self.describe(label) for label in path],
                list(self.setup)
                + [line for label in path for line in self.script_line(label)],
                defects[0] if defects else None,
                seen,
                defects,
                path,
            ))
        if sequences:
            result.sequences = self._sequences(graph, new_logs)
        result.seconds = time.perf_counter() - start
        result.cpu_seconds = time.process_time() - cpu_start
        return result

    def _sequences(self, graph: PlaceGraph[_Move, _Node],
                   new_logs: list[LogKey]) -> dict[str, list[list[str]]]:
        """The MIGRATION statuses each VM's client can have seen when a run
        comes to rest (a quiescent state), derived from the graph of places:
        every path of places is a run (the observer only watches), so these
        are the words its moves spell to a quiescent place, after what the
        set-up showed. A VM whose events could repeat forever gets none."""
        out: dict[str, list[list[str]]] = {}
        quiet = graph.per_node(lambda node: node.quiescent, False)
        for name in self.root.vms:
            spelling = [spelled_prefix(log, name) for log in new_logs]

            def spelled(move: _Move, spelling: list[tuple[str, ...]] = spelling) -> tuple[str, ...]:
                return spelling[move.new_id]

            found = words(graph.edges(), graph.per_edge(spelled), quiet)
            if found is None:
                out[name] = []
                continue
            prefix = spelled_prefix(self.root_log, name)
            out[name] = [list(prefix + w) for w in sorted(found)]
        return out

    @staticmethod
    def _moves_to(parent: array[int], via: list[_Move | None], sid: int) -> list[_Move]:
        path: list[_Move] = []
        while sid > 0:
            move = via[sid]
            assert move is not None
            path.append(move)
            sid = parent[sid]
        path.reverse()
        return path

    def attribute(self, prop: str, path: list[Label]) -> list[str]:
        """The seed defects that explain a violation: each recorded defect whose
        repair alone (added to this profile) removes the counterexample, because
        a step of the trace can no longer happen or the property no longer fails
        along it.

        The trace is first replayed here with a recording profile: a defect
        whose repair site the replay never consults, and whose repair adds no
        transition, cannot change a safety counterexample, so only the others
        are replayed with the repair. (Liveness looks beyond the trace, so for
        it every defect is tried.)"""
        candidates = [d.id for d in DEFECTS if d.id not in self.prof.repaired]
        if not prop.startswith("MIG-LIVE"):
            recorder = self._variant("", self.prof.repaired)
            assert isinstance(recorder.prof, RecordingProfile)
            recorder.prof.consulted.clear()
            recorder.prof.consulted.update(recorder.setup_consulted)
            if recorder.violates_along(prop, path):
                relevant = recorder.prof.consulted | _ADDS_TRANSITION
                candidates = [d for d in candidates if d in relevant]
        return [
            d for d in candidates
            if not self._variant(d, self.prof.repaired | {d}).violates_along(prop, path)
        ]

    def _variant(self, defect: str, repaired: frozenset[str]) -> Explorer:
        """This exploration with ``repaired`` (cached by ``defect``; "" is
        this profile itself, recording the repair sites it consults)."""
        variant = self._variants.get(defect)
        if variant is None:
            name = f"{self.profile}+{defect}" if defect else self.profile
            base = self.prof
            prof: Profile = RecordingProfile(
                name, repaired, "recording", base.deviations, base.beyond
            ) if not defect else replace(
                base, name=name, repaired=repaired, description=f"{self.profile} with one repair")
            variant = self._variants[defect] = Explorer(self.scenario, prof)
        return variant

    def violates_along(self, prop: str, path: list[Label]) -> bool:
        """Replaying ``path`` here shows a violation of ``prop`` (for liveness:
        from its end no good state is reachable). False if a step is not enabled."""
        world = clone(self.root)
        used = tuple(0 for _ in self.budget)
        log = self.root_log
        for label in path:
            labels, quiescent = self.labels(world, used)
            if label not in labels:
                if label[0] == "engine" and label[4] == "emit":
                    continue  # a profile that sends events with the swap has no emit step
                return False
            if any(p == prop for p, _ in self.state_violations(world, log, quiescent)):
                return True
            child = clone(world)
            used = self.apply(child, used, label)
            new = tuple(compact(n, o) for n, o in child.log[len(world.log):])
            if any(p == prop for p, _ in self.edge_violations(world, child, label, log, new)):
                return True
            world, log = child, log + new
        labels, quiescent = self.labels(world, used)
        if any(p == prop for p, _ in self.state_violations(world, log, quiescent)):
            return True
        if prop.startswith("MIG-LIVE"):
            return not self._good_reachable(world, used)
        return False

    def _good_reachable(self, world: World, used: tuple[int, ...], limit: int = 50_000) -> bool:
        """A good quiescent state is reachable from ``world`` (or the bound hit)."""
        seen = {(key(world), used)}
        queue: deque[tuple[World, tuple[int, ...]]] = deque([(world, used)])
        while queue and len(seen) < limit:
            current, u = queue.popleft()
            labels, quiescent = self.labels(current, u)
            if quiescent and self.good(current):
                return True
            for label in labels:
                child = clone(current)
                cu = self.apply(child, u, label)
                k = (key(child), cu)
                if k not in seen:
                    seen.add(k)
                    queue.append((child, cu))
        return bool(queue)

    @staticmethod
    def _liveness(
        graph: PlaceGraph[_Move, _Node],
        place_first: array[int],
        note: Any,
    ) -> None:
        """MIG-LIVE-001 and MIG-LIVE-002, decided on the places: what can
        happen from a state depends on its place alone, so a state can reach a
        good state exactly when its place can. A cycle of states is a cycle of
        places whose moves show clients nothing; a cycle of places that shows
        something would make infinitely many states, and the exploration would
        end incomplete. Places left unexpanded by the bound count as able to
        reach a good state. Each finding is reported at the first state of its
        earliest place."""
        n = len(graph)
        good = graph.per_node(lambda node: node.good, True)
        offsets, sources = graph.predecessors()
        ok = bytearray(n)
        stack = [i for i in range(n) if good[i]]
        for i in stack:
            ok[i] = 1
        while stack:
            cid = stack.pop()
            for pid in sources[offsets[cid]:offsets[cid + 1]]:
                if not ok[pid]:
                    ok[pid] = 1
                    stack.append(pid)
        del offsets, sources
        stuck = [place_first[i] for i in range(n) if not ok[i]]
        if stuck:
            note("MIG-LIVE-001", min(stuck), "no quiescent state with every migration "
                 "terminal is reachable from here")
        cycles = fair_cycles(graph.edges(), graph.per_edge(lambda m: m.actor),
                             graph.per_node(lambda node: node.enabled, frozenset()),
                             graph.per_node(lambda node: node.good, False))
        if cycles:
            first = min(cycles, key=lambda c: min(place_first[i] for i in c))
            note("MIG-LIVE-002", min(place_first[i] for i in first),
                 f"a fair cycle of {len(first)} states never reaches termination")
