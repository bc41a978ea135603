"""One QEMU process: its migration globals, run state, main loop and threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migspec.reference.environment import Ram
from migspec.reference.state import GlobalState, Incoming, MigrationState
from migspec.spec import constants as C
from migspec.spec.runstates import RunState
from migspec.spec.states import MigrationStatus


@dataclass
class ConnectPending:
    """A non-blocking connect whose callback runs on the main loop at ``due_us``."""

    due_us: int
    ok: bool
    scheme: str
    error: str


@dataclass
class MigrationThread:
    """``migration_thread``'s locals and program counter (lines 911-1024)."""

    tid: int
    pc: str = "begin"
    wake_us: int = 0
    initial_time: int = 0
    setup_start: int = 0
    initial_bytes: int = 0
    max_size: int = 0
    start_time: int = 0
    old_vm_running: bool = False
    #: qemu_savevm_state_complete ran (the destination may own the guest).
    complete_ran: bool = False
    ret: int = 0
    #: The state whose event ``migrate_set_state`` still has to send.
    emit: MigrationStatus | None = None
    after_emit: str = ""
    done: bool = False


@dataclass
class VM:
    """A QEMU process as far as migration control is concerned."""

    name: str
    s: MigrationState = field(default_factory=MigrationState)
    #: ``max_downtime`` (line 325), ns.
    max_downtime: int = C.DEFAULT_MAX_DOWNTIME_NS
    #: ``deferred_incoming`` (line 54).
    deferred_incoming: bool = False
    #: ``once`` in qmp_migrate_incoming (line 676).
    incoming_once: bool = True
    global_state: GlobalState = field(default_factory=GlobalState)
    #: ``migration_blockers``: most recently added first (lines 661-671).
    blockers: list[str] = field(default_factory=list)
    #: ``s->must_remove_block_options`` of QEMU 7.2: a migrate with blk or inc
    #: turned the block capability on until cleanup (QEMU72-MIGRATE-BLOCK-CAP).
    block_options: bool = False
    #: A device whose vmstate is unmigratable (savevm.c), or None.
    unmigratable: str | None = None
    #: File descriptors known to the monitor (``getfd``), for ``fd:`` URIs.
    fds: list[str] = field(default_factory=list)
    runstate: RunState = RunState.RUNNING
    autostart: bool = True
    ram: Ram = field(default_factory=lambda: Ram(total=0))
    incoming: Incoming = field(default_factory=Incoming)
    #: Live bottom halves (created, not deleted): id -> True.
    bhs: dict[int, bool] = field(default_factory=dict)
    scheduled_bhs: list[int] = field(default_factory=list)
    connects: list[ConnectPending] = field(default_factory=list)
    threads: dict[int, MigrationThread] = field(default_factory=dict)
    #: The main loop is inside migrate_fd_cleanup, joining this thread.
    joining: int | None = None
    #: A migration thread holds the big lock until this virtual time.
    bql_until_us: int = 0
    #: Submitted QMP commands not yet handled (the client's outstanding commands).
    queue: list[dict[str, object]] = field(default_factory=list)
    #: The reply to ``queue[0]``, which the main loop ran and has not answered
    #: yet (QEMU72-QMP-REPLY-AFTER-BH); None otherwise.
    reply: dict[str, Any] | None = None
    #: State seen by each ``notifier_list_notify`` call.
    notifications: list[str] = field(default_factory=list)
    #: Why the process ended (exit or crash), or None while it runs.
    exited: str | None = None
    next_id: int = 1
    # Ghost variables: not seed state; observations the properties need.
    #: Migrations started (``migrate_init`` calls).
    migrations: int = 0
    #: The guest ran when the current migration started.
    running_at_start: bool = False
    #: The events capability was on when the current migration started.
    events_at_start: bool = False
    #: The current migration's thread entered completion (line 941).
    completion_started: bool = False
    #: A migrate_cancel arrived after completion started.
    cancel_after_completion: bool = False

    def new_id(self) -> int:
        """A fresh id for a bottom half, thread or file."""
        n = self.next_id
        self.next_id += 1
        return n
