"""The harness's one door to trace validation.

Calls :mod:`migspec.properties.tracecheck` (the validator) through its
published API: ``Environment``, ``check_trace``, ``outcome`` and
``admitted_outcomes``. Until that module is part of the package the stand-in
:mod:`.stubcheck` (same API, a much weaker check) answers instead, and
:data:`VALIDATOR` says which one did.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from migspec.properties.conform.observe import Observation
from migspec.reference.profiles import Profile


def _load() -> ModuleType:
    try:
        return importlib.import_module("migspec.properties.tracecheck")
    except ModuleNotFoundError:
        return importlib.import_module("migspec.properties.conform.stubcheck")


_TC = _load()
#: ``tracecheck`` or ``stubcheck``: the module that judges traces.
VALIDATOR: str = _TC.__name__.rsplit(".", 1)[-1]


def environment(setup: tuple[dict[str, Any], ...], connect: tuple[str, ...],
                env_events: tuple[dict[str, Any], ...]) -> Any:
    """``tracecheck.Environment(setup, connect, env_events)``."""
    return _TC.Environment(setup=setup, connect=connect, env_events=env_events)


def check_trace(trace: Sequence[Observation], env: Any, profile: str | Profile) -> Any:
    """``tracecheck.check_trace``: a TraceVerdict (``ok``, ``index``,
    ``observation``, ``expected``, ``states``, ``seconds``)."""
    return _TC.check_trace(trace, env, profile)


def outcome(trace: Sequence[Observation], profile: str | Profile) -> tuple[str, ...]:
    """``tracecheck.outcome``: a trace's abstract outcome, read as under
    ``profile`` (what it declares beyond the seed set aside)."""
    result: tuple[str, ...] = tuple(_TC.outcome(trace, profile))
    return result


def admitted_outcomes(sends: Sequence[Observation], env: Any, profile: str | Profile,
                      wait_replies: bool = True) -> tuple[set[tuple[str, ...]], bool]:
    """``tracecheck.admitted_outcomes``: every outcome the spec admits for
    these inputs (``wait_replies``: the driver waited for each reply before
    its next input), and whether the set is complete (the search bound was
    not reached)."""
    found = _TC.admitted_outcomes(sends, env, profile, wait_replies=wait_replies)
    result: set[tuple[str, ...]] = set(found)
    return result, bool(getattr(found, "complete", True))


def unsupported(verdict: Any) -> list[str]:
    """What the validator could not follow because it is beyond the
    profile's model (a report's UNSUPPORTED, not a FAIL)."""
    return list(getattr(verdict, "unsupported", []) or [])


def beyond(verdict: Any) -> list[str]:
    """What the trace showed beyond the seed's surface, as the profile
    declares it, set aside by the validator (reported UNSUPPORTED)."""
    return list(getattr(verdict, "beyond", []) or [])


def bounded(verdict: Any) -> bool:
    """The validator stopped at its search bound (the verdict is undecided)."""
    return bool(getattr(verdict, "bounded", False))
