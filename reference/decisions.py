"""Pure decision functions of the seed, each small, total and contract-checked.

Every function here is a rule the seed applies, over small types. The engine
composes them and never re-derives them. Contracts are written as
``pre:``/``post:`` docstring conditions that CrossHair checks
(``migspec prove``); every one of them is confirmed over all paths.

CrossHair models a ``float`` as a real number, so no contract here takes or
returns one. Where the seed computes with doubles, the rule is split: an
*IEEE shell* (no contract) does the double arithmetic exactly as C does and
hands its integral result to an integer *core* that carries the contract. A
shell's docstring says why the split keeps the seed's results bit for bit;
``tests/test_prove.py`` checks each shell against the plain double formula.
"""

from __future__ import annotations

import math

from migspec.spec import constants as C
from migspec.spec.actors import Actor
from migspec.spec.parameters import PARAMETERS, ParameterDecl
from migspec.spec.runstates import (
    INCOMING_PAUSED_REPAIR,
    INCOMING_RUNSTATE_REPAIR,
    RUNSTATE_TRANSITIONS,
    RunState,
)
from migspec.spec.states import IN_PROGRESS, MigrationStatus
from migspec.spec.transitions import TRANSITIONS
from migspec.spec.uris import DEFER, BuildConfig, enabled_schemes

_SETUP_OR_ACTIVE = frozenset({MigrationStatus.SETUP, MigrationStatus.ACTIVE})

#: The largest double strictly below 2**64, as an integer (the ``fixed`` clamp).
LARGEST_DOUBLE_BELOW_2_64 = int(math.nextafter(2.0**64, 0.0))

#: Integers up to this bound are doubles exactly (2**53).
EXACT_DOUBLE_BOUND = 1 << 53

#: What ``migration_thread`` may do to the state between two reads of the cancel
#: loop: its compare-and-swaps, the declared transitions whose actor is the
#: thread (SETUP -> ACTIVE, ACTIVE -> COMPLETED, ACTIVE -> FAILED).
THREAD_MOVES: frozenset[tuple[MigrationStatus, MigrationStatus]] = frozenset(
    (src, t.dest) for t in TRANSITIONS if t.actor == Actor.THREAD for src in t.sources
)


# -- migrate_set_state ---------------------------------------------------------
def compare_and_swap(
    current: MigrationStatus, expected: MigrationStatus, new: MigrationStatus
) -> tuple[MigrationStatus, bool]:
    """``atomic_cmpxchg(&s->state, expected, new) == expected`` (line 530,
    MIG-SETSTATE-001).

    post: __return__[1] == (current == expected)
    post: __return__[0] == (new if current == expected else current)
    """
    if current == expected:
        return new, True
    return current, False


# -- parameters, speed, downtime, cache size ---------------------------------
def parameter_in_range(decl: ParameterDecl, value: int) -> bool:
    """``qmp_migrate_set_parameters`` range test (lines 494-512, MIG-PARAMS-002..004).

    post: __return__ == (decl.minimum <= value <= decl.maximum)
    """
    return not (value < decl.minimum or value > decl.maximum)


def first_invalid_parameter(
    compress_level: int | None, compress_threads: int | None, decompress_threads: int | None
) -> str | None:
    """``qmp_migrate_set_parameters`` (lines 494-512, MIG-PARAMS-001..004): the
    C name of the first given parameter out of its range, in the seed's order,
    or None when every given value is valid (and all are set). None means
    "not given". The bounds in the contract are the seed's literals.

    post: (__return__ == "compress_level") == (compress_level is not None and not 0 <= compress_level <= 9)
    post: (__return__ == "compress_threads") == ((compress_level is None or 0 <= compress_level <= 9) and compress_threads is not None and not 1 <= compress_threads <= 255)
    post: (__return__ == "decompress_threads") == ((compress_level is None or 0 <= compress_level <= 9) and (compress_threads is None or 1 <= compress_threads <= 255) and decompress_threads is not None and not 1 <= decompress_threads <= 255)
    post: (__return__ is None) == ((compress_level is None or 0 <= compress_level <= 9) and (compress_threads is None or 1 <= compress_threads <= 255) and (decompress_threads is None or 1 <= decompress_threads <= 255))
    """  # noqa: E501
    for decl, value in zip(
        PARAMETERS, (compress_level, compress_threads, decompress_threads), strict=True
    ):
        if value is not None and not parameter_in_range(decl, value):
            return decl.c_name
    return None


