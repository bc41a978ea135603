"""Run scenarios against a target, judge each trace, and give a verdict per
requirement ID and a finding per seed defect."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from migspec.properties.conform import checking
from migspec.properties.conform.drivers import Session, TargetSpec, Unresolved, Unsupported
from migspec.properties.conform.expect import Expectations
from migspec.properties.conform.observe import DESTINATION, SOURCE, Trace
from migspec.properties.conform.processes import Registry
from migspec.properties.conform.scenarios import NOT_JUDGED, Scenario, Script, instantiate
from migspec.reference.profiles import Profile
from migspec.spec.defects import DEFECTS
from migspec.spec.requirements import REQUIREMENT_BY_ID

PASS, FAIL, UNRESOLVED, UNSUPPORTED, UNTESTED = (
    "PASS", "FAIL", "UNRESOLVED", "UNSUPPORTED", "UNTESTED")
#: Which verdict wins when several runs judge one requirement.
_RANK = {FAIL: 4, UNRESOLVED: 3, PASS: 2, UNSUPPORTED: 1, UNTESTED: 0}
#: Seconds one run may take in all (each call has its own, shorter bound).
RUN_TIMEOUT = 60.0
#: Directives with no counterpart at the QMP level.
HIDDEN = ("step", "tick", "feed", "trace")


# -- turning a script into session calls -----------------------------------------------
#: ``env`` knobs that describe how a real transport behaves rather than set
#: anything: on a real target a line of only these is not performed but
#: handed to the validator as an environment event (it may or may not hold).
DESCRIPTIVE = frozenset({"connect", "connect_delay_ms", "connect_error"})


@dataclass(frozen=True)
class Plan:
    """A script split into the world it starts from and what is driven."""

    setup: Script
    paused: bool
    body: Script
    #: Descriptive ``env`` lines a real target does not perform.
    described: Script = ()


def _descriptive(line: dict[str, Any]) -> bool:
    keys = set(line) - {"migspec"}
    return line.get("migspec") == "env" and bool(keys) and keys <= DESCRIPTIVE


def plan(script: Script, target: TargetSpec) -> Plan:
    """Leading ``env``/``vm`` lines become the world; Unsupported names what
    ``target`` cannot express."""
    setup: list[dict[str, Any]] = []
    described: list[dict[str, Any]] = []
    paused = False
    if target.real:
        described = [line for line in script if _descriptive(line)]
        script = tuple(line for line in script if not _descriptive(line))
    i = 0
    while i < len(script) and script[i].get("migspec") in ("env", "vm"):
        line = script[i]
        if line["migspec"] == "env":
            why = target.env_supported({k: v for k, v in line.items() if k != "migspec"})
            if why:
                raise Unsupported(why)
            setup.append(line)
        else:
            if line.get("vm", SOURCE) != SOURCE:
                break
            values = {k: v for k, v in line.items() if k not in ("migspec", "vm")}
            if values.get("runstate") == "prelaunch" and values.get("autostart", False) is False:
                paused = True
                values.pop("runstate")
                values.pop("autostart", None)
            elif values.get("runstate") in ("paused", "running"):
                break  # becomes stop/cont, driven
            if values:
                if target.real:
                    raise Unsupported(f"vm {', '.join(values)} cannot be set on a real target")
                setup.append({"migspec": "vm", **values})
        i += 1
    for line in script[i:]:
        name = line.get("migspec")
        if name in HIDDEN and target.real and not (
                name == "feed" and getattr(target, "feeds", False)):
            raise Unsupported(f"the {name} directive has no QMP-level counterpart")
        if name == "env" and target.real:
            raise Unsupported("env knobs cannot change during a run on a real target")
    return Plan(tuple(setup), paused, tuple(script[i:]), tuple(described))


async def drive(session: Session, body: Script, paused: bool) -> None:
    """Perform the script's lines on ``session``."""
    await session.start(SOURCE, None, paused)
    skip = False
    for n, line in enumerate(body):
        if skip:
            skip = False
            continue
        name = line.get("migspec")
        if name is None:
            await session.execute(SOURCE, line)
        elif name == "qmp":
            await session.execute(line.get("vm", SOURCE), line["command"])
        elif name == "submit":
            await session.submit(line.get("vm", SOURCE), line["command"])
        elif name == "incoming":
            vm = line.get("vm", DESTINATION)
            nxt = body[n + 1] if n + 1 < len(body) else {}
            dest_paused = (nxt.get("migspec") == "vm" and nxt.get("vm") == vm
                           and set(nxt) == {"migspec", "vm", "autostart"}
                           and nxt["autostart"] is False)
            skip = dest_paused
            await session.start(vm, line["uri"], dest_paused)
        elif name == "vm":
            values = {k: v for k, v in line.items() if k not in ("migspec", "vm")}
            state = values.get("runstate")
            if set(values) != {"runstate"} or state not in ("paused", "running"):
                await _directive(session, line, f"vm {values} has no QMP counterpart "
                                 "during a run")
                continue
            await session.execute(line.get("vm", SOURCE),
                                  {"execute": "stop" if state == "paused" else "cont"})
        elif name == "feed" and hasattr(session, "feed"):
            await session.feed(line)  # a launched QEMU: a rewritten real stream
        elif name == "settle":
            await session.settle(int(line.get("max_ms", 3_600_000)))
        elif name == "advance":
            await session.advance(int(line["ms"]))
        elif name == "env":
            session.configure(line)
        else:
            await _directive(session, line,
                             f"the {name} directive has no QMP-level counterpart")


