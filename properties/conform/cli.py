"""``migspec conform``: check an implementation against the spec."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from migspec.properties.conform import expect as E
from migspec.properties.conform.drivers import (
    DEFAULT_TIMEOUT,
    QmpSpec,
    kvm_usable,
    parse_target,
)
from migspec.properties.conform.processes import Registry, default_watcher, pidfd_watcher
from migspec.properties.conform.report import as_json, as_junit, print_report
from migspec.properties.conform.runner import Runner, ScenarioResult, make_report, run_all
from migspec.properties.conform.scenarios import ALL_SCENARIOS, SCENARIO_BY_NAME, Scenario
from migspec.reference.profiles import PROFILES, get_profile

#: Repetitions of each racy scenario on a real target unless --reps says.
DEFAULT_REPS = 200


def add_parser(sub: Any) -> None:
    """Add ``conform`` to the ``migspec`` subcommands."""
    p: argparse.ArgumentParser = sub.add_parser(
        "conform", help="check an implementation (reference, QMP endpoint, QEMU) against the spec")
    p.add_argument("--target", required=True,
                   help="reference[:PROFILE], qemu[:BINARY], qmp:PATH or qmp:HOST:PORT")
    p.add_argument("--profile", default=None,
                   help="the profile the target is judged against (default: the reference "
                   "target's own, else seed)")
    p.add_argument("--reps", type=int, default=None,
                   help=f"repetitions of each racy scenario (default {DEFAULT_REPS} on real "
                   "targets, 1 on the reference)")
    p.add_argument("--accel", choices=("tcg", "kvm"), default="tcg")
    p.add_argument("--scenario", action="append",
                   help="only this scenario (repeatable; see --list)")
    p.add_argument("--expect", metavar="FILE", help="expected deviations (TOML)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    p.add_argument("--jobs", type=int, default=8, help="concurrent runs (real targets)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds for one command or start on a real target")
    p.add_argument("--seabios", action="store_true",
                   help="boot QEMU's default BIOS (default: a firmware that halts at once)")
    p.add_argument("--reset-command", metavar="CMD", default=None,
                   help="qmp: targets: a QMP command the endpoint runs to start afresh "
                   "before each scenario run (x-migspec-reset for migspec serve)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random delays")
    p.add_argument("--list", action="store_true", help="list the scenarios and stop")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=main)


def _terminated(signum: int, frame: Any) -> None:
    """Ctrl-C (SIGINT) and SIGTERM end a run the same way: KeyboardInterrupt
    where the main thread is, then every process ended, every folder removed.
    SIGINT is not left to asyncio.run's handler, which only cancels the main
    task: Python 3.11's ``asyncio.wait_for`` can swallow a cancellation when
    its inner task finishes at the same moment (fixed in 3.12), which would
    explain the one CI run where SIGINT gave exit status 1 instead of 130
    (SIGTERM, handled here, never did; not reproduced locally)."""
    raise KeyboardInterrupt


def _fail(message: str) -> int:
    print(f"migspec conform: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    """Run the scenarios; 0 when every FAIL is expected, 1 otherwise, 2 on
    usage errors."""
    if args.list:
        for s in ALL_SCENARIOS:
            print(f"{s.name}\t{'racy' if s.racy else '-'}\t{' '.join(s.requirements)}")
        return 0
    if args.reps is not None and args.reps < 1:
        return _fail("--reps must be at least 1")
    if args.jobs < 1:
        return _fail("--jobs must be at least 1")
    if args.timeout <= 0:
        return _fail("--timeout must be positive")
    if args.accel == "kvm":
        why = kvm_usable()
        if why:
            return _fail(f"--accel kvm: KVM is not usable here ({why}); use --accel tcg")
    try:
        target = parse_target(args.target, args.accel, args.timeout, args.seabios)
    except ValueError as err:
        return _fail(str(err))
    if args.reset_command is not None:
        if not isinstance(target, QmpSpec):
            return _fail("--reset-command is for qmp: targets only")
        target.reset = args.reset_command
    name = args.profile or (getattr(target, "profile_name", None) or "seed")
    if name not in PROFILES:
        return _fail(f"unknown profile {name!r} (known: {', '.join(sorted(PROFILES))})")
    profile = get_profile(name)
    chosen: list[Scenario] = list(ALL_SCENARIOS)
    if args.scenario:
        unknown = [s for s in args.scenario if s not in SCENARIO_BY_NAME]
        if unknown:
            return _fail(f"unknown scenario {unknown[0]!r} (see --list)")
        chosen = [SCENARIO_BY_NAME[s] for s in args.scenario]
    try:
        expectations = E.load(args.expect, set(SCENARIO_BY_NAME)) if args.expect else None
    except E.ExpectError as err:
        return _fail(str(err))
    reps = args.reps if args.reps is not None else (DEFAULT_REPS if target.real else 1)
    registry = Registry()
    runner = Runner(target, profile, registry, args.jobs, args.seed, expectations)
    stderr = Console(stderr=True)
    began = time.perf_counter()
    previous = {sig: signal.signal(sig, _terminated) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        results = asyncio.run(_run(runner, chosen, reps, stderr, args.quiet))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        default_watcher()
        registry.end_all_now()
    report = make_report(runner, results, time.perf_counter() - began)
    print_report(report, Console(stderr=True) if args.json == "-" else Console())
    try:
        if args.json:
            text = json.dumps(as_json(report), indent=2)
            if args.json == "-":
                print(text)
            else:
                with open(args.json, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
        if args.junit:
            as_junit(report).write(args.junit, encoding="utf-8", xml_declaration=True)
    except OSError as error:
        return _fail(f"cannot write the report: {error.strerror}")
    return 1 if report.unexpected_failures else 0


async def _run(runner: Runner, chosen: list[Scenario], reps: int, console: Console,
               quiet: bool) -> list[ScenarioResult]:
    pidfd_watcher()
    real = runner.target.real
    with contextlib.ExitStack() as stack:
        progress = None
        if not quiet:
            progress = stack.enter_context(Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console, transient=False))
        tasks = {}
        if progress is not None:
            for s in chosen:
                total = reps if (s.racy and real) else 1
                tasks[s.name] = progress.add_task(s.name, total=total)

        def report(name: str, advance: int, result: ScenarioResult | None) -> None:
            if progress is None:
                return
            if result is None:
                progress.advance(tasks[name], advance)
            else:
                progress.update(tasks[name], description=f"{name} [{result.verdict}] "
                                f"{result.seconds:.2f}s")

        return await run_all(runner, chosen, reps, report)
