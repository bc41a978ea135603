"""The QMP front: command objects in, replies out, as QEMU 2.4 answers.

Checks run in QEMU's order: the input object (``qmp_check_input_obj``), the
command name, the arguments against the command's ``args_type``
(``check_client_args_type`` and ``check_mandatory_args`` in ``monitor.c``),
the QAPI visitor's checks of nested values, then the handler.
"""

from __future__ import annotations

from typing import Any

from migspec.reference.handlers import HANDLERS, QmpError, Unsupported
from migspec.reference.profiles import SEED, Profile
from migspec.reference.vm import VM
from migspec.reference.wire import WideInt, echoed, has_nan, qobject_number
from migspec.reference.world import World
from migspec.spec import constants as C
from migspec.spec.capabilities import Capability
from migspec.spec.commands import COMMAND_BY_NAME, ArgDecl, ArgType, CommandDecl
from migspec.spec.deviations import (
    MOVED_PARAMETERS,
    QEMU72_MEMBER_ORDER,
    QEMU72_UINT8_PARAMETERS,
    REMOVED_COMMANDS,
)

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
        return type(value) is int or isinstance(value, float)
    if kind is ArgType.BOOL:
        return isinstance(value, bool)
    return True


def _capabilities(value: Any, profile: Profile = SEED) -> list[tuple[Capability, bool]]:
    """The strict QAPI input visitor over ``MigrationCapabilityStatusList``: a
    missing member is reported as a value of the wrong type (QEMU 7.2: as
    missing, with the member's path, QEMU72-QMP-MEMBER-PATHS)."""
    paths = profile.deviates("QEMU72-QMP-MEMBER-PATHS")
    if not isinstance(value, list):
        raise QmpError("invalid_parameter_type", "capabilities",
                       "array" if profile.deviates("QEMU72-QMP-TYPE-NAMES") else "list")
    caps: list[tuple[Capability, bool]] = []
    for index, item in enumerate(value):
        at = f"capabilities[{index}]."
        if not isinstance(item, dict):
            if paths:
                raise QmpError("invalid_parameter_type", at[:-1], "object")
            raise QmpError("invalid_parameter_type", "null", "QDict")
        name = item.get("capability")
        if paths and "capability" not in item:
            raise QmpError("missing_parameter", at + "capability")
        if not isinstance(name, str):
            raise QmpError("invalid_parameter_type", at * paths + "capability", "string")
        beyond = profile.beyond is not None and name in profile.beyond.capabilities
        if not beyond and name not in _CAPABILITY_NAMES:
            if profile.deviates("QEMU72-CAPS-UNKNOWN-TEXT"):
                raise QmpError("enum_value", "capability", name)
            raise QmpError("invalid_parameter", name)
        state = item.get("state")
        if paths and "state" not in item:
            raise QmpError("missing_parameter", at + "state")
        if not isinstance(state, bool):
            raise QmpError("invalid_parameter_type", at * paths + "state", "boolean")
        for key in item:
            if key not in ("capability", "state"):
                if paths:
                    raise QmpError("unexpected_parameter", at + key)
                raise QmpError("extra_member", key)
        if beyond:
            if state:
                raise Unsupported(f"capability {name!r} of {profile.name} is beyond the seed")
            continue  # off, as it is by default: nothing the engine models changes
        caps.append((Capability(name), state))
    return caps


_CAPABILITY_NAMES = frozenset(c.value for c in Capability)


def _command(name: str, profile: Profile) -> CommandDecl:
    """The declaration of command ``name`` in ``profile``: CommandNotFound for
    an unknown one or one the profile removed (REMOVED_COMMANDS); Unsupported
    for one its implementation has beyond the seed."""
    decl = COMMAND_BY_NAME.get(name)
    removed = REMOVED_COMMANDS.get(name)
    if decl is not None and (removed is None or not profile.deviates(removed)):
        return decl
    if profile.beyond is not None and name in profile.beyond.commands:
        raise Unsupported(f"command {name!r} of {profile.name} is beyond the seed")
    raise QmpError("command_not_found", name)


