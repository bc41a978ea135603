"""The migration thread's clocks and counters, started away from time 0 so that
sums and differences cannot be confused (lines 914-927, 941-954, 1003-1013)."""

from __future__ import annotations

from typing import Any

from support import EXEC_URI, new_engine, ret

from migspec.reference.engine import Engine


def _query(eng: Engine) -> dict[str, Any]:
    info: dict[str, Any] = ret(eng, "query-migrate")
    return info


def test_setup_time_is_the_duration_of_setup() -> None:
    """MIG-THREAD-001, MIG-THREAD-002: setup_start is taken when the thread
    starts (915) and setup-time is the host clock after qemu_savevm_state_begin
    minus it (926): with setup taking 250 ms, 250, wherever the clock was."""
    eng = new_engine(setup_ms=250)
    eng.advance(7000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step(actor="thread")  # begin: header, setup (takes 250 ms)
    assert _query(eng) == {"status": "setup"}
    eng.step(actor="thread")  # setup-time, SETUP -> ACTIVE
    info = _query(eng)
    assert info["status"] == "active"
    assert info["setup-time"] == 250
    # total-time counts from migrate_init (657): 250 ms have passed since.
    assert info["total-time"] == 250
    # The first bitmap sync happened in setup (ram_save_setup).
    assert info["ram"]["dirty-sync-count"] == 1


def test_completed_times_are_durations() -> None:
    """MIG-THREAD-009: total-time = end - start of migrate_init (1007) and
    downtime = end - the start of completion (1008), not sums of clocks."""
    eng = new_engine(bandwidth=1_000_000_000)
    eng.advance(5000)
    assert ret(eng, "migrate_set_speed", {"value": 0}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    info = _query(eng)
    assert info["status"] == "completed"
    # 16 MiB at 1 GB/s with no rate limit: the whole migration takes about 17 ms;
    # a sum of clock readings would be over 5000.
    assert 0 <= info["downtime"] <= info["total-time"] < 100


def test_main_loop_waits_while_completion_holds_the_lock() -> None:
    """MIG-THREAD-006: completion runs under the big lock (941-954); a QMP
    command sent meanwhile is answered only after the stream has ended, so the
    reply already shows the migration's last stage."""
    eng = new_engine(bandwidth=1_000_000, device_bytes=500_000)  # 0.5 s of device state
    assert ret(eng, "migrate_set_speed", {"value": 0}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    while eng.vm().threads[next(iter(eng.vm().threads))].pc != "complete":
        eng.step(actor="thread")
    eng.step(actor="thread")  # completion: the lock is held while 0.5 s pass
    before = eng.world.ms
    info = _query(eng)  # must wait for the lock
    assert eng.world.ms >= before + 500
    assert info["status"] in ("active", "completed")
