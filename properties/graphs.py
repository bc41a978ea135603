"""Graph algorithms of the explorer's liveness checks, over graphs given as
successor lists indexed by node."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence


def strongly_connected(edges: Sequence[Sequence[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components (iterative), each sorted, each
    listed after every component it reaches."""
    return list(components(edges))


def components(edges: Sequence[Sequence[int]]) -> Iterator[list[int]]:
    """:func:`strongly_connected`, one component at a time. ``edges[node]``
    is read once per node (it may be computed on access)."""
    n = len(edges)
    index = array("q", bytes(8 * n)) if n else array("q")
    for i in range(n):
        index[i] = -1
    low = array("q", bytes(8 * n))
    on_stack = bytearray(n)
    stack: list[int] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work: list[tuple[int, int, Sequence[int]]] = [(root, 0, ())]
        while work:
            node, i, succ = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = 1
                succ = edges[node]
            recurse = False
            for j in range(i, len(succ)):
                nxt = succ[j]
                if index[nxt] == -1:
                    work.append((node, j + 1, succ))
                    work.append((nxt, 0, ()))
                    recurse = True
                    break
                if on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if work:
                parent_node = work[-1][0]
                low[parent_node] = min(low[parent_node], low[node])
            if low[node] == index[node]:
                component: list[int] = []
                while True:
                    top = stack.pop()
                    on_stack[top] = 0
                    component.append(top)
                    if top == node:
                        break
                yield sorted(component)


def fair_cycles(
    edges: Sequence[Sequence[int]],
    edge_actor: Sequence[Sequence[str]],
    enabled: Sequence[frozenset[str]],
    good: Sequence[bool],
) -> list[list[int]]:
    """Cycles that avoid every good state although weakly fair (MIG-LIVE-002):
    every engine actor enabled throughout the cycle also acts inside it."""
    found: list[list[int]] = []
    for component in components(edges):
        if len(component) == 1 and component[0] not in edges[component[0]]:
            continue  # no cycle through it
        members = set(component)
        inner = [
            (sid, actor)
            for sid in component
            for cid, actor in zip(edges[sid], edge_actor[sid], strict=True)
            if cid in members
        ]
        if not inner or any(good[sid] for sid in component):
            continue
        always = frozenset.intersection(*(enabled[sid] for sid in component))
        acting = {actor for _, actor in inner}
        if always <= acting:
            found.append(component)
    return found


def words(
    edges: Sequence[Sequence[int]],
    labels: Sequence[Sequence[tuple[str, ...]]],
    accepting: Sequence[bool],
    start: int = 0,
) -> frozenset[tuple[str, ...]] | None:
    """Every word spelled along a path from ``start`` to an accepting node,
    an edge spelling its label (a tuple of letters, often empty); None when
    there are infinitely many (a cycle spells something).

    The words from a node depend only on its strongly connected component
    (its members reach one another spelling nothing, or the set is
    infinite), and Tarjan's algorithm lists a component after every
    component it reaches, so one pass in that order settles them all. Equal
    sets are shared."""
    where = array("q", bytes(8 * len(edges)))
    shared: dict[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]] = {}
    lang: list[frozenset[tuple[str, ...]]] = []
    for c, members in enumerate(components(edges)):
        for node in members:
            where[node] = c
        out: set[tuple[str, ...]] = set()
        for node in members:
            if accepting[node]:
                out.add(())
            for nxt, label in zip(edges[node], labels[node], strict=True):
                d = where[nxt]
                if d == c:
                    if label:
                        return None
                    continue
                if label:
                    out.update(label + w for w in lang[d])
                else:
                    out.update(lang[d])
        frozen = frozenset(out)
        lang.append(shared.setdefault(frozen, frozen))
    return lang[where[start]]
