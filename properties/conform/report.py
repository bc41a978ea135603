"""Reports of a conformance run: a rich table, JSON and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from migspec.properties.conform.observe import as_script
from migspec.properties.conform.runner import FAIL, PASS, Report, ScenarioResult
from migspec.spec.requirements import REQUIREMENT_BY_ID

_STYLE = {"PASS": "green", "FAIL": "red", "UNRESOLVED": "yellow", "UNSUPPORTED": "cyan",
          "UNTESTED": "dim"}


def _outcome_text(outcome: tuple[str, ...]) -> str:
    return " ".join(outcome) or "(no event)"


def replay_script(res: ScenarioResult) -> list[dict[str, Any]] | None:
    """The shortest failing run as a ``migspec run`` script (set-up, starts,
    sends; the observed replies and events as ``#`` comments are left to the
    JSON report)."""
    run = res.failing()
    if run is None:
        return None
    return as_script(run.trace, run.setup)


def script_text(lines: list[dict[str, Any]]) -> str:
    """JSON lines."""
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def verdict_counts(report: Report) -> Counter[str]:
    """Requirements per verdict (expected FAILs counted apart)."""
    counts: Counter[str] = Counter()
    for rid, (verdict, _) in report.requirements.items():
        counts["FAIL (expected)" if rid in report.expected_fails else verdict] += 1
    return counts


def print_report(report: Report, console: Console) -> None:
    """Scenario table, race outcomes, seed defects, requirement counts."""
    table = Table(title=f"migspec conform: {report.target}, profile {report.profile} "
                  f"(validator: {report.validator})")
    for col in ("scenario", "runs", "verdict", "seconds", "detail"):
        table.add_column(col, overflow="fold")
    for res in report.scenarios:
        style = _STYLE[res.verdict]
        verdict = f"[{style}]{res.verdict}[/]" + (" (expected)" if res.expected and
                                                 res.verdict == FAIL else "")
        runs = ", ".join(f"{v} {n}" for v, n in sorted(res.counts.items()))
        table.add_row(res.scenario.name, runs, verdict, f"{res.seconds:.2f}",
                      res.detail[:160])
    console.print(table)
    for res in report.scenarios:
        if not res.scenario.racy or not res.outcomes:
            continue
        console.print(f"[bold]{res.scenario.name}[/]: observed outcomes")
        for outcome, n in res.outcomes.most_common():
            ok = res.admitted is None or outcome in res.admitted
            mark = "" if ok else " [red]NOT ADMITTED[/]"
            console.print(f"  {n:5d}  {_outcome_text(outcome)}{mark}")
        if not res.admitted_complete:
            console.print("  [yellow]the admitted set is partial (validator search bound)[/]")
        never = sorted(res.admitted - set(res.outcomes)) if res.admitted else []
        for outcome in never:
            console.print(f"  [dim]never observed (admitted): {_outcome_text(outcome)}[/]")
    beyond = sorted({b for res in report.scenarios for b in res.beyond})
    if beyond:
        console.print("[cyan]UNSUPPORTED[/] (shown beyond the seed's surface, set aside): "
                      + "; ".join(beyond))
    dtable = Table(title="seed defects on this target")
    for col in ("defect", "status", "detail"):
        dtable.add_column(col, overflow="fold")
    for d in report.defects:
        where = f" (scenario {d.scenario}, {len(d.trace or [])} observations)" \
            if d.scenario else ""
        dtable.add_row(d.defect, d.status, d.detail + where)
    console.print(dtable)
    counts = verdict_counts(report)
    console.print("requirements: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                  + f"; {report.seconds:.1f}s")
    bad = report.unexpected_failures
    if bad:
        console.print(f"[red]{len(bad)} unexpected FAILs:[/] {', '.join(bad)}")


def as_json(report: Report) -> dict[str, Any]:
    """The whole report as JSON-able data."""
    return {
        "target": report.target,
        "profile": report.profile,
        "validator": report.validator,
        "seconds": round(report.seconds, 3),
        "ok": not report.unexpected_failures,
        "counts": dict(verdict_counts(report)),
        "requirements": {
            rid: {"verdict": v, "detail": why, **(
                {"expected": report.expected_fails[rid]} if rid in report.expected_fails
                else {})}
            for rid, (v, why) in report.requirements.items()
        },
        "scenarios": [
            {
                "name": res.scenario.name,
                "requirements": list(res.scenario.requirements),
                "verdict": res.verdict,
                "expected": res.expected,
                "runs": dict(res.counts),
                "seconds": round(res.seconds, 3),
                "detail": res.detail,
                "beyond_seed_unsupported": res.beyond,
                **({"outcomes": [{"outcome": list(o), "count": n,
                                  "admitted": res.admitted is None or o in res.admitted}
                                 for o, n in res.outcomes.most_common()],
                    "admitted_complete": res.admitted_complete,
                    "admitted_never_observed": sorted(
                        list(o) for o in (res.admitted or set()) - set(res.outcomes))}
                   if res.scenario.racy else {}),
                **({"failing_trace": res.failing().trace,  # type: ignore[union-attr]
                    "replay": replay_script(res)} if res.failing() else {}),
            }
            for res in report.scenarios
        ],
        "defects": [
            {"id": d.defect, "status": d.status, "detail": d.detail, "scenario": d.scenario,
             "trace": d.trace}
            for d in report.defects
        ],
    }


def as_junit(report: Report) -> ET.ElementTree[ET.Element]:
    """JUnit XML: a testsuite per scenario (a testcase per requirement it
    judges) and one testsuite of requirement verdicts."""
    suites = ET.Element("testsuites", name=f"migspec conform {report.target}",
                        time=f"{report.seconds:.3f}")
    for res in report.scenarios:
        suite = ET.SubElement(suites, "testsuite", name=f"scenario {res.scenario.name}",
                              time=f"{res.seconds:.3f}",
                              tests=str(len(res.scenario.requirements)))
        fails = skips = 0
        for rid in res.scenario.requirements:
            case = ET.SubElement(suite, "testcase", classname=f"conform.{res.scenario.name}",
                                 name=rid, time=f"{res.seconds:.3f}")
            if res.verdict == FAIL and not res.expected:
                fails += 1
                failure = ET.SubElement(case, "failure", message=res.detail[:500])
                failing = res.failing()
                script = replay_script(res)
                failure.text = ("trace:\n" + "\n".join(json.dumps(o) for o in failing.trace)
                                if failing else "") + (
                    "\nreplay (migspec run):\n" + script_text(script) if script else "")
            elif res.verdict != PASS:
                skips += 1
                reason = res.expected if res.verdict == FAIL else res.detail
                ET.SubElement(case, "skipped", message=f"{res.verdict}: {reason}"[:500])
        suite.set("failures", str(fails))
        suite.set("skipped", str(skips))
    req = ET.SubElement(suites, "testsuite", name="requirements",
                        tests=str(len(report.requirements)))
    fails = skips = 0
    for rid, (verdict, why) in report.requirements.items():
        case = ET.SubElement(req, "testcase", classname="conform.requirements", name=rid)
        text = REQUIREMENT_BY_ID[rid].text
        if verdict == FAIL and rid not in report.expected_fails:
            fails += 1
            ET.SubElement(case, "failure", message=why[:500]).text = text
        elif verdict != PASS:
            skips += 1
            reason = report.expected_fails.get(rid, why)
            ET.SubElement(case, "skipped", message=f"{verdict}: {reason}"[:500])
    req.set("failures", str(fails))
    req.set("skipped", str(skips))
    return ET.ElementTree(suites)