async def _directive(session: Session, line: dict[str, Any], why: str) -> None:
    """A directive only a session with a ``directive`` method performs (the
    reference: ``step``, ``tick``, ``feed``, ``trace``, ``vm`` knobs);
    Unsupported naming ``why`` elsewhere."""
    perform = getattr(session, "directive", None)
    if perform is None:
        raise Unsupported(why)
    perform(line)


# -- results ---------------------------------------------------------------------------
@dataclass
class Run:
    """One run of a scenario."""

    verdict: str
    script: Script
    trace: Trace
    seconds: float
    detail: str = ""
    outcome: tuple[str, ...] | None = None
    #: The world the run started from (the leading env/vm lines).
    setup: Script = ()
    #: What the trace showed beyond the seed's surface (set aside, UNSUPPORTED).
    beyond: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    """Every run of one scenario, judged."""

    scenario: Scenario
    verdict: str
    runs: list[Run]
    seconds: float
    detail: str = ""
    outcomes: Counter[tuple[str, ...]] = field(default_factory=Counter)
    admitted: set[tuple[str, ...]] | None = None
    #: False when the validator's search bound cut the admitted set short.
    admitted_complete: bool = True
    expected: str | None = None

    @property
    def beyond(self) -> list[str]:
        """Everything its runs showed beyond the seed's surface."""
        return sorted({b for r in self.runs for b in r.beyond})

    @property
    def counts(self) -> Counter[str]:
        """Runs per verdict."""
        return Counter(r.verdict for r in self.runs)

    def failing(self) -> Run | None:
        """The shortest failing run (its trace is the one to replay)."""
        bad = [r for r in self.runs if r.verdict == FAIL]
        return min(bad, key=lambda r: len(r.trace)) if bad else None


@dataclass
class DefectFinding:
    """Whether the target shows a seed defect."""

    defect: str
    status: str  # reproduced | not reproduced | not applicable
    detail: str
    scenario: str | None = None
    trace: Trace | None = None


@dataclass
class Report:
    """The whole conformance run."""

    target: str
    profile: str
    validator: str
    scenarios: list[ScenarioResult]
    requirements: dict[str, tuple[str, str]]  # id -> (verdict, why)
    expected_fails: dict[str, str]
    defects: list[DefectFinding]
    seconds: float

    @property
    def unexpected_failures(self) -> list[str]:
        """Requirement IDs and scenario names that FAIL and are not expected."""
        out = [r for r, (v, _) in self.requirements.items()
               if v == FAIL and r not in self.expected_fails]
        return out


