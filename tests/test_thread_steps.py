"""The migration thread's regions (reference/thread.py, seed lines 911-1024),
stepped one at a time: which seed line dereferences ``s->file`` in each region,
the big lock between two threads, the clock at each wake-up, and the values
each region leaves behind.

Every expected value below is worked out from the seed lines cited, from
docs/atomicity.md or from the README's description of the environment knobs;
observed inputs (a clock reading, ``qemu_ftell``) are read from the run and put
through the seed's formula in the test itself."""

from __future__ import annotations

from typing import Any

import pytest
from support import (
    EXEC_URI,
    MIB,
    event_names,
    events_on,
    exits,
    new_engine,
    query,
    ret,
    status,
)

from migspec.reference import scheduler as sched
from migspec.reference.engine import Engine
from migspec.reference.vm import MigrationThread
from migspec.reference.world import Move

#: BUFFER_DELAY (line 37), ms.
BUFFER_DELAY_MS = 100


def _thread(eng: Engine) -> MigrationThread:
    """The source's current migration thread (``s->thread``)."""
    vm = eng.vm()
    assert vm.s.thread is not None
    t = vm.threads[vm.s.thread]
    assert t.tid == vm.s.thread
    return t


def _events(eng: Engine) -> list[dict[str, Any]]:
    return [ln for ln in eng.output() if "event" in ln]


# -- which seed line dereferences s->file ------------------------------------------
@pytest.mark.parametrize(
    ("pc", "line"),
    [
        ("begin", 923),  # qemu_savevm_state_header(s->file)
        ("iterate", 933),  # qemu_file_rate_limit(s->file)
        ("complete", 950),  # qemu_file_set_rate_limit(s->file, INT64_MAX)
        ("after_complete", 962),  # qemu_file_get_error(s->file)
        ("errcheck", 970),  # qemu_file_get_error(s->file)
        ("final", 1006),  # qemu_ftell(s->file), in 'completed'
    ],
)
def test_a_cleared_file_is_dereferenced_at_the_seed_line(pc: str, line: int) -> None:
    """MIG-THREAD-001, MIG-THREAD-004, MIG-THREAD-006, MIG-THREAD-008,
    MIG-THREAD-009: with ``s->file`` NULL (what migrate_init's memset leaves,
    line 643) the thread's region dies at the first line of that region that
    uses ``s->file``; README: the exit notice carries that seed line."""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", pc)
    if pc == "final":
        assert status(eng) == "completed"  # 1004: only 'completed' reads the file
    eng.output()
    eng.vm().s.file = None
    eng.step(actor="thread")
    gone = exits(eng.output())
    assert len(gone) == 1
    assert gone[0]["line"] == line
    # the QEMUFile pointer s->file was NULL
    assert "QEMUFile" in gone[0]["reason"] and "s->file" in gone[0]["reason"]
    assert eng.vm().exited == gone[0]["reason"]


# -- the big lock between two threads (DEF-MIGRATE-BEFORE-CLEANUP) -------------------
def test_locked_final_region_waits_for_the_lock_another_thread_holds() -> None:
    """MIG-THREAD-006, MIG-THREAD-011, MIG-MIGRATE-001: docs/atomicity.md, the
    migration thread holds the big lock only in 941-954 and 1003-1020. A failed
    migration's thread waits at its final region (1003) when a new migrate is
    accepted (DEF-MIGRATE-BEFORE-CLEANUP); the new thread's completion then holds
    the lock (941) while device state is written, so the old thread's
    qemu_mutex_lock_iothread (1003) cannot run until 954; once it can, it
    schedules the new bottom half, whose cleanup joins the new thread, and that
    thread's own 1019 schedules the NULL cleanup_bh: the process dies there."""
    eng = new_engine(ram_bytes=MIB, bandwidth=1_000_000_000, device_bytes=2_000_000)
    eng.set_env({"channel_error": True})
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "final")
    assert status(eng) == "failed"
    old = _thread(eng)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    new = _thread(eng)
    assert new.tid != old.tid
    while new.pc != "complete":
        eng.step(actor="thread", task=str(new.tid))
    eng.step(actor="thread", task=str(new.tid))  # 941-954: the lock is held
    vm = eng.vm()
    release = vm.bql_until_us
    assert release > eng.world.clock_us  # 2 MB at 1 GB/s: the lock is held 2 ms
    held = sched.moves(eng.world)
    assert Move("source", "thread", str(old.tid)) not in held
    assert all(m.actor != "thread" for m in held)
    eng.step(actor="thread", task=str(old.tid))  # the clock first goes to 954
    assert eng.world.clock_us == release
    assert old.done
    eng.output()
    assert eng.settle()
    gone = exits(eng.output())
    assert len(gone) == 1 and gone[0]["line"] == 1019
    assert "qemu_bh_schedule(NULL)" in gone[0]["reason"]


