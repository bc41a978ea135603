"""Trace validation throughput on the racy scenarios of a conformance run
(200 repetitions of each of 4 races, as ``migspec conform`` makes them),
beside a baseline measured in the same run: replaying each trace's schedule
on a fresh reference engine (what checking one known schedule costs).

Three validation figures: a whole batch from a cold cache (engine graphs
built on the way, repeated outcomes answered from the verdict cache), every
trace searched afresh over warm engine graphs, and every trace searched with
no cache at all.

Run: python benchmarks/bench_tracecheck.py [--json] [--reps N]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from migspec.properties import tracecheck as T
from migspec.properties.scenarios import SMALL_WORLD
from migspec.reference.engine import Engine
from migspec.reference.script import parse, run_script

EVENTS_ON = {"execute": "migrate-set-capabilities",
             "arguments": {"capabilities": [{"capability": "events", "state": True}]}}
SETUP = SMALL_WORLD + (EVENTS_ON,)


def _inputs(paused: bool) -> list[dict[str, Any]]:
    return [
        {"vm": "destination", "start": {"incoming": "tcp:0:4444", "paused": paused}},
        {"vm": "destination", "send": EVENTS_ON},
        {"vm": "source", "send": {"execute": "migrate",
                                  "arguments": {"uri": "tcp:127.0.0.1:4444"}}},
        {"vm": "source", "send": {"execute": "migrate_cancel"}},
        {"vm": "source", "send": {"execute": "query-migrate"}},
        {"vm": "destination", "send": {"execute": "query-status"}},
    ]


#: (name, inputs, chance the driver sends at a given point: low = a later cancel)
RACES = (
    ("migrate, immediate cancel", _inputs(False), 0.9),
    ("migrate, delayed cancel", _inputs(False), 0.1),
    ("cancel, destination -S", _inputs(True), 0.3),
    ("cancel, destination running", _inputs(False), 0.3),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    env = T.Environment(SETUP)
    rng = random.Random(2026)
    traces = [T.record_random(inputs, env, "seed", rng, chance)
              for _, inputs, chance in RACES for _ in range(args.reps)]
    n = len(traces)
    observations = sum(len(t) for t in traces)

    T.clear_cache()
    start = time.perf_counter()
    verdicts = [T.check_trace(t, env, "seed", complete=True) for t in traces]
    cold = time.perf_counter() - start
    assert all(v.ok for v in verdicts)

    start = time.perf_counter()
    for t in traces:
        T._VERDICTS.clear()
        T.check_trace(t, env, "seed", complete=True)
    warm = time.perf_counter() - start

    start = time.perf_counter()
    for t in traces:
        T.clear_cache()
        T.check_trace(t, env, "seed", complete=True)
    uncached = time.perf_counter() - start

    scripts = ["\n".join(json.dumps(line) for line in v.script) for v in verdicts]
    start = time.perf_counter()
    for text in scripts:
        for _ in run_script(Engine("seed"), parse(text)):
            pass
    replay = time.perf_counter() - start

    outcomes = {T.outcome(t) for t in traces}
    doc = {
        "traces": n,
        "observations_per_trace": round(observations / n, 1),
        "distinct_outcomes": len(outcomes),
        "validations_per_s_batch_cold_cache": round(n / cold),
        "validations_per_s_search_warm_graphs": round(n / warm),
        "validations_per_s_no_cache": round(n / uncached),
        "baseline_replays_per_s": round(n / replay),
        "batch_seconds": round(cold, 3),
        "search_vs_replay": round(replay / warm, 3),
        "no_cache_vs_replay": round(replay / uncached, 3),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    table = Table(title=f"trace validation, {n} racy traces (seed, complete runs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("observations per trace (mean)", str(doc["observations_per_trace"]))
    table.add_row("distinct outcomes", str(len(outcomes)))
    table.add_row("batch from a cold cache, validations/s", f"{n / cold:,.0f}")
    table.add_row("each searched afresh, warm graphs, validations/s", f"{n / warm:,.0f}")
    table.add_row("no cache at all, validations/s", f"{n / uncached:,.0f}")
    table.add_row("baseline: replay of the schedule on the engine, /s", f"{n / replay:,.0f}")
    table.add_row("search (warm) / replay", f"{replay / warm:.3f}")
    table.add_row("no cache / replay", f"{replay / uncached:.3f}")
    table.add_row("the whole batch", f"{cold:.3f} s")
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
