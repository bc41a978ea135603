"""The pure decision functions of ``reference/decisions.py``, called directly.

Every expected value is worked out here from the seed (migration.c at 6775e2c4,
line numbers cited) or from the spec's declarations (``spec/runstates.py``,
``spec/transitions.py``), as a literal or as a small formula written out from
the seed's C; none is computed by the function under test. The double
arithmetic shells (downtime, the migration thread's window arithmetic) are in
``test_decisions_float.py``.
"""

from __future__ import annotations

import itertools

import pytest

from migspec.reference import decisions as D
from migspec.spec.actors import Actor
from migspec.spec.parameters import PARAMETERS
from migspec.spec.runstates import INCOMING_RUNSTATE_REPAIR, RUNSTATE_TRANSITIONS, RunState
from migspec.spec.states import MigrationStatus as S
from migspec.spec.transitions import TRANSITIONS
from migspec.spec.uris import BuildConfig

R = RunState

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
PAGE = 4096  # TARGET_PAGE_SIZE on x86_64
MIB = 1 << 20

#: The two states migrate_fd_cancel's loop acts on (lines 583-586).
SETUP_OR_ACTIVE = (S.SETUP, S.ACTIVE)
#: The states qmp_migrate refuses in (lines 708-710).
IN_PROGRESS = (S.SETUP, S.ACTIVE, S.CANCELLING)
BOOLS = (False, True)


# -- migrate_set_state ---------------------------------------------------------
@pytest.mark.parametrize("current", list(S))
def test_compare_and_swap_every_triple(current: S) -> None:
    """MIG-SETSTATE-001: atomic_cmpxchg(&s->state, old_state, new_state) == old_state
    (line 530): the state becomes ``new`` exactly when it still is ``expected``."""
    for expected, new in itertools.product(S, S):
        swapped = (new, True) if current == expected else (current, False)
        assert D.compare_and_swap(current, expected, new) == swapped, (expected, new)


# -- migrate-set-parameters ----------------------------------------------------
#: Edges of each domain (lines 494, 499-500, 506-507) with the seed's literals.
LEVEL_VALUES = (None, INT64_MIN, -1, 0, 1, 9, 10, INT64_MAX)
THREAD_VALUES = (None, INT64_MIN, -1, 0, 1, 255, 256, INT64_MAX)


def _seed_first_invalid(level: int | None, threads: int | None,
                        decompress: int | None) -> str | None:
    """Lines 494-512 transcribed: the first failing ``has_x && (x < lo || x > hi)``."""
    if level is not None and (level < 0 or level > 9):
        return "compress_level"
    if threads is not None and (threads < 1 or threads > 255):
        return "compress_threads"
    if decompress is not None and (decompress < 1 or decompress > 255):
        return "decompress_threads"
    return None


@pytest.mark.parametrize("level", LEVEL_VALUES)
def test_first_invalid_parameter_table(level: int | None) -> None:
    """MIG-PARAMS-001..004: compress_level is checked first (line 494), then
    compress_threads (499-500), then decompress_threads (506-507); an absent
    parameter (has_x false) is never checked."""
    for threads, decompress in itertools.product(THREAD_VALUES, THREAD_VALUES):
        assert D.first_invalid_parameter(level, threads, decompress) == _seed_first_invalid(
            level, threads, decompress), (threads, decompress)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((None, None, None), None),
        ((0, 1, 1), None),
        ((9, 255, 255), None),
        ((-1, None, None), "compress_level"),
        ((10, None, None), "compress_level"),
        ((10, 0, 0), "compress_level"),
        ((None, 0, None), "compress_threads"),
        ((None, 256, None), "compress_threads"),
        ((9, 256, 0), "compress_threads"),
        ((None, None, 0), "decompress_threads"),
        ((None, None, 256), "decompress_threads"),
        ((0, 255, 256), "decompress_threads"),
    ],
)
def test_first_invalid_parameter_literals(
    args: tuple[int | None, int | None, int | None], expected: str | None
) -> None:
    """MIG-PARAMS-001..004: the C name the seed passes to QERR_INVALID_PARAMETER_VALUE
    (lines 495, 502, 509) for the first value outside 0..9 / 1..255 / 1..255."""
    assert D.first_invalid_parameter(*args) == expected


