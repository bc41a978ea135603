"""The Hypothesis state machines against the reference, seed and fixed profiles,
with the ``ci`` profile: every reply, event and query agrees with the model
built from spec/ and the decision rules, and every rule fires.

Requirements the machines check (each failure names its ID): MIG-QMP-001,
MIG-QMP-002, MIG-QMP-003, MIG-QMP-004, MIG-MIGRATE-001, MIG-MIGRATE-002,
MIG-MIGRATE-003, MIG-BLOCKER-001, MIG-MIGRATE-006, MIG-MIGRATE-008,
MIG-MIGRATE-009, MIG-CANCEL-001, MIG-CANCEL-003, MIG-CAPS-001, MIG-CAPS-002,
MIG-CAPS-003, MIG-PARAMS-001, MIG-PARAMS-002, MIG-PARAMS-003, MIG-PARAMS-004,
MIG-PARAMS-005, MIG-CACHE-001, MIG-CACHE-003, MIG-CACHE-004, MIG-CACHE-005,
MIG-SPEED-001, MIG-DOWNTIME-001, MIG-QUERY-001..006, MIG-EVENT-001,
MIG-EVENT-002, MIG-EVENT-003, MIG-THREAD-006..011, MIG-INCOMING-001..011,
MIG-VM-001..003.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, settings
from support import seed_claiming

from migspec.properties.hypothesis_profiles import load
from migspec.properties.model import Violation
from migspec.properties.stateful import (
    COMMAND_RULES,
    INVARIANT_REQUIREMENTS,
    RULES,
    machine_for,
    run_machine,
    unfired,
)
from migspec.properties.targets import (
    ReferenceTarget,
    Reply,
    Target,
    reference_fixed,
    reference_seed,
)
from migspec.spec.commands import COMMAND_BY_NAME
from migspec.spec.requirements import REQUIREMENT_BY_ID


@pytest.mark.parametrize("profile", ["seed", "fixed"])
def test_machine_on_reference(profile: str) -> None:
    """The machine passes on the reference and every rule fired in the run."""
    factory = reference_seed if profile == "seed" else reference_fixed
    machine = machine_for(factory, f"Reference{profile.title()}Machine")
    run_machine(machine, load())
    assert unfired(machine, factory()) == []


def test_every_command_has_rules() -> None:
    """Each QMP command of spec/commands.py is sent by named rules."""
    assert set(COMMAND_RULES) == set(COMMAND_BY_NAME)
    for rules in COMMAND_RULES.values():
        assert rules and all(r in RULES for r in rules)
    for generic in ("bad_arguments", "unknown_command", "malformed_command"):
        assert generic in RULES


def test_invariants_cite_requirements() -> None:
    """Every invariant check names declared requirement IDs."""
    assert len(INVARIANT_REQUIREMENTS) >= 6
    for ids in INVARIANT_REQUIREMENTS.values():
        assert ids and all(i in REQUIREMENT_BY_ID for i in ids)


# -- the machines catch a target that differs --------------------------------------
class _Broken(ReferenceTarget):
    """The reference with one behaviour changed."""

    def __init__(self, profile: str, how: str) -> None:
        self.how = how
        super().__init__(profile)

    def execute(self, cmd: Any) -> Reply | None:
        name = cmd.get("execute") if isinstance(cmd, dict) else None
        if self.how == "cancel-ignored" and cmd == {"execute": "migrate_cancel"}:
            return {"return": {}}
        reply = super().execute(cmd)
        if reply is None:
            return reply
        if self.how == "parameter" and name == "query-migrate-parameters":
            return {**reply, "return": {**reply["return"], "compress-level": 2}}
        if self.how == "error-text" and "error" in reply:
            return {**reply, "error": {**reply["error"], "desc": reply["error"]["desc"] + "."}}
        if self.how == "query-none" and name == "query-migrate" and reply["return"] == {}:
            return {"return": {"status": "none"}}
        return reply

    def events(self) -> list[dict[str, Any]]:
        out = super().events()
        if self.how == "no-setup-event":
            out = [e for e in out if e.get("data") != {"status": "setup"}]
        return out


_FAST = settings(load("dev"), phases=[Phase.generate])


@pytest.mark.parametrize(
    ("how", "requirement"),
    [
        ("parameter", "MIG-PARAMS-005"),
        ("error-text", "MIG-"),
        ("query-none", "MIG-QUERY-001"),
        ("cancel-ignored", "MIG-"),
        ("no-setup-event", "MIG-"),
    ],
)
def test_machine_catches_a_broken_target(how: str, requirement: str) -> None:
    """A target that differs in one behaviour fails, naming a requirement."""

    def factory() -> Target:
        return _Broken("seed", how)

    machine = machine_for(factory, "BrokenMachine")
    with pytest.raises(Violation) as info:
        run_machine(machine, _FAST)
    assert requirement in str(info.value)


def test_machine_catches_the_wrong_profile() -> None:
    """The seed engine claiming to be the fixed profile fails: the seed defects show."""

    machine = machine_for(seed_claiming("fixed"), "LyingMachine")
    with pytest.raises(Violation):
        run_machine(machine, _FAST)


class _FreeRunning(ReferenceTarget):
    """The reference as a real process looks: its threads run between commands
    (7 ms of virtual time before each), and it offers no time control."""

    supports_time = False

    def execute(self, cmd: Any) -> Reply | None:
        self.engine.advance(7)
        return super().execute(cmd)


@pytest.mark.parametrize("profile", ["seed", "fixed"])
def test_machine_on_a_free_running_target(profile: str) -> None:
    """Without time control the model follows the migration in flight: every
    reply must be one some reachable status explains (MIG-EVENT-002,
    MIG-QUERY-001..006)."""

    def factory() -> Target:
        return _FreeRunning(profile)

    machine = machine_for(factory, f"FreeRunning{profile.title()}Machine")
    run_machine(machine, load("dev"))
    assert "settle" not in machine.fired and "feed" not in machine.fired
    assert machine.fired["migrate"] > 0
