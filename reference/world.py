"""The whole system: processes, files between them, the virtual clock, the log.

A world steps one actor at a time. Each step is one region of the seed that
runs without interruption (see ``docs/atomicity.md``); :meth:`World.moves`
lists the steps that can run now and :meth:`World.step` runs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from migspec.reference.environment import Env, QemuFile, Ram, ram_block_bytes
from migspec.reference.profiles import SEED, Profile
from migspec.reference.stream import Stream
from migspec.reference.vm import VM
from migspec.spec.capabilities import Capability
from migspec.spec.deviations import QEMU72_MAX_THROTTLE
from migspec.spec.runstates import INCOMING_RUNSTATE_REPAIR, RUNSTATE_TRANSITIONS, RunState
from migspec.spec.states import MigrationStatus
from migspec.spec.transitions import compile_table
from migspec.spec.uris import BuildConfig

SOURCE = "source"
NOTIFICATIONS_KEPT = 32
FILES_KEPT = 8
DESTINATION = "destination"


class Move(NamedTuple):
    """A step an actor can take: ``vm``'s ``actor`` (``main`` or ``thread``)
    runs ``task`` (a main-loop task name, or a thread id)."""

    vm: str
    actor: str
    task: str


class Crash(Exception):
    """The process aborted or exited; the step that raised it ends there."""

    def __init__(self, reason: str, line: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass
class World:
    """Processes, files and time."""

    profile: Profile = SEED
    build: BuildConfig = field(default_factory=BuildConfig)
    env: Env = field(default_factory=Env)
    vms: dict[str, VM] = field(default_factory=dict)
    files: dict[int, QemuFile] = field(default_factory=dict)
    #: Which VM reads each file (the destination of a connected pair).
    readers: dict[int, str] = field(default_factory=dict)
    #: What each complete (or fed) stream carries: its global-state section
    #: and where it fails (reference/stream.py).
    payloads: dict[int, Stream] = field(default_factory=dict)
    clock_us: int = 0
    #: Everything a client sees, in order: (vm name, reply, event or notice).
    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Internal trace (notifier calls, state changes), for readers and tests.
    trace: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    next_fid: int = 1
    #: Record notes in :attr:`trace` (the explorer turns this off).
    tracing: bool = True

    def __post_init__(self) -> None:
        if SOURCE not in self.vms:
            self.add_vm(SOURCE)
        self._transient()

    def _transient(self) -> None:
        self.table = compile_table(self.profile.repaired, self.profile.deviations)
        #: Triggers fired since the caller last cleared it (explorer coverage).
        self.fired: list[str] = []
        #: VMs this world shares with the world it was copied from (the
        #: explorer's ``clone(world, acting)``); :meth:`own` copies one first.
        self.shared: frozenset[str] = frozenset()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["table"], state["fired"], state["shared"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._transient()

    # -- processes ---------------------------------------------------------
    def own(self, name: str) -> VM:
        """The VM ``name``, to change. A step changes the VM it acts for; one
        that changes another VM (a connection reaching a listening
        destination) takes it from here, so that a VM this world shares
        with its original is copied first (``snapshot.clone``)."""
        if name in self.shared:
            from migspec.reference.snapshot import clone_vm

            self.vms[name] = clone_vm(self.vms[name])
            self.shared = self.shared - {name}
        return self.vms[name]

    def add_vm(self, name: str) -> VM:
        """A new QEMU process called ``name`` (``register_global_state`` done)."""
        vm = VM(name=name, ram=Ram(total=ram_block_bytes(self.env.ram_bytes)))
        if self.profile.deviates("QEMU72-PARAMS-QUERY"):
            vm.s.bandwidth_limit = QEMU72_MAX_THROTTLE  # MAX_THROTTLE of QEMU 7.2
        self.vms[name] = vm
        return vm

    @property
    def ms(self) -> int:
        """``qemu_clock_get_ms``: the virtual clock in whole milliseconds."""
        return self.clock_us // 1000

    def timestamp(self) -> dict[str, int]:
        """A QMP event timestamp from the virtual clock."""
        return {"seconds": self.clock_us // 1_000_000, "microseconds": self.clock_us % 1_000_000}

    def emit(self, vm: VM, event: str, data: dict[str, Any] | None = None) -> None:
        """Send a QMP event from ``vm``."""
        obj: dict[str, Any] = {"event": event}
        if data is not None:
            obj["data"] = data
        obj["timestamp"] = self.timestamp()
        self.log.append((vm.name, obj))

    def migration_event(self, vm: VM, status: MigrationStatus) -> None:
        """``migrate_generate_event`` (lines 216-221): only with the events
        capability (MIG-EVENT-001)."""
        if vm.s.enabled_capabilities[Capability.EVENTS]:
            self.emit(vm, "MIGRATION", {"status": str(status)})

    def crash(self, vm: VM, reason: str, line: int | None) -> None:
        """The process ends (abort, segfault or exit)."""
        vm.exited = reason
        notice: dict[str, Any] = {"migspec": "exited", "reason": reason}
        if line is not None:
            notice["line"] = line
        self.log.append((vm.name, notice))

    def note(self, vm: VM, what: str, **data: Any) -> None:
        """Record an internal happening that no QMP client sees."""
        if self.tracing:
            self.trace.append((vm.name, {"what": what, "ms": self.ms, **data}))

    # -- shared helpers of the seed -----------------------------------------
    def cas(self, vm: VM, expected: MigrationStatus, trigger: str) -> MigrationStatus | None:
        """The compare-and-swap half of ``migrate_set_state`` (line 530).

        Returns the new state when the swap happened, else None. The
        destination comes from the compiled transition table.
        """
        new = self.table[(expected, trigger)]
        if vm.s.state != expected:
            return None
        vm.s.state = new
        self.fired.append(trigger)
        if self.tracing:
            self.note(vm, "state", trigger=trigger, old=str(expected), new=str(new))
        return new

    def set_state(self, vm: VM, expected: MigrationStatus, trigger: str) -> bool:
        """``migrate_set_state`` from the main loop: swap, then the event
        (MIG-SETSTATE-001): one event for a swap that happened, none for one that
        failed (MIG-EVENT-002). The main loop holds the big lock, so only the
        migration thread could run between the two; see docs/atomicity.md."""
        new = self.cas(vm, expected, trigger)
        if new is None:
            return False
        self.migration_event(vm, new)
        return True

    def notify(self, vm: VM) -> None:
        """``notifier_list_notify(&migration_state_notifiers, s)`` (MIG-NOTIFY-001);
        the VM keeps the states of its last :data:`NOTIFICATIONS_KEPT` notifications."""
        vm.notifications.append(str(vm.s.state))
        if len(vm.notifications) > NOTIFICATIONS_KEPT:
            del vm.notifications[0]
        self.note(vm, "notify", state=str(vm.s.state))

    def runstate_set(self, vm: VM, new: RunState) -> None:
        """``runstate_set`` of vl.c: an invalid transition aborts QEMU. QEMU 7.2
        returns early when the state does not change (QEMU72-RUNSTATE-SAME)."""
        old = vm.runstate
        if old == new and self.profile.deviates("QEMU72-RUNSTATE-SAME"):
            return
        if (old, new) not in RUNSTATE_TRANSITIONS and not (
            (old, new) in INCOMING_RUNSTATE_REPAIR
            and self.profile.repairs("DEF-INCOMING-PRELAUNCH-ABORT")
        ):
            raise Crash(f"invalid runstate transition: '{old.value}' -> '{new.value}'", None)
        self.touch_ram(vm)
        vm.runstate = new

    def vm_start(self, vm: VM) -> None:
        """``vm_start``: run the guest and send RESUME, unless it already runs."""
        if vm.runstate != RunState.RUNNING:
            self.runstate_set(vm, RunState.RUNNING)
            self.emit(vm, "RESUME")

    def vm_stop(self, vm: VM, state: RunState) -> int:
        """``vm_stop``/``do_vm_stop``: stop a running guest, send STOP."""
        if vm.runstate == RunState.RUNNING:
            self.runstate_set(vm, state)
            self.emit(vm, "STOP")
        return 0

    def touch_ram(self, vm: VM) -> None:
        """Bring the guest's dirtying up to now."""
        vm.ram.touch(self.clock_us, vm.runstate == RunState.RUNNING, self.env.dirty_rate)

    def file(self, vm: VM, line: int) -> QemuFile:
        """``s->file`` as the migration thread dereferences it."""
        fid = vm.s.file
        if fid is None:
            raise Crash("NULL QEMUFile dereferenced (s->file was cleared)", line)
        return self.files[fid]

    def write(self, f: QemuFile, nbytes: int) -> bool:
        """Write to the outgoing channel; ``env channel_error`` fails the next write."""
        if self.env.channel_error and not f.error:
            self.env.channel_error = False
            f.broken = True
        return f.write(nbytes)

    def forget_finished_files(self) -> None:
        """A file was closed or read to its end: forget the oldest finished files
        no process refers to, keeping the last :data:`FILES_KEPT` for
        inspection (a long-running engine's memory stays flat)."""
        if len(self.files) <= FILES_KEPT:
            return
        busy: set[int] = set()
        for vm in self.vms.values():
            inc = vm.incoming
            busy.update(inc.accepted)
            busy.update(x for x in (vm.s.file, inc.file) if x is not None)
        finished = [k for k, f in self.files.items()
                    if k not in busy and (f.closed or f.error)]
        for old in finished[: len(self.files) - FILES_KEPT]:
            del self.files[old]
            self.readers.pop(old, None)
            self.payloads.pop(old, None)

    def new_file(self, scheme: str) -> QemuFile:
        """An outgoing file; socket transports support shutdown."""
        fid = self.next_fid
        self.next_fid += 1
        f = QemuFile(fid=fid, scheme=scheme, can_shutdown=scheme in ("tcp:", "unix:", "rdma:"))
        self.files[fid] = f
        return f
