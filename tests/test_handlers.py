"""The QMP command handlers (reference/handlers.py): behaviour the other
command tests leave open.

Every expected value comes from the seed (migration.c at 6775e2c4, line numbers
cited), from QEMU 2.4 beside it (ram.c, fd.c, exec.c, rdma.c, qmp.c), from the
README's environment model or from the error catalogue of spec/errors.py.
"""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    GENERIC,
    MIB,
    TCP_URI,
    err,
    new_engine,
    query,
    ret,
    runstate,
    set_caps,
    status,
    step_to_active,
    to_state,
)

from migspec.reference.engine import Engine
from migspec.reference.handlers import QmpError
from migspec.spec.uris import BuildConfig

DEST = "destination"
PAGE = 4096  # TARGET_PAGE_SIZE on x86-64


# -- QmpError ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "args", "cls", "desc"),
    [
        ("migration_active", (), GENERIC, "There's a migration process in progress"),
        ("blocker", ("b1",), GENERIC, "b1"),
        ("command_not_found", ("nosuch",), "CommandNotFound",
         "The command nosuch has not been found"),
    ],
)
def test_qmp_error_carries_key_class_and_text(
    key: str, args: tuple[object, ...], cls: str, desc: str
) -> None:
    """MIG-MIGRATE-001, MIG-BLOCKER-001, MIG-QMP-001: a handler's error is the
    catalogue entry (spec/errors.py) with its template filled in: the key, the
    class, and the text both as the exception's message and as desc
    (QERR_MIGRATION_ACTIVE, lines 476 and 711; error_copy of the blocker, line
    724; monitor.c's CommandNotFound)."""
    error = QmpError(key, *args)
    assert error.key == key
    assert error.error_class == cls
    assert error.desc == desc
    assert str(error) == desc


