"""Main-loop work other than QMP handlers: the cleanup bottom half, connect
callbacks, and the destination's accept and incoming coroutine.

Each function is one main-loop region; main-loop regions hold the big lock and
never interleave with each other. ``migrate_fd_cleanup`` is two regions: it
drops the lock to join the migration thread (lines 545-547).
"""

from __future__ import annotations

from typing import Any

from migspec.reference import decisions as D
from migspec.reference.stream import Stream, stream_of
from migspec.reference.vm import VM, MigrationThread
from migspec.reference.world import DESTINATION, Crash, World
from migspec.spec.runstates import RunState
from migspec.spec.states import MigrationStatus as S


def migrate_fd_connect(world: World, vm: VM, fid: int) -> None:
    """Lines 1026-1041 (MIG-CONNECT-001): the transport has a file."""
    s = vm.s
    s.file = fid
    s.expected_downtime = vm.max_downtime // 1000000
    bh = vm.new_id()
    vm.bhs[bh] = False
    s.cleanup_bh = bh
    world.files[fid].xfer_limit = D.xfer_limit(
        s.bandwidth_limit, world.profile.repairs("DEF-SPEED-BELOW-RATIO-UNLIMITED"))
    world.notify(vm)
    tid = vm.new_id()
    vm.threads[tid] = MigrationThread(tid=tid)
    s.thread = tid
    reader = world.readers.get(fid)
    if reader is not None:
        world.own(reader).incoming.accepted.append(fid)


def migrate_fd_error(world: World, vm: VM, trigger: str) -> None:
    """Lines 567-573 (MIG-FDERROR-001/002/003)."""
    if vm.s.file is not None:
        raise Crash("Assertion `s->file == NULL' failed", 570)
    world.set_state(vm, S.SETUP, trigger)
    if world.profile.repairs("DEF-CANCEL-CONNECT-STUCK"):
        world.set_state(vm, S.CANCELLING, "connect_error_cancelled")
    world.notify(vm)


def connect_callback(world: World, vm: VM, index: int) -> None:
    """The transport's connect callback (tcp_wait_for_connect and kin)."""
    pending = vm.connects.pop(index)
    if pending.ok:
        f = world.new_file(pending.scheme)
        _pair(world, vm, f.fid, pending.scheme)
        migrate_fd_connect(world, vm, f.fid)
    else:
        vm.s.file = None
        migrate_fd_error(world, vm, "connect_error")
        # QEMU 7.2's migrate_fd_connect then runs migrate_fd_cleanup, whose
        # block_cleanup_parameters turns the block capability off (QEMU72-MIGRATE-BLOCK-CAP)
        vm.block_options = False


def _pair(world: World, vm: VM, fid: int, scheme: str) -> None:
    """Connect the file to a VM listening on the same scheme, if there is one."""
    for other in world.vms.values():
        if other is vm or other.exited:
            continue
        for uri in other.incoming.listening:
            if uri.startswith(scheme):
                world.own(other.name).incoming.listening.remove(uri)
                world.readers[fid] = other.name
                return


def listener_for(world: World, vm: VM, scheme: str) -> VM | None:
    """The VM that would accept a connection from ``vm`` on ``scheme``."""
    for other in world.vms.values():
        if other is not vm and not other.exited and any(
            uri.startswith(scheme) for uri in other.incoming.listening
        ):
            return other
    return None


def cleanup_start(world: World, vm: VM, bh: int) -> None:
    """``migrate_fd_cleanup`` up to the join (lines 538-546)."""
    vm.scheduled_bhs.remove(bh)
    s = vm.s
    # MIG-CLEANUP-001: it deletes s->cleanup_bh, whichever bottom half that is now.
    if s.cleanup_bh is None:
        raise Crash("qemu_bh_delete(NULL): cleanup_bh was cleared", 540)
    del vm.bhs[s.cleanup_bh]  # deleted: a later qemu_bh_schedule of it does nothing
    s.cleanup_bh = None
    if s.file is not None:
        if s.thread is None:
            raise Crash("qemu_thread_join on a zeroed thread handle", 546)
        vm.joining = s.thread
        return
    cleanup_finish(world, vm)


