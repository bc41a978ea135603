"""Pure decision functions of the seed, each small, total and contract-checked.

Every function here is a rule the seed applies, over small types. The engine
composes them and never re-derives them. Contracts are written as
``pre:``/``post:`` docstring conditions that CrossHair checks
(``migspec prove``).
"""

from __future__ import annotations

import math

from migspec.spec import constants as C
from migspec.spec.parameters import ParameterDecl
from migspec.spec.runstates import RunState
from migspec.spec.states import IN_PROGRESS, MigrationStatus
from migspec.spec.uris import DEFER, BuildConfig, enabled_schemes

_SETUP_OR_ACTIVE = frozenset({MigrationStatus.SETUP, MigrationStatus.ACTIVE})

#: The largest double strictly below 2**64, as an integer (the ``fixed`` clamp).
LARGEST_DOUBLE_BELOW_2_64 = int(math.nextafter(2.0**64, 0.0))


def compare_and_swap(
    current: MigrationStatus, expected: MigrationStatus, new: MigrationStatus
) -> tuple[MigrationStatus, bool]:
    """``atomic_cmpxchg(&s->state, expected, new) == expected`` (line 530).

    post: __return__[1] == (current == expected)
    post: __return__[0] == (new if current == expected else current)
    """
    if current == expected:
        return new, True
    return current, False


def parameter_in_range(decl: ParameterDecl, value: int) -> bool:
    """``qmp_migrate_set_parameters`` range test (lines 494-512).

    post: __return__ == (decl.minimum <= value <= decl.maximum)
    """
    return not (value < decl.minimum or value > decl.maximum)


def clamp_speed(value: int) -> int:
    """``qmp_migrate_set_speed`` (lines 807-813): the new ``bandwidth_limit``.

    pre: C.INT64_MIN <= value <= C.INT64_MAX
    post: 0 <= __return__ <= C.INT64_MAX
    post: (value >= 0) == (__return__ == value)
    """
    if value < 0:
        value = 0
    if value > C.SIZE_MAX:  # never true for an int64 on a 64-bit host
        value = C.SIZE_MAX
    return value


def xfer_limit(bandwidth_limit: int) -> int:
    """Bytes a rate-limit window may carry: ``bandwidth_limit / XFER_LIMIT_RATIO``
    (lines 817, 1032-1033), C integer division of a non-negative value.

    pre: 0 <= bandwidth_limit <= C.INT64_MAX
    post: __return__ * C.XFER_LIMIT_RATIO <= bandwidth_limit
    post: bandwidth_limit < (__return__ + 1) * C.XFER_LIMIT_RATIO
    """
    return bandwidth_limit // C.XFER_LIMIT_RATIO


def double_to_uint64_x86(value: float) -> int:
    """C's ``(uint64_t)value`` as GCC compiles it for x86-64 with SSE2.

    Values in [2**63, 2**64] are converted as ``(int64)(value - 2**63) ^ 2**63``;
    out-of-range ``cvttsd2si`` yields 2**63, so 2**64 converts to 0. NaN and
    values >= 2**64 are undefined behaviour in C; this is what the hardware does.

    pre: value >= 0.0
    post: 0 <= __return__ <= C.UINT64_MAX
    """
    if value != value:  # NaN: cvttsd2si gives the "integer indefinite" 2**63
        return 1 << 63
    if value < 2.0**63:
        return int(value)
    shifted = value - 2.0**63
    low = int(shifted) if shifted < 2.0**63 else 1 << 63
    return (low ^ (1 << 63)) & C.UINT64_MAX


def downtime_ns(seconds: float, repaired: bool) -> int:
    """``qmp_migrate_set_downtime`` (lines 823-825): the new ``max_downtime``.

    The seed clamps ``value*1e9`` to ``UINT64_MAX`` as a double, which is 2**64,
    and converts it: a huge downtime becomes 0 (DEF-DOWNTIME-OVERFLOW). The
    repair clamps to the largest double below 2**64.

    pre: not math.isnan(seconds)
    post: 0 <= __return__ <= C.UINT64_MAX
    post: (seconds <= 0.0) == (__return__ == 0) if repaired else True
    """
    value = seconds * 1e9
    value = max(0.0, min(float(C.UINT64_MAX), value)) if value == value else value
    if repaired:
        value = min(value, float(LARGEST_DOUBLE_BELOW_2_64))
        return int(value)
    return double_to_uint64_x86(value)


