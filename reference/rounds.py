"""Jumping whole identical rounds of a migration that never converges.

A guest that dirties memory faster than the channel carries it keeps the
migration thread in its loop (lines 929-1000) for ever: iterate
(MIG-THREAD-004), check the bandwidth window and sleep (MIG-THREAD-005),
iterate. Run step by step, a long ``advance`` or
``settle`` then costs millions of steps. Nothing else moves, nothing is
logged, and after a while the loop repeats itself exactly, up to a shift of
time and of a few counters that only grow. :class:`RoundJumper` finds such a
round and moves the world forward by whole rounds at once; the run goes on
step by step from there.

Why the jump gives the world the step-by-step run would reach. Every field
of the world is of one of the kinds of :data:`KINDS` (the rest are *exact*):

- *deadline*: only compared with the clock (``clock < wake_us``) or taken as
  the next wake-up if still ahead; any value at or before the clock acts the
  same. Keyed by how far ahead of the clock it is (0 when not ahead).
- *elapsed*: a time the loop reads only as a distance to the clock
  (``now - last_touch``, ``now_ms > period_start_ms + 1000``,
  ``initial_time + BUFFER_DELAY - current_time``). Keyed by that distance.
- *counter*: only ever grows and is read only by reports and in the
  difference ``pos - initial_bytes`` (which is keyed).
- *stamp*: a start time the loop never reads (``total_time`` while a
  migration runs, ``setup_start``, ``start_time``, and the times of a
  finished thread or of RAM no migration sends); must not change.

The key also holds the clock's position within its millisecond, so a round
lasts whole milliseconds and ``clock_us // 1000`` shifts with it. If two
samples have equal keys, every step from the second does what the same step
from the first did, shifted in time and counters by the same amounts (the
scheduler is :class:`~migspec.reference.scheduler.DefaultScheduler`, a
function of the world). A round is accepted only after it is seen twice in a
row with the same shifts, and only when nothing was logged or traced in it.
The profile, the build and ``tracing`` do not change during a run. Only
:func:`~migspec.reference.scheduler.run` jumps (``settle``, ``advance``); the
explorer steps every interleaving itself and never jumps.
``tests/test_hostile_engine.py`` checks jumped runs against step-by-step
runs, world and output, and that every field that holds a time is given a
kind here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from migspec.reference.environment import QemuFile, Ram
from migspec.reference.state import MigrationState
from migspec.reference.vm import VM, ConnectPending, MigrationThread
from migspec.reference.world import World

DEADLINE_US = "deadline"
ELAPSED_US = "elapsed_us"
ELAPSED_MS = "elapsed_ms"
COUNTER = "counter"
STAMP = "stamp"

#: (class, field) -> kind; every other field is compared exactly.
KINDS: dict[tuple[type, str], str] = {
    (MigrationThread, "wake_us"): DEADLINE_US,
    (VM, "bql_until_us"): DEADLINE_US,
    (ConnectPending, "due_us"): DEADLINE_US,
    (QemuFile, "complete_at_us"): DEADLINE_US,
    (Ram, "last_touch_us"): ELAPSED_US,
    (Ram, "period_start_ms"): ELAPSED_MS,
    (MigrationThread, "initial_time"): ELAPSED_MS,
    (Ram, "transferred"): COUNTER,
    (Ram, "normal_pages"): COUNTER,
    (Ram, "sync_count"): COUNTER,
    (MigrationState, "dirty_sync_count"): COUNTER,
    (QemuFile, "pos"): COUNTER,
    (MigrationThread, "initial_bytes"): COUNTER,
    (MigrationState, "total_time"): STAMP,
    (MigrationThread, "setup_start"): STAMP,
    (MigrationThread, "start_time"): STAMP,
}

#: Slot: (object, field name, kind, value).
Slot = tuple[Any, str, str, int]


@dataclass
class Sample:
    """A normalized view of the world at one clock jump."""

    key: tuple[Any, ...]
    clock_us: int
    slots: list[Slot] = field(default_factory=list)


def _inert(obj: Any) -> bool:
    """Nothing reads this object's times: a finished thread (never enabled,
    never waited for) or RAM no migration is sending (``touch`` and
    ``sync`` read them only while ``active``; ``begin`` sets them anew)."""
    return (isinstance(obj, MigrationThread) and obj.done) or (
        isinstance(obj, Ram) and not obj.active)


def _walk(obj: Any, now_us: int, key: list[Any], slots: list[Slot]) -> None:
    cls = type(obj)
    inert = _inert(obj)
    for name, value in obj.__dict__.items():
        kind = KINDS.get((cls, name))
        if inert and kind in (ELAPSED_US, ELAPSED_MS):
            kind = STAMP  # not read: must stay as it is, not keyed
        if kind is None:
            if isinstance(value, Ram | MigrationState):
                _walk(value, now_us, key, slots)
            elif isinstance(value, dict):
                key.append(name)
                for k, v in value.items():
                    key.append(k)
                    _item(v, now_us, key, slots)
            elif isinstance(value, list):
                key.append(name)
                key.append(len(value))
                for v in value:
                    _item(v, now_us, key, slots)
            else:
                key.append(_frozen(value))
            continue
        slots.append((obj, name, kind, value))
        if kind == DEADLINE_US:
            key.append(max(value - now_us, 0))
        elif kind == ELAPSED_US:
            key.append(value - now_us)
        elif kind == ELAPSED_MS:
            key.append(value - now_us // 1000)


def _item(value: Any, now_us: int, key: list[Any], slots: list[Slot]) -> None:
    if isinstance(value, MigrationThread | ConnectPending | QemuFile):
        _walk(value, now_us, key, slots)
    else:
        key.append(_frozen(value))


def _frozen(value: Any) -> Any:
    """A value that cannot change under the key (objects are mutated in place)."""
    if isinstance(value, Enum):
        return value
    if isinstance(value, dict):
        return tuple((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if hasattr(value, "__dataclass_fields__"):
        return (type(value).__name__, *(_frozen(v) for v in value.__dict__.values()))
    return value


def sample(world: World) -> Sample:
    """The world's key and its shiftable slots, now."""
    now = world.clock_us
    key: list[Any] = [now % 1000, len(world.log), len(world.trace), len(world.fired),
                      world.next_fid, _frozen(world.readers), _frozen(world.payloads),
                      _frozen(world.env.__dict__)]
    slots: list[Slot] = []
    for vm in world.vms.values():
        _walk(vm, now, key, slots)
        fid = vm.s.file
        f = world.files.get(fid) if fid is not None else None
        for t in vm.threads.values():  # the loop reads pos - initial_bytes
            key.append(None if f is None else f.pos - t.initial_bytes)
    for f in world.files.values():
        _walk(f, now, key, slots)
    return Sample(tuple(key), now, slots)


