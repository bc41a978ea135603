"""Explorer scenarios: a set-up, what the client may send and how often, what
the environment may do, and the bounds. Part of the repository like a TLA+
model's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Script = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ClientAction:
    """A QMP command the client may send up to ``limit`` times, at any point at
    which the VM's main loop is free. For ``migrate``, ``connect`` lists the
    connect outcomes to branch over."""

    label: str
    command: dict[str, Any]
    vm: str = "source"
    limit: int = 1
    connect: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvAction:
    """An environment event (``env`` knobs) that may happen up to ``limit`` times."""

    label: str
    values: dict[str, Any]
    limit: int = 1


@dataclass(frozen=True)
class Scenario:
    """One bounded model-checking configuration."""

    name: str
    description: str
    setup: Script
    client: tuple[ClientAction, ...]
    env: tuple[EnvAction, ...] = ()
    #: Witness properties this scenario must reach.
    witnesses: tuple[str, ...] = ()
    max_states: int = 300_000
    #: Seed defects taken as repaired in every profile, to isolate another one.
    assume_repaired: tuple[str, ...] = ()
    #: Seed defects the seed profile must show here (predicted by reading the seed).
    finds: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)


def _qmp(execute: str, **arguments: Any) -> dict[str, Any]:
    cmd: dict[str, Any] = {"execute": execute}
    if arguments:
        cmd["arguments"] = arguments
    return cmd


def _events(vm: str, on: bool = True) -> dict[str, Any]:
    cmd = _qmp("migrate-set-capabilities", capabilities=[{"capability": "events", "state": on}])
    return cmd if vm == "source" else {"migspec": "qmp", "vm": vm, "command": cmd}


#: A tiny guest on an instant channel without rate limit: a migration is a
#: handful of thread steps and time never has to pass.
SMALL_WORLD: Script = (
    {"migspec": "env", "ram_bytes": 8192, "instant": True},
    _qmp("migrate_set_speed", value=0),
)

MIGRATE_TCP = _qmp("migrate", uri="tcp:127.0.0.1:4444")
MIGRATE_EXEC = _qmp("migrate", uri="exec:cat > /dev/null")
CANCEL = _qmp("migrate_cancel")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "migrate-cancel",
        "events on; migrate to a destination that accepts; one migrate_cancel at any point",
        SMALL_WORLD + (
            _events("source"),
            {"migspec": "incoming", "uri": "defer"},
            _events("destination"),
            {"migspec": "qmp", "vm": "destination",
             "command": _qmp("migrate-incoming", uri="tcp:0:4444")},
        ),
        (ClientAction("migrate", MIGRATE_TCP), ClientAction("migrate_cancel", CANCEL)),
        finds=("DEF-EVENT-ORDER", "DEF-SPLIT-BRAIN"),
    ),
    Scenario(
        "cancel-connect",
        "a cancel against every connect outcome of a socket transport",
        SMALL_WORLD + (_events("source"),),
        (
            ClientAction("migrate", MIGRATE_TCP,
                         connect=("immediate", "refused", "delayed", "delayed-refused")),
            ClientAction("migrate_cancel", CANCEL),
        ),
        finds=("DEF-CANCEL-CONNECT-STUCK", "DEF-EVENT-ORDER"),
    ),
    Scenario(
        "completion-race",
        "events on, a destination; a cancel and a file error racing completion",
        SMALL_WORLD + (
            _events("source"),
            {"migspec": "incoming", "uri": "defer"},
            {"migspec": "qmp", "vm": "destination",
             "command": _qmp("migrate-incoming", uri="tcp:0:4444")},
        ),
        (ClientAction("migrate", MIGRATE_TCP), ClientAction("migrate_cancel", CANCEL)),
        (
            EnvAction("file error after delivery", {"completion_error": "file-after-delivery"}),
            EnvAction("vm stop fails", {"completion_error": "vm-stop"}),
        ),
        witnesses=("MIG-WITNESS-001", "MIG-WITNESS-002"),
        finds=("DEF-EVENT-ORDER", "DEF-SPLIT-BRAIN"),
    ),
    Scenario(
        "migrate-twice",
        "two migrate commands, a cancel and a channel error",
        SMALL_WORLD + (_events("source"),),
        (
            ClientAction("migrate", MIGRATE_EXEC, limit=2),
            ClientAction("migrate_cancel", CANCEL),
        ),
        (EnvAction("channel_error", {"channel_error": True}),),
        finds=("DEF-EVENT-ORDER", "DEF-MIGRATE-BEFORE-CLEANUP"),
    ),
    Scenario(
        "settings-during-migration",
        "capabilities, parameters, speed and downtime change around a cancelled migration",
        SMALL_WORLD + (_events("source"),),
        (
            ClientAction("migrate", MIGRATE_EXEC),
            ClientAction("migrate to an unknown scheme", _qmp("migrate", uri="gopher:x")),
            ClientAction("migrate_cancel", CANCEL),
            ClientAction("events-off", _events("source", False)),
            ClientAction("set-parameters", _qmp("migrate-set-parameters", **{"compress-level": 9})),
        ),
        finds=("DEF-EVENT-ORDER", "DEF-CAPS-WHILE-CANCELLING", "DEF-MIGRATE-BEFORE-CLEANUP"),
    ),
    Scenario(
        "never-started-guest",
        "a guest that never ran (prelaunch) migrates to a destination",
        SMALL_WORLD + (
            {"migspec": "vm", "runstate": "prelaunch"},
            {"migspec": "incoming", "uri": "tcp:0:4444"},
        ),
        (ClientAction("migrate", MIGRATE_TCP), ClientAction("migrate_cancel", CANCEL)),
        finds=("DEF-INCOMING-PRELAUNCH-ABORT",),
    ),
    Scenario(
        "stopped-guest-retry",
        "a paused guest, a completion that may fail, and a second migrate",
        SMALL_WORLD + ({"migspec": "vm", "runstate": "paused"}, _events("source")),
        (ClientAction("migrate", MIGRATE_EXEC, limit=2),),
        (EnvAction("file error before delivery",
                   {"completion_error": "file-before-delivery"}),),
        assume_repaired=("DEF-MIGRATE-BEFORE-CLEANUP",),
        finds=("DEF-FAILED-STOPPED-ABORT",),
    ),
    Scenario(
        "incoming-defer",
        "a deferred destination told to listen twice",
        ({"migspec": "incoming", "uri": "defer"},),
        (
            ClientAction("listen-tcp", _qmp("migrate-incoming", uri="tcp:0:4444"),
                         vm="destination"),
            ClientAction("listen-unix", _qmp("migrate-incoming", uri="unix:/tmp/m"),
                         vm="destination"),
        ),
        finds=("DEF-INCOMING-ONCE-NO-RETURN",),
    ),
    Scenario(
        "speed-below-ratio",
        "a speed of 5 B/s set before or during a migration (MIG-SAFETY-010)",
        SMALL_WORLD,
        (
            ClientAction("migrate", MIGRATE_EXEC),
            ClientAction("speed-5", _qmp("migrate_set_speed", value=5)),
        ),
        finds=("DEF-SPEED-BELOW-RATIO-UNLIMITED",),
    ),
)

SCENARIO_BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}