@pytest.mark.parametrize(
    ("index", "value", "inside"),
    [(0, -1, False), (0, 0, True), (0, 9, True), (0, 10, False),
     (1, 0, False), (1, 1, True), (1, 255, True), (1, 256, False),
     (2, 0, False), (2, 1, True), (2, 255, True), (2, 256, False),
     (2, INT64_MIN, False), (2, INT64_MAX, False)],
)
def test_parameter_in_range(index: int, value: int, inside: bool) -> None:
    """MIG-PARAMS-002..004: ``x < lo || x > hi`` refuses (lines 494, 500, 507)."""
    assert D.parameter_in_range(PARAMETERS[index], value) is inside


# -- migrate_set_speed -----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(INT64_MIN, 0), (-1, 0), (0, 0), (1, 1), (32 * MIB, 32 * MIB), (INT64_MAX, INT64_MAX)],
)
def test_clamp_speed(value: int, expected: int) -> None:
    """MIG-SPEED-001: a negative value becomes 0 (lines 807-809); no int64 exceeds
    SIZE_MAX on a 64-bit host (810-812), so every other value is kept."""
    assert D.clamp_speed(value) == expected


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(0, 0), (9, 0), (10, 1), (19, 1), (20, 2), (32 * MIB, 3355443),
     (INT64_MAX, 922337203685477580)],
)
def test_xfer_limit(limit: int, expected: int) -> None:
    """MIG-SPEED-002: bandwidth_limit / XFER_LIMIT_RATIO with XFER_LIMIT_RATIO =
    1000 / BUFFER_DELAY = 10 (lines 37-38, 817), C integer division."""
    assert D.xfer_limit(limit) == expected


@pytest.mark.parametrize(
    ("limit", "seed", "repaired"),
    [(0, True, True), (1, True, False), (5, True, False), (9, True, False),
     (10, False, False), (INT64_MAX, False, False)],
)
def test_window_unlimited(limit: int, seed: bool, repaired: bool) -> None:
    """MIG-SPEED-002, MIG-SAFETY-010, DEF-SPEED-BELOW-RATIO-UNLIMITED: a window
    limit of 0 is no limit (qemu_file_rate_limit); in the seed every speed
    below 10 B/s is unlimited, repaired only 0 is; the repair's limit for 1-9
    B/s is 1 byte per window."""
    assert D.window_unlimited(limit) is seed
    assert D.window_unlimited(limit, True) is repaired
    assert [D.xfer_limit(v, True) for v in (0, 1, 9, 10, 19)] == [0, 1, 1, 1, 1]


# -- uint64 conversion core ------------------------------------------------------
@pytest.mark.parametrize(
    ("truncated", "expected"),
    [(0, 0), (1, 1), ((1 << 53) + 1, (1 << 53) + 1), (INT64_MAX, INT64_MAX),
     (1 << 63, 1 << 63), (UINT64_MAX - 1, UINT64_MAX - 1), (UINT64_MAX, UINT64_MAX),
     (1 << 64, 0), ((1 << 64) + 1, 0), (1 << 70, 0)],
)
def test_uint64_cast_x86(truncated: int, expected: int) -> None:
    """MIG-DOWNTIME-002: (uint64_t)value (line 825) keeps every integer part in
    [0, 2**64) (below 2**63 by cvttsd2si, above by the subtract-2**63 path) and
    gives 0 from 2**64 up on x86-64 (DEF-DOWNTIME-OVERFLOW)."""
    assert D.uint64_cast_x86(truncated) == expected


@pytest.mark.parametrize(
    ("truncated", "repaired", "expected"),
    [(0, False, 0), (0, True, 0), (1, False, 1), (10**9, True, 10**9),
     ((1 << 64) - 2048, False, (1 << 64) - 2048), ((1 << 64) - 2048, True, (1 << 64) - 2048),
     (1 << 64, False, 0), (1 << 64, True, (1 << 64) - 2048)],
)
def test_clamp_downtime_ns(truncated: int, repaired: bool, expected: int) -> None:
    """MIG-DOWNTIME-001, MIG-DOWNTIME-002: the clamped double of lines 823-824 is at
    most 2**64; the seed converts 2**64 to 0 (DEF-DOWNTIME-OVERFLOW), the repair
    clamps to the largest double below 2**64, 2**64 - 2048 (53-bit mantissa)."""
    assert D.clamp_downtime_ns(truncated, repaired) == expected


