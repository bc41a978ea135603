"""How fast the outgoing migration state machine runs, three ways.

One fixed sequence of state transitions (valid from ``none`` and back to
``none``, so it can be repeated) is driven

(a) through the ``transitions`` library machine that :func:`build_machine`
    generates from the declaration (one bound trigger method call per step);
(b) through the engine's compiled table, :data:`COMPILED` ``[profile]``
    ``[(state, trigger)]``, with the compare of ``World.cas`` (one dict lookup
    and one comparison per step);

and (c) a fixed cycle of QMP commands is sent through ``Engine.execute``.
Between some commands the cycle lets the migration thread and the cleanup
bottom half run (``Engine.settle``); that time is measured separately and
left out of the QMP rate.

Each path runs a fixed number of iterations per repeat (no wall-clock
loops); the best repeat counts. Goals: (b) at least 30 times (a), and (c) at
least 100,000 QMP commands per second on one core (the engine is
single-threaded Python).

Run: ``python benchmarks/bench_transitions.py [--json] [--iterations N]``.
This is not a test: performance goals live here, never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from migspec.reference.engine import Engine
from migspec.spec.machine import MigrationModel, build_machine
from migspec.spec.states import MigrationStatus
from migspec.spec.transitions import COMPILED

PROFILE = "seed"

#: The fixed transition sequence, one scenario after another: every trigger
#: of the ``seed`` profile and each outcome of a migration once, each scenario
#: starting and ending in ``none``.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "cancelled while active": (
        "migrate_init",
        "setup_done",
        "cancel",
        "cleanup_cancelled",
        "migrate_reset",
    ),
    "completed": ("migrate_init", "setup_done", "complete", "migrate_reset"),
    "unknown URI": ("migrate_init", "uri_unknown", "migrate_reset"),
    "synchronous connect error": ("migrate_init", "connect_error_sync", "migrate_reset"),
    "channel error while active": ("migrate_init", "setup_done", "channel_error", "migrate_reset"),
    "cancelled during setup": ("migrate_init", "cancel", "cleanup_cancelled", "migrate_reset"),
    "completion failed": ("migrate_init", "setup_done", "completion_failed", "migrate_reset"),
    "asynchronous connect error": ("migrate_init", "connect_error", "migrate_reset"),
}
SEQUENCE: tuple[str, ...] = tuple(t for steps in SCENARIOS.values() for t in steps)

#: One QMP cycle: a command object, or ``None`` for ``Engine.settle()``, and
#: what the reply must be (``"return"``, ``"error"`` or, for query-migrate,
#: the status). The URI ``exec:`` connects immediately.
_EXEC = "exec:cat > /dev/null"
QMP_CYCLE: tuple[tuple[dict[str, Any] | None, str], ...] = (
    ({"execute": "query-migrate-capabilities"}, "return"),
    ({"execute": "migrate-set-parameters", "arguments": {"compress-level": 1}}, "return"),
    ({"execute": "migrate_set_speed", "arguments": {"value": 1 << 30}}, "return"),
    ({"execute": "migrate_set_downtime", "arguments": {"value": 0.3}}, "return"),
    ({"execute": "migrate", "arguments": {"uri": _EXEC}}, "return"),
    ({"execute": "query-migrate"}, "setup"),
    ({"execute": "migrate_cancel"}, "return"),
    (None, "settle"),
    ({"execute": "query-migrate"}, "cancelled"),
    ({"execute": "migrate", "arguments": {"uri": _EXEC}}, "return"),
    (None, "settle"),
    ({"execute": "query-migrate"}, "completed"),
    ({"execute": "cont"}, "return"),
    ({"execute": "migrate", "arguments": {"uri": "gopher:x"}}, "error"),
    ({"execute": "query-migrate"}, "failed"),
    ({"execute": "query-migrate-parameters"}, "return"),
    ({"execute": "migrate-set-cache-size", "arguments": {"value": 1 << 16}}, "return"),
    ({"execute": "query-migrate-cache-size"}, "return"),
    ({"execute": "query-status"}, "return"),
)

#: Guest RAM for the QMP path: small, so a completing migration takes few
#: thread steps (settle time is not what this measures).
QMP_RAM_BYTES = 1 << 20

#: The table path is two orders of magnitude faster than the others; it runs
#: this many times as many passes so one repeat lasts long enough to time.
TABLE_PASS_FACTOR = 20

#: Clear the engine's log and trace after this many QMP cycles (outside the
#: timed region), so they stay small. Each repeat starts a fresh engine: the
#: engine also keeps every bottom half, file and notification of a finished
#: migration (about 1 KB per cycle), which only a new engine releases.
LOG_CLEAR_CYCLES = 50

GOAL_TABLE_RATIO = 30.0
GOAL_QMP_PER_S = 100_000.0


@dataclass(frozen=True)
class Result:
    """The best repeat of one path."""

    name: str
    unit: str
    passes: int
    ops: int
    seconds: float
    ops_per_s: float
    #: QMP path only: time spent in ``Engine.settle`` in the best repeat.
    settle_seconds: float = 0.0


@dataclass(frozen=True)
class Goal:
    """A performance goal and whether the measurement meets it."""

    name: str
    measured: float
    target: float
    #: ``"x"`` for a ratio, ``"/s"`` for a rate.
    unit: str
    met: bool

    def show(self, value: float) -> str:
        """``value`` in this goal's unit."""
        return f"{value:,.1f}x" if self.unit == "x" else f"{value:,.0f}/s"


