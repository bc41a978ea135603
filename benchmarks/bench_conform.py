"""Conformance harness wall time against a launched QEMU, beside a baseline
measured in the same run: the bare start and stop of the same QEMU (same
arguments, QMP greeting read, then terminated), as many VMs as the harness
starts, with the same concurrency.

The figure that matters is the whole ``migspec conform --target qemu`` run
with ``--reps`` repetitions of each racy scenario (goal: under 60 s on the
2-core CI machine); the ratio says how much the harness adds to what QEMU
itself costs.

Run: python benchmarks/bench_conform.py [--json] [--reps N] [--jobs N] [--accel tcg|kvm]
     [--profile P]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from migspec.properties.conform.drivers import QemuSpec, halt_firmware
from migspec.properties.conform.processes import Registry, default_watcher, pidfd_watcher
from migspec.properties.conform.runner import Runner, ScenarioResult, make_report, run_all
from migspec.properties.conform.scenarios import ALL_SCENARIOS
from migspec.reference.profiles import get_profile

GOAL_SECONDS = 60.0


def _vms(results: list[ScenarioResult]) -> int:
    """Processes the harness started: one per start observation."""
    return sum(1 for res in results for run in res.runs for o in run.trace if "start" in o)


async def _bare(spec: QemuSpec, registry: Registry, count: int, jobs: int) -> float:
    """Start ``count`` QEMUs (``jobs`` at a time), read each greeting, stop."""
    gate = asyncio.Semaphore(jobs)
    folder = registry.folder()
    firmware = halt_firmware(registry) if spec.halt_firmware else None

    async def one(i: int) -> None:
        async with gate:
            sock = os.path.join(folder, f"{i}.qmp")
            argv = [spec.binary, "-nodefaults", "-display", "none", "-machine", "pc",
                    "-accel", spec.accel, "-m", str(spec.ram_mib),
                    "-qmp", f"unix:{sock},server=on,wait=off"]
            if firmware:
                argv += ["-bios", firmware]
            proc = await registry.spawn(argv, os.path.join(folder, f"{i}.err"))
            try:
                async with asyncio.timeout(spec.timeout):
                    while True:  # the file exists a moment before it listens
                        try:
                            reader, writer = await asyncio.open_unix_connection(sock)
                            break
                        except (FileNotFoundError, ConnectionRefusedError):
                            await asyncio.sleep(0.002)
                    await reader.readline()
                    writer.close()
            finally:
                await registry.end(proc)
                for name in (f"{i}.qmp", f"{i}.err"):
                    with_path = os.path.join(folder, name)
                    if os.path.exists(with_path):
                        os.unlink(with_path)

    pidfd_watcher()
    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - began


async def _harness(runner: Runner, reps: int) -> list[ScenarioResult]:
    pidfd_watcher()
    return await run_all(runner, list(ALL_SCENARIOS), reps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--accel", choices=("tcg", "kvm"), default="tcg")
    parser.add_argument("--profile", default="seed", help="the profile the runs are judged by")
    args = parser.parse_args()
    binary = shutil.which("qemu-system-x86_64")
    if binary is None:
        print("bench_conform: qemu-system-x86_64 is not installed", file=sys.stderr)
        return 2
    spec = QemuSpec(binary, args.accel)
    registry = Registry()
    runner = Runner(spec, get_profile(args.profile), registry, args.jobs)
    try:
        began = time.perf_counter()
        results = asyncio.run(_harness(runner, args.reps))
        harness = time.perf_counter() - began
        make_report(runner, results, harness)
        judged = time.perf_counter() - began
        vms = _vms(results)
        bare = asyncio.run(_bare(spec, registry, vms, args.jobs))
    finally:
        default_watcher()
        registry.end_all_now()
    load = os.getloadavg()[0]
    rows: list[dict[str, Any]] = [
        {"what": f"migspec conform --target qemu --reps {args.reps} (runs)",
         "seconds": round(harness, 2)},
        {"what": "... with judging and the report", "seconds": round(judged, 2)},
        {"what": f"baseline: bare start+stop of {vms} QEMUs", "seconds": round(bare, 2)},
    ]
    per = {res.scenario.name: round(res.seconds, 2) for res in results if res.scenario.racy}
    doc = {
        "reps": args.reps, "jobs": args.jobs, "accel": args.accel, "vms": vms,
        "rows": rows, "racy_scenario_seconds": per,
        "ratio_harness_to_baseline": round(judged / bare, 2) if bare else None,
        "goal_seconds": GOAL_SECONDS, "goal_met": judged < GOAL_SECONDS,
        "load_average_1min": round(load, 2),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    table = Table(title=f"bench_conform ({args.accel}, jobs {args.jobs}, load {load:.1f})")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for row in rows:
        table.add_row(row["what"], f"{row['seconds']:.2f}")
    console = Console()
    console.print(table)
    for name, seconds in per.items():
        console.print(f"  {name}: {seconds:.2f}s")
    console.print(f"ratio harness/baseline: {doc['ratio_harness_to_baseline']}; goal "
                  f"< {GOAL_SECONDS:.0f}s: {'met' if doc['goal_met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
