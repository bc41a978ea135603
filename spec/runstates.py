"""VM run states (QAPI enum ``RunState`` of QEMU 2.4) and the run-state rules the
seed relies on from ``vl.c``/``cpus.c`` (outside the seed, cited by function).
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """``RunState`` in QAPI order; the value is the wire name."""

    DEBUG = "debug"
    INMIGRATE = "inmigrate"
    INTERNAL_ERROR = "internal-error"
    IO_ERROR = "io-error"
    PAUSED = "paused"
    POSTMIGRATE = "postmigrate"
    PRELAUNCH = "prelaunch"
    FINISH_MIGRATE = "finish-migrate"
    RESTORE_VM = "restore-vm"
    RUNNING = "running"
    SAVE_VM = "save-vm"
    SHUTDOWN = "shutdown"
    SUSPENDED = "suspended"
    WATCHDOG = "watchdog"
    GUEST_PANICKED = "guest-panicked"


_R = RunState

#: ``runstate_transitions_def[]`` of ``vl.c`` (read from a QEMU 2.5.0 copy; the
#: INMIGRATE rows are the ones 2.4 added for the global-state section): the only
#: transitions ``runstate_set`` allows. Any other, the same state included,
#: aborts QEMU with "invalid runstate transition: 'A' -> 'B'".
RUNSTATE_TRANSITIONS: frozenset[tuple[RunState, RunState]] = frozenset(
    {
        (_R.DEBUG, _R.RUNNING),
        (_R.DEBUG, _R.FINISH_MIGRATE),
        (_R.DEBUG, _R.SUSPENDED),
        (_R.INMIGRATE, _R.INTERNAL_ERROR),
        (_R.INMIGRATE, _R.IO_ERROR),
        (_R.INMIGRATE, _R.PAUSED),
        (_R.INMIGRATE, _R.RUNNING),
        (_R.INMIGRATE, _R.SHUTDOWN),
        (_R.INMIGRATE, _R.SUSPENDED),
        (_R.INMIGRATE, _R.WATCHDOG),
        (_R.INMIGRATE, _R.GUEST_PANICKED),
        (_R.INMIGRATE, _R.FINISH_MIGRATE),
        (_R.INTERNAL_ERROR, _R.PAUSED),
        (_R.INTERNAL_ERROR, _R.FINISH_MIGRATE),
        (_R.IO_ERROR, _R.RUNNING),
        (_R.IO_ERROR, _R.FINISH_MIGRATE),
        (_R.PAUSED, _R.RUNNING),
        (_R.PAUSED, _R.FINISH_MIGRATE),
        (_R.POSTMIGRATE, _R.RUNNING),
        (_R.POSTMIGRATE, _R.FINISH_MIGRATE),
        (_R.PRELAUNCH, _R.RUNNING),
        (_R.PRELAUNCH, _R.FINISH_MIGRATE),
        (_R.PRELAUNCH, _R.INMIGRATE),
        (_R.FINISH_MIGRATE, _R.RUNNING),
        (_R.FINISH_MIGRATE, _R.POSTMIGRATE),
        (_R.RESTORE_VM, _R.RUNNING),
        (_R.RUNNING, _R.DEBUG),
        (_R.RUNNING, _R.INTERNAL_ERROR),
        (_R.RUNNING, _R.IO_ERROR),
        (_R.RUNNING, _R.PAUSED),
        (_R.RUNNING, _R.FINISH_MIGRATE),
        (_R.RUNNING, _R.RESTORE_VM),
        (_R.RUNNING, _R.SAVE_VM),
        (_R.RUNNING, _R.SHUTDOWN),
        (_R.RUNNING, _R.WATCHDOG),
        (_R.RUNNING, _R.GUEST_PANICKED),
        (_R.RUNNING, _R.SUSPENDED),
        (_R.SAVE_VM, _R.RUNNING),
        (_R.SHUTDOWN, _R.PAUSED),
        (_R.SHUTDOWN, _R.FINISH_MIGRATE),
        (_R.SUSPENDED, _R.RUNNING),
        (_R.SUSPENDED, _R.FINISH_MIGRATE),
        (_R.WATCHDOG, _R.RUNNING),
        (_R.WATCHDOG, _R.FINISH_MIGRATE),
        (_R.GUEST_PANICKED, _R.RUNNING),
        (_R.GUEST_PANICKED, _R.FINISH_MIGRATE),
    }
)

#: The transitions the repair of DEF-INCOMING-PRELAUNCH-ABORT adds (later QEMU
#: has them): a guest that never ran, or that already migrated once, arrives in
#: the run state it left.
INCOMING_RUNSTATE_REPAIR: frozenset[tuple[RunState, RunState]] = frozenset(
    {(_R.INMIGRATE, _R.PRELAUNCH), (_R.INMIGRATE, _R.POSTMIGRATE)}
)

#: Received run states that 'inmigrate' may not enter even with the repair
#: above (debug, inmigrate, restore-vm, save-vm: no QEMU allows them): the
#: repair of DEF-INCOMING-DEBUG-ABORT lets the guest arrive 'paused' instead.
INCOMING_PAUSED_REPAIR: frozenset[RunState] = frozenset(
    r for r in RunState
    if (_R.INMIGRATE, r) not in RUNSTATE_TRANSITIONS | INCOMING_RUNSTATE_REPAIR
)

#: ``runstate_needs_reset`` (vl.c): ``cont`` is refused in these.
NEEDS_RESET: frozenset[RunState] = frozenset({_R.INTERNAL_ERROR, _R.SHUTDOWN})
