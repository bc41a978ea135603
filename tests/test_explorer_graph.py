"""The explorer's graph algorithms on small hand-made graphs."""

from __future__ import annotations

from migspec.properties.graphs import fair_cycles, strongly_connected


def test_strongly_connected_components() -> None:
    """0 -> 1 -> 2 -> 1, 2 -> 3: components {0}, {1, 2}, {3}."""
    comps = strongly_connected([[1], [2], [1, 3], []])
    assert sorted(comps) == [[0], [1, 2], [3]]


def test_fair_cycle_is_reported_unfair_one_is_not() -> None:
    """MIG-LIVE-002: a cycle 1 <-> 2 by the thread alone is fair when the main
    loop is not enabled throughout it, unfair when the main loop is (it
    would eventually run and leave the cycle towards the good state 3)."""
    edges = [[1], [2, 3], [1], []]
    actors = [["client"], ["src.thread", "src.main"], ["src.thread"], []]
    good = [False, False, False, True]
    only_thread = [frozenset({"src.thread"})] * 3 + [frozenset()]
    assert fair_cycles(edges, actors, only_thread, good) == [[1, 2]]
    main_always = [frozenset({"src.thread", "src.main"})] * 3 + [frozenset()]
    assert fair_cycles(edges, actors, main_always, good) == []


def test_cycle_through_a_good_state_is_fine() -> None:
    """A cycle containing a good state does not avoid termination."""
    edges = [[1], [0]]
    actors = [["a.thread"], ["a.thread"]]
    enabled = [frozenset({"a.thread"})] * 2
    assert fair_cycles(edges, actors, enabled, [True, False]) == []


def test_words_of_a_graph() -> None:
    """Every word spelled on a path from node 0 to an accepting node; a cycle
    that spells nothing is fine, one that spells something is infinite."""
    from migspec.properties.graphs import words

    # 0 -a-> 1 -b-> 2 (accepting); 0 -> 3 (accepting); 3 <-> 4 silently; 4 -c-> 2
    edges = [[1, 3], [2], [], [4], [3, 2]]
    labels: list[list[tuple[str, ...]]] = [[("a",), ()], [("b",)], [], [()], [(), ("c",)]]
    accepting = [False, False, True, True, False]
    assert words(edges, labels, accepting) == frozenset({("a", "b"), (), ("c",)})
    # the same with the silent cycle spelling something: infinitely many words
    labels[3] = [("x",)]
    assert words(edges, labels, accepting) is None
    # nothing accepting: no word
    assert words(edges, [[(), ()], [()], [], [()], [(), ()]], [False] * 5) == frozenset()