# -- migrate-set-cache-size ------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [1, 2, 3, 4, 5, 7, 8, 9, 4095, 4096, 4097, 8191, 8192, 3 * MIB + 5,
     (1 << 16) - 1, 1 << 16, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, (1 << 33) + 5,
     (1 << 48) + (1 << 47), (1 << 62) - 1, 1 << 62, INT64_MAX],
)
def test_pow2floor(value: int) -> None:
    """MIG-CACHE-001: pow2floor (QEMU host-utils) is the largest power of two not above
    the value, i.e. the value's top bit."""
    assert D.pow2floor(value) == 1 << (value.bit_length() - 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (3, 2), (4095, 2048), (4096, 4096), (4097, 4096), (8191, 4096),
     ((1 << 32) - 1, 1 << 31), (1 << 32, 1 << 32), (INT64_MAX, 1 << 62)],
)
def test_pow2floor_literals(value: int, expected: int) -> None:
    """MIG-CACHE-001: pow2floor at the shift boundaries of its binary search."""
    assert D.pow2floor(value) == expected


RAM = 16 * MIB


@pytest.mark.parametrize("repaired", BOOLS)
@pytest.mark.parametrize(
    ("value", "ram", "expected"),
    [
        (0, RAM, ("cache_below_page", 0)),
        (1, RAM, ("cache_below_page", 0)),
        (PAGE - 1, RAM, ("cache_below_page", 0)),
        (PAGE, RAM, (None, PAGE)),
        (PAGE + 1, RAM, (None, PAGE)),
        (2 * PAGE - 1, RAM, (None, PAGE)),
        (2 * PAGE, RAM, (None, 2 * PAGE)),
        (64 * MIB, 128 * MIB, (None, 64 * MIB)),
        (RAM - 1, RAM, (None, 8 * MIB)),
        (RAM, RAM, (None, RAM)),
        (RAM + 1, RAM, ("cache_above_ram", 0)),
        (3 * MIB + 5, 3 * MIB + 5, (None, 2 * MIB)),
        (INT64_MAX, RAM, ("cache_above_ram", 0)),
        (INT64_MAX, INT64_MAX, (None, 1 << 62)),
        (PAGE, PAGE - 1, ("cache_above_ram", 0)),
        (PAGE - 1, PAGE - 1, ("cache_below_page", 0)),
    ],
)
def test_cache_size_nonnegative(
    value: int, ram: int, expected: tuple[str | None, int], repaired: bool
) -> None:
    """MIG-CACHE-001, MIG-CACHE-003, MIG-CACHE-004: above ram_bytes_total() is refused
    first (lines 781-786), then below TARGET_PAGE_SIZE by xbzrle_cache_resize
    (788-793); else the size stored is pow2floor(value) (795). For a value >= 0 the
    repair of DEF-CACHE-NEGATIVE changes nothing except for a value that is both
    below a page and above the RAM size (not in this table)."""
    assert D.cache_size_decision(value, ram, repaired) == expected


@pytest.mark.parametrize(
    ("value", "ram", "repaired", "expected"),
    [
        (-1, RAM, False, ("cache_above_ram", 0)),
        (-PAGE, RAM, False, ("cache_above_ram", 0)),
        (INT64_MIN, RAM, False, ("cache_above_ram", 0)),
        (-1, INT64_MAX, False, ("cache_above_ram", 0)),
        (-1, RAM, True, ("cache_below_page", 0)),
        (INT64_MIN, RAM, True, ("cache_below_page", 0)),
        (-1, INT64_MAX, True, ("cache_below_page", 0)),
        (0, 0, False, ("cache_below_page", 0)),
        (0, 0, True, ("cache_below_page", 0)),
        (1, 0, False, ("cache_above_ram", 0)),
        (1, 0, True, ("cache_below_page", 0)),
        (PAGE - 1, 0, True, ("cache_below_page", 0)),
        (PAGE, 0, True, ("cache_above_ram", 0)),
    ],
)
def test_cache_size_negative_and_repair(
    value: int, ram: int, repaired: bool, expected: tuple[str | None, int]
) -> None:
    """MIG-CACHE-003, MIG-CACHE-004: ``value > ram_bytes_total()`` (line 782) compares
    int64 with uint64_t, so a negative value becomes 2**64 + value and is reported as
    exceeding the RAM (DEF-CACHE-NEGATIVE); the repair refuses anything below a page
    as below the page size before the RAM test."""
    assert D.cache_size_decision(value, ram, repaired) == expected


