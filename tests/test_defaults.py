"""Initial values of the migration globals (migrate_get_current, lines 61-77;
max_downtime, line 325; register_global_state, lines 208-214)."""

from __future__ import annotations

from support import new_engine, query, ret

from migspec.reference.engine import Engine


def test_initial_parameters() -> None:
    """MIG-STATE-001, MIG-PARAMS-005: lines 41-46 and 68-73 give compress-level 1,
    compress-threads 8, decompress-threads 2; query-migrate-parameters (357-370)
    reports exactly these three."""
    eng = Engine()
    assert ret(eng, "query-migrate-parameters") == {
        "compress-level": 1,
        "compress-threads": 8,
        "decompress-threads": 2,
    }


def test_initial_cache_size() -> None:
    """MIG-STATE-001, MIG-CACHE-005: DEFAULT_MIGRATE_CACHE_SIZE is 64 MiB (lines 49,
    66), returned by query-migrate-cache-size (798-801)."""
    assert ret(Engine(), "query-migrate-cache-size") == 64 * 1024 * 1024


def test_initial_capabilities_all_off() -> None:
    """MIG-STATE-001, MIG-CAPS-003: enabled_capabilities is zero-initialised
    (lines 63-74 name none of them), so every capability is off."""
    caps = ret(Engine(), "query-migrate-capabilities")
    assert [c["state"] for c in caps] == [False] * 6


def test_initial_speed_and_downtime() -> None:
    """MIG-STATE-001: bandwidth_limit is MAX_THROTTLE = 32 << 20 bytes/s (lines 33,
    65) and max_downtime 300000000 ns (line 325)."""
    eng = Engine()
    assert eng.vm().s.bandwidth_limit == 32 << 20
    assert eng.vm().max_downtime == 300_000_000


def test_initial_query_migrate_is_empty() -> None:
    """MIG-STATE-001, MIG-QUERY-001: the state starts as 'none' (line 64) and
    query-migrate then sets no field at all (lines 392-394): not even 'status'
    (has_status stays false although line 463 fills the value)."""
    assert query(new_engine()) == {}


def test_initial_global_state() -> None:
    """MIG-GLOBAL-004: register_global_state (lines 208-214) leaves the stored run
    state empty and not received."""
    gs = Engine().vm().global_state
    assert gs.runstate == ""
    assert gs.received is False


def test_initial_mbps_is_minus_one() -> None:
    """MIG-STATE-001: mbps starts at -1 (line 67), before any migrate_init."""
    assert Engine().vm().s.mbps == -1