def join_done(vm: VM) -> bool:
    """The thread ``migrate_fd_cleanup`` joins has returned."""
    return vm.joining is not None and vm.threads[vm.joining].done


def cleanup_after_join(world: World, vm: VM) -> None:
    """Lines 547-552 (MIG-CLEANUP-002): relock, close the file."""
    assert vm.joining is not None
    del vm.threads[vm.joining]
    vm.joining = None
    s = vm.s
    fid = s.file
    if fid is not None:
        world.files[fid].closed = True
        s.file = None
        world.forget_finished_files()
    cleanup_finish(world, vm)


def cleanup_finish(world: World, vm: VM) -> None:
    """Lines 554-564 (MIG-CLEANUP-003/004/005)."""
    s = vm.s
    fails, cancel_savevm, to_cancelled = D.cleanup_decision(s.state)
    if fails:
        raise Crash("Assertion `s->state != MIGRATION_STATUS_ACTIVE' failed", 554)
    if cancel_savevm:
        vm.ram.active = False  # qemu_savevm_state_cancel
        vm.ram.xbzrle_cache = False  # ram_migration_cancel -> migration_end
    if to_cancelled:
        world.set_state(vm, S.CANCELLING, "cleanup_cancelled")
    world.notify(vm)
    vm.block_options = False  # QEMU 7.2's block_cleanup_parameters (migration.c:1966)


def stream_finished(world: World, fid: int) -> bool:
    """The destination's qemu_loadvm_state has all it will get from ``fid``."""
    f = world.files[fid]
    if f.complete_delivered:
        return world.clock_us >= f.complete_at_us
    return bool(f.error) or f.closed or f.shut_down


def incoming_accept(world: World, vm: VM, fid: int) -> None:
    """``process_incoming_migration`` and the coroutine up to its first yield
    (lines 262-270, 310-319; MIG-INCOMING-005). The seed takes any stream,
    also into a guest that already runs after an earlier load
    (DEF-INCOMING-LOAD-RUNNING); the repair takes one only while the guest is
    'inmigrate' and closes any other connection unread (MIG-DEST-004)."""
    vm.incoming.accepted.remove(fid)
    if vm.runstate != RunState.INMIGRATE and world.profile.repairs("DEF-INCOMING-LOAD-RUNNING"):
        world.files[fid].broken = True  # closed by the destination: the source's writes fail
        world.files[fid].closed = True
        world.note(vm, "incoming refused", fid=fid, runstate=vm.runstate.value)
        return
    vm.incoming.file = fid
    vm.incoming.mis = True
    world.migration_event(vm, S.ACTIVE)


def feed_stream(world: World, vm: VM, stream: Stream) -> None:
    """A source this world does not model connects to ``vm``'s first listener
    and sends ``stream`` (the ``feed`` directive, the explorer's feed actions).
    The caller checks that ``vm`` listens."""
    uri = vm.incoming.listening.pop(0)
    f = world.new_file(uri.split(":", 1)[0] + ":")
    if stream.fail:
        f.error = -5
    else:
        f.complete_delivered = True
    world.payloads[f.fid] = stream
    world.readers[f.fid] = vm.name
    vm.incoming.accepted.append(f.fid)


def is_feed(event: dict[str, Any]) -> bool:
    """An environment event that is a ``feed`` directive (a source this world
    does not model sends a stream), not ``env`` knob changes."""
    return event.get("migspec") == "feed"


def environment_event_enabled(world: World, event: dict[str, Any]) -> bool:
    """An environment event can happen now: a feed needs a live listener."""
    if not is_feed(event):
        return True
    vm = world.vms.get(event.get("vm", DESTINATION))
    return vm is not None and vm.exited is None and bool(vm.incoming.listening)