def clamp_speed(value: int) -> int:
    """``qmp_migrate_set_speed`` (lines 807-813, MIG-SPEED-001): the new
    ``bandwidth_limit``.

    pre: C.INT64_MIN <= value <= C.INT64_MAX
    post: 0 <= __return__ <= C.INT64_MAX
    post: (value >= 0) == (__return__ == value)
    post: __return__ == max(value, 0)
    """
    if value < 0:
        value = 0
    if value > C.SIZE_MAX:  # never true for an int64 on a 64-bit host
        value = C.SIZE_MAX
    return value


def xfer_limit(bandwidth_limit: int, repaired: bool = False) -> int:
    """Bytes a rate-limit window may carry: ``bandwidth_limit / XFER_LIMIT_RATIO``
    (lines 817, 1032-1033, MIG-SPEED-002), C integer division of a non-negative
    value. A window limit of 0 means no limit (``qemu_file_rate_limit``), so
    in the seed a speed of 1 to 9 B/s is unlimited (DEF-SPEED-BELOW-RATIO-UNLIMITED);
    ``repaired`` gives such a speed the smallest limit, 1 byte per window.

    pre: 0 <= bandwidth_limit <= C.INT64_MAX
    post: repaired or __return__ * C.XFER_LIMIT_RATIO <= bandwidth_limit
    post: bandwidth_limit < (__return__ + 1) * C.XFER_LIMIT_RATIO
    post: repaired or (__return__ == 0) == (bandwidth_limit < C.XFER_LIMIT_RATIO)
    post: not repaired or __return__ == max(bandwidth_limit // C.XFER_LIMIT_RATIO, 1 if bandwidth_limit else 0)
    """  # noqa: E501
    if repaired and 0 < bandwidth_limit < C.XFER_LIMIT_RATIO:
        return 1
    return bandwidth_limit // C.XFER_LIMIT_RATIO


def window_unlimited(bandwidth_limit: int, repaired: bool = False) -> bool:
    """Whether the outgoing file's rate-limit windows have no limit at all
    for a stored ``bandwidth_limit``: :func:`xfer_limit` composed with
    ``qemu_file_rate_limit``'s rule that a limit of 0 is no limit (MIG-SPEED-002,
    MIG-SAFETY-010). What a client asked for is a limit unless it asked for 0
    (or less, clamped to 0): the last post-condition says so and holds only
    where DEF-SPEED-BELOW-RATIO-UNLIMITED is repaired; the one before it is the
    seed's defect, written down.

    pre: 0 <= bandwidth_limit <= C.INT64_MAX
    post: repaired or __return__ == (bandwidth_limit < C.XFER_LIMIT_RATIO)
    post: not repaired or __return__ == (bandwidth_limit == 0)
    """
    return xfer_limit(bandwidth_limit, repaired) == 0


def uint64_cast_x86(truncated: int) -> int:
    """C's ``(uint64_t)value`` (line 825, MIG-DOWNTIME-002) as GCC compiles it
    for x86-64 with SSE2, for a non-negative double whose integer part is
    ``truncated`` (Python's exact ``int(value)``; for infinity any integer of
    at least 2**64).

    Below 2**63 ``cvttsd2si`` converts directly. In [2**63, 2**64) GCC converts
    ``value - 2**63`` (exact there) and sets the top bit, which gives the
    integer part again. From 2**64 up ``value - 2**63`` is out of range,
    ``cvttsd2si`` yields the "integer indefinite" 2**63 and the top bit
    cancels it: the result is 0 (undefined behaviour in C; this is what the
    hardware does).

    pre: truncated >= 0
    post: 0 <= __return__ <= C.UINT64_MAX
    post: __return__ == (truncated if truncated <= C.UINT64_MAX else 0)
    """
    if truncated <= C.UINT64_MAX:
        return truncated
    return 0


def double_to_uint64_x86(value: float) -> int:
    """IEEE shell of :func:`uint64_cast_x86` for a non-negative double: NaN is
    compared unordered, so GCC takes the direct ``cvttsd2si`` path, which
    gives 2**63; infinity converts as any value from 2**64 up."""
    if value != value:  # NaN
        return 1 << 63
    if value == math.inf:
        return uint64_cast_x86(C.UINT64_MAX + 1)
    return uint64_cast_x86(int(value))