# -- query-migrate: counters the model never moves at the start --------------------------
def test_active_counters_before_any_page() -> None:
    """MIG-QUERY-003, MIG-QUERY-005: just after setup (lines 923-927) no page has
    been sent, so the duplicate and skipped page counts of lines 415-416 are 0 (ram.c
    never increments skipped_pages in 2.4), and with xbzrle on get_xbzrle_cache_stats
    (lines 374-383) reports the cache size and zero bytes, pages, cache misses,
    miss rate and overflows (ram_save_setup clears them with acct_clear)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-cache-size", {"value": 2 * MIB}) == {}
    assert set_caps(eng, xbzrle=True) == {"return": {}}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    info = query(eng)
    assert info["status"] == "active"
    assert info["ram"]["duplicate"] == 0
    assert info["ram"]["skipped"] == 0
    assert info["xbzrle-cache"] == {
        "cache-size": 2 * MIB, "bytes": 0, "pages": 0, "cache-miss": 0,
        "cache-miss-rate": 0, "overflow": 0,
    }


def test_dirty_pages_rate_active_then_not_after_completion() -> None:
    """MIG-QUERY-003, MIG-QUERY-004: while 'active', query-migrate copies
    s->dirty_pages_rate (line 419), which the bitmap sync sets once a period of
    over a second has passed (ram.c migration_bitmap_sync): a guest dirtying 2 MiB/s
    dirties at most 2 MiB / 4096 = 512 pages a second. In 'completed' lines 444-454
    never fill dirty_pages_rate, so the g_malloc0'd 0 (line 445) is reported
    although s->dirty_pages_rate still holds the last rate."""
    eng = new_engine(dirty_rate=2 * MIB)
    assert ret(eng, "migrate_set_speed", {"value": 4 * MIB}) == {}
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.advance(4000)
    info = query(eng)
    assert info["status"] == "active"
    rate = info["ram"]["dirty-pages-rate"]
    assert 0 < rate <= 2 * MIB // PAGE
    assert rate == eng.vm().s.dirty_pages_rate
    assert eng.settle()
    info = query(eng)
    assert info["status"] == "completed"
    assert eng.vm().s.dirty_pages_rate > 0
    assert info["ram"]["dirty-pages-rate"] == 0


# -- migrate: which transports connect inside the command ------------------------------------
def fd_engine() -> Engine:
    """A source that knows fd 'mig', beside a destination waiting on -incoming
    defer (so another process runs, listening nowhere)."""
    eng = new_engine()
    eng.configure_vm("source", {"fds": ["mig"]})
    eng.incoming("defer")
    return eng


def test_fd_connects_inside_migrate() -> None:
    """MIG-MIGRATE-007, MIG-CONNECT-001: fd_start_outgoing_migration (fd.c) opens
    the descriptor and calls migrate_fd_connect at once (lines 747-748), whatever
    other processes run: when migrate returns, the file, the cleanup bottom half
    and the thread exist (lines 1026-1041)."""
    eng = fd_engine()
    assert ret(eng, "migrate", {"uri": "fd:mig"}) == {}
    s = eng.vm().s
    assert s.file is not None
    assert s.cleanup_bh is not None
    assert s.thread is not None
    assert status(eng) == "setup"


def test_rdma_connects_inside_migrate() -> None:
    """MIG-MIGRATE-007, MIG-CONNECT-001: with CONFIG_RDMA,
    rdma_start_outgoing_migration connects synchronously and calls
    migrate_fd_connect before migrate returns (lines 739-740), even with another
    process that does not listen."""
    eng = Engine(build=BuildConfig(config_rdma=True))
    eng.set_env({"ram_bytes": 16 * MIB})
    eng.incoming("defer")
    assert ret(eng, "migrate", {"uri": "rdma:192.0.2.1:4444"}) == {}
    assert eng.vm().s.file is not None
    assert eng.vm().s.cleanup_bh is not None


def test_tcp_refused_when_nobody_listens() -> None:
    """MIG-MIGRATE-009, MIG-FDERROR-001: with another process running that listens
    nowhere, a tcp: connect is refused (README, environment 'auto'); migrate returns
    the connect error after migrate_fd_error moved setup to failed (lines 757-760,
    571)."""
    eng = fd_engine()
    assert err(eng, "migrate", {"uri": TCP_URI}) == (
        GENERIC, "Failed to connect socket: Connection refused")
    assert query(eng) == {"status": "failed"}


def test_tcp_to_an_exited_process_connects_later() -> None:
    """MIG-CONNECT-002: a process that exited (-incoming with an unknown protocol,
    lines 257-259) does not count: with no other process running the socket connect
    is asynchronous, so migrate returns {} and the state stays 'setup' with no file
    (lines 736-737)."""
    eng = new_engine()
    eng.incoming("gopher:x")
    assert eng.vm(DEST).exited is not None
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert query(eng) == {"status": "setup"}
    assert eng.vm().s.file is None


def test_exec_stream_reaches_a_listening_destination() -> None:
    """MIG-MIGRATE-007, MIG-CONNECT-001, MIG-INCOMING-007, MIG-INCOMING-008: exec:
    connects inside migrate (lines 743-744) and its stream goes to the process
    listening on an exec: pipe; that destination loads the whole stream, whose
    global state says 'running' (line 946), and with autostart it runs the guest
    (lines 293-300) while the source ends 'completed'."""
    eng = new_engine()
    eng.incoming("exec:cat /tmp/stream")
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert status(eng) == "completed"
    assert runstate(eng, DEST) == "running"


# -- what an accepted migrate records -------------------------------------------------------------
@pytest.mark.parametrize("running", [True, False])
@pytest.mark.parametrize("events", [True, False])
def test_migrate_records_start_conditions(running: bool, events: bool) -> None:
    """MIG-INIT-001, MIG-SAFETY-007, MIG-SAFETY-008: each accepted migrate is one
    more migrate_init (line 734) and notes, for the properties, whether the guest
    ran and whether the events capability was on when it started; completion has
    not begun and no cancel came after it. A refused migrate (lines 708-713)
    records nothing."""
    eng = new_engine()
    if events:
        assert set_caps(eng, events=True) == {"return": {}}
    if not running:
        assert ret(eng, "stop") == {}
    vm = eng.vm()
    assert vm.migrations == 0
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert vm.migrations == 1
    assert vm.running_at_start is running
    assert vm.events_at_start is events
    assert vm.completion_started is False
    assert vm.cancel_after_completion is False
    assert err(eng, "migrate", {"uri": EXEC_URI})[1] == "There's a migration process in progress"
    assert vm.migrations == 1
    assert eng.settle()
    assert status(eng) == "completed"
    assert vm.completion_started is True
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert vm.migrations == 2
    assert vm.completion_started is False
    assert vm.running_at_start is False  # 'postmigrate' after the first one (line 1013)


# -- cancel after completion began ----------------------------------------------------------
def test_cancel_after_completion_began_is_recorded() -> None:
    """MIG-CANCEL-001, MIG-WITNESS-001: a migrate_cancel between the thread's
    qemu_savevm_state_complete (line 951) and its swap to 'completed' (line 963)
    finds 'active' and moves it to 'cancelling' (line 587); the swap then fails and
    cleanup ends 'cancelled' (lines 558-560). The handler records that the cancel
    came after completion began, which the explorer's witness reads."""
    eng = new_engine(instant=True)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.step_thread_until("source", "after_complete")
    assert not eng.vm().cancel_after_completion
    assert ret(eng, "migrate_cancel") == {}
    assert eng.vm().cancel_after_completion is True
    assert status(eng) == "cancelling"
    assert eng.settle()
    assert status(eng) == "cancelled"


def test_cancel_before_completion_is_not_recorded() -> None:
    """MIG-CANCEL-001: a cancel while 'active' before completion began is an
    ordinary cancel (lines 581-588)."""
    eng = new_engine()
    to_state(eng, "cancelling")
    assert eng.vm().cancel_after_completion is False


# -- flags on a waiting destination -----------------------------------------------------------
def test_stop_clears_autostart_flag() -> None:
    """MIG-VM-002: qmp_stop on an 'inmigrate' process sets autostart = 0 (qmp.c)."""
    eng = new_engine()
    eng.incoming("tcp:0:4444")
    assert eng.vm(DEST).autostart is True
    assert ret(eng, "stop", vm=DEST) == {}
    assert eng.vm(DEST).autostart is False


def test_migrate_incoming_clears_once() -> None:
    """MIG-INCOMING-011: a successful migrate-incoming sets once = false (line 693)."""
    eng = new_engine()
    eng.incoming("defer")
    assert eng.vm(DEST).incoming_once is True
    assert ret(eng, "migrate-incoming", {"uri": "tcp:0:4444"}, vm=DEST) == {}
    assert eng.vm(DEST).incoming_once is False
