"""Trace validation: is what an implementation showed a trace the spec admits?

A real target runs in real time; between two commands its migration thread
moves on and a race can go either way. So a trace (the observations a driver
recorded: its commands, the replies, the events, process starts and exits,
across the source and the destination) is judged by following it through the
reference engine's reachable states, keeping every engine state consistent
with everything seen so far, under every schedule and every choice the
environment may make (design.md, "Judging a real implementation: trace
validation"). The trace fails at the first observation no such state can
produce.

The search
----------
A search state is an engine world (:mod:`migspec.reference.snapshot` keys
and copies it, as the explorer does), for each VM how many of its observed
outputs have been matched, how many of the driver's inputs have been applied,
and which environment events have happened. Its moves:

* the engine's own moves, :func:`migspec.properties.explorer.engine_labels`:
  scheduler steps (migration threads, cleanup bottom halves, connect callbacks,
  main-loop tasks, among them the ``qmp`` task that runs a queued command) and
  clock ticks; a ``qmp`` step that runs ``migrate`` branches over the connect
  outcomes of :attr:`Environment.connect`;
* an environment event of :attr:`Environment.env_events` (each at most once);
* the driver's next input, a ``send`` (the command is queued as
  :meth:`~migspec.reference.engine.Engine.submit` does) or a ``start`` (a new
  process), enabled only when every observation recorded before it has been
  matched: the driver had seen them.

What a move logs (per VM, in order) must equal that VM's next unmatched
observations through :func:`abstract`; per VM the observed stream is wire order
(one QMP connection is FIFO), across VMs only causality counts. The trace is
admitted when a state matches all of it (with ``complete=True`` that state
must moreover be quiescent and no VM may have logged anything unobserved).
Without ``complete`` a trace is read as a prefix of a run: what a VM logs after
its last recorded observation is taken as not yet read. The failure is the
smallest index no state gets past; ``expected`` lists, abstracted, what the
states that matched everything before it could have shown there instead.

The engine worlds and moves between them are computed once per (profile,
environment) and kept (:func:`clear_cache` drops them); each verdict is kept
per abstracted trace, so repeated runs of a racy scenario cost one search per
distinct outcome.

What is compared (:func:`abstract`)
------------------------------------
* events: the name and the ``data`` object exactly; ``timestamp`` ignored
  (MIG-EVENT-001, MIG-EVENT-002, MIG-SETSTATE-002);
* errors: ``class`` and ``desc`` exactly; ``id`` ignored;
* returns: the value exactly, except ``query-migrate``. Its statistics depend
  on guest RAM, bandwidth and real time, which the spec does not fix (the engine
  runs a small instant world). For it the status and every other string or
  boolean, and the set of keys at every level (so the shape per status,
  MIG-QUERY-001..007: ``setup-time`` present in active, cancelling and
  completed, ``downtime`` only when completed, ``xbzrle-cache`` with the
  capability), are compared, numbers are not, and the relations the seed's
  arithmetic fixes whatever the world are checked on the numbers shown:

  - completed: ``ram.remaining`` is 0 (line 447, MIG-QUERY-004);
  - completed: 0 <= ``downtime`` <= ``total-time``: both end at the same
    ``end_time`` on QEMU_CLOCK_REALTIME, ``downtime`` from the completion's
    ``start_time`` (line 942), ``total-time`` from the migration's start (line
    657), which is earlier (lines 1005-1008, MIG-QUERY-004, MIG-THREAD-009);
  - active and cancelling: ``total-time`` >= 0 (REALTIME now minus the start,
    lines 403-404, MIG-QUERY-003).

  ``setup-time`` is measured on QEMU_CLOCK_HOST (line 926), which may jump,
  ``expected-downtime`` may be anything (DEF-EXPECTED-DOWNTIME-DIV0), and
  ``mbps``, byte and page counts depend on the world: none is constrained.
* process exits: that the VM exited; the reason text is not compared (a real
  target shows an exit status and stderr, the engine a seed line).

Observation format (brief-conform.md; ``vm`` defaults to ``"source"``)::

    {"vm": V, "send": {"execute": ..., "arguments": ...}}
    {"vm": V, "reply": {"return": ...}} | {"vm": V, "reply": {"error": {...}}}
    {"vm": V, "event": NAME, "data": {...}}
    {"vm": V, "exited": "reason"}
    {"vm": V, "start": {"incoming": URI | "defer" | null, "paused": bool}}
    {"settle": true}      # optional: the driver waited until nothing moved

A ``start`` of a VM the world lacks (or whose process exited) starts it as
``-incoming URI`` does (``paused``: ``-S``, so no autostart); a ``start`` of a
live VM the set-up already made is taken as that VM (for the source
``paused`` then means the run state ``prelaunch`` before any migration).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from migspec.properties.explorer import engine_labels, perform_engine
from migspec.reference import handlers
from migspec.reference.engine import Engine, EngineError
from migspec.reference.environment import Env
from migspec.reference.mainloop import environment_event, environment_event_enabled, is_feed
from migspec.reference.profiles import Profile, get_profile
from migspec.reference.script import ScriptError, parse, run_script
from migspec.reference.snapshot import clone, key
from migspec.reference.stream import stream_of
from migspec.reference.world import SOURCE, World
from migspec.spec.runstates import RunState

Observation = dict[str, Any]
#: An observation through :func:`abstract`: what validation compares.
Abs = tuple[Any, ...]
Label = tuple[Any, ...]

#: States one validation may visit before it gives up (``TraceVerdict.bounded``).
MAX_STATES = 200_000
#: Engine graphs kept (one per profile and environment).
GRAPHS_KEPT = 16
#: Verdicts kept (one per profile, environment and abstracted trace).
VERDICTS_KEPT = 4096
#: Alternatives listed in ``TraceVerdict.expected``.
EXPECTED_SHOWN = 8


class TraceFormatError(ValueError):
    """An observation that is not in the trace format (names its index)."""


@dataclass(frozen=True)
class Environment:
    """What the environment of a run may do.

    ``setup``: ``migspec run`` lines (commands and directives) that build the
    engine's initial world before the trace starts; their output is not
    compared (typically :data:`SMALL_SETUP`'s knobs, a destination, run
    states). ``connect``: the connect outcomes a ``migrate`` may take (set as
    the ``connect`` knob when it runs; empty leaves the knob alone).
    ``env_events``: ``env`` knob changes each of which may happen once, at any
    time."""

    setup: tuple[dict[str, Any], ...] = ()
    connect: tuple[str, ...] = ("auto",)
    env_events: tuple[dict[str, Any], ...] = ()

    def cache_key(self) -> str:
        """A canonical text of the whole environment."""
        return json.dumps([list(self.setup), list(self.connect), list(self.env_events)],
                          sort_keys=True)


#: A small instant world for validating real targets: migrations take a
#: handful of steps whatever the real guest's size (statistics are not
#: compared, see the module docstring).
SMALL_SETUP: tuple[dict[str, Any], ...] = (
    {"migspec": "env", "ram_bytes": 8192, "instant": True},
)


@dataclass
class TraceVerdict:
    """The verdict on one trace."""

    ok: bool
    #: The first observation no admitted state can produce (``len(trace)``
    #: when everything matched but, with ``complete``, the run cannot end so).
    index: int | None
    observation: Observation | None
    #: What the states that matched everything before ``index`` could show there.
    expected: list[str]
    #: Search states visited.
    states: int
    seconds: float
    #: A ``migspec run`` script: the schedule that produces the trace (ok), or
    #: the longest admitted prefix (not ok), set-up included.
    script: list[dict[str, Any]] = field(default_factory=list)
    #: The search stopped at :data:`MAX_STATES` (the verdict is then not ok).
    bounded: bool = False
    #: Why the engine could not follow the trace there: a request beyond what
    #: it models for the profile (a report's UNSUPPORTED rather than FAIL).
    unsupported: list[str] = field(default_factory=list)
    #: What the trace showed beyond the seed's surface, as the profile declares
    #: it (``Profile.beyond``), set aside before comparing (UNSUPPORTED in a
    #: report, not silently ignored).
    beyond: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "ok": self.ok, "index": self.index, "observation": self.observation,
            "expected": self.expected, "states": self.states,
            "seconds": round(self.seconds, 6), "bounded": self.bounded,
            "unsupported": self.unsupported, "beyond": self.beyond,
        }

    def message(self) -> str:
        """One line for people."""
        if self.ok:
            return f"admitted ({self.states} states)"
        if self.bounded:
            return f"undecided: search bound of {MAX_STATES} states reached"
        shown = "end of trace" if self.observation is None else json.dumps(self.observation)
        return (f"observation {self.index} ({shown}) is not admitted; the spec allows there: "
                + "; ".join(self.expected))


class OutcomeSet(set[tuple[str, ...]]):
    """Admitted outcomes, with how the search went."""

    complete: bool = True
    states: int = 0
    #: Requests beyond what the engine models for the profile, met on the way
    #: (the runs through them are not followed).
    unsupported: tuple[str, ...] = ()


# -- observations and their abstraction ---------------------------------------------
_KINDS = ("send", "reply", "event", "exited", "start", "settle")


def normalize(obs: Any, index: int = 0) -> Observation:
    """One observation checked and put in canonical form (``vm`` present,
    ``timestamp`` and ``id`` dropped); TraceFormatError when it is not one."""
    if not isinstance(obs, dict):
        raise TraceFormatError(f"observation {index}: not a JSON object")
    kinds = [k for k in _KINDS if k in obs]
    if len(kinds) != 1:
        raise TraceFormatError(
            f"observation {index}: needs exactly one of {', '.join(_KINDS)}")
    kind = kinds[0]
    vm = obs.get("vm", SOURCE)
    if not isinstance(vm, str):
        raise TraceFormatError(f"observation {index}: vm must be a string")
    value = obs[kind]
    out: Observation = {"vm": vm}
    if kind == "send":
        if not isinstance(value, dict):
            raise TraceFormatError(f"observation {index}: send must be a command object")
        out["send"] = value
    elif kind == "reply":
        if not isinstance(value, dict) or ("return" in value) == ("error" in value):
            raise TraceFormatError(f"observation {index}: reply needs return or error")
        if "error" in value:
            err = value["error"]
            if not isinstance(err, dict):
                raise TraceFormatError(f"observation {index}: error must be an object")
            out["reply"] = {"error": {"class": err.get("class"), "desc": err.get("desc")}}
        else:
            out["reply"] = {"return": value["return"]}
    elif kind == "event":
        data = obs.get("data")
        if not isinstance(value, str) or not (data is None or isinstance(data, dict)):
            raise TraceFormatError(f"observation {index}: event needs a name and object data")
        out["event"] = value
        out["data"] = data or {}
    elif kind == "exited":
        out["exited"] = str(value)
    elif kind == "start":
        if not isinstance(value, dict):
            raise TraceFormatError(f"observation {index}: start must be an object")
        incoming = value.get("incoming")
        if incoming is not None and not isinstance(incoming, str):
            raise TraceFormatError(f"observation {index}: start incoming must be a URI or null")
        out["start"] = {"incoming": incoming, "paused": bool(value.get("paused", False))}
    else:
        out = {"vm": vm, "settle": True}
    return out


def from_log(name: str, obj: dict[str, Any]) -> Observation | None:
    """An engine log entry (``world.log``) as an observation; None for notices
    no QMP client sees."""
    if "event" in obj:
        return {"vm": name, "event": obj["event"], "data": obj.get("data") or {}}
    if "return" in obj:
        return {"vm": name, "reply": {"return": obj["return"]}}
    if "error" in obj:
        return {"vm": name, "reply": {"error": dict(obj["error"])}}
    if obj.get("migspec") == "exited":
        return {"vm": name, "exited": str(obj.get("reason", ""))}
    return None


def _shape(value: Any) -> Any:
    """Strings and booleans as they are, numbers as '#', objects by key."""
    if isinstance(value, dict):
        return tuple(sorted((k, _shape(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_shape(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return "#"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def query_migrate_relations(info: Any) -> tuple[str, ...]:
    """The relations of the module docstring that a ``query-migrate`` return
    breaks (empty when it keeps them all)."""
    if not isinstance(info, dict):
        return ()
    broken: list[str] = []
    status = info.get("status")
    raw = info.get("ram")
    ram: dict[str, Any] = raw if isinstance(raw, dict) else {}
    total = _num(info.get("total-time"))
    if status == "completed":
        remaining = _num(ram.get("remaining"))
        if remaining is not None and remaining != 0:
            broken.append("MIG-QUERY-004: ram.remaining is not 0 when completed")
        downtime = _num(info.get("downtime"))
        if downtime is not None and (downtime < 0 or (total is not None and downtime > total)):
            broken.append("MIG-QUERY-004: downtime is not within 0..total-time")
    elif status in ("active", "cancelling") and total is not None and total < 0:
        broken.append("MIG-QUERY-003: total-time is negative")
    return tuple(broken)


def abstract(obs: Observation, command: Any = None) -> Abs:
    """What validation compares of an observation (the module docstring says
    what); ``command`` is the command a reply answers."""
    if "event" in obs:
        return ("event", obs["event"], json.dumps(obs.get("data") or {}, sort_keys=True))
    if "exited" in obs:
        return ("exited",)
    reply = obs["reply"]
    name = command.get("execute") if isinstance(command, dict) else None
    name = name if isinstance(name, str) else "?"
    if "error" in reply:
        err = reply["error"]
        return ("error", name, err.get("class"), err.get("desc"))
    value = reply["return"]
    if name == "query-migrate":
        return ("query-migrate", _shape(value), query_migrate_relations(value))
    return ("return", name, json.dumps(value, sort_keys=True))


def describe(ab: Abs) -> str:
    """An abstracted observation for people."""
    kind = ab[0]
    if kind == "unsupported":
        return f"UNSUPPORTED: {ab[1]}"
    if kind == "event":
        return f"event {ab[1]} {ab[2]}" if ab[2] != "{}" else f"event {ab[1]}"
    if kind == "exited":
        return "the process exits"
    if kind == "error":
        return f"{ab[1]} fails: {ab[2]} {ab[3]!r}"
    if kind == "query-migrate":
        shape = dict(ab[1]) if isinstance(ab[1], tuple) else {}
        keys = ", ".join(k for k in shape if k != "status")
        text = f"query-migrate returns status {shape.get('status', '(none)')!r}" + (
            f" with {keys}" if keys else "")
        return text + "".join(f" [{b}]" for b in ab[2])
    return f"{ab[1]} returns {ab[2]}"


def short(ab: Abs) -> str:
    """An abstracted output in a few characters (for outcomes)."""
    kind = ab[0]
    if kind == "event":
        if ab[1] == "MIGRATION":
            return str(json.loads(ab[2]).get("status", "?"))
        return str(ab[1])
    if kind == "exited":
        return "exited"
    if kind == "error":
        return f"{ab[1]} error {ab[3]!r}"
    if kind == "query-migrate":
        shape = dict(ab[1]) if isinstance(ab[1], tuple) else {}
        return f"query-migrate {shape.get('status', 'none')}" + ("!" if ab[2] else "")
    if ab[1] == "query-status":
        return f"query-status {json.loads(ab[2]).get('status', '?')}"
    return f"{ab[1]} ok"


# -- the engine's graph, computed once per profile and environment ------------------
class _NeverRaised(Exception):
    """Stands in for an engine without :class:`Unsupported`."""


#: What the engine raises for a request beyond the profile's modelled surface
#: (``migspec.reference.handlers.Unsupported``, with the qemu-7.2 profile).
_UNSUPPORTED: type[Exception] = getattr(handlers, "Unsupported", _NeverRaised)


class _Edge(NamedTuple):
    label: Label
    child: int
    #: What the move logged: (vm, abstracted observation), in order.
    out: tuple[tuple[str, Abs], ...]


def _key(world: World) -> tuple[Any, ...]:
    queues = tuple(
        tuple(json.dumps(c, sort_keys=True) for c in vm.queue) if vm.queue else ()
        for vm in world.vms.values()
    )
    return key(world), queues


def _input_key(obs: Observation) -> Label:
    if "send" in obs:
        return ("send", obs["vm"], json.dumps(obs["send"], sort_keys=True))
    if "start" in obs:
        return ("start", obs["vm"], obs["start"]["incoming"], obs["start"]["paused"])
    return ("settle",)


class _Graph:
    """Engine worlds reachable from the set-up, and the moves between them,
    each run on the engine once."""

    def __init__(self, profile: Profile, env: Environment) -> None:
        self.profile = profile
        self.env = env
        engine = Engine(profile)
        text = "\n".join(json.dumps(line) for line in env.setup)
        try:
            for _ in run_script(engine, parse(text, "set-up"), "set-up"):
                pass
        except ScriptError as err:
            raise ValueError(f"environment set-up: {err}") from None
        for values in env.env_events:
            if is_feed(values):
                stream_of(values)  # ValueError names a bad argument
            else:
                Env().update(values)  # ValueError names a bad knob
        for outcome in env.connect:
            Env().update({"connect": outcome})
        world = engine.world
        world.tracing = False
        world.trace.clear()
        world.log.clear()
        world.fired = []
        self.worlds: list[World] = [world]
        self.ids: dict[tuple[Any, ...], int] = {_key(world): 0}
        self.engine: list[tuple[tuple[_Edge, ...], bool] | None] = [None]
        self.inputs: dict[tuple[int, Label], _Edge | None] = {}
        self.events: dict[tuple[int, int], _Edge] = {}

    def _add(self, child: World, label: Label, command: Any, vm: str | None) -> _Edge:
        out: list[tuple[str, Abs]] = []
        for name, obj in child.log:
            obs = from_log(name, obj)
            if obs is not None:
                out.append((name, abstract(obs, command if name == vm else None)))
        child.log = []
        child.fired = []
        k = _key(child)
        wid = self.ids.get(k)
        if wid is None:
            wid = self.ids[k] = len(self.worlds)
            self.worlds.append(child)
            self.engine.append(None)
        return _Edge(label, wid, tuple(out))

    def moves(self, wid: int) -> tuple[tuple[_Edge, ...], bool]:
        """The engine's moves from world ``wid`` and whether it is quiescent."""
        known = self.engine[wid]
        if known is not None:
            return known
        world = self.worlds[wid]
        labels, quiescent = engine_labels(world)
        edges: list[_Edge] = []
        for label in labels:
            command: Any = None
            vm = None
            if label[0] == "engine" and label[3] in ("qmp", "reply"):
                vm = label[1]
                command = world.vms[vm].queue[0]
            branches: tuple[str, ...] = ("",)
            if isinstance(command, dict) and command.get("execute") == "migrate" \
                    and self.env.connect and label[3] == "qmp":
                branches = self.env.connect
            for outcome in branches:
                child = clone(world)
                if outcome:
                    child.env.connect = outcome
                full = label + ((outcome,) if outcome else ())
                try:
                    perform_engine(child, label)
                except _UNSUPPORTED as err:
                    # Beyond what the engine models for this profile: no
                    # observation matches it, and the verdict says so.
                    edges.append(_Edge(full, -1, ((label[1], ("unsupported", str(err))),)))
                    continue
                edges.append(self._add(child, full, command, vm))
        known = self.engine[wid] = (tuple(edges), quiescent)
        return known

    def apply_input(self, wid: int, inp: Label) -> _Edge | None:
        """The driver's input ``inp`` in world ``wid``; None if impossible."""
        k = (wid, inp)
        if k in self.inputs:
            return self.inputs[k]
        world = self.worlds[wid]
        child = clone(world)
        edge: _Edge | None = None
        if inp[0] == "send":
            target = child.vms.get(inp[1])
            if target is not None:
                if target.exited is None:
                    target.queue.append(json.loads(inp[2]))
                edge = self._add(child, inp, None, None)
        elif inp[0] == "start" and _start(child, inp[1], inp[2], inp[3]):
            edge = self._add(child, inp, None, None)
        self.inputs[k] = edge
        return edge

    def env_event(self, wid: int, j: int) -> _Edge:
        """Environment event ``j`` in world ``wid``."""
        k = (wid, j)
        edge = self.events.get(k)
        if edge is None:
            child = clone(self.worlds[wid])
            environment_event(child, self.env.env_events[j])
            edge = self.events[k] = self._add(child, ("env", j), None, None)
        return edge


