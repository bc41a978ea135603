"""The explorer's copies and keys (reference/snapshot.py) with the parts
tests/test_snapshot.py does not reach: pending connect callbacks, the log, the
trace and the fired triggers."""

from __future__ import annotations

from support import EXEC_URI, TCP_URI, new_engine, ret

from migspec.reference import scheduler as sched
from migspec.reference import snapshot


def test_clone_and_key_with_a_pending_connect() -> None:
    """MIG-CONNECT-002: a socket connect whose callback is still pending is part of
    the state: a clone has its own copy (running the callback in the clone
    leaves the original's pending), and two worlds that differ only in when the
    callback is due key differently."""
    eng = new_engine(connect="delayed", connect_delay_ms=50)
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    world = eng.world
    copy = snapshot.clone(world)
    assert snapshot.key(copy) == snapshot.key(world)
    copy.vms["source"].connects[0].due_us += 1
    assert snapshot.key(copy) != snapshot.key(world)
    assert world.vms["source"].connects[0].due_us == 50_000
    copy.clock_us = world.clock_us = 50_000
    copy.vms["source"].connects[0].due_us = 50_000
    sched.step(copy, sched.moves(copy)[0])
    assert copy.vms["source"].connects == []
    assert len(world.vms["source"].connects) == 1


def test_clone_has_its_own_log_trace_and_fired() -> None:
    """MIG-WITNESS-003, MIG-CONNECT-001: a clone extends its own log and trace
    and starts with no fired triggers (the explorer's transition coverage); the
    original's are untouched."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    world = eng.world
    log, trace = list(world.log), list(world.trace)
    copy = snapshot.clone(world)
    assert copy.fired == []
    assert copy.log == log and copy.trace == trace
    assert sched.run(copy, 10**12, stop_at_quiescence=True)
    assert len(copy.log) > len(log) or len(copy.trace) > len(trace)
    assert copy.fired
    assert world.log == log and world.trace == trace
