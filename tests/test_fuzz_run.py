"""Fuzzing `migspec run` in-process (issue 8): malformed and mostly
well-typed script lines, QMP commands and directives go through the command
line's own reader and printer (``migspec.cli.run_stream``), and every run

- lets no exception escape (a script error, exit status 2, is fine),
- prints only lines that are JSON objects (NaN and Infinity refused), and
- ends within :data:`MAX_STEPS` engine steps (``reference.scheduler.step``).

Budgets are fixed and the runs derandomized, so every machine draws the same
examples: :data:`EXAMPLES` per test, :data:`TOTAL_EXAMPLES` in all, each a
script of one to six lines (MIG-QMP-005, MIG-QMP-002, MIG-QMP-003).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migspec.cli import run_stream
from migspec.reference import scheduler
from migspec.reference.environment import COMPLETION_ERRORS, CONNECT_OUTCOMES
from migspec.reference.script import DIRECTIVES
from migspec.reference.thread import PROGRAM_COUNTERS
from migspec.spec.capabilities import Capability
from migspec.spec.commands import COMMANDS, ArgType
from migspec.spec.runstates import RunState

#: Examples per test; five tests draw :data:`TOTAL_EXAMPLES` scripts.
EXAMPLES = 2_000
TOTAL_EXAMPLES = 5 * EXAMPLES
#: No script of the fuzzer needs more engine steps than this: settle and
#: advance are drawn up to 10 s of virtual time, and `step until` gives up
#: after 100,000 steps.
MAX_STEPS = 200_000

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Figures for the report (read with `pytest -s`).
STATS: dict[str, int] = {
    "examples": 0, "lines": 0, "exit 2": 0, "output lines": 0, "most steps": 0}


# -- checking one run --------------------------------------------------------------------
class StepCounter:
    """Counts calls of ``reference.scheduler.step`` (every engine step goes
    through it: the engine's waits, settle, advance and the step directive)."""

    def __init__(self) -> None:
        self.count = 0
        self.real = scheduler.step

    def __call__(self, world: Any, move: Any) -> None:
        self.count += 1
        self.real(world, move)


@pytest.fixture(scope="module")
def counter() -> Iterator[StepCounter]:
    patch = pytest.MonkeyPatch()
    steps = StepCounter()
    patch.setattr(scheduler, "step", steps)
    yield steps
    patch.undo()
    print(f"\nfuzz: {STATS}")


def strict_json(line: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def check_run(data: bytes, steps: StepCounter, profile: str = "seed") -> None:
    """Run ``data`` as `migspec run` does and check the three promises."""
    out: list[str] = []
    steps.count = 0
    code = run_stream(io.BytesIO(data), "<fuzz>", profile, out.append)
    assert code in (0, 2)
    for line in out:
        assert "\n" not in line
        assert isinstance(strict_json(line), dict)
    assert steps.count <= MAX_STEPS
    STATS["examples"] += 1
    STATS["lines"] += data.count(b"\n") + (not data.endswith(b"\n"))
    STATS["exit 2"] += code == 2
    STATS["output lines"] += len(out)
    STATS["most steps"] = max(STATS["most steps"], steps.count)


# -- JSON text with tokens Python's json cannot write ----------------------------------------
@dataclass(frozen=True)
class Raw:
    """Text written as it is (a token QEMU's lexer may refuse)."""

    text: str


@dataclass(frozen=True)
class Obj:
    """An object as a list of members, so keys may repeat."""

    pairs: tuple[tuple[str, Any], ...]


def render(value: Any) -> str:
    """JSON text of ``value`` (Raw tokens as they are)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return json.dumps(value)


NASTY = [
    "NaN", "Infinity", "-Infinity", "nan", "inf", "1e400", "-1e400", "1e-400", "9" * 400,
    "9" * 5000, "1e" + "9" * 5000,
    "-" + "9" * 320, "9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "0e5", "01", "1.", "-", "+1", ".5", "'x'", "%d", "nul", "tru", "\x00", '"\\ud800"',
    '"\\u00e9"', '"\u2028\u0085"', '"\x01\t"', "[", "]", "{", "}", ",", ":", '"', "\\",
    "\f", "\v", "\r", "-0", "0.0", "1E5", "[" * 50 + "]" * 50, "[" * 1025 + "]" * 1025,
    "{\"a\": " * 1025 + "1" + "}" * 1025,
]
nasty = st.sampled_from(NASTY).map(Raw)
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(["execute", "arguments", "id", "migspec", "vm", "value", "uri"]),
                 st.text(max_size=6))


def json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(st.tuples(keys, children), max_size=4).map(lambda p: Obj(tuple(p))),
        ),
        max_leaves=10,
    )


anything = json_values(st.one_of(scalars, scalars, nasty))

URIS = ["exec:cat > /dev/null", "tcp:127.0.0.1:4444", "tcp:0:4444", "unix:/tmp/m.sock",
        "fd:mig", "rdma:host:1", "defer", "gopher:x", "", "tcp:", "exec:"]
VMS = ["source", "destination", "d2", ""]


def typed(kind: ArgType, garbage: bool = True) -> st.SearchStrategy[Any]:
    """A value of the right kind, or (``garbage``) sometimes anything."""
    right: st.SearchStrategy[Any]
    if kind is ArgType.STRING:
        right = st.one_of(st.sampled_from(URIS), st.text(max_size=8))
    elif kind in (ArgType.INT, ArgType.OCTETS):
        right = st.one_of(st.integers(-5, 2**40),
                          st.sampled_from([0, 1, 2**63 - 1, -(2**63), 4096, 2**31]),
                          st.sampled_from(["9223372036854775808", "1e3", "-1"]).map(Raw))
    elif kind is ArgType.NUMBER:
        right = st.one_of(st.floats(-1e6, 1e20), st.integers(-10, 10**6),
                          st.sampled_from(["1e400", "-1e400", "1e308", "9" * 400]).map(Raw))
    elif kind is ArgType.BOOL:
        right = st.booleans()
    else:
        right = anything
    return st.one_of(right, right, right, anything) if garbage else right


capability_items = st.lists(
    st.one_of(
        st.builds(lambda c, s: Obj((("capability", c), ("state", s))),
                  st.sampled_from([c.value for c in Capability] + ["bogus"]), st.booleans()),
        anything,
    ),
    max_size=4,
)


@st.composite
def commands(draw: st.DrawFn, garbage: bool = True) -> Any:
    """A QMP command object: a declared command with typed arguments, and
    (``garbage``) now and then a wrong name, type or member."""
    decl = draw(st.sampled_from(COMMANDS))
    name: Any = draw(st.one_of(st.just(decl.name), st.just(decl.name), st.just(decl.name),
                               st.sampled_from(["nope", "", "query-migrate"]), anything)
                     if garbage else st.just(decl.name))
    args: list[tuple[str, Any]] = []
    for arg in decl.args:
        if draw(st.integers(0, 4)) == 0:
            continue  # left out
        value = (draw(st.one_of(capability_items, anything) if garbage else capability_items)
                 if decl.name == "migrate-set-capabilities" else draw(typed(arg.kind, garbage)))
        args.append((arg.name, value))
    if garbage and draw(st.integers(0, 9)) == 0:
        args.append((draw(keys), draw(anything)))
    members: list[tuple[str, Any]] = [("execute", name)]
    with_arguments: bool = draw(st.booleans())
    if args or with_arguments:
        members.append(("arguments", Obj(tuple(args))))
    if draw(st.booleans()):
        members.append(("id", draw(anything if garbage else scalars)))
    if garbage and draw(st.integers(0, 9)) == 0:
        members.append((draw(keys), draw(anything)))
    return Obj(tuple(draw(st.permutations(members))))


# Any size: the RAM model rounds up to whole pages (issue 8 made odd sizes
# stall settle before).
ram_sizes = st.integers(0, 16 << 20)
# Up to beyond what the channel carries: a migration that never converges
# (settle's max_ms stays small, so such a run ends at its time bound).
dirty_rates = st.integers(0, 4_000_000_000)
ENV_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "ram_bytes": ram_sizes,
    "dirty_rate": dirty_rates,
    "bandwidth": st.integers(0, 10**10),
    "setup_ms": st.integers(0, 1000),
    "device_bytes": st.integers(0, 10**6),
    "connect": st.sampled_from([*CONNECT_OUTCOMES, "bogus"]),
    "connect_delay_ms": st.integers(0, 1000),
    "connect_error": st.text(max_size=10),
    "channel_error": st.booleans(),
    "completion_error": st.sampled_from([*COMPLETION_ERRORS, "bogus"]),
    "instant": st.booleans(),
    "invalidate_error": st.booleans(),
}
RUNSTATES = [r.value for r in RunState] + ["flying"]
VM_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "runstate": st.sampled_from(RUNSTATES),
    "autostart": st.booleans(),
    "global_state_optional": st.booleans(),
    "blockers": st.lists(st.text(max_size=8), max_size=2),
    "unmigratable": st.one_of(st.none(), st.text(max_size=8)),
    "fds": st.lists(st.sampled_from(["mig", "x"]), max_size=2),
    "vm": st.sampled_from(VMS),
}
DIRECTIVE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "max_ms": st.integers(0, 10_000),
    "ms": st.integers(0, 10_000),
    "uri": st.sampled_from(URIS),
    "vm": st.sampled_from(VMS),
    "command": commands(garbage=False),
    "actor": st.sampled_from(["thread", "main", "x"]),
    "task": st.sampled_from(["qmp", "connect", "bh", "join", "accept", "load", "1", "2", "9"]),
    "until": st.sampled_from([*PROGRAM_COUNTERS, "x"]),
    "outcome": st.sampled_from(["complete", "fail", "x"]),
    "runstate": st.one_of(st.none(), st.sampled_from(RUNSTATES)),
    # MIG-DEST-001: any name (long, empty, with NUL), any size, every failure point
    "section": st.one_of(st.none(), st.fixed_dictionaries(
        {"name": st.one_of(st.sampled_from(RUNSTATES), st.text(max_size=120))},
        optional={"size": st.integers(-1, 2**32)})),
    "at": st.sampled_from(["before", "section", "after", "x"]),
}


def sometimes_anything(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, strategy, anything)


@st.composite
def directives(draw: st.DrawFn, garbage: bool = True) -> Any:
    """A directive: a known name and keys with typed values, and
    (``garbage``) now and then a wrong name, key or value."""
    name = draw(st.sampled_from(sorted(DIRECTIVES)))
    members: list[tuple[str, Any]] = [
        ("migspec", draw(st.one_of(st.just(name), st.just(name), st.just(name), st.just(name),
                                   st.sampled_from(["bogus", ""]), anything)
                         if garbage else st.just(name)))]
    required, optional = DIRECTIVES[name]
    if name == "env":
        table = ENV_VALUES
    elif name == "vm":
        table = VM_VALUES
    else:
        table = {k: DIRECTIVE_VALUES[k] for k in sorted(required | optional)}
    for key in sorted(table):
        # settle's max_ms is always drawn: a bare settle waits up to an hour of
        # virtual time, ~200,000 steps when a migration is stalled (bounded,
        # but too slow for a fuzz budget).
        if key in required or key == "max_ms" or draw(st.integers(0, 2)) == 0:
            value = sometimes_anything(table[key]) if garbage else table[key]
            members.append((key, draw(value)))
    if garbage and draw(st.integers(0, 14)) == 0:
        members.append((draw(keys), draw(anything)))
    return Obj(tuple(members))


@st.composite
def mutated(draw: st.DrawFn, lines: st.SearchStrategy[Any]) -> str:
    """A well-formed line with a few cuts and insertions."""
    text = render(draw(lines))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 4))
        put = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=3)))
        text = text[:at] + put + text[at + cut:]
    return text


def script(lines: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """One to six lines, as the bytes of a file (surrogates make it non-UTF-8)."""
    return st.tuples(st.lists(lines, min_size=1, max_size=6), st.booleans()).map(
        lambda parts: ("\n".join(parts[0]) + ("\n" if parts[1] else "")).encode(
            "utf-8", "surrogatepass"))


comments = st.sampled_from(["", "   ", "# a comment", "\t# indented", "\r"])
well_typed = st.one_of(commands().map(render), commands().map(render),
                       directives().map(render), directives().map(render),
                       st.just('{"migspec": "settle", "max_ms": 10000}'),
                       comments)


clean = st.one_of(commands(garbage=False).map(render), commands(garbage=False).map(render),
                  directives(garbage=False).map(render),
                  st.just('{"migspec": "settle", "max_ms": 10000}'))

#: Openings that leave a migration running, so the lines after them race it.
PRELUDES = [
    ['{"execute": "migrate-set-capabilities", "arguments": {"capabilities": '
     '[{"capability": "events", "state": true}]}}',
     '{"migspec": "env", "ram_bytes": 1048576, "bandwidth": 10000000}',
     '{"migspec": "incoming", "uri": "tcp:0:4444"}',
     '{"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:4444"}}'],
    ['{"migspec": "env", "ram_bytes": 4194304, "bandwidth": 1000000, "dirty_rate": 100000}',
     '{"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}}'],
    ['{"migspec": "env", "connect": "delayed", "connect_delay_ms": 50, "ram_bytes": 65536}',
     '{"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:4444"}}'],
    [],
]


# -- the tests -----------------------------------------------------------------------------
@FUZZ
@given(data=script(well_typed))
def test_well_typed_scripts(counter: StepCounter, data: bytes) -> None:
    """Mostly well-typed commands and directives, interleaved."""
    check_run(data, counter)


@FUZZ
@given(prelude=st.sampled_from(PRELUDES), data=script(clean))
def test_well_typed_scripts_after_a_migration_starts(
    counter: StepCounter, prelude: list[str], data: bytes
) -> None:
    """Well-typed lines (with wrong values the spec refuses, not wrong types)
    after openings that leave a migration running."""
    check_run("".join(line + "\n" for line in prelude).encode() + data, counter)


@FUZZ
@given(data=script(st.one_of(mutated(commands()), mutated(directives()), well_typed)))
def test_mutated_lines(counter: StepCounter, data: bytes) -> None:
    """Well-formed lines cut and spliced with tokens QEMU's lexer refuses."""
    check_run(data, counter)


@FUZZ
@given(data=script(st.one_of(anything.map(render), commands().map(render))),
       profile=st.sampled_from(["seed", "fixed"]))
def test_any_json_and_raw_tokens(counter: StepCounter, data: bytes, profile: str) -> None:
    """Arbitrary JSON-ish values (not objects too) and commands, on both profiles."""
    check_run(data, counter, profile)


@FUZZ
@given(data=st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(st.binary(max_size=40), well_typed.map(str.encode)), max_size=6)
    .map(b"\n".join),
))
def test_raw_bytes(counter: StepCounter, data: bytes) -> None:
    """Bytes: invalid UTF-8, NUL, CR, form feeds, cut multi-byte sequences."""
    check_run(data, counter)
