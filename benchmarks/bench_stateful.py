"""Stateful throughput: state-machine steps per second against the reference.

A step is one rule of :class:`migspec.properties.stateful.TargetMachine`
(a QMP command with its checks, an environment change, a settle, ...)
together with the invariants that follow it. The run is fixed: the
``BENCHMARK`` settings of :mod:`migspec.properties.hypothesis_profiles`
(derandomized, 20 examples of up to 200 steps, generation only), best of
``--repeats`` runs, per profile.

Run: python benchmarks/bench_stateful.py [--json] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from migspec.properties.hypothesis_profiles import BENCHMARK
from migspec.properties.stateful import machine_for, run_machine
from migspec.properties.targets import reference_fixed, reference_seed

GOAL_STEPS_PER_S = 2_000


def measure(profile: str, repeats: int) -> dict[str, Any]:
    """Best steps/s of ``repeats`` identical runs on ``profile``."""
    factory = reference_seed if profile == "seed" else reference_fixed
    best_rate = 0.0
    steps = 0
    seconds = 0.0
    for _ in range(repeats):
        # The same class name each time: derandomized runs then draw the same steps.
        machine = machine_for(factory, f"Bench{profile.title()}Machine")
        start = time.perf_counter()
        run_machine(machine, BENCHMARK)
        elapsed = time.perf_counter() - start
        run_steps = sum(machine.fired.values())
        if run_steps / elapsed > best_rate:
            best_rate, steps, seconds = run_steps / elapsed, run_steps, elapsed
    return {
        "profile": profile,
        "steps": steps,
        "seconds": round(seconds, 3),
        "steps_per_s": round(best_rate),
        "goal_met": best_rate >= GOAL_STEPS_PER_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [measure(p, args.repeats) for p in ("seed", "fixed")]
    doc = {
        "examples": BENCHMARK.max_examples,
        "max_steps_per_example": BENCHMARK.stateful_step_count,
        "repeats": args.repeats,
        "goal_steps_per_s": GOAL_STEPS_PER_S,
        "goal_met": all(r["goal_met"] for r in rows),
        "profiles": rows,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    table = Table(title=f"state-machine steps against the reference, best of {args.repeats}")
    table.add_column("profile")
    table.add_column("steps", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("steps/s", justify="right")
    table.add_column(f"goal {GOAL_STEPS_PER_S:,}/s")
    for r in rows:
        verdict = "[green]met[/]" if r["goal_met"] else "[red]missed[/]"
        table.add_row(r["profile"], str(r["steps"]), f"{r['seconds']:.2f}",
                      f"{r['steps_per_s']:,}", verdict)
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
