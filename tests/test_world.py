"""The world (reference/world.py): event timestamps from the virtual clock, the
compare-and-swap of migrate_set_state and what it records, the one-shot
channel error, the VMs' RAM, files over many migrations, and copies by
pickling."""

from __future__ import annotations

import pickle

from support import EXEC_URI, MIB, new_engine, ret, status, step_to_active

from migspec.reference import snapshot
from migspec.reference.engine import Engine
from migspec.reference.environment import Env
from migspec.spec.states import MigrationStatus as S

DEST = "destination"


def test_event_timestamps_split_the_clock() -> None:
    """MIG-VM-002, MIG-VM-003: README, event timestamps come from the virtual
    clock, as QMP's {"seconds", "microseconds"}: STOP at exactly 2 s and RESUME
    at 3.234 s."""
    eng = new_engine()
    eng.advance(2000)
    assert ret(eng, "stop") == {}
    eng.advance(1234)
    assert ret(eng, "cont") == {}
    events = [ln for ln in eng.output() if "event" in ln]
    assert events == [
        {"event": "STOP", "timestamp": {"seconds": 2, "microseconds": 0}},
        {"event": "RESUME", "timestamp": {"seconds": 3, "microseconds": 234000}},
    ]
    assert all(type(v) is int for e in events for v in e["timestamp"].values())


