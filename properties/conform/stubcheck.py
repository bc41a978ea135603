"""A stand-in for :mod:`migspec.properties.tracecheck` with the same API,
used only while that module is not installed (delete once it is).

It is deliberately weak: it follows the trace along ONE schedule of the
reference engine (its default scheduler), letting that schedule run on for
as many moves as it takes before each command until the command's reply
matches (``query-migrate`` by status and key set), and requires each VM's
observed events to be a prefix of that timeline's. Admitted outcomes are
those of the same timeline with each command sent after 0, 1, 2, 4, ...
moves. Races decided against the default scheduler's choices are rejected.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from migspec.properties.conform.observe import Observation
from migspec.reference import scheduler as sched
from migspec.reference.engine import Engine
from migspec.reference.profiles import Profile
from migspec.reference.script import parse, run_line
from migspec.reference.snapshot import clone


@dataclass(frozen=True)
class Environment:
    """What the environment may do (only ``setup`` is used by the stub)."""

    setup: tuple[dict[str, Any], ...]
    connect: tuple[str, ...] = ("auto",)
    env_events: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class TraceVerdict:
    """The stub's verdict, shaped as tracecheck's."""

    ok: bool
    index: int | None
    observation: Observation | None
    expected: list[str] = field(default_factory=list)
    states: int = 1
    seconds: float = 0.0


def _abstract(vm: str, cmd: dict[str, Any], msg: dict[str, Any]) -> Any:
    if "error" in msg:
        return ("error", msg["error"].get("class"), msg["error"].get("desc"))
    value = msg.get("return")
    if cmd.get("execute") == "query-migrate" and isinstance(value, dict):
        return ("query", value.get("status"), tuple(sorted(value)))
    return ("return", value)


def _copy(engine: Engine) -> Engine:
    new = Engine(engine.world.profile)
    new.world = clone(engine.world)
    new._read = len(new.world.log)
    return new


#: Moves the stub lets the default schedule run before giving up on a reply.
MAX_MOVES = 3000


def _move(engine: Engine) -> bool:
    """One move of the default schedule (or the clock to the next wake-up)."""
    world = engine.world
    enabled = sched.moves(world)
    if enabled:
        sched.step(world, engine.scheduler.choose(world, enabled))
        return True
    when = sched.next_time(world)
    if when is None:
        return False
    world.clock_us = when
    return True


def _engine(env: Environment, profile: str | Profile) -> Engine:
    import json

    engine = Engine(profile)
    for line in parse("\n".join(json.dumps(d) for d in env.setup)):
        run_line(engine, line)
    engine.output()
    return engine


def _start(engine: Engine, vm: str, st: dict[str, Any]) -> None:
    if st.get("incoming") is not None:
        engine.incoming(st["incoming"], vm)
        if st.get("paused"):
            engine.configure_vm(vm, {"autostart": False})
    elif st.get("paused"):
        engine.configure_vm(vm, {"runstate": "prelaunch", "autostart": False})


def _events(engine: Engine) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, obj in engine.world.log:
        if "event" in obj:
            out.setdefault(name, []).append((obj["event"], obj.get("data")))
    return out


def _consistent(engine: Engine, before: dict[str, list[Any]],
                everything: dict[str, list[Any]]) -> bool:
    """The engine's events so far include those seen before this point and
    are a prefix of all those seen."""
    produced = _events(engine)
    for vm in set(produced) | set(everything):
        got = produced.get(vm, [])
        seen, whole = before.get(vm, []), everything.get(vm, [])
        if got[:len(seen)] != seen or whole[:len(got)] != got:
            return False
    return True


def check_trace(trace: Sequence[Observation], env: Environment,
                profile: str | Profile) -> TraceVerdict:
    """Follow ``trace`` along the default schedule (see the module's note)."""
    began = time.perf_counter()
    engine = _engine(env, profile)
    everything: dict[str, list[Any]] = {}
    for obs in trace:
        if "event" in obs:
            everything.setdefault(obs["vm"], []).append((obs["event"], obs.get("data")))
    before: dict[str, list[Any]] = {}
    pending: dict[str, list[tuple[dict[str, Any], dict[str, list[Any]]]]] = {}
    for i, obs in enumerate(trace):
        vm = obs["vm"]
        if "settle" in obs:
            continue
        if "start" in obs:
            _start(engine, vm, obs["start"])
        elif "send" in obs:
            pending.setdefault(vm, []).append(
                (obs["send"], {k: list(v) for k, v in before.items()}))
        elif "reply" in obs:
            cmd, seen = pending[vm].pop(0)
            want = _abstract(vm, cmd, obs["reply"])
            base = _copy(engine)
            matched = None
            answers: list[str] = []
            for _ in range(MAX_MOVES):
                if _consistent(base, {}, everything):
                    trial = _copy(base)
                    got = trial.execute(cmd, vm)
                    if len(answers) < 3 and repr(_abstract(vm, cmd, got or {})) not in answers:
                        answers.append(repr(_abstract(vm, cmd, got or {})))
                    if got is not None and _abstract(vm, cmd, got) == want \
                            and _consistent(trial, seen, everything):
                        matched = trial
                        break
                if not _move(base):
                    break
            if matched is None:
                return TraceVerdict(False, i, obs, answers or ["no consistent schedule"],
                                    seconds=time.perf_counter() - began)
            engine = matched
        elif "event" in obs:
            before.setdefault(vm, []).append((obs["event"], obs.get("data")))
    for _ in range(MAX_MOVES):
        if _events(engine) == {vm: e for vm, e in everything.items()} or not _move(engine):
            break
    if not _consistent(engine, everything, everything):
        index = max((i for i, o in enumerate(trace) if "event" in o), default=len(trace) - 1)
        return TraceVerdict(False, index, trace[index] if trace else None,
                            [repr(_events(engine))], seconds=time.perf_counter() - began)
    return TraceVerdict(True, None, None, seconds=time.perf_counter() - began)


def outcome(trace: Sequence[Observation], profile: str | Profile | None = None
            ) -> tuple[str, ...]:
    """The MIGRATION statuses each VM announced and which VMs exited."""
    out: list[str] = []
    for obs in trace:
        if obs.get("event") == "MIGRATION":
            out.append(f"{obs['vm']}:{obs['data']['status']}")
        elif "exited" in obs:
            out.append(f"{obs['vm']}:exited")
    return tuple(out)


def admitted_outcomes(sends: Sequence[Observation], env: Environment,
                      profile: str | Profile, wait_replies: bool = True
                      ) -> set[tuple[str, ...]]:
    """Outcomes of the default schedule with each command delayed by 0, 1, 2,
    4, ... moves (one command at a time)."""
    found = {_outcome_with(sends, env, profile, None, 0)}
    for j, obs in enumerate(sends):
        if "send" in obs:
            k = 1
            while k <= 512:
                found.add(_outcome_with(sends, env, profile, j, k))
                k *= 2
    return found


def _outcome_with(sends: Sequence[Observation], env: Environment, profile: str | Profile,
                  delayed: int | None, moves: int) -> tuple[str, ...]:
    engine = _engine(env, profile)
    trace: list[Observation] = []
    for j, obs in enumerate(sends):
        vm = obs["vm"]
        if j == delayed:
            for _ in range(moves):
                if not _move(engine):
                    break
        if "start" in obs:
            _start(engine, vm, obs["start"])
        elif "send" in obs and engine.vm(vm).exited is None:
            engine.execute(obs["send"], vm)
    engine.settle()
    for name, obj in engine.world.log:
        if "event" in obj:
            trace.append({"vm": name, "event": obj["event"], "data": obj.get("data")})
        elif obj.get("migspec") == "exited":
            trace.append({"vm": name, "exited": obj.get("reason")})
    return outcome(trace)
