"""``migration_thread`` (seed lines 911-1024) as steps.

Each program counter is one region that runs without interruption:

============== ========= ========================================================
pc             lines     why the region ends there
============== ========= ========================================================
begin          914-925   qemu_savevm_state_begin takes time (``env.setup_ms``)
setup_cas      926-927   the CAS; its event is sent unlocked afterwards
emit           532       ``migrate_generate_event`` after any thread CAS
loop_check     929       reads ``s->state`` without the lock (cancel races it)
iterate        933-937   decides iterate or complete; iterate takes time
complete       941-954   holds the big lock while the stream ends (downtime)
complete_stop  941-948   qemu-7.2 only: ``complete`` is then 7.2's unlocked state read
                         (QEMU72-COMPLETION-CANCELLING-FAILS); this takes the lock, STOP
complete_save  949-954   qemu-7.2 only (QEMU72-CANCEL-AFTER-STOP): the save, after STOP
after_complete 956-966   CAS after the lock is dropped: a cancel can win here
errcheck       970-1000  file error CAS, bandwidth arithmetic, sleep
final          1003-1023 under the big lock: end times, restart, schedule cleanup
============== ========= ========================================================
"""

from __future__ import annotations

from migspec.reference import decisions as D
from migspec.reference.stream import honest
from migspec.reference.vm import VM, MigrationThread
from migspec.reference.world import Crash, World
from migspec.spec import constants as C
from migspec.spec.capabilities import Capability
from migspec.spec.runstates import RunState
from migspec.spec.states import MigrationStatus as S

#: Every program counter, in the order of the table above (``step until``
#: takes one of these).
PROGRAM_COUNTERS = (
    "begin", "setup_cas", "emit", "loop_check", "iterate", "complete", "complete_stop",
    "complete_save", "after_complete", "errcheck", "final",
)

#: Regions that need the big lock.
LOCKED = frozenset({"complete", "complete_stop", "complete_save", "final"})

#: Bytes qemu_savevm_state_header and the setup sections write (approximate).
HEADER_BYTES = 64


def enabled(world: World, vm: VM, t: MigrationThread) -> bool:
    """The thread can take its next step now."""
    if t.done or world.clock_us < t.wake_us:
        return False
    return not (t.pc in LOCKED and world.clock_us < vm.bql_until_us)


def _cas(world: World, vm: VM, t: MigrationThread, expected: S, trigger: str, after: str) -> None:
    """Thread-side ``migrate_set_state``: the CAS now, the event as a later step
    (MIG-SETSTATE-002) unless the profile repairs DEF-EVENT-ORDER."""
    new = world.cas(vm, expected, trigger)
    if new is None:
        t.pc = after
    elif world.profile.repairs("DEF-EVENT-ORDER"):
        world.migration_event(vm, new)
        t.pc = after
    else:
        t.emit = new
        t.after_emit = after
        t.pc = "emit"


def step(world: World, vm: VM, t: MigrationThread) -> None:
    """Run the thread's current region."""
    s = vm.s
    pc = t.pc
    now_ms = world.ms
    if pc == "emit":
        assert t.emit is not None
        world.migration_event(vm, t.emit)
        t.emit = None
        t.pc = t.after_emit
    elif pc == "begin":
        # MIG-THREAD-001: the thread starts, writes the header, sets RAM up.
        t.initial_time = t.setup_start = t.start_time = now_ms
        f = world.file(vm, 923)
        world.write(f, HEADER_BYTES)
        world.touch_ram(vm)
        vm.ram.begin(now_ms)
        # ram_save_setup makes XBZRLE.cache when the capability is on (ram.c)
        vm.ram.xbzrle_cache = s.enabled_capabilities[Capability.XBZRLE]
        s.dirty_sync_count = vm.ram.sync_count
        t.wake_us = world.clock_us + world.env.setup_ms * 1000
        t.pc = "setup_cas"
    elif pc == "setup_cas":
        # MIG-THREAD-002
        s.setup_time = now_ms - t.setup_start
        _cas(world, vm, t, S.SETUP, "setup_done", "loop_check")
    elif pc == "loop_check":
        # MIG-THREAD-003
        t.pc = "iterate" if s.state == S.ACTIVE else "final"
    elif pc == "iterate":
        _iterate(world, vm, t)
    elif pc == "complete":
        _complete(world, vm, t)
    elif pc == "complete_stop":
        _complete_stop(world, vm, t)
    elif pc == "complete_save":
        _complete_save(world, vm, t)
    elif pc == "after_complete":
        f = world.file(vm, 962)
        if t.ret < 0:
            # MIG-THREAD-007
            _cas(world, vm, t, S.ACTIVE, "completion_failed", "final")
        elif not f.error:
            # MIG-THREAD-006
            if world.profile.repairs("DEF-COMPLETED-TIMES-EARLY"):
                _end_times(world, vm, t)  # lines 1005-1008 before the CAS, not after
            _cas(world, vm, t, S.ACTIVE, "complete", "final")
        else:
            t.pc = "errcheck"
    elif pc == "errcheck":
        _errcheck(world, vm, t)
    elif pc == "final":
        _final(world, vm, t)
    else:  # pragma: no cover - a program counter the table above lacks
        raise AssertionError(f"unknown thread pc {pc}")