def environment_event(world: World, event: dict[str, Any]) -> None:
    """Let an environment event happen (the explorer's and the trace
    validator's environment actions, declared once as the ``migspec run`` line
    that replays them): a ``feed`` directive, or ``env`` knobs. A feed that is
    not enabled (:func:`environment_event_enabled`) does nothing."""
    if not is_feed(event):
        world.env.update(event)
    elif environment_event_enabled(world, event):
        feed_stream(world, world.vms[event.get("vm", DESTINATION)], stream_of(event))


EIO = "Input/output error"
EINVAL = "Invalid argument"


def qemu_loadvm_state(world: World, vm: VM, complete: bool, stream: Stream | None) -> str | None:
    """What ``qemu_loadvm_state`` (savevm.c) does with the global-state
    section of ``stream`` (MIG-DEST-001..003): None when the load succeeds,
    else the ``strerror`` of its failure. ``complete``: the stream's end
    arrived (an honest source's stream that was cut has no payload)."""
    if stream is None or stream.fail == "before" or (not stream.fail and not complete):
        return EIO
    sec = stream.section
    if sec is not None:
        gs = vm.global_state
        gs.size = sec.size  # VMSTATE_UINT32(size): read, never used (MIG-DEST-001)
        if stream.fail != "section":  # the 100 bytes of VMSTATE_BUFFER(runstate)
            gs.runstate = sec.runstate
        # global_state_post_load (lines 162-184, MIG-GLOBAL-003)
        gs.received = True
        state, overread = D.global_state_post_load(
            gs.runstate, world.profile.repairs("DEF-GLOBAL-STATE-UNTERMINATED"))
        if overread:
            gs.overread = True
            world.note(vm, "global state read past its buffer", runstate=gs.runstate)
        if state is None:
            return EINVAL
        gs.state = state
        if sec.spill and stream.fail != "section":
            return EINVAL  # the rest of the name is no section header
    return EIO if stream.fail else None


def incoming_load_done(world: World, vm: VM) -> None:
    """The rest of ``process_incoming_migration_co`` (lines 270-307)."""
    fid = vm.incoming.file
    assert fid is not None
    f = world.files[fid]
    vm.incoming.mis = False
    vm.incoming.finished = True
    vm.incoming.file = None
    stream = world.payloads.get(fid)
    world.forget_finished_files()
    error = qemu_loadvm_state(world, vm, f.complete_delivered, stream)
    if error is not None:
        # MIG-INCOMING-006
        world.migration_event(vm, S.FAILED)
        raise Crash(f"load of migration failed: {error}", 278)
    # MIG-INCOMING-007; QEMU 7.2 starts the guest first (QEMU72-DEST-EVENT-ORDER)
    resume_first = world.profile.deviates("QEMU72-DEST-EVENT-ORDER")
    if not resume_first:
        world.migration_event(vm, S.COMPLETED)
    # bdrv_invalidate_cache_all (lines 285-291, MIG-DEST-003)
    if world.env.invalidate_error:
        if not world.profile.repairs("DEF-INCOMING-INVALIDATE-EXIT"):
            raise Crash("bdrv_invalidate_cache_all failed: exit(EXIT_FAILURE)", 290)
        vm.autostart = False  # as QEMU 7.2: report it and do not start the guest
    gs = vm.global_state
    # MIG-INCOMING-008
    target = D.incoming_runstate(
        gs.received, gs.state if gs.state is not None else RunState.RUNNING, vm.autostart
    )
    if target is None:
        world.vm_start(vm)
    else:
        arrives = D.arrival_runstate(
            target, world.profile.repairs("DEF-INCOMING-PRELAUNCH-ABORT"),
            world.profile.repairs("DEF-INCOMING-DEBUG-ABORT"))
        world.runstate_set(vm, target if arrives is None else arrives)
    if resume_first:
        world.migration_event(vm, S.COMPLETED)
