"""The double-arithmetic shells of ``reference/decisions.py`` and their integer
cores, called directly: migrate_set_downtime (seed lines 821-826) and the
migration thread's window arithmetic (lines 975-991, 1009-1012).

Expected values are worked out by hand from the seed's C on x86-64 (IEEE
doubles, round to nearest even; cvttsd2si for the conversions), chosen so that
every intermediate double is exact or its rounding is stated; none is computed
by the function under test.
"""

from __future__ import annotations

import math

import pytest

from migspec.reference import decisions as D

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
#: The largest double below 2**64 (53-bit mantissa: 2**64 - 2**11).
BELOW_2_64 = (1 << 64) - 2048
P53 = 1 << 53


# -- (uint64_t) of a double ------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, 0), (-0.0, 0), (0.99, 0), (1.0, 1), (1.5, 1), (12345.999, 12345),
        (float(P53), P53), (float(P53 + 2), P53 + 2),
        (2.0**63 - 1024.0, (1 << 63) - 1024), (2.0**63, 1 << 63),
        (2.0**63 + 2048.0, (1 << 63) + 2048), (float(BELOW_2_64), BELOW_2_64),
        (2.0**64, 0), (2.0**64 + 4096.0, 0), (1e20, 0), (1e308, 0), (math.inf, 0),
        (math.nan, 1 << 63),
    ],
)
def test_double_to_uint64_x86(value: float, expected: int) -> None:
    """MIG-DOWNTIME-002: (uint64_t)value on x86-64 (line 825): the integer part below
    2**64; 0 from 2**64 up, infinity included (DEF-DOWNTIME-OVERFLOW); NaN compares
    unordered, takes the direct cvttsd2si path and gives the integer indefinite
    0x8000000000000000."""
    assert D.double_to_uint64_x86(value) == expected


# -- migrate_set_downtime ----------------------------------------------------------------
@pytest.mark.parametrize("repaired", [False, True])
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, 0), (-0.0, 0), (-1.0, 0), (-1e300, 0), (-math.inf, 0), (1e-10, 0),
        (0.5, 500_000_000), (1.0, 1_000_000_000), (2.5, 2_500_000_000),
        # 0.3 is just below 3/10; times 1e9 it rounds back to 3e8 exactly
        # (the seed's initial max_downtime, line 325).
        (0.3, 300_000_000),
        # 1e19 = 2**19 * 5**19 is a double and below 2**64: kept as is.
        (1e10, 10**19),
    ],
)
def test_downtime_ns_in_range(seconds: float, repaired: bool, expected: int) -> None:
    """MIG-DOWNTIME-001: value *= 1e9 (line 823), MAX(0, MIN(UINT64_MAX, value)) (824),
    (uint64_t)value (825); below 2**64 the repair of DEF-DOWNTIME-OVERFLOW changes
    nothing."""
    assert D.downtime_ns(seconds, repaired) == expected


@pytest.mark.parametrize("seconds", [1e11, 1e300, math.inf])
def test_downtime_ns_overflow(seconds: float) -> None:
    """MIG-DOWNTIME-002: a product above UINT64_MAX is clamped to UINT64_MAX as a
    double, 2**64 (line 824), which x86-64 converts to 0 (DEF-DOWNTIME-OVERFLOW);
    the repair stores the largest double below 2**64."""
    assert D.downtime_ns(seconds, False) == 0
    assert D.downtime_ns(seconds, True) == BELOW_2_64


def test_downtime_ns_nan() -> None:
    """MIG-DOWNTIME-002: NaN passes MIN and MAX unchanged (every comparison is false,
    line 824) and converts to 2**63 (line 825); the repair refuses it."""
    assert D.downtime_ns(math.nan, False) == 1 << 63
    with pytest.raises(ValueError):
        D.downtime_ns(math.nan, True)


# -- the migration thread's window (lines 975-991) -----------------------------------------
@pytest.mark.parametrize(
    ("transferred", "time_spent", "expected"),
    [(0, 1, 0), (99, 100, 0), (100, 100, 1), (1000, 100, 10), (1099, 100, 10),
     (INT64_MAX, 1, INT64_MAX), (INT64_MAX, INT64_MAX, 1), (INT64_MAX, 2, (1 << 62) - 1)],
)
def test_window_bandwidth(transferred: int, time_spent: int, expected: int) -> None:
    """MIG-THREAD-005: transferred_bytes / time_spent is a uint64_t division (line 979)
    before the double conversion."""
    assert D.window_bandwidth(transferred, time_spent) == expected


