"""The Hypothesis state machines on targets judged by trace validation: a
target that claims ``qemu-7.2`` (the reference engine under that profile, and
Debian 12's real ``qemu-system-x86_64``) is checked against the engine under
its profile through :mod:`migspec.properties.tracecheck`, after every step.

The machines are not vacuous there: a target that differs from what it claims
in one error text (MIG-QMP-001's CommandNotFound description) is caught, on
the reference and on the real QEMU.

The real-QEMU tests skip without ``qemu-system-x86_64`` unless ``CI=true``
(then they fail). They run a small fixed budget (generation only, no
shrinking: a real run is not replayable step for step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import Phase, settings
from support import seed_claiming

from migspec.properties.hypothesis_profiles import load
from migspec.properties.model import Violation
from migspec.properties.stateful import (
    TargetMachine,
    TraceJudge,
    judged_by_trace,
    machine_for,
    rules_for,
    run_machine,
    unfired,
)
from migspec.properties.targets import (
    Target,
    reference_qemu_72,
    reference_seed,
)

#: Generation only: a failure is reported as found, not shrunk.
_FAST = settings(load("dev"), phases=[Phase.generate])
#: The real-QEMU budget: about 15 s on the 2-core machine.
_REAL = settings(load("dev"), max_examples=20, stateful_step_count=25,
                 phases=[Phase.generate])

#: QEMU 7.2's CommandNotFound text (qapi/qmp-dispatch.c:150-151 of qemu
#: 1:7.2+dfsg-7+deb12u18), and the wrong one the planted difference shows.
NOT_FOUND = "has not been found"
PLANTED = "is not known here"


class _Wrapped:
    """``target`` seen through :meth:`_rewrite` (replies and trace alike)."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self.name = f"{type(self).__name__}({target.name})"
        self.profile = target.profile
        self.supports_env = target.supports_env
        self.supports_time = target.supports_time
        self.supports_incoming = target.supports_incoming

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def _rewrite(self, value: Any) -> Any:
        return value

    def execute(self, cmd: Any) -> Any:
        return self._rewrite(self._target.execute(cmd))

    def observations(self) -> list[dict[str, Any]]:
        observed: list[dict[str, Any]] = self._target.observations()  # type: ignore[attr-defined]
        return [self._rewrite(o) for o in observed]


class _Planted(_Wrapped):
    """One error text changed: CommandNotFound's."""

    def _rewrite(self, value: Any) -> Any:
        if isinstance(value, dict):
            err = value.get("error")
            if isinstance(err, dict) and isinstance(err.get("desc"), str):
                return {**value, "error": {**err,
                                           "desc": err["desc"].replace(NOT_FOUND, PLANTED)}}
            if isinstance(value.get("reply"), dict):
                return {**value, "reply": self._rewrite(value["reply"])}
        return value


# -- without QEMU: the reference engine under qemu-7.2 -------------------------------------
def test_only_profiles_the_model_lacks_are_judged_by_trace() -> None:
    """seed and fixed keep the model (their figures are unchanged); qemu-7.2
    goes to trace validation, without env or time rules."""
    assert not judged_by_trace(reference_seed())
    target = reference_qemu_72()
    assert judged_by_trace(target)
    rules = rules_for(target)
    assert "migrate" in rules and "query_migrate" in rules
    for rule in ("settle", "advance", "feed", "env_connect", "env_faults",
                 "migrate_set_cache_size"):
        assert rule not in rules


def test_machine_judges_the_reference_under_qemu_72() -> None:
    """Every reply and event of the engine under qemu-7.2 is admitted by the
    validator under qemu-7.2, and every rule it can run fires."""
    machine = machine_for(reference_qemu_72, "JudgedReference72")
    run_machine(machine, load("ci"))
    assert unfired(machine, reference_qemu_72()) == []
    assert machine.fired["migrate"] > 0 and machine.fired["unknown_command"] > 0


def test_planted_text_difference_is_caught_on_the_reference() -> None:
    """One error text changed: the machines name MIG-QMP-001 (or the
    command whose removal 7.2 answers with CommandNotFound)."""

    def factory() -> Target:
        planted: Target = _Planted(reference_qemu_72())
        return planted

    machine = machine_for(factory, "PlantedReference72")
    with pytest.raises(Violation) as caught:
        run_machine(machine, _FAST)
    assert PLANTED in str(caught.value)
    assert "trace validation" in str(caught.value)


