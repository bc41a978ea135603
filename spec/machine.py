"""The ``transitions`` library machine generated from :data:`TRANSITIONS`."""

from __future__ import annotations

from typing import Any

from transitions import Machine

from migspec.spec.states import MigrationStatus
from migspec.spec.transitions import transitions_for


class MigrationModel:
    """The model object the ``transitions`` machine drives."""

    state: str


def build_machine(profile: str = "seed", model: Any = None) -> Machine:
    """A ``transitions.Machine`` whose states and transitions are the declaration's.

    Triggers that do not apply in the current state are ignored, as a failed
    compare-and-swap in ``migrate_set_state`` is (seed lines 528-534).
    """
    target = model if model is not None else MigrationModel()
    return Machine(
        model=target,
        states=[s.value for s in MigrationStatus],
        transitions=[
            {
                "trigger": d.trigger,
                "source": [s.value for s in d.sources],
                "dest": d.dest.value,
            }
            for d in transitions_for(profile)
        ],
        initial=MigrationStatus.NONE.value,
        ignore_invalid_triggers=True,
        auto_transitions=False,
    )
