"""QMP throughput and latency: ``migspec serve`` beside a real QEMU.

One pipelining client (asyncio streams, a window of ``--window`` commands in
flight) sends ``--commands`` ``query-status`` commands over a unix socket,
first to ``migspec serve`` (its own process, default profile and clock),
then to an idle ``qemu-system-x86_64 -machine none`` (launched here and ended
by PID). It reports commands per second and the p50/p99 latency (send to
reply) of each, best of ``--repeats`` runs, and the ratio of the two
throughputs. Goal: ``migspec serve`` at least as fast as the real QEMU.

Run: python benchmarks/bench_serve.py [--json] [--commands N] [--window W] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from migspec.properties.conform.processes import end_by_pid

QEMU = "qemu-system-x86_64"


@contextmanager
def _process(argv: list[str], sock: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` and wait for ``sock`` to accept; ended by PID."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{argv[0]} did not start: {err.strip()}")
            time.sleep(0.05)
        yield proc
    finally:
        end_by_pid(proc)
        if proc.stderr is not None:
            proc.stderr.close()


async def _pipeline(path: str, commands: int, window: int) -> dict[str, Any]:
    reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
    await reader.readline()  # greeting
    writer.write(b'{"execute": "qmp_capabilities"}\n')
    await writer.drain()
    await reader.readline()
    sent_at = [0.0] * commands
    latencies = [0.0] * commands
    credit = asyncio.Semaphore(window)

    async def send() -> None:
        for k in range(commands):
            await credit.acquire()
            sent_at[k] = time.perf_counter()
            writer.write(b'{"execute": "query-status", "id": %d}\n' % k)
            if k % 16 == 15:
                await writer.drain()
        await writer.drain()

    start = time.perf_counter()
    sender = asyncio.create_task(send())
    got = 0
    while got < commands:
        reply = json.loads(await reader.readline())
        if "id" not in reply:
            continue
        k = reply["id"]
        latencies[k] = time.perf_counter() - sent_at[k]
        got += 1
        credit.release()
    elapsed = time.perf_counter() - start
    await sender
    writer.close()
    await writer.wait_closed()
    latencies.sort()
    return {"commands_per_s": round(commands / elapsed),
            "p50_ms": round(latencies[commands // 2] * 1000, 3),
            "p99_ms": round(latencies[min(commands - 1, commands * 99 // 100)] * 1000, 3)}


def measure(name: str, argv: list[str], sock: str, commands: int, window: int,
            repeats: int) -> dict[str, Any]:
    """Best of ``repeats`` pipelined runs against one process."""
    with _process(argv, sock):
        runs = [asyncio.run(_pipeline(sock, commands, window)) for _ in range(repeats)]
    best = max(runs, key=lambda r: r["commands_per_s"])
    return {"target": name, **best}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="migspec-bench-") as folder:
        serve_sock = f"{folder}/serve.sock"
        rows.append(measure("migspec serve",
                            [sys.executable, "-m", "migspec", "serve", "--socket", serve_sock],
                            serve_sock, args.commands, args.window, args.repeats))
        qemu = shutil.which(QEMU)
        if qemu is not None:
            qemu_sock = f"{folder}/qemu.sock"
            rows.append(measure(f"{QEMU} -machine none",
                                [qemu, "-nodefaults", "-display", "none", "-machine", "none",
                                 "-qmp", f"unix:{qemu_sock},server=on,wait=off"],
                                qemu_sock, args.commands, args.window, args.repeats))
    ratio = (rows[0]["commands_per_s"] / rows[1]["commands_per_s"]) if len(rows) == 2 else None
    doc = {"commands": args.commands, "window": args.window, "rows": rows,
           "ratio_serve_to_qemu": None if ratio is None else round(ratio, 2),
           "goal_met": None if ratio is None else ratio >= 1.0}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    table = Table(title=f"QMP query-status, pipelined (window {args.window}), "
                  f"{args.commands} commands, best of {args.repeats}")
    for col in ("target", "commands/s", "p50 ms", "p99 ms"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["target"], f"{row['commands_per_s']:,}", str(row["p50_ms"]),
                      str(row["p99_ms"]))
    console = Console()
    console.print(table)
    if ratio is None:
        console.print(f"{QEMU} not found: no comparison")
    else:
        console.print(f"throughput ratio serve/QEMU: {ratio:.2f} "
                      f"(goal >= 1.0: {'met' if ratio >= 1.0 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