def test_a_profile_difference_is_caught() -> None:
    """The engine under seed, claiming qemu-7.2: the capability list (among
    others) is not 7.2's (QEMU72-CAPS-LIST)."""

    machine = machine_for(seed_claiming("qemu-7.2"), "SeedClaiming72")
    with pytest.raises(Violation):
        run_machine(machine, _FAST)


def test_requirement_of_a_rejected_observation() -> None:
    """A rejected reply names its command's requirement; a QMP-layer refusal
    MIG-QMP-001..003; an event before any command MIG-EVENT-003, after one
    MIG-EVENT-002; an exit MIG-SAFETY-001."""
    start = {"vm": "source", "start": {"incoming": None, "paused": False}}
    trace: list[dict[str, Any]] = [
        start,
        {"vm": "source", "event": "MIGRATION", "data": {"status": "setup"}},
        {"vm": "source", "send": {"execute": "migrate-set-capabilities",
                                  "arguments": {"capabilities": []}}},
        {"vm": "source", "reply": {"return": {}}},
        {"vm": "source", "send": {"execute": "nope"}},
        {"vm": "source", "reply": {"error": {"class": "CommandNotFound", "desc": "x"}}},
        {"vm": "source", "send": {"execute": "migrate", "arguments": {"uri": 7}}},
        {"vm": "source", "reply": {"error": {"class": "GenericError", "desc": "x"}}},
        {"vm": "source", "event": "STOP", "data": {}},
        {"vm": "source", "exited": "abort"},
    ]
    got = [TraceJudge.requirement(trace, i) for i in (1, 3, 5, 7, 8, 9)]
    assert got == ["MIG-EVENT-003", "MIG-CAPS-001", "MIG-QMP-001", "MIG-QMP-002",
                   "MIG-EVENT-002", "MIG-SAFETY-001"]


# -- Debian 12's QEMU 7.2 -------------------------------------------------------------------


def _real(wrap: Callable[[Target], Any]) -> Callable[[], Target]:
    from migspec.properties.conform.realtarget import qemu_72

    def factory() -> Target:
        wrapped: Target = wrap(qemu_72())
        return wrapped

    return factory


def test_machine_judges_real_qemu_72(real_qemu: str) -> None:
    """The machines against the real QEMU 7.2 as qemu-7.2: every observation
    is admitted, and real migrations ran (nothing set aside: the five 7.2 behaviours
    these machines found are deviations of the profile now)."""
    TargetMachine.undecided.clear()
    machine = machine_for(_real(lambda t: _Wrapped(t)), "RealQemu72")
    run_machine(machine, _REAL)
    assert machine.fired["migrate"] > 0 and machine.fired["query_migrate"] > 0
    assert machine.fired["reset"] > 0
    assert not TargetMachine.undecided, dict(TargetMachine.undecided)


def test_planted_text_difference_is_caught_on_real_qemu(real_qemu: str) -> None:
    """The real QEMU 7.2 with CommandNotFound's text changed: caught."""
    machine = machine_for(_real(lambda t: _Planted(t)), "PlantedRealQemu72")
    with pytest.raises(Violation) as caught:
        run_machine(machine, _REAL)
    assert PLANTED in str(caught.value)


def test_a_target_without_observations_is_judged_from_its_calls() -> None:
    """A target that records no trace: the judge builds it from the machine's
    sends, the events read after each reply, and the replies."""

    class NoTrace:
        def __init__(self) -> None:
            self._target = reference_qemu_72()
            self.name = "no-trace"
            self.profile = "qemu-7.2"
            self.supports_env = self.supports_time = False
            self.supports_incoming = True

        def __getattr__(self, name: str) -> Any:
            if name == "observations":
                raise AttributeError(name)
            return getattr(self._target, name)

    def factory() -> Target:
        target: Target = NoTrace()
        return target

    assert not hasattr(NoTrace(), "observations")
    machine = machine_for(factory, "NoTraceReference72")
    run_machine(machine, _FAST)
    assert machine.fired["migrate"] > 0
