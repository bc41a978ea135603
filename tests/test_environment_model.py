"""The environment model (reference/environment.py) where the README or the
seed says what it must do: the README's example session, the knobs of the
``env`` directive (a running guest dirties memory, the channel carries
``bandwidth`` bytes per second, ``instant`` transfers take no time,
``channel_error`` breaks the next write) and the RAM counters query-migrate
reports (MIG-QUERY-003, MIG-QUERY-004)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import EXEC_URI, MIB, exits, from_vm, new_engine, query, ret, status

from migspec.reference.engine import Engine, EngineError

PAGE = 4096
TCP_DEST = "tcp:127.0.0.1:4444"

README_SESSION_OUTPUT = """
{"return": {}}
{"event": "MIGRATION", "data": {"status": "setup"}, "timestamp": {"seconds": 0, "microseconds": 0}}
{"return": {}}
{"event": "MIGRATION", "data": {"status": "active"}, "timestamp": {"seconds": 0, "microseconds": 0}}
{"event": "STOP", "timestamp": {"seconds": 0, "microseconds": 104859}}
{"event": "RESUME", "timestamp": {"seconds": 0, "microseconds": 104859}, "vm": "destination"}
{"event": "MIGRATION", "data": {"status": "completed"}, "timestamp": {"seconds": 0, "microseconds": 104859}}
{"return": {"status": "completed", "ram": {"transferred": 1048576, "remaining": 0, "total": 1048576, "duplicate": 0, "skipped": 0, "normal": 256, "normal-bytes": 1048576, "dirty-pages-rate": 0, "mbps": 80.664615, "dirty-sync-count": 3}, "total-time": 104, "downtime": 0, "setup-time": 0}}
{"return": {"running": true, "singlestep": false, "status": "running"}, "vm": "destination"}
"""  # noqa: E501


def test_readme_example_session() -> None:
    """MIG-CAPS-001, MIG-INCOMING-001, MIG-THREAD-006, MIG-THREAD-009,
    MIG-QUERY-004, MIG-INCOMING-008: the README's example session (1 MiB over a
    10 MB/s channel to a listening destination) prints exactly what the README
    shows."""
    eng = Engine()
    assert ret(eng, "migrate-set-capabilities",
               {"capabilities": [{"capability": "events", "state": True}]}) == {}
    eng.incoming("tcp:0:4444")
    eng.set_env({"ram_bytes": 1048576, "bandwidth": 10000000})
    assert ret(eng, "migrate", {"uri": TCP_DEST}) == {}
    assert eng.settle()
    ret(eng, "query-migrate")
    ret(eng, "query-status", vm="destination")
    expected = [json.loads(ln) for ln in README_SESSION_OUTPUT.strip().splitlines()]
    assert eng.output() == expected


def _ints(value: Any) -> bool:
    """Every number in a query-migrate ram object but mbps is a QAPI int."""
    return all(type(v) is int for k, v in value.items() if k != "mbps")


def test_paused_guest_dirties_nothing() -> None:
    """MIG-QUERY-004, MIG-VM-002: README dirty_rate is what the *running* guest
    dirties; a guest stopped before migrate dirties nothing, so every page is
    sent exactly once: transferred = total = normal-bytes, normal = total / 4096."""
    eng = new_engine(ram_bytes=4 * MIB, bandwidth=10_000_000, dirty_rate=50_000_000)
    assert ret(eng, "stop") == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    ram = query(eng)["ram"]
    assert ram["transferred"] == ram["total"] == ram["normal-bytes"] == 4 * MIB
    assert ram["normal"] == 4 * MIB // PAGE
    assert _ints(ram)


def test_dirty_memory_never_exceeds_the_guest_ram() -> None:
    """MIG-QUERY-003: a guest dirtying far faster than the channel carries keeps
    the migration active; what remains dirty can never exceed the RAM
    (remaining <= total), and the counters stay QAPI integers, whole pages."""
    eng = new_engine(ram_bytes=2 * MIB, bandwidth=5_000_000, dirty_rate=100_000_000)
    assert ret(eng, "migrate_set_speed", {"value": 1_000_000_000}) == {}
    assert ret(eng, "migrate_set_downtime", {"value": 0.001}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    seen_rate = False
    for _ in range(30):
        eng.advance(100)
        info = query(eng)
        assert info["status"] == "active"
        ram = info["ram"]
        assert _ints(ram)
        assert 0 <= ram["remaining"] <= ram["total"] == 2 * MIB
        assert ram["remaining"] % PAGE == 0
        assert ram["normal-bytes"] == ram["transferred"]
        seen_rate = seen_rate or ram["dirty-pages-rate"] > 0
    assert seen_rate


def test_instant_transfers_take_no_time() -> None:
    """MIG-THREAD-009, MIG-QUERY-004: README instant, transfers take no virtual
    time: a whole migration (with device state) ends at clock 0 with total-time
    and downtime 0, every event stamped 0."""
    eng = new_engine(ram_bytes=MIB, instant=True, device_bytes=10_000_000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert eng.world.clock_us == 0
    info = query(eng)
    assert info["status"] == "completed"
    assert info["total-time"] == 0
    assert info["downtime"] == 0
    stamps = [ln["timestamp"] for ln in eng.output() if "event" in ln]
    assert stamps and all(s == {"seconds": 0, "microseconds": 0} for s in stamps)


def test_one_byte_rate_limit_throttles() -> None:
    """MIG-SPEED-001, MIG-SPEED-002, MIG-THREAD-005: migrate_set_speed 10 gives a
    limit of 10 / XFER_LIMIT_RATIO = 1 byte per window (817, 1032-1033, 38). The
    header and setup sections (923-924) already exceed it, so the first pass
    finds the file rate limited (933), and at 997-999 the thread sleeps to the
    end of the window: its next step is 100 ms after it started. At 1 GB/s an
    unthrottled 16 MiB takes 17 ms; throttled it is still active after a
    second, having sent far less than the RAM."""
    eng = new_engine(bandwidth=1_000_000_000)
    assert ret(eng, "migrate_set_speed", {"value": 10}) == {}
    eng.advance(3000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "errcheck")
    assert eng.world.clock_us == 3_000_000
    eng.step(actor="thread")  # errcheck: still in the first window, rate limited
    eng.step(actor="thread")  # loop_check, after the sleep
    assert eng.world.clock_us == 3_100_000
    eng.advance(1000)
    assert eng.world.clock_us == 4_100_000
    info = query(eng)
    assert info["status"] == "active"
    assert info["ram"]["transferred"] < MIB


def test_dirty_ram_stays_within_the_ram_under_a_tight_limit() -> None:
    """MIG-QUERY-003, MIG-SPEED-002: with a limit of 4100 bytes per window
    (migrate_set_speed 41000) the thread sends one or two pages per window while
    a 100 MB/s guest keeps every page dirty. Whenever a bitmap sync adds what the
    guest dirtied, the dirty RAM is at most the whole RAM: after every step
    query-migrate's remaining stays <= total."""
    eng = new_engine(ram_bytes=256 * 1024, bandwidth=1_000_000_000, dirty_rate=100_000_000)
    assert ret(eng, "migrate_set_speed", {"value": 41_000}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    syncs = 0
    for _ in range(600):
        eng.step(actor="thread")
        info = query(eng)
        if info["status"] != "active":
            continue
        ram = info["ram"]
        assert ram["remaining"] <= ram["total"]
        syncs = ram["dirty-sync-count"]
    assert syncs >= 2


def test_channel_breaking_at_completion_fails_both_sides() -> None:
    """MIG-THREAD-008, MIG-INCOMING-006: README channel_error makes the next
    write fail. Set just before completion, it is the write of the stream's end
    (951): the file is in error, the source fails (962, 970-973) and the
    destination never gets the end of the stream: its load fails and it exits
    with "load of migration failed: Input/output error" (276-280)."""
    eng = new_engine(ram_bytes=MIB, bandwidth=10_000_000)
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": TCP_DEST}) == {}
    eng.step(actor="main", task="connect")
    eng.step_thread_until("source", "complete")
    eng.set_env({"channel_error": True})
    eng.output()
    assert eng.settle()
    out = eng.output()
    assert status(eng) == "failed"
    gone = exits(out, "destination")
    assert [(g["reason"], g["line"]) for g in gone] == [
        ("load of migration failed: Input/output error", 278)]
    assert not any(ln.get("event") == "RESUME" for ln in from_vm(out, "destination"))


def test_second_migration_counts_from_zero() -> None:
    """MIG-INIT-001, MIG-QUERY-004: ram_save_setup starts every migration with all
    pages dirty and fresh counters; a second migration of a 1 MiB guest at 1 GB/s
    reports, like the first, transferred = total, 256 normal pages and two bitmap
    syncs (setup and completion: the whole RAM is sent before the first window
    gives max_size a value, so ram_save_pending never syncs)."""
    eng = new_engine(ram_bytes=MIB, bandwidth=1_000_000_000)
    for _ in range(2):
        assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
        assert eng.settle()
        ram = query(eng)["ram"]
        assert (ram["transferred"], ram["normal"], ram["normal-bytes"],
                ram["dirty-sync-count"]) == (MIB, 256, MIB, 2)


@pytest.mark.parametrize(
    "values",
    [{"completion_error": "sometimes"}, {"setup_ms": 1.5}, {"ram_bytes": "big"},
     {"device_bytes": -1}, {"connect": "never"}],
)
def test_env_refuses_bad_values(values: dict[str, Any]) -> None:
    """MIG-THREAD-007, MIG-THREAD-008, MIG-CONNECT-002 (the outcomes these knobs
    select): README env: completion_error is one of none, vm-stop, file-before-delivery,
    file-after-delivery; connect one of auto, immediate, refused, delayed,
    delayed-refused; sizes and durations are non-negative integers. A bad value
    is an error naming the key, and changes nothing."""
    eng = new_engine()
    before = dict(vars(eng.world.env))
    with pytest.raises(EngineError) as info:
        eng.set_env(values)
    assert next(iter(values)) in str(info.value)
    assert vars(eng.world.env) == before


@pytest.mark.parametrize(
    "values",
    [{"dirty_rate": 0}, {"setup_ms": 0}, {"device_bytes": 0}, {"connect_delay_ms": 0},
     {"bandwidth": 1}, {"completion_error": "file-after-delivery"}, {"connect": "delayed"}],
)
def test_env_accepts_its_documented_values(values: dict[str, Any]) -> None:
    """MIG-THREAD-001, MIG-THREAD-004, MIG-CONNECT-002 (the behaviour these knobs
    shape): README env: 0 is the default of dirty_rate, setup_ms, device_bytes and
    connect_delay_ms; bandwidth must be > 0, so 1 is allowed; the listed
    outcomes are accepted."""
    eng = new_engine()
    eng.set_env(values)
    key, value = next(iter(values.items()))
    assert getattr(eng.world.env, key) == value


def test_bandwidth_zero_is_refused() -> None:
    """MIG-THREAD-004 (iterations take channel time): README env, bandwidth
    must be > 0."""
    eng = new_engine()
    with pytest.raises(EngineError) as info:
        eng.set_env({"bandwidth": 0})
    assert "bandwidth" in str(info.value)
    assert eng.world.env.bandwidth == 1_000_000_000