def clamp_downtime_ns(truncated: int, repaired: bool) -> int:
    """``max_downtime = (uint64_t)value`` (line 825, MIG-DOWNTIME-001/002) for
    the integer part ``truncated`` of the clamped double ``value`` (lines
    823-824 keep it in [0, 2**64]: ``UINT64_MAX`` as a double is 2**64).

    The seed converts 2**64 to 0 (DEF-DOWNTIME-OVERFLOW); the repair clamps
    to the largest double below 2**64 first.

    pre: 0 <= truncated <= 2**64
    post: 0 <= __return__ <= C.UINT64_MAX
    post: repaired or __return__ == (0 if truncated == 2**64 else truncated)
    post: not repaired or __return__ == min(truncated, LARGEST_DOUBLE_BELOW_2_64)
    post: not repaired or (__return__ == 0) == (truncated == 0)
    """
    if repaired:
        return min(truncated, LARGEST_DOUBLE_BELOW_2_64)
    return uint64_cast_x86(truncated)


def downtime_ns(seconds: float, repaired: bool) -> int:
    """``qmp_migrate_set_downtime`` (lines 823-825): the new ``max_downtime``.

    IEEE shell of :func:`clamp_downtime_ns`: ``value *= 1e9`` and the clamp
    ``MAX(0, MIN(UINT64_MAX, value))`` are double operations; the clamped
    double is integral from 2**53 up and in [0, 2**64], so ``int`` of it is
    exact. NaN passes both C macros unchanged (every comparison is false);
    the seed converts it to 2**63 and the repair, like ``int``, refuses it
    (QMP never delivers NaN: it is not JSON).

    On whole and quarter seconds (the contract's domain) it is the seconds
    times 1e9 (MIG-DOWNTIME-001):

    pre: seconds in (0.0, 0.25, 1.0, 2.0)
    post: __return__ == round(seconds * 4) * 250_000_000
    """
    value = seconds * 1e9
    if value != value:
        if repaired:
            raise ValueError("cannot convert float NaN to integer")
        return double_to_uint64_x86(value)
    value = max(0.0, min(float(C.UINT64_MAX), value))
    return clamp_downtime_ns(int(value), repaired)


def pow2floor(value: int) -> int:
    """``pow2floor`` of QEMU's host-utils: the largest power of two <= value
    (MIG-CACHE-001), by binary search over the bit position.

    pre: 1 <= value <= C.INT64_MAX
    post: __return__ <= value < 2 * __return__
    post: __return__ & (__return__ - 1) == 0
    """
    result = 1
    rest = value
    for shift in (32, 16, 8, 4, 2, 1):
        if rest >> shift:
            rest >>= shift
            result <<= shift
    return result