def _start(world: World, name: str, incoming: str | None, paused: bool) -> bool:
    """A ``start`` observation on ``world`` (mutated); False if the engine
    cannot start such a process."""
    vm = world.vms.get(name)
    if vm is not None and vm.exited is None:
        if incoming is None and paused and vm.runstate == RunState.RUNNING \
                and not vm.migrations:
            vm.runstate = RunState.PRELAUNCH
        return True
    if incoming is None:
        return False
    engine = Engine.__new__(Engine)
    engine.world = world
    try:
        engine.incoming(incoming, name)
    except EngineError:
        return False
    world.vms[name].autostart = not paused
    return True


_GRAPHS: OrderedDict[tuple[Any, ...], _Graph] = OrderedDict()
_VERDICTS: OrderedDict[tuple[Any, ...], TraceVerdict] = OrderedDict()
_OUTCOMES: OrderedDict[tuple[Any, ...], OutcomeSet] = OrderedDict()
#: The caches grow as searches run: one search at a time (a harness may
#: validate from several threads).
_LOCK = threading.RLock()


def _remember(cache: OrderedDict[tuple[Any, ...], Any], k: tuple[Any, ...], value: Any,
              kept: int) -> None:
    cache[k] = value
    while len(cache) > kept:
        cache.popitem(last=False)


