"""Traceability: which engine code implements each requirement, which checks cover it.

Nothing is listed by hand. The collector reads the checkout's Python files
with :mod:`ast` and attributes each citation to the innermost function (or
class, or module) around it:

- a requirement ID in a function's docstring, body or comments (``MIG-X-001``;
  ``MIG-X-001..004`` and ``MIG-X-001/002`` name every ID in between);
- in the engine, a string literal naming a declared transition trigger or an
  error-catalogue key stands for that declaration's requirement.

What a citation is depends on where it sits: ``reference/`` is the engine;
``tests/`` and ``properties/`` are checks, of the kind their file and
decorators say (a CrossHair contract is a ``pre:``/``post:`` docstring in
``reference/decisions.py``). New files are picked up as they land: a
conformance scenario under ``properties/conform/`` is a check the day it
cites an ID. Each declared seed defect adds a check for its requirement: its
counterexample is replayed under every profile by ``migspec verify``.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from migspec.spec.defects import DEFECTS
from migspec.spec.errors import ERRORS
from migspec.spec.requirements import PROPERTIES, REQUIREMENT_BY_ID, REQUIREMENTS, Requirement
from migspec.spec.transitions import TRANSITIONS

#: The checkout: the folder holding ``migspec/`` and ``pyproject.toml``.
ROOT = Path(__file__).resolve().parent.parent.parent

_ID = re.compile(r"\b(MIG-[A-Z]+-)(\d{3})((?:(?:\.\.|/)\d{3})*)")

#: Kinds of check that count as covering a requirement; anything else found
#: under tests/ or properties/ is listed but does not count.
CHECK_KINDS = (
    "test", "test table", "Hypothesis rule", "Hypothesis invariant", "Hypothesis model",
    "CrossHair contract", "explorer property", "conformance scenario", "trace validation",
    "verify check", "defect witness", "property suite",
)


@dataclass(frozen=True, order=True)
class Site:
    """A place in the code that cites a requirement."""

    path: str  # relative to the checkout, '/' separated
    line: int
    name: str  # qualified function or class name, or "(module)"
    kind: str  # "engine" or one of CHECK_KINDS (or "mutant")


def expand(text: str) -> set[str]:
    """Every requirement ID ``text`` cites, ranges expanded (only existing IDs)."""
    found: set[str] = set()
    for m in _ID.finditer(text):
        prefix, first = m.group(1), int(m.group(2))
        ids = {first}
        last = first
        for sep, num in re.findall(r"(\.\.|/)(\d{3})", m.group(3)):
            n = int(num)
            ids |= set(range(last, n + 1)) if sep == ".." else {n}
            last = n
        found |= {f"{prefix}{i:03d}" for i in ids if f"{prefix}{i:03d}" in REQUIREMENT_BY_ID}
    return found


@dataclass(frozen=True)
class _Scope:
    start: int
    end: int
    name: str
    node: ast.AST


def _scopes(tree: ast.Module) -> list[_Scope]:
    """Functions and classes with their line spans (decorators included)."""
    out: list[_Scope] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                name = f"{prefix}{child.name}"
                out.append(_Scope(start, child.end_lineno or child.lineno, name, child))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def _named_calls(tree: ast.Module) -> list[_Scope]:
    """Calls that name what they declare: ``Scenario("race-cancel", ...)``, a first
    argument (or ``name=``) that is a string; for citations outside functions."""
    out: list[_Scope] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        callee = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        first: ast.expr | None = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg in ("name", "id")), None)
        if callee and isinstance(first, ast.Constant) and isinstance(first.value, str):
            out.append(_Scope(node.lineno, node.end_lineno or node.lineno,
                              f"{callee}({first.value!r})", node))
    return out


def _innermost(scopes: list[_Scope], line: int) -> _Scope | None:
    best: _Scope | None = None
    for sc in scopes:
        if sc.start <= line <= sc.end and (best is None or sc.start >= best.start):
            best = sc
    return best


def _decorators(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for d in getattr(node, "decorator_list", []):
        for sub in ast.walk(d):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif isinstance(sub, ast.Attribute):
                names.add(sub.attr)
    return names


def _kind(path: str, scope: _Scope | None) -> str:
    """What a citation at ``path`` inside ``scope`` is."""
    name = scope.name.rsplit(".", 1)[-1] if scope else ""
    if path.startswith("reference/"):
        return "engine"
    if path.startswith("tests/"):
        if scope is None:
            return "test table"
        return "test" if name.startswith("test") or ".test" in scope.name else "test helper"
    if path.startswith("properties/conform"):
        return "conformance scenario"
    file = path.rsplit("/", 1)[-1]
    if file == "mutants.py":
        return "mutant"
    if file == "stateful.py":
        decos = _decorators(scope.node) if scope else set()
        if "invariant" in decos or "checks" in decos:
            return "Hypothesis invariant"
        if decos & {"rule", "action", "initialize", "precondition"}:
            return "Hypothesis rule"
        return "Hypothesis model"
    if file == "model.py":
        return "Hypothesis model"
    if file in ("explorer.py", "exploration.py", "graphs.py", "scenarios.py"):
        return "explorer property"
    if file == "tracecheck.py":
        return "trace validation"
    if file in ("selfcheck.py", "prove.py"):
        return "verify check"
    return "property suite"


def _python_files(root: Path) -> Iterator[Path]:
    for folder in ("reference", "properties", "tests"):
        base = root / folder
        if base.is_dir():
            yield from sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _declared_literals() -> dict[str, set[str]]:
    """Trigger names and error keys, each with the requirement its declaration names."""
    out: dict[str, set[str]] = defaultdict(set)
    for t in TRANSITIONS:
        out[t.trigger] |= expand(t.requirement)
    for e in ERRORS:
        out[e.key] |= expand(e.requirement)
    return out


def _contract(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef):
        return False
    doc = ast.get_docstring(node) or ""
    return any(line.strip().startswith(("pre:", "post:")) for line in doc.splitlines())


@dataclass(frozen=True)
class Trace:
    """Every citation found, by requirement ID."""

    engine: dict[str, tuple[Site, ...]]
    checks: dict[str, tuple[Site, ...]]
    other: dict[str, tuple[Site, ...]]  # test helpers and mutants: listed, not counted
    files: tuple[str, ...]  # every file scanned, relative

    def gaps_engine(self, reqs: tuple[Requirement, ...] = REQUIREMENTS) -> list[Requirement]:
        return [r for r in reqs if not self.engine.get(r.id)]

    def gaps_checks(self, reqs: tuple[Requirement, ...] = REQUIREMENTS) -> list[Requirement]:
        return [r for r in reqs if not self.checks.get(r.id)]


def collect(root: Path = ROOT) -> Trace:
    """Scan the checkout at ``root``."""
    literals = _declared_literals()
    engine: dict[str, set[Site]] = defaultdict(set)
    checks: dict[str, set[Site]] = defaultdict(set)
    other: dict[str, set[Site]] = defaultdict(set)
    files: list[str] = []
    for path in _python_files(root):
        rel = path.relative_to(root).as_posix()
        files.append(rel)
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        scopes = _scopes(tree)
        calls = _named_calls(tree)

        def add(ids: set[str], line: int, kind: str | None = None, *, _rel: str = rel,
                _scopes: list[_Scope] = scopes, _calls: list[_Scope] = calls) -> None:
            scope = _innermost(_scopes, line)
            site_kind = kind or _kind(_rel, scope)
            named = _innermost(_calls, line) if scope is None else None
            where = scope or named
            site = Site(_rel, where.start if where else 1, where.name if where else "(module)",
                        site_kind)
            if site_kind == "engine":
                target = engine
            elif site_kind in CHECK_KINDS:
                target = checks
            else:
                target = other
            for rid in ids:
                target[rid].add(site)

        for number, line in enumerate(text.splitlines(), 1):
            ids = expand(line)
            if ids:
                add(ids, number)
        if rel.startswith("reference/"):
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    named = literals.get(node.value)
                    if named:
                        add(named, node.lineno)
            if rel == "reference/decisions.py":
                for sc in scopes:
                    if isinstance(sc.node, ast.FunctionDef) and _contract(sc.node):
                        doc = ast.get_docstring(sc.node) or ""
                        body = "\n".join(text.splitlines()[sc.start - 1:sc.end])
                        ids = expand(doc) | expand(body)
                        if ids:
                            add(ids, sc.start, "CrossHair contract")
    for d in DEFECTS:
        for rid in expand(d.requirement):
            checks[rid].add(Site("spec/defects.py", 0, d.id, "defect witness"))
    return Trace(
        {k: tuple(sorted(v)) for k, v in engine.items()},
        {k: tuple(sorted(v)) for k, v in checks.items()},
        {k: tuple(sorted(v)) for k, v in other.items()},
        tuple(files),
    )


@cache
def current() -> Trace:
    """The checkout's trace, computed once per process."""
    return collect()


def all_requirements() -> tuple[Requirement, ...]:
    return REQUIREMENTS + PROPERTIES