# -- the sequence ----------------------------------------------------------------
def planned_steps(profile: str) -> list[tuple[MigrationStatus, str, MigrationStatus]]:
    """``(expected, trigger, dest)`` for each step of :data:`SEQUENCE` from
    ``none``; ValueError if a step is not a declared transition or the
    sequence does not return to ``none``."""
    table = COMPILED[profile]
    state = MigrationStatus.NONE
    steps: list[tuple[MigrationStatus, str, MigrationStatus]] = []
    for trigger in SEQUENCE:
        dest = table.get((state, trigger))
        if dest is None:
            raise ValueError(f"{trigger!r} is not declared from {state.value!r} in {profile!r}")
        steps.append((state, trigger, dest))
        state = dest
    if state is not MigrationStatus.NONE:
        raise ValueError(f"the sequence ends in {state.value!r}, not 'none'")
    return steps


def _best(repeats: int, run: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The repeat with the least measured time: ``(seconds, settle_seconds)``."""
    return min((run() for _ in range(repeats)), key=lambda r: r[0])


# -- (a) the transitions machine ------------------------------------------------------
def bench_machine(profile: str, passes: int, repeats: int) -> Result:
    """Each step is one call of the model's bound trigger method."""
    steps = planned_steps(profile)

    def run() -> tuple[float, float]:
        model = MigrationModel()
        build_machine(profile, model)
        calls: list[Callable[[], object]] = [getattr(model, t) for _, t, _ in steps]
        start = time.perf_counter()
        for _ in range(passes):
            for call in calls:
                call()
        elapsed = time.perf_counter() - start
        if model.state != MigrationStatus.NONE.value:
            raise AssertionError(f"machine ended in {model.state!r}")
        return elapsed, 0.0

    # One checked pass: every step lands where the declaration says.
    model = MigrationModel()
    build_machine(profile, model)
    for _expected, trigger, dest in steps:
        getattr(model, trigger)()
        if model.state != dest.value:
            raise AssertionError(f"machine: {trigger} -> {model.state}, declared {dest.value}")

    seconds, _ = _best(repeats, run)
    ops = passes * len(steps)
    return Result("(a) transitions machine", "transitions/s", passes, ops, seconds, ops / seconds)


# -- (b) the compiled table ---------------------------------------------------------------
def bench_table(profile: str, passes: int, repeats: int) -> Result:
    """Each step is ``World.cas``'s work: look up ``(expected, trigger)`` in
    the compiled table, compare the current state with ``expected``, swap."""
    table = COMPILED[profile]
    pairs = [(expected, trigger) for expected, trigger, _ in planned_steps(profile)]

    def run() -> tuple[float, float]:
        state = MigrationStatus.NONE
        start = time.perf_counter()
        for _ in range(passes):
            for expected, trigger in pairs:
                new = table[(expected, trigger)]
                if state != expected:
                    raise AssertionError(f"table: in {state.value}, expected {expected.value}")
                state = new
        elapsed = time.perf_counter() - start
        if state is not MigrationStatus.NONE:
            raise AssertionError(f"table ended in {state.value!r}")
        return elapsed, 0.0

    seconds, _ = _best(repeats, run)
    ops = passes * len(pairs)
    return Result("(b) compiled table", "transitions/s", passes, ops, seconds, ops / seconds)


# -- (c) QMP through the engine ------------------------------------------------------------
def _new_engine(profile: str) -> Engine:
    engine = Engine(profile)
    engine.set_env({"ram_bytes": QMP_RAM_BYTES})
    return engine


def _check_reply(cmd: dict[str, Any], reply: dict[str, Any] | None, want: str) -> None:
    if reply is None:
        raise AssertionError(f"{cmd['execute']}: no reply (the process exited)")
    if want == "error":
        ok = "error" in reply
    elif want == "return":
        ok = "return" in reply
    else:
        ret = reply.get("return")
        ok = isinstance(ret, dict) and ret.get("status") == want
    if not ok:
        raise AssertionError(f"{cmd['execute']}: expected {want}, got {json.dumps(reply)}")


def check_qmp_cycle(profile: str) -> None:
    """Run the cycle twice on a fresh engine, checking every reply, so the
    benchmark measures what it says it measures."""
    engine = _new_engine(profile)
    for _ in range(2):
        for cmd, want in QMP_CYCLE:
            if cmd is None:
                if not engine.settle():
                    raise AssertionError("settle did not reach quiescence")
            else:
                _check_reply(cmd, engine.execute(cmd), want)


def bench_qmp(profile: str, cycles: int, repeats: int) -> Result:
    """Commands per second through ``Engine.execute``, settle time excluded."""
    check_qmp_cycle(profile)
    per_cycle = sum(cmd is not None for cmd, _ in QMP_CYCLE)

    def run() -> tuple[float, float]:
        engine = _new_engine(profile)
        execute = engine.execute
        settle = engine.settle
        world = engine.world
        total = 0.0
        settling = 0.0
        done = 0
        while done < cycles:
            block = min(LOG_CLEAR_CYCLES, cycles - done)
            start = time.perf_counter()
            for _ in range(block):
                for cmd, _want in QMP_CYCLE:
                    if cmd is None:
                        t0 = time.perf_counter()
                        settle()
                        settling += time.perf_counter() - t0
                    else:
                        execute(cmd)
            total += time.perf_counter() - start
            done += block
            world.log.clear()
            world.trace.clear()
        return total - settling, settling

    seconds, settle_seconds = _best(repeats, run)
    ops = cycles * per_cycle
    return Result(
        "(c) QMP via Engine.execute",
        "commands/s",
        cycles,
        ops,
        seconds,
        ops / seconds,
        settle_seconds,
    )


# -- report ---------------------------------------------------------------------------------
def goals(machine: Result, table: Result, qmp: Result) -> list[Goal]:
    """The two goals, measured."""
    ratio = table.ops_per_s / machine.ops_per_s
    return [
        Goal(
            "(b)/(a) compiled table vs machine",
            ratio,
            GOAL_TABLE_RATIO,
            "x",
            ratio >= GOAL_TABLE_RATIO,
        ),
        Goal(
            "(c) QMP commands/s on one core",
            qmp.ops_per_s,
            GOAL_QMP_PER_S,
            "/s",
            qmp.ops_per_s >= GOAL_QMP_PER_S,
        ),
    ]


def report_json(results: Sequence[Result], measured: Sequence[Goal], meta: dict[str, Any]) -> str:
    """The measurements as a JSON document."""
    return json.dumps(
        {
            **meta,
            "results": [asdict(r) for r in results],
            "goals": [asdict(g) for g in measured],
        },
        indent=2,
    )


def report_table(results: Sequence[Result], measured: Sequence[Goal], meta: dict[str, Any]) -> None:
    """The measurements as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"migspec transitions benchmark (profile {meta['profile']}, "
        f"best of {meta['repeats']}, Python {meta['python']})"
    )
    table.add_column("path")
    table.add_column("operations", justify="right")
    table.add_column("best s", justify="right")
    table.add_column("ops/s", justify="right")
    table.add_column("unit")
    for r in results:
        table.add_row(r.name, f"{r.ops:,}", f"{r.seconds:.4f}", f"{r.ops_per_s:,.0f}", r.unit)
    console.print(table)
    qmp = results[-1]
    console.print(
        f"QMP path: {qmp.settle_seconds:.4f} s of Engine.settle in the best repeat, "
        f"not counted; with it {qmp.ops / (qmp.seconds + qmp.settle_seconds):,.0f} "
        "QMP commands/s."
    )
    verdicts = Table(title="goals")
    verdicts.add_column("goal")
    verdicts.add_column("measured", justify="right")
    verdicts.add_column("target", justify="right")
    verdicts.add_column("verdict")
    for g in measured:
        verdicts.add_row(
            g.name,
            g.show(g.measured),
            f">= {g.show(g.target)}",
            "[green]met[/]" if g.met else "[red]not met[/]",
        )
    console.print(verdicts)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure all three paths and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--iterations",
        type=int,
        default=2000,
        metavar="N",
        help="passes over the transition sequence for (a), over the QMP cycle for (c); "
        f"(b) makes {TABLE_PASS_FACTOR}*N passes (default 2000)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats; the best counts")
    parser.add_argument("--profile", choices=sorted(COMPILED), default=PROFILE)
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.repeats < 1:
        parser.error("--iterations and --repeats must be at least 1")

    machine = bench_machine(args.profile, args.iterations, args.repeats)
    table = bench_table(args.profile, args.iterations * TABLE_PASS_FACTOR, args.repeats)
    qmp = bench_qmp(args.profile, args.iterations, args.repeats)
    results = [machine, table, qmp]
    measured = goals(machine, table, qmp)
    meta: dict[str, Any] = {
        "profile": args.profile,
        "iterations": args.iterations,
        "repeats": args.repeats,
        "sequence_length": len(SEQUENCE),
        "qmp_commands_per_cycle": sum(cmd is not None for cmd, _ in QMP_CYCLE),
        "python": platform.python_version(),
    }
    if args.json:
        print(report_json(results, measured, meta))
    else:
        report_table(results, measured, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
