"""Profiles: the seed, and named deviations from it.

A profile is a set of repaired seed defects (IDs from
:mod:`migspec.spec.defects`) and a set of deviations (IDs from
:mod:`migspec.spec.deviations`, what another implementation does differently);
the engine consults it exactly at each defect's and each deviation's site. There
is no copy of the engine per profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migspec.spec.defects import DEFECTS
from migspec.spec.deviations import (
    BEYOND_SEED,
    DEVIATIONS,
    MOVED_PARAMETERS,
    REMOVED_COMMANDS,
    REPAIRS,
    BeyondSeed,
)


@dataclass(frozen=True)
class Profile:
    """A named set of repaired defects and deviations from the seed."""

    name: str
    repaired: frozenset[str]
    description: str
    deviations: frozenset[str] = frozenset()
    #: What the profile's implementation has beyond the seed's surface (not
    #: modelled: the engine raises :class:`~migspec.reference.handlers.Unsupported`).
    beyond: BeyondSeed | None = None

    def repairs(self, defect_id: str) -> bool:
        """True when this profile repairs ``defect_id``."""
        return defect_id in self.repaired

    def deviates(self, deviation_id: str) -> bool:
        """True when this profile has the deviation ``deviation_id``."""
        return deviation_id in self.deviations


@dataclass(frozen=True)
class RecordingProfile(Profile):
    """A profile that records which defects' repair sites the engine consulted:
    a run that never consults a defect's site behaves the same whether or not
    that defect is repaired (unless the repair adds a transition to the table)."""

    consulted: set[str] = field(default_factory=set, compare=False, hash=False)

    def repairs(self, defect_id: str) -> bool:
        """True when this profile repairs ``defect_id``; the query is recorded."""
        self.consulted.add(defect_id)
        return defect_id in self.repaired


SEED = Profile("seed", frozenset(), "migration.c at 6775e2c4, line by line, defects included")
FIXED = Profile(
    "fixed",
    frozenset(d.id for d in DEFECTS),
    "the seed with every recorded defect repaired",
)

QEMU72 = Profile(
    "qemu-7.2",
    frozenset(r.defect for r in REPAIRS),
    "Debian 12's QEMU 7.2 (1:7.2+dfsg-7+deb12u18) over QMP, as observed: "
    "the seed with spec/deviations.py's deviations and repairs",
    frozenset(d.id for d in DEVIATIONS),
    BEYOND_SEED,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SEED, FIXED, QEMU72)}


def adapt(script: tuple[dict[str, Any], ...], profile: Profile) -> tuple[dict[str, Any], ...]:
    """``script`` with each seed setting command that ``profile`` removed
    (:data:`~migspec.spec.deviations.REMOVED_COMMANDS`) replaced by the
    ``migrate-set-parameters`` call that sets the same value there; so a
    scenario's set-up is declared once for every profile."""
    out: list[dict[str, Any]] = []
    for line in script:
        name = line.get("execute")
        moved = next((m for m in MOVED_PARAMETERS if m.seed_command == name), None)
        if moved is None or not profile.deviates(REMOVED_COMMANDS[moved.seed_command]):
            out.append(line)
            continue
        value = line["arguments"]["value"]
        if moved.name == "downtime-limit":
            value = round(value * 1000)  # seconds -> ms
        out.append({**line, "execute": "migrate-set-parameters",
                    "arguments": {moved.name: value}})
    return tuple(out)


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ValueError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r} (known: {', '.join(sorted(PROFILES))})"
        ) from None
