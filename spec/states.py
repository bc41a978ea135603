"""The seven migration states (QAPI enum ``MigrationStatus`` of QEMU 2.4).

The seed stores the state in ``MigrationState.state`` and changes it with
``migrate_set_state`` (a compare-and-swap, seed lines 528-534), with one plain
assignment in ``qmp_migrate`` (line 732) and one in ``migrate_init``'s memset
(line 643).
"""

from __future__ import annotations

from enum import StrEnum


class MigrationStatus(StrEnum):
    """``MigrationStatus`` in QAPI order; the value is the wire name."""

    NONE = "none"
    SETUP = "setup"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"


#: States in which a migration is in progress: ``migrate`` is refused (lines 708-713).
IN_PROGRESS: frozenset[MigrationStatus] = frozenset(
    {MigrationStatus.SETUP, MigrationStatus.ACTIVE, MigrationStatus.CANCELLING}
)

#: States that end a migration (``migration_has_finished``/``migration_has_failed``,
#: lines 617-626).
TERMINAL: frozenset[MigrationStatus] = frozenset(
    {MigrationStatus.COMPLETED, MigrationStatus.FAILED, MigrationStatus.CANCELLED}
)
