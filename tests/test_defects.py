"""Seed defects (migspec.spec.defects): each counterexample replayed on the
'seed' profile shows the defect and on the 'fixed' profile shows the repair.
The expected observations are written from each defect's description and the
seed lines it names."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from support import (
    MIGRATION_ACTIVE,
    exits,
    from_vm,
    migration_events,
    replies,
)

from migspec.reference import wire
from migspec.reference.engine import Engine
from migspec.reference.profiles import SEED
from migspec.reference.script import parse, replay, run_script
from migspec.spec.defects import DEFECT_BY_ID, DEFECTS

DEST = "destination"
Line = dict[str, Any]


def both(defect_id: str) -> tuple[tuple[Engine, list[Line]], tuple[Engine, list[Line]]]:
    """The counterexample's run on 'seed' and on 'fixed'."""
    script = DEFECT_BY_ID[defect_id].counterexample
    return replay(script, "seed"), replay(script, "fixed")


def test_cancel_connect_stuck() -> None:
    """DEF-CANCEL-CONNECT-STUCK, MIG-FDERROR-003, MIG-FDERROR-001: cancel while the
    connect is pending moves setup -> cancelling (587); the failing connect's
    migrate_fd_error swaps setup -> failed, which no longer matches (571), and no
    thread exists to schedule cleanup. Seed: query-migrate says 'cancelling' and a
    new migrate is refused with QERR_MIGRATION_ACTIVE (708-713). Fixed: the
    failure finishes the cancel ('cancelled') and a new migrate is accepted."""
    (_, seed), (_, fixed) = both("DEF-CANCEL-CONNECT-STUCK")
    s, f = replies(seed), replies(fixed)
    assert s[0] == f[0] == {"return": {}}
    assert s[1] == f[1] == {"return": {}}
    assert s[2]["return"]["status"] == "cancelling"
    assert s[3] == {"error": {"class": "GenericError", "desc": MIGRATION_ACTIVE}}
    assert f[2] == {"return": {"status": "cancelled"}}
    assert f[3] == {"return": {}}


def test_incoming_once_no_return() -> None:
    """DEF-INCOMING-ONCE-NO-RETURN, MIG-INCOMING-011, MIG-EVENT-003: the second
    migrate-incoming is told "The incoming migration has already been started" in
    both profiles (683); in the seed it goes on (no return) into
    qemu_start_incoming_migration: another 'setup' event (240) and a second
    listener. Fixed: no second 'setup' event, one listener. (The start-up's
    'setup' of -incoming defer reaches no client, MIG-EVENT-003.)"""
    (seng, seed), (feng, fixed) = both("DEF-INCOMING-ONCE-NO-RETURN")
    already = {"error": {"class": "GenericError",
                         "desc": "The incoming migration has already been started"}}
    for out in (seed, fixed):
        r = replies(out, DEST)
        assert r[0] == {"return": {}}
        assert r[1] == already
        assert r[2] == {"return": {}}
    assert migration_events(seed, DEST) == ["setup", "setup"]
    assert migration_events(fixed, DEST) == ["setup"]
    assert seng.vm(DEST).incoming.listening == ["tcp:0:4444", "unix:/tmp/m"]
    assert feng.vm(DEST).incoming.listening == ["tcp:0:4444"]


def test_migrate_before_cleanup() -> None:
    """DEF-MIGRATE-BEFORE-CLEANUP, MIG-MIGRATE-001, MIG-THREAD-011, MIG-CLEANUP-001:
    after the thread set FAILED but before cleanup ran, query-migrate says
    'failed' in both. Seed: migrate is accepted (708-713 test only the state) and
    migrate_init's memset (643) wipes the old cleanup_bh, file and thread; whichever
    bottom half the old thread schedules (1019), the cleanup that runs clears
    cleanup_bh (541) and joins the new thread, whose own line 1019 then schedules
    NULL: the source crashes and the last query-migrate is never answered. Fixed:
    migrate is refused with QERR_MIGRATION_ACTIVE and the state stays 'failed'."""
    (_, seed), (_, fixed) = both("DEF-MIGRATE-BEFORE-CLEANUP")
    s, f = replies(seed), replies(fixed)
    assert s[0] == f[0] == {"return": {}}
    assert s[1] == f[1] == {"return": {"status": "failed"}}
    assert s[2] == {"return": {}}
    assert len(s) == 3
    gone = exits(seed)
    assert len(gone) == 1
    assert gone[0].get("line") == 1019
    assert f[2] == {"error": {"class": "GenericError", "desc": MIGRATION_ACTIVE}}
    assert f[3] == {"return": {"status": "failed"}}
    assert exits(fixed) == []


