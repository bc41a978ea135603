"""Main-loop regions (reference/mainloop.py): the cleanup bottom half
(migrate_fd_cleanup, lines 536-565) and its join, migrate_fd_error (567-573),
the connect callbacks and which VM a connection reaches (README env connect
``auto``), and the destination's incoming coroutine (262-319), each driven
step by step."""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    MIB,
    exits,
    new_engine,
    qmp,
    ret,
    status,
    step_to_active,
)

from migspec.reference import mainloop
from migspec.reference import scheduler as sched
from migspec.reference.engine import Engine
from migspec.reference.world import Crash

DEST = "destination"
REFUSED = "Failed to connect socket: Connection refused"


def _bh_pending(eng: Engine) -> int:
    """Run the source's thread to its end; the cleanup bottom half it scheduled."""
    vm = eng.vm()
    eng.step_thread_until("source", "final")
    eng.step(actor="thread")
    assert len(vm.scheduled_bhs) == 1
    return vm.scheduled_bhs[0]


# -- the seed's assertions name what failed -------------------------------------------
def test_fd_error_with_a_file_names_the_assertion() -> None:
    """MIG-FDERROR-002: migrate_fd_error asserts ``s->file == NULL`` (570); the
    abort names that expression."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    with pytest.raises(Crash) as info:
        mainloop.migrate_fd_error(eng.world, eng.vm(), "connect_error")
    assert "s->file == NULL" in info.value.reason
    assert info.value.line == 570


def test_cleanup_in_active_names_the_assertion() -> None:
    """MIG-CLEANUP-003: cleanup's ``assert(s->state != MIGRATION_STATUS_ACTIVE)``
    (554); the abort names that expression."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    with pytest.raises(Crash) as info:
        mainloop.cleanup_finish(eng.world, eng.vm())
    assert "s->state != MIGRATION_STATUS_ACTIVE" in info.value.reason
    assert info.value.line == 554


# -- cleanup after a new migrate wiped cleanup_bh (DEF-MIGRATE-BEFORE-CLEANUP) ------------
def test_cleanup_of_a_wiped_bottom_half_deletes_null() -> None:
    """MIG-CLEANUP-001, MIG-MIGRATE-001, MIG-MIGRATE-008: the thread of a completed
    migration has scheduled its cleanup (1019) but it has not run; a migrate to
    an unknown URI is accepted (708-713 test only the state), migrate_init's memset
    (643) clears cleanup_bh and the migration fails. The old bottom half then
    runs migrate_fd_cleanup, whose qemu_bh_delete(s->cleanup_bh) (540) gets NULL:
    the source dies at 540. A destination waiting for another stream is another
    process: it still loads what it is fed and starts its guest."""
    eng = new_engine(ram_bytes=MIB)
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    _bh_pending(eng)
    assert status(eng) == "completed"
    assert "error" in qmp(eng, "migrate", {"uri": "gopher:x"})
    assert eng.vm().s.cleanup_bh is None
    eng.output()
    eng.step(actor="main", task="bh")
    gone = exits(eng.output())
    assert len(gone) == 1 and gone[0]["line"] == 540
    assert "qemu_bh_delete(NULL)" in gone[0]["reason"]
    eng.feed(DEST, "complete", "running")
    assert eng.settle()
    assert eng.vm(DEST).exited is None
    assert eng.vm(DEST).runstate.value == "running"


def test_a_destination_migrating_on_after_the_source_died() -> None:
    """MIG-THREAD-001, MIG-THREAD-009, MIG-INCOMING-008: once the destination has
    loaded its stream it runs a guest and can migrate it on; its thread's setup
    takes setup_ms (README) and it completes even though the first source has
    died (540, as above): a dead process does not stop time for the others."""
    eng = new_engine(ram_bytes=MIB, setup_ms=100)
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    _bh_pending(eng)
    assert "error" in qmp(eng, "migrate", {"uri": "gopher:x"})
    eng.step(actor="main", task="bh")
    assert eng.vm().exited is not None
    eng.feed(DEST, "complete", "running")
    assert eng.settle()
    assert ret(eng, "migrate", {"uri": EXEC_URI}, vm=DEST) == {}
    assert eng.settle()
    assert status(eng, DEST) == "completed"


def test_cleanup_without_a_file_skips_the_join() -> None:
    """MIG-CLEANUP-002, MIG-CLEANUP-004, MIG-NOTIFY-002: with ``s->file`` NULL,
    migrate_fd_cleanup skips 544-551 (no join, the lock is kept) and goes
    straight to 554-564: 'cancelling' becomes 'cancelled' and the notifiers run.
    (A state reached here by clearing s->file by hand.)"""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert ret(eng, "migrate_cancel") == {}
    bh = _bh_pending(eng)
    vm = eng.vm()
    vm.s.file = None
    notified = len(vm.notifications)
    eng.step(actor="main", task="bh")
    assert vm.joining is None
    assert bh not in vm.bhs and vm.s.cleanup_bh is None
    assert status(eng) == "cancelled"
    assert vm.notifications[notified:] == ["cancelled"]


def test_cleanup_joining_a_zeroed_thread_handle() -> None:
    """MIG-CLEANUP-002: migrate_fd_cleanup joins ``s->thread`` (546) when there is
    a file; with the handle zeroed (set here by hand) that join is where the
    process dies."""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    _bh_pending(eng)
    eng.vm().s.thread = None
    eng.output()
    eng.step(actor="main", task="bh")
    gone = exits(eng.output())
    assert len(gone) == 1 and gone[0]["line"] == 546
    assert "qemu_thread_join" in gone[0]["reason"]