# -- migrate, capabilities, URIs ---------------------------------------------------
def _seed_precheck(state: S, inmigrate: bool, unmigratable: bool, blocker: bool,
                   cleanup_pending: bool, repaired: bool) -> str | None:
    """Lines 708-726 in order; the repair of DEF-MIGRATE-BEFORE-CLEANUP also
    treats a pending cleanup as a migration in progress."""
    if state in IN_PROGRESS or (repaired and cleanup_pending):
        return "migration_active"
    if inmigrate:
        return "guest_inmigrate"
    if unmigratable:
        return "state_blocked"
    if blocker:
        return "blocker"
    return None


@pytest.mark.parametrize("state", list(S))
def test_migrate_precheck_exhaustive(state: S) -> None:
    """MIG-MIGRATE-001..003, MIG-MIGRATE-005, MIG-BLOCKER-001: in progress (708-713),
    then 'inmigrate' (714-717), then qemu_savevm_state_blocked (719-721), then a
    blocker (723-726)."""
    for a, b, c, d, e in itertools.product(BOOLS, repeat=5):
        assert D.migrate_precheck(state, a, b, c, d, e) == _seed_precheck(
            state, a, b, c, d, e), (a, b, c, d, e)


@pytest.mark.parametrize("repaired", BOOLS)
@pytest.mark.parametrize("state", list(S))
def test_capabilities_refused(state: S, repaired: bool) -> None:
    """MIG-CAPS-002: refused in 'active' or 'setup' (lines 474-477); the seed accepts
    'cancelling', the repair of DEF-CAPS-WHILE-CANCELLING refuses it too."""
    expected = state in SETUP_OR_ACTIVE or (repaired and state == S.CANCELLING)
    assert D.capabilities_refused(state, repaired) is expected


POSIX = BuildConfig()
POSIX_RDMA = BuildConfig(config_rdma=True)
WIN32 = BuildConfig(win32=True)
WIN32_RDMA = BuildConfig(config_rdma=True, win32=True)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("tcp:127.0.0.1:4444", ("tcp:", "tcp:", "tcp:", "tcp:")),
        ("tcp:", ("tcp:", "tcp:", "tcp:", "tcp:")),
        ("rdma:host:1", (None, "rdma:", None, "rdma:")),
        ("exec:cat", ("exec:", "exec:", None, None)),
        ("unix:/tmp/s", ("unix:", "unix:", None, None)),
        ("fd:3", ("fd:", "fd:", None, None)),
        ("TCP:x", (None, None, None, None)),
        ("tcp", (None, None, None, None)),
        ("", (None, None, None, None)),
        ("defer", (None, None, None, None)),
        ("file:/x", (None, None, None, None)),
        (" tcp:x", (None, None, None, None)),
    ],
)
def test_outgoing_scheme(uri: str, expected: tuple[str | None, ...]) -> None:
    """MIG-MIGRATE-007, MIG-MIGRATE-008: strstart prefixes in the seed's order
    (lines 736-749): rdma: only with CONFIG_RDMA, exec:/unix:/fd: never on WIN32;
    any other URI is 'a valid migration protocol' refusal (750-755)."""
    builds = (POSIX, POSIX_RDMA, WIN32, WIN32_RDMA)
    assert tuple(D.outgoing_scheme(uri, b) for b in builds) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("defer", ("defer", "defer", "defer", "defer")),
        ("defer:", (None, None, None, None)),
        ("deferred", (None, None, None, None)),
        ("tcp:0:4444", ("tcp:", "tcp:", "tcp:", "tcp:")),
        ("rdma:0:1", (None, "rdma:", None, "rdma:")),
        ("exec:cat", ("exec:", "exec:", None, None)),
        ("unix:/s", ("unix:", "unix:", None, None)),
        ("fd:0", ("fd:", "fd:", None, None)),
        ("bogus", (None, None, None, None)),
    ],
)
def test_incoming_dispatch(uri: str, expected: tuple[str | None, ...]) -> None:
    """MIG-INCOMING-001, MIG-INCOMING-002, MIG-INCOMING-004: exactly "defer" (strcmp,
    line 241) defers, then the prefixes of lines 243-256; else "unknown migration
    protocol" (257-259)."""
    builds = (POSIX, POSIX_RDMA, WIN32, WIN32_RDMA)
    assert tuple(D.incoming_dispatch(uri, b) for b in builds) == expected


