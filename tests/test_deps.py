"""The dependency lock (constraints.txt) and tools/deps.py's pure parts."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _deps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migspec_tools_deps", ROOT / "tools" / "deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


deps = _deps()


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs: list[str] = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.extend(extra)
    return reqs


def test_parse_pins_and_diff() -> None:
    text = "# lock\n\nFoo_Bar==1.2\n-e /x\nbaz==3.0rc1\n"
    pins = deps.parse_pins(text)
    assert pins == {"foo-bar": "1.2", "baz": "3.0rc1"}
    assert deps.diff(pins, {"foo-bar": "1.3", "qux": "0.1"}) == [
        {"name": "baz", "locked": "3.0rc1", "found": None},
        {"name": "foo-bar", "locked": "1.2", "found": "1.3"},
        {"name": "qux", "locked": None, "found": "0.1"},
    ]
    with pytest.raises(ValueError, match="line 2"):
        deps.parse_pins("a==1\nb>=2\n")


def test_every_exact_pin_in_pyproject_is_the_locked_version() -> None:
    """A tool pinned in pyproject.toml and the lock never disagree (pip would
    refuse to install `-c constraints.txt -e '.[test]'`)."""
    locked = deps.parse_pins((ROOT / "constraints.txt").read_text())
    exact = [r for r in _pyproject_requirements() if "==" in r]
    assert len(exact) >= 6  # pytest, hypothesis, crosshair-tool, mypy, ruff, z3-solver
    for req in exact:
        name, version = (part.strip() for part in req.split("=="))
        assert locked[deps.normalise(name)] == version, req


def test_every_requirement_is_locked_and_within_its_range() -> None:
    """Every package pyproject.toml names is in the lock, at a version its
    lower bound admits (lower bounds are tested by `tools/deps.py lowest`)."""
    locked = deps.parse_pins((ROOT / "constraints.txt").read_text())
    for req in _pyproject_requirements():
        match = re.match(r"^([A-Za-z0-9._-]+)\s*(==|>=)\s*([0-9][0-9a-z.]*)$", req)
        assert match, f"unexpected requirement form {req!r}"
        name, op, bound = match.groups()
        have = locked[deps.normalise(name)]
        as_tuple = [tuple(int(p) for p in re.findall(r"\d+", v)) for v in (have, bound)]
        assert as_tuple[0] >= as_tuple[1] if op == ">=" else have == bound, req


def test_lowest_installs_the_lower_bound_of_every_range() -> None:
    lowest = deps.lowest_pins()
    assert "transitions==0.9.2" in lowest and "rich==13.0.0" in lowest
    assert all("==" in pin and ">=" not in pin for pin in lowest)
