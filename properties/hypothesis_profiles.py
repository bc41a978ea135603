"""Hypothesis settings profiles of the property suites.

- ``ci``: fixed example counts and ``derandomize=True``, so every CI run
  generates the same sequences (and the rule-coverage test is stable);
- ``nightly``: many more and longer random runs, with the example database;
- ``dev``: a quick derandomized smoke run (the plugin's own test uses it);
- ``real``: ``ci`` made smaller for real targets (a launched QEMU), whose
  steps take real time: 100 examples of 40 steps, derandomized, no shrinking
  (a real run is not replayable step for step; the failing example is
  reported as found). About 100 s against Debian 12's QEMU 7.2 on 2 cores,
  where ``ci`` takes about 250 s.

Suites pick the profile named by the environment variable
``MIGSPEC_HYPOTHESIS_PROFILE`` (default ``ci``) through :func:`load`, which
returns the settings without changing Hypothesis's global default, so other
tests in the same session are unaffected.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

CI = "ci"
NIGHTLY = "nightly"
DEV = "dev"
REAL = "real"
ENV_VAR = "MIGSPEC_HYPOTHESIS_PROFILE"
PREFIX = "migspec-"

#: Health checks that do not fit stateful runs against a process: steps take
#: real time and the rule arguments are mostly sampled from fixed domains.
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]

PROFILES: dict[str, settings] = {
    CI: settings(
        max_examples=250,
        stateful_step_count=50,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=_SUPPRESSED,
    ),
    NIGHTLY: settings(
        max_examples=5000,
        stateful_step_count=100,
        derandomize=False,
        deadline=None,
        print_blob=True,
        suppress_health_check=_SUPPRESSED,
    ),
    DEV: settings(
        max_examples=40,
        stateful_step_count=40,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=_SUPPRESSED,
    ),
    REAL: settings(
        max_examples=100,
        stateful_step_count=40,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=_SUPPRESSED,
    ),
}

#: What the benchmark runs: long examples, generation only (nothing fails).
BENCHMARK = settings(
    max_examples=20,
    stateful_step_count=200,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=_SUPPRESSED,
)


def register() -> None:
    """Register the profiles with Hypothesis as ``migspec-ci`` and so on
    (``--hypothesis-profile=migspec-nightly`` then works too)."""
    for name, profile in PROFILES.items():
        settings.register_profile(PREFIX + name, profile)


def selected(name: str | None = None) -> str:
    """The profile to use: ``name``, else ``$MIGSPEC_HYPOTHESIS_PROFILE``, else ci."""
    chosen = name or os.environ.get(ENV_VAR) or CI
    if chosen.startswith(PREFIX):
        chosen = chosen[len(PREFIX):]
    if chosen not in PROFILES:
        raise ValueError(
            f"unknown Hypothesis profile {chosen!r} (known: {', '.join(sorted(PROFILES))})"
        )
    return chosen


def load(name: str | None = None) -> settings:
    """The settings of the selected profile."""
    return PROFILES[selected(name)]


register()
