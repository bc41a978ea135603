"""``migspec prove``: every CrossHair contract of the decision functions is
confirmed over all paths under the CI budget; refutations carry their
counterexample; and the IEEE shells compute exactly what the seed's double
arithmetic computes.

Contracts cover MIG-SETSTATE-001, MIG-PARAMS-001..004, MIG-SPEED-001/002,
MIG-DOWNTIME-001/002, MIG-CACHE-001..004, MIG-MIGRATE-001..008,
MIG-BLOCKER-001, MIG-CAPS-002, MIG-INCOMING-001..004, MIG-CANCEL-001,
MIG-CLEANUP-003/004, MIG-GLOBAL-001/002, MIG-INCOMING-008 and MIG-THREAD-005.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migspec.properties import prove as P
from migspec.reference import decisions as D
from migspec.spec import constants as C

#: Functions whose contracts the issue asks for, by topic.
REQUIRED = {
    "parameter ranges": ("parameter_in_range", "first_invalid_parameter"),
    "speed clamping": ("clamp_speed", "xfer_limit", "window_unlimited"),
    "downtime clamping": ("clamp_downtime_ns", "uint64_cast_x86"),
    "cache-size rules": ("cache_size_decision", "pow2floor"),
    "incoming run state": ("incoming_arrival", "incoming_runstate", "global_state_needed",
                           "runstate_transition_allowed"),
    "URI dispatch": ("outgoing_scheme", "incoming_dispatch"),
    "compare-and-swap": ("compare_and_swap",),
    "cancel loop": ("cancel_loop", "cancel_outcome", "thread_cas"),
    "cleanup": ("cleanup_decision",),
    "bandwidth, max_size, downtime arithmetic": ("window_bandwidth", "max_size_exact",
                                                 "expected_downtime_ms"),
    "migrate and capabilities": ("migrate_precheck", "capabilities_refused"),
}


@pytest.fixture(scope="module")
def report() -> Iterator[P.ProveReport]:
    """One CrossHair run over the whole module with the CI budget."""
    yield P.prove()


def test_every_contract_confirmed(report: P.ProveReport) -> None:
    """Each post-condition is 'Confirmed over all paths'."""
    bad = [f"{r.contract.key} {r.status}: {r.message}" for r in report.results
           if r.status != P.CONFIRMED]
    assert bad == []
    assert report.ok
    assert len(report.results) == len(P.find_contracts())


def test_required_contracts_exist(report: P.ProveReport) -> None:
    """Every rule the issue names carries at least one confirmed contract."""
    confirmed = {r.contract.function for r in report.results if r.status == P.CONFIRMED}
    for topic, functions in REQUIRED.items():
        for name in functions:
            assert name in confirmed, (topic, name)


def test_check_result(report: P.ProveReport) -> None:
    """The verify check passes and names the requirements the contracts cite."""
    result = P.check(report)
    assert result.ok
    assert "contracts confirmed over all paths" in result.detail
    assert "MIG-CACHE-003" in result.requirements


def test_contracts_carry_requirement_ids() -> None:
    """Every contract's function cites a requirement ID."""
    for contract in P.find_contracts():
        assert contract.requirements, contract.key


def test_refutation_has_counterexample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A false contract is refuted with the failing call; a true one confirmed."""
    (tmp_path / "migspec_false_contract.py").write_text(textwrap.dedent('''
        def halve(value: int) -> int:
            """MIG-SPEED-001 (for the test only).

            pre: 0 <= value <= 100
            post: __return__ * 2 == value
            post: __return__ <= value
            """
            return value // 2
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = P.prove("migspec_false_contract", jobs=1)
    by_condition = {r.contract.condition: r for r in result.results}
    refuted = by_condition["__return__ * 2 == value"]
    assert refuted.status == P.REFUTED
    assert refuted.counterexample.startswith("halve(")
    assert by_condition["__return__ <= value"].status == P.CONFIRMED
    assert not result.ok


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    """``migspec prove --json`` for one function: exit 0 and a JSON report."""
    assert P.main(["--json", "--function", "clamp_speed", "--jobs", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert doc["counts"]["confirmed"] == len(doc["contracts"]) == 3
    assert doc["budget"]["max_iterations"] == P.CI_BUDGET.max_iterations


def test_cli_unknown_function(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown function is a usage error."""
    assert P.main(["--function", "no_such_rule"]) == 2
    assert "no_such_rule" in capsys.readouterr().err


# -- the IEEE shells keep the seed's double arithmetic bit for bit ---------------------
def _plain_bandwidth_window(t: int, s: int, d: int) -> tuple[float, int]:
    bandwidth = float(t // s)
    return bandwidth, int(bandwidth * d / 1000000)


def _plain_downtime(seconds: float, repaired: bool) -> int:
    value = seconds * 1e9
    value = max(0.0, min(float(C.UINT64_MAX), value)) if value == value else value
    if repaired:
        return int(min(value, float(D.LARGEST_DOUBLE_BELOW_2_64)))
    if value != value:
        return 1 << 63
    if value < 2.0**63:
        return int(value)
    shifted = value - 2.0**63
    low = int(shifted) if shifted < 2.0**63 else 1 << 63
    return (low ^ (1 << 63)) & C.UINT64_MAX


_U63 = st.integers(min_value=0, max_value=C.INT64_MAX)


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(st.one_of(_U63, st.integers(0, 1 << 40)), st.integers(1, 1 << 40),
       st.one_of(_U63, st.integers(0, 10**10)))
def test_bandwidth_window_is_the_double_formula(t: int, s: int, d: int) -> None:
    """MIG-THREAD-005: bandwidth and max_size as C computes them (lines 977-980)."""
    assert D.bandwidth_window(t, s, d) == _plain_bandwidth_window(t, s, d)


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(st.integers(0, C.INT64_MAX), st.integers(0, 1 << 40),
       st.one_of(st.integers(0, 1 << 53).map(float), st.floats(0.5, 1e300), st.just(0.0)),
       st.integers(C.INT64_MIN, C.INT64_MAX), st.booleans())
def test_expected_downtime_is_the_double_formula(
    dirty: int, sent: int, bandwidth: float, previous: int, repaired: bool
) -> None:
    """MIG-THREAD-005: dirty_bytes_rate / bandwidth truncated (lines 989-991)."""
    if not (dirty and sent > C.EXPECTED_DOWNTIME_MIN_BYTES):
        plain = previous
    elif bandwidth == 0.0:
        plain = previous if repaired else C.INT64_MIN
    else:
        plain = int(dirty / bandwidth)
    assert D.expected_downtime(dirty, sent, bandwidth, previous, repaired) == plain


@settings(max_examples=800, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                 st.sampled_from([18.446744073709551615, 18446744073.709553, 2e10, 1e-9, 0.3,
                                  5e-324, -0.0])),
       st.booleans())
def test_downtime_is_the_double_formula(seconds: float, repaired: bool) -> None:
    """MIG-DOWNTIME-001/002: value*1e9 clamped and converted (lines 823-825)."""
    if repaired and math.isnan(seconds):
        with pytest.raises(ValueError):
            D.downtime_ns(seconds, repaired)
        return
    assert D.downtime_ns(seconds, repaired) == _plain_downtime(seconds, repaired)


def test_downtime_overflow_defect() -> None:
    """DEF-DOWNTIME-OVERFLOW: 2**64 ns becomes 0 in the seed, the repair keeps it large."""
    assert D.downtime_ns(2e10, repaired=False) == 0
    assert D.downtime_ns(2e10, repaired=True) == D.LARGEST_DOUBLE_BELOW_2_64
