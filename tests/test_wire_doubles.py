"""MIG-QMP-007, DEF-QMP-DOUBLE-FORMAT: doubles on the wire, against an oracle
that shares no code with the engine.

QEMU 2.4's ``to_json`` (``qobject/qjson.c``) prints a double with ``%f``
(six decimals, the binary value rounded to nearest, ties to even, as glibc
does) and strips the trailing zeros, then the dot. The oracle computes that
with :mod:`decimal` from the exact binary value, without ``%`` formatting.
The end-to-end checks read the id out of the text ``migspec run`` prints,
so a reply that carries the right value but prints it another way (``0.0``
for ``0``, ``1e-07`` for ``0``) fails.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from hypothesis import example, given
from hypothesis import strategies as st

from migspec.reference import wire
from migspec.reference.engine import Engine
from migspec.reference.script import parse, run_script

finite = st.floats(allow_nan=False, allow_infinity=False)


def oracle_24(value: float) -> str:
    """C's ``%f`` of ``value``, then QEMU 2.4's strip of zeros and dot."""
    with localcontext() as ctx:  # room for the 309 digits of the largest double
        ctx.prec = 400
        exact = Decimal(value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
        digits = format(abs(exact), "f")  # Decimal's own exact formatting
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    whole, _, fraction = digits.partition(".")
    fraction = fraction.ljust(6, "0").rstrip("0")
    return sign + whole + ("." + fraction if fraction else "")


def id_text(line: str) -> str:
    m = re.search(r', "id": (.*)\}$', line)
    assert m is not None, line
    return m.group(1)


def echoed_text(profile: str, ident: float) -> str:
    """The id's text in the line ``migspec run --profile PROFILE`` prints."""
    cmd = json.dumps({"execute": "query-status", "id": ident})
    out = [wire.dumps(o) for o in run_script(Engine(profile), parse(cmd))]
    assert len(out) == 1
    return id_text(out[0])


@given(finite)
@example(0.0).via("the issue: 0.0 printed as 0.0")
@example(8.0).via("the issue: 8.0 printed as 8.0")
@example(80.6646153846).via("README's mbps")
@example(-0.0).via("negative zero")
@example(1e-7).via("below half a millionth")
@example(0.0000125).via("a tie in binary? (not exactly)")
@example(1e300).via("huge")
def test_double_text_is_c_percent_f_stripped(value: float) -> None:
    """MIG-QMP-007: the engine's text of a double is the oracle's."""
    assert wire.double_text(value) == oracle_24(value)


@given(finite)
@example(0.0).via("0 prints as 0")
@example(1e-7).via("prints as 0")
@example(0.000012).via("json.dumps would write 1.2e-05")
@example(1e20).via("json.dumps would write 1e+20")
def test_seed_echoes_an_id_as_qemu_24_prints_it(value: float) -> None:
    """MIG-QMP-007: end to end, the id of a reply in ``migspec run``'s output
    is QEMU 2.4's text, and a JSON reader gets the value that text means."""
    text = echoed_text("seed", value)
    assert text == oracle_24(value)
    assert json.loads(text) == json.loads(oracle_24(value))


@given(finite)
@example(0.1).via("0.10000000000000001 on the real 7.2")
@example(1e-7).via("9.9999999999999995e-08 on the real 7.2")
def test_repaired_profiles_echo_an_id_that_reads_back(value: float) -> None:
    """DEF-QMP-DOUBLE-FORMAT repaired (fixed, qemu-7.2): the id reads back as
    the very double sent, in C's ``%.17g`` form (17 significant digits at
    most, no trailing dot)."""
    for profile in ("fixed", "qemu-7.2"):
        text = echoed_text(profile, value)
        assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
        assert re.fullmatch(r"-?\d(\.\d*[1-9])?(e[-+]\d\d+)?|-?\d{1,17}(\.\d+)?", text), text
        assert len(re.sub(r"e.*|[-.]", "", text).lstrip("0")) <= 17
