"""Expected deviations of one implementation: a TOML file of entries, each
naming a requirement ID or a scenario and the reason::

    [[expected]]
    requirement = "MIG-QUERY-001"
    reason = "7.2's query-migrate on a fresh VM ..."

    [[expected]]
    scenario = "migrate-twice"
    reason = "..."

    [[expected]]
    outcome = ["source: ...", "destination: ..."]   # a racy run's outcome
    scenario = "race-migrate-cancel"                 # optional with outcome
    reason = "..."

A FAIL listed there is reported as expected and does not fail the run; with
``outcome``, only the failing runs that ended with that outcome (as
:func:`migspec.properties.tracecheck.outcome` writes it) are.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from migspec.spec.requirements import REQUIREMENT_BY_ID


class ExpectError(ValueError):
    """The file cannot be used; the message names the entry."""


@dataclass
class Expectations:
    """Reasons by requirement ID and by scenario name."""

    requirements: dict[str, str] = field(default_factory=dict)
    scenarios: dict[str, str] = field(default_factory=dict)
    #: (scenario or None for any, outcome, reason).
    outcomes: list[tuple[str | None, tuple[str, ...], str]] = field(default_factory=list)

    def for_requirement(self, rid: str) -> str | None:
        """The reason a FAIL of ``rid`` is expected, or None."""
        return self.requirements.get(rid)

    def for_scenario(self, name: str) -> str | None:
        """The reason a FAIL of scenario ``name`` is expected, or None."""
        return self.scenarios.get(name)

    def for_outcome(self, name: str, outcome: tuple[str, ...] | None) -> str | None:
        """The reason a failing run of ``name`` that ended with ``outcome`` is
        expected, or None."""
        for scenario, expected, reason in self.outcomes:
            if outcome is not None and tuple(outcome) == expected and scenario in (None, name):
                return reason
        return None


def load(path: str, scenario_names: set[str]) -> Expectations:
    """Read and check an expected-deviations file."""
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except OSError as err:
        raise ExpectError(f"cannot read {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ExpectError(f"{path}: not TOML: {err}") from None
    out = Expectations()
    entries = doc.get("expected", [])
    if not isinstance(entries, list):
        raise ExpectError(f"{path}: 'expected' must be an array of tables")
    for n, entry in enumerate(entries, 1):
        where = f"{path}: entry {n}"
        if not isinstance(entry, dict):
            raise ExpectError(f"{where}: must be a table")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ExpectError(f"{where}: needs a reason")
        extra = set(entry) - {"requirement", "scenario", "reason", "outcome"}
        if extra:
            raise ExpectError(f"{where}: unknown key {sorted(extra)[0]!r}")
        rid, scen = entry.get("requirement"), entry.get("scenario")
        if "outcome" in entry:
            outcome = entry["outcome"]
            if not isinstance(outcome, list) or not all(isinstance(x, str) for x in outcome):
                raise ExpectError(f"{where}: outcome must be an array of strings")
            if rid is not None:
                raise ExpectError(f"{where}: an outcome goes with a scenario, not a requirement")
            if scen is not None and scen not in scenario_names:
                raise ExpectError(f"{where}: unknown scenario {scen!r}")
            out.outcomes.append((scen, tuple(outcome), reason))
            continue
        if (rid is None) == (scen is None):
            raise ExpectError(f"{where}: give exactly one of requirement or scenario")
        if rid is not None:
            if rid not in REQUIREMENT_BY_ID:
                raise ExpectError(f"{where}: unknown requirement {rid!r}")
            out.requirements[rid] = reason
        else:
            if scen not in scenario_names:
                raise ExpectError(f"{where}: unknown scenario {scen!r}")
            out.scenarios[str(scen)] = reason
    return out
