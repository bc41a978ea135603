"""Scripts: JSON lines of QMP commands and ``{"migspec": ...}`` directives,
replayed against the reference engine.

A counterexample found by the explorer, a test scenario and a seed-defect
witness are all scripts, so the same trace runs as a test, against the
reference, and against a real QEMU (where the directives map to waiting and
to environment set-up).

A script is read as bytes, one line at a time (:func:`read_lines`): lines end
at ``\n`` only, each is strict UTF-8 and at most :data:`MAX_LINE_BYTES` long,
and each line is decoded by the QMP front's JSON policy
(:mod:`migspec.reference.wire`, MIG-QMP-005) and run before the next is
read, so the output of earlier lines stands when a later line is bad.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from migspec.reference import wire
from migspec.reference.engine import (
    DEFAULT_SETTLE_MS,
    Engine,
    EngineError,
    StepBoundReached,
    tick,
)
from migspec.reference.handlers import Unsupported
from migspec.reference.world import DESTINATION, SOURCE

#: The longest script line, in bytes without its newline (1 MiB).
MAX_LINE_BYTES = 1 << 20

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
    "feed": (frozenset({"outcome"}), frozenset({"vm", "runstate", "section", "at"})),
    "trace": (frozenset(), frozenset({"vm"})),
    "tick": (frozenset(), frozenset()),
}


class ScriptError(ValueError):
    """A script line that cannot run; names the line."""

    def __init__(self, where: str, line: int, message: str) -> None:
        super().__init__(f"{where}:{line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class ScriptLine:
    """One parsed line and its 1-based line number."""

    number: int
    obj: dict[str, Any]


def read_lines(
    stream: IO[bytes], where: str = "<script>", limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, str]]:
    """Each line of ``stream`` with its 1-based number, read incrementally.

    Lines end at ``\n`` only (a U+2028 or U+0085 inside a JSON string, or a
    form feed, neither ends a line); each must be strict UTF-8 and at most
    ``limit`` bytes, or :class:`ScriptError` names it. Never reads more than
    ``limit + 1`` bytes ahead, so an endless line fails fast.
    """
    number = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        number += 1
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        elif len(raw) > limit:
            raise ScriptError(where, number, f"line longer than {limit} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ScriptError(
                where, number, f"not UTF-8: byte 0x{raw[err.start]:02x} at byte {err.start + 1}"
            ) from None
        yield number, text


def parse_line(number: int, text: str, where: str = "<script>") -> ScriptLine | None:
    """One line as a :class:`ScriptLine`; None for a blank or ``#`` line."""
    stripped = text.strip(" \t\r\n")  # JSON whitespace (and a CRLF's CR)
    if not stripped or stripped.startswith("#"):
        return None
    try:
        decoded = wire.decode(stripped)
    except wire.WireError as err:
        raise ScriptError(where, number, f"not JSON: {err}") from None
    obj = decoded.value
    if not isinstance(obj, dict):
        raise ScriptError(where, number, "a line must be a JSON object")
    if "migspec" in obj:
        if decoded.duplicate_keys:
            keys = ", ".join(wire.text_of(k) for k in decoded.duplicate_keys)
            raise ScriptError(where, number, f"a directive repeats key {keys}")
        _check_directive(where, number, obj)
        if obj["migspec"] in ("qmp", "submit"):
            _check_id(where, number, obj["command"])
    else:
        _check_id(where, number, obj)
    return ScriptLine(number, obj)


def directive_line(obj: dict[str, Any], where: str = "<qmp>") -> ScriptLine:
    """A directive object (``{"migspec": NAME, ...}``) checked as
    :func:`parse_line` checks a script line (``migspec serve``'s
    ``x-migspec-*`` commands); :class:`ScriptError` otherwise."""
    _check_directive(where, 0, obj)
    if obj["migspec"] in ("qmp", "submit"):
        _check_id(where, 0, obj["command"])
    return ScriptLine(0, obj)


