"""Explorer scale: the ``full-surface`` scenario as its bound k grows, and the
explorer's places per second beside a plain breadth-first walk of the same
scenario (the baseline, measured in the same run).

The plain walk is what the search would be without its structure: it clones
and keys the whole world on every edge and keeps every world, with the
observer's state (the last MIGRATION status each client saw) in its key. It
visits the same states; the explorer runs each world's moves once and keeps
no world objects (``properties/explorer.py``).

Each explorer run is a fresh process, so its peak memory is its own.

Goals (issue #10, one core): k=2 exhausted in under 60 s and under 2 GiB;
k=3 in under 10 minutes. Seconds are wall-clock; on a machine shared with
other work the processor time (CPU s) is what one core spent.

Run: python benchmarks/bench_explorer.py [--json] [--profile P] [--max-bound K]
     [--plain-bound K]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from collections import deque
from typing import Any

from rich.console import Console
from rich.table import Table

from migspec.properties.explorer import Explorer, compact
from migspec.properties.scenarios import full_surface
from migspec.reference.snapshot import clone, key
from migspec.reference.world import World

GOAL_K2_SECONDS = 60.0
GOAL_K2_MIB = 2048.0
GOAL_K3_SECONDS = 600.0


def plain_walk(ex: Explorer) -> dict[str, Any]:
    """Breadth-first over (world, budget, last statuses), cloning and keying
    the whole world on every edge."""
    start = time.perf_counter()
    used0 = tuple(0 for _ in ex.budget)

    Lasts = tuple[tuple[str, str], ...]

    def last(prev: Lasts, new: tuple[Any, ...]) -> Lasts:
        out = dict(prev)
        for e in new:
            if e[1:3] == ("E", "MIGRATION"):
                out[e[0]] = e[3]
        return tuple(sorted(out.items()))

    root = (key(ex.root), used0, last((), ex.root_log))
    seen = {root}
    places = {root[:2]}
    queue: deque[tuple[World, tuple[int, ...], Lasts]] = deque(
        [(ex.root, used0, root[2])])
    edges = 0
    while queue:
        world, used, lasts = queue.popleft()
        for label in ex.labels(world, used)[0]:
            child = clone(world)
            child_used = ex.apply(child, used, label)
            new = tuple(compact(n, o) for n, o in child.log[len(world.log):])
            child.log = []
            k = (key(child), child_used, last(lasts, new))
            edges += 1
            if k not in seen:
                seen.add(k)
                places.add(k[:2])
                queue.append((child, child_used, k[2]))
    return {"states": len(seen), "places": len(places), "edges": edges,
            "seconds": time.perf_counter() - start}


def one(bound: int, profile: str) -> dict[str, Any]:
    """One explorer run (in this process) as a JSON-able dict."""
    result = Explorer(full_surface(bound), profile).run()
    return {
        "bound": bound, "profile": profile, "worlds": result.worlds, "places": result.places,
        "states": result.states, "edges": result.edges, "seconds": round(result.seconds, 2),
        "cpu_seconds": round(result.cpu_seconds, 2),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "complete": result.complete, "violations": len(result.violations),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", default="fixed")
    parser.add_argument("--max-bound", type=int, default=2, help="largest k (default 2)")
    parser.add_argument("--plain-bound", type=int, default=1,
                        help="k of the plain-walk baseline (default 1; k=2 takes minutes)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.profile)))
        return 0
    err = Console(stderr=True)
    runs: list[dict[str, Any]] = []
    for bound in range(1, args.max_bound + 1):
        err.print(f"[dim]full-surface k={bound} ({args.profile}) ...[/]")
        done = subprocess.run([sys.executable, __file__, "--one", str(bound),
                               "--profile", args.profile],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout))
    err.print(f"[dim]plain walk and explorer, k={args.plain_bound} ...[/]")
    ex = Explorer(full_surface(args.plain_bound), args.profile)
    plain = plain_walk(ex)
    mine = Explorer(full_surface(args.plain_bound), args.profile).run()
    if (mine.states, mine.places, mine.edges) != (plain["states"], plain["places"],
                                                 plain["edges"]):
        print(f"the explorer and the plain walk disagree: {mine.states}/{mine.places}/"
              f"{mine.edges} against {plain}", file=sys.stderr)
        return 1
    explorer_rate = mine.places / mine.seconds
    plain_rate = plain["places"] / plain["seconds"]
    by_k = {r["bound"]: r for r in runs}
    goals: dict[str, bool] = {}
    if 2 in by_k:
        goals["k=2 under 60 s"] = by_k[2]["seconds"] < GOAL_K2_SECONDS
        goals["k=2 under 2 GiB"] = by_k[2]["peak_mib"] < GOAL_K2_MIB
    if 3 in by_k:
        goals["k=3 under 10 min"] = by_k[3]["seconds"] < GOAL_K3_SECONDS
    doc = {
        "scenario": "full-surface",
        "profile": args.profile,
        "runs": runs,
        "growth": [
            {"from": a["bound"], "to": b["bound"],
             "states": round(b["states"] / a["states"], 2),
             "seconds": round(b["seconds"] / max(a["seconds"], 1e-9), 2),
             "peak_mib": round(b["peak_mib"] / a["peak_mib"], 2)}
            for a, b in itertools.pairwise(runs)
        ],
        "baseline": {
            "bound": args.plain_bound, "places": plain["places"], "states": plain["states"],
            "plain_seconds": round(plain["seconds"], 2),
            "explorer_seconds": round(mine.seconds, 2),
            "plain_places_per_s": round(plain_rate), "explorer_places_per_s": round(explorer_rate),
            "explorer_vs_plain": round(explorer_rate / plain_rate, 2),
        },
        "goals": goals,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    table = Table(title=f"explorer: full-surface ({args.profile}) as k grows")
    for col in ("k", "worlds", "places", "states", "edges", "seconds", "CPU s", "peak MiB",
                "complete"):
        table.add_column(col, justify="right")
    for r in runs:
        table.add_row(str(r["bound"]), f"{r['worlds']:,}", f"{r['places']:,}",
                      f"{r['states']:,}", f"{r['edges']:,}", f"{r['seconds']:.1f}",
                      f"{r['cpu_seconds']:.1f}",
                      f"{r['peak_mib']:,.0f}", "yes" if r["complete"] else "NO")
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(table)
    for g in doc["growth"]:
        console.print(f"k={g['from']} -> k={g['to']}: states x{g['states']}, "
                      f"time x{g['seconds']}, peak memory x{g['peak_mib']}")
    b = doc["baseline"]
    console.print(f"k={b['bound']}: {b['places']:,} places; explorer "
                  f"{b['explorer_places_per_s']:,} places/s ({b['explorer_seconds']} s), "
                  f"plain walk {b['plain_places_per_s']:,} places/s ({b['plain_seconds']} s): "
                  f"x{b['explorer_vs_plain']}")
    for goal, met in goals.items():
        console.print(f"goal {goal}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
