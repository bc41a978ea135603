"""pytest plugin: run migspec's property suites against any target.

Installed through the ``pytest11`` entry point (or loaded with
``-p migspec.properties.pytest_plugin``), it adds

- ``--migspec-target=MODULE:FACTORY``: a callable returning a
  :class:`~migspec.properties.targets.Target` (default: the reference engine,
  seed profile, ``migspec.properties.targets:reference_seed``);
- ``--migspec-hypothesis-profile=NAME``: ``ci`` (default), ``nightly``,
  ``dev`` or ``real`` (else ``$MIGSPEC_HYPOTHESIS_PROFILE``);
- the fixtures ``migspec_target_factory`` (the factory) and
  ``migspec_target`` (a fresh target from it).

Run the conformance suite against your own implementation::

    pytest --pyargs migspec.properties.conformance --migspec-target=mypkg.targets:make

The plugin imports nothing heavy until a fixture is used, so it costs
nothing in projects that never ask for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from migspec.properties.targets import Target, TargetFactory

DEFAULT_TARGET = "migspec.properties.targets:reference_seed"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("migspec", "migspec conformance suites")
    group.addoption(
        "--migspec-target",
        action="store",
        default=None,
        metavar="MODULE:FACTORY",
        help="target factory the migspec suites drive (a callable returning a "
        f"Target; default {DEFAULT_TARGET})",
    )
    group.addoption(
        "--migspec-hypothesis-profile",
        action="store",
        default=None,
        metavar="NAME",
        help="Hypothesis profile of the migspec suites: ci, nightly, dev or real "
        "(default: $MIGSPEC_HYPOTHESIS_PROFILE, else ci)",
    )


_FACTORY = pytest.StashKey["TargetFactory"]()


def pytest_configure(config: pytest.Config) -> None:
    """Make the chosen Hypothesis profile visible to the suites; refuse a
    ``--migspec-target`` that names no factory, or an unknown
    ``--migspec-hypothesis-profile``, as usage errors (nothing is imported
    unless one of the options is given)."""
    name = config.getoption("--migspec-hypothesis-profile", default=None)
    if name:
        from migspec.properties.hypothesis_profiles import selected

        try:
            selected(str(name))
        except ValueError as err:
            raise pytest.UsageError(f"--migspec-hypothesis-profile={name}: {err}") from None
        os.environ["MIGSPEC_HYPOTHESIS_PROFILE"] = str(name)
    spec = config.getoption("--migspec-target", default=None)
    if spec:
        from migspec.properties.targets import load_factory

        try:
            config.stash[_FACTORY] = load_factory(str(spec))
        except ValueError as err:
            raise pytest.UsageError(f"--migspec-target={spec}: {err}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    """Name the target in pytest's header when one was given."""
    spec = config.getoption("--migspec-target", default=None)
    return f"migspec target: {spec}" if spec else None


@pytest.fixture(scope="session")
def migspec_target_factory(request: pytest.FixtureRequest) -> TargetFactory:
    """The factory named by ``--migspec-target`` (the reference engine by
    default); each object it makes is checked against the Target protocol
    (:class:`~migspec.properties.targets.NotATarget` names what is missing)."""
    from migspec.properties.targets import checked, load_factory

    spec = request.config.getoption("--migspec-target", default=None) or DEFAULT_TARGET
    factory = request.config.stash.get(_FACTORY, None)
    if factory is None:
        factory = load_factory(str(spec))
    return checked(factory, f"--migspec-target={spec}")


@pytest.fixture
def migspec_target(migspec_target_factory: TargetFactory) -> Target:
    """A fresh target from the factory."""
    from migspec.properties.targets import NotATarget

    try:
        return migspec_target_factory()
    except NotATarget as err:
        problem = str(err)
    pytest.fail(problem, pytrace=False)
