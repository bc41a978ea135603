"""The harness's one door to trace validation (:mod:`migspec.properties.tracecheck`).

Every verdict the harness gives on a trace goes through these few calls, so
the report, the expected-deviations matching and the seed-defect attribution
read the validator the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migspec.properties import tracecheck as tc
from migspec.properties.conform.observe import Observation
from migspec.reference.profiles import Profile

#: The module that judges traces (named in reports).
VALIDATOR = "tracecheck"


def environment(setup: tuple[dict[str, Any], ...], connect: tuple[str, ...],
                env_events: tuple[dict[str, Any], ...]) -> tc.Environment:
    """``tracecheck.Environment(setup, connect, env_events)``."""
    return tc.Environment(setup=setup, connect=connect, env_events=env_events)


def check_trace(trace: Sequence[Observation], env: tc.Environment,
                profile: str | Profile) -> tc.TraceVerdict:
    """``tracecheck.check_trace``: ok, or the first observation no admitted
    state can produce."""
    return tc.check_trace(trace, env, profile)


def outcome(trace: Sequence[Observation], profile: str | Profile) -> tuple[str, ...]:
    """``tracecheck.outcome``: a trace's abstract outcome, read as under
    ``profile`` (what it declares beyond the seed set aside)."""
    return tuple(tc.outcome(trace, profile))


def admitted_outcomes(sends: Sequence[Observation], env: tc.Environment,
                      profile: str | Profile,
                      wait_replies: bool = True) -> tuple[set[tuple[str, ...]], bool]:
    """``tracecheck.admitted_outcomes``: every outcome the spec admits for
    these inputs (``wait_replies``: the driver waited for each reply before
    its next input), and whether the set is complete (the search bound was
    not reached)."""
    found = tc.admitted_outcomes(sends, env, profile, wait_replies=wait_replies)
    return set(found), found.complete


def unsupported(verdict: tc.TraceVerdict) -> list[str]:
    """What the validator could not follow because it is beyond the
    profile's model (a report's UNSUPPORTED, not a FAIL)."""
    return list(verdict.unsupported)


def beyond(verdict: tc.TraceVerdict) -> list[str]:
    """What the trace showed beyond the seed's surface, as the profile
    declares it, set aside by the validator (reported UNSUPPORTED)."""
    return list(verdict.beyond)


def bounded(verdict: tc.TraceVerdict) -> bool:
    """The validator stopped at its search bound (the verdict is undecided)."""
    return verdict.bounded
