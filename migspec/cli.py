"""The ``migspec`` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from migspec.properties.prove import positive_int
from migspec.reference import wire
from migspec.reference.engine import Engine
from migspec.reference.profiles import PROFILES
from migspec.reference.script import ScriptError, read_script, run_script


def run_stream(
    stream: IO[bytes], where: str, profile: str, write: Callable[[str], object]
) -> int:
    """`migspec run` on an open byte stream: each output line (always JSON)
    goes to ``write`` as soon as its script line has run; the exit status.
    A bad line is reported on standard error as ``FILE:LINE: message``."""
    engine = Engine(profile)
    try:
        for out in run_script(engine, read_script(stream, where), where):
            write(wire.dumps(out))
    except ScriptError as err:
        print(f"migspec run: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"migspec run: cannot read {where}: {err.strerror}", file=sys.stderr)
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Replay a script against the reference and print what a client sees.

    The script is read as bytes one line at a time (reference/script.py), and
    each line's output is printed before the next line is read.
    """
    if args.script == "-":
        if sys.stdin is None:  # started with standard input closed (<&-)
            print("migspec run: standard input is closed", file=sys.stderr)
            return 2
        return run_stream(sys.stdin.buffer, "<stdin>", args.profile, _print_line)
    try:
        stream = open(args.script, "rb")  # noqa: SIM115 (a with block below)
    except OSError as err:
        print(f"migspec run: cannot read {args.script}: {err.strerror}", file=sys.stderr)
        return 2
    with stream:
        return run_stream(stream, args.script, args.profile, _print_line)


def _print_line(line: str) -> None:
    print(line, flush=True)