def _profile_key(profile: Profile) -> tuple[Any, ...]:
    return (type(profile).__name__, profile.name, tuple(sorted(profile.repaired)),
            tuple(sorted(getattr(profile, "deviations", ()))))


def _graph(profile: str | Profile, env: Environment) -> _Graph:
    prof = get_profile(profile) if isinstance(profile, str) else profile
    k = (_profile_key(prof), env.cache_key())
    graph = _GRAPHS.get(k)
    if graph is None:
        graph = _Graph(prof, env)
        _remember(_GRAPHS, k, graph, GRAPHS_KEPT)
    else:
        _GRAPHS.move_to_end(k)
    return graph


def clear_cache() -> None:
    """Forget every engine graph, verdict and outcome set kept."""
    with _LOCK:
        _GRAPHS.clear()
        _VERDICTS.clear()
        _OUTCOMES.clear()


# -- checking a trace -----------------------------------------------------------------
def _beyond_seed(obs: Observation, command: Any, beyond: Any, noted: set[str]
                 ) -> Observation | None:
    """``obs`` without what the profile declares beyond the seed's surface
    (``Profile.beyond`` of the qemu-7.2 profile: events, query-migrate keys at
    the top, in ``ram`` and in ``xbzrle-cache``, query-migrate-parameters
    keys), which the engine
    does not model; None when nothing is left. What was set aside is noted."""
    if beyond is None:
        return obs
    if "event" in obs:
        if obs["event"] in getattr(beyond, "events", ()):
            noted.add(f"event {obs['event']}")
            return None
        return obs
    name = command.get("execute") if isinstance(command, dict) else None
    value = obs.get("reply", {}).get("return")
    if not isinstance(value, dict) or name not in ("query-migrate", "query-migrate-parameters"):
        return obs
    top = frozenset(getattr(beyond, "query_migrate_keys" if name == "query-migrate"
                            else "parameters", ()))
    kept = {k: v for k, v in value.items() if k not in top}
    noted.update(f"{name} {k}" for k in value if k in top)
    ram = kept.get("ram")
    if name == "query-migrate" and isinstance(ram, dict):
        extra = frozenset(getattr(beyond, "ram_keys", ()))
        kept["ram"] = {k: v for k, v in ram.items() if k not in extra}
        noted.update(f"query-migrate ram.{k}" for k in ram if k in extra)
    cache = kept.get("xbzrle-cache")
    if name == "query-migrate" and isinstance(cache, dict):
        extra = frozenset(getattr(beyond, "xbzrle_cache_keys", ()))
        kept["xbzrle-cache"] = {k: v for k, v in cache.items() if k not in extra}
        noted.update(f"query-migrate xbzrle-cache.{k}" for k in cache if k in extra)
    return {**obs, "reply": {"return": kept}}


