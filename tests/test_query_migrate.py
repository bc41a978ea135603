"""query-migrate: the reply's shape and values in each state (lines 372-466)."""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    MIB,
    SMALL_RAM,
    TCP_URI,
    new_engine,
    query,
    ret,
    set_caps,
    step_to_active,
    to_state,
)

RAM_KEYS = {
    "transferred", "remaining", "total", "duplicate", "skipped", "normal", "normal-bytes",
    "dirty-pages-rate", "mbps", "dirty-sync-count",
}
XBZRLE_KEYS = {"cache-size", "bytes", "pages", "cache-miss", "cache-miss-rate", "overflow"}
ACTIVE_KEYS = {"status", "ram", "total-time", "expected-downtime", "setup-time"}
COMPLETED_KEYS = {"status", "ram", "total-time", "downtime", "setup-time"}


def test_none_is_empty() -> None:
    """MIG-QUERY-001: 'none' sets no has_* flag (lines 392-394): the reply is {}."""
    eng = new_engine()
    assert query(eng) == {}


def test_setup_only_status() -> None:
    """MIG-QUERY-002: 'setup' sets only has_status (lines 395-398)."""
    eng = new_engine()
    to_state(eng, "setup")
    assert query(eng) == {"status": "setup"}


@pytest.mark.parametrize("state", ["active", "cancelling"])
def test_active_and_cancelling_shape(state: str) -> None:
    """MIG-QUERY-003, MIG-QUERY-007: status, ram (every MigrationStats member),
    total-time, expected-downtime and setup-time (lines 399-421); no disk without
    block migration (lines 423-429), no xbzrle-cache without the capability
    (lines 374, 431); the RAM total is the guest's."""
    eng = new_engine()
    to_state(eng, state)
    info = query(eng)
    assert set(info) == ACTIVE_KEYS
    assert info["status"] == state
    assert set(info["ram"]) == RAM_KEYS
    assert info["ram"]["total"] == SMALL_RAM


def test_completed_shape() -> None:
    """MIG-QUERY-004: status, ram with remaining 0, total-time, downtime, setup-time
    (lines 433-455); no expected-downtime. dirty_pages_rate is not filled in
    (lines 444-454 skip it), so the zeroed value 0 is reported even though the guest
    dirtied memory."""
    eng = new_engine(dirty_rate=5 * MIB)
    to_state(eng, "completed")
    info = query(eng)
    assert set(info) == COMPLETED_KEYS
    assert info["status"] == "completed"
    assert set(info["ram"]) == RAM_KEYS
    assert info["ram"]["remaining"] == 0
    assert info["ram"]["total"] == SMALL_RAM
    assert info["ram"]["dirty-pages-rate"] == 0


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_failed_and_cancelled_only_status(state: str) -> None:
    """MIG-QUERY-006: 'failed' and 'cancelled' set only has_status (lines 456-461)."""
    eng = new_engine()
    to_state(eng, state)
    assert query(eng) == {"status": state}


