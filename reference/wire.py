"""The JSON policy of the QMP front: how text becomes a command object, and
how objects become output lines (MIG-QMP-005).

QEMU 2.4 reads QMP with its own JSON code (``qobject/json-lexer.c``,
``json-streamer.c``, ``json-parser.c``); a script line goes through
:func:`decode`, which follows it where it matters to a client:

- **Literals.** The lexer knows ``true``, ``false``, ``null``, strings,
  numbers and the six operators; anything else (``NaN``, ``Infinity``,
  ``-Infinity``, ``nan``) is a lexer or parser error, which the monitor
  answers with "Invalid JSON syntax". After a ``0`` only ``.`` may follow
  (``[IN_ZERO]`` has no ``e`` transition), so ``0e5`` is not a number either.
  Raw control characters inside strings are accepted (``[IN_DQ_STRING]``
  takes bytes 1-0xFF); a NUL byte is not.
- **Integers** become ``QInt`` when ``strtoll`` fits them in int64; on
  ``ERANGE`` ``parse_literal`` falls through to ``strtod``, so a larger
  integer becomes a double, and one beyond the double range (309 digits or
  more) becomes infinity. **Floats** are ``strtod`` too: ``1e400`` is
  infinity, ``1e-400`` is 0. Python's ``float()`` of the token rounds as
  glibc's ``strtod`` does (correctly).
- **Nesting.** ``json_message_process_token`` counts open braces and open
  brackets separately and gives up when either passes ``MAX_NESTING``
  (``1ULL << 10``). QEMU 2.4 then hands the truncated token list to the
  parser, whose ``parser_context_peek_token`` runs off its end and fails its
  ``g_assert`` (the process aborts; QEMU 2.5 answers "Invalid JSON syntax"
  instead). migspec refuses such a line as not JSON.
- **Duplicate keys.** ``parse_pair`` stores each member with
  ``qdict_put_obj``, which replaces an existing key: the last one wins.
  :func:`decode` does the same and reports the repeated keys of the
  outermost object, so a caller can refuse them where it wants to.

Deliberate differences, for input no QMP client sends: single-quoted strings
and ``\\'`` escapes (a QEMU extension) and the ``%d``-style escapes of
``qobject_from_jsonf`` are refused; ``\\uXXXX`` surrogate pairs are combined
(QEMU 2.4 encodes each half on its own); several objects on one line are
refused, where QEMU's streamer would read them one after another.

The decoder keeps its own stack instead of recursing, so any nesting up to
the limit decodes on every Python version, and :func:`dumps` writes output
lines that are always JSON: ``allow_nan=False``, never ``NaN`` or
``Infinity`` (QEMU 2.4's writer would print ``inf``; see :func:`finite`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from migspec.spec import constants as C

#: ``MAX_NESTING`` of json-streamer.c (QEMU 2.4): open braces, and open
#: brackets, each at most this deep.
MAX_NESTING = 1 << 10

_SPACE = re.compile(r"[ \t\r\n]*")
# QEMU's lexer: -?(0|[1-9][0-9]*), then a fraction and an exponent, except
# that no exponent follows a bare 0 ([IN_ZERO] has no 'e').
_NUMBER = re.compile(r"(-?(?:0(?![eE0-9])|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_KEYWORD = re.compile(r"[a-z]+")
_MALFORMED = ("malformed number (QEMU 2.4's lexer wants digits after '-', '.' and 'e', "
              "and no exponent after a bare 0)")
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "null": None}


class WireError(ValueError):
    """Text that QEMU 2.4's JSON reader does not turn into one value."""

    def __init__(self, message: str, column: int | None = None) -> None:
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"{message}{where}")
        self.column = column


@dataclass(frozen=True)
class Decoded:
    """A decoded value and the keys that its outermost object repeats."""

    value: Any
    duplicate_keys: tuple[str, ...]