def cache_size_decision(
    value: int, ram_total: int, repaired: bool, cache_exists: bool = False,
    current: int = 0, alloc_fails: bool = False, alloc_repaired: bool = False,
) -> tuple[str | None, int]:
    """``qmp_migrate_set_cache_size`` (lines 774-795) with ``xbzrle_cache_resize``.

    Returns ``(error key, new size)``; the size is 0 with an error.
    ``value != (size_t)value`` never holds on a 64-bit host (MIG-CACHE-002);
    ``value > ram_bytes_total()`` compares as unsigned (MIG-CACHE-003), so a
    negative value is reported as exceeding the RAM size (DEF-CACHE-NEGATIVE);
    below the page size is refused (MIG-CACHE-004); else the size is rounded
    down to a power of two (MIG-CACHE-001). While a migration holds an XBZRLE
    cache (``cache_exists``) a new size (its power of two differs from
    ``current``) allocates a new cache, which can fail (``alloc_fails``):
    ``xbzrle_cache_resize`` returns -1 and the seed reports that too as "is
    smaller than page size" (MIG-CACHE-006, DEF-CACHE-ALLOC-MISREPORTED;
    ``alloc_repaired``: "cache_alloc_failed"). The last post-condition is what
    the message says: "smaller than page size" only for a size below it.

    pre: C.INT64_MIN <= value <= C.INT64_MAX
    pre: 0 <= ram_total <= C.INT64_MAX
    pre: 0 <= current <= C.INT64_MAX
    post: __return__[0] in (None, "cache_above_ram", "cache_below_page", "cache_alloc_failed")
    post: (__return__[0] is None) == (C.TARGET_PAGE_SIZE <= value <= ram_total and not (cache_exists and alloc_fails and pow2floor(value) != current))
    post: __return__[0] is None or __return__[1] == 0
    post: __return__[0] is not None or __return__[1] <= value < 2 * __return__[1]
    post: __return__[0] is not None or C.TARGET_PAGE_SIZE <= __return__[1] <= ram_total
    post: repaired or value >= 0 or __return__[0] == "cache_above_ram"
    post: not repaired or value >= C.TARGET_PAGE_SIZE or __return__[0] == "cache_below_page"
    post: value < (C.TARGET_PAGE_SIZE if repaired else 0) or (__return__[0] == "cache_above_ram") == (value > ram_total)
    post: (__return__[0] == "cache_alloc_failed") == (alloc_repaired and C.TARGET_PAGE_SIZE <= value <= ram_total and cache_exists and alloc_fails and pow2floor(value) != current)
    post: not alloc_repaired or __return__[0] != "cache_below_page" or value < C.TARGET_PAGE_SIZE
    """  # noqa: E501
    if repaired and value < C.TARGET_PAGE_SIZE:
        return "cache_below_page", 0
    unsigned = value if value >= 0 else value + (1 << 64)
    if unsigned > ram_total:
        return "cache_above_ram", 0
    if value < C.TARGET_PAGE_SIZE:
        return "cache_below_page", 0
    size = pow2floor(value)
    if cache_exists and size != current and alloc_fails:  # cache_init returned NULL
        return ("cache_alloc_failed" if alloc_repaired else "cache_below_page"), 0
    return None, size


# -- migrate, capabilities, URIs ----------------------------------------------
def migrate_precheck(
    state: MigrationStatus,
    inmigrate: bool,
    unmigratable: bool,
    has_blocker: bool,
    cleanup_pending: bool,
    repaired: bool,
) -> str | None:
    """The refusals of ``qmp_migrate`` in the seed's order (lines 708-726,
    MIG-MIGRATE-001..005, MIG-BLOCKER-001).

    ``cleanup_pending`` matters only in the repair of DEF-MIGRATE-BEFORE-CLEANUP.

    post: (state in IN_PROGRESS) == (__return__ == "migration_active") or cleanup_pending
    post: (__return__ == "migration_active") == (state in IN_PROGRESS or (repaired and cleanup_pending))
    post: (__return__ == "guest_inmigrate") == (__return__ != "migration_active" and inmigrate)
    post: (__return__ == "state_blocked") == (__return__ not in ("migration_active", "guest_inmigrate") and unmigratable)
    post: (__return__ == "blocker") == (__return__ not in ("migration_active", "guest_inmigrate", "state_blocked") and has_blocker)
    post: (__return__ is None) == (state not in IN_PROGRESS and not (repaired and cleanup_pending) and not inmigrate and not unmigratable and not has_blocker)
    """  # noqa: E501
    if state in IN_PROGRESS or (repaired and cleanup_pending):
        return "migration_active"
    if inmigrate:
        return "guest_inmigrate"
    if unmigratable:
        return "state_blocked"
    if has_blocker:
        return "blocker"
    return None


def capabilities_refused(state: MigrationStatus, repaired: bool) -> bool:
    """``qmp_migrate_set_capabilities`` refuses in ACTIVE or SETUP (lines 474-477,
    MIG-CAPS-002); the repair of DEF-CAPS-WHILE-CANCELLING also refuses in
    CANCELLING.

    post: __return__ == (state in (IN_PROGRESS if repaired else _SETUP_OR_ACTIVE))
    post: repaired or state != MigrationStatus.CANCELLING or not __return__
    """
    if state in _SETUP_OR_ACTIVE:
        return True
    return repaired and state == MigrationStatus.CANCELLING


def outgoing_scheme(uri: str, build: BuildConfig) -> str | None:
    """The scheme ``qmp_migrate`` dispatches ``uri`` to (lines 736-755,
    MIG-MIGRATE-007/008), or None: the first compiled-in prefix of ``uri``.

    post: __return__ is None or uri.startswith(__return__)
    post: __return__ is None or __return__ in enabled_schemes(build)
    post: (__return__ is None) == (not any(uri.startswith(p) for p in enabled_schemes(build)))
    post: __return__ != "rdma:" or build.config_rdma
    post: __return__ not in ("exec:", "unix:", "fd:") or not build.win32
    """
    for prefix in enabled_schemes(build):
        if uri.startswith(prefix):
            return prefix
    return None