def pow2floor(value: int) -> int:
    """``pow2floor`` of QEMU's host-utils: the largest power of two <= value.

    pre: value >= 1
    post: __return__ <= value < 2 * __return__
    post: __return__ & (__return__ - 1) == 0
    """
    return 1 << (value.bit_length() - 1)


def cache_size_decision(value: int, ram_total: int, repaired: bool) -> tuple[str | None, int]:
    """``qmp_migrate_set_cache_size`` (lines 774-795) with ``xbzrle_cache_resize``.

    Returns ``(error key, new size)``; the size is meaningful without an error.
    ``value != (size_t)value`` never holds on a 64-bit host; ``value >
    ram_bytes_total()`` compares as unsigned, so a negative value is reported
    as exceeding the RAM size (DEF-CACHE-NEGATIVE).

    pre: C.INT64_MIN <= value <= C.INT64_MAX
    pre: 0 <= ram_total <= C.INT64_MAX
    post: __return__[0] is not None or C.TARGET_PAGE_SIZE <= __return__[1] <= max(value, 0)
    post: __return__[0] is not None or __return__[1] <= ram_total
    """
    if repaired and value < C.TARGET_PAGE_SIZE:
        return "cache_below_page", 0
    if (value & C.UINT64_MAX) > ram_total:
        return "cache_above_ram", 0
    if value < C.TARGET_PAGE_SIZE:
        return "cache_below_page", 0
    return None, pow2floor(value)


def migrate_precheck(
    state: MigrationStatus,
    inmigrate: bool,
    unmigratable: bool,
    has_blocker: bool,
    cleanup_pending: bool,
    repaired: bool,
) -> str | None:
    """The refusals of ``qmp_migrate`` in the seed's order (lines 708-726).

    ``cleanup_pending`` matters only in the repair of DEF-MIGRATE-BEFORE-CLEANUP.

    post: (state in IN_PROGRESS) == (__return__ == "migration_active") or cleanup_pending
    """
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
    """``qmp_migrate_set_capabilities`` refuses in ACTIVE or SETUP (lines 474-477);
    the repair of DEF-CAPS-WHILE-CANCELLING also refuses in CANCELLING.

    post: __return__ == (state in (IN_PROGRESS if repaired else _SETUP_OR_ACTIVE))
    """
    if state in _SETUP_OR_ACTIVE:
        return True
    return repaired and state == MigrationStatus.CANCELLING


def outgoing_scheme(uri: str, build: BuildConfig) -> str | None:
    """The scheme ``qmp_migrate`` dispatches ``uri`` to (lines 736-755), or None.

    post: __return__ is None or uri.startswith(__return__)
    """
    for prefix in enabled_schemes(build):
        if uri.startswith(prefix):
            return prefix
    return None


def incoming_dispatch(uri: str, build: BuildConfig) -> str | None:
    """``qemu_start_incoming_migration`` (lines 241-259): ``"defer"``, a scheme
    prefix, or None for "unknown migration protocol".

    post: __return__ is None or __return__ == DEFER or uri.startswith(__return__)
    """
    if uri == DEFER:
        return DEFER
    return outgoing_scheme(uri, build)


def cancel_outcome(state: MigrationStatus) -> MigrationStatus:
    """The state ``migrate_fd_cancel``'s loop leaves (lines 581-588): SETUP and
    ACTIVE become CANCELLING, any other state is left alone.

    post: __return__ == (MigrationStatus.CANCELLING if state in _SETUP_OR_ACTIVE else state)
    """
    if state in _SETUP_OR_ACTIVE:
        return MigrationStatus.CANCELLING
    return state