def test_event_order() -> None:
    """DEF-EVENT-ORDER, MIG-EVENT-002, MIG-SETSTATE-002: the thread swaps setup ->
    active (927) but sends its event later (532); migrate_cancel swaps active ->
    cancelling and sends 'cancelling' first. Seed: setup, cancelling, active,
    cancelled. Fixed (event sent with the swap): setup, active, cancelling,
    cancelled."""
    (_, seed), (_, fixed) = both("DEF-EVENT-ORDER")
    assert migration_events(seed) == ["setup", "cancelling", "active", "cancelled"]
    assert migration_events(fixed) == ["setup", "active", "cancelling", "cancelled"]


def test_split_brain() -> None:
    """DEF-SPLIT-BRAIN, MIG-THREAD-010, MIG-INCOMING-008: the whole stream reached the
    destination, which loads it and starts the guest (282-300); the source then sees
    a file error, fails (970-974) and, the guest having run, calls vm_start
    (1015-1017). Seed: both query-status replies say running. Fixed: the source
    does not resume; only the destination runs. (The fixed profile also repairs
    DEF-FAILED-STOPPED-ABORT, which moves a stopped source left in 'finish-migrate'
    by a failed migration to 'postmigrate'.)"""
    (_, seed), (_, fixed) = both("DEF-SPLIT-BRAIN")
    for out in (seed, fixed):
        assert replies(out, DEST)[-1]["return"]["status"] == "running"
    source_seed = replies(seed)[-1]["return"]
    source_fixed = replies(fixed)[-1]["return"]
    assert source_seed["status"] == "running" and source_seed["running"] is True
    assert source_fixed["running"] is False
    assert source_fixed["status"] == "postmigrate"


def test_downtime_overflow() -> None:
    """DEF-DOWNTIME-OVERFLOW, MIG-DOWNTIME-002, MIG-CONNECT-001: 2e10 s is clamped to
    the double UINT64_MAX = 2^64 (824), which converts to 0 on x86-64 (825), so
    expected-downtime at connect (1029) is 0. Fixed: max_downtime is the largest
    double below 2^64, 18446744073709549568 ns, i.e. 18446744073709 ms."""
    (_, seed), (_, fixed) = both("DEF-DOWNTIME-OVERFLOW")
    s, f = replies(seed)[-1]["return"], replies(fixed)[-1]["return"]
    assert s["status"] == f["status"] == "active"
    assert s["expected-downtime"] == 0
    assert f["expected-downtime"] == 18446744073709549568 // 1000000


def test_caps_while_cancelling() -> None:
    """DEF-CAPS-WHILE-CANCELLING, MIG-CAPS-002, MIG-EVENT-001: in 'cancelling'
    migrate-set-capabilities is accepted by the seed (474-477), turns 'events' off
    and so suppresses 'cancelled' (559-560, 218). Fixed: refused with
    QERR_MIGRATION_ACTIVE; 'cancelled' is sent."""
    (_, seed), (_, fixed) = both("DEF-CAPS-WHILE-CANCELLING")
    assert replies(seed)[-1] == {"return": {}}
    assert replies(fixed)[-1] == {"error": {"class": "GenericError", "desc": MIGRATION_ACTIVE}}
    assert migration_events(seed) == ["setup", "active", "cancelling"]
    assert migration_events(fixed) == ["setup", "active", "cancelling", "cancelled"]


def test_unknown_uri_no_notify() -> None:
    """DEF-UNKNOWN-URI-NO-NOTIFY, MIG-NOTIFY-001, MIG-MIGRATE-008: both reply
    "Parameter 'uri' expects a valid migration protocol" (751-752); the seed never
    calls notifier_list_notify for it, the fixed profile does once, with 'failed'."""
    (seng, seed), (feng, fixed) = both("DEF-UNKNOWN-URI-NO-NOTIFY")
    err = {"error": {"class": "GenericError",
                     "desc": "Parameter 'uri' expects a valid migration protocol"}}
    assert replies(seed) == replies(fixed) == [err]

    def notified(out: list[Line]) -> list[str]:
        return [ln["state"] for ln in from_vm(out, "source")
                if ln.get("migspec") == "trace" and ln.get("what") == "notify"]

    assert notified(seed) == []
    assert notified(fixed) == ["failed"]
    assert seng.vm().notifications == []
    assert feng.vm().notifications == ["failed"]