def incoming_dispatch(uri: str, build: BuildConfig) -> str | None:
    """``qemu_start_incoming_migration`` (lines 241-259, MIG-INCOMING-001..004):
    ``"defer"``, a scheme prefix, or None for "unknown migration protocol".

    post: __return__ is None or __return__ == DEFER or uri.startswith(__return__)
    post: (__return__ == DEFER) == (uri == DEFER)
    post: uri == DEFER or __return__ == outgoing_scheme(uri, build)
    """
    if uri == DEFER:
        return DEFER
    return outgoing_scheme(uri, build)


# -- cancel and cleanup -----------------------------------------------------------
def cancel_outcome(state: MigrationStatus) -> MigrationStatus:
    """The state ``migrate_fd_cancel``'s loop leaves (lines 581-588,
    MIG-CANCEL-001): SETUP and ACTIVE become CANCELLING, any other state is
    left alone.

    post: __return__ == (MigrationStatus.CANCELLING if state in _SETUP_OR_ACTIVE else state)
    """
    if state in _SETUP_OR_ACTIVE:
        return MigrationStatus.CANCELLING
    return state


def thread_cas(state: MigrationStatus, fails: bool) -> MigrationStatus:
    """The state after ``migration_thread``'s next successful compare-and-swap
    from ``state`` (one of :data:`THREAD_MOVES`; MIG-THREAD-002, MIG-THREAD-006..008):
    SETUP becomes ACTIVE, ACTIVE becomes FAILED or COMPLETED; from any other
    state the thread swaps nothing.

    post: __return__ == state or (state, __return__) in THREAD_MOVES
    post: state not in _SETUP_OR_ACTIVE or __return__ != state
    """
    if state == MigrationStatus.SETUP:
        return MigrationStatus.ACTIVE
    if state == MigrationStatus.ACTIVE:
        return MigrationStatus.FAILED if fails else MigrationStatus.COMPLETED
    return state


def cancel_loop(
    state: MigrationStatus, first: bool, second: bool, thread_fails: bool
) -> tuple[MigrationStatus, int]:
    """``migrate_fd_cancel``'s loop (lines 581-588, MIG-CANCEL-001) racing the
    migration thread.

    ``first`` and ``second``: the thread's compare-and-swap (:func:`thread_cas`,
    ending in FAILED if ``thread_fails``) lands between the loop's first, or
    second, read of the state and its compare-and-swap. The thread can swap
    at most twice (SETUP, ACTIVE, then a final state), so two chances cover
    every race. Returns the final state and the number of compare-and-swaps
    tried.

    The loop always ends, never leaves a migration in SETUP or ACTIVE, and
    ends where the atomic :func:`cancel_outcome` would after the thread's
    swaps: the engine runs the loop as one step for that reason.

    post: __return__[0] not in _SETUP_OR_ACTIVE
    post: __return__[0] in (MigrationStatus.CANCELLING, MigrationStatus.COMPLETED, MigrationStatus.FAILED) or __return__[0] == state
    post: (__return__[1] == 0) == (state not in _SETUP_OR_ACTIVE)
    post: __return__[1] <= 3
    post: state not in _SETUP_OR_ACTIVE or __return__[0] != state
    post: first or second or __return__[0] == cancel_outcome(state)
    """  # noqa: E501
    current = state
    attempts = 0
    for moves in (first, second, False):
        old = current
        if old not in _SETUP_OR_ACTIVE:
            break
        if moves:
            current = thread_cas(current, thread_fails)
        current, _ = compare_and_swap(current, old, MigrationStatus.CANCELLING)
        attempts += 1
        if current == MigrationStatus.CANCELLING:
            break
    return current, attempts


