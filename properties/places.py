"""The explorer's graph of places, held flat.

A place is a world together with the budget its client and environment have
left; what can happen next depends on the place alone. The graph has a few
edges per place and millions of places at the full surface, so it is kept in
machine arrays rather than Python lists: each place's successors are a run
of one flat array, beside the tuple of moves (shared objects) that lead
there and the node (what the world allows, shared by equal nodes).

The views (:meth:`PlaceGraph.edges`, :meth:`PlaceGraph.actors`, ...) give
the sequences :mod:`migspec.properties.graphs` walks, computed on access.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
M = TypeVar("M")
N = TypeVar("N")


class View(Sequence[T]):
    """A read-only sequence computed per index."""

    def __init__(self, n: int, get: Callable[[int], T]) -> None:
        self._n = n
        self._get = get

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> T:  # type: ignore[override]
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._get(i)

    def __iter__(self) -> Iterator[T]:
        return (self._get(i) for i in range(self._n))


class PlaceGraph(Generic[M, N]):
    """Places numbered from 0 in the order found; a place is *expanded* once
    its successors are listed (places the search never reached stay
    unexpanded)."""

    def __init__(self) -> None:
        #: Successor place ids, a run per expanded place.
        self.flat = array("q")
        #: Where each place's run starts in :attr:`flat` (-1: unexpanded).
        self.start = array("q")
        #: The moves to each successor, and the place's node.
        self.moves: list[tuple[M, ...] | None] = []
        self.nodes: list[N | None] = []

    def __len__(self) -> int:
        return len(self.start)

    def add(self) -> int:
        """A new, unexpanded place; its id."""
        self.start.append(-1)
        self.moves.append(None)
        self.nodes.append(None)
        return len(self.start) - 1

    def expand(self, pid: int, targets: Sequence[int], moves: tuple[M, ...], node: N) -> None:
        """List the successors of place ``pid``."""
        self.start[pid] = len(self.flat)
        self.flat.extend(targets)
        self.moves[pid] = moves
        self.nodes[pid] = node

    def successors(self, pid: int) -> Sequence[int]:
        """The places ``pid`` leads to (none if unexpanded)."""
        s = self.start[pid]
        moves = self.moves[pid]
        if s < 0 or moves is None:
            return ()
        return self.flat[s:s + len(moves)]

    def edges(self) -> View[Sequence[int]]:
        """Successor lists, one per place."""
        return View(len(self), self.successors)

    def per_edge(self, f: Callable[[M], T]) -> View[list[T]]:
        """``f`` of each move, in the order of :meth:`successors`."""
        def get(pid: int) -> list[T]:
            moves = self.moves[pid]
            return [] if moves is None else [f(m) for m in moves]
        return View(len(self), get)

    def per_node(self, f: Callable[[N], T], unexpanded: T) -> View[T]:
        """``f`` of each place's node (``unexpanded`` for places not expanded)."""
        def get(pid: int) -> T:
            node = self.nodes[pid]
            return unexpanded if node is None else f(node)
        return View(len(self), get)

    def predecessors(self) -> tuple[array[int], array[int]]:
        """The reverse graph as (offsets, sources): the places leading to
        ``p`` are ``sources[offsets[p]:offsets[p + 1]]``."""
        n = len(self)
        count = array("q", bytes(8 * (n + 1)))
        for pid in range(n):
            for c in self.successors(pid):
                count[c + 1] += 1
        for i in range(n):
            count[i + 1] += count[i]
        fill = array("q", count)
        sources = array("q", bytes(8 * count[n]))
        for pid in range(n):
            for c in self.successors(pid):
                sources[fill[c]] = pid
                fill[c] += 1
        return count, sources
