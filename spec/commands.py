"""The QMP commands of the seed and the argument signature QEMU 2.4 checks.

``args_type`` follows ``qmp-commands.hx`` of QEMU 2.4: the monitor checks
client arguments against it (``check_client_args_type`` in ``monitor.c``)
before the QAPI marshaller runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ArgType(StrEnum):
    """Argument kinds of ``args_type`` that the seed's commands use."""

    STRING = "s"
    INT = "i"
    OCTETS = "o"
    NUMBER = "T"
    BOOL = "-"
    ANY = "q"


@dataclass(frozen=True)
class ArgDecl:
    """One argument: its wire name, kind and whether it may be left out."""

    name: str
    kind: ArgType
    optional: bool = False


@dataclass(frozen=True)
class CommandDecl:
    """A QMP command: name, arguments, the seed lines of its handler."""

    name: str
    args: tuple[ArgDecl, ...]
    handler: str
    lines: str
    requirement: str
    #: Not in the seed: commands a management client needs beside it.
    extra: bool = False


_T = ArgType

COMMANDS: tuple[CommandDecl, ...] = (
    CommandDecl(
        "migrate",
        (
            ArgDecl("detach", _T.BOOL, True),
            ArgDecl("blk", _T.BOOL, True),
            ArgDecl("inc", _T.BOOL, True),
            ArgDecl("uri", _T.STRING),
        ),
        "qmp_migrate", "696-762", "MIG-MIGRATE-005",
    ),
    CommandDecl("migrate_cancel", (), "qmp_migrate_cancel", "764-767", "MIG-CANCEL-001"),
    CommandDecl(
        "migrate-incoming", (ArgDecl("uri", _T.STRING),), "qmp_migrate_incoming", "673-694",
        "MIG-INCOMING-010",
    ),
    CommandDecl(
        "migrate-set-capabilities", (ArgDecl("capabilities", _T.ANY),),
        "qmp_migrate_set_capabilities", "468-483", "MIG-CAPS-001",
    ),
    CommandDecl(
        "query-migrate-capabilities", (), "qmp_query_migrate_capabilities", "332-355",
        "MIG-CAPS-003",
    ),
    CommandDecl(
        "migrate-set-parameters",
        (
            ArgDecl("compress-level", _T.INT, True),
            ArgDecl("compress-threads", _T.INT, True),
            ArgDecl("decompress-threads", _T.INT, True),
        ),
        "qmp_migrate_set_parameters", "485-524", "MIG-PARAMS-001",
    ),
    CommandDecl(
        "query-migrate-parameters", (), "qmp_query_migrate_parameters", "357-370",
        "MIG-PARAMS-005",
    ),
    CommandDecl(
        "migrate-set-cache-size", (ArgDecl("value", _T.OCTETS),), "qmp_migrate_set_cache_size",
        "769-796", "MIG-CACHE-001",
    ),
    CommandDecl(
        "query-migrate-cache-size", (), "qmp_query_migrate_cache_size", "798-801",
        "MIG-CACHE-005",
    ),
    CommandDecl(
        "migrate_set_speed", (ArgDecl("value", _T.OCTETS),), "qmp_migrate_set_speed", "803-819",
        "MIG-SPEED-001",
    ),
    CommandDecl(
        "migrate_set_downtime", (ArgDecl("value", _T.NUMBER),), "qmp_migrate_set_downtime",
        "821-826", "MIG-DOWNTIME-001",
    ),
    CommandDecl("query-migrate", (), "qmp_query_migrate", "386-466", "MIG-QUERY-001"),
    # Beside the seed: what a management client uses around a migration.
    CommandDecl("query-status", (), "qmp_query_status", "qmp.c", "MIG-VM-001", extra=True),
    CommandDecl("stop", (), "qmp_stop", "qmp.c", "MIG-VM-002", extra=True),
    CommandDecl("cont", (), "qmp_cont", "qmp.c", "MIG-VM-003", extra=True),
    CommandDecl("qmp_capabilities", (), "qmp_capabilities", "monitor.c", "MIG-QMP-004",
                extra=True),
)

COMMAND_BY_NAME: dict[str, CommandDecl] = {c.name: c for c in COMMANDS}
