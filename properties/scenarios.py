"""Explorer scenarios: a set-up, what the client may send and how often, what
the environment may do, and the bounds. Part of the repository like a TLA+
model's configuration."""

from __future__ import annotations

from collections.abc import Callable
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
    """An environment event that may happen up to ``limit`` times: ``env``
    knobs, or (``values`` a ``{"migspec": "feed", ...}`` directive) a stream
    from a source the world does not model, enabled while the VM listens."""

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

#: Events on at both VMs, and a destination started with ``-incoming defer``
#: then told to listen.
EVENTS_ON_A_LISTENING_PAIR: Script = (
    _events("source"),
    {"migspec": "incoming", "uri": "defer"},
    _events("destination"),
    {"migspec": "qmp", "vm": "destination",
     "command": _qmp("migrate-incoming", uri="tcp:0:4444")},
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "migrate-cancel",
        "events on; migrate to a destination that accepts; one migrate_cancel at any point",
        SMALL_WORLD + EVENTS_ON_A_LISTENING_PAIR,
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
        "cancel-twice",
        "events on; a migration cancelled twice, the second cancel racing the first's "
        "cleanup (qemu-7.2 sends 'cancelling' again: QEMU72-CANCEL-AGAIN-EVENT)",
        SMALL_WORLD + (_events("source"),),
        (ClientAction("migrate", MIGRATE_EXEC), ClientAction("migrate_cancel", CANCEL, limit=2)),
        finds=("DEF-EVENT-ORDER",),
    ),
)


def _feed(label: str, limit: int = 1, **stream: Any) -> EnvAction:
    """A source the world does not model connects to the destination's listener
    and sends a stream (the ``feed`` directive, declared once: the explorer
    performs it and its counterexamples replay it as this very line)."""
    return EnvAction(label, {"migspec": "feed", **stream}, limit)


def _dest(cmd: dict[str, Any], label: str, limit: int = 1) -> ClientAction:
    return ClientAction(label, cmd, vm="destination", limit=limit)


#: A destination waiting with events on (its client can see every event:
#: ``-incoming defer``, so the 'setup' of migrate-incoming comes after the
#: client negotiated, MIG-EVENT-003), listening on tcp.
_DEST_TCP: Script = (
    {"migspec": "incoming", "uri": "defer"},
    _events("destination"),
    {"migspec": "qmp", "vm": "destination", "command": _qmp("migrate-incoming", uri="tcp:0:4444")},
)

#: What a source (honest, broken or hostile) can put in the global-state
#: section and where its stream can fail (MIG-DEST-001, MIG-DEST-002).
HOSTILE_STREAMS: tuple[EnvAction, ...] = (
    _feed("well-formed 'running'", outcome="complete", runstate="running"),
    _feed("well-formed 'paused'", outcome="complete", runstate="paused"),
    _feed("no section", outcome="complete", section=None),
    _feed("unknown name", outcome="complete", runstate="flying"),
    _feed("empty name", outcome="complete", section={"name": ""}),
    _feed("size disagrees", outcome="complete", section={"name": "paused", "size": 0}),
    _feed("99-byte name", outcome="complete", section={"name": "x" * 99}),
    _feed("100-byte name", outcome="complete", section={"name": "x" * 100}),
    _feed("101-byte name", outcome="complete", section={"name": "x" * 101}),
    _feed("name, NUL, then bytes beyond the buffer", outcome="complete",
          section={"name": "running" + "\0" * 93 + "xyz"}),
    *(_feed(f"'{name}'", outcome="complete", runstate=name) for name in (
        "debug", "inmigrate", "restore-vm", "save-vm", "prelaunch", "postmigrate",
        "shutdown", "finish-migrate")),
    _feed("fails before the section", outcome="fail", at="before", runstate="running"),
    _feed("fails inside the section", outcome="fail", at="section", runstate="running"),
    _feed("fails after the section", outcome="fail", at="after", runstate="running"),
)

STOP = _qmp("stop")
CONT = _qmp("cont")

