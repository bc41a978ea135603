"""Graph algorithms of the explorer's liveness checks, over graphs given as
successor lists indexed by node."""

from __future__ import annotations


def strongly_connected(edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components (iterative), each sorted."""
    index: list[int] = [-1] * len(edges)
    low: list[int] = [0] * len(edges)
    on_stack = [False] * len(edges)
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(len(edges)):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            recurse = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if index[nxt] == -1:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
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
                    on_stack[top] = False
                    component.append(top)
                    if top == node:
                        break
                out.append(sorted(component))
    return out


def fair_cycles(
    edges: list[list[int]],
    edge_actor: list[list[str]],
    enabled: list[frozenset[str]],
    good: list[bool],
) -> list[list[int]]:
    """Cycles that avoid every good state although weakly fair (MIG-LIVE-002):
    every engine actor enabled throughout the cycle also acts inside it."""
    found: list[list[int]] = []
    for component in strongly_connected(edges):
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
    edges: list[list[int]],
    labels: list[list[tuple[str, ...]]],
    accepting: list[bool],
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
    components = strongly_connected(edges)
    where = [0] * len(edges)
    for c, members in enumerate(components):
        for node in members:
            where[node] = c
    shared: dict[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]] = {}
    lang: list[frozenset[tuple[str, ...]]] = []
    for c, members in enumerate(components):
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
