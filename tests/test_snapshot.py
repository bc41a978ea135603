"""The explorer's copies and keys cover every state variable."""

from __future__ import annotations

import dataclasses

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