# -- cancel and the thread's compare-and-swaps --------------------------------------
@pytest.mark.parametrize(
    ("state", "fails", "expected"),
    [(S.SETUP, False, S.ACTIVE), (S.SETUP, True, S.ACTIVE),
     (S.ACTIVE, False, S.COMPLETED), (S.ACTIVE, True, S.FAILED)]
    + [(s, f, s) for s in S if s not in SETUP_OR_ACTIVE for f in BOOLS],
)
def test_thread_cas(state: S, fails: bool, expected: S) -> None:
    """MIG-THREAD-002, MIG-THREAD-006..008: the thread swaps SETUP -> ACTIVE (line 927),
    ACTIVE -> COMPLETED (963-965) or ACTIVE -> FAILED (957-959, 971-973); it swaps
    from no other state."""
    assert D.thread_cas(state, fails) == expected


def test_thread_moves_are_the_declared_thread_transitions() -> None:
    """MIG-THREAD-002, MIG-THREAD-006..008: the moves thread_cas makes are exactly
    the declared transitions whose actor is the migration thread (in the seed:
    a deviation's thread transition, qemu-7.2's completion_not_active, is
    another implementation's)."""
    declared = {(src, t.dest) for t in TRANSITIONS if t.actor == Actor.THREAD
                and t.deviation is None for src in t.sources}
    made = {(s, D.thread_cas(s, f)) for s in S for f in BOOLS} - {(s, s) for s in S}
    assert made == declared == {(S.SETUP, S.ACTIVE), (S.ACTIVE, S.COMPLETED),
                                (S.ACTIVE, S.FAILED)}


#: migrate_fd_cancel's loop (lines 581-588) against the thread: (state, thread
#: swaps before the loop's 1st CAS, before its 2nd CAS, thread fails) ->
#: (final state, CASes tried). Worked out by hand from the seed's do/while.
CANCEL_TABLE: list[tuple[S, bool, bool, bool, S, int]] = [
    # 'setup', no race: the first CAS setup -> cancelling succeeds.
    (S.SETUP, False, False, False, S.CANCELLING, 1),
    (S.SETUP, False, False, True, S.CANCELLING, 1),
    (S.SETUP, False, True, False, S.CANCELLING, 1),
    (S.SETUP, False, True, True, S.CANCELLING, 1),
    # the thread moved setup -> active first: that CAS fails, the loop rereads
    # 'active' and its second CAS succeeds.
    (S.SETUP, True, False, False, S.CANCELLING, 2),
    (S.SETUP, True, False, True, S.CANCELLING, 2),
    # the thread wins twice: setup -> active -> completed/failed, the third read
    # leaves the loop (lines 583-586).
    (S.SETUP, True, True, False, S.COMPLETED, 2),
    (S.SETUP, True, True, True, S.FAILED, 2),
    # 'active', no race.
    (S.ACTIVE, False, False, False, S.CANCELLING, 1),
    (S.ACTIVE, False, False, True, S.CANCELLING, 1),
    (S.ACTIVE, False, True, False, S.CANCELLING, 1),
    (S.ACTIVE, False, True, True, S.CANCELLING, 1),
    # the thread ends the migration first: one failed CAS, the reread breaks.
    (S.ACTIVE, True, False, False, S.COMPLETED, 1),
    (S.ACTIVE, True, False, True, S.FAILED, 1),
    (S.ACTIVE, True, True, False, S.COMPLETED, 1),
    (S.ACTIVE, True, True, True, S.FAILED, 1),
] + [
    # any other state: the first read breaks out, no CAS (lines 583-586).
    (s, a, b, c, s, 0)
    for s in S if s not in SETUP_OR_ACTIVE
    for a, b, c in itertools.product(BOOLS, repeat=3)
]