def qobject_number(value: Any) -> Any:
    """A value as QEMU 2.4's parser hands it on: an integer that does not fit
    int64 is parsed again by ``strtod`` (``JSON_INTEGER`` falls through to
    ``JSON_FLOAT`` on ``ERANGE``), so it becomes the nearest double, or
    +/-infinity beyond the double range; any other value is unchanged. For
    command objects built in Python (a target, a test) as for decoded text."""
    if type(value) is not int or C.INT64_MIN <= value <= C.INT64_MAX:
        return value
    try:
        return float(value)  # correctly rounded, as strtod
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class WideInt(float):
    """A JSON integer beyond int64 that fits uint64: the double QEMU 2.4's
    parser makes of it, remembering the integer, which QEMU 7.2's parser keeps
    as a uint64 QNum (qobject/json-parser.c:491-522 of 7.2; QEMU72-QMP-UINT64-LITERAL)."""

    exact: int

    def __new__(cls, exact: int) -> WideInt:
        new = super().__new__(cls, float(exact))
        new.exact = exact
        return new


# -- doubles on the wire (MIG-QMP-007) ----------------------------------------
def double_text(value: float, round_trip: bool = False) -> str:
    """A finite double as QEMU's JSON writer prints it.

    QEMU 2.4's ``to_json`` (``qobject/qjson.c``, ``QTYPE_QFLOAT``) prints
    ``%f``, drops trailing zeros and then a trailing dot: 0.0 is ``0``, 8.0
    ``8``, 80.664615 ``80.664615`` and 1e-7 ``0`` (DEF-QMP-DOUBLE-FORMAT).
    With ``round_trip`` it is ``%.17g``, as QEMU 7.2's ``json_writer_double``
    (``qobject/json-writer.c:240``) prints it, which reads back as the same
    double. Python's ``f`` and ``.17g`` format a float exactly as C's printf."""
    if round_trip:
        return f"{value:.17g}"
    text = f"{value:f}".rstrip("0")  # '%f' always has a '.': the strip stops there
    return text[:-1] if text.endswith(".") else text


class QDouble(float):
    """A double on the wire whose text ``json.dumps`` would not reproduce
    (``0.10000000000000001``, ``-0``, ``0.000012``): its value, as a client
    reads it back, and the text QEMU printed (:func:`dumps` writes the text)."""

    text: str

    def __new__(cls, text: str) -> QDouble:
        new = super().__new__(cls, float(text))
        new.text = text
        return new


def wire_double(value: float, round_trip: bool = False) -> Any:
    """What a client reads for a double the monitor prints: the value of its
    text (an int when the text has neither dot nor exponent, as JSON says),
    a :class:`QDouble` when ``json.dumps`` would print that value otherwise."""
    text = double_text(value, round_trip)
    parsed = json.loads(text)
    return parsed if json.dumps(parsed) == text else QDouble(text)


def echoed(value: Any, round_trip: bool = False, uint64: bool = False) -> Any:
    """A client's ``id`` as the monitor echoes it: parsed to QObjects and
    written back (MIG-QMP-007). An integer beyond int64 was a double for QEMU
    2.4's parser (:func:`qobject_number`; ``uint64``: QEMU 7.2 keeps one up to
    2^64-1, QEMU72-QMP-UINT64-LITERAL); every double is printed by
    :func:`wire_double`."""

    def leaf(item: Any) -> Any:
        if uint64 and isinstance(item, WideInt):
            return item.exact
        if uint64 and type(item) is int and C.INT64_MAX < item <= C.UINT64_MAX:
            return item
        item = qobject_number(item)
        if type(item) is float or isinstance(item, WideInt):
            return wire_double(item, round_trip)
        return item

    if not any(type(v) is float or isinstance(v, WideInt)
               or (type(v) is int and not C.INT64_MIN <= v <= C.INT64_MAX)
               for v in _walk(value)):
        return value
    holder: list[Any] = [value]
    todo: list[tuple[Any, Any]] = [(holder, 0)]
    while todo:  # a copy with every leaf mapped, without recursion
        parent, key = todo.pop()
        item = parent[key]
        if isinstance(item, dict):
            parent[key] = members = dict(item)
            todo.extend((members, k) for k in members)
        elif isinstance(item, list):
            parent[key] = items = list(item)
            todo.extend((items, i) for i in range(len(items)))
        else:
            parent[key] = leaf(item)
    return holder[0]


