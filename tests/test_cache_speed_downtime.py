"""migrate-set-cache-size / query-migrate-cache-size (lines 769-801),
migrate_set_speed (803-819) and migrate_set_downtime (821-826)."""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    GENERIC,
    MIB,
    SMALL_RAM,
    err,
    new_engine,
    qmp,
    query,
    ret,
    step_to_active,
    to_state,
)

CACHE_DEFAULT = 64 * MIB
ABOVE_RAM = "Parameter 'cache size' expects exceeds guest ram size "
BELOW_PAGE = "Parameter 'cache size' expects is smaller than page size"
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


# -- cache size ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (4096, 4096),
        (4097, 4096),
        (8191, 4096),
        (8192, 8192),
        (5 * MIB, 4 * MIB),
        (12 * MIB + 5, 8 * MIB),
        (SMALL_RAM, SMALL_RAM),
        (SMALL_RAM - 1, SMALL_RAM // 2),
    ],
)
def test_cache_size_is_pow2floor(value: int, stored: int) -> None:
    """MIG-CACHE-001, MIG-CACHE-005: a size from the page size up to the RAM size
    (inclusive: line 782 uses '>') is stored as xbzrle_cache_resize returns it,
    pow2floor(value) (lines 788, 795), and query-migrate-cache-size returns it
    (798-801)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-cache-size", {"value": value}) == {}
    assert ret(eng, "query-migrate-cache-size") == stored


@pytest.mark.parametrize("value", [SMALL_RAM + 1, 2 * SMALL_RAM, INT64_MAX])
def test_cache_size_above_ram(value: int) -> None:
    """MIG-CACHE-003: above ram_bytes_total() is refused with "exceeds guest ram size "
    (trailing space in the seed, lines 781-786); the cache size is unchanged."""
    eng = new_engine()
    assert err(eng, "migrate-set-cache-size", {"value": value}) == (GENERIC, ABOVE_RAM)
    assert ret(eng, "query-migrate-cache-size") == CACHE_DEFAULT


def test_cache_size_limit_follows_guest_ram() -> None:
    """MIG-CACHE-003: the bound is the guest's RAM size (line 782), here 64 MiB."""
    eng = new_engine(ram_bytes=64 * MIB)
    assert err(eng, "migrate-set-cache-size", {"value": 64 * MIB + 1})[1] == ABOVE_RAM
    assert ret(eng, "migrate-set-cache-size", {"value": 64 * MIB}) == {}
    assert ret(eng, "query-migrate-cache-size") == 64 * MIB


@pytest.mark.parametrize("value", [4095, 1, 0])
def test_cache_size_below_page(value: int) -> None:
    """MIG-CACHE-004: below TARGET_PAGE_SIZE (4096) xbzrle_cache_resize fails and the
    command reports "is smaller than page size" (lines 788-793); unchanged."""
    eng = new_engine()
    assert err(eng, "migrate-set-cache-size", {"value": value}) == (GENERIC, BELOW_PAGE)
    assert ret(eng, "query-migrate-cache-size") == CACHE_DEFAULT


@pytest.mark.parametrize("value", [-1, -4096, -(2**63)])
def test_cache_size_negative_reported_as_above_ram(value: int) -> None:
    """MIG-CACHE-003, MIG-CACHE-004 (DEF-CACHE-NEGATIVE): in the seed a negative size
    passes the size_t test (line 775) and compares as unsigned with
    ram_bytes_total() (line 782), so it is "exceeds guest ram size "."""
    eng = new_engine()
    assert err(eng, "migrate-set-cache-size", {"value": value}) == (GENERIC, ABOVE_RAM)
    assert ret(eng, "query-migrate-cache-size") == CACHE_DEFAULT


def test_cache_size_truncation_never_on_64_bit() -> None:
    """MIG-CACHE-002: value != (size_t)value (line 775) cannot hold for an int64 on a
    64-bit host; INT64_MAX gets the RAM error (line 784), not "exceeding address
    space", and anything larger is not an int the monitor accepts."""
    eng = new_engine()
    assert err(eng, "migrate-set-cache-size", {"value": INT64_MAX})[1] == ABOVE_RAM
    assert err(eng, "migrate-set-cache-size", {"value": 2**63}) == (
        GENERIC, "Invalid parameter type for 'value', expected: int")