@pytest.mark.parametrize(("state", "first", "second", "fails", "final", "tries"),
                         CANCEL_TABLE)
def test_cancel_loop(state: S, first: bool, second: bool, fails: bool,
                     final: S, tries: int) -> None:
    """MIG-CANCEL-001: the do/while of lines 581-588 rereads the state, stops on a
    state other than setup/active, and retries the CAS until the state is
    'cancelling'; the thread may swap between a read and the CAS."""
    result = D.cancel_loop(state, first, second, fails)
    assert result == (final, tries)
    assert isinstance(result[1], int)


def test_cancel_table_is_exhaustive() -> None:
    """MIG-CANCEL-001: the table above covers every state and race."""
    keys = {row[:4] for row in CANCEL_TABLE}
    assert keys == set(itertools.product(S, BOOLS, BOOLS, BOOLS))


@pytest.mark.parametrize("state", list(S))
def test_cancel_outcome_every_state(state: S) -> None:
    """MIG-CANCEL-001: without a race the loop leaves 'cancelling' after setup/active
    and any other state unchanged (lines 581-588)."""
    assert D.cancel_outcome(state) == (S.CANCELLING if state in SETUP_OR_ACTIVE else state)


@pytest.mark.parametrize(
    ("state", "expected"),
    [(S.NONE, (False, True, False)), (S.SETUP, (False, True, False)),
     (S.CANCELLING, (False, True, True)), (S.CANCELLED, (False, True, False)),
     (S.ACTIVE, (True, False, False)), (S.COMPLETED, (False, False, False)),
     (S.FAILED, (False, True, False))],
)
def test_cleanup_decision_literals(state: S, expected: tuple[bool, bool, bool]) -> None:
    """MIG-CLEANUP-003, MIG-CLEANUP-004: assert(state != ACTIVE) (line 554); not
    COMPLETED runs qemu_savevm_state_cancel (556-557); CANCELLING -> CANCELLED
    (558-561)."""
    assert D.cleanup_decision(state) == expected


# -- global state and the incoming run state ----------------------------------------
@pytest.mark.parametrize("optional", BOOLS)
def test_global_state_needed(optional: bool) -> None:
    """MIG-GLOBAL-002: not optional -> needed (lines 147-149); optional -> needed
    unless the stored name is "running" or "paused" (153-159)."""
    for runstate in R:
        expected = not optional or runstate.value not in ("running", "paused")
        assert D.global_state_needed(optional, runstate.value) is expected, runstate


@pytest.mark.parametrize(
    ("runstate", "expected"),
    [("running", False), ("paused", False), ("prelaunch", True), ("", True),
     ("Running", True), ("runnin", True), ("paused ", True)],
)
def test_global_state_needed_strcmp(runstate: str, expected: bool) -> None:
    """MIG-GLOBAL-002: strcmp is exact (lines 153-154) for an optional section."""
    assert D.global_state_needed(True, runstate) is expected
    assert D.global_state_needed(False, runstate) is True


def _seed_destination(received: bool, runstate: RunState, autostart: bool) -> RunState | None:
    """Lines 297-306 transcribed: None for vm_start(), else the runstate_set argument."""
    if not received or runstate == R.RUNNING:
        return None if autostart else R.PAUSED
    return runstate


@pytest.mark.parametrize("runstate", list(R))
def test_incoming_runstate(runstate: RunState) -> None:
    """MIG-INCOMING-008: not received, or received 'running': vm_start with autostart,
    else runstate_set(PAUSED) (lines 297-303); any other received state is set
    as is (304-305)."""
    for received, autostart in itertools.product(BOOLS, BOOLS):
        expected = _seed_destination(received, runstate, autostart)
        assert D.incoming_runstate(received, runstate, autostart) == expected, (
            received, autostart)