# -- running ---------------------------------------------------------------------------
class Runner:
    """Runs scenarios against one target under one profile."""

    def __init__(self, target: TargetSpec, profile: Profile, registry: Registry,
                 jobs: int = 4, seed: int = 0, expect: Expectations | None = None) -> None:
        self.target = target
        self.profile = profile
        self.registry = registry
        self.jobs = max(1, jobs if target.concurrent else 1)
        self.seed = seed
        self.expect = expect or Expectations()
        self._verdicts: dict[str, Any] = {}

    async def run_once(self, scenario: Scenario, rep: int) -> Run:
        """Drive one run; the trace is judged later (see :meth:`judge`)."""
        began = time.perf_counter()
        try:
            p = plan(scenario.script, self.target)
        except Unsupported as why:
            return Run(UNSUPPORTED, scenario.script, [], 0.0, str(why))
        session = self.target.session(self.profile, p.setup, self.registry)
        rng = random.Random(f"{self.seed}:{scenario.name}:{rep}")
        script = scenario.script
        try:
            body = instantiate(p.body, session.placeholders(), rng)
            script = p.setup + body
            await asyncio.wait_for(drive(session, body, p.paused), RUN_TIMEOUT)
            verdict, detail = PASS, ""
        except Unsupported as why:
            verdict, detail = UNSUPPORTED, str(why)
        except Unresolved as why:
            verdict, detail = UNRESOLVED, str(why)
        except TimeoutError:
            verdict, detail = UNRESOLVED, f"the run took more than {RUN_TIMEOUT:g}s"
        finally:
            await session.close()
        values = session.placeholders()
        return Run(verdict, _canonical(script, values), _canonical(session.trace, values),
                   time.perf_counter() - began, detail, setup=p.setup)

    def environment(self, scenario: Scenario) -> Any:
        """The validator's Environment for a scenario on this target: the
        set-up world; every later ``env`` line (and, on a real target, every
        descriptive one) and every ``feed`` line as an event that may happen at
        any time; the
        scenario's connect outcomes unless some line sets the knob."""
        try:
            p = plan(scenario.script, self.target)
        except Unsupported:
            return checking.environment((), scenario.connect, scenario.env_events)
        later = [line for line in p.body if line.get("migspec") == "env"] + list(p.described)
        # a fed stream (MIG-DEST-001) comes from the environment too: the
        # validator takes the feed line itself as an event
        feeds = tuple(dict(line) for line in p.body if line.get("migspec") == "feed")
        env_events = scenario.env_events + tuple(
            {k: v for k, v in line.items() if k != "migspec"} for line in later) + feeds
        sets_connect = any("connect" in line for line in list(p.setup) + later
                           if line.get("migspec") == "env")
        return checking.environment(p.setup, () if sets_connect else scenario.connect,
                                    env_events)

    def _check(self, trace: Trace, env: Any, profile: Profile | None = None) -> Any:
        prof = profile or self.profile
        key = json.dumps([trace, repr(env), prof.name, sorted(prof.repaired)],
                         sort_keys=True, default=str)
        if key not in self._verdicts:
            self._verdicts[key] = checking.check_trace(trace, env, prof)
        return self._verdicts[key]

    def judge(self, scenario: Scenario, run: Run, env: Any) -> None:
        """Validate a driven run's trace (PASS/UNRESOLVED runs)."""
        if run.verdict not in (PASS, UNRESOLVED) or not run.trace:
            return
        verdict = self._check(run.trace, env)
        run.beyond = checking.beyond(verdict)
        unmodelled = checking.unsupported(verdict)
        if not verdict.ok and unmodelled:
            run.verdict = UNSUPPORTED
            run.detail = f"beyond the profile's model: {'; '.join(unmodelled)}"[:500]
            return
        if not verdict.ok and checking.bounded(verdict):
            run.verdict = UNRESOLVED
            run.detail = "the validator reached its search bound before deciding"
            return
        if not verdict.ok:
            where = verdict.index if verdict.index is not None else len(run.trace)
            if run.verdict == PASS or _before_exit(run.trace, where):
                run.verdict = FAIL
                run.detail = (f"observation {where} {json.dumps(verdict.observation)} is not "
                              f"admitted; the spec admits there: "
                              f"{'; '.join(map(str, verdict.expected))[:500]}")
        if run.verdict in (PASS, FAIL):
            run.outcome = checking.outcome(run.trace, self.profile)

    async def run_scenario(self, scenario: Scenario, reps: int,
                           on_run: Callable[[], None] | None = None) -> ScenarioResult:
        """Every repetition (concurrently where the target allows), then the
        judgement of each distinct trace."""
        began = time.perf_counter()
        gate = asyncio.Semaphore(self.jobs)

        async def one(rep: int) -> Run:
            async with gate:
                result = await self.run_once(scenario, rep)
            if on_run:
                on_run()
            return result

        n = reps if (scenario.racy and self.target.real) else 1
        runs = list(await asyncio.gather(*(one(i) for i in range(n))))
        env = self.environment(scenario)
        for run in runs:
            self.judge(scenario, run, env)
        result = ScenarioResult(scenario, _worst(r.verdict for r in runs), runs,
                                time.perf_counter() - began)
        if scenario.racy:
            result.outcomes = Counter(r.outcome for r in runs if r.outcome is not None)
            driven = next((r for r in runs if r.trace), None)
            if driven is not None:
                sends = [o for o in driven.trace if "send" in o or "start" in o or "settle" in o]
                pipelined = any(line.get("migspec") == "submit" for line in scenario.script)
                result.admitted, result.admitted_complete = checking.admitted_outcomes(
                    sends, env, self.profile, wait_replies=not pipelined)
                outside = [o for o in result.outcomes if o not in result.admitted]
                for run in runs:
                    if run.outcome in outside and run.verdict == PASS:
                        run.verdict = FAIL
                        run.detail = f"outcome {run.outcome} is not among the admitted ones"
                result.verdict = _worst(r.verdict for r in runs)
        first = next((r for r in runs if r.verdict == result.verdict and r.detail), None)
        result.detail = first.detail if first else ""
        result.expected = self.expect.for_scenario(scenario.name)
        failing = [r for r in runs if r.verdict == FAIL]
        if result.expected is None and failing:
            reasons = {self.expect.for_outcome(scenario.name, r.outcome) for r in failing}
            if None not in reasons:
                result.expected = "; ".join(sorted(str(x) for x in reasons))
        return result

    def defects(self, results: Sequence[ScenarioResult]) -> list[DefectFinding]:
        """For each seed defect: a trace admitted by the profile and rejected
        by the profile with that defect repaired shows it."""
        findings: list[DefectFinding] = []
        admitted: list[tuple[ScenarioResult, Run, Any]] = []
        seen: set[str] = set()
        for res in results:
            env = self.environment(res.scenario)
            for run in res.runs:
                key = json.dumps(run.trace, sort_keys=True)
                if run.verdict == PASS and key not in seen:
                    seen.add(key)
                    admitted.append((res, run, env))
        total = sum(len([r for r in res.runs if r.verdict == PASS]) for res in results)
        for d in DEFECTS:
            if d.id in self.profile.repaired:
                findings.append(DefectFinding(d.id, "not applicable",
                                              f"profile {self.profile.name} repairs it"))
                continue
            repaired = dataclasses.replace(self.profile, name=f"{self.profile.name}+{d.id}",
                                           repaired=self.profile.repaired | {d.id})
            shows = [(res, run) for res, run, env in admitted
                     if not self._check(run.trace, env, repaired).ok]
            if shows:
                res, run = min(shows, key=lambda x: len(x[1].trace))
                findings.append(DefectFinding(
                    d.id, "reproduced", f"{len(shows)} distinct traces show it",
                    res.scenario.name, run.trace))
            else:
                findings.append(DefectFinding(
                    d.id, "not reproduced", f"in {total} admitted runs"))
        return findings


