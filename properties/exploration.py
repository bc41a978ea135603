"""Running the explorer over scenarios and profiles, and judging the results:
on ``seed`` every violation must be explained by a recorded seed defect; on
``fixed`` there must be none; over all scenarios every declared transition of
a profile must fire."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migspec.properties.explorer import Explorer, Progress, Result
from migspec.properties.scenarios import SCENARIOS, Scenario
from migspec.reference.profiles import get_profile
from migspec.spec.defects import DEFECT_BY_ID
from migspec.spec.deviations import UNREACHED_IN_SCENARIOS
from migspec.spec.transitions import ALL_PROFILES, transitions_for


@dataclass
class Summary:
    """Every run and the verdicts over them."""

    runs: list[Result] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    coverage: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No unexplained seed violation, no fixed violation, full coverage."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The JSON report."""
        return {
            "ok": self.ok,
            "problems": self.problems,
            "coverage": self.coverage,
            "states": sum(r.states for r in self.runs),
            "seconds": round(sum(r.seconds for r in self.runs), 3),
            "runs": [r.as_json() for r in self.runs],
        }


def explore(
    scenarios: Sequence[Scenario] = SCENARIOS,
    profiles: Sequence[str] = ALL_PROFILES,
    sequences: bool = False,
    progress: Callable[[Result], None] | None = None,
    searching: Callable[[str, str], Progress] | None = None,
    check_sharing: bool = False,
) -> Summary:
    """Explore each scenario under each profile and judge the results.
    ``progress`` hears of each finished run; ``searching(profile, scenario)``
    gives the callback that hears of a run's progress (see
    :meth:`Explorer.run`). ``check_sharing`` checks that no move changes a
    VM it shares (:attr:`Explorer.check_sharing`)."""
    summary = Summary()
    for profile in profiles:
        fired: set[str] = set()
        for scenario in scenarios:
            explorer = Explorer(scenario, profile)
            explorer.check_sharing = check_sharing
            result = explorer.run(
                sequences=sequences,
                progress=searching(profile, scenario.name) if searching else None)
            summary.runs.append(result)
            fired.update(result.transitions_fired)
            if progress is not None:
                progress(result)
            if not result.complete:
                summary.problems.append(
                    f"{profile}/{scenario.name}: state bound {scenario.max_states} reached"
                )
            if profile == "seed":
                shown = {d for v in result.violations for d in v.defects}
                for missing in sorted(set(scenario.finds) - shown):
                    summary.problems.append(
                        f"seed/{scenario.name}: expected seed defect {missing} not found"
                    )
            repaired = get_profile(profile).repaired
            for v in result.violations:
                where = f"{profile}/{scenario.name}: {v.property} ({v.kind})"
                if v.kind == "witness":
                    summary.problems.append(f"{where}: witness never reached")
                elif v.defect not in DEFECT_BY_ID or v.defect in repaired:
                    # every violation is explained by a defect the profile keeps
                    # (none on fixed, which repairs them all)
                    summary.problems.append(
                        f"{where}: no seed defect {profile} keeps explains it: {v.detail}")
        prof = get_profile(profile)
        declared = list(dict.fromkeys(
            t.trigger for t in transitions_for(repaired, prof.deviations)))
        never = [t for t in declared if t not in fired and not prof.deviates(
            UNREACHED_IN_SCENARIOS.get(t, ""))]
        summary.coverage[profile] = {"declared": declared, "never_fired": never}
        if len(scenarios) == len(SCENARIOS) and never:
            summary.problems.append(f"{profile}: transitions never fired: {', '.join(never)}")
    return summary


def emit_scripts(summary: Summary, out_dir: Path) -> list[Path]:
    """Write every counterexample as a ``migspec run`` script (JSON lines)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for result in summary.runs:
        for v in result.violations:
            if not v.script or v.kind == "witness":
                continue
            name = f"{result.profile}--{result.scenario}--{v.property}.jsonl"
            path = out_dir / name
            header = (
                f"# {v.property} ({v.kind}) in scenario {result.scenario}, profile "
                f"{result.profile}: {v.detail}\n"
                f"# explained by: {v.defect}\n"
                f"# replay: migspec run --profile {result.profile} {name}\n"
            )
            path.write_text(header + "".join(json.dumps(line, allow_nan=False) + "\n"
                                             for line in v.script))
            written.append(path)
    return written