class _Trace:
    """A trace split into per-VM output streams and the driver's inputs."""

    def __init__(self, trace: Sequence[Any], beyond: Any = None) -> None:
        self.obs = [normalize(o, i) for i, o in enumerate(trace)]
        self.n = n = len(self.obs)
        #: What the profile's implementation has beyond the seed, seen and set aside.
        self.beyond: set[str] = set()
        self.vms: dict[str, int] = {}
        streams: list[list[Abs]] = []
        positions: list[list[int]] = []
        self.inputs: list[Label] = []
        self.input_pos: list[int] = []
        self.abs: list[Abs | None] = []
        pending: dict[str, deque[Any]] = {}
        for i, o in enumerate(self.obs):
            vm = o["vm"]
            if "send" in o or "start" in o or "settle" in o:
                self.inputs.append(_input_key(o))
                self.input_pos.append(i)
                self.abs.append(None)
                if "send" in o:
                    pending.setdefault(vm, deque()).append(o["send"])
                elif "start" in o:
                    pending.pop(vm, None)
                continue
            command = None
            if "reply" in o:
                queue = pending.get(vm)
                command = queue.popleft() if queue else None
            elif "exited" in o:
                pending.pop(vm, None)
            seen = _beyond_seed(o, command, beyond, self.beyond)
            if seen is None:
                self.abs.append(None)
                continue
            ab = abstract(seen, command)
            self.abs.append(ab)
            v = self.vms.setdefault(vm, len(self.vms))
            if v == len(streams):
                streams.append([])
                positions.append([])
            streams[v].append(ab)
            positions[v].append(i)
        self.streams = [tuple(s) for s in streams]
        self.positions = [tuple(p) + (n,) for p in positions]
        self.input_pos.append(n)
        self.key = (tuple(self.inputs),
                    tuple((o["vm"], ab) for o, ab in zip(self.obs, self.abs, strict=True)))

    def first_unmatched(self, k: int, ptrs: tuple[int, ...]) -> int:
        first = self.input_pos[k]
        for v, p in enumerate(ptrs):
            at = self.positions[v][p]
            if at < first:
                first = at
        return first

    def match(self, k: int, ptrs: tuple[int, ...], out: tuple[tuple[str, Abs], ...],
              complete: bool, miss: dict[int, set[str]] | None = None
              ) -> tuple[int, ...] | None:
        """The pointers after a move that logged ``out``; None on a mismatch,
        which is noted in ``miss`` (observation index -> what the engine
        showed there) when that observation is the first one left unmatched."""
        if not out:
            return ptrs
        p = list(ptrs)
        for name, ab in out:
            v = self.vms.get(name)
            if v is None:
                if complete:
                    if miss is not None:
                        self._miss(miss, k, p, self.n, f"{name}: {describe(ab)}")
                    return None
                continue
            stream = self.streams[v]
            if p[v] < len(stream):
                if stream[p[v]] != ab:
                    if miss is not None:
                        self._miss(miss, k, p, self.positions[v][p[v]], describe(ab))
                    return None
                p[v] += 1
            elif complete:
                if miss is not None:
                    self._miss(miss, k, p, self.n, f"{name}: {describe(ab)}")
                return None
        return tuple(p)

    def _miss(self, miss: dict[int, set[str]], k: int, p: list[int], at: int,
              what: str) -> None:
        if self.first_unmatched(k, tuple(p)) == at:
            miss.setdefault(at, set()).add(what)


