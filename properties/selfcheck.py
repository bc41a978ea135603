"""The engine's self-checks, run by ``migspec verify``.

Each check returns a :class:`CheckResult` naming the requirement IDs it
covers. Later parts of ``verify`` (explorer, contracts) add their own results.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from migspec.reference.profiles import PROFILES
from migspec.reference.script import replay
from migspec.spec.defects import DEFECTS
from migspec.spec.machine import MigrationModel, build_machine
from migspec.spec.requirements import REQUIREMENT_BY_ID
from migspec.spec.states import MigrationStatus
from migspec.spec.transitions import TRIGGERS, compile_table

SEED_LINES = 1042

#: How far one check is: ``advance(done, total)``.
Advance = Callable[[int, int], None]


@dataclass
class CheckResult:
    """The outcome of one self-check."""

    name: str
    ok: bool
    detail: str
    requirements: list[str] = field(default_factory=list)


def machine_agrees(advance: Advance | None = None) -> CheckResult:
    """The compiled table and the ``transitions`` machine agree on every
    (state, trigger) of every profile (quick: no progress to report)."""
    mismatches: list[str] = []
    pairs = 0
    for profile, prof in PROFILES.items():
        table = compile_table(prof.repaired, prof.deviations)
        for state in MigrationStatus:
            for trigger in TRIGGERS:
                model = MigrationModel()
                build_machine(prof.repaired, model, prof.deviations)
                model.state = state.value
                if hasattr(model, trigger):  # a trigger of another profile
                    getattr(model, trigger)()
                expected = table.get((state, trigger), state)
                pairs += 1
                if model.state != expected.value:
                    mismatches.append(f"{profile}: {state.value} --{trigger}--> "
                                      f"machine {model.state}, table {expected.value}")
    return CheckResult(
        "transition table == transitions machine",
        not mismatches,
        "; ".join(mismatches) or f"{pairs} (profile, state, trigger) triples agree",
        ["MIG-SETSTATE-001"],
    )


def _lines_ok(lines: str) -> bool:
    for part in lines.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            return False
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= lo <= hi <= SEED_LINES:
            return False
    return True


def requirements_traced(advance: Advance | None = None) -> CheckResult:
    """Every ID the engine cites exists; every requirement resting on the seed
    names valid seed lines (quick: no progress to report)."""
    root = pathlib.Path(__file__).resolve().parent.parent / "reference"
    cited: set[str] = set()
    for path in root.glob("*.py"):
        cited |= set(re.findall(r"MIG-[A-Z]+-\d{3}", path.read_text()))
    unknown = sorted(cited - set(REQUIREMENT_BY_ID))
    bad_lines = sorted(
        r.id for r in REQUIREMENT_BY_ID.values() if r.lines != "-" and not _lines_ok(r.lines)
    )
    problems = [f"unknown IDs cited: {', '.join(unknown)}"] if unknown else []
    if bad_lines:
        problems.append(f"bad seed lines: {', '.join(bad_lines)}")
    return CheckResult(
        "requirement IDs traced to seed lines",
        not problems,
        "; ".join(problems)
        or f"{len(REQUIREMENT_BY_ID)} requirements, {len(cited)} cited by the engine",
    )


def defects_witnessed(advance: Advance | None = None) -> CheckResult:
    """Each seed defect's counterexample runs on both profiles and what the
    client sees differs between them (the repair is observable)."""
    same: list[str] = []
    for done, defect in enumerate(DEFECTS, 1):
        _, seed_out = replay(defect.counterexample, "seed")
        _, fixed_out = replay(defect.counterexample, "fixed")
        if seed_out == fixed_out:
            same.append(defect.id)
        if advance is not None:
            advance(done, len(DEFECTS))
    return CheckResult(
        "seed defects differ between seed and fixed",
        not same,
        f"identical output for {', '.join(same)}" if same else f"{len(DEFECTS)} defects witnessed",
        sorted({d.requirement for d in DEFECTS}),
    )


def deviations_observed(advance: Advance | None = None) -> CheckResult:
    """Each QEMU 7.2 deviation's probe (spec/deviations.py), replayed on the
    reference under qemu-7.2, shows each VM what the real QEMU 7.2 showed, and
    under seed something else (what is beyond the seed and statistics aside)."""
    from migspec.spec.deviations import DEVIATIONS, REPAIRS, comparable

    probes = [(d.id, d.observed) for d in DEVIATIONS] + [
        (r.defect, r.observed) for r in REPAIRS if r.observed is not None]
    problems: list[str] = []
    for ident, observed in probes:
        recorded = comparable(observed.lines, True)
        if comparable(replay(observed.script, "qemu-7.2")[1], True) != recorded:
            problems.append(f"{ident}: qemu-7.2 differs from the recorded QEMU 7.2 output")
        if comparable(replay(observed.script, "seed")[1], True) == recorded:
            problems.append(f"{ident}: seed shows the same (not a deviation)")
    return CheckResult(
        "qemu-7.2 deviations replay as observed",
        not problems,
        "; ".join(problems) or f"{len(probes)} recorded QEMU 7.2 probes replay on qemu-7.2 "
        "and differ on seed",
        sorted({d.requirement for d in DEVIATIONS}),
    )


def explorer_verdicts(advance: Advance | None = None) -> CheckResult:
    """Every scenario on every profile: violations explained by defects the
    profile keeps (none on fixed), every declared transition fired, every
    counterexample script replays to what the explorer saw."""
    from migspec.properties.exploration import explore
    from migspec.properties.explorer import Result, compact
    from migspec.properties.scenarios import SCENARIOS

    runs = len(SCENARIOS) * len(PROFILES)
    explored: list[Result] = []

    def one_more(result: Result) -> None:
        explored.append(result)
        if advance is not None:
            advance(len(explored), runs)

    summary = explore(profiles=tuple(PROFILES), progress=one_more, check_sharing=True)
    problems = list(summary.problems)
    replayed = 0
    for result in summary.runs:
        for v in result.violations:
            if v.kind == "witness":
                continue
            engine, _ = replay(v.script, result.profile)
            seen = tuple(compact(n, o) for n, o in engine.world.log)
            replayed += 1
            if seen != v.observed:
                problems.append(f"{result.profile}/{result.scenario} {v.property}: the "
                                "script does not replay")
    seed = sum(len(r.violations) for r in summary.runs if r.profile == "seed")
    detail = (
        f"{sum(r.states for r in summary.runs)} states in "
        f"{sum(r.seconds for r in summary.runs):.1f}s; {seed} seed violations explained, "
        f"{replayed} scripts replay"
    )
    return CheckResult(
        "explorer: every interleaving of every scenario",
        not problems,
        "; ".join(problems) or detail,
        sorted({v.property for r in summary.runs for v in r.violations}),
    )


def contracts_confirmed(advance: Advance | None = None) -> CheckResult:
    """CrossHair confirms every contract of the decision functions over all
    paths, within the CI budget (``migspec prove``)."""
    from migspec.properties import prove

    return prove.check(progress=advance)


class Progress(Protocol):
    """What ``migspec verify`` shows while the checks run."""

    def start(self, index: int, total: int, title: str) -> None:
        """Check number ``index`` (from 1) of ``total`` starts."""

    def advance(self, done: int, total: int) -> None:
        """The running check has done ``done`` of its ``total`` units."""


#: Each check and a short title for progress displays.
CHECKS: tuple[tuple[Callable[[Advance | None], CheckResult], str], ...] = (
    (machine_agrees, "transition table against the transitions machine"),
    (requirements_traced, "requirement IDs and seed lines"),
    (defects_witnessed, "seed defects: counterexamples on both profiles"),
    (deviations_observed, "qemu-7.2 deviations: recorded probes"),
    (explorer_verdicts, "explorer: scenario runs"),
    (contracts_confirmed, "CrossHair: functions proved"),
)


def run_all(progress: Progress | None = None) -> list[CheckResult]:
    """Run every self-check; an exception is a failed check, not a crash."""
    results: list[CheckResult] = []
    for index, (check, title) in enumerate(CHECKS, 1):
        if progress is not None:
            progress.start(index, len(CHECKS), title)
        try:
            results.append(check(progress.advance if progress is not None else None))
        except Exception as err:
            results.append(CheckResult(check.__name__, False, f"{type(err).__name__}: {err}"))
    return results