def test_cache_negative() -> None:
    """DEF-CACHE-NEGATIVE, MIG-CACHE-003, MIG-CACHE-004: -1 compares as unsigned with
    the RAM size (782): seed "exceeds guest ram size " (sic); fixed "is smaller than
    page size"."""
    (_, seed), (_, fixed) = both("DEF-CACHE-NEGATIVE")
    assert replies(seed) == [{"error": {
        "class": "GenericError",
        "desc": "Parameter 'cache size' expects exceeds guest ram size "}}]
    assert replies(fixed) == [{"error": {
        "class": "GenericError",
        "desc": "Parameter 'cache size' expects is smaller than page size"}}]


def test_expected_downtime_div0() -> None:
    """DEF-EXPECTED-DOWNTIME-DIV0, MIG-THREAD-005: at 500 B/s a window sends more than
    10000 bytes in more than that many ms, so bandwidth (integer division, 979) is
    0 and dirty_bytes_rate / 0.0 converts to INT64_MIN (990). Fixed: the estimate is
    skipped and stays a sane non-negative value."""
    (_, seed), (_, fixed) = both("DEF-EXPECTED-DOWNTIME-DIV0")
    s, f = replies(seed)[-1]["return"], replies(fixed)[-1]["return"]
    assert s["status"] == f["status"] == "active"
    assert s["expected-downtime"] == -(2**63)
    assert f["expected-downtime"] >= 0


def test_incoming_prelaunch_abort() -> None:
    """DEF-INCOMING-PRELAUNCH-ABORT, MIG-INCOMING-008, MIG-GLOBAL-001: the source was
    never started ('prelaunch'), stores and sends that name (114-123, 140-160); the
    destination's runstate_set(prelaunch) from 'inmigrate' (305) is not in vl.c's
    table: seed aborts, its query-status unanswered. Fixed: it arrives 'prelaunch'."""
    (_, seed), (_, fixed) = both("DEF-INCOMING-PRELAUNCH-ABORT")
    gone = exits(seed, DEST)
    assert len(gone) == 1
    assert gone[0]["reason"] == "invalid runstate transition: 'inmigrate' -> 'prelaunch'"
    assert replies(seed, DEST) == []
    assert exits(fixed, DEST) == []
    assert replies(fixed, DEST)[-1] == {
        "return": {"running": False, "singlestep": False, "status": "prelaunch"}}
    for out in (seed, fixed):
        assert replies(out)[0] == {"return": {}}


def test_failed_stopped_abort() -> None:
    """DEF-FAILED-STOPPED-ABORT, MIG-THREAD-010, MIG-THREAD-007: a paused guest is not
    running at completion (944); vm_stop_force_state puts it in 'finish-migrate'
    (948); the file fails (962, 970-974) and, old_vm_running being false, nothing
    moves it (1015). Seed: query-status says finish-migrate; the next migrate is
    accepted and its completion calls runstate_set(finish-migrate) from
    'finish-migrate', not in vl.c's table: the source aborts and the last
    query-migrate is never answered. Fixed: the failed migration leaves the guest
    'postmigrate' and the second migration completes."""
    (_, seed), (_, fixed) = both("DEF-FAILED-STOPPED-ABORT")
    s, f = replies(seed), replies(fixed)
    assert s[0] == f[0] == {"return": {}}
    assert s[1] == {"return": {"running": False, "singlestep": False,
                               "status": "finish-migrate"}}
    assert f[1] == {"return": {"running": False, "singlestep": False,
                               "status": "postmigrate"}}
    assert s[2] == f[2] == {"return": {}}
    assert len(s) == 3
    gone = exits(seed)
    assert len(gone) == 1
    assert gone[0]["reason"] == (
        "invalid runstate transition: 'finish-migrate' -> 'finish-migrate'")
    assert exits(fixed) == []
    assert f[3]["return"]["status"] == "completed"