def cleanup_decision(state: MigrationStatus) -> tuple[bool, bool, bool]:
    """What ``migrate_fd_cleanup`` does after closing the file (lines 554-562,
    MIG-CLEANUP-003/004): ``(assertion fails, qemu_savevm_state_cancel runs,
    CANCELLING -> CANCELLED)``.

    post: __return__[0] == (state == MigrationStatus.ACTIVE)
    post: __return__[1] == (state not in (MigrationStatus.ACTIVE, MigrationStatus.COMPLETED))
    post: __return__[2] == (state == MigrationStatus.CANCELLING)
    post: not __return__[2] or __return__[1]
    """
    if state == MigrationStatus.ACTIVE:
        return True, False, False
    cancel = state != MigrationStatus.COMPLETED
    return False, cancel, state == MigrationStatus.CANCELLING


# -- global state and the incoming run state ------------------------------------
def global_state_needed(optional: bool, runstate: str) -> bool:
    """``global_state_needed`` (lines 140-160, MIG-GLOBAL-002).

    post: __return__ == (not optional or runstate not in ("running", "paused"))
    """
    if not optional:
        return True
    return runstate not in ("running", "paused")


def incoming_runstate(received: bool, runstate: RunState, autostart: bool) -> RunState | None:
    """The run state after a successful incoming migration (lines 297-306,
    MIG-INCOMING-008).

    None means ``vm_start()`` (the guest runs); otherwise ``runstate_set`` of the
    returned state.

    post: (__return__ is None) == ((not received or runstate == RunState.RUNNING) and autostart)
    post: __return__ in (None, RunState.PAUSED) or (received and __return__ == runstate)
    post: received or __return__ == (None if autostart else RunState.PAUSED)
    """
    if not received or runstate == RunState.RUNNING:
        return None if autostart else RunState.PAUSED
    return runstate


def runstate_transition_allowed(old: RunState, new: RunState, arrival_repaired: bool) -> bool:
    """``runstate_set`` of vl.c (MIG-INCOMING-008, MIG-THREAD-009): whether
    ``old -> new`` is in ``runstate_transitions_def[]`` (any other transition
    aborts QEMU); the
    repair of DEF-INCOMING-PRELAUNCH-ABORT adds ``inmigrate -> prelaunch`` and
    ``inmigrate -> postmigrate``.

    post: __return__ == ((old, new) in RUNSTATE_TRANSITIONS or (arrival_repaired and (old, new) in INCOMING_RUNSTATE_REPAIR))
    post: old != new or not __return__
    """  # noqa: E501
    if (old, new) in RUNSTATE_TRANSITIONS:
        return True
    return arrival_repaired and (old, new) in INCOMING_RUNSTATE_REPAIR


def incoming_arrival(
    optional: bool, source_runstate: RunState, autostart: bool, repaired: bool
) -> tuple[bool, RunState | None, bool]:
    """The whole run-state hand-over of a successful migration (MIG-GLOBAL-001,
    MIG-GLOBAL-002, MIG-INCOMING-008): the source stores ``source_runstate``
    (lines 944-946), sends the global-state section if it is needed (lines
    140-160), and the destination, once loaded, starts the guest or sets the
    received run state (lines 297-306) from 'inmigrate'.

    Returns ``(section sent, run state set or None for vm_start, the
    destination aborts on an invalid run-state transition)``. ``repaired`` is
    the repair of DEF-INCOMING-PRELAUNCH-ABORT.

    post: __return__[0] == (not optional or source_runstate not in (RunState.RUNNING, RunState.PAUSED))
    post: (__return__[1] is None) == (autostart and (not __return__[0] or source_runstate == RunState.RUNNING))
    post: __return__[1] in (None, RunState.PAUSED, source_runstate)
    post: not (optional and source_runstate == RunState.PAUSED and autostart) or __return__[1] is None
    post: not (source_runstate == RunState.RUNNING and not autostart) or __return__[1] == RunState.PAUSED
    post: __return__[2] == (__return__[1] is not None and not runstate_transition_allowed(RunState.INMIGRATE, __return__[1], repaired))
    post: __return__[2] == (__return__[0] and source_runstate in (RunState.DEBUG, RunState.INMIGRATE, RunState.RESTORE_VM, RunState.SAVE_VM) or (__return__[0] and source_runstate in (RunState.PRELAUNCH, RunState.POSTMIGRATE) and not repaired))
    """  # noqa: E501
    sent = global_state_needed(optional, source_runstate.value)
    target = incoming_runstate(sent, source_runstate, autostart)
    aborts = target is not None and not runstate_transition_allowed(
        RunState.INMIGRATE, target, repaired
    )
    return sent, target, aborts