State = tuple[int, int, int, tuple[int, ...]]


def check_trace(
    trace: Sequence[Observation],
    env: Environment,
    profile: str | Profile = "seed",
    complete: bool = False,
) -> TraceVerdict:
    """Is ``trace`` one the spec (``profile``) admits under some schedule and
    some behaviour of ``env``? With ``complete`` the trace must also be a
    whole run: nothing unobserved logged, and it ends quiescent.

    TraceFormatError for a malformed observation; ValueError for a bad
    environment."""
    started = time.perf_counter()
    with _LOCK:
        graph = _graph(profile, env)
        prepared = _Trace(trace, getattr(graph.profile, "beyond", None))
        vkey = (_profile_key(graph.profile), env.cache_key(), complete, prepared.key)
        known = _VERDICTS.get(vkey)
        if known is None:
            known = _search(graph, prepared, complete)
            known.seconds = time.perf_counter() - started
            known.beyond = sorted(prepared.beyond)
            _remember(_VERDICTS, vkey, known, VERDICTS_KEPT)
            return known
        _VERDICTS.move_to_end(vkey)
    return TraceVerdict(known.ok, known.index,
                        None if known.index is None or known.index >= prepared.n
                        else prepared.obs[known.index],
                        list(known.expected), known.states,
                        time.perf_counter() - started, list(known.script), known.bounded,
                        list(known.unsupported), sorted(prepared.beyond))


def _successors(graph: _Graph, t: _Trace, state: State, complete: bool,
                miss: dict[int, set[str]]) -> list[tuple[Label, State]]:
    wid, k, mask, ptrs = state
    out: list[tuple[Label, State]] = []
    edges, quiescent = graph.moves(wid)
    for edge in edges:
        new = t.match(k, ptrs, edge.out, complete, miss)
        if new is not None:
            out.append((edge.label, (edge.child, k, mask, new)))
    for j in range(len(graph.env.env_events)):
        if not mask & (1 << j) and environment_event_enabled(
                graph.worlds[wid], graph.env.env_events[j]):
            ev = graph.env_event(wid, j)
            out.append((ev.label, (ev.child, k, mask | (1 << j), ptrs)))
    if k < len(t.inputs) and t.first_unmatched(k, ptrs) == t.input_pos[k]:
        inp = t.inputs[k]
        if inp[0] == "settle":
            if quiescent:
                out.append((inp, (wid, k + 1, mask, ptrs)))
        else:
            edge2 = graph.apply_input(wid, inp)
            if edge2 is not None:
                new = t.match(k + 1, ptrs, edge2.out, complete, miss)
                if new is not None:
                    out.append((inp, (edge2.child, k + 1, mask, new)))
                else:
                    shown = ", ".join(f"{n}: {describe(ab)}" for n, ab in edge2.out)
                    miss.setdefault(t.input_pos[k], set()).add(
                        f"this {inp[0]} is followed at once by {shown}")
    return out


