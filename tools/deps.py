#!/usr/bin/env python3
"""migspec's dependency lock and drift check.

    python tools/deps.py lock            # rewrite constraints.txt from a fresh venv
    python tools/deps.py check           # does this environment match the lock?
    python tools/deps.py drift [--json]  # newest releases in a scratch venv: ruff, mypy, pytest
    python tools/deps.py lowest [--json] # the library ranges' lower bounds: pytest

``constraints.txt`` is the lock: the exact version of every package that
``pip install -c constraints.txt -e '.[test]'`` installs (what CI and the
README's test command install). The tools whose verdicts change between
releases are also pinned exactly in ``pyproject.toml``; the runtime libraries
keep ranges whose lower bounds ``lowest`` tests.

``drift`` and ``lowest`` never gate CI: they build a throw-away virtual
environment in a temporary folder, install, run the checks and report what
changed (versions against the lock, and each check's result), exit status 1
when a check fails there so a scheduled job can notice.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"



def lowest_pins() -> list[str]:
    """``name==bound`` for every ``name>=bound`` runtime requirement of
    pyproject.toml: what ``lowest`` installs (the tools stay locked)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [req.replace(">=", "==") for req in project["dependencies"] if ">=" in req]


#: The checks ``drift`` and ``lowest`` run inside the scratch environment.
CHECKS: dict[str, tuple[str, ...]] = {
    "ruff": ("-m", "ruff", "check", "."),
    "mypy": ("-m", "mypy"),
    "pytest": ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"),
}

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*$")


def normalise(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """``name==version`` lines (comments, blanks and editable lines skipped) ->
    {normalised name: version}; ValueError on any other line."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("-e "):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"line {number}: not 'name==version': {line!r}")
        pins[normalise(match.group(1))] = match.group(2)
    return pins


def diff(locked: dict[str, str], found: dict[str, str]) -> list[dict[str, str | None]]:
    """Packages whose version differs, sorted: {name, locked, found} (None where absent)."""
    rows: list[dict[str, str | None]] = []
    for name in sorted(set(locked) | set(found)):
        old, new = locked.get(name), found.get(name)
        if old != new:
            rows.append({"name": name, "locked": old, "found": new})
    return rows


def _run(cmd: Sequence[str], cwd: Path = ROOT, timeout: float = 1800) -> tuple[int, str]:
    print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f} s"
    return proc.returncode, proc.stdout + proc.stderr


def _freeze(python: Path) -> dict[str, str]:
    status, out = _run([str(python), "-m", "pip", "freeze", "--exclude-editable",
                        "--disable-pip-version-check"])
    if status != 0:
        raise RuntimeError(f"pip freeze failed:\n{out}")
    lines = [ln for ln in out.split("\n") if _LINE.match(ln.strip())]
    return parse_pins("\n".join(lines))


def _venv(where: Path, interpreter: str | None = None) -> Path:
    status, out = _run([interpreter or sys.executable, "-m", "venv", str(where)])
    if status != 0:
        raise RuntimeError(f"python -m venv failed:\n{out}")
    python = where / "bin" / "python"
    _pip(python, "install", "--upgrade", "pip")
    return python


def _pip(python: Path, *args: str) -> None:
    status, out = _run([str(python), "-m", "pip", "--disable-pip-version-check", *args])
    if status != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{out[-4000:]}")


@dataclass
class Report:
    """What a scratch run found."""

    mode: str
    python: str
    changed: list[dict[str, str | None]] = field(default_factory=list)
    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks.values())


def _checks(python: Path, report: Report) -> None:
    for name, args in CHECKS.items():
        start = time.monotonic()
        status, out = _run([str(python), *args])
        tail = "\n".join(out.rstrip().split("\n")[-15:])
        report.checks[name] = {"ok": status == 0, "exit": status,
                               "seconds": round(time.monotonic() - start, 1), "tail": tail}


def cmd_lock(args: argparse.Namespace) -> int:
    """Resolve ``.[test]`` afresh and write every installed version to the lock.

    Resolve with the oldest Python the project runs on (``--python``): a
    release that needs a newer one (pymdown-extensions 13.1.2 wants 3.11.5)
    would make the lock uninstallable on Debian 12's python3, 3.11.2."""
    with tempfile.TemporaryDirectory(prefix="migspec-lock-") as tmp:
        python = _venv(Path(tmp) / "venv", args.python)
        _pip(python, "install", "-e", f"{ROOT}[test]")
        pins = _freeze(python)
        version = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    body = "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))
    LOCK.write_text(
        "# The lock: every package `pip install -c constraints.txt -e '.[test]'` installs.\n"
        f"# Written by `python tools/deps.py lock` with Python {version}; do not edit by hand.\n"
        + body)
    print(f"wrote {LOCK} ({len(pins)} packages)")
    return 0


def cmd_check(_: argparse.Namespace) -> int:
    """Exit 1 if an installed package named in the lock has another version."""
    locked = parse_pins(LOCK.read_text())
    found = _freeze(Path(sys.executable))
    wrong = [row for row in diff(locked, found) if row["locked"] is not None]
    for row in wrong:
        print(f"{row['name']}: locked {row['locked']}, installed {row['found']}")
    print(f"{len(locked) - len(wrong)}/{len(locked)} locked packages at their locked version")
    return 1 if wrong else 0


def _scratch(mode: str, args: argparse.Namespace) -> int:
    locked = parse_pins(LOCK.read_text())
    with tempfile.TemporaryDirectory(prefix=f"migspec-{mode}-") as tmp:
        python = _venv(Path(tmp) / "venv")
        if mode == "drift":
            # The project with its runtime pins, then every locked package at
            # its newest release (pip only warns where that breaks a pin).
            _pip(python, "install", "-e", str(ROOT))
            _pip(python, "install", "--upgrade", "--upgrade-strategy", "eager", *sorted(locked))
        else:
            _pip(python, "install", "-c", str(LOCK), "-e", f"{ROOT}[test]")
            _pip(python, "install", *lowest_pins())
        report = Report(mode, sys.version.split()[0], diff(locked, _freeze(python)))
        _checks(python, report)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    else:
        print(f"\n{mode}: {len(report.changed)} package(s) differ from the lock")
        for row in report.changed:
            print(f"  {row['name']}: {row['locked'] or '-'} -> {row['found'] or '-'}")
        for name, check in report.checks.items():
            verdict = "PASS" if check["ok"] else "FAIL"
            print(f"{name}: {verdict} (exit {check['exit']}, {check['seconds']} s)")
            if not check["ok"]:
                print("    " + str(check["tail"]).replace("\n", "\n    "))
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/deps.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="rewrite constraints.txt from a fresh resolution")
    lock.add_argument("--python", metavar="INTERPRETER", default=None,
                      help="resolve with this Python (default: the one running this script); "
                      "the lock is made with Debian 12's python3 (3.11.2), the oldest "
                      "the project supports")
    sub.add_parser("check", help="compare this environment with the lock")
    for mode, text in (("drift", "newest releases of every locked package"),
                       ("lowest", "the runtime libraries' lower bounds")):
        p = sub.add_parser(mode, help=f"{text}, in a scratch venv: ruff, mypy, pytest")
        p.add_argument("--json", action="store_true", help="machine-readable report")
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            return cmd_lock(args)
        if args.command == "check":
            return cmd_check(args)
        return _scratch(args.command, args)
    except (RuntimeError, OSError, ValueError) as err:
        print(f"tools/deps.py {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
