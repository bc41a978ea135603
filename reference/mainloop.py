"""Main-loop work other than QMP handlers: the cleanup bottom half, connect
callbacks, and the destination's accept and incoming coroutine.

Each function is one main-loop region; main-loop regions hold the big lock and
never interleave with each other. ``migrate_fd_cleanup`` is two regions: it
drops the lock to join the migration thread (lines 545-547).
"""

from __future__ import annotations

from migspec.reference import decisions as D
from migspec.reference.vm import VM, MigrationThread
from migspec.reference.world import Crash, World
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
        world.vms[reader].incoming.accepted.append(fid)


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
                other.incoming.listening.remove(uri)
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
    (lines 262-270, 310-319; MIG-INCOMING-005)."""
    vm.incoming.accepted.remove(fid)
    vm.incoming.file = fid
    vm.incoming.mis = True
    world.migration_event(vm, S.ACTIVE)


def incoming_load_done(world: World, vm: VM) -> None:
    """The rest of ``process_incoming_migration_co`` (lines 270-307)."""
    fid = vm.incoming.file
    assert fid is not None
    f = world.files[fid]
    vm.incoming.mis = False
    vm.incoming.finished = True
    vm.incoming.file = None
    runstate = world.payloads.get(fid)
    world.forget_finished_files()
    if not f.complete_delivered:
        # MIG-INCOMING-006
        world.migration_event(vm, S.FAILED)
        raise Crash("load of migration failed: Input/output error", 278)
    # MIG-INCOMING-007; QEMU 7.2 starts the guest first (QEMU72-DEST-EVENT-ORDER)
    resume_first = world.profile.deviates("QEMU72-DEST-EVENT-ORDER")
    if not resume_first:
        world.migration_event(vm, S.COMPLETED)
    gs = vm.global_state
    if runstate is not None:  # global_state_post_load (lines 162-184, MIG-GLOBAL-003)
        gs.received = True
        gs.runstate = runstate
        gs.state = RunState(runstate)
    # MIG-INCOMING-008
    target = D.incoming_runstate(
        gs.received, gs.state if gs.state is not None else RunState.RUNNING, vm.autostart
    )
    if target is None:
        world.vm_start(vm)
    else:
        world.runstate_set(vm, target)
    if resume_first:
        world.migration_event(vm, S.COMPLETED)