def _search(graph: _Graph, t: _Trace, complete: bool) -> TraceVerdict:
    """Depth first over the states consistent with the trace; the first
    state that matched everything (and, with ``complete``, is quiescent) wins."""
    root: State = (0, 0, 0, tuple(0 for _ in t.streams))
    parent: dict[State, tuple[State | None, Label | None]] = {root: (None, None)}
    stack = [root]
    best = -1
    best_state = root
    #: observation index -> what some state could show there instead
    miss: dict[int, set[str]] = {}
    done: State | None = None
    bounded = False
    while stack:
        state = stack.pop()
        first = t.first_unmatched(state[1], state[3])
        if first > best:
            best, best_state = first, state
        if first == t.n and (not complete or graph.moves(state[0])[1]):
            done = state
            break
        for label, child in _successors(graph, t, state, complete, miss):
            if child not in parent:
                parent[child] = (state, label)
                stack.append(child)
        if len(parent) > MAX_STATES:
            bounded = True
            break
    if done is not None:
        return TraceVerdict(True, None, None, [], len(parent), 0.0,
                            _script(graph, parent, done))
    # A move may match some of what it logged before it differs: the first
    # observation it differs at counts as reached.
    best = max([best, *miss])
    expected = ["(search bound reached)"] if bounded else _expected(t, best, miss)
    unsupported = sorted(m[len("UNSUPPORTED: "):] for m in miss.get(best, ())
                         if m.startswith("UNSUPPORTED: "))
    return TraceVerdict(False, best, t.obs[best] if best < t.n else None, expected,
                        len(parent), 0.0, _script(graph, parent, best_state), bounded,
                        unsupported)


def _expected(t: _Trace, index: int, miss: dict[int, set[str]]) -> list[str]:
    """What the engine could show at ``index`` instead, a short sorted list."""
    shown = sorted(miss.get(index, ()))
    if not shown:
        if index >= t.n:
            return ["the run cannot end quiescent here"]
        obs = t.obs[index]
        if t.abs[index] is None:
            if "settle" in obs:
                return ["nothing: no admitted state is quiescent here"]
            kind = "send" if "send" in obs else "start"
            return [f"no process {obs['vm']!r} can take this {kind} here"]
        return [f"nothing more from {obs['vm']}"]
    if len(shown) > EXPECTED_SHOWN:
        rest = len(shown) - EXPECTED_SHOWN
        shown = shown[:EXPECTED_SHOWN] + [f"... and {rest} more"]
    return shown


def _script(graph: _Graph, parent: dict[State, tuple[State | None, Label | None]],
            state: State) -> list[dict[str, Any]]:
    """The ``migspec run`` script that replays the path to ``state``."""
    path: list[tuple[State, Label]] = []
    current = state
    while True:
        before, label = parent[current]
        if before is None or label is None:
            break
        path.append((before, label))
        current = before
    path.reverse()
    lines = [dict(line) for line in graph.env.setup]
    for before, label in path:
        lines.extend(_script_lines(graph, graph.worlds[before[0]], label))
    return lines


def _script_lines(graph: _Graph, world: World, label: Label) -> list[dict[str, Any]]:
    kind = label[0]
    if kind == "engine":
        pre: list[dict[str, Any]] = []
        if len(label) > 5:
            pre.append({"migspec": "env", "connect": label[5]})
        return pre + [{"migspec": "step", "vm": label[1], "actor": label[2],
                       "task": label[3]}]
    if kind == "tick":
        return [{"migspec": "tick"}]
    if kind == "env":
        values = graph.env.env_events[label[1]]
        return [dict(values)] if is_feed(values) else [{"migspec": "env", **values}]
    if kind == "send":
        target = world.vms.get(label[1])
        if target is None or target.exited is not None:
            return []
        return [{"migspec": "submit", "vm": label[1], "command": json.loads(label[2])}]
    if kind == "start":
        name, incoming, paused = label[1], label[2], label[3]
        vm = world.vms.get(name)
        if vm is not None and vm.exited is None:
            if incoming is None and paused and vm.runstate == RunState.RUNNING \
                    and not vm.migrations:
                return [{"migspec": "vm", "vm": name, "runstate": "prelaunch"}]
            return []
        lines: list[dict[str, Any]] = [{"migspec": "incoming", "uri": incoming, "vm": name}]
        if paused:
            lines.append({"migspec": "vm", "vm": name, "autostart": False})
        return lines
    return []  # settle: the world is quiescent already


# -- outcomes -------------------------------------------------------------------------
def _vm_order(name: str) -> tuple[int, str]:
    return ({"source": 0, "destination": 1}.get(name, 2), name)


#: What one VM showed, for outcomes: its events, the replies to commands other
#: than queries (in order), and the last reply of each query command.
_Shown = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]


def _fold(per: dict[str, _Shown], name: str, ab: Abs) -> None:
    """Add one abstracted output of VM ``name`` to ``per`` (mutated)."""
    ev, rp, fin = per.get(name, ((), (), ()))
    if ab[0] in ("error", "return", "query-migrate"):
        command = "query-migrate" if ab[0] == "query-migrate" else str(ab[1])
        if command.startswith("query-"):
            kept = dict(fin)
            kept[command] = short(ab)
            fin = tuple(kept.items())
        else:
            rp = rp + (short(ab),)
    else:
        ev = ev + (short(ab),)
    per[name] = (ev, rp, fin)


def _format_outcome(per: dict[str, _Shown]) -> tuple[str, ...]:
    return tuple(
        f"{name}: {'>'.join(ev) or '-'} | "
        f"{', '.join(rp + tuple(last for _, last in fin)) or '-'}"
        for name, (ev, rp, fin) in sorted(per.items(), key=lambda kv: _vm_order(kv[0]))
    )