def _iterate(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 933-937: iterate while pending >= max_size, else go complete."""
    f = world.file(vm, 933)
    if f.rate_limited():
        t.pc = "errcheck"
        return
    world.touch_ram(vm)
    pending = vm.ram.dirty
    if pending < t.max_size:  # ram_save_pending syncs the bitmap
        _sync(world, vm)
        pending = vm.ram.dirty
    if pending and pending >= t.max_size:
        # MIG-THREAD-004
        nbytes = vm.ram.iterate_budget(f, world.env.bandwidth, world.env.instant)
        if world.write(f, nbytes):
            vm.ram.send(nbytes)
            t.wake_us = world.clock_us + world.env.transfer_us(nbytes)
        t.pc = "errcheck"
    else:
        t.pc = "complete"


def _sync(world: World, vm: VM) -> None:
    rate = vm.ram.sync(world.ms)
    vm.s.dirty_sync_count = vm.ram.sync_count
    if rate >= 0:
        vm.s.dirty_pages_rate = vm.ram.dirty_pages_rate
        vm.s.dirty_bytes_rate = rate


def _complete(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 941-954, under the big lock: stop the guest and end the stream."""
    if world.profile.deviates("QEMU72-COMPLETION-CANCELLING-FAILS"):
        # 7.2's migration_completion reads the state before it takes the lock
        # (a step of its own): 'cancelling' (a cancel came after the thread
        # chose completion), it neither stops the guest nor saves, and swaps
        # that state to FAILED; else the locked region follows.
        if vm.s.state == S.CANCELLING:
            _cas(world, vm, t, S.CANCELLING, "completion_not_active", "final")
        else:
            t.pc = "complete_stop"
        return
    _complete_stop(world, vm, t)


def _complete_stop(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 941-948: wake, store the run state, stop the guest (STOP)."""
    t.start_time = world.ms
    vm.completion_started = True
    if vm.runstate == RunState.SUSPENDED:  # qemu_system_wakeup_request
        world.runstate_set(vm, RunState.RUNNING)
    t.old_vm_running = vm.runstate == RunState.RUNNING
    # global_state_store (lines 114-123): the run state's name always fits.
    vm.global_state.runstate = str(vm.runstate)
    # vm_stop_force_state (cpus.c): vm_stop if running, else runstate_set.
    if vm.runstate == RunState.RUNNING:
        ret = world.vm_stop(vm, RunState.FINISH_MIGRATE)
    else:
        world.runstate_set(vm, RunState.FINISH_MIGRATE)
        ret = 0
    if world.env.completion_error == "vm-stop":
        ret = -5  # bdrv_flush_all failed: -EIO
    t.ret = ret
    if ret >= 0 and world.profile.deviates("QEMU72-CANCEL-AFTER-STOP"):
        # QEMU 7.2 lets the main loop run between the guest's STOP and the
        # save of its state: a step boundary the seed's region does not have.
        t.pc = "complete_save"
        return
    _complete_save(world, vm, t)


def _complete_save(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 949-954: the saved state to the stream, the lock held while it
    goes out (the downtime)."""
    duration = 0
    if t.ret >= 0:
        f = world.file(vm, 950)
        f.xfer_limit = C.INT64_MAX
        world.touch_ram(vm)
        _sync(world, vm)
        nbytes = vm.ram.dirty + world.env.device_bytes
        # global_state_pre_save and global_state_needed (lines 140-192).
        gs = vm.global_state
        gs.size = len(gs.runstate) + 1
        needed = D.global_state_needed(gs.optional, gs.runstate)
        mode = world.env.completion_error
        if mode == "file-before-delivery":
            f.error = -5
        elif world.write(f, nbytes):
            vm.ram.send(vm.ram.dirty)
            duration = world.env.transfer_us(nbytes)
            f.complete_delivered = True
            f.complete_at_us = world.clock_us + duration
            world.payloads[f.fid] = honest(gs.runstate if needed else None)
            if mode == "file-after-delivery":
                f.error = -5
        t.complete_ran = True
        vm.ram.xbzrle_cache = False  # ram_save_complete -> migration_end frees it
    vm.bql_until_us = world.clock_us + duration
    t.wake_us = vm.bql_until_us
    t.pc = "after_complete"


def _errcheck(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 970-1000: file error, then the bandwidth window and the sleep."""
    s = vm.s
    f = world.file(vm, 970)
    if f.error:
        # MIG-THREAD-008
        _cas(world, vm, t, S.ACTIVE, "channel_error", "final")
        return
    current_time = world.ms
    if current_time >= t.initial_time + C.BUFFER_DELAY:
        # MIG-THREAD-005
        transferred = f.pos - t.initial_bytes
        time_spent = current_time - t.initial_time
        bandwidth, t.max_size = D.bandwidth_window(transferred, time_spent, vm.max_downtime)
        s.mbps = D.window_mbps(transferred, time_spent)
        s.expected_downtime = D.expected_downtime(
            s.dirty_bytes_rate, transferred, bandwidth, s.expected_downtime,
            world.profile.repairs("DEF-EXPECTED-DOWNTIME-DIV0"),
        )
        f.bytes_xfer = 0
        t.initial_time = current_time
        t.initial_bytes = f.pos
    if f.rate_limited():
        # MIG-THREAD-012: sleep until the end of the current window
        t.wake_us = world.clock_us + (t.initial_time + C.BUFFER_DELAY - current_time) * 1000
    t.pc = "loop_check"


def _end_times(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 1005-1008: ``total_time`` (until now the start timestamp) and
    ``downtime`` become durations. In the seed this runs in the last region,
    after 'completed' is visible (DEF-COMPLETED-TIMES-EARLY)."""
    s = vm.s
    end_time = world.ms
    s.total_time = end_time - s.total_time
    s.downtime = end_time - t.start_time


def _final(world: World, vm: VM, t: MigrationThread) -> None:
    """Lines 1003-1023, under the big lock."""
    s = vm.s
    t.done = True
    if s.state == S.COMPLETED:
        # MIG-THREAD-009
        if not world.profile.repairs("DEF-COMPLETED-TIMES-EARLY"):
            _end_times(world, vm, t)
        transferred = world.file(vm, 1006).pos
        s.mbps = D.final_mbps(transferred, s.total_time, s.mbps)
        world.runstate_set(vm, RunState.POSTMIGRATE)
    elif t.old_vm_running and not (
        t.complete_ran and world.profile.repairs("DEF-SPLIT-BRAIN")
    ):
        world.vm_start(vm)  # MIG-THREAD-010
    elif vm.runstate == RunState.FINISH_MIGRATE and world.profile.repairs(
        "DEF-FAILED-STOPPED-ABORT"
    ):
        world.runstate_set(vm, RunState.POSTMIGRATE)
    # MIG-THREAD-011: qemu_bh_schedule(s->cleanup_bh)
    bh = s.cleanup_bh
    if bh is None:
        raise Crash("qemu_bh_schedule(NULL): cleanup_bh was cleared", 1019)
    if bh not in vm.bhs:
        world.note(vm, "scheduled a deleted bottom half", bh=bh)
    elif bh not in vm.scheduled_bhs:
        vm.scheduled_bhs.append(bh)
