"""The conformance suite: the state machines of :mod:`migspec.properties.stateful`
against the target given to the pytest plugin.

    pytest --pyargs migspec.properties.conformance --migspec-target=MODULE:FACTORY

(with ``-p migspec.properties.pytest_plugin`` where the entry point is not
installed). The Hypothesis profile is ``ci`` unless
``--migspec-hypothesis-profile`` or ``$MIGSPEC_HYPOTHESIS_PROFILE`` says
otherwise. A failure names the requirement ID the target broke and prints the
shortest sequence of steps that shows it.
"""

from __future__ import annotations

from migspec.properties.hypothesis_profiles import DEV, load, selected
from migspec.properties.stateful import (
    INVARIANT_REQUIREMENTS,
    RULES,
    machine_for,
    run_machine,
    unfired,
)
from migspec.properties.targets import Target, TargetFactory
from migspec.reference.profiles import PROFILES
from migspec.spec.requirements import REQUIREMENT_BY_ID


def test_target_implements_the_protocol(migspec_target: Target) -> None:
    """The target has every member of the protocol and names a known profile."""
    assert isinstance(migspec_target, Target)
    assert migspec_target.profile in PROFILES


def test_state_machine(migspec_target_factory: TargetFactory, migspec_target: Target) -> None:
    """Every rule's replies, events and queries agree with the model, and every
    rule the target's capabilities allow (``migspec_target``'s flags) fired at
    least once (in the ci and nightly profiles)."""
    machine = machine_for(migspec_target_factory, "ConformanceMachine")
    run_machine(machine, load())
    never = unfired(machine, migspec_target)
    if selected() != DEV:  # the quick smoke profile does not promise coverage
        assert never == [], f"rules that never fired: {never}"


def test_invariants_name_requirements() -> None:
    """Every invariant check cites declared requirements."""
    assert RULES
    for name, ids in INVARIANT_REQUIREMENTS.items():
        assert ids, name
        assert all(i in REQUIREMENT_BY_ID for i in ids), name