@pytest.mark.parametrize("repaired", BOOLS)
@pytest.mark.parametrize("old", list(R))
def test_runstate_transition_allowed(old: RunState, repaired: bool) -> None:
    """MIG-INCOMING-008, MIG-THREAD-009: runstate_set allows exactly the pairs of
    runstate_transitions_def[] (declared in spec/runstates.py); the repair of
    DEF-INCOMING-PRELAUNCH-ABORT adds inmigrate -> prelaunch/postmigrate."""
    for new in R:
        expected = (old, new) in RUNSTATE_TRANSITIONS or (
            repaired and (old, new) in INCOMING_RUNSTATE_REPAIR)
        assert D.runstate_transition_allowed(old, new, repaired) is expected, new


@pytest.mark.parametrize(
    ("old", "new", "repaired", "expected"),
    [(R.INMIGRATE, R.RUNNING, False, True), (R.INMIGRATE, R.PAUSED, False, True),
     (R.INMIGRATE, R.PRELAUNCH, False, False), (R.INMIGRATE, R.PRELAUNCH, True, True),
     (R.INMIGRATE, R.POSTMIGRATE, False, False), (R.INMIGRATE, R.POSTMIGRATE, True, True),
     (R.INMIGRATE, R.DEBUG, True, False), (R.INMIGRATE, R.INMIGRATE, True, False),
     (R.FINISH_MIGRATE, R.POSTMIGRATE, False, True),
     (R.FINISH_MIGRATE, R.POSTMIGRATE, True, True),
     (R.PRELAUNCH, R.POSTMIGRATE, True, False), (R.RUNNING, R.RUNNING, False, False),
     (R.RUNNING, R.PRELAUNCH, True, False)],
)
def test_runstate_transition_literals(old: RunState, new: RunState, repaired: bool,
                                      expected: bool) -> None:
    """MIG-INCOMING-008, MIG-THREAD-009: spot checks of vl.c's table and of the repair
    (which adds only the two pairs from 'inmigrate')."""
    assert D.runstate_transition_allowed(old, new, repaired) is expected


#: Run states 'inmigrate' may not move to in runstate_transitions_def[], i.e. a
#: received global state the destination aborts on (DEF-INCOMING-PRELAUNCH-ABORT),
#: unrepaired and repaired.
ABORTS_SEED = {R.DEBUG, R.INMIGRATE, R.POSTMIGRATE, R.PRELAUNCH, R.RESTORE_VM, R.SAVE_VM}
ABORTS_REPAIRED = {R.DEBUG, R.INMIGRATE, R.RESTORE_VM, R.SAVE_VM}


def test_abort_sets_match_declared_table() -> None:
    """MIG-INCOMING-008: the literal sets above are the complement of the 'inmigrate'
    rows of the declared runstate table (plus the repair's two rows)."""
    allowed = {new for old, new in RUNSTATE_TRANSITIONS if old == R.INMIGRATE}
    repair = {new for old, new in INCOMING_RUNSTATE_REPAIR if old == R.INMIGRATE}
    assert set(R) - allowed == ABORTS_SEED
    assert set(R) - allowed - repair == ABORTS_REPAIRED