def _number(integer: str, fraction: str | None, exponent: str | None) -> int | float:
    # More than 19 digits is beyond int64 (no leading zeros); not converting
    # them to int also keeps clear of Python's 4,300-digit int() limit.
    if fraction is None and exponent is None and not integer.startswith("-") \
            and 19 <= len(integer) <= 20 and C.INT64_MAX < int(integer) <= C.UINT64_MAX:
        return WideInt(int(integer))
    if fraction is None and exponent is None and len(integer.lstrip("-")) <= 19:
        return qobject_number(int(integer))  # type: ignore[no-any-return]
    # strtod: correctly rounded, +-inf beyond the double range, 0 below it.
    return float(integer + (fraction or "") + (exponent or ""))


class _Frame:
    """An object or array being built."""

    __slots__ = ("dup", "key", "value")

    def __init__(self, value: dict[str, Any] | list[Any]) -> None:
        self.value = value
        self.key: str | None = None
        self.dup: list[str] = []


def decode(text: str) -> Decoded:
    """One JSON value from ``text`` (surrounded by JSON whitespace only), as
    QEMU 2.4's reader sees it; :class:`WireError` otherwise."""
    if "\0" in text:
        raise WireError("a NUL character is not JSON", text.index("\0") + 1)
    stack: list[_Frame] = []
    braces = brackets = 0
    pos = _skip(text, 0)
    result: Any = None
    top_dup: tuple[str, ...] = ()
    value: Any = None
    done = False
    # What the grammar allows next: a value, an object key (or '}' when
    # ``first``), or a ',' / closing operator after a member.
    expect = "value"
    first = False
    while True:
        pos = _skip(text, pos)
        if pos >= len(text):
            if done:
                break
            raise WireError("unexpected end of line", pos + 1)
        if done:
            if text[pos] in '{["-0123456789tfn':
                raise WireError("more than one JSON value on the line", pos + 1)
            raise WireError(f"unexpected character {json.dumps(text[pos])} after the value",
                            pos + 1)
        ch = text[pos]
        if expect == "after":
            frame = stack[-1]
            closer = "}" if isinstance(frame.value, dict) else "]"
            if ch == ",":
                pos += 1
                expect = "key" if closer == "}" else "value"
                first = False
                continue
            if ch != closer:
                raise WireError(f"expected ',' or '{closer}'", pos + 1)
            pos += 1
            if closer == "}":
                braces -= 1
            else:
                brackets -= 1
            finished = stack.pop()
            value = finished.value
            if not stack:
                result, done = value, True
                top_dup = tuple(sorted(set(finished.dup)))
                continue
            _store(stack[-1], value)
            expect = "after"
            continue
        if expect == "key":
            if ch == "}" and first:
                expect = "after"
                stack[-1].key = None
                # An empty object: close it through the "after" branch.
                continue
            if ch != '"':
                raise WireError("expected a string as object key", pos + 1)
            key, pos = _string(text, pos)
            pos = _skip(text, pos)
            if pos >= len(text) or text[pos] != ":":
                raise WireError("expected ':' after an object key", pos + 1)
            pos += 1
            stack[-1].key = key
            expect = "value"
            continue
        # expect == "value"
        if ch == "{" or ch == "[":
            if ch == "{":
                braces += 1
            else:
                brackets += 1
            if braces > MAX_NESTING or brackets > MAX_NESTING:
                raise WireError(
                    f"nested deeper than {MAX_NESTING} {'objects' if ch == '{' else 'arrays'} "
                    "(QEMU 2.4's MAX_NESTING)", pos + 1)
            stack.append(_Frame({} if ch == "{" else []))
            pos += 1
            if ch == "{":
                expect, first = "key", True
            else:
                after = _skip(text, pos)
                if after < len(text) and text[after] == "]":
                    pos = after
                    expect = "after"
                else:
                    expect = "value"
            continue
        if ch == '"':
            value, pos = _string(text, pos)
        elif m := _NUMBER.match(text, pos):
            if text[m.end():m.end() + 1] in (".", "e", "E"):  # 1. 1e 1.5e+
                raise WireError(_MALFORMED, pos + 1)
            value = _number(m.group(1), m.group(2), m.group(3))
            pos = m.end()
        elif m := _KEYWORD.match(text, pos):
            if m.group() not in _KEYWORDS:
                raise WireError(f"{m.group()} is not a JSON value", pos + 1)
            value = _KEYWORDS[m.group()]
            pos = m.end()
        else:
            word = re.match(r"-?[A-Za-z]+", text[pos:pos + 20])
            if word:
                raise WireError(f"{word.group()} is not a JSON value", pos + 1)
            if ch in "-0123456789":
                raise WireError(_MALFORMED, pos + 1)
            raise WireError(f"unexpected character {json.dumps(ch)}", pos + 1)
        if not stack:
            result, done = value, True
            continue
        _store(stack[-1], value)
        expect = "after"
    return Decoded(result, top_dup)