def global_state_post_load(runstate: str, terminate: bool) -> tuple[RunState | None, bool]:
    """``global_state_post_load`` (lines 162-184, MIG-GLOBAL-003, MIG-DEST-002):
    ``qapi_enum_parse`` of the 100-byte buffer, seen as the C string
    ``runstate`` (100 characters: no NUL in the buffer). Returns the run state
    it names, or None (-EINVAL: the load fails), and whether the parse read
    past the buffer: the seed runs ``strcmp`` and the error's ``%s`` on an
    unterminated buffer (DEF-GLOBAL-STATE-UNTERMINATED); ``terminate`` is the
    repair (QEMU 7.2 writes a NUL into the last byte first). No run-state
    name is 99 characters long, so the outcome is the same either way.

    pre: len(runstate) <= 100
    post: __return__[1] == (len(runstate) == 100 and not terminate)
    post: __return__[0] is None or __return__[0].value == runstate
    post: (__return__[0] is None) == all(r.value != runstate for r in RunState)
    """
    unterminated = len(runstate) == C.GLOBAL_STATE_RUNSTATE_SIZE
    if unterminated and terminate:
        runstate = runstate[: C.GLOBAL_STATE_RUNSTATE_SIZE - 1]
    for state in RunState:
        if state.value == runstate:
            return state, False
    return None, unterminated and not terminate


def arrival_runstate(
    target: RunState, prelaunch_repaired: bool, debug_repaired: bool
) -> RunState | None:
    """The run state the destination sets for a received ``target`` (line 305,
    MIG-INCOMING-008), or None when ``runstate_set`` from 'inmigrate' aborts.
    The repair of DEF-INCOMING-PRELAUNCH-ABORT allows 'prelaunch' and
    'postmigrate'; that of DEF-INCOMING-DEBUG-ABORT lets a guest received in a
    state no QEMU lets 'inmigrate' enter (debug, inmigrate, restore-vm,
    save-vm) arrive 'paused'.

    post: __return__ in (None, target, RunState.PAUSED)
    post: (__return__ == target) == runstate_transition_allowed(RunState.INMIGRATE, target, prelaunch_repaired)
    post: (__return__ is None) == (not runstate_transition_allowed(RunState.INMIGRATE, target, prelaunch_repaired) and not (debug_repaired and target in INCOMING_PAUSED_REPAIR))
    """  # noqa: E501
    if runstate_transition_allowed(RunState.INMIGRATE, target, prelaunch_repaired):
        return target
    if debug_repaired and target in INCOMING_PAUSED_REPAIR:
        return RunState.PAUSED
    return None


# -- the migration thread's arithmetic -------------------------------------------
def window_bandwidth(transferred_bytes: int, time_spent: int) -> int:
    """``bandwidth = transferred_bytes / time_spent`` (lines 977-979,
    MIG-THREAD-005): bytes per ms, a ``uint64_t`` division before the double
    conversion.

    pre: 0 <= transferred_bytes <= C.INT64_MAX
    pre: 1 <= time_spent <= C.INT64_MAX
    post: __return__ * time_spent <= transferred_bytes < (__return__ + 1) * time_spent
    post: 0 <= __return__ <= transferred_bytes
    """
    return transferred_bytes // time_spent


def max_size_exact(bandwidth: int, max_downtime: int) -> int:
    """``max_size = bandwidth * migrate_max_downtime() / 1000000`` (line 980,
    MIG-THREAD-005): the bytes that fit in the allowed downtime, where the
    product is an exact double.

    pre: 0 <= bandwidth
    pre: 0 <= max_downtime
    pre: bandwidth * max_downtime < EXACT_DOUBLE_BOUND
    post: __return__ * 1000000 <= bandwidth * max_downtime < (__return__ + 1) * 1000000
    post: (__return__ == 0) == (bandwidth * max_downtime < 1000000)
    post: max_downtime != 0 or __return__ == 0
    """
    return bandwidth * max_downtime // 1000000


