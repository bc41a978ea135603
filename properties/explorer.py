"""Exhaustive, breadth-first exploration of every interleaving of a scenario.

The state is the whole world (both VMs, files, threads, pending bottom halves
and connect callbacks, the client's remaining budget, and everything clients
saw). Moves are the engine's steps (:func:`migspec.reference.scheduler.moves`),
the client's commands, environment events and clock ticks. Breadth-first
order makes each counterexample a shortest trace; each is also a ``migspec
run`` script that replays it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from migspec.properties.scenarios import Scenario
from migspec.reference import scheduler as sched
from migspec.reference.engine import Engine, execute_now, tick
from migspec.reference.profiles import Profile, get_profile
from migspec.reference.script import parse, run_script
from migspec.reference.snapshot import clone, key
from migspec.reference.vm import VM
from migspec.reference.world import SOURCE, Move, World
from migspec.spec.capabilities import Capability
from migspec.spec.defects import DEFECTS
from migspec.spec.errors import QERR_MIGRATION_ACTIVE
from migspec.spec.states import IN_PROGRESS, TERMINAL, MigrationStatus
from migspec.spec.transitions import compile_table, transitions_for

#: A move label: ("engine", vm, actor, task, did) | ("client", i, outcome) |
#: ("env", j) | ("tick",)
Label = tuple[Any, ...]
LogKey = tuple[tuple[Any, ...], ...]

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
    seconds: float = 0.0
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
            "seconds": round(self.seconds, 3),
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


def _last_status(log: LogKey, vm: str) -> str | None:
    for entry in reversed(log):
        if entry[0] == vm and entry[1] == "E" and entry[2] == "MIGRATION":
            return str(entry[3])
    return None


def _successors(repaired: frozenset[str]) -> dict[str, frozenset[str]]:
    table = compile_table(repaired)
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


def strongly_connected(edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components (iterative), each sorted."""
    index: list[int] = [-1] * len(edges)
    low: list[int] = [0] * len(edges)
    on_stack = [False] * len(edges)
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(len(edges)):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            recurse = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if index[nxt] == -1:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if work:
                parent_node = work[-1][0]
                low[parent_node] = min(low[parent_node], low[node])
            if low[node] == index[node]:
                component: list[int] = []
                while True:
                    top = stack.pop()
                    on_stack[top] = False
                    component.append(top)
                    if top == node:
                        break
                out.append(sorted(component))
    return out