def _qapi_arguments(
    decl: CommandDecl, raw: dict[str, Any], profile: Profile
) -> dict[str, Any]:
    """QEMU 7.2's QAPI input visitor (QEMU72-QMP-MEMBER-ORDER): the members in
    the command's QAPI order, then any unknown member."""
    by_name: dict[str, ArgDecl | None] = {a.name: a for a in decl.args}
    order = QEMU72_MEMBER_ORDER.get(decl.name, tuple(by_name))
    if decl.name == "migrate-set-parameters":
        moved = {m.name for m in MOVED_PARAMETERS if profile.deviates(m.deviation)}
        order = tuple(n for n in order if n in by_name or n in moved)
    out: dict[str, Any] = {}
    for name in order:
        arg = by_name.get(name)
        if name not in raw:
            if arg is not None and not arg.optional:
                raise QmpError("missing_parameter", name)
            continue
        out[name] = _qapi_value(name, arg, raw[name], profile)
    beyond = profile.beyond
    for key in raw:
        if key in order:
            continue
        if beyond is not None and (
            (decl.name, key) in beyond.arguments
            or (decl.name == "migrate-set-parameters" and key in beyond.parameters)
        ):
            raise Unsupported(f"argument {key!r} of {decl.name} in {profile.name} is beyond "
                              "the seed")
        if profile.deviates("QEMU72-QMP-EXTRA-MEMBER-TEXT"):
            raise QmpError("unexpected_parameter", key)
        raise QmpError("invalid_parameter", key)
    return out


def _qapi_value(name: str, arg: ArgDecl | None, value: Any, profile: Profile) -> Any:
    """One member through QEMU 7.2's visitor; integers (the migration
    parameters) are uint8 or uint64, and a negative one wraps."""
    kind = arg.kind if arg is not None else ArgType.INT
    if kind is ArgType.BOOL and not isinstance(value, bool):
        raise QmpError("invalid_parameter_type", name,
                       "boolean" if profile.deviates("QEMU72-QMP-TYPE-NAMES") else "bool")
    if kind in (ArgType.INT, ArgType.OCTETS):
        if not (type(value) is int and C.INT64_MIN <= value <= C.UINT64_MAX):
            if profile.deviates("QEMU72-QMP-INT-TYPE-TEXT"):
                raise QmpError("param_range", name, "uint64")
            raise QmpError("invalid_parameter_type", name, "int")
        value %= 1 << 64
        if name in QEMU72_UINT8_PARAMETERS and value > 0xFF and profile.deviates(
            "QEMU72-PARAM-UINT8"
        ):
            raise QmpError("param_range", name, "uint8_t")
    elif not _type_ok(kind, value):
        raise QmpError("invalid_parameter_type", name, _EXPECTED[kind])
    return value


class InputObjectError(QmpError):
    """Refused before the monitor read the command's ``id``."""


_InputObjectError = InputObjectError


def _qdict_bucket(key: str) -> int:
    """The bucket of ``key`` in a QDict: ``tdb_hash(key) % QDICT_BUCKET_MAX``
    (qobject/qdict.c:35-47, 120 of QEMU 7.2)."""
    data = key.encode("utf-8")
    value = (0x238F13AF * len(data)) & 0xFFFFFFFF
    for i, byte in enumerate(data):
        value = (value + (byte << (i * 5 % 24))) & 0xFFFFFFFF
    return ((1103515243 * value + 12345) & 0xFFFFFFFF) % 512


def qdict_order(keys: Any) -> list[str]:
    """The members of a parsed object in QDict iteration order: by bucket, and
    in a bucket the last inserted first (QLIST_INSERT_HEAD, qdict.c:129)."""
    listed = list(keys)
    return sorted(listed, key=lambda k: (_qdict_bucket(k), -listed.index(k)))


def check_input_object(cmd: Any, profile: Profile = SEED) -> str:
    """``qmp_check_input_obj`` (monitor.c): the command name, or
    :class:`InputObjectError` (whose reply carries no ``id``). QEMU 7.2
    (QEMU72-QMP-INPUT-OBJECT) has its own texts and visits the members in
    QDict order (``qmp_dispatch_check_obj``, qapi/qmp-dispatch.c:44-90)."""
    v72 = profile.deviates("QEMU72-QMP-INPUT-OBJECT")
    if not isinstance(cmd, dict):
        raise _InputObjectError("input_not_object_72" if v72 else "bad_input_object", "object")
    for key in qdict_order(cmd) if v72 else cmd:
        value = cmd[key]
        if key == "execute":
            if not isinstance(value, str):
                if v72:
                    raise _InputObjectError("input_member_string_72", "execute")
                raise _InputObjectError("bad_input_member", "execute", "string")
        elif key == "arguments":
            if not isinstance(value, dict):
                if v72:
                    raise _InputObjectError("input_arguments_72")
                raise _InputObjectError("bad_input_member", "arguments", "object")
        elif key != "id":
            raise _InputObjectError("input_unexpected_72" if v72 else "extra_member", key)
    if "execute" not in cmd:
        raise _InputObjectError("input_lacks_execute_72" if v72 else "bad_input_object",
                                "execute")
    name: str = cmd["execute"]
    return name