def quick_key(world: World) -> tuple[Any, ...]:
    """A few fields of :func:`sample`'s key that change within a round, cheap
    to read: two samples with different quick keys have different keys."""
    now = world.clock_us
    now_ms = now // 1000
    key: list[Any] = [now % 1000, len(world.log), len(world.trace)]
    for vm in world.vms.values():
        ram = vm.ram
        key += (ram.dirty, ram.unsynced, ram.period_pages, vm.s.state)
        if not _inert(ram):
            key += (ram.last_touch_us - now, ram.period_start_ms - now_ms)
        for t in vm.threads.values():
            if not _inert(t):
                key += (t.pc, max(t.wake_us - now, 0), t.initial_time - now_ms, t.max_size)
        fid = vm.s.file
        if fid is not None and fid in world.files:
            key.append(world.files[fid].bytes_xfer)
    return tuple(key)


def _shifts(old: Sample, new: Sample) -> list[int] | None:
    """Per slot, how much it moved in the round from ``old`` to ``new``; None
    if the two are not the same objects, a stamp moved, or a deadline ahead
    did not move with the clock."""
    period = new.clock_us - old.clock_us
    shifts: list[int] = []
    for (obj_a, name_a, kind, a), (obj_b, name_b, _, b) in zip(old.slots, new.slots, strict=True):
        if obj_a is not obj_b or name_a != name_b:
            return None
        delta = b - a
        if kind == STAMP and delta:
            return None
        if kind == ELAPSED_US and delta != period:
            return None
        if kind == ELAPSED_MS and delta * 1000 != period:
            return None
        if kind == DEADLINE_US and b > new.clock_us and delta != period:
            return None
        shifts.append(delta if kind == COUNTER or b > new.clock_us or kind != DEADLINE_US
                      else 0)
    return shifts


class RoundJumper:
    """Brent's cycle search over the samples of one run; jumps whole rounds."""

    def __init__(self) -> None:
        #: Rounds jumped in this run.
        self.jumped = 0
        self._restart()

    def _restart(self) -> None:
        self.saved: Sample | None = None
        self.saved_quick: tuple[Any, ...] = ()
        self.power = 1
        self.count = 0
        #: A round seen once: (its start sample, its shifts); accepted when
        #: the next round has the same length and shifts.
        self.candidate: tuple[Sample, list[int]] | None = None

    def sample(self, world: World, until_us: int) -> None:
        """Look at the world after a clock jump; move it on by whole rounds
        (never past ``until_us``) once a round has repeated twice."""
        quick = quick_key(world)
        saved = self.saved
        now: Sample | None = None
        if saved is not None and quick == self.saved_quick:
            now = sample(world)
        if saved is not None and now is not None and now.key == saved.key:
            shifts = _shifts(saved, now)
            period = now.clock_us - saved.clock_us
            if shifts is not None and period > 0:
                cand = self.candidate
                if (cand is not None and cand[1] == shifts
                        and now.clock_us - cand[0].clock_us == 2 * period):
                    self._jump(world, now, shifts, period, until_us)
                    self._restart()  # look afresh from here
                    return
                else:
                    self.candidate = (saved, shifts)
            self.saved, self.saved_quick, self.count = now, quick, 0
            return
        self.count += 1
        if saved is None or self.count >= self.power:
            self.saved, self.saved_quick = now or sample(world), quick
            self.power, self.count = self.power * 2, 0

    def _jump(self, world: World, now: Sample, shifts: list[int], period: int,
              until_us: int) -> None:
        rounds = (until_us - world.clock_us) // period
        if rounds <= 0:
            return
        for (obj, name, _kind, value), delta in zip(now.slots, shifts, strict=True):
            if delta:
                setattr(obj, name, value + rounds * delta)
        world.clock_us += rounds * period
        self.jumped += rounds