SCENARIOS += (
    Scenario(
        "hostile-stream",
        "a destination listening with events on; one stream from a source it does not "
        "control, of every kind (MIG-DEST-001/002); stop and cont before or after it "
        "(-S and autostart); the disks may fail to re-open after the load (MIG-DEST-003)",
        _DEST_TCP,
        (_dest(STOP, "stop"), _dest(CONT, "cont")),
        (*HOSTILE_STREAMS,
         EnvAction("disks cannot be re-opened", {"invalidate_error": True})),
        finds=("DEF-INCOMING-DEBUG-ABORT", "DEF-INCOMING-PRELAUNCH-ABORT",
               "DEF-GLOBAL-STATE-UNTERMINATED", "DEF-INCOMING-INVALIDATE-EXIT"),
    ),
    Scenario(
        "debug-source",
        "a source stopped in the debugger ('debug') migrates to a destination",
        SMALL_WORLD + (
            {"migspec": "vm", "runstate": "debug"},
            {"migspec": "incoming", "uri": "tcp:0:4444"},
        ),
        (ClientAction("migrate", MIGRATE_TCP), ClientAction("migrate_cancel", CANCEL)),
        finds=("DEF-INCOMING-DEBUG-ABORT",),
    ),
    Scenario(
        "deferred-incoming-orders",
        "-incoming defer: migrate-incoming twice, stop and cont, in every order with two "
        "streams (running, paused) arriving at whatever listens (MIG-DEST-004)",
        ({"migspec": "incoming", "uri": "defer"}, _events("destination")),
        (
            _dest(_qmp("migrate-incoming", uri="tcp:0:4444"), "listen-tcp"),
            _dest(_qmp("migrate-incoming", uri="unix:/tmp/m"), "listen-unix"),
            _dest(STOP, "stop"),
            _dest(CONT, "cont"),
        ),
        (
            _feed("stream 'running'", outcome="complete", runstate="running"),
            _feed("stream 'paused'", outcome="complete", runstate="paused"),
        ),
        finds=("DEF-INCOMING-ONCE-NO-RETURN", "DEF-INCOMING-LOAD-RUNNING"),
    ),
    Scenario(
        "second-stream",
        "a real source migrates to a deferred destination that listens twice; then a "
        "second stream, from a paused source, reaches the running guest",
        SMALL_WORLD + (
            {"migspec": "incoming", "uri": "defer"},
            {"migspec": "qmp", "vm": "destination",
             "command": _qmp("migrate-incoming", uri="tcp:0:4444")},
            {"migspec": "qmp", "vm": "destination",
             "command": _qmp("migrate-incoming", uri="unix:/tmp/m")},
        ),
        (ClientAction("migrate", MIGRATE_TCP),),
        (_feed("stream 'paused'", outcome="complete", runstate="paused"),),
        finds=("DEF-INCOMING-ONCE-NO-RETURN", "DEF-INCOMING-LOAD-RUNNING"),
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


def full_surface(bound: int = 2) -> Scenario:
    """Every client and environment action of the smaller scenarios at once,
    on both sides, each repeated up to ``bound`` times where repetition means
    something: two VMs with events on, a deferred destination listening, and
    ``bound`` migrates (every connect outcome of a socket) and cancels, one
    events-off, one parameter change, a channel error and a file error after
    delivery."""
    if bound < 1:
        raise ValueError(f"full-surface: the bound must be at least 1, not {bound}")
    return Scenario(
        "full-surface",
        f"two VMs, up to {bound} migrates and {bound} cancels with every connect "
        "outcome, events off, a parameter change, a channel error and a file error",
        SMALL_WORLD + EVENTS_ON_A_LISTENING_PAIR,
        (
            ClientAction("migrate", MIGRATE_TCP, limit=bound,
                         connect=("immediate", "delayed", "delayed-refused")),
            ClientAction("migrate_cancel", CANCEL, limit=bound),
            ClientAction("events-off", _events("source", False)),
            ClientAction("set-parameters", _qmp("migrate-set-parameters", **{"compress-level": 9})),
        ),
        (
            EnvAction("channel_error", {"channel_error": True}),
            EnvAction("file error after delivery", {"completion_error": "file-after-delivery"}),
        ),
        max_states=50_000_000,
        notes={"bound": str(bound)},
    )


#: Scenarios with a size parameter (``migspec explore --bound K``), by name;
#: not among the default :data:`SCENARIOS`, which ``verify`` runs.
BOUNDED: dict[str, Callable[[int], Scenario]] = {"full-surface": full_surface}