def cmd_verify(args: argparse.Namespace) -> int:
    """Run every check there is; exit 1 if any fails."""
    from migspec.properties.selfcheck import run_all

    if args.json or not sys.stderr.isatty():
        results = run_all()
    else:
        with _VerifyProgress() as shown:
            results = run_all(shown)
    ok = all(r.ok for r in results)
    if args.json:
        doc: dict[str, Any] = {
            "ok": ok,
            "checks": [
                {"name": r.name, "ok": r.ok, "detail": r.detail, "requirements": r.requirements}
                for r in results
            ],
        }
        print(json.dumps(doc, indent=2, allow_nan=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="migspec verify")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail")
        for r in results:
            table.add_row(r.name, "[green]PASS[/]" if r.ok else "[red]FAIL[/]", r.detail)
        console = Console()
        console.print(table)
        passed = sum(r.ok for r in results)
        console.print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if ok else 1


def output_folder(path: Path, command: str) -> str | None:
    """Make ``path`` a folder ``migspec COMMAND`` can write files in (creating
    it if need be); None if it is, else the one-line error to print."""
    if path.exists() and not path.is_dir():
        return f"migspec {command}: {path} is not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        return f"migspec {command}: cannot write in {path}: {err.strerror or err}"
    return None


def project_docs() -> Path:
    """``docs/reference`` of the checkout the package runs from (the folder
    that holds ``migspec/`` and ``pyproject.toml``), wherever the current
    folder is."""
    return Path(__file__).resolve().parent.parent / "docs" / "reference"


class _VerifyProgress:
    """`migspec verify` on a terminal: one line per check on standard error,
    with a bar where the check counts its work (selfcheck.Progress)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bars = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True),
        )
        self.task: Any = None

    def __enter__(self) -> _VerifyProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self.bars.stop()

    def _finish(self) -> None:
        if self.task is not None:
            task = self.bars.tasks[-1]
            total = task.total if task.total is not None else 1
            self.bars.update(self.task, total=total, completed=total)

    def start(self, index: int, total: int, title: str) -> None:
        self._finish()
        self.task = self.bars.add_task(f"[{index}/{total}] {title}", total=None)

    def advance(self, done: int, total: int) -> None:
        self.bars.update(self.task, completed=done, total=total)


def cmd_docs(args: argparse.Namespace) -> int:
    """Write (or with --check, compare) the generated reference documents."""
    from migspec.docsite.diagrams import GraphvizMissing

    try:
        return _docs(args)
    except GraphvizMissing as err:
        print(f"migspec docs: {err}", file=sys.stderr)
        return 2


def _docs(args: argparse.Namespace) -> int:
    from migspec import docgen

    if args.out is not None:
        out = Path(args.out)
    else:
        out = project_docs()
        if not (out.parent.parent / "pyproject.toml").is_file():
            print(f"migspec docs: {out.parent.parent} is not a migspec checkout (the package "
                  "is installed without its docs); give --out DIR", file=sys.stderr)
            return 2
    if args.check:
        if not out.is_dir():
            print(f"migspec docs: {out} is not a folder (nothing to check)", file=sys.stderr)
            return 2
        stale = docgen.stale(out)
        for name in stale:
            print(f"migspec docs: {out / name} is out of date (run: migspec docs)",
                  file=sys.stderr)
        print(f"migspec docs: {docgen.summary()}")
        return 1 if stale else 0
    problem = output_folder(out, "docs")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    for path in docgen.write(out):
        print(path)
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    """Explore every interleaving of the scenarios; exit 1 on a problem."""
    import time

    from rich.console import Console
    from rich.table import Table

    from migspec.properties.exploration import emit_scripts, explore
    from migspec.properties.explorer import Progress, Result
    from migspec.properties.scenarios import BOUNDED, SCENARIO_BY_NAME, SCENARIOS

    if args.scenario is not None and args.scenario not in SCENARIO_BY_NAME \
            and args.scenario not in BOUNDED:
        known = ", ".join([*SCENARIO_BY_NAME, *BOUNDED])
        print(f"migspec explore: unknown scenario {wire.text_of(args.scenario)} "
              f"(known: {known})", file=sys.stderr)
        return 2
    if args.bound is not None and args.scenario not in BOUNDED:
        named = ("no --scenario was given" if args.scenario is None
                 else f"{wire.text_of(args.scenario)} has no bound")
        print(f"migspec explore: --bound sizes a bounded scenario ({', '.join(BOUNDED)}); "
              f"{named}", file=sys.stderr)
        return 2
    if args.emit_scripts is not None:
        problem = output_folder(Path(args.emit_scripts), "explore --emit-scripts")
        if problem:  # refused before exploring, not after
            print(problem, file=sys.stderr)
            return 2
    if args.scenario in BOUNDED:
        scenarios = [BOUNDED[args.scenario](2 if args.bound is None else args.bound)]
    elif args.scenario is not None:
        scenarios = [SCENARIO_BY_NAME[args.scenario]]
    else:
        scenarios = list(SCENARIOS)
    if args.max_states is not None:
        scenarios = [dataclasses.replace(s, max_states=args.max_states) for s in scenarios]
    profiles = [args.profile] if args.profile else sorted(PROFILES, reverse=True)
    err = Console(stderr=True, soft_wrap=True)

    def progress(result: Result) -> None:
        if not args.quiet:
            err.print(f"[dim]explored {result.profile}/{result.scenario}: {result.states:,} "
                      f"states, {result.places:,} places, {result.worlds:,} worlds in "
                      f"{result.seconds:.2f}s, peak {result.peak_mib:,.0f} MiB[/]")

    def searching(profile: str, scenario: str) -> Progress:
        last = [time.monotonic()]

        def report(states: int, places: int, worlds: int, seconds: float) -> None:
            now = time.monotonic()
            if args.quiet or now - last[0] < 5:
                return
            last[0] = now
            err.print(f"[dim]exploring {profile}/{scenario}: {states:,} states, "
                      f"{places:,} places, {worlds:,} worlds after {seconds:.0f}s "
                      f"({states / seconds:,.0f} states/s)[/]")

        return report

    summary = explore(scenarios, profiles, sequences=args.sequences, progress=progress,
                      searching=searching)
    if args.emit_scripts is not None:
        try:
            for path in emit_scripts(summary, Path(args.emit_scripts)):
                err.print(f"wrote {path}")
        except OSError as error:
            print(f"migspec explore --emit-scripts: cannot write in {args.emit_scripts}: "
                  f"{error.strerror or error}", file=sys.stderr)
            return 2
    if args.json:
        doc = summary.as_json()
        if args.sequences:
            for run, result in zip(doc["runs"], summary.runs, strict=True):
                run["sequences"] = result.sequences
        print(json.dumps(doc, indent=2, allow_nan=False))
        return 0 if summary.ok else 1
    console = Console()
    table = Table(title="migspec explore")
    for col in ("profile", "scenario", "states", "places", "worlds", "seconds", "fired",
                "violations"):
        table.add_column(col)
    for r in summary.runs:
        found = "\n".join(f"{v.property} ({v.kind}, {len(v.trace)} steps) -> {v.defect}"
                           for v in r.violations) or "-"
        table.add_row(r.profile, r.scenario, str(r.states), str(r.places), str(r.worlds),
                      f"{r.seconds:.2f}",
                      f"{len(r.transitions_fired)}/{len(r.transitions_declared)}", found)
    console.print(table)
    if args.sequences:
        for r in summary.runs:
            for vm, seqs in r.sequences.items():
                console.print(f"[bold]{r.profile}/{r.scenario} {vm}[/]: {len(seqs)} sequences")
                for seq in seqs:
                    console.print("  " + (", ".join(seq) or "(no MIGRATION event)"))
    for problem in summary.problems:
        console.print(f"[red]problem:[/] {problem}")
    console.print(f"{sum(r.states for r in summary.runs)} states in "
                  f"{sum(r.seconds for r in summary.runs):.2f}s; "
                  + ("no problems" if summary.ok else f"{len(summary.problems)} problems"))
    return 0 if summary.ok else 1


def cmd_mutants(args: argparse.Namespace) -> int:
    """Plant each catalogued fault and report which suites catch it."""
    from rich.console import Console
    from rich.table import Table

    from migspec.properties import mutants as M

    chosen = M.MUTANTS
    if args.mutant:
        unknown = [m for m in args.mutant if m not in M.MUTANT_BY_ID]
        if unknown:
            print(f"migspec mutants: unknown mutant {unknown[0]!r} (see --list)", file=sys.stderr)
            return 2
        chosen = tuple(M.MUTANT_BY_ID[m] for m in args.mutant)
    if args.list:
        for m in chosen:
            print(f"{m.id}\t{m.requirement}\t{m.fault}")
        return 0
    try:
        detectors = M.default_detectors()
    except ValueError as bad:  # MIGSPEC_MUTANTS_PROFILE names no profile
        print(f"migspec mutants: {bad}", file=sys.stderr)
        return 2
    if args.suite:
        missing = [s for s in args.suite if s not in detectors]
        if missing:
            print(f"migspec mutants: unknown suite {missing[0]!r} (have: "
                  f"{', '.join(detectors)})", file=sys.stderr)
            return 2
        detectors = {k: v for k, v in detectors.items() if k in args.suite}
    err = Console(stderr=True)

    def progress(result: M.MutantResult) -> None:
        if not args.quiet:
            verdict = ", ".join(result.caught_by) or "NOT caught"
            verdict += "".join(f"; ERROR in {s}: {e}" for s, e in result.errors.items())
            err.print(f"[dim]{result.mutant.id}: {verdict}[/]")

    results = M.run(chosen, detectors, progress)
    caught = sum(r.caught for r in results)
    errors = sum(bool(r.errors) for r in results)
    if args.json:
        print(json.dumps({
            "mutants": len(results),
            "caught": caught,
            "errors": errors,
            "suites": list(detectors),
            "results": [
                {"id": r.mutant.id, "fault": r.mutant.fault, "requirement": r.mutant.requirement,
                 "caught": r.caught, "caught_by": r.caught_by, "errors": r.errors}
                for r in results
            ],
        }, indent=2))
    else:
        table = Table(title="migspec mutants")
        table.add_column("mutant")
        table.add_column("requirement")
        for suite in detectors:
            table.add_column(suite)
        for r in results:
            table.add_row(r.mutant.id, r.mutant.requirement,
                          *("caught" if s in r.caught_by else "ERROR" if s in r.errors else "-"
                            for s in detectors))
        console = Console()
        console.print(table)
        console.print(f"{caught} of {len(results)} mutants caught"
                      + (f"; a suite failed to run on {errors}" if errors else ""))
    return 0 if caught == len(results) and not errors else 1


def cmd_prove(args: argparse.Namespace) -> int:
    """CrossHair over the decision functions' contracts (see properties/prove.py)."""
    from migspec.properties import prove

    return prove.main(list(args.args))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="migspec",
        description="Executable specification of QEMU live-migration control "
        "(migration.c at 6775e2c4).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="replay a JSON-lines script against the reference")
    run.add_argument("script", help="script file, or - for standard input")
    run.add_argument("--profile", choices=sorted(PROFILES), default="seed")
    run.set_defaults(func=cmd_run)
    verify = sub.add_parser("verify", help="run every check on the reference")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(func=cmd_verify)
    explore = sub.add_parser("explore", help="explore every interleaving of the scenarios")
    explore.add_argument("--profile", choices=sorted(PROFILES), help="default: every profile")
    explore.add_argument("--scenario", help="default: every scenario but the bounded ones")
    explore.add_argument("--bound", type=positive_int, metavar="K",
                         help="size of a bounded scenario (full-surface: default 2)")
    explore.add_argument("--max-states", type=positive_int, metavar="N",
                         help="stop each run after N states (the run is then incomplete)")
    explore.add_argument("--json", action="store_true", help="machine-readable output")
    explore.add_argument("--sequences", action="store_true",
                         help="list every distinct MIGRATION event sequence per VM")
    explore.add_argument("--emit-scripts", metavar="DIR",
                         help="write each counterexample as a migspec run script")
    explore.add_argument("--quiet", action="store_true", help="no progress lines")
    explore.set_defaults(func=cmd_explore)
    prove = sub.add_parser(
        "prove", add_help=False,
        help="check every contract of the decision functions with CrossHair "
        "(migspec prove --help for options)",
    )
    prove.add_argument("args", nargs=argparse.REMAINDER)
    prove.set_defaults(func=cmd_prove)
    mutants = sub.add_parser("mutants", help="plant catalogued faults; which suites catch them")
    mutants.add_argument("--json", action="store_true", help="machine-readable output")
    mutants.add_argument("--mutant", action="append", help="only this mutant (repeatable)")
    mutants.add_argument("--suite", action="append",
                         help="only this suite: explorer, hypothesis, contracts (repeatable)")
    mutants.add_argument("--list", action="store_true", help="list the catalogue and stop")
    mutants.add_argument("--quiet", action="store_true", help="no progress lines")
    mutants.set_defaults(func=cmd_mutants)
    docs = sub.add_parser("docs", help="generate docs/reference from the declarations")
    docs.add_argument("--out", default=None,
                      help="output folder (default: docs/reference of the migspec checkout "
                      "the package runs from, whatever the current folder)")
    docs.add_argument("--check", action="store_true", help="fail if the files are stale")
    docs.set_defaults(func=cmd_docs)
    from migspec.serve.cli import add_parser as add_serve

    add_serve(sub)
    from migspec.properties.tracecheck import add_cli as add_check_trace

    add_check_trace(sub)
    from migspec.properties.conform import cli as conform_cli

    conform_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``migspec`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["prove"]:  # its own parser: every option goes through
        from migspec.properties import prove

        return prove.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code