def outcome(trace: Sequence[Observation], profile: str | Profile | None = None
            ) -> tuple[str, ...]:
    """A trace's abstract outcome, one string per VM (source first): its events
    in order (MIGRATION events by status, others by name, ``exited`` where the
    process died), then its replies (``command ok``, ``command error 'desc'``)
    in order, then the last reply of each query command (``query-migrate
    STATUS``, ``query-status STATUS``): a driver's polling does not change an
    outcome. With ``profile``, without what it declares beyond the seed (as
    :func:`check_trace` reads the trace)."""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    prepared = _Trace(trace, getattr(prof, "beyond", None))
    per: dict[str, _Shown] = {}
    for o, ab in zip(prepared.obs, prepared.abs, strict=True):
        if ab is not None:
            _fold(per, o["vm"], ab)
    return _format_outcome(per)


def admitted_outcomes(
    sends: Sequence[Observation],
    env: Environment,
    profile: str | Profile = "seed",
    wait_replies: bool = True,
    max_states: int = MAX_STATES,
) -> OutcomeSet:
    """Every outcome (:func:`outcome`) the spec admits when a driver makes the
    inputs of ``sends`` (its ``send``, ``start`` and ``settle`` observations;
    others are ignored) in that order, under every schedule and environment
    choice, run to quiescence. With ``wait_replies`` (a driver that waits for
    each reply, as qemu.qmp does) an input comes only once every command sent
    before it was answered (or its process died). The result's ``complete`` is
    False when ``max_states`` was reached."""
    inputs = [_input_key(normalize(o, i)) for i, o in enumerate(sends)
              if isinstance(o, dict) and ("send" in o or "start" in o or "settle" in o)]
    with _LOCK:
        graph = _graph(profile, env)
        okey = (_profile_key(graph.profile), env.cache_key(), tuple(inputs), wait_replies,
                max_states)
        known = _OUTCOMES.get(okey)
        if known is None:
            known = _outcomes(graph, inputs, wait_replies, max_states)
            _remember(_OUTCOMES, okey, known, VERDICTS_KEPT)
    result = OutcomeSet(known)
    result.complete, result.states = known.complete, known.states
    result.unsupported = known.unsupported
    return result


def _outcomes(graph: _Graph, inputs: list[Label], wait_replies: bool, max_states: int
              ) -> OutcomeSet:
    ids: dict[tuple[tuple[str, _Shown], ...], int] = {(): 0}
    table: list[tuple[tuple[str, _Shown], ...]] = [()]
    extended: dict[tuple[int, tuple[tuple[str, Abs], ...]], int] = {}

    def extend(oid: int, out: tuple[tuple[str, Abs], ...]) -> int:
        if not out:
            return oid
        k = (oid, out)
        found = extended.get(k)
        if found is not None:
            return found
        per = dict(table[oid])
        for name, ab in out:
            _fold(per, name, ab)
        new = tuple(sorted(per.items(), key=lambda kv: _vm_order(kv[0])))
        nid = ids.get(new)
        if nid is None:
            nid = ids[new] = len(table)
            table.append(new)
        extended[k] = nid
        return nid

    result = OutcomeSet()
    start = (0, 0, 0, 0)
    seen = {start}
    queue = deque([start])
    while queue:
        if len(seen) > max_states:
            result.complete = False
            break
        wid, k, mask, oid = queue.popleft()
        edges, quiescent = graph.moves(wid)
        succ: list[tuple[int, int, int, int]] = []
        for e in edges:
            if e.child < 0:
                result.unsupported = tuple(sorted({*result.unsupported, e.out[0][1][1]}))
            else:
                succ.append((e.child, k, mask, extend(oid, e.out)))
        for j in range(len(graph.env.env_events)):
            if not mask & (1 << j) and environment_event_enabled(
                    graph.worlds[wid], graph.env.env_events[j]):
                ev = graph.env_event(wid, j)
                succ.append((ev.child, k, mask | (1 << j), oid))
        world = graph.worlds[wid]
        answered = not wait_replies or all(
            not vm.queue or vm.exited is not None for vm in world.vms.values())
        input_enabled = False
        if k < len(inputs) and answered:
            inp = inputs[k]
            if inp[0] == "settle":
                if quiescent:
                    input_enabled = True
                    succ.append((wid, k + 1, mask, oid))
            else:
                edge = graph.apply_input(wid, inp)
                if edge is not None:
                    input_enabled = True
                    succ.append((edge.child, k + 1, mask, extend(oid, edge.out)))
        if quiescent and not input_enabled:
            per = dict(table[oid])
            if k < len(inputs):
                shown, rp, fin = per.get(SOURCE, ((), (), ()))
                per[SOURCE] = (shown, rp + (f"(stuck before input {k})",), fin)
            result.add(_format_outcome(per))
        for s in succ:
            if s not in seen:
                seen.add(s)
                queue.append(s)
    result.states = len(seen)
    return result


# -- recorded logs, recording, the command line -------------------------------------------
def read_log(lines: Iterable[str], where: str = "<log>") -> list[Observation]:
    """Parse a recorded QMP log: JSON lines in the observation format, or raw
    QMP messages (``{"execute": ...}``, ``{"return": ...}``, ``{"error": ...}``,
    ``{"event": ...}``, each with an optional ``"vm"``, default source).
    Blank lines and ``#`` comments are skipped. TraceFormatError names the line."""
    out: list[Observation] = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise TraceFormatError(f"{where}:{number}: not JSON: {err.msg}") from None
        if isinstance(obj, dict) and not any(k in obj for k in _KINDS):
            vm = obj.get("vm", SOURCE)
            if "execute" in obj:
                obj = {"vm": vm, "send": {k: v for k, v in obj.items() if k != "vm"}}
            elif "return" in obj or "error" in obj:
                obj = {"vm": vm, "reply": {k: v for k, v in obj.items()
                                           if k in ("return", "error")}}
        try:
            out.append(normalize(obj, len(out)))
        except TraceFormatError as err:
            raise TraceFormatError(f"{where}:{number}: {err}") from None
    return out


def check_log(
    lines: Iterable[str],
    env: Environment | None = None,
    profile: str | Profile = "seed",
    complete: bool = False,
    where: str = "<log>",
) -> TraceVerdict:
    """Validate a recorded QMP log (:func:`read_log`) against the spec, in a
    small instant world (:data:`SMALL_SETUP`) unless ``env`` says otherwise."""
    return check_trace(read_log(lines, where), env or Environment(SMALL_SETUP), profile,
                       complete)


