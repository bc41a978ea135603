"""The QMP command handlers of the seed, one function each.

A handler runs on the main loop with the big lock held, from start to end, as
one step. It returns the command's return value or raises :class:`QmpError`
with a key of :data:`migspec.spec.errors.ERRORS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migspec.reference import decisions as D
from migspec.reference.mainloop import _pair, listener_for, migrate_fd_connect, migrate_fd_error
from migspec.reference.state import MigrationState
from migspec.reference.vm import VM, ConnectPending
from migspec.reference.wire import wire_double
from migspec.reference.world import World
from migspec.spec import constants as C
from migspec.spec.capabilities import CAPABILITY_ORDER, Capability
from migspec.spec.deviations import (
    MOVED_PARAMETERS,
    QEMU72_ERRORS,
    QEMU72_MAX_MIGRATE_DOWNTIME_MS,
    QEMU72_RANGE_TEXTS,
    RDMA_NO_CM_CHANNEL,
    RDMA_NO_EVENT_CHANNEL,
)
from migspec.spec.errors import ERROR_BY_KEY
from migspec.spec.parameters import PARAMETER_BY_NAME, PARAMETERS
from migspec.spec.runstates import NEEDS_RESET, RunState
from migspec.spec.states import MigrationStatus as S
from migspec.spec.uris import DEFER

#: The seed's catalogue and the texts only QEMU 7.2 has.
_ERRORS = {**ERROR_BY_KEY, **{e.key: e for e in QEMU72_ERRORS}}


class Unsupported(Exception):
    """A request the engine does not model: the profile's implementation has it
    beyond the seed's surface (:data:`migspec.spec.deviations.BEYOND_SEED`). A
    conformance report marks what needs it UNSUPPORTED; ``migspec run`` stops
    with the message (exit status 2)."""


class QmpError(Exception):
    """A QMP error reply: a catalogue key and the template's arguments."""

    def __init__(self, key: str, *args: object) -> None:
        decl = _ERRORS[key]
        super().__init__(decl.text(*args))
        self.key = key
        self.error_class = decl.error_class
        self.desc = decl.text(*args)


Handler = Callable[[World, VM, dict[str, Any]], Any]


def qfloat(world: World, value: float) -> Any:
    """A double in a reply, as the profile's JSON writer prints it and a
    client reads it back (MIG-QMP-007): QEMU 2.4's ``%f`` with zeros stripped,
    ``%.17g`` where DEF-QMP-DOUBLE-FORMAT is repaired."""
    return wire_double(value, world.profile.repairs("DEF-QMP-DOUBLE-FORMAT"))