def test_cancelled_cleanup_cancels_the_saved_state() -> None:
    """MIG-CLEANUP-004: a migration that did not complete is cleaned up with
    qemu_savevm_state_cancel (556-557): RAM migration is over, the guest's RAM no
    longer tracked for it."""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert eng.vm().ram.active
    assert ret(eng, "migrate_cancel") == {}
    assert eng.settle()
    assert status(eng) == "cancelled"
    assert eng.vm().ram.active is False


# -- which VM a connection reaches (README env connect auto) ----------------------------
def test_socket_connect_refused_when_no_running_vm_listens_on_it() -> None:
    """MIG-FDERROR-001: README connect auto, tcp: connects asynchronously when
    no other VM runs or one listens on a matching URI, and is refused at once
    otherwise: a destination listening on unix: only makes a tcp: migrate fail
    with connect_error."""
    eng = new_engine()
    eng.incoming("unix:/tmp/m")
    reply = qmp(eng, "migrate", {"uri": "tcp:127.0.0.1:4444"})
    assert reply == {"error": {"class": "GenericError", "desc": REFUSED}}
    assert status(eng) == "failed"


def _dead_listener(eng: Engine) -> None:
    """A destination that listens on tcp:0:4445 and has exited: a second
    migrate-incoming opens a second listener (DEF-INCOMING-ONCE-NO-RETURN), then a
    failed load ends the process (276-280)."""
    eng.incoming("defer")
    assert ret(eng, "migrate-incoming", {"uri": "tcp:0:4444"}, vm=DEST) == {}
    assert "error" in qmp(eng, "migrate-incoming", {"uri": "tcp:0:4445"}, vm=DEST)
    eng.feed(DEST, "fail", None)
    assert eng.settle()
    dest = eng.vm(DEST)
    assert dest.exited is not None
    assert dest.incoming.listening == ["tcp:0:4445"]


def test_an_exited_process_accepts_no_connection() -> None:
    """MIG-CONNECT-002: README connect auto, with no other VM running a tcp:
    connect succeeds asynchronously; the only listener belongs to a process
    that has exited, so nobody reads the stream: the source migrates alone."""
    eng = new_engine(ram_bytes=MIB)
    _dead_listener(eng)
    assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4445"}) == {}
    eng.step(actor="main", task="connect")
    fid = eng.vm().s.file
    assert fid is not None
    assert fid not in eng.world.readers
    assert eng.vm(DEST).incoming.accepted == []
    assert eng.settle()
    assert status(eng) == "completed"


def test_an_exited_listener_does_not_make_a_connect_asynchronous() -> None:
    """MIG-FDERROR-001: README connect auto: another VM runs (listening on unix:
    only) and the tcp: listener belongs to an exited process, so no running VM
    listens on a matching URI: the connect is refused at once."""
    eng = new_engine(ram_bytes=MIB)
    _dead_listener(eng)
    eng.incoming("unix:/tmp/o", name="other")
    reply = qmp(eng, "migrate", {"uri": "tcp:127.0.0.1:4445"})
    assert reply == {"error": {"class": "GenericError", "desc": REFUSED}}


# -- the destination's incoming coroutine (262-308) -----------------------------------
def test_stream_closed_without_its_end_fails_the_load() -> None:
    """MIG-INCOMING-005, MIG-INCOMING-006, MIG-CANCEL-002, MIG-CLEANUP-002: a
    destination reading an exec: stream. The cancel cannot shut an exec: file
    down (qemu_file_shutdown, 597-598), so the destination keeps waiting until
    the source's cleanup closes the file (550); qemu_loadvm_state then fails
    and the destination exits with "load of migration failed:
    Input/output error" (276-280). While it loads, mis_current exists (268);
    afterwards it is destroyed (274)."""
    eng = new_engine(ram_bytes=16 * MIB, bandwidth=10_000_000)
    eng.incoming("exec:cat")
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    dest = eng.vm(DEST)
    assert len(dest.incoming.accepted) == 1
    eng.step(DEST, "main", "accept")
    assert dest.incoming.mis is True
    step_to_active(eng)
    assert ret(eng, "migrate_cancel") == {}
    eng.step_thread_until("source", "final")
    eng.step(actor="thread")
    # closed? not yet: no load move for the destination
    assert not any(m.vm == DEST and m.task == "load" for m in sched.moves(eng.world))
    eng.step(actor="main", task="bh")
    eng.step(actor="main", task="join")  # closes the file (550)
    eng.output()
    assert eng.settle()
    gone = exits(eng.output(), DEST)
    assert [(g["reason"], g["line"]) for g in gone] == [
        ("load of migration failed: Input/output error", 278)]
    assert dest.incoming.mis is False
    assert dest.incoming.finished is True
    assert status(eng) == "cancelled"


def test_loaded_global_state_is_kept() -> None:
    """MIG-GLOBAL-002, MIG-INCOMING-007, MIG-INCOMING-008: a non-optional global
    state is always sent (147-148); global_state_post_load marks it received
    and keeps the source's run state name (169-181); with 'running' the
    destination obeys autostart and runs (297-300). mis_current is gone (274)."""
    eng = new_engine(ram_bytes=MIB)
    eng.incoming("tcp:0:4444")
    assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4444"}) == {}
    assert eng.settle()
    dest = eng.vm(DEST)
    assert dest.global_state.received is True
    assert dest.global_state.runstate == "running"
    assert dest.incoming.mis is False and dest.incoming.finished is True
    assert dest.runstate.value == "running"
