"""``migspec conform --target qmp:PATH`` against ``migspec serve`` gives the
verdicts ``--target reference`` gives, for every requirement a source-only
QMP endpoint can show (issue 11; MIG-QMP-006)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from serving import served


def _conform(*args: str, out: Path) -> tuple[int, dict[str, dict[str, str]]]:
    proc = subprocess.run([sys.executable, "-m", "migspec", "conform", "--quiet",
                           "--json", str(out), *args],
                          capture_output=True, text=True, timeout=600, check=False)
    report = json.loads(out.read_text())
    requirements: dict[str, dict[str, str]] = report["requirements"]
    return proc.returncode, requirements


def test_conform_against_serve_agrees_with_the_reference() -> None:
    with tempfile.TemporaryDirectory(prefix="migspec-conform-serve-") as tmp:
        folder = Path(tmp)
        # The scenarios describe a 16 MiB guest (a qmp: endpoint's RAM cannot be
        # set from outside): the server is started with that guest.
        with served("--socket", str(folder / "s.sock"), "--profile", "seed",
                    "--env", "ram_bytes=16777216") as srv:
            code, via_serve = _conform("--target", f"qmp:{srv.path()}", "--profile", "seed",
                                       "--reset-command", "x-migspec-reset", "--reps", "5",
                                       out=folder / "serve.json")
        ref_code, via_reference = _conform("--target", "reference:seed",
                                           out=folder / "reference.json")
    assert (code, ref_code) == (0, 0)
    judged = {rid: v["verdict"] for rid, v in via_serve.items()
              if v["verdict"] not in ("UNSUPPORTED", "UNTESTED")}
    assert len(judged) >= 40  # most of the surface is reachable from the source alone
    assert set(judged.values()) == {"PASS"}
    assert {rid: via_reference[rid]["verdict"] for rid in judged} == judged


def test_reset_command_is_for_qmp_targets_only() -> None:
    proc = subprocess.run([sys.executable, "-m", "migspec", "conform", "--target", "reference",
                           "--reset-command", "x-migspec-reset"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "--reset-command is for qmp: targets only" in proc.stderr
    assert "Traceback" not in proc.stderr