# -- setup (914-927) ---------------------------------------------------------------
def test_setup_wakes_exactly_setup_ms_later() -> None:
    """MIG-THREAD-001, MIG-THREAD-002: qemu_savevm_state_begin takes env setup_ms
    (README), so the swap at 926-927 runs exactly 1000 ms after the thread
    started and setup-time is 1000."""
    eng = new_engine(setup_ms=1000)
    eng.advance(3000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step(actor="thread")  # begin
    eng.step(actor="thread")  # setup_cas, at its wake-up
    assert eng.world.clock_us == 4_000_000
    info = query(eng)
    assert info["status"] == "active"
    assert info["setup-time"] == 1000


def test_thread_event_is_its_own_step_then_nothing_is_pending() -> None:
    """MIG-SETSTATE-002, MIG-EVENT-001: in the seed profile the thread's event
    (532) is a step after its swap (530); once sent, nothing is left to send and
    the thread reads the state at 929."""
    eng = new_engine()
    events_on(eng)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.output()
    eng.step_thread_until("source", "emit")
    t = _thread(eng)
    assert status(eng) == "active"
    assert event_names(eng.output()) == []
    eng.step(actor="thread")
    assert event_names(eng.output()) == ["MIGRATION:active"]
    assert t.emit is None
    assert t.pc == "loop_check"


# -- iterate or complete (933-937) ---------------------------------------------------
def test_no_bitmap_sync_while_pending_is_not_below_max_size() -> None:
    """MIG-THREAD-004, MIG-THREAD-006: 1 MiB at 1 GB/s is sent within 2 ms, long
    before the first BUFFER_DELAY window (976) sets max_size, so max_size stays 0
    (917). The next pass finds nothing pending: 936 goes to completion. Bitmap
    syncs (QEMU 2.4 ram.c): one in ram_save_setup, one in ram_save_complete, and
    one in ram_save_pending only when remaining < max_size, here 0 < 0 is false:
    dirty-sync-count 2."""
    eng = new_engine(ram_bytes=MIB, bandwidth=1_000_000_000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    info = query(eng)
    assert info["status"] == "completed"
    assert info["ram"]["dirty-sync-count"] == 2
    assert info["ram"]["transferred"] == MIB


def test_pending_equal_to_max_size_iterates() -> None:
    """MIG-THREAD-004: ``pending_size && pending_size >= max_size`` (936): with
    max_size exactly the pending size the thread iterates (stays live, guest
    running, bytes sent) rather than completing."""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "iterate")
    t = _thread(eng)
    vm = eng.vm()
    pending = vm.ram.dirty
    assert pending > 0
    t.max_size = pending
    eng.step(actor="thread")
    assert t.pc == "errcheck"
    assert vm.ram.transferred > 0
    assert vm.runstate.value == "running"
    assert not vm.completion_started


# -- completion (941-966) --------------------------------------------------------------
@pytest.mark.parametrize("mode", ["vm-stop", "file-before-delivery"])
def test_completion_that_writes_nothing_holds_the_lock_no_time(mode: str) -> None:
    """MIG-THREAD-007, MIG-THREAD-008, MIG-THREAD-010: when vm_stop_force_state
    fails (948-949) or the file is in error before the stream's end is written,
    nothing goes on the channel, so the lock of 941 is dropped at once (954): the
    STOP, the failure and the RESUME (1015-1016) carry the same timestamp."""
    eng = new_engine(ram_bytes=MIB, bandwidth=10_000_000, completion_error=mode)
    events_on(eng)
    eng.advance(2345)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "complete")
    eng.output()
    eng.step(actor="thread")
    vm = eng.vm()
    assert vm.completion_started is True  # line 941 was entered
    assert vm.bql_until_us == eng.world.clock_us
    assert eng.settle()
    evs = _events(eng)
    assert [e["event"] if e["event"] != "MIGRATION" else e["data"]["status"]
            for e in evs] == ["STOP", "failed", "RESUME"]
    assert evs[0]["timestamp"] == evs[1]["timestamp"] == evs[2]["timestamp"]