def cleanup_decision(state: MigrationStatus) -> tuple[bool, bool, bool]:
    """What ``migrate_fd_cleanup`` does after closing the file (lines 554-562):
    ``(assertion fails, qemu_savevm_state_cancel runs, CANCELLING -> CANCELLED)``.

    post: __return__[0] == (state == MigrationStatus.ACTIVE)
    post: __return__[2] == (state == MigrationStatus.CANCELLING)
    post: not __return__[2] or __return__[1]
    """
    if state == MigrationStatus.ACTIVE:
        return True, False, False
    cancel = state != MigrationStatus.COMPLETED
    return False, cancel, state == MigrationStatus.CANCELLING


def global_state_needed(optional: bool, runstate: str) -> bool:
    """``global_state_needed`` (lines 140-160).

    post: __return__ == (not optional or runstate not in ("running", "paused"))
    """
    if not optional:
        return True
    return runstate not in ("running", "paused")


def incoming_runstate(received: bool, runstate: RunState, autostart: bool) -> RunState | None:
    """The run state after a successful incoming migration (lines 297-306).

    None means ``vm_start()`` (the guest runs); otherwise ``runstate_set`` of the
    returned state.

    post: (__return__ is None) == ((not received or runstate == RunState.RUNNING) and autostart)
    post: __return__ in (None, RunState.PAUSED) or (received and __return__ == runstate)
    """
    if not received or runstate == RunState.RUNNING:
        return None if autostart else RunState.PAUSED
    return runstate


def bandwidth_window(
    transferred_bytes: int, time_spent: int, max_downtime: int
) -> tuple[float, int]:
    """Lines 977-980: ``bandwidth`` (bytes/ms, from an *integer* division) and
    ``max_size`` (bytes: ``bandwidth * max_downtime / 1000000`` truncated).

    pre: 0 <= transferred_bytes <= 2**53
    pre: 1 <= time_spent <= 2**40
    pre: 0 <= max_downtime <= 2**53
    post: __return__[0] == float(transferred_bytes // time_spent)
    post: __return__[1] >= 0
    """
    bandwidth = float(transferred_bytes // time_spent)
    max_size = int(bandwidth * max_downtime / 1000000)
    return bandwidth, max_size


def window_mbps(transferred_bytes: int, time_spent: int) -> float:
    """Lines 982-983: megabits per second over one window, -1 when no time passed.

    pre: 0 <= transferred_bytes <= 2**53
    pre: 0 <= time_spent <= 2**40
    post: (__return__ == -1) == (time_spent == 0)
    """
    if not time_spent:
        return -1.0
    return ((float(transferred_bytes) * 8.0) / (float(time_spent) / 1000.0)) / 1000.0 / 1000.0


def final_mbps(transferred_bytes: int, total_time: int, previous: float) -> float:
    """Lines 1009-1012: megabits per second over the whole migration; unchanged
    when ``total_time`` is 0.

    pre: 0 <= transferred_bytes <= 2**53
    pre: 0 <= total_time <= 2**40
    post: total_time != 0 or __return__ == previous
    """
    if total_time:
        return ((float(transferred_bytes) * 8.0) / float(total_time)) / 1000
    return previous


def expected_downtime(
    dirty_bytes_rate: int, transferred_bytes: int, bandwidth: float, previous: int, repaired: bool
) -> int:
    """Lines 989-991: ``dirty_bytes_rate / bandwidth`` (ms), when anything was
    sent. With ``bandwidth`` 0 the seed converts infinity to int64, which x86-64
    makes INT64_MIN (DEF-EXPECTED-DOWNTIME-DIV0); the repair keeps the old value.

    pre: 0 <= dirty_bytes_rate <= 2**53
    pre: 0 <= transferred_bytes <= 2**53
    pre: 0.0 <= bandwidth <= 2.0**53
    pre: C.INT64_MIN <= previous <= C.INT64_MAX
    post: C.INT64_MIN <= __return__ <= C.INT64_MAX
    """
    if not (dirty_bytes_rate and transferred_bytes > C.EXPECTED_DOWNTIME_MIN_BYTES):
        return previous
    if bandwidth == 0.0:
        if repaired:
            return previous
        return C.INT64_MIN
    return int(dirty_bytes_rate / bandwidth)
