"""The QMP monitor of each QEMU version a profile stands for: the greeting and
the capabilities negotiation (MIG-QMP-004, MIG-QMP-006).

One declaration per QEMU version; ``migspec serve`` speaks from it, the
generated QMP reference prints it. QEMU 2.4 (the seed's release) is read from
its ``monitor.c``: ``get_qmp_greeting`` builds ``{'QMP': {'version': %p,
'capabilities': []}}`` from ``query-version``; ``monitor_qmp_event`` puts a
new connection out of command mode (``in_command_mode = false``) and sends the
greeting; ``handle_qmp_command`` checks the input object, looks the command
up, then ``invalid_qmp_mode`` refuses any command but ``qmp_capabilities``
before negotiation and ``qmp_capabilities`` after it (class CommandNotFound,
both naming the command); ``monitor_qapi_event_emit`` sends events only to
monitors in command mode; ``monitor_json_emitter`` ends each message with a
newline that ``monitor_puts`` writes as ``\\r\\n``.

QEMU 7.2 (Debian 12, ``qemu-system-x86_64`` 1:7.2+dfsg-7+deb12u18) as observed
on the real binary: the greeting offers ``oob``, the mode is checked before
the command lookup, and neither negotiation error names the command.

The slot for another profile: add its :class:`MonitorDecl` to
:data:`MONITOR_BY_PROFILE` (a profile's module, such as ``spec/deviations.py``
for ``qemu-7.2``, may declare it; this table is where it is looked up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migspec.spec.errors import COMMAND_NOT_FOUND, ERROR_BY_KEY


@dataclass(frozen=True)
class MonitorDecl:
    """What a QMP client sees of one QEMU version's monitor before and around
    negotiation."""

    qemu: str
    #: ``query-version``'s ``qemu`` member: major, minor, micro.
    version: tuple[int, int, int]
    package: str
    #: The greeting's ``capabilities`` list.
    capabilities: tuple[str, ...]
    #: Error for a command before ``qmp_capabilities`` (``{0}``: the command).
    expecting: str
    #: Error for ``qmp_capabilities`` after negotiation (``{0}``: the command).
    already_complete: str
    #: Both negotiation errors have this class.
    error_class: str
    #: True when the mode is checked before the command lookup (so an
    #: unknown command before negotiation gets the negotiation error).
    mode_before_lookup: bool
    source: str

    def greeting(self) -> dict[str, Any]:
        """The first message of every connection, in QEMU's member order."""
        major, minor, micro = self.version
        return {"QMP": {"version": {"qemu": {"micro": micro, "minor": minor, "major": major},
                                    "package": self.package},
                        "capabilities": list(self.capabilities)}}


QEMU_2_4 = MonitorDecl(
    qemu="2.4.0",
    version=(2, 4, 0),
    package="",
    capabilities=(),
    expecting=ERROR_BY_KEY["negotiation_expected"].template,
    already_complete=ERROR_BY_KEY["negotiation_complete"].template,
    error_class=COMMAND_NOT_FOUND,
    mode_before_lookup=False,
    source="monitor.c of QEMU 2.4: get_qmp_greeting, monitor_qmp_event, handle_qmp_command, "
           "invalid_qmp_mode",
)

QEMU_7_2 = MonitorDecl(
    qemu="7.2",
    version=(7, 2, 22),
    package="Debian 1:7.2+dfsg-7+deb12u18+b3",
    capabilities=("oob",),
    expecting="Expecting capabilities negotiation with 'qmp_capabilities'",
    already_complete="Capabilities negotiation is already complete, command ignored",
    error_class=COMMAND_NOT_FOUND,
    mode_before_lookup=True,
    source="observed on Debian 12's qemu-system-x86_64 -machine none (monitor/qmp.c)",
)

#: Profile name -> its monitor. A profile not listed speaks as QEMU 2.4.
MONITOR_BY_PROFILE: dict[str, MonitorDecl] = {
    "seed": QEMU_2_4,
    "fixed": QEMU_2_4,
    # The qemu-7.2 profile (spec/deviations.py once merged) speaks as 7.2.
    "qemu-7.2": QEMU_7_2,
}


def monitor_for(profile: str) -> MonitorDecl:
    """The monitor a profile speaks with (QEMU 2.4's unless declared)."""
    return MONITOR_BY_PROFILE.get(profile, QEMU_2_4)