#: What a run's private folder and port read as in recorded traces, so that
#: equal runs give equal traces (validation is cached per trace) and a
#: replayed script does not name a folder that is gone.
CANONICAL = {"dir": "/run/migspec", "port": "4444"}


def _canonical(value: Any, values: dict[str, str]) -> Any:
    """``value`` with the run's folder and port written as :data:`CANONICAL`."""
    if isinstance(value, str):
        for key, real in values.items():
            if key in CANONICAL and real != CANONICAL[key]:
                value = value.replace(real, CANONICAL[key])
        return value
    if isinstance(value, dict):
        return {k: _canonical(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_canonical(v, values) for v in value)
    return value


def _before_exit(trace: Trace, index: int) -> bool:
    """The rejected observation comes before any process exit."""
    exits = [i for i, o in enumerate(trace) if "exited" in o]
    return not exits or index < exits[0]


def _worst(verdicts: Any) -> str:
    return max(verdicts, key=lambda v: _RANK[v], default=UNTESTED)


def requirement_verdicts(results: Sequence[ScenarioResult]) -> dict[str, tuple[str, str]]:
    """Every requirement ID: the worst verdict of the scenarios judging it,
    and which scenario decided it."""
    out: dict[str, tuple[str, str]] = {
        rid: (UNTESTED, f"no scenario judges it: {NOT_JUDGED[rid]}" if rid in NOT_JUDGED
              else "no scenario judges it") for rid in REQUIREMENT_BY_ID}
    for res in results:
        for rid in res.scenario.requirements:
            current = out.get(rid, (UNTESTED, ""))
            if _RANK[res.verdict] > _RANK[current[0]]:
                out[rid] = (res.verdict, f"{res.scenario.name}: {res.detail}".rstrip(": "))
    return out


async def run_all(runner: Runner, scenarios: Sequence[Scenario], reps: int,
                  progress: Callable[[str, int, ScenarioResult | None], None] | None = None,
                  ) -> list[ScenarioResult]:
    """Deterministic scenarios together (one at a time when the runner has
    one job), then each racy scenario's repetitions together."""
    results: dict[str, ScenarioResult] = {}

    def tick(name: str) -> Callable[[], None]:
        return lambda: progress(name, 1, None) if progress else None

    async def single(s: Scenario) -> None:
        res = await runner.run_scenario(s, 1, tick(s.name))
        results[s.name] = res
        if progress:
            progress(s.name, 0, res)

    plain = [s for s in scenarios if not s.racy]
    if runner.jobs == 1:
        # One at a time: a shared endpoint (qmp:) or --jobs 1. Scenarios run
        # together on one endpoint would see each other's events and settings.
        for s in plain:
            await single(s)
    else:
        await asyncio.gather(*(single(s) for s in plain))
    for s in scenarios:
        if s.racy:
            res = await runner.run_scenario(s, reps, tick(s.name))
            results[s.name] = res
            if progress:
                progress(s.name, 0, res)
    return [results[s.name] for s in scenarios]


def make_report(runner: Runner, results: list[ScenarioResult], seconds: float) -> Report:
    """Verdicts per requirement, expected failures, seed defects."""
    reqs = requirement_verdicts(results)
    expected: dict[str, str] = {}
    for rid, (verdict, _) in reqs.items():
        reason = runner.expect.for_requirement(rid)
        if verdict == FAIL and reason is None:
            reason = next((res.expected for res in results
                           if rid in res.scenario.requirements and res.verdict == FAIL
                           and res.expected), None)
            if reason is not None and any(
                    rid in res.scenario.requirements and res.verdict == FAIL
                    and not res.expected for res in results):
                reason = None
        if verdict == FAIL and reason is not None:
            expected[rid] = reason
    return Report(runner.target.name, runner.profile.name, checking.VALIDATOR, results, reqs,
                  expected, runner.defects(results), seconds)