@pytest.mark.parametrize(
    ("bandwidth", "max_downtime", "expected"),
    [(0, 300_000_000, 0), (10, 0, 0), (1, 999_999, 0), (1, 1_000_000, 1),
     (999_999, 1, 0), (1000, 1500, 1), (1000, 1999, 1), (1000, 2000, 2),
     (7, 300_000_000, 2100), (123_456, 300_000_000, 37_036_800)],
)
def test_max_size_exact(bandwidth: int, max_downtime: int, expected: int) -> None:
    """MIG-THREAD-005: max_size = bandwidth * max_downtime / 1000000 (line 980), an
    exact product truncated to int64 (bytes that fit in the allowed downtime)."""
    result = D.max_size_exact(bandwidth, max_downtime)
    assert result == expected
    assert isinstance(result, int)


@pytest.mark.parametrize(
    ("transferred", "time_spent", "max_downtime", "expected"),
    [
        (1000, 100, 300_000_000, (10.0, 3000)),
        (1099, 100, 300_000_000, (10.0, 3000)),
        (99, 100, 300_000_000, (0.0, 0)),
        (0, 100, 300_000_000, (0.0, 0)),
        (1500, 1, 1000, (1500.0, 1)),
        (1000, 1, 999, (1000.0, 0)),
        (5, 1, 0, (5.0, 0)),
        # uint64 2**53 + 1 converts to the even neighbour 2**53 (line 979); the
        # product 2**53 * 1e6 and its quotient by 1e6 are exact (line 980).
        (P53 + 1, 1, 1_000_000, (float(P53), P53)),
        (P53 + 1, 1, 1, (float(P53), 9_007_199_254)),
        # max_downtime above 2**53: (double)UINT64_MAX is 2**64, over 1e6 that is
        # 18446744073709.55..., truncated.
        (1, 1, UINT64_MAX, (1.0, 18_446_744_073_709)),
        (0, 1, UINT64_MAX, (0.0, 0)),
        # 3 * 2**53 is a double; 3 * 2**53 / 1e6 = 27021597764.22...
        (3, 1, P53, (3.0, 27_021_597_764)),
    ],
)
def test_bandwidth_window(transferred: int, time_spent: int, max_downtime: int,
                          expected: tuple[float, int]) -> None:
    """MIG-THREAD-005: double bandwidth = transferred_bytes / time_spent (line 979);
    max_size = bandwidth * migrate_max_downtime() / 1000000 (line 980), each a
    double operation, converted to int64."""
    bandwidth, max_size = D.bandwidth_window(transferred, time_spent, max_downtime)
    assert (bandwidth, max_size) == expected
    assert isinstance(bandwidth, float)
    assert isinstance(max_size, int)


@pytest.mark.parametrize(
    ("transferred", "time_spent", "expected"),
    [(0, 0, -1.0), (10**9, 0, -1.0), (0, 2000, 0.0), (3_000_000, 2000, 12.0),
     (1_000_000, 1000, 8.0), (1_000_000, 500, 16.0), (125_000, 4000, 0.25)],
)
def test_window_mbps(transferred: int, time_spent: int, expected: float) -> None:
    """MIG-THREAD-005: s->mbps = time_spent ? ((bytes * 8.0) / (time_spent / 1000.0))
    / 1000.0 / 1000.0 : -1 (lines 982-983): megabits per second; every value here
    is exact in doubles."""
    assert D.window_mbps(transferred, time_spent) == expected


@pytest.mark.parametrize(
    ("transferred", "total_time", "previous", "expected"),
    [(1_000_000, 2000, -1.0, 4.0), (3_000_000, 2000, 5.0, 12.0), (0, 10, 7.0, 0.0),
     (10**9, 0, 3.5, 3.5), (0, 0, -1.0, -1.0)],
)
def test_final_mbps(transferred: int, total_time: int, previous: float,
                    expected: float) -> None:
    """MIG-THREAD-009: if (s->total_time) s->mbps = ((bytes * 8.0) / total_time) /
    1000 (lines 1009-1012); with no time the earlier mbps stays."""
    assert D.final_mbps(transferred, total_time, previous) == expected


