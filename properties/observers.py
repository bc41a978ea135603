"""Observer automata: what the explorer keeps of what clients saw.

The properties about client observations need only a small summary of the
past, not the history itself (``design.md``, "Observers instead of
histories"):

- MIG-SAFETY-003 (each MIGRATION event follows the one its VM sent before by a
  declared transition) needs the last MIGRATION status each VM's client saw;
- MIG-SAFETY-008 (a migration that ended, with events on, sent its terminal
  event) needs the same.

So one observer serves both: its state is the tuple of last statuses, one per
VM (``None`` before the first). States are interned as small ints, and each
(state, what a move showed) pair is decided once: the explorer's hot loop
only looks up a dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migspec.spec.states import MigrationStatus

#: A compact log entry (see ``explorer.compact``) and a sequence of them.
LogKey = tuple[tuple[Any, ...], ...]
Finding = tuple[str, str]

#: Observer states are packed into the low bits of a state key.
OBSERVER_BITS = 12
OBSERVER_MASK = (1 << OBSERVER_BITS) - 1


def _migration_events(new: LogKey) -> list[tuple[str, str]]:
    return [(str(e[0]), str(e[3])) for e in new if e[1] == "E" and e[2] == "MIGRATION"]


class LastStatus:
    """The last MIGRATION status each VM's client saw, as an automaton over
    the compact log; the two properties above are decided on it."""

    def __init__(self, names: Sequence[str], successors: dict[str, frozenset[str]],
                 root_log: LogKey) -> None:
        self.names = tuple(names)
        self._slot = {name: i for i, name in enumerate(self.names)}
        self.successors = successors
        self.states: list[tuple[str | None, ...]] = []
        self._ids: dict[tuple[str | None, ...], int] = {}
        start: tuple[str | None, ...] = tuple(None for _ in self.names)
        #: The state after the scenario's set-up (findings there are not the
        #: explorer's: the set-up is fixed).
        self.root = self._intern(self._after(start, root_log)[0])
        self._step: dict[int, tuple[int, tuple[Finding, ...]]] = {}
        self._final: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[Finding, ...]] = {}

    def _intern(self, state: tuple[str | None, ...]) -> int:
        sid = self._ids.get(state)
        if sid is None:
            sid = self._ids[state] = len(self.states)
            if sid > OBSERVER_MASK:
                raise OverflowError("more observer states than a state key holds")
            self.states.append(state)
        return sid

    def _after(self, state: tuple[str | None, ...],
               new: LogKey) -> tuple[tuple[str | None, ...], list[Finding]]:
        """MIG-SAFETY-003 along ``new`` from ``state``; the state after it."""
        last = list(state)
        bad: list[Finding] = []
        for name, status in _migration_events(new):
            slot = self._slot[name]
            prev = last[slot]
            if (prev is None and status != MigrationStatus.SETUP.value) or (
                prev is not None and status not in self.successors[prev]
            ):
                bad.append(("MIG-SAFETY-003", f"{name} sent '{status}' after '{prev}'"))
            last[slot] = status
        return tuple(last), bad

    def step(self, state: int, new_id: int, new: LogKey) -> tuple[int, tuple[Finding, ...]]:
        """The state after a move that showed ``new`` (interned as ``new_id``),
        and the MIG-SAFETY-003 findings on the way."""
        k = new_id << OBSERVER_BITS | state
        done = self._step.get(k)
        if done is None:
            after, bad = self._after(self.states[state], new)
            done = self._step[k] = (self._intern(after), tuple(bad))
        return done

    def final(self, state: int, finals: tuple[tuple[str, str], ...]) -> tuple[Finding, ...]:
        """MIG-SAFETY-008: each (VM, terminal status) of ``finals`` must be the
        last status that VM's client saw."""
        k = (state, finals)
        done = self._final.get(k)
        if done is None:
            last = self.states[state]
            done = self._final[k] = tuple(
                ("MIG-SAFETY-008", f"{name} ended '{status}' without its event")
                for name, status in finals if last[self._slot[name]] != status
            )
        return done

    def last(self, state: int) -> dict[str, str]:
        """The state as a dict of the VMs that sent a MIGRATION event."""
        return {n: s for n, s in zip(self.names, self.states[state], strict=True)
                if s is not None}
