"""Observations: what a client saw, in the format the trace validator reads.

One observation per command sent, reply, event, process start and exit, in
the order the driver recorded them (see ``brief``: per VM in wire order,
across VMs in causal order)::

    {"vm": "source", "send": {"execute": "migrate", "arguments": {...}}}
    {"vm": "source", "reply": {"return": {}}}
    {"vm": "source", "event": "MIGRATION", "data": {"status": "setup"}}
    {"vm": "destination", "exited": "exit status 1: <stderr tail>"}
    {"vm": "destination", "start": {"incoming": "defer", "paused": false}}
"""

from __future__ import annotations

from typing import Any

Observation = dict[str, Any]
Trace = list[Observation]

SOURCE = "source"
DESTINATION = "destination"


def send(vm: str, cmd: dict[str, Any]) -> Observation:
    """A command the driver sent (its ``id`` dropped)."""
    return {"vm": vm, "send": {k: v for k, v in cmd.items() if k != "id"}}


def reply(vm: str, msg: dict[str, Any]) -> Observation:
    """A reply (``return`` or ``error`` with class and desc; ``id`` dropped)."""
    if "error" in msg:
        err = msg["error"]
        return {"vm": vm, "reply": {"error": {"class": err.get("class"),
                                              "desc": err.get("desc")}}}
    return {"vm": vm, "reply": {"return": msg.get("return")}}


def event(vm: str, msg: dict[str, Any]) -> Observation:
    """An event (timestamp dropped; ``data`` only when the event had some)."""
    obs: Observation = {"vm": vm, "event": msg["event"]}
    if "data" in msg:
        obs["data"] = msg["data"]
    return obs


def start(vm: str, incoming: str | None, paused: bool) -> Observation:
    """A process started (``-incoming URI`` or none; ``-S`` or not)."""
    return {"vm": vm, "start": {"incoming": incoming, "paused": paused}}


def exited(vm: str, how: str) -> Observation:
    """The process ended by itself."""
    return {"vm": vm, "exited": how}


def as_script(trace: Trace, setup: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    """The trace as a ``migspec run`` script: its set-up, each start as an
    ``incoming`` (and ``-S`` as ``vm``) directive and each send as a command,
    so the observed run replays against the reference."""
    lines: list[dict[str, Any]] = list(setup)
    for obs in trace:
        vm = obs["vm"]
        if "start" in obs:
            st = obs["start"]
            if st["incoming"] is not None:
                lines.append({"migspec": "incoming", "uri": st["incoming"], "vm": vm})
                if st["paused"]:
                    lines.append({"migspec": "vm", "vm": vm, "autostart": False})
            elif st["paused"]:
                lines.append({"migspec": "vm", "vm": vm, "runstate": "prelaunch",
                              "autostart": False})
        elif "send" in obs:
            cmd = obs["send"]
            lines.append(cmd if vm == SOURCE else {"migspec": "qmp", "vm": vm, "command": cmd})
    return lines
