"""Every transition of the outgoing migration state machine, declared once.

This table is the single source for the ``transitions`` machine
(:mod:`migspec.spec.machine`), the reference engine's compiled table
(:data:`COMPILED`), the generated documentation and the explorer's coverage.
A transition's ``profiles`` says in which profiles it exists: the ``fixed``
profile adds the repairs of seed defects; a transition of a deviation
(:mod:`migspec.spec.deviations`) exists only in the profile with that deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

from migspec.spec.actors import Actor
from migspec.spec.defects import DEFECTS
from migspec.spec.states import MigrationStatus as S

ALL_PROFILES: tuple[str, ...] = ("seed", "fixed")


@dataclass(frozen=True)
class TransitionDecl:
    """One transition: ``trigger`` moves any of ``sources`` to ``dest``."""

    trigger: str
    sources: tuple[S, ...]
    dest: S
    actor: Actor
    guard: str
    lines: str
    requirement: str
    #: True when the seed changes state with ``migrate_set_state`` (a
    #: compare-and-swap followed, not atomically, by the MIGRATION event).
    cas: bool = True
    #: The seed defect whose repair adds this transition; None: in the seed.
    repair: str | None = None
    #: The deviation (spec/deviations.py) that adds this transition; None: in the seed.
    deviation: str | None = None

    @property
    def profiles(self) -> tuple[str, ...]:
        """The named profiles that have this transition."""
        if self.deviation is not None:
            return ("qemu-7.2",)
        return ALL_PROFILES if self.repair is None else ("fixed",)


TRANSITIONS: tuple[TransitionDecl, ...] = (
    TransitionDecl(
        "migrate_reset",
        (S.NONE, S.COMPLETED, S.FAILED, S.CANCELLED),
        S.NONE,
        Actor.QMP,
        "migrate accepted: no migration in progress, guest not inmigrate, no blocker",
        "708-732",
        "MIG-MIGRATE-006",
        cas=False,
    ),
    TransitionDecl(
        "migrate_init",
        (S.NONE,),
        S.SETUP,
        Actor.QMP,
        "right after migrate_reset, in migrate_init",
        "655",
        "MIG-INIT-002",
    ),
    TransitionDecl(
        "uri_unknown",
        (S.SETUP,),
        S.FAILED,
        Actor.QMP,
        "URI matches no compiled-in scheme",
        "750-754",
        "MIG-MIGRATE-008",
    ),
    TransitionDecl(
        "connect_error_sync",
        (S.SETUP,),
        S.FAILED,
        Actor.QMP,
        "the transport's start function set an error synchronously (migrate_fd_error)",
        "757-760,567-573",
        "MIG-FDERROR-001",
    ),
    TransitionDecl(
        "connect_error",
        (S.SETUP,),
        S.FAILED,
        Actor.CONNECT,
        "an asynchronous connect failed (migrate_fd_error from the callback)",
        "567-573",
        "MIG-FDERROR-001",
    ),
    TransitionDecl(
        "connect_error_cancelled",
        (S.CANCELLING,),
        S.CANCELLED,
        Actor.CONNECT,
        "fixed profile: a connect that fails after a cancel finishes the cancel",
        "567-573",
        "MIG-FDERROR-003",
        repair="DEF-CANCEL-CONNECT-STUCK",
    ),
    TransitionDecl(
        "setup_done",
        (S.SETUP,),
        S.ACTIVE,
        Actor.THREAD,
        "the thread finished qemu_savevm_state_begin",
        "923-927",
        "MIG-THREAD-002",
    ),
    TransitionDecl(
        "complete",
        (S.ACTIVE,),
        S.COMPLETED,
        Actor.THREAD,
        "pending < max_size, VM stopped and saved, no file error",
        "936-966",
        "MIG-THREAD-006",
    ),
    TransitionDecl(
        "completion_failed",
        (S.ACTIVE,),
        S.FAILED,
        Actor.THREAD,
        "global_state_store or vm_stop_force_state failed",
        "946-959",
        "MIG-THREAD-007",
    ),
    TransitionDecl(
        "channel_error",
        (S.ACTIVE,),
        S.FAILED,
        Actor.THREAD,
        "the outgoing file has an error (includes shutdown by cancel)",
        "970-974",
        "MIG-THREAD-008",
    ),
    TransitionDecl(
        "cancel",
        (S.SETUP, S.ACTIVE),
        S.CANCELLING,
        Actor.QMP,
        "migrate_cancel while setup or active (compare-and-swap loop)",
        "575-600",
        "MIG-CANCEL-001",
    ),
    TransitionDecl(
        "cancel_again",
        (S.CANCELLING,),
        S.CANCELLING,
        Actor.QMP,
        "qemu-7.2: migrate_cancel while cancelling; 7.2's loop runs in CANCELLING too and "
        "its compare-and-swap CANCELLING -> CANCELLING succeeds and sends the event again "
        "(7.2 migration.c:2027-2037, 1869-1876); the seed's loop stops there (585-590)",
        "575-600",
        "MIG-CANCEL-001",
        deviation="QEMU72-CANCEL-AGAIN-EVENT",
    ),
    TransitionDecl(
        "cleanup_cancelled",
        (S.CANCELLING,),
        S.CANCELLED,
        Actor.CLEANUP_BH,
        "cleanup bottom half ran while cancelling",
        "556-562",
        "MIG-CLEANUP-004",
    ),
    TransitionDecl(
        "completion_not_active",
        (S.CANCELLING,),
        S.FAILED,
        Actor.THREAD,
        "qemu-7.2: a cancel landed after the thread chose completion and before "
        "migration_completion read the state (7.2 migration.c:3320,3368,3421-3422); the seed "
        "enters completion without reading it (941)",
        "936-941",
        "MIG-THREAD-007",
        deviation="QEMU72-COMPLETION-CANCELLING-FAILS",
    ),
)

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(t.trigger for t in TRANSITIONS))


def repairs_of(profile: str | frozenset[str]) -> frozenset[str]:
    """The repaired defects of a named profile, or the set itself."""
    if isinstance(profile, frozenset):
        return profile
    if profile == "seed":
        return frozenset()
    if profile == "fixed":
        return frozenset(d.id for d in DEFECTS)
    raise ValueError(f"unknown profile {profile!r}")


def transitions_for(
    profile: str | frozenset[str], deviations: frozenset[str] = frozenset()
) -> tuple[TransitionDecl, ...]:
    """The transitions that exist in a profile (by name, or by its repairs and
    deviations)."""
    repaired = repairs_of(profile)
    return tuple(t for t in TRANSITIONS
                 if (t.repair is None or t.repair in repaired)
                 and (t.deviation is None or t.deviation in deviations))


_TABLES: dict[tuple[frozenset[str], frozenset[str]], dict[tuple[S, str], S]] = {}


def compile_table(
    profile: str | frozenset[str], deviations: frozenset[str] = frozenset()
) -> dict[tuple[S, str], S]:
    """``(source, trigger) -> dest``: the engine's hot-path lookup (cached)."""
    decls = transitions_for(profile, deviations)
    cache_key = (frozenset(t.repair for t in decls if t.repair),
                 frozenset(t.deviation for t in decls if t.deviation))
    cached = _TABLES.get(cache_key)
    if cached is not None:
        return cached
    table: dict[tuple[S, str], S] = {}
    for decl in decls:
        for src in decl.sources:
            key = (src, decl.trigger)
            if key in table:
                raise ValueError(f"ambiguous transition {key}")
            table[key] = decl.dest
    _TABLES[cache_key] = table
    return table


COMPILED: dict[str, dict[tuple[S, str], S]] = {p: compile_table(p) for p in ALL_PROFILES}


def declaration(trigger: str) -> TransitionDecl:
    """The first declaration of ``trigger``."""
    for decl in TRANSITIONS:
        if decl.trigger == trigger:
            return decl
    raise KeyError(trigger)
