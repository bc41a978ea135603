"""MIG-QUERY-004, DEF-COMPLETED-TIMES-EARLY: a completed migration's times,
checked over random schedules without knowing where the window is.

The property, from MIG-QUERY-004 alone: once query-migrate reports
'completed', the total-time and downtime it reports are final (every later
query of the same migration repeats them) and they are durations: 0 <=
downtime <= total-time <= the time since ``migrate``. A schedule is drawn
move by move from every enabled move of the world (``scheduler.moves``),
with a query-migrate after each one. ``fixed`` must hold it on every
schedule; on ``seed`` Hypothesis must find a schedule that breaks it (the
query between the thread's CAS to 'completed', lines 963-965, and its last
region, 1003-1008).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from migspec.reference import scheduler as sched
from migspec.reference.engine import Engine

Times = tuple[int, int]


def completed_times(profile: str, start_ms: int, pages: int, picks: list[int]) -> list[Any]:
    """Run a migration started at ``start_ms``, moving by ``picks`` (indexes
    into the enabled moves), querying after each move; a list of problems."""
    eng = Engine(profile)
    eng.set_env({"ram_bytes": pages * 4096, "bandwidth": 10_000_000})
    eng.advance(start_ms)
    begun = eng.world.ms
    assert eng.execute({"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}}) \
        == {"return": {}}
    seen: Times | None = None
    problems: list[Any] = []
    for pick in picks + [0] * 200:
        moves = list(sched.moves(eng.world))
        if not moves:
            if not eng.world.vms["source"].threads or sched.next_time(eng.world) is None:
                break
            eng.world.clock_us = sched.next_time(eng.world) or eng.world.clock_us
            continue
        sched.step(eng.world, moves[pick % len(moves)])
        reply = eng.execute({"execute": "query-migrate"})
        assert reply is not None
        info = reply["return"]
        if info.get("status") != "completed":
            continue
        times = (info["total-time"], info["downtime"])
        if seen is not None and times != seen:
            problems.append(("changed", seen, times))
        if not 0 <= times[1] <= times[0] <= eng.world.ms - begun:
            problems.append(("not durations", times, eng.world.ms - begun))
        seen = times
    assert seen is not None, "the migration never completed"
    return problems


schedules = st.lists(st.integers(0, 7), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start_ms=st.integers(0, 10_000), pages=st.integers(1, 64), picks=schedules)
def test_fixed_reports_final_times_once_completed(start_ms: int, pages: int,
                                                  picks: list[int]) -> None:
    """DEF-COMPLETED-TIMES-EARLY repaired: on every schedule, 'completed' comes
    with its final total-time and downtime."""
    assert completed_times("fixed", start_ms, pages, picks) == []


def test_the_property_finds_the_seed_defect() -> None:
    """The same property, unaided, finds DEF-COMPLETED-TIMES-EARLY on the seed:
    Hypothesis searches schedules until one breaks it, and the broken report
    is the start timestamp (the migration started at ``start_ms`` > 0)."""
    args = st.tuples(st.integers(1, 10_000), st.integers(1, 64), schedules)
    found = find(args, lambda a: bool(completed_times("seed", *a)),
                 settings=settings(database=None, derandomize=True, max_examples=500))
    start_ms, pages, picks = found
    problem = completed_times("seed", start_ms, pages, picks)[0]
    assert problem[0] == "not durations"
    assert problem[1] == (start_ms, 0)