# -- expected_downtime (lines 989-991) ---------------------------------------------------
#: (dirty_bytes_rate, transferred_bytes, integral bandwidth, previous, repaired)
#: -> expected_downtime.
INTEGRAL_CASES: list[tuple[int, int, int, int, bool, int]] = [
    # no dirty rate: nothing is recomputed (line 989).
    (0, 20_000, 10, 7, False, 7),
    (0, 20_000, 10, 7, True, 7),
    (0, 20_000, 0, 7, False, 7),
    # transferred_bytes must exceed 10000 (line 989).
    (100, 9_999, 10, 7, False, 7),
    (100, 10_000, 10, 7, False, 7),
    (100, 10_000, 0, 7, False, 7),
    (100, 10_001, 10, 7, False, 10),
    (105, 10_001, 10, 7, False, 10),
    (7, 10_001, 2, -5, False, 3),
    (5, 10_001, 10, 7, True, 0),
    (P53 - 1, INT64_MAX, 1, 0, False, P53 - 1),
    # bandwidth 0: dirty / 0.0 is +inf, converted to int64 INT64_MIN on x86-64
    # (DEF-EXPECTED-DOWNTIME-DIV0); the repair keeps the old value.
    (100, 10_001, 0, 7, False, INT64_MIN),
    (100, 10_001, 0, 7, True, 7),
]


@pytest.mark.parametrize(("dirty", "transferred", "bandwidth", "previous", "repaired",
                          "expected"), INTEGRAL_CASES)
def test_expected_downtime_ms(dirty: int, transferred: int, bandwidth: int, previous: int,
                              repaired: bool, expected: int) -> None:
    """MIG-THREAD-005: if (s->dirty_bytes_rate && transferred_bytes > 10000)
    s->expected_downtime = s->dirty_bytes_rate / bandwidth (lines 989-991), ms."""
    result = D.expected_downtime_ms(dirty, transferred, bandwidth, previous, repaired)
    assert result == expected
    assert isinstance(result, int)


@pytest.mark.parametrize(("dirty", "transferred", "bandwidth", "previous", "repaired",
                          "expected"), INTEGRAL_CASES)
def test_expected_downtime_integral_double(dirty: int, transferred: int, bandwidth: int,
                                           previous: int, repaired: bool,
                                           expected: int) -> None:
    """MIG-THREAD-005: the same rule with the double bandwidth the seed keeps
    (line 979), integral here."""
    result = D.expected_downtime(dirty, transferred, float(bandwidth), previous, repaired)
    assert result == expected
    assert isinstance(result, int)


@pytest.mark.parametrize(
    ("dirty", "transferred", "bandwidth", "previous", "repaired", "expected"),
    [
        # a non-integral double: 10 / 2.5 = 4.0 and 3 / 0.5 = 6.0 exactly.
        (10, 20_000, 2.5, 7, False, 4),
        (3, 20_000, 0.5, 7, False, 6),
        (10, 20_000, 4.0, 7, False, 2),
        (0, 20_000, 2.5, 7, False, 7),
        (10, 10_000, 2.5, 7, False, 7),
        (10, 9_000, 2.5, 7, True, 7),
        # x / inf is 0.0.
        (10, 20_000, math.inf, 7, False, 0),
        (0, 20_000, math.inf, 7, False, 7),
        # the int64 dirty rate 2**53 + 1 converts to the double 2**53 (line 990).
        (P53 + 1, 20_000, 1.0, 7, False, P53),
        (P53 + 1, 20_000, 2.0, 7, True, P53 // 2),
        # a dirty rate of 2**53 over bandwidth 0: +inf, INT64_MIN on x86-64
        # (DEF-EXPECTED-DOWNTIME-DIV0); the repair keeps the old value.
        (P53, 20_000, 0.0, 7, False, INT64_MIN),
        (P53, 20_000, 0.0, 7, True, 7),
        (P53, 10_000, 0.0, 7, False, 7),
        (P53 + 2, 20_000, 0.0, -3, True, -3),
    ],
)
def test_expected_downtime_double(dirty: int, transferred: int, bandwidth: float,
                                  previous: int, repaired: bool, expected: int) -> None:
    """MIG-THREAD-005: s->dirty_bytes_rate / bandwidth is a double division converted
    to int64 (lines 989-991), for operands outside the exact integer range."""
    result = D.expected_downtime(dirty, transferred, bandwidth, previous, repaired)
    assert result == expected
    assert isinstance(result, int)
