"""The command line: `migspec run` and `migspec verify` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def migspec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migspec", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "script.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_prints_json_lines(tmp_path: Path) -> None:
    """MIG-EVENT-001, MIG-QUERY-004, MIG-QMP-003: a script of QMP commands and
    directives prints one JSON object per line: the replies (with the id), the
    MIGRATION events setup, active, completed, and the final query-migrate in
    'completed'; comments and blank lines are skipped."""
    script = write(tmp_path, [
        "# a whole migration",
        json.dumps({"migspec": "env", "ram_bytes": 8 * 1024 * 1024}),
        json.dumps({"execute": "migrate-set-capabilities", "arguments": {
            "capabilities": [{"capability": "events", "state": True}]}}),
        "",
        json.dumps({"execute": "migrate", "arguments": {"uri": "exec:cat"}, "id": "m1"}),
        json.dumps({"migspec": "settle"}),
        json.dumps({"execute": "query-migrate"}),
    ])
    done = migspec("run", str(script))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"return": {}, "id": "m1"} in out
    statuses = [o["data"]["status"] for o in out if o.get("event") == "MIGRATION"]
    assert statuses == ["setup", "active", "completed"]
    assert out[-1]["return"]["status"] == "completed"
    assert out[-1]["return"]["ram"]["remaining"] == 0


def test_run_destination_lines_carry_vm(tmp_path: Path) -> None:
    """MIG-EVENT-003: lines of the destination carry "vm": "destination"; the
    -incoming start's 'setup' reaches no client (no monitor has negotiated
    yet); migrate-incoming's does, without the capability (line 240)."""
    script = write(tmp_path, [
        json.dumps({"migspec": "incoming", "uri": "defer"}),
        json.dumps({"migspec": "qmp", "vm": "destination",
                    "command": {"execute": "migrate-incoming",
                                "arguments": {"uri": "tcp:0:4444"}}}),
    ])
    done = migspec("run", str(script))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 2
    assert out[0]["event"] == "MIGRATION"
    assert out[0]["data"] == {"status": "setup"}
    assert out[0]["vm"] == "destination"
    assert out[1] == {"return": {}, "vm": "destination"}


def test_run_fixed_profile(tmp_path: Path) -> None:
    """MIG-CACHE-004 (DEF-CACHE-NEGATIVE): --profile fixed reports a negative cache
    size as below the page size; the default profile is the seed's."""
    script = write(tmp_path, [json.dumps(
        {"execute": "migrate-set-cache-size", "arguments": {"value": -1}})])
    seed = migspec("run", str(script))
    fixed = migspec("run", "--profile", "fixed", str(script))
    assert json.loads(seed.stdout)["error"]["desc"] == (
        "Parameter 'cache size' expects exceeds guest ram size ")
    assert json.loads(fixed.stdout)["error"]["desc"] == (
        "Parameter 'cache size' expects is smaller than page size")


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"migspec": "teleport"}),
        json.dumps({"migspec": "advance"}),
        json.dumps({"migspec": "advance", "ms": 5, "extra": 1}),
        json.dumps({"migspec": "advance", "ms": -1}),
        json.dumps({"migspec": "env", "no_such_knob": 1}),
        json.dumps({"migspec": "step", "actor": "thread"}),
        json.dumps({"migspec": "vm", "runstate": "flying"}),
        json.dumps({"migspec": "feed", "outcome": "complete"}),
    ],
)
def test_run_bad_line(tmp_path: Path, bad: str) -> None:
    """A bad third line (not JSON, not an object, unknown directive, missing,
    unexpected or invalid directive arguments, a step or feed with nothing to act
    on) exits 2 with an error naming the file and line 3, and no traceback."""
    script = write(tmp_path, [
        json.dumps({"execute": "query-migrate"}),
        "# comment",
        bad,
        json.dumps({"execute": "query-migrate"}),
    ])
    done = migspec("run", str(script))
    assert done.returncode == 2
    assert f"{script}:3:" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stdout


def test_run_missing_file(tmp_path: Path) -> None:
    """An unreadable script exits 2 with a message and no traceback."""
    done = migspec("run", str(tmp_path / "absent.jsonl"))
    assert done.returncode == 2
    assert "absent.jsonl" in done.stderr
    assert "Traceback" not in done.stderr


def test_verify_json() -> None:
    """MIG-SETSTATE-001, MIG-WITNESS-003: `migspec verify --json` exits 0 and prints
    a JSON document with "ok": true and a list of passed checks."""
    done = migspec("verify", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] is True
    assert doc["checks"]
    assert all(c["ok"] is True for c in doc["checks"])


def test_explore_full_surface_with_a_bound() -> None:
    """`explore --scenario full-surface --bound 1 --json` exhausts the bounded
    scenario (fixed: no violation) and reports its size and memory; --bound
    is refused where it means nothing, with exit status 2 and one line."""
    done = migspec("explore", "--scenario", "full-surface", "--bound", "1", "--profile",
                   "fixed", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (run,) = doc["runs"]
    assert run["scenario"] == "full-surface" and run["complete"] and run["violations"] == []
    assert run["worlds"] < run["places"] <= run["states"] < run["edges"]
    assert run["peak_mib"] > 0
    for args, text in [
        (["--bound", "2"], "--bound sizes a bounded scenario (full-surface); no --scenario"),
        (["--scenario", "migrate-cancel", "--bound", "2"], '"migrate-cancel" has no bound'),
        (["--scenario", "full-surface", "--bound", "0"], "must be at least 1, not 0"),
        (["--scenario", "full-surface", "--max-states", "-3"], "must be at least 1, not -3"),
    ]:
        bad = migspec("explore", *args, "--quiet")
        assert bad.returncode == 2, args
        assert text in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


def test_explore_stops_at_max_states() -> None:
    """--max-states bounds a run: it ends incomplete, which is a problem
    (exit status 1), and says so."""
    done = migspec("explore", "--scenario", "full-surface", "--bound", "1", "--profile",
                   "fixed", "--max-states", "1000", "--json", "--quiet")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["runs"][0]["complete"] is False
    assert doc["problems"] == ["fixed/full-surface: state bound 1000 reached"]