def fair_cycles(
    edges: list[list[int]],
    edge_actor: list[list[str]],
    enabled: list[frozenset[str]],
    good: list[bool],
) -> list[list[int]]:
    """Cycles that avoid every good state although weakly fair (MIG-LIVE-002):
    every engine actor enabled throughout the cycle also acts inside it."""
    found: list[list[int]] = []
    for component in strongly_connected(edges):
        members = set(component)
        inner = [
            (sid, actor)
            for sid in component
            for cid, actor in zip(edges[sid], edge_actor[sid], strict=True)
            if cid in members
        ]
        if not inner or any(good[sid] for sid in component):
            continue
        always = frozenset.intersection(*(enabled[sid] for sid in component))
        acting = {actor for _, actor in inner}
        if always <= acting:
            found.append(component)
    return found


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
        if not set(scenario.assume_repaired) <= prof.repaired:
            prof = Profile(prof.name, prof.repaired | set(scenario.assume_repaired),
                           prof.description)
        self.prof = prof
        self.profile = self.prof.name
        self.successors = _successors(self.prof.repaired)
        self._variants: dict[str, Explorer] = {}
        engine = Engine(self.prof)
        setup = "\n".join(json.dumps(line) for line in scenario.setup)
        for _ in run_script(engine, parse(setup, f"scenario {scenario.name}")):
            pass
        engine.world.tracing = False
        engine.world.trace.clear()
        #: What clients saw during the set-up (events before exploration starts).
        self.root_log: LogKey = tuple(compact(n, o) for n, o in engine.world.log)
        engine.world.log.clear()
        self.root = engine.world
        self.budget = tuple(a.limit for a in scenario.client) + tuple(
            e.limit for e in scenario.env
        )

    # -- moves --------------------------------------------------------------------
    def labels(self, world: World, used: tuple[int, ...]) -> tuple[list[Label], bool]:
        """Every move from ``world`` and whether the world is quiescent (no engine
        step and nothing waiting for time)."""
        out: list[Label] = []
        for move in sched.moves(world):
            vm = world.vms[move.vm]
            did = vm.threads[int(move.task)].pc if move.actor == "thread" else move.task
            out.append(("engine", move.vm, move.actor, move.task, did))
        quiescent = not out
        if quiescent and sched.next_time(world) is not None:
            out.append(("tick",))
            quiescent = False
        n_client = len(self.scenario.client)
        for i, action in enumerate(self.scenario.client):
            if used[i] >= action.limit or not sched.main_loop_free(world, action.vm):
                continue
            for outcome in action.connect or ("",):
                out.append(("client", i, outcome))
        for j, event in enumerate(self.scenario.env):
            if used[n_client + j] < event.limit:
                out.append(("env", j))
        return out, quiescent

    def apply(self, world: World, used: tuple[int, ...], label: Label) -> tuple[int, ...]:
        """Run ``label`` on ``world`` (mutated); the new budget use."""
        kind = label[0]
        if kind == "engine":
            sched.step(world, Move(label[1], label[2], label[3]))
        elif kind == "client":
            action = self.scenario.client[label[1]]
            if label[2]:
                world.env.connect = label[2]
            execute_now(world, world.vms[action.vm], action.command)
            used = used[: label[1]] + (used[label[1]] + 1,) + used[label[1] + 1:]
        elif kind == "env":
            index = len(self.scenario.client) + label[1]
            world.env.update(self.scenario.env[label[1]].values)
            used = used[:index] + (used[index] + 1,) + used[index + 1:]
        else:
            tick(world)
        return used

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
            return [{"migspec": "env", **self.scenario.env[label[1]].values}]
        return [{"migspec": "tick"}]

    # -- properties -------------------------------------------------------------
    def edge_violations(
        self, pre: World, post: World, label: Label, log: LogKey, new: LogKey
    ) -> Iterator[tuple[str, str]]:
        """Safety properties of one step."""
        for name, obj in post.log[len(pre.log):]:
            if obj.get("migspec") == "exited" and obj.get("line") != DESIGNED_EXIT_LINE:
                line = obj.get("line")
                prop = {554: "MIG-CLEANUP-003", 570: "MIG-FDERROR-002"}.get(
                    line if isinstance(line, int) else -1, "MIG-SAFETY-001"
                )
                yield prop, f"{name} died: {obj['reason']}"
        for i, entry in enumerate(new):
            name = entry[0]
            if entry[1] == "E" and entry[2] == "MIGRATION":
                prev = _last_status(log + new[:i], name)
                status = str(entry[3])
                if (prev is None and status != MigrationStatus.SETUP.value) or (
                    prev is not None and status not in self.successors[prev]
                ):
                    yield "MIG-SAFETY-003", f"{name} sent '{status}' after '{prev}'"
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
        for name, vm in pre.vms.items():
            after = post.vms[name]
            if vm.s.state in TERMINAL and after.s.state != vm.s.state and \
                    after.migrations == vm.migrations and after.s.state != MigrationStatus.NONE:
                yield "MIG-SAFETY-006", f"{name} left '{vm.s.state.value}' for " \
                    f"'{after.s.state.value}'"

    def state_violations(self, world: World, log: LogKey, quiescent: bool) -> Iterator[
            tuple[str, str]]:
        """Safety properties of one state."""
        source = world.vms[SOURCE]
        for name, vm in world.vms.items():
            if len(vm.incoming.listening) + len(vm.incoming.accepted) > 1:
                yield "MIG-SAFETY-009", f"{name} started more than one incoming migration"
        for name, vm in world.vms.items():
            if name == SOURCE or vm.exited is not None or not vm.incoming.finished:
                continue
            if vm.runstate.value == "running" and source.runstate.value == "running" and \
                    source.exited is None:
                yield "MIG-SAFETY-002", f"source and {name} both run the guest"
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
            if vm.events_at_start and state in TERMINAL and \
                    _last_status(log, name) != state.value:
                yield "MIG-SAFETY-008", f"{name} ended '{state.value}' without its event"

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
        self, max_states: int | None = None, sequences: bool = False, keep_graph: bool = False
    ) -> Result:
        """Explore every interleaving within the scenario's bounds."""
        limit = max_states or self.scenario.max_states
        start = time.perf_counter()
        result = Result(self.profile, self.scenario.name)
        root_used = tuple(0 for _ in self.budget)
        index: dict[Any, int] = {(key(self.root), root_used, ()): 0}
        parent: list[tuple[int, Label | None]] = [(-1, None)]
        logs: list[LogKey] = [self.root_log]
        worlds: dict[int, tuple[World, tuple[int, ...]]] = {0: (self.root, root_used)}
        edges: list[list[int]] = [[]]
        good: list[bool] = [False]
        expanded: list[bool] = [False]
        #: Per state: the engine actors enabled; per edge: the acting actor.
        enabled: list[frozenset[str]] = [frozenset()]
        edge_actor: list[list[str]] = [[]]
        #: (property, crash reason) -> where it first showed; each property is
        #: reported once with its shortest trace, crashes once per reason.
        found: dict[tuple[str, str], tuple[int, Label | None, LogKey, str]] = {}
        fired: set[str] = set()
        reached: set[str] = set()
        seqs: set[tuple[tuple[str, ...], ...]] = set()
        queue: deque[int] = deque([0])

        def note(prop: str, sid: int, detail: str, label: Label | None = None,
                 seen: LogKey | None = None) -> None:
            tag = (prop, detail if prop == "MIG-SAFETY-001" else "")
            if tag not in found:
                found[tag] = (sid, label, logs[sid] if seen is None else seen, detail)

        while queue:
            sid = queue.popleft()
            world, used = worlds.pop(sid)
            log = logs[sid]
            labels, quiescent = self.labels(world, used)
            expanded[sid] = True
            enabled[sid] = frozenset(_actor(lb) for lb in labels if lb[0] == "engine")
            for prop, detail in self.state_violations(world, log, quiescent):
                note(prop, sid, detail)
            if quiescent:
                good[sid] = self.good(world)
                if sequences:
                    seqs.add(tuple(
                        tuple(str(e[3]) for e in log if e[0] == n and e[2] == "MIGRATION")
                        for n in world.vms
                    ))
            for vm in world.vms.values():
                if vm.cancel_after_completion and vm.s.state == MigrationStatus.CANCELLED:
                    reached.add("MIG-WITNESS-001")
                if vm.cancel_after_completion and vm.s.state == MigrationStatus.COMPLETED:
                    reached.add("MIG-WITNESS-002")
            for label in labels:
                child = clone(world)
                child_used = self.apply(child, used, label)
                fired.update(child.fired)
                new = tuple(compact(n, o) for n, o in child.log[len(world.log):])
                child_log = log + new if new else log
                for prop, detail in self.edge_violations(world, child, label, log, new):
                    note(prop, sid, detail, label, child_log)
                k = (key(child), child_used, child_log)
                cid = index.get(k)
                if cid is None:
                    cid = len(parent)
                    index[k] = cid
                    parent.append((sid, label))
                    logs.append(child_log)
                    edges.append([])
                    good.append(False)
                    expanded.append(False)
                    enabled.append(frozenset())
                    edge_actor.append([])
                    if len(parent) <= limit:
                        worlds[cid] = (child, child_used)
                        queue.append(cid)
                    else:
                        result.complete = False
                edges[sid].append(cid)
                edge_actor[sid].append(_actor(label))
        result.states = len(parent)
        result.edges = sum(len(e) for e in edges)
        if keep_graph:
            result.graph = edges
        self._liveness(edges, good, expanded, note)
        for component in fair_cycles(edges, edge_actor, enabled, good):
            note("MIG-LIVE-002", component[0], f"a fair cycle of {len(component)} states "
                 "never reaches termination")
        declared = [t.trigger for t in transitions_for(self.profile)]
        result.transitions_declared = list(dict.fromkeys(declared))
        result.transitions_fired = [t for t in result.transitions_declared if t in fired]
        for witness in self.scenario.witnesses:
            result.witnesses[witness] = witness in reached
            if witness not in reached:
                found.setdefault((witness, ""), (0, None, (), "never reached"))
        for (prop, _), (sid, last, seen, detail) in sorted(found.items(),
                                                             key=lambda kv: kv[1][0]):
            kind = "liveness" if prop.startswith("MIG-LIVE") else (
                "witness" if prop.startswith("MIG-WITNESS") else "safety")
            path = [] if kind == "witness" else self._path(parent, sid)
            if last is not None:
                path.append(last)
            defects = self.attribute(prop, path) if kind != "witness" else []
            result.violations.append(Violation(
                prop, kind, detail,
                [self.describe(label) for label in path],
                list(self.scenario.setup)
                + [line for label in path for line in self.script_line(label)],
                defects[0] if defects else None,
                seen,
                defects,
            ))
        for n_i, name in enumerate(self.root.vms):
            distinct = {seq[n_i] for seq in seqs if n_i < len(seq)}
            if sequences:
                result.sequences[name] = [list(seq) for seq in sorted(distinct)]
        result.seconds = time.perf_counter() - start
        return result

    def attribute(self, prop: str, path: list[Label]) -> list[str]:
        """The seed defects that explain a violation: each recorded defect whose
        repair alone (added to this profile) removes the counterexample, because
        a step of the trace can no longer happen or the property no longer fails
        along it."""
        found: list[str] = []
        for defect in DEFECTS:
            if defect.id in self.prof.repaired:
                continue
            variant = self._variants.get(defect.id)
            if variant is None:
                repaired = self.prof.repaired | {defect.id}
                variant = Explorer(self.scenario, Profile(
                    f"{self.profile}+{defect.id}", repaired, f"{self.profile} with one repair"))
                self._variants[defect.id] = variant
            if not variant.violates_along(prop, path):
                found.append(defect.id)
        return found

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
    def _path(parent: list[tuple[int, Label | None]], sid: int) -> list[Label]:
        path: list[Label] = []
        while sid > 0:
            pid, label = parent[sid]
            assert label is not None
            path.append(label)
            sid = pid
        path.reverse()
        return path

    @staticmethod
    def _liveness(edges: list[list[int]], good: list[bool], expanded: list[bool],
                  note: Any) -> None:
        """MIG-LIVE-001: every state can reach a good quiescent state (states
        left unexpanded by the bound count as able to)."""
        n = len(edges)
        reverse: list[list[int]] = [[] for _ in range(n)]
        for sid, targets in enumerate(edges):
            for cid in targets:
                reverse[cid].append(sid)
        ok = [good[i] or not expanded[i] for i in range(n)]
        stack = [i for i in range(n) if ok[i]]
        while stack:
            cid = stack.pop()
            for sid in reverse[cid]:
                if not ok[sid]:
                    ok[sid] = True
                    stack.append(sid)
        for sid in range(n):
            if not ok[sid]:
                note("MIG-LIVE-001", sid, "no quiescent state with every migration terminal "
                     "is reachable from here")
                break
