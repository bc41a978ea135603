"""URI schemes of outgoing (lines 736-755) and incoming (lines 236-260) migration.

Which schemes exist depends on how QEMU was built: ``rdma:`` only with
CONFIG_RDMA, ``exec:``, ``unix:`` and ``fd:`` never on Windows. The build is
configuration (:class:`BuildConfig`), not a constant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildConfig:
    """The compile-time switches the seed's ``#ifdef`` blocks read."""

    config_rdma: bool = False
    win32: bool = False


@dataclass(frozen=True)
class SchemeDecl:
    """A URI prefix and the build switches it needs."""

    prefix: str
    needs_rdma: bool
    posix_only: bool
    outgoing_lines: str
    incoming_lines: str


#: In the seed's order of ``strstart`` tests; the first match wins.
SCHEMES: tuple[SchemeDecl, ...] = (
    SchemeDecl("tcp:", False, False, "736-737", "243-244"),
    SchemeDecl("rdma:", True, False, "738-741", "245-248"),
    SchemeDecl("exec:", False, True, "742-744", "249-251"),
    SchemeDecl("unix:", False, True, "745-746", "252-253"),
    SchemeDecl("fd:", False, True, "747-749", "254-256"),
)

#: ``-incoming defer`` / ``migrate-incoming defer`` (line 241).
DEFER = "defer"


def enabled_schemes(build: BuildConfig) -> tuple[str, ...]:
    """The scheme prefixes compiled in under ``build``."""
    return tuple(
        s.prefix
        for s in SCHEMES
        if (build.config_rdma or not s.needs_rdma) and not (build.win32 and s.posix_only)
    )
