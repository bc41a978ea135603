"""The explorer's search runs each world's moves once and keeps, per state,
only the state of an observer automaton (the last MIGRATION status each
client saw), never the history: a product of the graph of places with the
observer. These tests check it against a plain breadth-first search that
clones and keys the whole world for every edge, keeps the whole log of the
first path to each state, and keys states by the last statuses it computes
from that log by itself."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from migspec.properties.explorer import Explorer, LogKey, compact
from migspec.properties.scenarios import SCENARIO_BY_NAME, full_surface
from migspec.reference.profiles import RecordingProfile
from migspec.reference.snapshot import clone, key
from migspec.reference.world import World
from migspec.spec.defects import DEFECTS


def last_seen(log: LogKey) -> tuple[tuple[str, str], ...]:
    """The last MIGRATION status each VM sent in ``log``, sorted by VM."""
    last: dict[str, str] = {}
    for entry in log:
        if entry[1:3] == ("E", "MIGRATION"):
            last[entry[0]] = entry[3]
    return tuple(sorted(last.items()))


def plain_search(ex: Explorer) -> dict[str, Any]:
    """Every state (world key, budget used, what the observer keeps), the
    edge count, and the first state (in breadth-first order) at which each
    property fails along the log of the first path to it."""
    root_used = tuple(0 for _ in ex.budget)
    start = (key(ex.root), root_used, last_seen(ex.root_log))
    index: dict[Any, int] = {start: 0}
    queue: deque[tuple[int, World, tuple[int, ...], LogKey]] = deque(
        [(0, ex.root, root_used, ex.root_log)])
    edges = 0
    first: dict[str, int] = {}
    succ: list[list[int]] = [[]]
    good: list[bool] = [False]
    while queue:
        sid, world, used, log = queue.popleft()
        labels, quiescent = ex.labels(world, used)
        good[sid] = quiescent and ex.good(world)
        for prop, _ in ex.state_violations(world, log, quiescent):
            first.setdefault(prop, sid)
        for label in labels:
            child = clone(world)
            child_used = ex.apply(child, used, label)
            new = tuple(compact(n, o) for n, o in child.log[len(world.log):])
            for prop, _ in ex.edge_violations(world, child, label, log, new):
                first.setdefault(prop, sid)
            k = (key(child), child_used, last_seen(log + new))
            edges += 1
            cid = index.get(k)
            if cid is None:
                cid = index[k] = len(index)
                succ.append([])
                good.append(False)
                queue.append((cid, child, child_used, log + new))
            succ[sid].append(cid)
    # MIG-LIVE-001 on states: the first state that cannot reach a good one.
    ok = list(good)
    changed = True
    while changed:
        changed = False
        for sid, targets in enumerate(succ):
            if not ok[sid] and any(ok[t] for t in targets):
                ok[sid] = changed = True
    stuck = [sid for sid in range(len(ok)) if not ok[sid]]
    if stuck:
        first["MIG-LIVE-001"] = stuck[0]
    return {"states": len(index), "edges": edges, "first": first}


@pytest.mark.parametrize(("scenario", "profile"), [
    ("migrate-cancel", "seed"), ("migrate-cancel", "fixed"),
    ("cancel-connect", "seed"), ("never-started-guest", "seed"),
    ("stopped-guest-retry", "seed"), ("incoming-defer", "seed"),
    ("completion-race", "seed"),
    # Two different splits of one log (A+xy, Ax+y) must make one state here.
    ("migrate-twice", "seed"),
    # The bounded scenario at k=1: 18,260 states, both VMs, every action.
    ("full-surface", "fixed"),
])
def test_search_matches_a_plain_search(scenario: str, profile: str) -> None:
    """Same states, same edges, and each property first fails at a state of
    the same depth (so every reported trace is still a shortest one)."""
    ex = Explorer(full_surface(1) if scenario == "full-surface" else
                  SCENARIO_BY_NAME[scenario], profile)
    plain = plain_search(ex)
    result = ex.run()
    assert result.complete
    assert (result.states, result.edges) == (plain["states"], plain["edges"])
    assert result.worlds <= result.places <= result.states
    # The shortest trace per property (MIG-SAFETY-001 is reported per crash).
    reported: dict[str, int] = {}
    for v in result.violations:
        if v.kind != "witness":
            reported[v.property] = min(len(v.trace), reported.get(v.property, len(v.trace)))
    # MIG-LIVE-002 (fair cycles) has no plain counterpart here.
    assert set(reported) - {"MIG-LIVE-002"} == set(plain["first"])
    depth = _depths(ex)
    for prop, sid in plain["first"].items():
        # The explorer's trace ends with the failing step for edge properties.
        assert reported[prop] in (depth[sid], depth[sid] + 1), prop


def _depths(ex: Explorer) -> list[int]:
    """Breadth-first depth of each state, numbered as plain_search numbers them."""
    root_used = tuple(0 for _ in ex.budget)
    index = {(key(ex.root), root_used, last_seen(ex.root_log)): 0}
    depth = [0]
    queue: deque[tuple[World, tuple[int, ...], LogKey, int]] = deque(
        [(ex.root, root_used, ex.root_log, 0)])
    while queue:
        world, used, log, d = queue.popleft()
        for label in ex.labels(world, used)[0]:
            child = clone(world)
            child_used = ex.apply(child, used, label)
            new = tuple(compact(n, o) for n, o in child.log[len(world.log):])
            k = (key(child), child_used, last_seen(log + new))
            if k not in index:
                index[k] = len(depth)
                depth.append(d + 1)
                queue.append((child, child_used, log + new, d + 1))
    return depth


def test_fewer_worlds_than_states() -> None:
    """The point of the product: moves run once per world, however many
    places and observer states share it (measured on migrate-twice: 2,321
    worlds, 3,213 places)."""
    result = Explorer(SCENARIO_BY_NAME["migrate-twice"], "seed").run()
    assert result.worlds < result.places <= result.states


@pytest.mark.parametrize("scenario", ["migrate-cancel", "migrate-twice",
                                      "settings-during-migration", "never-started-guest"])
def test_attribution_skips_only_defects_that_cannot_matter(scenario: str) -> None:
    """Attribution replays a trace only with the repairs whose sites the trace
    consults; trying every repair gives the same defects."""
    ex = Explorer(SCENARIO_BY_NAME[scenario], "seed")
    result = ex.run()
    checked = 0
    for v in result.violations:
        if v.kind == "witness":
            continue
        brute = [d.id for d in DEFECTS
                 if not ex._variant(d.id, ex.prof.repaired | {d.id}).violates_along(
                     v.property, v.path)]
        assert v.defects == brute, v.property
        assert v.defects, v.property
        checked += 1
    assert checked


def test_recording_profile_records_the_sites_consulted() -> None:
    """A run consults DEF-CAPS-WHILE-CANCELLING's site exactly when it sets
    capabilities (handlers.py, seed lines 474-477)."""
    prof = RecordingProfile("seed", frozenset(), "recording")
    assert not prof.repairs("DEF-EVENT-ORDER")
    assert prof.consulted == {"DEF-EVENT-ORDER"}
    from migspec.reference.engine import Engine
    engine = Engine(RecordingProfile("seed", frozenset(), "recording"))
    engine.execute({"execute": "query-migrate"})
    consulted = engine.world.profile.consulted  # type: ignore[attr-defined]
    assert "DEF-CAPS-WHILE-CANCELLING" not in consulted
    engine.execute({"execute": "migrate-set-capabilities", "arguments": {
        "capabilities": [{"capability": "events", "state": True}]}})
    assert "DEF-CAPS-WHILE-CANCELLING" in consulted


def history_sequences(ex: Explorer) -> dict[str, set[tuple[str, ...]]]:
    """The MIGRATION statuses each VM sent, over every quiescent state of a
    plain search that keeps whole histories in its states."""
    root_used = tuple(0 for _ in ex.budget)
    seen = {(key(ex.root), root_used, ex.root_log)}
    queue: deque[tuple[World, tuple[int, ...], LogKey]] = deque(
        [(ex.root, root_used, ex.root_log)])
    out: dict[str, set[tuple[str, ...]]] = {name: set() for name in ex.root.vms}
    while queue:
        world, used, log = queue.popleft()
        labels, quiescent = ex.labels(world, used)
        if quiescent:
            for name in out:
                out[name].add(tuple(e[3] for e in log
                                    if e[0] == name and e[1:3] == ("E", "MIGRATION")))
        for label in labels:
            child = clone(world)
            child_used = ex.apply(child, used, label)
            new = tuple(compact(n, o) for n, o in child.log[len(world.log):])
            k = (key(child), child_used, log + new)
            if k not in seen:
                seen.add(k)
                queue.append((child, child_used, log + new))
    return out


@pytest.mark.parametrize(("scenario", "profile"), [
    ("migrate-cancel", "seed"), ("migrate-cancel", "fixed"), ("cancel-connect", "seed"),
    ("completion-race", "seed"), ("migrate-twice", "seed"), ("incoming-defer", "seed"),
])
def test_sequences_from_the_graph_are_those_of_the_histories(scenario: str,
                                                              profile: str) -> None:
    """``--sequences`` is derived from the graph of places; it lists exactly
    the sequences the histories of a plain search end with."""
    ex = Explorer(SCENARIO_BY_NAME[scenario], profile)
    result = ex.run(sequences=True)
    expected = history_sequences(ex)
    assert {name: {tuple(s) for s in seqs} for name, seqs in result.sequences.items()} \
        == expected
    assert sum(len(v) for v in expected.values()) >= 2