def test_cont_during_completion() -> None:
    """DEF-CONT-DURING-COMPLETION, MIG-THREAD-009, MIG-VM-003: after completion
    (941-954) the guest is 'finish-migrate' and the lock is free until 1003.
    Seed: cont restarts it (RESUME), then runstate_set(postmigrate) from
    'running' (1013) is not in vl.c's table and QEMU aborts. Fixed: cont is
    refused ("Migration is not finalized yet") and the source ends 'postmigrate'."""
    (_, seed), (_, fixed) = both("DEF-CONT-DURING-COMPLETION")
    s, f = replies(seed), replies(fixed)
    stopped = {"running": False, "singlestep": False, "status": "finish-migrate"}
    assert s[2] == f[2] == {"return": stopped}
    assert s[3] == {"return": {}}
    assert [o["event"] for o in seed if "event" in o] == ["STOP", "RESUME"]
    gone = [o for o in seed if o.get("migspec") == "exited"]
    assert gone[0]["reason"] == "invalid runstate transition: 'running' -> 'postmigrate'"
    assert f[3] == {"error": {"class": "GenericError", "desc": "Migration is not finalized yet"}}
    assert f[4]["return"]["status"] == "postmigrate"
    assert not [o for o in fixed if o.get("migspec") == "exited"]


def test_incoming_debug_abort() -> None:
    """DEF-INCOMING-DEBUG-ABORT, MIG-INCOMING-008, MIG-GLOBAL-001: a source stopped
    in the debugger may migrate (only 'inmigrate' is refused, 714-717); completion
    moves 'debug' -> 'finish-migrate' (allowed) and sends 'debug' (114-123, 140-160).
    Seed: the destination's runstate_set(debug) from 'inmigrate' (305) aborts.
    Fixed: the guest arrives 'paused'. The source ends 'postmigrate' in both."""
    (_, seed), (_, fixed) = both("DEF-INCOMING-DEBUG-ABORT")
    gone = exits(seed, DEST)
    assert [g["reason"] for g in gone] == ["invalid runstate transition: 'inmigrate' -> 'debug'"]
    assert exits(fixed, DEST) == []
    postmigrate = {"return": {"running": False, "singlestep": False, "status": "postmigrate"}}
    assert replies(seed)[-1] == replies(fixed)[-1] == postmigrate
    assert replies(fixed, DEST) == [
        {"return": {"running": False, "singlestep": False, "status": "paused"}}]


def test_global_state_unterminated() -> None:
    """DEF-GLOBAL-STATE-UNTERMINATED, MIG-DEST-001, MIG-DEST-002, MIG-DEST-102: 100
    bytes of 'r' fill VMSTATE_BUFFER(runstate) with no NUL (194-206); post_load's
    qapi_enum_parse finds no such name (172-180) and the load fails (-EINVAL) in both
    profiles: exit at line 278. Seed: the parse read past the buffer (the trace
    says so); fixed: the last byte is made a NUL first, nothing is read beyond."""
    (seng, seed), (feng, fixed) = both("DEF-GLOBAL-STATE-UNTERMINATED")
    for out in (seed, fixed):
        assert [(g["reason"], g["line"]) for g in exits(out, DEST)] == [
            ("load of migration failed: Invalid argument", 278)]
    assert [o["what"] for o in seed if o.get("migspec") == "trace"
            and o["what"].startswith("global state")] == ["global state read past its buffer"]
    assert not [o for o in fixed if o.get("migspec") == "trace"
                and o["what"].startswith("global state")]
    assert seng.vm(DEST).global_state.overread is True
    assert feng.vm(DEST).global_state.overread is False
    assert seng.vm(DEST).global_state.runstate == "r" * 100