def test_cache_size_survives_new_migration() -> None:
    """MIG-INIT-001: migrate_init keeps xbzrle_cache_size (lines 633, 647)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-cache-size", {"value": 1 * MIB}) == {}
    to_state(eng, "completed")
    assert ret(eng, "query-migrate-cache-size") == 1 * MIB


# -- speed ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "stored"),
    [(-1, 0), (-(2**63), 0), (0, 0), (1, 1), (1000, 1000), (INT64_MAX, INT64_MAX)],
)
def test_speed_clamp(value: int, stored: int) -> None:
    """MIG-SPEED-001: a negative speed becomes 0 (lines 807-809); SIZE_MAX (810-812)
    never clamps an int64 on a 64-bit host; the value is stored (815) and the
    command never fails."""
    eng = new_engine()
    assert ret(eng, "migrate_set_speed", {"value": value}) == {}
    assert eng.vm().s.bandwidth_limit == stored


def test_speed_applied_at_connect() -> None:
    """MIG-SPEED-002, MIG-CONNECT-001: migrate_fd_connect sets the file's limit to
    bandwidth_limit / XFER_LIMIT_RATIO = bandwidth_limit / 10 (lines 38, 1032-1033)."""
    eng = new_engine()
    assert ret(eng, "migrate_set_speed", {"value": 12345}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    fid = eng.vm().s.file
    assert fid is not None
    assert eng.world.files[fid].xfer_limit == 1234


def test_default_speed_applied_at_connect() -> None:
    """MIG-SPEED-002, MIG-STATE-001: the default limit is (32 << 20) / 10 bytes per
    100 ms window (lines 33, 38, 1032-1033)."""
    eng = new_engine()
    to_state(eng, "setup")
    fid = eng.vm().s.file
    assert fid is not None
    assert eng.world.files[fid].xfer_limit == (32 << 20) // 10


@pytest.mark.parametrize(("value", "limit"), [(1000, 100), (-5, 0), (7, 0), (19, 1)])
def test_speed_takes_effect_at_once(value: int, limit: int) -> None:
    """MIG-SPEED-002: with s->file open the new limit is applied immediately as
    bandwidth_limit / 10, integer division (lines 816-818)."""
    eng = new_engine()
    to_state(eng, "active")
    fid = eng.vm().s.file
    assert fid is not None
    assert ret(eng, "migrate_set_speed", {"value": value}) == {}
    assert eng.world.files[fid].xfer_limit == limit


def test_speed_limits_migration_pace() -> None:
    """MIG-SPEED-002, MIG-THREAD-012: at 32 MiB/s a 128 MiB guest needs several
    seconds: each 100 ms window carries at most about 3.3 MB (lines 33, 38,
    997-1000) and completion starts only when less than bandwidth * 300 ms (about
    10 MB, line 980) is left, so more than 35 windows are needed. With speed 0 the
    file is never rate limited and a 1 GB/s channel finishes in well under a
    second."""
    slow = new_engine(ram_bytes=128 * MIB)
    to_state(slow, "completed")
    fast = new_engine(ram_bytes=128 * MIB)
    assert ret(fast, "migrate_set_speed", {"value": -3}) == {}
    to_state(fast, "completed")
    assert query(slow)["total-time"] >= 3000
    assert query(fast)["total-time"] < 1000


def test_speed_change_during_migration_speeds_it_up() -> None:
    """MIG-SPEED-002: lifting the limit during the migration (lines 816-818) lets the
    rest go at channel speed: at most 0.5 s of 3.3 MB windows was limited."""
    eng = new_engine(ram_bytes=128 * MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(500)
    assert query(eng)["status"] == "active"
    assert ret(eng, "migrate_set_speed", {"value": 0}) == {}
    assert eng.settle()
    info = query(eng)
    assert info["status"] == "completed"
    assert info["total-time"] < 2000


def test_speed_bounds_bytes_per_window() -> None:
    """MIG-THREAD-012, MIG-THREAD-004: rate limited, the thread sends at most the
    window's limit (plus the page that crosses it) per 100 ms window and sleeps to
    the window's end (lines 933-937, 997-1000): after 1 s at 4 MiB/s no more than
    11 windows of 419430 bytes (+ one page each) have gone."""
    eng = new_engine(ram_bytes=128 * MIB)
    assert ret(eng, "migrate_set_speed", {"value": 4 * MIB}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(1000)
    info = query(eng)
    assert info["status"] == "active"
    per_window = 4 * MIB // 10 + 4096
    assert 0 < info["ram"]["transferred"] <= 11 * per_window


# -- downtime -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "ns"),
    [
        (0.5, 500_000_000),
        (2, 2_000_000_000),
        (0, 0),
        (0.0, 0),
        (-1, 0),
        (-1e300, 0),
        (1e-10, 0),
        (0.25, 250_000_000),
        (1e10, 10**19),
        (2**70, 0),
        (-(2**70), 0),
    ],
)
def test_downtime_seconds_to_ns(seconds: float, ns: int) -> None:
    """MIG-DOWNTIME-001: value * 1e9, clamped to [0, UINT64_MAX] and truncated to
    uint64 (lines 823-825); ints are accepted as numbers; never refused. 1e19 ns lies
    between 2^63 and 2^64 and converts exactly; 2^70 s (a JSON integer beyond int64,
    a QFloat) is clamped to the double 2^64, which converts to 0 on x86-64
    (MIG-DOWNTIME-002)."""
    eng = new_engine()
    assert ret(eng, "migrate_set_downtime", {"value": seconds}) == {}
    assert eng.vm().max_downtime == ns


def test_downtime_overflow_is_zero_in_seed() -> None:
    """MIG-DOWNTIME-002 (DEF-DOWNTIME-OVERFLOW): 2e10 s is 2e19 ns > UINT64_MAX; the
    clamp (line 824) yields the double 2^64, whose (uint64_t) conversion on x86-64
    (line 825) is 0."""
    eng = new_engine()
    assert ret(eng, "migrate_set_downtime", {"value": 2e10}) == {}
    assert eng.vm().max_downtime == 0


def test_downtime_overflow_fixed_is_largest() -> None:
    """MIG-DOWNTIME-002: the repair clamps to the largest double below 2^64."""
    eng = new_engine("fixed")
    assert ret(eng, "migrate_set_downtime", {"value": 2e10}) == {}
    assert eng.vm().max_downtime == 2**64 - 2048
    assert eng.vm().max_downtime <= UINT64_MAX


@pytest.mark.parametrize(
    ("seconds", "expected_ms"), [(None, 300), (1.5, 1500), (0.0000015, 0), (0.0019999, 1)]
)
def test_expected_downtime_at_connect(seconds: float | None, expected_ms: int) -> None:
    """MIG-CONNECT-001, MIG-DOWNTIME-001, MIG-QUERY-003: migrate_fd_connect sets
    expected_downtime = max_downtime / 1000000, integer division (line 1029), which
    query-migrate reports while active (lines 405-406); without dirty memory it is
    never recomputed (line 989)."""
    eng = new_engine()
    if seconds is not None:
        assert ret(eng, "migrate_set_downtime", {"value": seconds}) == {}
    to_state(eng, "active")
    assert query(eng)["expected-downtime"] == expected_ms
    eng.advance(100)
    info = query(eng)
    assert info["status"] == "active"
    assert info["expected-downtime"] == expected_ms


def test_downtime_survives_migrations() -> None:
    """MIG-DOWNTIME-001, MIG-INIT-001: max_downtime is a static of migration.c (line
    325), outside MigrationState, so migrate_init's memset (line 643) does not touch
    it; the next connect uses it (line 1029)."""
    eng = new_engine()
    assert ret(eng, "migrate_set_downtime", {"value": 0.75}) == {}
    to_state(eng, "completed")
    assert eng.vm().max_downtime == 750_000_000
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert query(eng)["expected-downtime"] == 750


def test_downtime_and_speed_never_refused_in_any_state() -> None:
    """MIG-SPEED-001, MIG-DOWNTIME-001: neither handler looks at the migration state
    (lines 803-826)."""
    eng = new_engine()
    to_state(eng, "active")
    assert qmp(eng, "migrate_set_speed", {"value": 10}) == {"return": {}}
    assert qmp(eng, "migrate_set_downtime", {"value": 1}) == {"return": {}}