def _skip(text: str, pos: int) -> int:
    """The position after the JSON whitespace at ``pos``."""
    m = _SPACE.match(text, pos)
    return m.end() if m else pos


def _string(text: str, pos: int) -> tuple[str, int]:
    try:
        # The json module's own string scanner (C), with control characters
        # allowed as QEMU's [IN_DQ_STRING] allows them.
        value, end = json.decoder.scanstring(text, pos + 1, False)  # type: ignore[attr-defined]
        return str(value), int(end)
    except json.JSONDecodeError as err:
        msg = err.msg.removesuffix(" at")
        raise WireError(msg[0].lower() + msg[1:], err.pos + 1) from None


def _store(frame: _Frame, value: Any) -> None:
    if isinstance(frame.value, dict):
        key = frame.key
        assert key is not None
        if key in frame.value:
            frame.dup.append(key)
        frame.value[key] = value  # qdict_put_obj: the last one wins
    else:
        frame.value.append(value)


def loads(text: str) -> Any:
    """The value of :func:`decode`."""
    return decode(text).value


def _walk(value: Any) -> Iterator[Any]:
    """Every value inside ``value`` (itself included), without recursion."""
    todo = [value]
    while todo:
        item = todo.pop()
        yield item
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)


def finite(value: Any) -> bool:
    """No float inside ``value`` is NaN or infinite (so it prints as JSON)."""
    return all(not isinstance(v, float) or math.isfinite(v) for v in _walk(value))


def has_nan(value: Any) -> bool:
    """Some float inside ``value`` is NaN (no JSON text produces one)."""
    return any(isinstance(v, float) and math.isnan(v) for v in _walk(value))


def dumps(value: Any) -> str:
    """One output line: JSON text as ``json.dumps`` writes it, a
    :class:`QDouble` as its text, never ``NaN`` or ``Infinity`` (ValueError
    instead), at any nesting depth."""
    if any(isinstance(v, QDouble) for v in _walk(value)):
        return _dumps_deep(value)
    try:
        return json.dumps(value, allow_nan=False)
    except RecursionError:
        return _dumps_deep(value)


def _dumps_deep(value: Any) -> str:
    """:func:`dumps` with an explicit stack, for values nested too deep for
    the json module's recursion."""
    out: list[str] = []
    # Each entry: an iterator over a container's (separator, key, item) parts,
    # and the text that closes it.
    stack: list[tuple[Iterator[tuple[str, Any]], str]] = []

    def open_(item: Any) -> None:
        if isinstance(item, dict):
            out.append("{")
            parts = ((json.dumps(str(k)) + ": ", v) for k, v in item.items())
            stack.append((_separated(parts), "}"))
        elif isinstance(item, list | tuple):
            out.append("[")
            stack.append((_separated(("", v) for v in item), "]"))
        elif isinstance(item, QDouble):
            out.append(item.text)
        else:
            out.append(json.dumps(item, allow_nan=False))

    open_(value)
    while stack:
        parts, closer = stack[-1]
        nxt = next(parts, None)
        if nxt is None:
            stack.pop()
            out.append(closer)
            continue
        prefix, item = nxt
        out.append(prefix)
        open_(item)
    return "".join(out)


def _separated(parts: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    for i, (prefix, item) in enumerate(parts):
        yield (", " if i else "") + prefix, item


def text_of(value: Any, limit: int = 60) -> str:
    """``value`` as JSON text for a message (``null``, ``true``, ``"x"``),
    shortened to about ``limit`` characters."""
    try:
        text = dumps(value)
    except ValueError:  # a non-finite float, from a caller other than decode
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."
