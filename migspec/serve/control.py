"""The ``x-migspec-*`` QMP commands of ``migspec serve``: the control plane a
test uses to inject faults, choose schedules and move virtual time.

Declared once here: the server dispatches from :data:`CONTROL_COMMANDS`, and
the generated QMP reference (``migspec docs``, ``docs/reference/qmp.md``)
lists them. Each maps onto a directive of ``migspec run`` scripts
(``reference/script.py``), whose checking it reuses: the command's
``arguments`` become the directive's keys, and ``vm`` defaults to the VM of
the endpoint the command came in on. ``--no-control`` turns them all off
(they are then unknown commands, as on a real QEMU).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControlDecl:
    """One control command."""

    name: str
    #: The ``migspec run`` directive it runs (None: the server's own).
    directive: str | None
    arguments: str
    returns: str
    what: str
    requirement: str


CONTROL_COMMANDS: tuple[ControlDecl, ...] = (
    ControlDecl(
        "x-migspec-env", "env", "any knob of the `env` directive",
        "`{}`",
        "changes environment knobs shared by all VMs: `connect` (`auto`, `immediate`, "
        "`refused`, `delayed`, `delayed-refused`), `connect_delay_ms`, `connect_error`, "
        "`channel_error`, `completion_error`, `dirty_rate`, `bandwidth`, `ram_bytes`, "
        "`setup_ms`, `device_bytes`, `instant`",
        "MIG-FDERROR-001",
    ),
    ControlDecl(
        "x-migspec-vm", "vm", "vm?, runstate?, autostart?, global_state_optional?, "
        "blockers?, unmigratable?, fds?", "`{}`",
        "configures a VM as the `vm` directive does (run state, blockers, file descriptors)",
        "MIG-BLOCKER-001",
    ),
    ControlDecl(
        "x-migspec-advance", "advance", "ms", "`{}`",
        "lets `ms` milliseconds of virtual time pass with every actor running (except held "
        "ones); with `--manual-time` the only way time passes",
        "MIG-QMP-006",
    ),
    ControlDecl(
        "x-migspec-settle", "settle", "max_ms?", "`{}` or the `settle` notice",
        "runs every actor (except held ones) until nothing can move, as the `settle` "
        "directive; the clock jumps ahead to where that happened",
        "MIG-QMP-006",
    ),
    ControlDecl(
        "x-migspec-step", "step", "vm?, actor?, task?, until?", "`{}`",
        "runs one step of an actor, as the `step` directive; with `until` (a thread program "
        "counter: `begin`, `setup_cas`, `emit`, `loop_check`, `iterate`, `complete`, "
        "`after_complete`, `errcheck`, `final`) it runs the VM's migration thread until that "
        "region is next and then holds it there until `x-migspec-release`",
        "MIG-QMP-006",
    ),
    ControlDecl(
        "x-migspec-hold", None, "vm?, until", "`{}`",
        "a hold point: the VM's migration thread stops when `until` is its next region and "
        "stays there (the rest of the world goes on) until `x-migspec-release`; e.g. hold "
        "`after_complete` so a `migrate_cancel` arrives between the completion and its state "
        "change",
        "MIG-QMP-006",
    ),
    ControlDecl(
        "x-migspec-release", None, "vm?", "`{}`",
        "removes the VM's hold point; the thread runs on as time passes",
        "MIG-QMP-006",
    ),
    ControlDecl(
        "x-migspec-reset", None, "-", "`{}`",
        "a fresh world as the server started it (profile, `--pair` destination with its "
        "`--incoming`, `--env` knobs, `--hold` points, clock at 0), for a server shared by "
        "several tests; connections stay open and negotiated, and one still waiting for a "
        "main loop of the old world is closed",
        "MIG-QMP-006",
    ),
    ControlDecl(
        "x-migspec-trace", "trace", "vm?", "list of trace entries",
        "the VM's internal trace since the last call (state changes with their trigger, "
        "notifier calls), then clears it",
        "MIG-QMP-006",
    ),
)

CONTROL_BY_NAME: dict[str, ControlDecl] = {c.name: c for c in CONTROL_COMMANDS}