def test_set_state_reports_a_swap() -> None:
    """MIG-SETSTATE-001: migrate_set_state's compare-and-swap (530) succeeds when
    the state is the expected one; the main loop's swap then sends its event."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    vm = eng.vm()
    eng.world.fired.clear()
    assert eng.world.set_state(vm, S.ACTIVE, "cancel") is True
    assert vm.s.state == S.CANCELLING
    assert eng.world.fired == ["cancel"]


def test_fired_triggers_of_a_whole_migration() -> None:
    """MIG-WITNESS-003, MIG-INIT-001, MIG-THREAD-002, MIG-THREAD-006: the swaps a
    completed migration makes, in order: migrate's reset of the state (732, no
    swap), migrate_init none -> setup (655), the thread's setup -> active (927)
    and active -> completed (963); cleanup of 'completed' swaps nothing (556)."""
    eng = new_engine(ram_bytes=MIB)
    eng.world.fired.clear()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert eng.world.fired == ["migrate_reset", "migrate_init", "setup_done", "complete"]


def test_channel_error_breaks_only_the_next_write() -> None:
    """MIG-THREAD-008, MIG-MIGRATE-001: README channel_error, the *next* write on
    the outgoing channel fails: the first migration fails (970-973); the next
    one, started after the first was cleaned up, completes."""
    eng = new_engine(ram_bytes=MIB)
    eng.set_env({"channel_error": True})
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert status(eng) == "failed"
    assert eng.world.env.channel_error is False
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.settle()
    assert status(eng) == "completed"


def test_every_vm_gets_the_configured_ram() -> None:
    """MIG-QUERY-003: README ram_bytes is the guest RAM: a source and a
    destination started with an 8 MiB environment have 8 MiB, and the source's
    query-migrate reports it as total."""
    eng = Engine(env=Env(ram_bytes=8 * MIB))
    eng.incoming("tcp:0:4444")
    assert eng.vm(DEST).ram.total == 8 * MIB
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert ret(eng, "query-migrate")["ram"]["total"] == 8 * MIB


def test_many_migrations_keep_working() -> None:
    """MIG-THREAD-009, MIG-INCOMING-007, MIG-CANCEL-001: a long-running engine:
    twelve migrations in a row, to fresh destinations over tcp: and, between
    them, cancelled ones over exec: (no reader). Each completes (or is
    cancelled) and each destination runs its guest (the source's guest is
    continued after each completion, so it sends 'running', 297-300, not
    'postmigrate', which an incoming QEMU cannot enter); the engine forgets old
    files as they finish (its memory stays flat), never one still referred to,
    and keeps no reader or payload of a forgotten file."""
    eng = new_engine(ram_bytes=MIB, instant=True)
    world = eng.world
    for i in range(12):
        name = f"dest{i}"
        eng.incoming("tcp:0:4444", name=name)
        assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4444"}) == {}
        assert eng.settle()
        assert status(eng) == "completed"
        assert eng.vm(name).exited is None
        assert eng.vm(name).runstate.value == "running"
        assert ret(eng, "cont") == {}
        if i % 3 == 0:
            assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
            step_to_active(eng)
            assert ret(eng, "migrate_cancel") == {}
            assert eng.settle()
            assert status(eng) == "cancelled"
        assert set(world.readers) <= set(world.files)
        assert set(world.payloads) <= set(world.files)
    assert all(vm.exited is None for vm in world.vms.values())
    assert len(world.files) < 12 + 4  # files opened: 12 over tcp:, 4 over exec:


def test_pickled_world_is_the_same_world() -> None:
    """MIG-WITNESS-003, MIG-THREAD-009: a world survives pickling (the
    explorer's copies): the copy keys equal to the original, has its transition
    table back and no fired triggers (the explorer's transition coverage starts
    afresh), and runs on to completion independently of the original."""
    eng = new_engine(ram_bytes=MIB)
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    original = eng.world
    copy = pickle.loads(pickle.dumps(original))
    assert snapshot.key(copy) == snapshot.key(original)
    assert copy.fired == []
    assert copy.table == original.table
    copy_engine = Engine()
    copy_engine.world = copy
    assert copy_engine.settle()
    assert copy.vms["source"].s.state == S.COMPLETED
    assert original.vms["source"].s.state == S.ACTIVE


def test_cancel_shuts_down_a_unix_socket_file() -> None:
    """MIG-CANCEL-002, MIG-INCOMING-006: unix: is a socket transport, so the
    cancel's qemu_file_shutdown (597-598) works on its file: the destination
    reading the stream sees it end at once, before the source's cleanup has
    closed anything, and its load fails then."""
    eng = new_engine(ram_bytes=16 * MIB, bandwidth=10_000_000)
    eng.incoming("unix:/tmp/m")
    assert ret(eng, "migrate", {"uri": "unix:/tmp/m"}) == {}
    eng.step(actor="main", task="connect")
    eng.step(DEST, "main", "accept")
    step_to_active(eng)
    fid = eng.vm().s.file
    assert fid is not None
    assert ret(eng, "migrate_cancel") == {}
    assert eng.world.files[fid].shut_down is True
    assert eng.world.files[fid].closed is False
    eng.step(DEST, "main", "load")
    assert eng.vm(DEST).exited == "load of migration failed: Input/output error"


def test_forgetting_files_spares_a_stream_still_being_loaded() -> None:
    """MIG-INCOMING-005, MIG-INCOMING-006, MIG-CLEANUP-002: old finished files are
    forgotten as cleanups close files (550), but never a file a process still
    reads: a destination that has accepted a failing stream (262-270) and not
    yet loaded it keeps it across the source's cleanups of ten migrations,
    then fails its load and exits (276-280)."""
    eng = new_engine(ram_bytes=MIB, instant=True)
    eng.incoming("tcp:0:4444", name="late")
    eng.feed("late", "fail", None)
    eng.step("late", "main", "accept")
    loading = eng.vm("late").incoming.file
    assert loading is not None
    for _ in range(10):
        assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
        eng.step_thread_until("source", "final")
        eng.step(actor="thread")
        eng.step(actor="main", task="bh")
        eng.step(actor="main", task="join")  # closes the file (550)
        assert status(eng) == "completed"
        assert ret(eng, "cont") == {}
    assert loading in eng.world.files
    assert len(eng.world.files) < 11
    assert eng.settle()
    assert eng.vm("late").exited == "load of migration failed: Input/output error"