@pytest.mark.parametrize("source", list(R))
def test_incoming_arrival_exhaustive(source: RunState) -> None:
    """MIG-GLOBAL-001, MIG-GLOBAL-002, MIG-INCOMING-008: the source stores its run
    state (lines 944-946), sends the section unless optional and running/paused
    (140-160); the destination, in 'inmigrate', obeys autostart when nothing was
    received or 'running' was (297-303), else runstate_set(received) (304-305),
    which aborts for a pair outside runstate_transitions_def[]."""
    for optional, autostart, repaired in itertools.product(BOOLS, repeat=3):
        sent = not optional or source not in (R.RUNNING, R.PAUSED)
        target = _seed_destination(sent, source, autostart)
        aborts = target is not None and target in (ABORTS_REPAIRED if repaired else ABORTS_SEED)
        result = D.incoming_arrival(optional, source, autostart, repaired)
        assert result == (sent, target, aborts), (optional, autostart, repaired)
        assert isinstance(result[0], bool)
        assert isinstance(result[2], bool)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # mandatory section, 'running': received running -> autostart decides.
        ((False, R.RUNNING, True, False), (True, None, False)),
        ((False, R.RUNNING, False, False), (True, R.PAUSED, False)),
        # mandatory section, 'paused': set as received, even with autostart.
        ((False, R.PAUSED, True, False), (True, R.PAUSED, False)),
        # optional section, 'paused': not sent, so autostart starts the guest.
        ((True, R.PAUSED, True, False), (False, None, False)),
        ((True, R.PAUSED, False, True), (False, R.PAUSED, False)),
        # a guest that never ran: the seed aborts, the repair sets 'prelaunch'.
        ((True, R.PRELAUNCH, True, False), (True, R.PRELAUNCH, True)),
        ((True, R.PRELAUNCH, True, True), (True, R.PRELAUNCH, False)),
        ((False, R.POSTMIGRATE, False, False), (True, R.POSTMIGRATE, True)),
        ((False, R.POSTMIGRATE, False, True), (True, R.POSTMIGRATE, False)),
        # 'debug' aborts either way; 'shutdown' and 'io-error' are allowed.
        ((True, R.DEBUG, True, True), (True, R.DEBUG, True)),
        ((True, R.SHUTDOWN, True, False), (True, R.SHUTDOWN, False)),
        ((False, R.IO_ERROR, False, False), (True, R.IO_ERROR, False)),
    ],
)
def test_incoming_arrival_literals(args: tuple[bool, RunState, bool, bool],
                                   expected: tuple[bool, RunState | None, bool]) -> None:
    """MIG-GLOBAL-002, MIG-INCOMING-008: hand-worked hand-overs (lines 140-160,
    297-306), including the DEF-INCOMING-PRELAUNCH-ABORT witnesses."""
    assert D.incoming_arrival(*args) == expected


@pytest.mark.parametrize(
    ("runstate", "terminate", "expected"),
    [
        ("running", False, (R.RUNNING, False)),
        ("guest-panicked", True, (R.GUEST_PANICKED, False)),
        ("", False, (None, False)),
        ("flying", False, (None, False)),
        ("Running", False, (None, False)),
        ("x" * 99, False, (None, False)),
        # no NUL in the 100 bytes: the seed reads past them, the repair does not
        ("x" * 100, False, (None, True)),
        ("x" * 100, True, (None, False)),
    ],
)
def test_global_state_post_load_literals(runstate: str, terminate: bool,
                                         expected: tuple[RunState | None, bool]) -> None:
    """MIG-GLOBAL-003, MIG-DEST-002, DEF-GLOBAL-STATE-UNTERMINATED: qapi_enum_parse of
    the buffer (lines 172-181); an unterminated buffer is read past unless the
    repair writes a NUL into its last byte."""
    assert D.global_state_post_load(runstate, terminate) == expected


@pytest.mark.parametrize(
    ("target", "prelaunch", "debug", "expected"),
    [
        (R.PAUSED, False, False, R.PAUSED),
        (R.SHUTDOWN, False, True, R.SHUTDOWN),
        (R.DEBUG, False, False, None),
        (R.DEBUG, False, True, R.PAUSED),
        (R.SAVE_VM, True, True, R.PAUSED),
        (R.INMIGRATE, True, False, None),
        (R.PRELAUNCH, False, True, None),
        (R.PRELAUNCH, True, False, R.PRELAUNCH),
        (R.POSTMIGRATE, True, True, R.POSTMIGRATE),
    ],
)
def test_arrival_runstate_literals(target: RunState, prelaunch: bool, debug: bool,
                                   expected: RunState | None) -> None:
    """MIG-INCOMING-008, DEF-INCOMING-DEBUG-ABORT, DEF-INCOMING-PRELAUNCH-ABORT: the
    seed aborts on debug, inmigrate, restore-vm, save-vm, prelaunch, postmigrate
    (vl.c's table); each repair covers its own states."""
    assert D.arrival_runstate(target, prelaunch, debug) == expected