def record(
    script: Sequence[dict[str, Any]],
    profile: str | Profile = "seed",
    setup: Sequence[dict[str, Any]] = (),
) -> list[Observation]:
    """Run ``setup`` and then ``script`` (``migspec run`` lines) on a new
    engine and record what a driver would: each command as a ``send`` with
    what follows it, ``submit`` as a ``send``, ``incoming`` as a ``start``,
    every reply, event and exit, and a ``settle`` that reached quiescence as a
    settle mark; other directives show only what they cause."""
    engine = Engine(profile)
    text = "\n".join(json.dumps(line) for line in setup)
    for _ in run_script(engine, parse(text, "set-up"), "set-up"):
        pass
    engine.world.log.clear()
    trace: list[Observation] = []
    for number, obj in enumerate(script, 1):
        line = parse(json.dumps(obj), "script")[0]
        name = obj.get("migspec")
        if name is None:
            trace.append({"vm": SOURCE, "send": obj})
        elif name in ("qmp", "submit"):
            trace.append({"vm": obj.get("vm", SOURCE), "send": obj["command"]})
        elif name == "incoming":
            trace.append({"vm": obj.get("vm", "destination"),
                          "start": {"incoming": obj["uri"], "paused": False}})
        start = len(engine.world.log)
        try:
            printed = list(run_script(engine, [line], "script"))
        except ScriptError as err:
            raise ValueError(f"script line {number}: {err}") from None
        for vm, entry in engine.world.log[start:]:
            obs = from_log(vm, entry)
            if obs is not None:
                trace.append(obs)
        if name == "settle" and not any(p.get("migspec") == "settle" for p in printed):
            trace.append({"vm": SOURCE, "settle": True})  # it reached quiescence
    return trace


def record_random(
    inputs: Sequence[Observation],
    env: Environment,
    profile: str | Profile = "seed",
    rng: random.Random | None = None,
    send_chance: float = 0.3,
    max_steps: int = 100_000,
) -> list[Observation]:
    """What a driver would record from the reference under a random schedule:
    it makes the inputs of ``inputs`` (``send``, ``start``) in order, each once
    every earlier command was answered, at a random point; each engine move,
    connect outcome (:attr:`Environment.connect`) and environment event (each
    at most once) is chosen at random; the run goes on to quiescence. For the
    reference as a target of racy scenarios, and for benchmarks."""
    rng = rng or random.Random()
    with _LOCK:
        world = clone(_graph(profile, env).worlds[0])
    pending = [normalize(o, i) for i, o in enumerate(inputs)
               if isinstance(o, dict) and ("send" in o or "start" in o)]
    events = list(range(len(env.env_events)))
    trace: list[Observation] = []

    def flush() -> None:
        trace.extend(o for n, e in world.log if (o := from_log(n, e)) is not None)
        world.log.clear()

    for _ in range(max_steps):
        for j in list(events):
            if rng.random() < 0.05 and environment_event_enabled(world, env.env_events[j]):
                events.remove(j)
                environment_event(world, env.env_events[j])
        labels, quiescent = engine_labels(world)
        answered = all(not vm.queue for vm in world.vms.values() if vm.exited is None)
        if pending and answered and (quiescent or rng.random() < send_chance):
            obs = pending.pop(0)
            trace.append(obs)
            name = obs["vm"]
            if "start" in obs:
                if not _start(world, name, obs["start"]["incoming"], obs["start"]["paused"]):
                    raise ValueError(f"cannot start {name!r} as {obs['start']}")
                flush()
            elif name in world.vms and world.vms[name].exited is None:
                world.vms[name].queue.append(obs["send"])
            continue
        if quiescent:
            if not pending:
                return trace
            continue
        label = rng.choice(labels)
        if label[0] == "engine" and label[3] == "qmp" and env.connect:
            command = world.vms[label[1]].queue[0]
            if isinstance(command, dict) and command.get("execute") == "migrate":
                world.env.connect = rng.choice(env.connect)
        perform_engine(world, label)
        flush()
    raise ValueError(f"the run did not end in {max_steps} steps")


def _cmd_check_trace(args: argparse.Namespace) -> int:
    try:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
        setup: tuple[dict[str, Any], ...] = SMALL_SETUP
        if args.setup:
            with open(args.setup, encoding="utf-8") as handle:
                setup = tuple(line.obj for line in parse(handle.read(), args.setup))
        env = Environment(setup, tuple(args.connect.split(",")) if args.connect else ("auto",))
        verdict = check_log(text.splitlines(), env, args.profile, args.complete, args.file)
    except OSError as err:
        print(f"migspec check-trace: cannot read {err.filename}: {err.strerror}",
              file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"migspec check-trace: {err}", file=sys.stderr)
        return 2
    if args.script:
        header = f"# {verdict.message()}\n# replay: migspec run --profile {args.profile} FILE\n"
        with open(args.script, "w", encoding="utf-8") as handle:
            handle.write(header + "".join(json.dumps(line) + "\n" for line in verdict.script))
    if args.json:
        print(json.dumps(verdict.as_json(), indent=2))
    else:
        print(("ok: " if verdict.ok else "FAIL: ") + verdict.message())
    return 0 if verdict.ok else 1


def add_cli(sub: Any) -> None:
    """Register ``migspec check-trace`` on the command line's subparsers."""
    from migspec.reference.profiles import PROFILES

    p = sub.add_parser("check-trace", help="validate a recorded QMP trace against the spec")
    p.add_argument("file", help="JSON lines: observations or raw QMP messages")
    p.add_argument("--profile", default="seed", choices=sorted(PROFILES))
    p.add_argument("--setup", help="a migspec run script that builds the initial world "
                   "(default: a small instant world)")
    p.add_argument("--connect", help="comma-separated connect outcomes a migrate may take "
                   "(default: auto)")
    p.add_argument("--complete", action="store_true",
                   help="the log is a whole run: it must end quiescent")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--script", help="write the replayable migspec run script here")
    p.set_defaults(func=_cmd_check_trace)
