"""The ``transitions`` library machine generated from :data:`TRANSITIONS`."""

from __future__ import annotations

from typing import Any

from transitions import Machine
from transitions.extensions import GraphMachine

from migspec.spec.states import MigrationStatus
from migspec.spec.transitions import transitions_for


class MigrationModel:
    """The model object the ``transitions`` machine drives."""

    state: str


def _machine_args(profile: str | frozenset[str],
                  deviations: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        "states": [s.value for s in MigrationStatus],
        "transitions": [
            {
                "trigger": d.trigger,
                "source": [s.value for s in d.sources],
                "dest": d.dest.value,
            }
            for d in transitions_for(profile, deviations)
        ],
        "initial": MigrationStatus.NONE.value,
        "auto_transitions": False,
    }


def build_machine(profile: str | frozenset[str] = "seed", model: Any = None,
                  deviations: frozenset[str] = frozenset()) -> Machine:
    """A ``transitions.Machine`` whose states and transitions are the declaration's
    (for a profile: its repairs, by name or as a set, and its deviations).

    Triggers that do not apply in the current state are ignored, as a failed
    compare-and-swap in ``migrate_set_state`` is (seed lines 528-534).
    """
    target = model if model is not None else MigrationModel()
    return Machine(model=target, ignore_invalid_triggers=True,
                   **_machine_args(profile, deviations))


def diagram(profile: str = "seed") -> str:
    """The machine as a Mermaid state diagram, drawn by ``transitions``' GraphMachine."""
    model = MigrationModel()
    GraphMachine(model=model, graph_engine="mermaid", title=f"migration ({profile})",
                 **_machine_args(profile))
    source: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return source
