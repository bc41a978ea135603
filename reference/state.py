"""State variables of one QEMU process, named as in the seed.

Everything the seed keeps in globals and statics of ``migration.c`` (and the
few globals of ``vl.c`` it reads) is a field here, so a whole process is one
value that can be copied and compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migspec.spec import constants as C
from migspec.spec.capabilities import Capability
from migspec.spec.parameters import PARAMETERS
from migspec.spec.runstates import RunState
from migspec.spec.states import MigrationStatus


def default_parameters() -> dict[str, int]:
    """``.parameters[...]`` of ``migrate_get_current`` (lines 68-73)."""
    return {p.name: p.default for p in PARAMETERS}


def default_capabilities() -> dict[Capability, bool]:
    """``enabled_capabilities``: zero-initialised, all off."""
    return {c: False for c in Capability}


@dataclass
class MigrationState:
    """``MigrationState`` as ``migrate_get_current`` returns it (lines 61-77); the
    defaults below are MIG-STATE-001's."""

    state: MigrationStatus = MigrationStatus.NONE
    bandwidth_limit: int = C.MAX_THROTTLE
    xbzrle_cache_size: int = C.DEFAULT_MIGRATE_CACHE_SIZE
    mbps: float = C.INITIAL_MBPS
    parameters: dict[str, int] = field(default_factory=default_parameters)
    enabled_capabilities: dict[Capability, bool] = field(default_factory=default_capabilities)
    blk: bool = False
    shared: bool = False
    #: Outgoing file id, or None (``s->file``).
    file: int | None = None
    #: Cleanup bottom half id, or None (``s->cleanup_bh``).
    cleanup_bh: int | None = None
    #: Migration thread id, or None when zeroed (``s->thread``).
    thread: int | None = None
    total_time: int = 0
    setup_time: int = 0
    downtime: int = 0
    expected_downtime: int = 0
    dirty_pages_rate: int = 0
    dirty_bytes_rate: int = 0
    dirty_sync_count: int = 0


@dataclass
class GlobalState:
    """``GlobalState`` (lines 104-112) after ``register_global_state`` (208-214):
    empty and not received at start-up (MIG-GLOBAL-004)."""

    optional: bool = False
    runstate: str = ""
    size: int = 0
    state: RunState | None = None
    received: bool = False
    #: Ghost: a post_load parsed the buffer without a NUL in it and read past
    #: it (DEF-GLOBAL-STATE-UNTERMINATED, MIG-DEST-102).
    overread: bool = False


@dataclass
class Incoming:
    """The destination side: listeners and the incoming coroutine."""

    #: URIs with an open listener (``*_start_incoming_migration``).
    listening: list[str] = field(default_factory=list)
    #: File id the incoming coroutine reads, once a source connected.
    file: int | None = None
    #: Connections accepted but not yet handed to ``process_incoming_migration``.
    accepted: list[int] = field(default_factory=list)
    #: ``mis_current`` exists (lines 80-101).
    mis: bool = False
    finished: bool = False