def _literal(value: Any, profile: Profile) -> Any:
    """An argument as the profile's JSON parser hands it on: QEMU 2.4 makes an
    integer beyond int64 a double (:func:`qobject_number`); QEMU 7.2 keeps one
    up to 2^64-1 as a uint64 (QEMU72-QMP-UINT64-LITERAL, qobject/json-parser.c)."""
    if profile.deviates("QEMU72-QMP-UINT64-LITERAL"):
        if isinstance(value, WideInt):
            return value.exact
        if type(value) is int and C.INT64_MAX < value <= C.UINT64_MAX:
            return value
    return qobject_number(value)


def check(cmd: Any, profile: Profile = SEED) -> tuple[CommandDecl, dict[str, Any]]:
    """Validate a command object; the command and its converted arguments."""
    name = check_input_object(cmd, profile)
    decl = _command(name, profile)
    raw: dict[str, Any] = {k: _literal(v, profile) for k, v in cmd.get("arguments", {}).items()}
    if not all(type(v) in _PLAIN for v in raw.values()) and has_nan(raw):
        raise _InputObjectError("json_parsing")
    if profile.deviates("QEMU72-QMP-MEMBER-ORDER"):
        args = _qapi_arguments(decl, raw, profile)
        if name == "migrate-set-capabilities":
            return decl, {"capabilities": _capabilities(args["capabilities"], profile)}
        return decl, args
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
        decl, args = check(cmd, world.profile)
        value = HANDLERS[decl.name](world, vm, args)
        reply: Reply = {"return": {} if value is None else value}
    except _InputObjectError as err:
        reply = {"error": {"class": err.error_class, "desc": err.desc}}
        # QEMU 7.2 echoes the id of any object (qapi/qmp-dispatch.c:157, 292-294)
        if not (world.profile.deviates("QEMU72-QMP-INPUT-OBJECT")
                and isinstance(cmd, dict) and err.key != "json_parsing"):
            return reply
    except QmpError as err:
        reply = {"error": {"class": err.error_class, "desc": err.desc}}
    if "id" in cmd:
        reply["id"] = echo_id(cmd["id"], world.profile)
    return reply


def echo_id(ident: Any, profile: Profile) -> Any:
    """A command's ``id`` as the profile's monitor echoes it (MIG-QMP-007):
    its doubles printed by the profile's JSON writer."""
    return echoed(ident, profile.repairs("DEF-QMP-DOUBLE-FORMAT"),
                  profile.deviates("QEMU72-QMP-UINT64-LITERAL"))


def run_queued(world: World, vm: VM) -> None:
    """The main loop handles the oldest submitted command.

    QEMU 7.2 (QEMU72-QMP-REPLY-AFTER-BH) runs the command in a bottom half and
    answers from the QMP dispatcher coroutine, which the main loop re-enters
    later: the reply is then a step of its own (:func:`send_reply`), and other
    main-loop work and the migration thread can run in between. The command
    stays first in the queue until answered (the dispatcher takes one at a time).
    """
    if not world.profile.deviates("QEMU72-QMP-REPLY-AFTER-BH"):
        cmd = vm.queue.pop(0)
        world.log.append((vm.name, dispatch(world, vm, cmd)))
        return
    try:
        vm.reply = dispatch(world, vm, vm.queue[0])
    except BaseException:
        vm.queue.pop(0)
        raise


def send_reply(world: World, vm: VM) -> None:
    """The dispatcher coroutine sends the reply of the command the main loop
    ran (QEMU72-QMP-REPLY-AFTER-BH; qapi/qmp-dispatch.c:257-259 of 7.2)."""
    assert vm.reply is not None
    vm.queue.pop(0)
    world.log.append((vm.name, vm.reply))
    vm.reply = None
