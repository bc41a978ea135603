"""``migspec prove``: CrossHair over the contracts of the pure decision functions.

Every ``post:`` condition in :mod:`migspec.reference.decisions` is one
contract. CrossHair (PEP316 docstring contracts) checks each one symbolically
and the result is one of

- **confirmed**: CrossHair explored every path of the function under the
  preconditions and the condition held on all of them ("Confirmed over all
  paths");
- **refuted**: CrossHair found inputs that break it (the counterexample is
  reported), or the function or the condition raised;
- **unknown**: the budget ran out first, or CrossHair reported nothing.

Budgets are fixed (:data:`CI_BUDGET`): an iteration cap per condition, and a
CPU-time cap per condition and per path as a safety net. Every contract of the
module is meant to be confirmed well inside them, which is what makes the run
deterministic: exhausting the paths ends the analysis, not the clock.

CrossHair instruments the interpreter and walls off side effects, so each
analysis runs in a worker subprocess (``python -m migspec.properties.prove
--worker ...``); the workers split the functions between them.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from migspec.properties.selfcheck import CheckResult

#: The module whose contracts ``migspec prove`` checks.
MODULE = "migspec.reference.decisions"

CONFIRMED = "confirmed"
REFUTED = "refuted"
UNKNOWN = "unknown"

_REQ_ID = re.compile(r"\bMIG-[A-Z]+-\d{3}\b")
_DEF_ID = re.compile(r"\bDEF-[A-Z0-9]+(?:-[A-Z0-9]+)*\b")


@dataclass(frozen=True)
class Budget:
    """CrossHair's limits for one condition."""

    #: Paths explored per condition at most (deterministic).
    max_iterations: int
    #: CPU seconds per condition at most (a safety net; never reached in CI).
    per_condition_timeout: float
    #: CPU seconds per path at most.
    per_path_timeout: float


#: The budget CI uses: far above what any contract needs to be exhausted.
CI_BUDGET = Budget(max_iterations=2000, per_condition_timeout=120.0, per_path_timeout=20.0)


@dataclass(frozen=True)
class Contract:
    """One ``post:`` condition of a decision function."""

    function: str
    line: int
    condition: str
    requirements: tuple[str, ...]
    defects: tuple[str, ...]

    @property
    def key(self) -> str:
        """``function:line``, stable while the file does not change."""
        return f"{self.function}:{self.line}"


@dataclass
class ContractResult:
    """What CrossHair said about one contract."""

    contract: Contract
    status: str
    message: str
    #: The failing call CrossHair found ("when calling f(...)"), if any.
    counterexample: str = ""
    seconds: float = 0.0