# -- capabilities and parameters ------------------------------------------------
def qmp_migrate_set_capabilities(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 468-483 (MIG-CAPS-001, MIG-CAPS-002)."""
    caps: list[tuple[Capability, bool]] = args["capabilities"]
    if D.capabilities_refused(vm.s.state, world.profile.repairs("DEF-CAPS-WHILE-CANCELLING")):
        raise QmpError("migration_active")
    for cap, state in caps:
        vm.s.enabled_capabilities[cap] = state


def qmp_query_migrate_capabilities(world: World, vm: VM, args: dict[str, Any]) -> Any:
    """Lines 332-355 (MIG-CAPS-003): every capability, in enum order."""
    caps = vm.s.enabled_capabilities
    listed = [{"capability": str(c), "state": caps[c]} for c in CAPABILITY_ORDER]
    beyond = world.profile.beyond
    if beyond is not None and world.profile.deviates("QEMU72-CAPS-LIST"):
        # never on: turning one on is Unsupported (reference/qmp.py)
        listed += [{"capability": c, "state": c == "block" and vm.block_options}
                   for c in beyond.capabilities]
    return listed


def qmp_migrate_set_parameters(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 485-524 (MIG-PARAMS-001..004): validate all, then set. QEMU 7.2
    also sets the values that moved in (max-bandwidth, downtime-limit,
    xbzrle-cache-size: QEMU72-PARAM-*) and words the range errors its way
    (QEMU72-PARAM-RANGE-TEXT)."""
    texts = world.profile.deviates("QEMU72-PARAM-RANGE-TEXT")
    for decl in PARAMETERS:
        value = args.get(decl.name)
        if value is not None and not D.parameter_in_range(decl, value):
            raise QmpError("param_range", decl.c_name,
                           QEMU72_RANGE_TEXTS[decl.name] if texts else decl.range_text)
    for moved in MOVED_PARAMETERS:
        value = args.get(moved.name)
        if value is not None and not _moved_ok(moved.name, value):
            raise QmpError("param_range", moved.c_name, QEMU72_RANGE_TEXTS[moved.name])
    for name, value in args.items():
        if name in PARAMETER_BY_NAME:
            vm.s.parameters[name] = value
    s = vm.s
    if "max-bandwidth" in args:  # as migrate_set_speed (MIG-SPEED-002)
        s.bandwidth_limit = args["max-bandwidth"]
        if s.file is not None:
            world.files[s.file].xfer_limit = D.xfer_limit(
                s.bandwidth_limit, world.profile.repairs("DEF-SPEED-BELOW-RATIO-UNLIMITED"))
    if "downtime-limit" in args:
        vm.max_downtime = args["downtime-limit"] * 1_000_000
    if "xbzrle-cache-size" in args:
        s.xbzrle_cache_size = args["xbzrle-cache-size"]


def _moved_ok(name: str, value: int) -> bool:
    """QEMU 7.2's migrate_params_check for a value that moved in
    (migration/migration.c:1482-1529; max-bandwidth is never refused)."""
    if name == "downtime-limit":
        return value <= QEMU72_MAX_MIGRATE_DOWNTIME_MS
    if name == "xbzrle-cache-size":
        return value >= C.TARGET_PAGE_SIZE and value & (value - 1) == 0
    return True


def qmp_query_migrate_parameters(world: World, vm: VM, args: dict[str, Any]) -> Any:
    """Lines 357-370 (MIG-PARAMS-005); QEMU 7.2 adds the values that moved in
    (QEMU72-PARAMS-QUERY)."""
    params: dict[str, Any] = {p.name: vm.s.parameters[p.name] for p in PARAMETERS}
    if world.profile.deviates("QEMU72-PARAMS-QUERY"):
        params["max-bandwidth"] = vm.s.bandwidth_limit
        params["downtime-limit"] = vm.max_downtime // 1_000_000
        params["xbzrle-cache-size"] = vm.s.xbzrle_cache_size
    return params


def qmp_migrate_set_cache_size(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 769-796 (MIG-CACHE-001..004, MIG-CACHE-006)."""
    err, size = D.cache_size_decision(
        args["value"], vm.ram.total, world.profile.repairs("DEF-CACHE-NEGATIVE"),
        vm.ram.xbzrle_cache, vm.s.xbzrle_cache_size, world.env.xbzrle_resize_error,
        world.profile.repairs("DEF-CACHE-ALLOC-MISREPORTED"),
    )
    if err is not None:
        raise QmpError(err)
    vm.s.xbzrle_cache_size = size


def qmp_query_migrate_cache_size(world: World, vm: VM, args: dict[str, Any]) -> Any:
    """Lines 798-801 (MIG-CACHE-005)."""
    return vm.s.xbzrle_cache_size


def qmp_migrate_set_speed(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 803-819 (MIG-SPEED-001, MIG-SPEED-002)."""
    s = vm.s
    s.bandwidth_limit = D.clamp_speed(args["value"])
    if s.file is not None:
        world.files[s.file].xfer_limit = D.xfer_limit(
            s.bandwidth_limit, world.profile.repairs("DEF-SPEED-BELOW-RATIO-UNLIMITED"))


def qmp_migrate_set_downtime(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 821-826 (MIG-DOWNTIME-001, MIG-DOWNTIME-002)."""
    vm.max_downtime = D.downtime_ns(
        float(args["value"]), world.profile.repairs("DEF-DOWNTIME-OVERFLOW")
    )


# -- query-migrate ---------------------------------------------------------------
def _ram_stats(world: World, vm: VM, active: bool) -> dict[str, Any]:
    ram, s = vm.ram, vm.s
    return {
        "transferred": ram.transferred,
        "remaining": ram.dirty if active else 0,
        "total": ram.total,
        "duplicate": 0,
        "skipped": 0,
        "normal": ram.normal_pages,
        "normal-bytes": ram.normal_pages * C.TARGET_PAGE_SIZE,
        "dirty-pages-rate": s.dirty_pages_rate if active else 0,
        "mbps": qfloat(world, s.mbps),
        "dirty-sync-count": s.dirty_sync_count,
    }


def _xbzrle(world: World, vm: VM, info: dict[str, Any]) -> None:
    """``get_xbzrle_cache_stats`` (lines 372-384, MIG-QUERY-005)."""
    if vm.s.enabled_capabilities[Capability.XBZRLE]:
        info["xbzrle-cache"] = {
            "cache-size": vm.s.xbzrle_cache_size,
            "bytes": 0,
            "pages": 0,
            "cache-miss": 0,
            "cache-miss-rate": qfloat(world, 0.0),
            "overflow": 0,
        }


def qmp_query_migrate(world: World, vm: VM, args: dict[str, Any]) -> Any:
    """Lines 386-466 (MIG-QUERY-001..006): the shape depends on the state."""
    s = vm.s
    state = s.state
    info: dict[str, Any] = {}
    if state == S.NONE:
        if world.profile.deviates("QEMU72-QUERY-DEST-STATUS"):
            return _destination_info(vm)
        return info  # MIG-QUERY-001: nothing, not even the status
    info["status"] = str(state)
    if state in (S.ACTIVE, S.CANCELLING):
        # MIG-QUERY-003
        info["ram"] = _ram_stats(world, vm, True)
        _xbzrle(world, vm, info)
        info["total-time"] = world.ms - s.total_time
        info["expected-downtime"] = s.expected_downtime
        info["setup-time"] = s.setup_time
    elif state == S.COMPLETED:
        # MIG-QUERY-004
        info["ram"] = _ram_stats(world, vm, False)
        _xbzrle(world, vm, info)
        info["total-time"] = s.total_time
        info["downtime"] = s.downtime
        info["setup-time"] = s.setup_time
    # MIG-QUERY-002 (setup), MIG-QUERY-006 (failed, cancelled): status only.
    return info


def _destination_info(vm: VM) -> dict[str, Any]:
    """QEMU 7.2's fill_destination_migration_info (migration/migration.c:1365-1395):
    the incoming migration's status while the source side never migrated."""
    if vm.incoming.file is not None:
        return {"status": str(S.ACTIVE)}
    if vm.incoming.finished:
        return {"status": str(S.COMPLETED)}
    return {}


# -- migrate, cancel -------------------------------------------------------------
def migrate_init(world: World, vm: VM, blk: bool, inc: bool) -> None:
    """Lines 628-659 (MIG-INIT-001, MIG-INIT-002): zero the state but keep the
    settings, then SETUP."""
    old = vm.s
    vm.s = MigrationState(
        state=old.state,
        bandwidth_limit=old.bandwidth_limit,
        xbzrle_cache_size=old.xbzrle_cache_size,
        mbps=0.0,
        parameters=dict(old.parameters),
        enabled_capabilities=dict(old.enabled_capabilities),
        blk=blk,
        shared=inc,
        file=None,
        cleanup_bh=None,
        thread=None,
    )
    world.set_state(vm, S.NONE, "migrate_init")
    vm.s.total_time = world.ms
    vm.migrations += 1
    vm.running_at_start = vm.runstate == RunState.RUNNING
    vm.events_at_start = vm.s.enabled_capabilities[Capability.EVENTS]
    vm.completion_started = vm.cancel_after_completion = False


def qmp_migrate(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 696-762 (MIG-MIGRATE-001..009)."""
    uri: str = args["uri"]
    s = vm.s
    err = D.migrate_precheck(
        s.state,
        vm.runstate == RunState.INMIGRATE,
        vm.unmigratable is not None,
        bool(vm.blockers),
        s.cleanup_bh is not None,
        world.profile.repairs("DEF-MIGRATE-BEFORE-CLEANUP"),
    )
    if err in (None, "state_blocked", "blocker") and vm.runstate == RunState.POSTMIGRATE \
            and world.profile.deviates("QEMU72-MIGRATE-POSTMIGRATE"):
        err = "postmigrate"  # tested after inmigrate, before the blockers
    if err == "state_blocked":
        raise QmpError(err, vm.unmigratable)
    if err == "blocker":
        raise QmpError(err, vm.blockers[0])
    if err is not None:
        raise QmpError(err)
    if (args.get("blk") is True or args.get("inc") is True) \
            and world.profile.deviates("QEMU72-MIGRATE-BLOCK-CAP"):
        # migrate_prepare turns the block capability on (7.2 migration/migration.c:2376-2392)
        if vm.block_options:
            raise QmpError("block_options_incompatible")
        vm.block_options = True
    s.state = S.NONE  # line 732, no event (MIG-MIGRATE-006)
    world.fired.append("migrate_reset")
    world.note(vm, "state", trigger="migrate_reset", new=str(S.NONE))
    migrate_init(world, vm, bool(args.get("blk", False)), bool(args.get("inc", False)))
    scheme = D.outgoing_scheme(uri, world.build)
    if scheme is None:
        # MIG-MIGRATE-008
        world.set_state(vm, S.SETUP, "uri_unknown")
        vm.block_options = False  # block_cleanup_parameters (7.2 migration.c:2451)
        if world.profile.repairs("DEF-UNKNOWN-URI-NO-NOTIFY"):
            world.notify(vm)
        raise QmpError("uri_invalid")
    outcome, error = _connect_outcome(world, vm, scheme, uri)
    if outcome == "immediate":
        # MIG-CONNECT-001
        f = world.new_file(scheme)
        _pair(world, vm, f.fid, scheme)
        migrate_fd_connect(world, vm, f.fid)
    elif outcome == "refused":
        # MIG-FDERROR-001
        vm.s.file = None
        migrate_fd_error(world, vm, "connect_error_sync")
        raise QmpError("connect_failed", error)
    else:
        # MIG-CONNECT-002
        due = world.clock_us + world.env.connect_delay_ms * 1000
        vm.connects.append(ConnectPending(due, outcome == "delayed", scheme, error))


def _connect_outcome(world: World, vm: VM, scheme: str, uri: str) -> tuple[str, str]:
    """How the transport's start function ends, from the environment."""
    env = world.env
    if scheme == "fd:":
        name = uri[len(scheme):]
        if name not in vm.fds:
            return "refused", f"File descriptor named '{name}' has not been found"
        # monitor_get_fd hands the descriptor over and forgets its name
        # (monitor.c), so a second fd:NAME is not found (MIG-MIGRATE-010).
        vm.fds.remove(name)
    if env.connect != "auto":
        return _socket_async(world, scheme, env.connect), env.connect_error
    if scheme == "rdma:" and world.profile.deviates("QEMU72-RDMA-NO-DEVICE"):
        return "refused", RDMA_NO_CM_CHANNEL
    if scheme in ("exec:", "fd:", "rdma:"):
        return "immediate", ""
    others = [v for v in world.vms.values() if v is not vm and not v.exited]
    if not others or listener_for(world, vm, scheme) is not None:
        return "delayed", ""
    return _socket_async(world, scheme, "refused"), env.connect_error


def _socket_async(world: World, scheme: str, outcome: str) -> str:
    """QEMU 7.2 connects tcp: and unix: only asynchronously
    (QEMU72-CONNECT-SOCKET-ASYNC): an outcome inside migrate happens in the
    connect callback instead."""
    if scheme in ("tcp:", "unix:") and world.profile.deviates("QEMU72-CONNECT-SOCKET-ASYNC"):
        return {"immediate": "delayed", "refused": "delayed-refused"}.get(outcome, outcome)
    return outcome


def qmp_migrate_cancel(world: World, vm: VM, args: dict[str, Any]) -> None:
    """``migrate_fd_cancel`` (lines 575-600, MIG-CANCEL-001..003). The loop runs
    atomically: the thread's CAS between its read and its CAS changes only the
    number of iterations."""
    s = vm.s
    fid = s.file
    if vm.completion_started:
        vm.cancel_after_completion = True
    if D.cancel_outcome(s.state) != s.state:
        world.set_state(vm, s.state, "cancel")
    elif s.state == S.CANCELLING and world.profile.deviates("QEMU72-CANCEL-AGAIN-EVENT"):
        # QEMU 7.2's loop also runs in CANCELLING: its CAS CANCELLING -> CANCELLING
        # succeeds and sends the event again; nothing else changes (a declared
        # transition, so the explorer's event-order property knows it)
        world.set_state(vm, S.CANCELLING, "cancel_again")
    if s.state == S.CANCELLING and fid is not None:
        f = world.files[fid]
        if f.can_shutdown:  # qemu_file_shutdown; -ENOSYS for popen/fd files
            f.shut_down = True


# -- incoming ----------------------------------------------------------------------
def qemu_start_incoming_migration(world: World, vm: VM, uri: str) -> None:
    """Lines 236-260 (MIG-INCOMING-001..004)."""
    world.emit(vm, "MIGRATION", {"status": S.SETUP.value})  # not gated: line 240, MIG-EVENT-003
    kind = D.incoming_dispatch(uri, world.build)
    if kind == DEFER and world.profile.deviates("QEMU72-INCOMING-DEFER-UNKNOWN"):
        kind = None  # QEMU 7.2 knows 'defer' only on the command line
    if kind == DEFER:
        already = vm.deferred_incoming
        vm.deferred_incoming = True
        if already:
            raise QmpError("incoming_already_deferred")
    elif kind is None:
        raise QmpError("incoming_unknown_protocol", uri)
    elif uri.startswith("rdma:") and world.profile.deviates("QEMU72-RDMA-INCOMING-NO-DEVICE"):
        raise QmpError("connect_failed", RDMA_NO_EVENT_CHANNEL)
    else:
        vm.incoming.listening.append(uri)


def qmp_migrate_incoming(world: World, vm: VM, args: dict[str, Any]) -> None:
    """Lines 673-694 (MIG-INCOMING-010, MIG-INCOMING-011). QEMU 7.2 tests
    'once' first (an -incoming URI cleared it: QEMU72-INCOMING-URI-ONCE) and
    the run state instead of the deferred flag (QEMU72-INCOMING-NOT-DEFERRED-TEXT)."""
    profile = world.profile
    if not vm.incoming_once and profile.deviates("QEMU72-INCOMING-URI-ONCE"):
        raise QmpError("incoming_already_started")
    if profile.deviates("QEMU72-INCOMING-NOT-DEFERRED-TEXT"):
        if vm.runstate != RunState.INMIGRATE:
            raise QmpError("incoming_not_specified")
    elif not vm.deferred_incoming:
        raise QmpError("incoming_not_deferred")
    first: str | None = None
    if not vm.incoming_once:
        first = "incoming_already_started"
        if world.profile.repairs("DEF-INCOMING-ONCE-NO-RETURN"):
            raise QmpError(first)
    try:
        qemu_start_incoming_migration(world, vm, args["uri"])
    except QmpError:
        if first is not None:
            raise QmpError(first) from None
        raise
    vm.incoming_once = False
    if first is not None:
        raise QmpError(first)


# -- beside the seed -------------------------------------------------------------
def qmp_query_status(world: World, vm: VM, args: dict[str, Any]) -> Any:
    """``qmp_query_status`` (MIG-VM-001)."""
    return {
        "running": vm.runstate == RunState.RUNNING,
        "singlestep": False,
        "status": str(vm.runstate),
    }


def qmp_stop(world: World, vm: VM, args: dict[str, Any]) -> None:
    """``qmp_stop`` (MIG-VM-002): on a waiting destination it clears autostart."""
    if vm.runstate == RunState.INMIGRATE:
        vm.autostart = False
    else:
        world.vm_stop(vm, RunState.PAUSED)


def qmp_cont(world: World, vm: VM, args: dict[str, Any]) -> None:
    """``qmp_cont`` (MIG-VM-003): on a waiting destination it sets autostart;
    a suspended guest stays suspended."""
    if vm.runstate in NEEDS_RESET:
        raise QmpError("needs_reset")
    if vm.runstate == RunState.SUSPENDED:
        return
    if vm.runstate == RunState.FINISH_MIGRATE and world.profile.repairs(
        "DEF-CONT-DURING-COMPLETION"
    ):
        raise QmpError("not_finalized")
    if vm.runstate == RunState.INMIGRATE:
        vm.autostart = True
    else:
        world.vm_start(vm)


def qmp_capabilities(world: World, vm: VM, args: dict[str, Any]) -> None:
    """The reference's monitor starts in command mode, as after negotiation,
    so ``qmp_capabilities`` gets QEMU's "already complete" error."""
    if world.profile.deviates("QEMU72-QMP-NEGOTIATION-TEXT"):
        raise QmpError("negotiation_complete_72")
    raise QmpError("negotiation_complete", "qmp_capabilities")


HANDLERS: dict[str, Handler] = {
    "migrate": qmp_migrate,
    "migrate_cancel": qmp_migrate_cancel,
    "migrate-incoming": qmp_migrate_incoming,
    "migrate-set-capabilities": qmp_migrate_set_capabilities,
    "query-migrate-capabilities": qmp_query_migrate_capabilities,
    "migrate-set-parameters": qmp_migrate_set_parameters,
    "query-migrate-parameters": qmp_query_migrate_parameters,
    "migrate-set-cache-size": qmp_migrate_set_cache_size,
    "query-migrate-cache-size": qmp_query_migrate_cache_size,
    "migrate_set_speed": qmp_migrate_set_speed,
    "migrate_set_downtime": qmp_migrate_set_downtime,
    "query-migrate": qmp_query_migrate,
    "query-status": qmp_query_status,
    "stop": qmp_stop,
    "cont": qmp_cont,
    "qmp_capabilities": qmp_capabilities,
}
