"""The explorer's copies and keys cover every state variable."""

from __future__ import annotations

import dataclasses

import pytest

from migspec.reference import snapshot
from migspec.reference.engine import Engine
from migspec.reference.state import Incoming, MigrationState
from migspec.reference.vm import VM


def test_key_covers_every_field() -> None:
    """Each field of MigrationState and VM is keyed (a new field that is not
    would let the explorer merge states that differ)."""
    s_fields = {f.name for f in dataclasses.fields(MigrationState)}
    assert s_fields == set(snapshot.S_SCALARS) | set(snapshot.S_CONTAINERS)
    vm_fields = {f.name for f in dataclasses.fields(VM)}
    assert vm_fields == set(snapshot.VM_SCALARS) | set(snapshot.VM_CONTAINERS)
    assert {f.name for f in dataclasses.fields(Incoming)} == {
        "listening", "accepted", "file", "mis", "finished"
    }


def test_clone_is_independent_and_keys_track_changes() -> None:
    """A clone keys equal to its original; stepping the clone changes its key
    and leaves the original untouched."""
    engine = Engine()
    engine.execute({"execute": "migrate", "arguments": {"uri": "exec:cat"}})
    original = engine.world
    before = snapshot.key(original)
    copy = snapshot.clone(original)
    assert snapshot.key(copy) == before
    copy.vms["source"].s.parameters["compress-level"] = 9
    copy.vms["source"].threads[next(iter(copy.vms["source"].threads))].pc = "final"
    assert snapshot.key(copy) != before
    assert snapshot.key(original) == before
    assert original.vms["source"].s.parameters["compress-level"] == 1


def test_world_store_rebuilds_every_world_from_its_key() -> None:
    """The explorer keeps worlds only as WorldStore keys: a world rebuilt from
    its key keys like the original (for every world of a scenario with two
    VMs, files and failures), two worlds get equal store keys exactly when
    their keys are equal, and running a move on a clone of the rebuilt world
    leaves the store's shared parts untouched."""
    from collections import deque

    from migspec.properties.explorer import Explorer
    from migspec.properties.scenarios import SCENARIO_BY_NAME

    ex = Explorer(SCENARIO_BY_NAME["completion-race"], "seed")
    store = snapshot.WorldStore(ex.root)
    by_key: dict[object, object] = {}
    used = tuple(0 for _ in ex.budget)
    queue = deque([(ex.root, used)])
    seen = {(snapshot.key(ex.root), used)}
    while queue:
        world, used = queue.popleft()
        k = snapshot.key(world)
        stored = store.key(world)
        assert by_key.setdefault(stored, k) == k
        rebuilt = store.world(stored)
        assert snapshot.key(rebuilt) == k
        labels, _ = ex.labels(world, used)
        for label in labels:
            child = snapshot.clone(rebuilt)
            child_used = ex.apply(child, used, label)
            assert snapshot.key(store.world(stored)) == k  # the store is untouched
            child.log = []
            ck = (snapshot.key(child), child_used)
            if ck not in seen:
                seen.add(ck)
                queue.append((child, child_used))
    assert len(by_key) == len({k for k, _ in seen}) > 500
    # A World field the store does not know is refused, not silently dropped.
    bad = snapshot.clone(ex.root)
    bad.__dict__["extra"] = 1
    with pytest.raises(TypeError, match="extra"):
        snapshot.WorldStore(bad)


def test_copy_on_write_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The explorer copies only the VM a move acts for and shares the others;
    a step that changes another VM must take it through World.own. With
    ``check_sharing`` the explorer catches a step that does not: here the
    connection that reaches the listening destination (mainloop._pair)."""
    from migspec.properties.explorer import Explorer
    from migspec.properties.scenarios import SCENARIO_BY_NAME
    from migspec.reference.world import World

    ex = Explorer(SCENARIO_BY_NAME["migrate-cancel"], "fixed")
    ex.check_sharing = True
    assert ex.run().complete  # respected: no complaint
    monkeypatch.setattr(World, "own", lambda self, name: self.vms[name])
    ex = Explorer(SCENARIO_BY_NAME["migrate-cancel"], "fixed")
    ex.check_sharing = True
    with pytest.raises(AssertionError, match=r"changed the VMs \['destination'\]"):
        ex.run()