@dataclass
class ProveReport:
    """All contracts of the module and their results."""

    module: str
    budget: Budget
    results: list[ContractResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every contract is confirmed over all paths."""
        return bool(self.results) and all(r.status == CONFIRMED for r in self.results)

    def counts(self) -> dict[str, int]:
        """Contracts per status."""
        out = {CONFIRMED: 0, REFUTED: 0, UNKNOWN: 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "module": self.module,
            "ok": self.ok,
            "budget": asdict(self.budget),
            "counts": self.counts(),
            "seconds": round(self.seconds, 2),
            "contracts": [
                {
                    "function": r.contract.function,
                    "line": r.contract.line,
                    "condition": r.contract.condition,
                    "requirements": list(r.contract.requirements),
                    "defects": list(r.contract.defects),
                    "status": r.status,
                    "message": r.message,
                    "counterexample": r.counterexample,
                    "seconds": round(r.seconds, 2),
                }
                for r in self.results
            ],
        }


# -- finding the contracts ---------------------------------------------------------
def module_path(module: str = MODULE) -> Path:
    """The source file of ``module``."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"cannot find module {module}")
    return Path(spec.origin).resolve()


def find_contracts(module: str = MODULE) -> list[Contract]:
    """Every ``post:`` line of every top-level function's docstring, with its
    absolute line number (the line CrossHair reports)."""
    path = module_path(module)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    contracts: list[Contract] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.body:
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        doc = first.value.value
        reqs = tuple(dict.fromkeys(_REQ_ID.findall(doc)))
        defects = tuple(dict.fromkeys(_DEF_ID.findall(doc)))
        for offset, text in enumerate(doc.split("\n")):
            stripped = text.strip()
            if stripped.startswith("post:"):
                contracts.append(
                    Contract(node.name, first.lineno + offset,
                             stripped[len("post:"):].strip(), reqs, defects)
                )
    return contracts


# -- the worker ------------------------------------------------------------------------
def _worker(module: str, functions: list[str], budget: Budget) -> int:
    """Analyse ``functions`` of ``module``; one JSON line per CrossHair message."""
    main = importlib.import_module("crosshair.main")
    core: Any = importlib.import_module("crosshair.core_and_libs")
    options_mod: Any = importlib.import_module("crosshair.options")
    pure: Any = importlib.import_module("crosshair.pure_importer")
    options = options_mod.AnalysisOptionSet(
        analysis_kind=[options_mod.AnalysisKind.PEP316],
        max_iterations=budget.max_iterations,
        per_condition_timeout=budget.per_condition_timeout,
        per_path_timeout=budget.per_path_timeout,
        max_uninteresting_iterations=0,  # no early stop: exhaust or hit the budget
        report_all=True,
        report_verbose=False,
    )
    with pure.prefer_pure_python_imports():
        mod = importlib.import_module(module)
    main.engage_auditwall(())
    for name in functions:
        started = time.process_time()
        fn = getattr(mod, name)
        messages = core.run_checkables(core.analyze_function(fn, options))
        spent = time.process_time() - started
        for msg in messages:
            line = {
                "function": name,
                "line": msg.line,
                "state": msg.state.name,
                "message": msg.message,
                "seconds": spent / max(len(messages), 1),
            }
            sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.write(json.dumps({"function": name, "done": True, "seconds": spent}) + "\n")
        sys.stdout.flush()
    return 0


def _split(functions: list[str], jobs: int) -> list[list[str]]:
    """Deal functions to ``jobs`` workers round-robin (source order mixes cheap
    and dear ones)."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(jobs, len(functions))))]
    for i, name in enumerate(functions):
        groups[i % len(groups)].append(name)
    return groups


_CONFIRMED_STATES = {"CONFIRMED"}
_UNKNOWN_STATES = {"CANNOT_CONFIRM", "PRE_UNSAT"}


def _classify(state: str) -> str:
    if state in _CONFIRMED_STATES:
        return CONFIRMED
    if state in _UNKNOWN_STATES:
        return UNKNOWN
    return REFUTED


def _counterexample(message: str) -> str:
    at = message.find("when calling ")
    return message[at + len("when calling "):] if at >= 0 else ""


def prove(
    module: str = MODULE,
    budget: Budget = CI_BUDGET,
    functions: Sequence[str] | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ProveReport:
    """Run CrossHair over the contracts of ``module`` (or of ``functions``
    only); ``progress(done, total)`` after each function a worker finishes."""
    contracts = find_contracts(module)
    if functions is not None:
        wanted = set(functions)
        unknown = wanted - {c.function for c in contracts}
        if unknown:
            raise ValueError(f"no contracts in {', '.join(sorted(unknown))}")
        contracts = [c for c in contracts if c.function in wanted]
    names = list(dict.fromkeys(c.function for c in contracts))
    report = ProveReport(module, budget)
    started = time.monotonic()
    n_jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    procs: list[tuple[subprocess.Popen[str], IO[str]]] = []
    for group in _split(names, n_jobs):
        cmd = [
            sys.executable, "-m", "migspec.properties.prove", "--worker", ",".join(group),
            "--module", module,
            "--max-iterations", str(budget.max_iterations),
            "--per-condition-timeout", str(budget.per_condition_timeout),
            "--per-path-timeout", str(budget.per_path_timeout),
        ]
        errors: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed below)
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True),
                      errors))
    lines: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def read(proc: subprocess.Popen[str]) -> None:
        """Collect one worker's JSON lines as they come; report each function done."""
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                item = json.loads(raw)
            except json.JSONDecodeError:
                continue
            with lock:
                lines.append(item)
                finished = sum(1 for i in lines if i.get("done"))
            if progress is not None and item.get("done"):
                progress(finished, len(names))

    readers = [threading.Thread(target=read, args=(proc,), daemon=True) for proc, _ in procs]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    for proc, errors in procs:
        proc.wait()
        errors.seek(0)
        err = errors.read()
        errors.close()
        if proc.returncode != 0:
            failures.append(err.strip().splitlines()[-1] if err.strip() else
                            f"worker exit status {proc.returncode}")
    report.seconds = time.monotonic() - started
    by_line: dict[tuple[str, int], dict[str, Any]] = {}
    by_function: dict[str, list[dict[str, Any]]] = {}
    spent: dict[str, float] = {}
    for item in lines:
        if item.get("done"):
            spent[item["function"]] = float(item["seconds"])
            continue
        by_line[(item["function"], int(item["line"]))] = item
        by_function.setdefault(item["function"], []).append(item)
    per_function = {name: sum(1 for c in contracts if c.function == name) for name in names}
    for contract in contracts:
        found = by_line.get((contract.function, contract.line))
        seconds = spent.get(contract.function, 0.0) / max(per_function[contract.function], 1)
        if found is not None:
            status = _classify(found["state"])
            message = str(found["message"])
        else:
            # A message on another line of the function (an exception in the
            # body, an unsatisfiable precondition) speaks for every condition.
            others = [
                m for m in by_function.get(contract.function, [])
                if (contract.function, int(m["line"])) not in
                {(c.function, c.line) for c in contracts}
            ]
            worst = [m for m in others if _classify(m["state"]) == REFUTED]
            if worst:
                status, message = REFUTED, str(worst[0]["message"])
            elif others:
                status, message = UNKNOWN, str(others[0]["message"])
            elif contract.function not in spent:
                status = UNKNOWN
                message = "no result: " + ("; ".join(failures) or "the worker did not finish")
            else:
                status, message = UNKNOWN, "CrossHair reported nothing for this condition"
        report.results.append(ContractResult(
            contract, status, message,
            _counterexample(message) if status == REFUTED else "", seconds,
        ))
    return report


# -- reporting ------------------------------------------------------------------------
def check(
    report: ProveReport | None = None, progress: Callable[[int, int], None] | None = None
) -> CheckResult:
    """The ``migspec verify`` check: every contract confirmed under the CI
    budget (``report``: one already run)."""
    if report is None:
        report = prove(progress=progress)
    counts = report.counts()
    bad = [r for r in report.results if r.status != CONFIRMED]
    detail = (
        f"{counts[CONFIRMED]}/{len(report.results)} contracts confirmed over all paths "
        f"({report.seconds:.0f} s)"
    )
    if bad:
        detail += "; not confirmed: " + ", ".join(
            f"{r.contract.key} {r.status}" for r in bad[:8]
        ) + (" ..." if len(bad) > 8 else "")
    reqs = sorted({req for r in report.results for req in r.contract.requirements})
    return CheckResult("CrossHair contracts of the decision functions", report.ok, detail, reqs)


def _print_table(report: ProveReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"migspec prove: {report.module}")
    table.add_column("function")
    table.add_column("line", justify="right")
    table.add_column("contract")
    table.add_column("result")
    colour = {CONFIRMED: "green", REFUTED: "red", UNKNOWN: "yellow"}
    for r in report.results:
        result = f"[{colour[r.status]}]{r.status}[/]"
        if r.status == REFUTED and r.counterexample:
            result += f"\n{r.counterexample}"
        elif r.status != CONFIRMED:
            result += f"\n{r.message}"
        table.add_row(r.contract.function, str(r.contract.line), r.contract.condition, result)
    console = Console()
    console.print(table)
    counts = report.counts()
    b = report.budget
    console.print(
        f"{counts[CONFIRMED]} confirmed over all paths, {counts[REFUTED]} refuted, "
        f"{counts[UNKNOWN]} unknown, of {len(report.results)} contracts in "
        f"{report.seconds:.1f} s (budget: {b.max_iterations} iterations, "
        f"{b.per_condition_timeout:g} s per condition, {b.per_path_timeout:g} s per path)"
    )


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Options of ``migspec prove``."""
    parser = argparse.ArgumentParser(
        prog="migspec prove",
        description="Check every contract of the decision functions with CrossHair.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--function", action="append", metavar="NAME",
                        help="only this function's contracts (repeatable)")
    parser.add_argument("--jobs", type=positive_int, default=None,
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--max-iterations", type=positive_int,
                        default=CI_BUDGET.max_iterations)
    parser.add_argument("--per-condition-timeout", type=positive_float,
                        default=CI_BUDGET.per_condition_timeout)
    parser.add_argument("--per-path-timeout", type=positive_float,
                        default=CI_BUDGET.per_path_timeout)
    parser.add_argument("--module", default=MODULE, help=argparse.SUPPRESS)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``migspec prove [--json]``: exit status 0 only if every contract is confirmed."""
    args = build_parser().parse_args(argv)
    budget = Budget(args.max_iterations, args.per_condition_timeout, args.per_path_timeout)
    if args.worker is not None:
        return _worker(args.module, [f for f in args.worker.split(",") if f], budget)
    try:
        report = prove(args.module, budget, args.function, args.jobs)
    except ValueError as err:
        print(f"migspec prove: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_table(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