def test_incoming_invalidate_exit() -> None:
    """DEF-INCOMING-INVALIDATE-EXIT, MIG-DEST-003, MIG-INCOMING-007: the load succeeds
    and the destination sends 'completed' (282) in both. Seed: the failing
    bdrv_invalidate_cache_all (286) makes it exit (290): its query-status is never
    answered, the source is 'postmigrate'. Fixed: it stays, 'paused' (autostart off)."""
    (_, seed), (feng, fixed) = both("DEF-INCOMING-INVALIDATE-EXIT")
    for out in (seed, fixed):
        assert migration_events(out, DEST) == ["active", "completed"]
    assert [(g["line"]) for g in exits(seed, DEST)] == [290]
    assert replies(seed, DEST) == [{"return": {}}]
    assert exits(fixed, DEST) == []
    assert replies(fixed, DEST)[-1] == {
        "return": {"running": False, "singlestep": False, "status": "paused"}}
    assert feng.vm(DEST).autostart is False
    postmigrate = {"return": {"running": False, "singlestep": False, "status": "postmigrate"}}
    assert replies(seed)[-1] == replies(fixed)[-1] == postmigrate


def test_incoming_load_running() -> None:
    """DEF-INCOMING-LOAD-RUNNING, MIG-DEST-004, MIG-DEST-101, MIG-INCOMING-011: after
    DEF-INCOMING-ONCE-NO-RETURN's second listener, the fed stream ('running') starts
    the guest (RESUME). Seed: a paused source's stream reaches the second listener
    and is loaded into the running guest; runstate_set(paused) (305) from 'running'
    sends no STOP. With only this defect repaired, the connection is closed unread
    and the guest keeps running; fixed has no second listener at all."""
    (_, seed), (_, fixed) = both("DEF-INCOMING-LOAD-RUNNING")
    running = {"return": {"running": True, "singlestep": False, "status": "running"}}
    paused = {"return": {"running": False, "singlestep": False, "status": "paused"}}
    assert replies(seed, DEST)[-2:] == [running, paused]
    assert [o["event"] for o in from_vm(seed, DEST) if o.get("event") in ("STOP", "RESUME")] \
        == ["RESUME"]
    assert replies(fixed, DEST)[-2:] == [running, running]
    only = replace(SEED, name="seed+load-running",
                   repaired=frozenset({"DEF-INCOMING-LOAD-RUNNING"}))
    engine = Engine(only)
    out = list(run_script(engine, parse("\n".join(
        json.dumps(line) for line in DEFECT_BY_ID["DEF-INCOMING-LOAD-RUNNING"].counterexample))))
    assert replies(out, DEST)[-2:] == [running, running]
    assert engine.vm("source").s.state.value == "failed"  # its stream was refused


def test_qmp_double_format() -> None:
    """DEF-QMP-DOUBLE-FORMAT, MIG-QMP-007: QEMU 2.4's to_json prints '%f' and
    strips zeros and the dot, so the ids 1e-7, 0.1234567 and 0.1234568 come back
    as 0, 0.123457 and 0.123457 (two commands, one id). Fixed: '%.17g', each id
    reads back as the double sent (the text QEMU 7.2 printed for 1e-7)."""
    (_, seed), (_, fixed) = both("DEF-QMP-DOUBLE-FORMAT")
    assert [o["id"] for o in seed] == [0, 0.123457, 0.123457]
    assert [o["id"] for o in fixed] == [1e-7, 0.1234567, 0.1234568]
    assert [wire.dumps(o["id"]) for o in seed] == ["0", "0.123457", "0.123457"]
    assert wire.dumps(fixed[0]["id"]) == "9.9999999999999995e-08"


def test_speed_below_ratio_unlimited() -> None:
    """DEF-SPEED-BELOW-RATIO-UNLIMITED, MIG-SPEED-002: 5 B/s makes the window
    limit 5 / 10 = 0, no limit (817, 1033): the 16 MiB guest goes at the
    channel's 1 GB/s and completes in 16 ms. Fixed: 1 byte per window, so at
    most one page goes per 100 ms window (qemu_file_rate_limit is checked
    before each page; the stream's header already fills the first window):
    after a second the migration is still active with 9 to 11 pages sent."""
    (_, seed), (_, fixed) = both("DEF-SPEED-BELOW-RATIO-UNLIMITED")
    s, f = replies(seed)[-1]["return"], replies(fixed)[-1]["return"]
    assert s["status"] == "completed"
    assert s["ram"]["transferred"] == 16 * 1024 * 1024
    assert s["total-time"] == 16
    assert f["status"] == "active"
    assert 9 * 4096 <= f["ram"]["transferred"] <= 11 * 4096


