"""The pytest plugin runs the conformance suite against a target named on the
command line: it passes for the reference and fails, naming a requirement ID
(here MIG-PARAMS-005), for a target that differs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

PLUGIN = "migspec.properties.pytest_plugin"


def _plugin_installed() -> bool:
    """The pytest11 entry point is installed (then -p would load it twice)."""
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


def _run(tmp_path: Path, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if not _plugin_installed():
        args += ["-p", PLUGIN]
    args += [f"--migspec-target={target}", "--migspec-hypothesis-profile=dev",
             "--pyargs", "migspec.properties.conformance", *extra]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_suite_passes_on_the_reference(tmp_path: Path) -> None:
    """--migspec-target=migspec.properties.targets:reference_fixed: all pass."""
    done = _run(tmp_path, "migspec.properties.targets:reference_fixed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_suite_fails_on_a_different_target(tmp_path: Path) -> None:
    """A target whose query-migrate-parameters lies fails with the requirement ID."""
    (tmp_path / "lying_target.py").write_text(textwrap.dedent('''
        from typing import Any

        from migspec.properties.targets import ReferenceTarget, Target


        class Lying(ReferenceTarget):
            def execute(self, cmd: Any) -> Any:
                reply = super().execute(cmd)
                if isinstance(cmd, dict) and cmd.get("execute") == "query-migrate-parameters":
                    return {"return": {**reply["return"], "compress-level": 7}}
                return reply


        def make() -> Target:
            return Lying("seed")
    '''))
    done = _run(tmp_path, "lying_target:make", "-x")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MIG-PARAMS-005" in done.stdout


def test_bad_target_option_is_a_usage_error(tmp_path: Path) -> None:
    """A --migspec-target that names nothing callable stops pytest with a usage error."""
    done = _run(tmp_path, "no_such_module_here:factory")
    assert done.returncode != 0
    assert "--migspec-target=no_such_module_here:factory" in done.stdout + done.stderr
