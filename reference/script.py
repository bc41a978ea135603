"""Scripts: JSON lines of QMP commands and ``{"migspec": ...}`` directives,
replayed against the reference engine.

A counterexample found by the explorer, a test scenario and a seed-defect
witness are all scripts, so the same trace runs as a test, against the
reference, and against a real QEMU (where the directives map to waiting and
to environment set-up).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from migspec.reference.engine import DEFAULT_SETTLE_MS, Engine, EngineError, tick
from migspec.reference.handlers import Unsupported
from migspec.reference.world import DESTINATION, SOURCE

#: Directive name -> (required keys, optional keys).
DIRECTIVES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "settle": (frozenset(), frozenset({"max_ms"})),
    "advance": (frozenset({"ms"}), frozenset()),
    "env": (frozenset(), frozenset({"*"})),
    "vm": (frozenset(), frozenset({"*"})),
    "incoming": (frozenset({"uri"}), frozenset({"vm"})),
    "qmp": (frozenset({"command"}), frozenset({"vm"})),
    "submit": (frozenset({"command"}), frozenset({"vm"})),
    "step": (frozenset(), frozenset({"vm", "actor", "task", "until"})),
    "feed": (frozenset({"outcome"}), frozenset({"vm", "runstate"})),
    "trace": (frozenset(), frozenset({"vm"})),
    "tick": (frozenset(), frozenset()),
}


class ScriptError(ValueError):
    """A script line that cannot run; names the line."""

    def __init__(self, where: str, line: int, message: str) -> None:
        super().__init__(f"{where}:{line}: {message}")
        self.line = line


@dataclass(frozen=True)
class ScriptLine:
    """One parsed line and its 1-based line number."""

    number: int
    obj: dict[str, Any]


def parse(text: str, where: str = "<script>") -> list[ScriptLine]:
    """Parse a JSON-lines script; blank lines and ``#`` comments are skipped."""
    lines: list[ScriptLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise ScriptError(where, number, f"not JSON: {err.msg}") from None
        if not isinstance(obj, dict):
            raise ScriptError(where, number, "a line must be a JSON object")
        if "migspec" in obj:
            _check_directive(where, number, obj)
        lines.append(ScriptLine(number, obj))
    return lines


def _check_directive(where: str, number: int, obj: dict[str, Any]) -> None:
    name = obj["migspec"]
    if not isinstance(name, str) or name not in DIRECTIVES:
        raise ScriptError(
            where, number, f"unknown directive {name!r} (known: {', '.join(sorted(DIRECTIVES))})"
        )
    required, optional = DIRECTIVES[name]
    keys = set(obj) - {"migspec"}
    missing = required - keys
    if missing:
        raise ScriptError(where, number, f"{name} needs {', '.join(sorted(missing))}")
    if "*" not in optional:
        extra = keys - required - optional
        if extra:
            raise ScriptError(where, number, f"{name} does not take {', '.join(sorted(extra))}")


def _int(obj: dict[str, Any], key: str, default: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EngineError(f"{obj['migspec']} {key} must be a non-negative integer")
    return value


def run_line(engine: Engine, line: ScriptLine) -> list[dict[str, Any]]:
    """Run one line; the output lines it produced."""
    obj = line.obj
    name = obj.get("migspec")
    if name is None:
        engine.execute(obj)
        return engine.output()
    vm = SOURCE
    if name == "vm" or "vm" in DIRECTIVES[name][1]:
        vm = obj.get("vm", DESTINATION if name in ("incoming", "feed") else SOURCE)
        if not isinstance(vm, str):
            raise EngineError(f"{name} vm must be a string")
    extra: list[dict[str, Any]] = []
    if name == "settle":
        if not engine.settle(_int(obj, "max_ms", DEFAULT_SETTLE_MS)):
            extra.append({"migspec": "settle", "quiescent": False, "clock_ms": engine.world.ms})
    elif name == "advance":
        engine.advance(_int(obj, "ms", 0))
    elif name == "env":
        engine.set_env({k: v for k, v in obj.items() if k != "migspec"})
    elif name == "vm":
        engine.configure_vm(vm, {k: v for k, v in obj.items() if k not in ("migspec", "vm")})
    elif name == "incoming":
        if not isinstance(obj["uri"], str):
            raise EngineError("incoming uri must be a string")
        engine.incoming(obj["uri"], vm)
    elif name == "qmp":
        engine.execute(obj["command"], vm)
    elif name == "submit":
        engine.submit(obj["command"], vm)
    elif name == "step":
        task = obj.get("task")
        if task is not None and not isinstance(task, str):
            raise EngineError("step task must be a string")
        until = obj.get("until")
        if until is None:
            engine.step(vm, str(obj.get("actor", "thread")), task)
        elif obj.get("actor", "thread") != "thread" or "task" in obj:
            raise EngineError("step until steps the migration thread: it takes no task, "
                              "and no actor but 'thread'")
        else:
            engine.step_thread_until(vm, until)
    elif name == "feed":
        runstate = obj.get("runstate")
        if runstate is not None and not isinstance(runstate, str):
            raise EngineError("feed runstate must be a run-state name or null")
        engine.feed(vm, str(obj["outcome"]), runstate)
    elif name == "tick":
        if not tick(engine.world):
            raise EngineError("tick: nothing waits for time")
    elif name == "trace":
        engine.vm(vm)
        kept = []
        for who, entry in engine.world.trace:
            if who == vm:
                extra.append({"migspec": "trace", "vm": who, **entry})
            else:
                kept.append((who, entry))
        engine.world.trace[:] = kept
    return engine.output() + extra


def run_script(
    engine: Engine,
    lines: Iterable[ScriptLine],
    where: str = "<script>",
) -> Iterator[dict[str, Any]]:
    """Run every line; yields output lines in the order they happen."""
    for line in lines:
        try:
            produced = run_line(engine, line)
        except EngineError as err:
            raise ScriptError(where, line.number, str(err)) from None
        except Unsupported as err:
            raise ScriptError(where, line.number, f"unsupported: {err}") from None
        yield from produced


def replay(
    script: Iterable[dict[str, Any]], profile: str = "seed"
) -> tuple[Engine, list[dict[str, Any]]]:
    """Run script objects (as in :data:`migspec.spec.defects.DEFECTS`) on a new
    engine; the engine and every output line."""
    engine = Engine(profile)
    text = "\n".join(json.dumps(obj) for obj in script)
    out = list(run_script(engine, parse(text)))
    return engine, out
