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

from collections.abc import Iterator, Sequence
from typing import Any

from migspec.spec.states import MigrationStatus

#: A compact log entry (see ``explorer.compact``) and a sequence of them.
LogKey = tuple[tuple[Any, ...], ...]
Finding = tuple[str, str]

#: Observer states are packed into the low bits of a state key.
OBSERVER_BITS = 12
OBSERVER_MASK = (1 << OBSERVER_BITS) - 1


def last_statuses(new: LogKey, last: dict[str, str] | None = None) -> dict[str, str]:
    """The last MIGRATION status each VM sent, after ``new`` follows what
    ``last`` says."""
    out = dict(last or {})
    for entry in new:
        if entry[1] == "E" and entry[2] == "MIGRATION":
            out[entry[0]] = str(entry[3])
    return out


def event_order_violations(
    successors: dict[str, frozenset[str]], last: dict[str, str], new: LogKey
) -> Iterator[tuple[str, str]]:
    """MIG-SAFETY-003: each MIGRATION event in ``new`` follows the one its VM
    sent before by a declared transition (or is a first 'setup')."""
    last = dict(last)
    for entry in new:
        if entry[1] == "E" and entry[2] == "MIGRATION":
            name, status = entry[0], str(entry[3])
            prev = last.get(name)
            if (prev is None and status != MigrationStatus.SETUP.value) or (
                prev is not None and status not in successors[prev]
            ):
                yield "MIG-SAFETY-003", f"{name} sent '{status}' after '{prev}'"
            last[name] = status


def final_event_violations(
    finals: tuple[tuple[str, str], ...], last: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """MIG-SAFETY-008 for the VMs of :func:`final_events`, given the last
    MIGRATION status each sent."""
    for name, state in finals:
        if last.get(name) != state:
            yield "MIG-SAFETY-008", f"{name} ended '{state}' without its event"


class LastStatus:
    """The last MIGRATION status each VM's client saw, as an automaton over
    the compact log; the two properties above are decided on it."""

    def __init__(self, names: Sequence[str], successors: dict[str, frozenset[str]],
                 root_log: LogKey) -> None:
        self.names = tuple(names)
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
        last = self._as_dict(state)
        bad = list(event_order_violations(self.successors, last, new))
        after = last_statuses(new, last)
        return tuple(after.get(name) for name in self.names), bad

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
            done = self._final[k] = tuple(final_event_violations(finals, self.last(state)))
        return done

    def last(self, state: int) -> dict[str, str]:
        """The state as a dict of the VMs that sent a MIGRATION event."""
        return self._as_dict(self.states[state])

    def _as_dict(self, state: tuple[str | None, ...]) -> dict[str, str]:
        return {n: s for n, s in zip(self.names, state, strict=True) if s is not None}
