"""The QMP front: command objects in, replies out, as QEMU 2.4 answers.

Checks run in QEMU's order: the input object (``qmp_check_input_obj``), the
command name, the arguments against the command's ``args_type``
(``check_client_args_type`` and ``check_mandatory_args`` in ``monitor.c``),
the QAPI visitor's checks of nested values, then the handler.
"""

from __future__ import annotations

from typing import Any

from migspec.reference.handlers import HANDLERS, QmpError
from migspec.reference.vm import VM
from migspec.reference.wire import has_nan, qobject_number
from migspec.reference.world import World
from migspec.spec import constants as C
from migspec.spec.capabilities import Capability
from migspec.spec.commands import COMMAND_BY_NAME, ArgType, CommandDecl

Reply = dict[str, Any]

_EXPECTED = {
    ArgType.STRING: "string",
    ArgType.INT: "int",
    ArgType.OCTETS: "int",
    ArgType.NUMBER: "number",
    ArgType.BOOL: "bool",
}


#: Argument value types that cannot hold a NaN.
_PLAIN = (str, int, bool)


def _is_qint(value: Any) -> bool:
    """A JSON integer QEMU parses as QInt (larger ones become QFloat)."""
    return type(value) is int and C.INT64_MIN <= value <= C.INT64_MAX


def _type_ok(kind: ArgType, value: Any) -> bool:
    if kind is ArgType.STRING:
        return isinstance(value, str)
    if kind is ArgType.INT or kind is ArgType.OCTETS:
        return _is_qint(value)
    if kind is ArgType.NUMBER:
        return type(value) is int or type(value) is float
    if kind is ArgType.BOOL:
        return isinstance(value, bool)
    return True


def _capabilities(value: Any) -> list[tuple[Capability, bool]]:
    """The strict QAPI input visitor over ``MigrationCapabilityStatusList``: a
    missing member is reported as a value of the wrong type."""
    if not isinstance(value, list):
        raise QmpError("invalid_parameter_type", "capabilities", "list")
    caps: list[tuple[Capability, bool]] = []
    for item in value:
        if not isinstance(item, dict):
            raise QmpError("invalid_parameter_type", "null", "QDict")
        name = item.get("capability")
        if not isinstance(name, str):
            raise QmpError("invalid_parameter_type", "capability", "string")
        try:
            cap = Capability(name)
        except ValueError:
            raise QmpError("invalid_parameter", name) from None
        state = item.get("state")
        if not isinstance(state, bool):
            raise QmpError("invalid_parameter_type", "state", "boolean")
        for key in item:
            if key not in ("capability", "state"):
                raise QmpError("extra_member", key)
        caps.append((cap, state))
    return caps


class InputObjectError(QmpError):
    """Refused before the monitor read the command's ``id``."""


_InputObjectError = InputObjectError


def check_input_object(cmd: Any) -> str:
    """``qmp_check_input_obj`` (monitor.c): the command name, or
    :class:`InputObjectError` (whose reply carries no ``id``)."""
    if not isinstance(cmd, dict):
        raise _InputObjectError("bad_input_object", "object")
    for key, value in cmd.items():
        if key == "execute":
            if not isinstance(value, str):
                raise _InputObjectError("bad_input_member", "execute", "string")
        elif key == "arguments":
            if not isinstance(value, dict):
                raise _InputObjectError("bad_input_member", "arguments", "object")
        elif key != "id":
            raise _InputObjectError("extra_member", key)
    if "execute" not in cmd:
        raise _InputObjectError("bad_input_object", "execute")
    name: str = cmd["execute"]
    return name


def check(cmd: Any) -> tuple[CommandDecl, dict[str, Any]]:
    """Validate a command object; the command and its converted arguments."""
    name = check_input_object(cmd)
    decl = COMMAND_BY_NAME.get(name)
    if decl is None:
        raise QmpError("command_not_found", name)
    raw: dict[str, Any] = {k: qobject_number(v) for k, v in cmd.get("arguments", {}).items()}
    if not all(type(v) in _PLAIN for v in raw.values()) and has_nan(raw):
        raise _InputObjectError("json_parsing")
    # check_mandatory_args, then check_client_args_type (monitor.c).
    for arg in decl.args:
        if not arg.optional and arg.name not in raw:
            raise QmpError("missing_parameter", arg.name)
    if not raw:
        return decl, raw
    by_name = {a.name: a for a in decl.args}
    for key, value in raw.items():
        given = by_name.get(key)
        if given is None:
            raise QmpError("invalid_parameter", key)
        if not _type_ok(given.kind, value):
            raise QmpError("invalid_parameter_type", key, _EXPECTED[given.kind])
    if name == "migrate-set-capabilities":
        return decl, {"capabilities": _capabilities(raw["capabilities"])}
    return decl, raw


def dispatch(world: World, vm: VM, cmd: Any) -> Reply:
    """Check and run one command on ``vm``'s main loop; the reply.

    A :class:`~migspec.reference.world.Crash` propagates: the process died
    and sends no reply.
    """
    try:
        decl, args = check(cmd)
        value = HANDLERS[decl.name](world, vm, args)
        reply: Reply = {"return": {} if value is None else value}
    except _InputObjectError as err:
        return {"error": {"class": err.error_class, "desc": err.desc}}
    except QmpError as err:
        reply = {"error": {"class": err.error_class, "desc": err.desc}}
    if "id" in cmd:
        reply["id"] = cmd["id"]
    return reply


def run_queued(world: World, vm: VM) -> None:
    """The main loop handles the oldest submitted command."""
    cmd = vm.queue.pop(0)
    world.log.append((vm.name, dispatch(world, vm, cmd)))