@pytest.mark.parametrize("state", ["active", "cancelling", "completed"])
def test_xbzrle_stats_with_capability(state: str) -> None:
    """MIG-QUERY-005: with xbzrle on, 'active', 'cancelling' (line 431) and
    'completed' (line 434) add xbzrle-cache with the cache size (lines 374-383)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-cache-size", {"value": 2 * MIB}) == {}
    assert set_caps(eng, xbzrle=True) == {"return": {}}
    to_state(eng, state)
    info = query(eng)
    assert set(info["xbzrle-cache"]) == XBZRLE_KEYS
    assert info["xbzrle-cache"]["cache-size"] == 2 * MIB
    assert set(info) - {"xbzrle-cache"} == (
        COMPLETED_KEYS if state == "completed" else ACTIVE_KEYS)


@pytest.mark.parametrize("state", ["none", "setup", "failed", "cancelled"])
def test_no_xbzrle_stats_elsewhere(state: str) -> None:
    """MIG-QUERY-005: get_xbzrle_cache_stats is called only for 'active',
    'cancelling' and 'completed' (lines 431, 434)."""
    eng = new_engine()
    assert set_caps(eng, xbzrle=True) == {"return": {}}
    to_state(eng, state)
    assert "xbzrle-cache" not in query(eng)


def test_total_time_runs_from_migrate() -> None:
    """MIG-QUERY-003, MIG-INIT-002: total_time holds the start time (line 657) and
    'active' reports now - start (lines 403-404)."""
    eng = new_engine(ram_bytes=128 * MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    start = eng.world.ms
    eng.advance(250)
    info = query(eng)
    assert info["status"] == "active"
    assert info["total-time"] == eng.world.ms - start == 250


def test_setup_time_measures_setup() -> None:
    """MIG-QUERY-003, MIG-QUERY-004, MIG-THREAD-002: setup_time is the time
    qemu_savevm_state_begin took (lines 915, 924-926), here 120 ms; reported while
    active (407-408) and after completion (441-442)."""
    eng = new_engine(setup_ms=120)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert query(eng)["setup-time"] == 120
    assert eng.settle()
    info = query(eng)
    assert info["status"] == "completed"
    assert info["setup-time"] == 120
    assert info["total-time"] >= 120


def test_completed_times() -> None:
    """MIG-QUERY-004, MIG-THREAD-009: total_time = end - start (line 1007) and
    downtime = end - start of completion (line 1008), so 0 <= downtime <=
    total-time; both stay fixed after the migration ended (line 438)."""
    eng = new_engine(ram_bytes=64 * MIB)
    to_state(eng, "completed")
    first = query(eng)
    assert 0 <= first["downtime"] <= first["total-time"]
    eng.advance(5000)
    assert query(eng)["total-time"] == first["total-time"]


def test_mbps_restarts_at_zero() -> None:
    """MIG-INIT-001, MIG-QUERY-003: migrate_init's memset (line 643) sets mbps to 0
    (not the -1 of line 67); nothing recomputes it before the first 100 ms window
    (lines 975-983)."""
    eng = new_engine()
    assert eng.vm().s.mbps == -1
    to_state(eng, "active")
    assert query(eng)["ram"]["mbps"] == 0


def test_mbps_after_first_window() -> None:
    """MIG-THREAD-005: after a 100 ms window in which bytes were sent, mbps =
    bytes * 8 / (ms / 1000) / 1e6 > 0 (lines 976-983)."""
    eng = new_engine(ram_bytes=128 * MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(350)
    info = query(eng)
    assert info["status"] == "active"
    assert info["ram"]["mbps"] > 0
    assert info["ram"]["transferred"] > 0


def test_cancelling_before_connect_has_zeroed_fields() -> None:
    """MIG-QUERY-003, MIG-INIT-001, MIG-CONNECT-002: cancelled while a socket connect
    is pending, migrate_fd_connect (line 1029) has not run: query-migrate in
    'cancelling' still reports every active field, with expected-downtime and
    setup-time as migrate_init's memset left them, 0 (line 643)."""
    eng = new_engine(connect="delayed", connect_delay_ms=1000)
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert ret(eng, "migrate_cancel") == {}
    info = query(eng)
    assert set(info) == ACTIVE_KEYS
    assert info["status"] == "cancelling"
    assert info["expected-downtime"] == 0
    assert info["setup-time"] == 0


def test_no_disk_stats_without_block_migration() -> None:
    """MIG-QUERY-007: blk_mig_active() is false without blk (lines 423-429)."""
    eng = new_engine(ram_bytes=128 * MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI, "blk": False}) == {}
    eng.advance(300)
    info = query(eng)
    assert info["status"] == "active"
    assert "disk" not in info


def test_completed_mbps_over_whole_migration() -> None:
    """MIG-THREAD-009, MIG-QUERY-004: after completion mbps = bytes written to the file
    (qemu_ftell, line 1006) * 8 / total_time / 1000 (lines 1009-1011), reported in
    'completed' (line 453)."""
    eng = new_engine(ram_bytes=32 * MIB)
    to_state(eng, "setup")
    fid = eng.vm().s.file
    assert fid is not None
    assert eng.settle()
    info = query(eng)
    assert info["status"] == "completed"
    assert info["total-time"] > 0
    written = eng.world.files[fid].pos
    assert abs(info["ram"]["mbps"] - written * 8.0 / info["total-time"] / 1000) < 1e-5


def test_setup_time_recorded_even_if_cancelled() -> None:
    """MIG-THREAD-002, MIG-QUERY-003: line 926 records setup_time before, and
    regardless of, the swap of line 927: a migration cancelled during its 100 ms
    setup reports setup-time 100 in 'cancelling'."""
    eng = new_engine(setup_ms=100)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step("source", "thread")  # lines 914-925 begin; qemu_savevm_state_begin runs
    assert ret(eng, "migrate_cancel") == {}
    eng.step("source", "thread")  # lines 926-927 at the end of the setup
    info = query(eng)
    assert info["status"] == "cancelling"
    assert info["setup-time"] == 100
    assert info["expected-downtime"] == 300


def test_instant_migration_keeps_mbps() -> None:
    """MIG-THREAD-009, MIG-INIT-001: a migration that takes less than 1 ms has
    total_time 0, so lines 1009-1012 leave mbps as it was; no 100 ms window passed
    (976), so that is migrate_init's 0 (643)."""
    eng = new_engine(ram_bytes=64 * 1024)
    assert ret(eng, "migrate_set_speed", {"value": 0}) == {}
    to_state(eng, "completed")
    info = query(eng)
    assert info["total-time"] == 0
    assert info["ram"]["mbps"] == 0