def _check_id(where: str, number: int, cmd: Any) -> None:
    """Refuse an ``id`` that cannot be echoed as JSON (MIG-QMP-005)."""
    if isinstance(cmd, dict) and "id" in cmd and not wire.finite(cmd["id"]):
        raise ScriptError(
            where, number,
            "the id holds a number beyond the double range: QEMU 2.4 reads it as "
            "infinity (strtod) and would echo it as inf, which is not JSON",
        )


def parse_lines(
    lines: Iterable[tuple[int, str]], where: str = "<script>"
) -> Iterator[ScriptLine]:
    """Parse numbered lines lazily: a bad line raises when it is reached."""
    for number, text in lines:
        line = parse_line(number, text, where)
        if line is not None:
            yield line


def read_script(stream: IO[bytes], where: str = "<script>") -> Iterator[ScriptLine]:
    """The script lines of a byte stream, read and parsed one at a time."""
    return parse_lines(read_lines(stream, where), where)


def parse(text: str, where: str = "<script>") -> list[ScriptLine]:
    """Parse a whole JSON-lines script (as :func:`read_script` reads bytes);
    blank lines and ``#`` comments are skipped."""
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate: not UTF-8
    return list(read_script(io.BytesIO(data), where))


def _check_directive(where: str, number: int, obj: dict[str, Any]) -> None:
    name = obj["migspec"]
    if not isinstance(name, str) or name not in DIRECTIVES:
        raise ScriptError(
            where, number,
            f"unknown directive {wire.text_of(name)} (known: {', '.join(sorted(DIRECTIVES))})",
        )
    required, optional = DIRECTIVES[name]
    keys = set(obj) - {"migspec"}
    missing = required - keys
    if missing:
        raise ScriptError(where, number, f"{name} needs {', '.join(sorted(missing))}")
    if "*" not in optional:
        extra = keys - required - optional
        if extra:
            raise ScriptError(where, number, f"{name} does not take "
                              f"{', '.join(wire.text_of(k) for k in sorted(extra))}")


def _int(obj: dict[str, Any], key: str, default: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EngineError(f"{obj['migspec']} {key} must be a non-negative integer")
    return value


def _pass_time(engine: Engine, name: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """``settle`` or ``advance``; the notice it prints, if any (README)."""
    try:
        if name == "advance":
            engine.advance(_int(obj, "ms", 0))
        elif not engine.settle(_int(obj, "max_ms", DEFAULT_SETTLE_MS)):
            return [{"migspec": "settle", "quiescent": False, "clock_ms": engine.world.ms}]
    except StepBoundReached as bound:  # the step bound is never silent
        return [{"migspec": name, "quiescent": False, "bound": {"steps": bound.steps},
                 "clock_ms": engine.world.ms}]
    return []


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
    if name in ("settle", "advance"):
        extra += _pass_time(engine, name, obj)
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
        actor = obj.get("actor", "thread")
        if not isinstance(actor, str):
            raise EngineError("step actor must be 'main' or 'thread'")
        until = obj.get("until")
        if until is None:
            engine.step(vm, actor, task)
        elif obj.get("actor", "thread") != "thread" or "task" in obj:
            raise EngineError("step until steps the migration thread: it takes no task, "
                              "and no actor but 'thread'")
        else:
            engine.step_thread_until(vm, until)
    elif name == "feed":
        runstate = obj.get("runstate")
        if runstate is not None and not isinstance(runstate, str):
            raise EngineError("feed runstate must be a run-state name or null")
        outcome = obj["outcome"]
        if not isinstance(outcome, str):
            raise EngineError("feed outcome must be 'complete' or 'fail'")
        engine.feed(vm, outcome, runstate,
                    **{k: obj[k] for k in ("section", "at") if k in obj})
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
    text = "\n".join(wire.dumps(obj) for obj in script)
    out = list(run_script(engine, parse(text)))
    return engine, out
