"""Profiles: the seed, and named deviations from it.

A profile is a set of repaired seed defects (IDs from
:mod:`migspec.spec.defects`); the engine consults it exactly at each defect's
site. There is no copy of the engine per profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migspec.spec.defects import DEFECTS


@dataclass(frozen=True)
class Profile:
    """A named set of repaired defects."""

    name: str
    repaired: frozenset[str]
    description: str

    def repairs(self, defect_id: str) -> bool:
        """True when this profile repairs ``defect_id``."""
        return defect_id in self.repaired


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

PROFILES: dict[str, Profile] = {p.name: p for p in (SEED, FIXED)}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ValueError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r} (known: {', '.join(sorted(PROFILES))})"
        ) from None