def bandwidth_window(
    transferred_bytes: int, time_spent: int, max_downtime: int
) -> tuple[float, int]:
    """Lines 977-980: ``bandwidth`` (bytes/ms, as the double the seed keeps)
    and ``max_size`` (bytes).

    IEEE shell of :func:`window_bandwidth` and :func:`max_size_exact`. The
    quotient is an integer below 2**53, so the double is exact. When the
    product is below 2**53 it is exact too, and the double quotient by 1e6
    truncates to the integer quotient (its distance to the next integer, at
    least 1e-6, exceeds half an ulp below 2**34). Otherwise the double
    formula runs as C runs it.
    """
    bandwidth = window_bandwidth(transferred_bytes, time_spent)
    if max_downtime < EXACT_DOUBLE_BOUND and bandwidth * max_downtime < EXACT_DOUBLE_BOUND:
        return float(bandwidth), max_size_exact(bandwidth, max_downtime)
    return float(bandwidth), int(float(bandwidth) * max_downtime / 1000000)


def window_mbps(transferred_bytes: int, time_spent: int) -> float:
    """Lines 982-983: megabits per second over one window, -1 when no time
    passed. IEEE arithmetic only (no contract)."""
    if not time_spent:
        return -1.0
    return ((float(transferred_bytes) * 8.0) / (float(time_spent) / 1000.0)) / 1000.0 / 1000.0


def final_mbps(transferred_bytes: int, total_time: int, previous: float) -> float:
    """Lines 1009-1012: megabits per second over the whole migration; unchanged
    when ``total_time`` is 0. IEEE arithmetic only (no contract)."""
    if total_time:
        return ((float(transferred_bytes) * 8.0) / float(total_time)) / 1000
    return previous


def expected_downtime_ms(
    dirty_bytes_rate: int, transferred_bytes: int, bandwidth: int, previous: int, repaired: bool
) -> int:
    """Lines 989-991 (MIG-THREAD-005): ``dirty_bytes_rate / bandwidth`` (ms),
    when anything was sent, for an integral ``bandwidth``. With ``bandwidth``
    0 the seed converts infinity to int64, which x86-64 makes INT64_MIN
    (DEF-EXPECTED-DOWNTIME-DIV0); the repair keeps the old value.

    pre: 0 <= dirty_bytes_rate < EXACT_DOUBLE_BOUND
    pre: 0 <= transferred_bytes <= C.INT64_MAX
    pre: 0 <= bandwidth <= C.INT64_MAX
    pre: C.INT64_MIN <= previous <= C.INT64_MAX
    post: C.INT64_MIN <= __return__ <= C.INT64_MAX
    post: (dirty_bytes_rate and transferred_bytes > C.EXPECTED_DOWNTIME_MIN_BYTES) or __return__ == previous
    post: not (dirty_bytes_rate and transferred_bytes > C.EXPECTED_DOWNTIME_MIN_BYTES and bandwidth == 0) or __return__ == (previous if repaired else C.INT64_MIN)
    post: not (dirty_bytes_rate and transferred_bytes > C.EXPECTED_DOWNTIME_MIN_BYTES and bandwidth > 0) or __return__ * bandwidth <= dirty_bytes_rate < (__return__ + 1) * bandwidth
    """  # noqa: E501
    if not (dirty_bytes_rate and transferred_bytes > C.EXPECTED_DOWNTIME_MIN_BYTES):
        return previous
    if bandwidth == 0:
        if repaired:
            return previous
        return C.INT64_MIN
    return dirty_bytes_rate // bandwidth


def expected_downtime(
    dirty_bytes_rate: int, transferred_bytes: int, bandwidth: float, previous: int, repaired: bool
) -> int:
    """Lines 989-991 with the double ``bandwidth`` the seed keeps.

    IEEE shell of :func:`expected_downtime_ms`: ``bandwidth`` comes from
    :func:`bandwidth_window`, an integer below 2**53. For a dividend below
    2**53 the double quotient truncates to the integer quotient (its distance
    to the next integer, at least 1/bandwidth, exceeds half an ulp); other
    operands take the double formula as C does.
    """
    whole = int(bandwidth) if math.isfinite(bandwidth) else -1
    if whole == bandwidth and whole >= 0 and 0 <= dirty_bytes_rate < EXACT_DOUBLE_BOUND:
        return expected_downtime_ms(
            dirty_bytes_rate, transferred_bytes, whole, previous, repaired
        )
    if not (dirty_bytes_rate and transferred_bytes > C.EXPECTED_DOWNTIME_MIN_BYTES):
        return previous
    if bandwidth == 0.0:
        return previous if repaired else C.INT64_MIN
    return int(dirty_bytes_rate / bandwidth)