def test_completed_times_early() -> None:
    """DEF-COMPLETED-TIMES-EARLY, MIG-QUERY-004: between the CAS to 'completed'
    (963-965) and the thread's last region (1003-1008) the seed's query-migrate
    reports total-time = the start timestamp (5000: the migration started at
    5 s) and downtime 0, then 104 (1 MiB at 10 MB/s). Fixed: 104 both times."""
    (_, seed), (_, fixed) = both("DEF-COMPLETED-TIMES-EARLY")
    s, f = replies(seed), replies(fixed)
    assert [(r["return"]["status"], r["return"]["total-time"], r["return"]["downtime"])
            for r in s[1:]] == [("completed", 5000, 0), ("completed", 104, 0)]
    assert [(r["return"]["status"], r["return"]["total-time"], r["return"]["downtime"])
            for r in f[1:]] == [("completed", 104, 0), ("completed", 104, 0)]


def test_cache_alloc_misreported() -> None:
    """DEF-CACHE-ALLOC-MISREPORTED, MIG-CACHE-006: during an xbzrle migration a
    new cache size allocates a new cache; when that fails, the seed says the
    size (8 MiB) "is smaller than page size" (789-792). Fixed: "Failed to
    allocate page cache". Neither stores the size (64 MiB, the default, stays)."""
    (_, seed), (_, fixed) = both("DEF-CACHE-ALLOC-MISREPORTED")
    s, f = replies(seed), replies(fixed)
    assert s[2] == {"error": {"class": "GenericError",
                              "desc": "Parameter 'cache size' expects is smaller than page size"}}
    assert f[2] == {"error": {"class": "GenericError", "desc": "Failed to allocate page cache"}}
    assert s[3] == f[3] == {"return": 64 * 1024 * 1024}


TESTED = {
    "DEF-CANCEL-CONNECT-STUCK": test_cancel_connect_stuck,
    "DEF-INCOMING-ONCE-NO-RETURN": test_incoming_once_no_return,
    "DEF-MIGRATE-BEFORE-CLEANUP": test_migrate_before_cleanup,
    "DEF-EVENT-ORDER": test_event_order,
    "DEF-SPLIT-BRAIN": test_split_brain,
    "DEF-DOWNTIME-OVERFLOW": test_downtime_overflow,
    "DEF-CAPS-WHILE-CANCELLING": test_caps_while_cancelling,
    "DEF-UNKNOWN-URI-NO-NOTIFY": test_unknown_uri_no_notify,
    "DEF-CACHE-NEGATIVE": test_cache_negative,
    "DEF-EXPECTED-DOWNTIME-DIV0": test_expected_downtime_div0,
    "DEF-INCOMING-PRELAUNCH-ABORT": test_incoming_prelaunch_abort,
    "DEF-FAILED-STOPPED-ABORT": test_failed_stopped_abort,
    "DEF-CONT-DURING-COMPLETION": test_cont_during_completion,
    "DEF-INCOMING-DEBUG-ABORT": test_incoming_debug_abort,
    "DEF-GLOBAL-STATE-UNTERMINATED": test_global_state_unterminated,
    "DEF-INCOMING-INVALIDATE-EXIT": test_incoming_invalidate_exit,
    "DEF-INCOMING-LOAD-RUNNING": test_incoming_load_running,


    "DEF-QMP-DOUBLE-FORMAT": test_qmp_double_format,
    "DEF-SPEED-BELOW-RATIO-UNLIMITED": test_speed_below_ratio_unlimited,
    "DEF-COMPLETED-TIMES-EARLY": test_completed_times_early,
    "DEF-CACHE-ALLOC-MISREPORTED": test_cache_alloc_misreported,
}


def test_every_defect_has_a_test() -> None:
    """Every declared seed defect has its test above, and no test names a defect that
    is not declared; each names requirements that exist."""
    assert set(TESTED) == {d.id for d in DEFECTS}
    from migspec.spec.requirements import REQUIREMENT_BY_ID

    assert all(d.requirement in REQUIREMENT_BY_ID for d in DEFECTS)


def test_repairs_change_what_a_client_sees() -> None:
    """Every counterexample's output differs between 'seed' and 'fixed'."""
    for defect in DEFECTS:
        _, seed = replay(defect.counterexample, "seed")
        _, fixed = replay(defect.counterexample, "fixed")
        assert seed != fixed, defect.id