def test_completion_holds_the_lock_while_the_rest_is_written() -> None:
    """MIG-THREAD-006, MIG-THREAD-009, MIG-INCOMING-007: under the lock (941-954)
    the remaining dirty RAM plus the device state (README device_bytes) go over
    the channel at env bandwidth with no rate limit (950). The stream's end
    reaches the destination when that write is done, and the source's swap to
    completed (963) comes after the lock is dropped, so: destination RESUME and
    source 'completed' both at STOP + the write time, and downtime (1008) is
    that time in whole ms."""
    bandwidth = 10_000_000
    device = 500_000
    eng = new_engine(ram_bytes=MIB, bandwidth=bandwidth, device_bytes=device)
    events_on(eng)
    eng.incoming("tcp:0:4444")
    eng.advance(1500)
    assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4444"}) == {}
    eng.step(actor="main", task="connect")  # MIG-CONNECT-002: the socket connects
    eng.step_thread_until("source", "complete")
    remaining = query(eng)["ram"]["remaining"]
    eng.output()
    eng.step(actor="thread")
    start_us = eng.world.clock_us
    write_us = -(-(remaining + device) * 1_000_000 // bandwidth)
    assert eng.vm().bql_until_us == start_us + write_us
    assert eng.settle()
    out = eng.output()
    src = {(e["event"], e.get("data", {}).get("status")): e["timestamp"]
           for e in out if "event" in e and "vm" not in e}
    dst = {e["event"]: e["timestamp"] for e in out if "event" in e and e.get("vm")}
    end_us = start_us + write_us
    stamp = {"seconds": end_us // 1_000_000, "microseconds": end_us % 1_000_000}
    assert src[("STOP", None)] == {"seconds": start_us // 1_000_000,
                                   "microseconds": start_us % 1_000_000}
    assert src[("MIGRATION", "completed")] == stamp
    assert dst["RESUME"] == stamp
    info = query(eng)
    assert info["downtime"] == end_us // 1000 - start_us // 1000


@pytest.mark.parametrize(("runstate", "size"), [("running", 8), ("paused", 7)])
def test_global_state_size_is_the_name_and_its_nul(runstate: str, size: int) -> None:
    """MIG-GLOBAL-001: global_state_store (946, 114-123) records the run state's
    name and global_state_pre_save sets size = strlen(runstate) + 1 (191)."""
    eng = new_engine(ram_bytes=MIB)
    if runstate == "paused":
        assert ret(eng, "stop") == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    gs = eng.vm().global_state
    assert gs.runstate == runstate
    assert gs.size == size


# -- the bandwidth window and the sleep (970-1000) -------------------------------------
def test_first_window_arithmetic() -> None:
    """MIG-THREAD-005: the first errcheck at or after initial_time + BUFFER_DELAY
    (976) computes, from qemu_ftell (977) and the ms since initial_time (978):
    bandwidth = transferred / time_spent as integers (979), max_size = bandwidth *
    max_downtime / 1e6 (980, 300 ms default), mbps by 982-983; then resets the
    rate limit (993) and restarts the window (994-995). The thread started at
    5000 ms, so a sum instead of a difference would be visible."""
    eng = new_engine(ram_bytes=16 * MIB, bandwidth=10_000_000)
    eng.advance(5000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step(actor="thread")  # begin: initial_time = 5000 (914)
    t = _thread(eng)
    vm = eng.vm()
    assert vm.s.file is not None
    f = eng.world.files[vm.s.file]
    while True:
        eng.step_thread_until("source", "errcheck")
        # errcheck runs at the thread's wake-up (the end of its write)
        if max(t.wake_us, eng.world.clock_us) >= (5000 + BUFFER_DELAY_MS) * 1000:
            break
        eng.step(actor="thread")
    eng.step(actor="thread")
    now_ms = eng.world.ms
    transferred = f.pos
    time_spent = now_ms - 5000
    assert time_spent >= BUFFER_DELAY_MS
    bandwidth = transferred // time_spent
    assert t.max_size == bandwidth * 300_000_000 // 1_000_000
    assert t.initial_time == now_ms
    assert t.initial_bytes == transferred
    assert f.bytes_xfer == 0
    mbps = ((transferred * 8.0) / (time_spent / 1000.0)) / 1000.0 / 1000.0
    assert query(eng)["ram"]["mbps"] == float(f"{mbps:f}")


def test_rate_limited_thread_sleeps_to_the_end_of_the_window() -> None:
    """MIG-THREAD-005, MIG-SPEED-002: the default 32 MiB/s limit allows 3355443
    bytes per 100 ms window (1032-1033); at 1 GB/s the first iteration exceeds it
    within a few ms, so at 997-999 the thread sleeps (initial_time +
    BUFFER_DELAY - current_time) ms, current_time in whole ms (975), from now."""
    eng = new_engine(ram_bytes=16 * MIB, bandwidth=1_000_000_000)
    eng.advance(5000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "errcheck")
    eng.step(actor="thread")  # errcheck at the end of the first iteration's write
    at_us = eng.world.clock_us
    at_ms = at_us // 1000
    assert at_ms < 5000 + BUFFER_DELAY_MS
    vm = eng.vm()
    assert vm.s.file is not None
    assert eng.world.files[vm.s.file].bytes_xfer > 3_355_443
    ram = query(eng)["ram"]
    assert type(ram["transferred"]) is int and ram["transferred"] % 4096 == 0
    eng.step(actor="thread")  # loop_check, after the sleep
    assert eng.world.clock_us == at_us + (5000 + BUFFER_DELAY_MS - at_ms) * 1000


# -- dirty-page statistics while active -----------------------------------------------
def test_no_dirty_rate_before_a_second_has_passed() -> None:
    """MIG-THREAD-005, MIG-QUERY-003: expected_downtime starts as max_downtime /
    1e6 (1029) and is recomputed at a window only if s->dirty_bytes_rate is
    nonzero (989); ram.c's migration_bitmap_sync measures the rate only over a
    period longer than 1000 ms. With a 10 ms downtime and a guest dirtying 8 MB/s
    on a 10 MB/s channel the migration syncs several times in its first second
    but no rate exists yet: expected-downtime is still 10 at 0.8 s."""
    eng = new_engine(ram_bytes=4 * MIB, bandwidth=10_000_000, dirty_rate=8_000_000)
    assert ret(eng, "migrate_set_speed", {"value": 1_000_000_000}) == {}
    assert ret(eng, "migrate_set_downtime", {"value": 0.01}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(800)
    info = query(eng)
    assert info["status"] == "active"
    assert info["ram"]["dirty-sync-count"] > 1
    assert info["expected-downtime"] == 10
    assert info["ram"]["dirty-pages-rate"] == 0
    # The first sync after a second measures every page dirtied since the
    # migration began, over all the syncs of that period: about 8e6 / 4096.
    rate = 0
    for _ in range(20):
        eng.advance(50)
        info = query(eng)
        assert info["status"] == "active"
        rate = info["ram"]["dirty-pages-rate"]
        if rate:
            break
    assert abs(rate - 8_000_000 / 4096) <= 0.1 * 8_000_000 / 4096


def test_dirty_pages_rate_measured_over_a_second() -> None:
    """MIG-QUERY-003: once a bitmap sync comes more than 1000 ms after the period
    began (ram.c), dirty-pages-rate is the pages dirtied per second: a guest
    dirtying 2 MB/s shows about 2e6 / 4096 = 488 pages/s (an integer; within
    10 %, the model counts whole pages). The migration started at 10 s, so the
    period's length is a difference of clocks."""
    eng = new_engine(ram_bytes=16 * MIB, bandwidth=10_000_000, dirty_rate=2_000_000)
    assert ret(eng, "migrate_set_speed", {"value": 1_000_000_000}) == {}
    eng.advance(10_000)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    rate = 0
    for _ in range(40):
        eng.advance(100)
        info = query(eng)
        assert info["status"] == "active"
        rate = info["ram"]["dirty-pages-rate"]
        if rate:
            break
    assert isinstance(rate, int)
    assert abs(rate - 2_000_000 / 4096) <= 0.1 * 2_000_000 / 4096


def test_a_period_with_nothing_dirtied_measures_zero() -> None:
    """MIG-QUERY-003, MIG-CANCEL-001: ram.c's migration_bitmap_sync sets the rate
    whenever its period exceeds 1000 ms, zero included. A guest dirtying 2 MB/s
    on a 1 MB/s channel gets a rate measured once the RAM has been sent (after
    about 2 s); from then on it dirties nothing (env dirty_rate 0), the rest
    takes more than a second to send, and the sync before completion measures
    0 pages/s. A cancel that lands while completion holds the lock
    (docs/atomicity.md: after_complete) leaves 'cancelling', whose query-migrate
    shows the rate (MIG-QUERY-003): 0."""
    eng = new_engine(ram_bytes=2 * MIB, bandwidth=1_000_000, dirty_rate=2_000_000)
    assert ret(eng, "migrate_set_speed", {"value": 1_000_000_000}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    vm = eng.vm()
    for _ in range(1000):
        eng.step(actor="thread")
        if vm.s.dirty_pages_rate:
            break
    assert vm.s.dirty_pages_rate > 0
    eng.set_env({"dirty_rate": 0})
    eng.step_thread_until("source", "after_complete")
    assert ret(eng, "migrate_cancel") == {}
    info = query(eng)
    assert info["status"] == "cancelling"
    assert info["ram"]["dirty-pages-rate"] == 0
