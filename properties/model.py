"""The model the state machines check targets against.

It is built from the declarations in :mod:`migspec.spec` (commands and their
argument kinds, parameters, capabilities, URI schemes, the error catalogue with
its exact texts, the transition table, run-state rules, the seed defects a
profile repairs) and the pure rules of :mod:`migspec.reference.decisions`. It
does not use the reference engine's handlers, its QMP front or its thread.

For every command the model predicts the reply (return value, or error class
and exact description) and the events the target sends, and it keeps the
state that decides them: the migration status, capabilities, parameters,
cache size, speed, downtime, run state, the incoming side, and the
environment knobs the machine set.

Time and the migration thread are the one source of uncertainty. A target
with ``supports_time`` moves only inside ``advance``/``settle``; right after
``migrate`` or after ``settle`` the model knows everything and predicts
exactly. After ``advance`` (or for a target whose thread runs on its own)
the migration is *in flight*: the model keeps the set of statuses the
declared thread, connect and cleanup transitions can reach, accepts any
reply that one of them explains, and narrows the set by what it saw.

Every failed check raises :class:`Violation` naming a requirement ID.
"""

from __future__ import annotations

import copy
import importlib.util
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from migspec.reference.profiles import get_profile
from migspec.spec import constants as C
from migspec.spec.actors import Actor
from migspec.spec.capabilities import CAPABILITY_ORDER, Capability
from migspec.spec.commands import COMMAND_BY_NAME, ArgType, CommandDecl
from migspec.spec.errors import ERROR_BY_KEY
from migspec.spec.parameters import PARAMETER_BY_NAME, PARAMETERS
from migspec.spec.runstates import NEEDS_RESET, RunState
from migspec.spec.states import IN_PROGRESS, TERMINAL
from migspec.spec.states import MigrationStatus as S
from migspec.spec.transitions import transitions_for
from migspec.spec.uris import DEFER, BuildConfig


def _private_rules() -> ModuleType:
    """A private copy of :mod:`migspec.reference.decisions`, loaded from the same
    source: the model's rules. A fault patched into the engine's module later
    (``migspec mutants``) changes the engine, not the model."""
    found = importlib.util.find_spec("migspec.reference.decisions")
    assert found is not None and found.origin is not None
    spec = importlib.util.spec_from_file_location("migspec.properties._model_rules",
                                                  found.origin)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from migspec.reference import decisions as D
else:
    D = _private_rules()


Reply = dict[str, Any]
Event = dict[str, Any]


class Violation(AssertionError):
    """The target did something the specification does not allow."""

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"[{requirement}] {message}")
        self.requirement = requirement


# -- the QMP layer (monitor.c and the QAPI input visitor of QEMU 2.4) ---------------
#: ``check_client_args_type``'s expected-type words per argument kind.
EXPECTED_TYPE = {
    ArgType.STRING: "string",
    ArgType.INT: "int",
    ArgType.OCTETS: "int",
    ArgType.NUMBER: "number",
    ArgType.BOOL: "bool",
}


def error_reply(key: str, *args: object) -> Reply:
    """The reply of catalogue error ``key`` (spec/errors.py)."""
    decl = ERROR_BY_KEY[key]
    return {"error": {"class": decl.error_class, "desc": decl.text(*args)}}


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nan(v) for v in value)
    return False


def _is_qint(value: Any) -> bool:
    """A JSON integer QEMU parses as QInt (larger ones become QFloat)."""
    return type(value) is int and C.INT64_MIN <= value <= C.INT64_MAX


def _strtod(value: int | float) -> float:
    """A JSON number as the double QEMU 2.4 reads for a ``number`` argument: an
    integer beyond int64 goes through ``strtod`` (json-parser.c), which
    rounds it, or gives +/-infinity beyond the double range."""
    try:
        return float(value)
    except OverflowError:
        return math.copysign(math.inf, value)


def type_ok(kind: ArgType, value: Any) -> bool:
    """``check_client_args_type`` for one argument."""
    if kind is ArgType.STRING:
        return isinstance(value, str)
    if kind in (ArgType.INT, ArgType.OCTETS):
        return _is_qint(value)
    if kind is ArgType.NUMBER:
        return type(value) in (int, float)
    if kind is ArgType.BOOL:
        return isinstance(value, bool)
    return True


@dataclass(frozen=True)
class Parsed:
    """A command that passed the QMP layer."""

    decl: CommandDecl
    args: dict[str, Any]


def qmp_requirement(reply: Reply, echoed: bool) -> str:
    """The requirement a QMP-layer error rests on: refused before the monitor
    read the ``id`` (the input object, JSON) MIG-QMP-003; an unknown command
    MIG-QMP-001; its arguments MIG-QMP-002."""
    if not echoed:
        return "MIG-QMP-003"
    if reply["error"]["class"] == "CommandNotFound":
        return "MIG-QMP-001"
    return "MIG-QMP-002"


def qmp_layer(cmd: Any) -> tuple[Reply | None, Parsed | None, bool]:
    """QEMU 2.4's checks before the handler, in its order: JSON, the input
    object (``qmp_check_input_obj``), the command name, mandatory then typed
    arguments (``qmp_check_client_args``), the QAPI visitor of nested values.

    Returns ``(error reply or None, parsed command or None, id echoed)``.
    MIG-QMP-001/002/003.
    """
    if _has_nan(cmd):  # NaN is not JSON: the parser fails before anything
        return error_reply("json_parsing"), None, False
    if not isinstance(cmd, dict):
        return error_reply("bad_input_object", "object"), None, False
    for key, value in cmd.items():
        if key == "execute":
            if not isinstance(value, str):
                return error_reply("bad_input_member", "execute", "string"), None, False
        elif key == "arguments":
            if not isinstance(value, dict):
                return error_reply("bad_input_member", "arguments", "object"), None, False
        elif key != "id":
            return error_reply("extra_member", key), None, False
    if "execute" not in cmd:
        return error_reply("bad_input_object", "execute"), None, False
    decl = COMMAND_BY_NAME.get(cmd["execute"])
    if decl is None:
        return error_reply("command_not_found", cmd["execute"]), None, True
    raw: dict[str, Any] = cmd.get("arguments", {})
    for arg in decl.args:
        if not arg.optional and arg.name not in raw:
            return error_reply("missing_parameter", arg.name), None, True
    by_name = {a.name: a for a in decl.args}
    for key, value in raw.items():
        given = by_name.get(key)
        if given is None:
            return error_reply("invalid_parameter", key), None, True
        if not type_ok(given.kind, value):
            return error_reply("invalid_parameter_type", key, EXPECTED_TYPE[given.kind]), None, True
    if decl.name == "migrate-set-capabilities":
        caps, err = _visit_capabilities(raw["capabilities"])
        if err is not None:
            return err, None, True
        return None, Parsed(decl, {"capabilities": caps}), True
    return None, Parsed(decl, dict(raw)), True


def _visit_capabilities(value: Any) -> tuple[list[tuple[Capability, bool]], Reply | None]:
    """The strict QAPI input visitor over ``MigrationCapabilityStatusList``: a
    struct is checked member by member (capability, then state), extra
    members at its end; a missing member is a value of the wrong type."""
    if not isinstance(value, list):
        return [], error_reply("invalid_parameter_type", "capabilities", "list")
    out: list[tuple[Capability, bool]] = []
    names = {c.value: c for c in Capability}
    for item in value:
        if not isinstance(item, dict):
            return [], error_reply("invalid_parameter_type", "null", "QDict")
        name = item.get("capability")
        if not isinstance(name, str):
            return [], error_reply("invalid_parameter_type", "capability", "string")
        if name not in names:
            return [], error_reply("invalid_parameter", name)
        state = item.get("state")
        if not isinstance(state, bool):
            return [], error_reply("invalid_parameter_type", "state", "boolean")
        for key in item:
            if key not in ("capability", "state"):
                return [], error_reply("extra_member", key)
        out.append((names[name], state))
    return out, None


# -- events ---------------------------------------------------------------------------
def migration_event(status: S) -> Event:
    """A MIGRATION event as a client sees it (timestamp aside)."""
    return {"event": "MIGRATION", "data": {"status": status.value}}


STOP: Event = {"event": "STOP"}
RESUME: Event = {"event": "RESUME"}


def strip_event(event: Event) -> Event:
    """An event without its timestamp."""
    return {k: v for k, v in event.items() if k != "timestamp"}


# -- query-migrate shapes (lines 386-466) ---------------------------------------------
RAM_KEYS = frozenset({
    "transferred", "remaining", "total", "duplicate", "skipped", "normal", "normal-bytes",
    "dirty-pages-rate", "mbps", "dirty-sync-count",
})
XBZRLE_KEYS = frozenset({"cache-size", "bytes", "pages", "cache-miss", "cache-miss-rate",
                         "overflow"})
#: Top-level keys per status besides the optional xbzrle-cache and disk.
QUERY_KEYS: dict[S, frozenset[str]] = {
    S.NONE: frozenset(),
    S.SETUP: frozenset({"status"}),
    S.ACTIVE: frozenset({"status", "ram", "total-time", "expected-downtime", "setup-time"}),
    S.CANCELLING: frozenset({"status", "ram", "total-time", "expected-downtime", "setup-time"}),
    S.COMPLETED: frozenset({"status", "ram", "total-time", "downtime", "setup-time"}),
    S.FAILED: frozenset({"status"}),
    S.CANCELLED: frozenset({"status"}),
}
_QUERY_REQ = {
    S.NONE: "MIG-QUERY-001", S.SETUP: "MIG-QUERY-002", S.ACTIVE: "MIG-QUERY-003",
    S.CANCELLING: "MIG-QUERY-003", S.COMPLETED: "MIG-QUERY-004", S.FAILED: "MIG-QUERY-006",
    S.CANCELLED: "MIG-QUERY-006",
}


def query_migrate_problem(
    info: Any, status: S, xbzrle: bool, cache_size: int, ram_bytes: int | None, blk: bool,
    expected_downtime: int | None = None,
) -> tuple[str, str] | None:
    """Why ``info`` is not what query-migrate returns in ``status``, as
    (requirement, reason), or None. ``expected_downtime``: the value the
    model knows (active, cancelling), if it does."""
    req = _QUERY_REQ[status]
    if not isinstance(info, dict):
        return req, f"query-migrate returned {info!r}"
    got = set(info)
    want = set(QUERY_KEYS[status])
    with_stats = status in (S.ACTIVE, S.CANCELLING, S.COMPLETED)
    if with_stats and xbzrle:
        want.add("xbzrle-cache")
    extra_ok = {"disk"} if (blk and status in (S.ACTIVE, S.CANCELLING)) else set()
    if not want <= got or got - want - extra_ok:
        if "xbzrle-cache" in got ^ want:
            req = "MIG-QUERY-005"
        return req, f"keys {sorted(got)} in '{status.value}', expected {sorted(want)}"
    if status == S.NONE:
        return None
    if info["status"] != status.value:
        return req, f"status {info['status']!r}, expected {status.value!r}"
    if not with_stats:
        return None
    ram = info["ram"]
    if not isinstance(ram, dict) or set(ram) != RAM_KEYS:
        return req, f"ram statistics {ram!r}"
    if status == S.COMPLETED and ram["remaining"] != 0:
        return "MIG-QUERY-004", f"remaining {ram['remaining']} after completion"
    if ram_bytes is not None and ram["total"] != ram_bytes:
        return req, f"ram total {ram['total']}, guest RAM is {ram_bytes}"
    for key in ("transferred", "remaining", "normal", "normal-bytes", "dirty-sync-count"):
        if not isinstance(ram[key], int) or ram[key] < 0:
            return req, f"ram {key} {ram[key]!r}"
    for key in ("total-time", "setup-time"):
        if not isinstance(info[key], int) or info[key] < 0:
            return req, f"{key} {info[key]!r}"
    if (expected_downtime is not None and status in (S.ACTIVE, S.CANCELLING)
            and info["expected-downtime"] != expected_downtime):
        return ("MIG-CONNECT-001" if expected_downtime else "MIG-INIT-001",
                f"expected-downtime {info['expected-downtime']}, expected {expected_downtime}")
    if xbzrle:
        cache = info["xbzrle-cache"]
        if not isinstance(cache, dict) or set(cache) != XBZRLE_KEYS:
            return "MIG-QUERY-005", f"xbzrle-cache {cache!r}"
        if cache["cache-size"] != cache_size:
            return "MIG-QUERY-005", f"xbzrle cache-size {cache['cache-size']}, set {cache_size}"
    return None


# -- the environment the reference understands ----------------------------------------
#: ``env connect`` values and what they mean for the transport's start.
CONNECT_OUTCOMES = ("auto", "immediate", "refused", "delayed", "delayed-refused")
COMPLETION_ERRORS = ("none", "vm-stop", "file-before-delivery", "file-after-delivery")
DEFAULT_CONNECT_ERROR = "Failed to connect socket: Connection refused"


def fd_not_found(name: str) -> str:
    """``monitor_get_fd``'s error for an unknown ``fd:`` name (monitor.c)."""
    return f"File descriptor named '{name}' has not been found"


# -- the model state ---------------------------------------------------------------------
IDLE = "idle"
CONNECT_OK = "connect-ok"
CONNECT_FAIL = "connect-fail"
THREAD = "thread"

_ASYNC_ACTORS = frozenset({Actor.THREAD, Actor.CONNECT, Actor.CLEANUP_BH})

#: Commands that change nothing (the model answers them from its state).
READ_ONLY = frozenset({"query-migrate", "query-migrate-capabilities", "query-migrate-parameters",
                       "query-migrate-cache-size", "query-status", "qmp_capabilities"})


@dataclass
class ModelState:
    """What decides the target's next answers."""

    alive: bool = True
    #: Possible migration statuses: one when certain, more while in flight.
    statuses: frozenset[S] = frozenset({S.NONE})
    #: Async work still to run when certain: IDLE, CONNECT_OK, CONNECT_FAIL, THREAD.
    phase: str = IDLE
    #: The thread, connect and cleanup may move at any time (set of statuses
    #: grows by their declared transitions before every observation).
    inflight: bool = False
    #: In flight, the process may abort at completion (an invalid run-state
    #: transition the model saw coming).
    may_crash: bool = False
    caps: dict[Capability, bool] = field(default_factory=lambda: {c: False for c in Capability})
    params: dict[str, int] = field(default_factory=lambda: {p.name: p.default for p in PARAMETERS})
    cache_size: int = C.DEFAULT_MIGRATE_CACHE_SIZE
    bandwidth_limit: int = C.MAX_THROTTLE
    max_downtime: int = C.DEFAULT_MAX_DOWNTIME_NS
    #: None while unknown (in flight).
    runstate: RunState | None = RunState.RUNNING
    autostart: bool = True
    blk: bool = False
    # the incoming side
    deferred: bool = False
    incoming_once: bool = True
    listening: int = 0
    gs_received: bool = False
    gs_state: RunState | None = None
    # the VM's set-up and the environment (known only on targets with env control)
    ram_bytes: int | None = None
    blockers: tuple[str, ...] = ()
    unmigratable: str | None = None
    fds: tuple[str, ...] = ()
    connect: str = "auto"
    connect_delay_ms: int = 0
    connect_error: str = DEFAULT_CONNECT_ERROR
    #: ``s->expected_downtime`` while the model knows it, else None.
    expected_downtime: int | None = 0
    #: True pending, False not, None unknown (it is consumed by a write).
    channel_error: bool | None = False
    completion_error: str = "none"
    dirty_rate: int = 0

    def clone(self) -> ModelState:
        """A copy that shares nothing mutable."""
        new = copy.copy(self)
        new.caps = dict(self.caps)
        new.params = dict(self.params)
        return new

    @property
    def status(self) -> S:
        """The status when certain."""
        if len(self.statuses) != 1:
            raise ValueError(f"status not known: {sorted(s.value for s in self.statuses)}")
        return next(iter(self.statuses))

    @property
    def certain(self) -> bool:
        """Exactly one status and nothing moving on its own."""
        return not self.inflight and len(self.statuses) == 1


@dataclass
class Outcome:
    """One way a command can go: its reply (exact, or a check), its events,
    and the state after it."""

    reply: Reply | Callable[[Any], tuple[str, str] | None] | None
    events: list[Event]
    state: ModelState
    requirement: str


class Model:
    """Predicts a target's replies and events; :meth:`command` checks one."""

    def __init__(self, profile: str, frozen_time: bool = True,
                 build: BuildConfig | None = None) -> None:
        self.profile = profile
        self.repaired = get_profile(profile).repaired
        self.frozen_time = frozen_time
        self.build = build or BuildConfig()
        self.state = ModelState()
        #: Bumped whenever the state may have changed (invariants re-check then).
        self.version = 0
        #: Bumped when something other than a command changed it (time, the
        #: environment, a restart): every invariant re-checks then.
        self.epoch = 0
        moves: dict[S, set[S]] = {}
        for decl in transitions_for(profile):
            if decl.actor in _ASYNC_ACTORS:
                for src in decl.sources:
                    moves.setdefault(src, set()).add(decl.dest)
        self._async_moves = {k: frozenset(v) for k, v in moves.items()}

    def touch(self) -> None:
        """The machine changed the state directly (environment knobs)."""
        self.version += 1
        self.epoch += 1

    def repairs(self, defect: str) -> bool:
        """The profile repairs ``defect``."""
        return defect in self.repaired

    # -- set-up ---------------------------------------------------------------------
    def reset(self, incoming: str | None = None, ram_bytes: int | None = None) -> list[Event]:
        """A fresh process; the events a client sees from its start-up: none.
        ``-incoming`` sends MIGRATION 'setup' (line 240) from vl.c before the
        main loop runs, when no monitor has negotiated capabilities, and
        QEMU sends events only to negotiated monitors (MIG-EVENT-003)."""
        self.state = ModelState(ram_bytes=ram_bytes)
        self.version += 1
        self.epoch += 1
        if incoming is None:
            return []
        st = self.state
        st.runstate = RunState.INMIGRATE
        kind = D.incoming_dispatch(incoming, self.build)
        if kind == DEFER:
            st.deferred = True
        elif kind is not None:
            st.listening += 1
        return []

    # -- in flight ------------------------------------------------------------------
    def closure(self, statuses: Iterable[S]) -> frozenset[S]:
        """Every status the thread, connect and cleanup transitions reach."""
        seen = set(statuses)
        todo = list(seen)
        while todo:
            s = todo.pop()
            for nxt in self._async_moves.get(s, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def _may_move(self, st: ModelState) -> bool:
        return st.inflight or (not self.frozen_time and st.phase != IDLE)

    def go_inflight(self) -> None:
        """Time passes with the migration's actors running: from now on the
        model knows only the reachable statuses."""
        st = self.state
        if st.phase == IDLE and not st.inflight:
            return
        self.version += 1
        self.epoch += 1
        if not st.inflight:
            st.may_crash = self._completion_aborts(st)
        st.inflight = True
        st.statuses = self.closure(st.statuses)
        st.runstate = None
        if st.channel_error:
            st.channel_error = None
        if st.phase != THREAD or st.dirty_rate:
            # A pending connect may or may not have run; a dirtying guest lets
            # the thread re-estimate it (lines 989-991).
            st.expected_downtime = None

    def _completion_aborts(self, st: ModelState) -> bool:
        r = st.runstate
        awake = (RunState.RUNNING, RunState.SUSPENDED)
        return r is not None and r not in awake and not D.runstate_transition_allowed(
            r, RunState.FINISH_MIGRATE, self.repairs("DEF-INCOMING-PRELAUNCH-ABORT"))

    def _echoed(self, ident: Any) -> Any:
        """The id a client reads back (MIG-QMP-007): QEMU 2.4 prints a double
        with six decimals ('%f'), so it reads back rounded to them; repaired
        (DEF-QMP-DOUBLE-FORMAT), as the double sent."""
        if isinstance(ident, dict):
            return {k: self._echoed(v) for k, v in ident.items()}
        if isinstance(ident, list):
            return [self._echoed(v) for v in ident]
        if type(ident) is float and not self.repairs("DEF-QMP-DOUBLE-FORMAT"):
            return round(ident, 6) + 0.0
        return ident

    # -- commands ---------------------------------------------------------------------
    def outcomes(self, cmd: Any) -> list[Outcome]:
        """Every way ``cmd`` can go from the current state."""
        st = self.state
        if not st.alive:
            return [Outcome(None, [], st, "MIG-QMP-001")]
        err, parsed, echo = qmp_layer(cmd)
        ident = cmd.get("id") if isinstance(cmd, dict) and echo and "id" in cmd else None
        has_id = isinstance(cmd, dict) and echo and "id" in cmd

        def finish(o: Outcome) -> Outcome:
            if has_id and isinstance(o.reply, dict):
                o.reply = {**o.reply, "id": self._echoed(ident)}
            return o

        if err is not None:
            return [finish(Outcome(err, [], st, qmp_requirement(err, echo)))]
        assert parsed is not None
        if parsed.decl.name in READ_ONLY and not self._may_move(st):
            # A query of a certain model: nothing to copy, nothing changes.
            return [finish(self._handle(parsed, st))]
        statuses = self.closure(st.statuses) if self._may_move(st) else st.statuses
        out: list[Outcome] = []
        for status in sorted(statuses, key=lambda s: s.value):
            new = st.clone()
            new.statuses = frozenset({status})
            outcome = self._handle(parsed, new)
            if self._may_move(st):
                outcome.state.inflight = st.inflight
            out.append(finish(outcome))
        return out

    def command(self, cmd: Any, reply: Reply | None, events: list[Event]) -> None:
        """Check the target's ``reply`` to ``cmd`` and the ``events`` it sent
        meanwhile; move the model on. Raises :class:`Violation`."""
        st = self.state
        moving = self._may_move(st)
        got = [strip_event(e) for e in events]
        options = self.outcomes(cmd)
        problems: list[tuple[str, str]] = []
        matching: list[Outcome] = []
        for o in options:
            why = self._reply_problem(o, reply)
            if why is None and not moving and got != o.events:
                why = (o.requirement if o.events else "MIG-EVENT-001",
                       f"events {got}, expected {o.events}")
            if why is None:
                matching.append(o)
            else:
                problems.append(why)
        if not matching:
            if reply is None and moving and st.may_crash:
                self.state.alive = False
                return
            req, reason = problems[0]
            raise Violation(req, f"{_show(cmd)}: {reason}")
        if moving:
            made = {S(e["data"]["status"]) for o in matching for e in o.events
                    if e.get("event") == "MIGRATION"}
            self.check_moving_events(
                got, made.union(*(o.state.statuses for o in matching)))
        merged = matching[0].state
        if merged is not st:
            self.version += 1  # a command: invariants compare what they observe
        if len(matching) > 1:
            merged.statuses = frozenset().union(*(o.state.statuses for o in matching))
        if moving:
            merged.inflight = st.inflight
            merged.statuses = self.closure(merged.statuses) if st.inflight else merged.statuses
        self.state = merged
        if not self.frozen_time and merged.phase != IDLE and not merged.inflight:
            self.go_inflight()  # the target's thread runs on its own

    @staticmethod
    def _reply_problem(o: Outcome, reply: Reply | None) -> tuple[str, str] | None:
        if o.reply is None or reply is None:
            if o.reply is None and reply is None:
                return None
            return o.requirement, f"reply {reply!r}, expected {o.reply!r}"
        if callable(o.reply):
            return o.reply(reply)
        if reply != o.reply:
            return o.requirement, f"reply {reply!r}, expected {o.reply!r}"
        return None

    def check_moving_events(self, got: list[Event], also: Iterable[S] = ()) -> None:
        """While in flight: MIGRATION events only for statuses the migration can
        reach on its own, or that the command just made (``also``);
        MIG-EVENT-002."""
        st = self.state
        reach = self.closure(set(st.statuses) | set(also)) | {S.SETUP}
        for e in got:
            if e.get("event") == "MIGRATION":
                status = S(e["data"]["status"])
                if status not in reach:
                    raise Violation("MIG-EVENT-002", f"MIGRATION {status.value} cannot happen "
                                    f"from {sorted(s.value for s in st.statuses)}")
            elif e.get("event") not in ("STOP", "RESUME"):
                raise Violation("MIG-EVENT-002", f"unexpected event {e}")

    # -- the handlers, over one status ------------------------------------------------
    def _handle(self, p: Parsed, st: ModelState) -> Outcome:
        name = p.decl.name
        handler = getattr(self, "_h_" + name.replace("-", "_"))
        result: Outcome = handler(p.args, st)
        return result

    def _ok(self, st: ModelState, req: str, value: Any = None, events: list[Event] | None = None
            ) -> Outcome:
        return Outcome({"return": {} if value is None else value}, events or [], st, req)

    def _err(self, st: ModelState, req: str, key: str, *args: object,
             events: list[Event] | None = None) -> Outcome:
        return Outcome(error_reply(key, *args), events or [], st, req)

    def _gate(self, st: ModelState, status: S) -> list[Event]:
        """``migrate_generate_event``: only with the events capability (MIG-EVENT-001)."""
        return [migration_event(status)] if st.caps[Capability.EVENTS] else []

    def _h_qmp_capabilities(self, args: dict[str, Any], st: ModelState) -> Outcome:
        return self._err(st, "MIG-QMP-004", "negotiation_complete", "qmp_capabilities")

    def _h_query_migrate_capabilities(self, args: dict[str, Any], st: ModelState) -> Outcome:
        value = [{"capability": c.value, "state": st.caps[c]} for c in CAPABILITY_ORDER]
        return self._ok(st, "MIG-CAPS-003", value)

    def _h_migrate_set_capabilities(self, args: dict[str, Any], st: ModelState) -> Outcome:
        if D.capabilities_refused(st.status, self.repairs("DEF-CAPS-WHILE-CANCELLING")):
            return self._err(st, "MIG-CAPS-002", "migration_active")
        for cap, state in args["capabilities"]:
            st.caps[cap] = state
        return self._ok(st, "MIG-CAPS-001")

    def _h_query_migrate_parameters(self, args: dict[str, Any], st: ModelState) -> Outcome:
        return self._ok(st, "MIG-PARAMS-005", {p.name: st.params[p.name] for p in PARAMETERS})

    def _h_migrate_set_parameters(self, args: dict[str, Any], st: ModelState) -> Outcome:
        bad = D.first_invalid_parameter(
            args.get("compress-level"), args.get("compress-threads"),
            args.get("decompress-threads"))
        if bad is not None:
            decl = next(p for p in PARAMETERS if p.c_name == bad)
            return self._err(st, decl.requirement, "param_range", decl.c_name, decl.range_text)
        for key, value in args.items():
            if key in PARAMETER_BY_NAME:
                st.params[key] = value
        return self._ok(st, "MIG-PARAMS-001")

    def _h_migrate_set_cache_size(self, args: dict[str, Any], st: ModelState) -> Outcome:
        value = args["value"]
        if st.ram_bytes is None:
            raise ValueError("the model needs the guest RAM size to judge a cache size")
        err, size = D.cache_size_decision(value, st.ram_bytes, self.repairs("DEF-CACHE-NEGATIVE"))
        if err is not None:
            req = "MIG-CACHE-003" if err == "cache_above_ram" else "MIG-CACHE-004"
            return self._err(st, req, err)
        st.cache_size = size
        return self._ok(st, "MIG-CACHE-001")

    def _h_query_migrate_cache_size(self, args: dict[str, Any], st: ModelState) -> Outcome:
        return self._ok(st, "MIG-CACHE-005", st.cache_size)

    def _h_migrate_set_speed(self, args: dict[str, Any], st: ModelState) -> Outcome:
        st.bandwidth_limit = D.clamp_speed(args["value"])
        return self._ok(st, "MIG-SPEED-001")

    def _h_migrate_set_downtime(self, args: dict[str, Any], st: ModelState) -> Outcome:
        st.max_downtime = D.downtime_ns(_strtod(args["value"]),
                                        self.repairs("DEF-DOWNTIME-OVERFLOW"))
        if st.inflight:
            st.expected_downtime = None
        return self._ok(st, "MIG-DOWNTIME-001")

    def _h_query_migrate(self, args: dict[str, Any], st: ModelState) -> Outcome:
        status = st.status
        xbzrle = st.caps[Capability.XBZRLE]

        def check(reply: Any) -> tuple[str, str] | None:
            if not isinstance(reply, dict) or "return" not in reply:
                return _QUERY_REQ[status], f"reply {reply!r}"
            return query_migrate_problem(reply["return"], status, xbzrle, st.cache_size,
                                         st.ram_bytes, st.blk, st.expected_downtime)

        return Outcome(check, [], st, _QUERY_REQ[status])

    def _h_query_status(self, args: dict[str, Any], st: ModelState) -> Outcome:
        if st.runstate is None:
            def check(reply: Any) -> tuple[str, str] | None:
                ret = reply.get("return") if isinstance(reply, dict) else None
                if not isinstance(ret, dict) or set(ret) != {"running", "singlestep", "status"}:
                    return "MIG-VM-001", f"reply {reply!r}"
                try:
                    runstate = RunState(ret["status"])
                except ValueError:
                    return "MIG-VM-001", f"unknown run state {ret['status']!r}"
                if ret["running"] != (runstate == RunState.RUNNING):
                    return "MIG-VM-001", f"reply {reply!r}"
                st.runstate = runstate
                return None

            return Outcome(check, [], st, "MIG-VM-001")
        r = st.runstate
        return self._ok(st, "MIG-VM-001", {
            "running": r == RunState.RUNNING, "singlestep": False, "status": r.value})

    def _h_stop(self, args: dict[str, Any], st: ModelState) -> Outcome:
        if st.runstate == RunState.INMIGRATE:
            st.autostart = False
            return self._ok(st, "MIG-VM-002")
        if st.runstate == RunState.RUNNING:
            st.runstate = RunState.PAUSED
            return self._ok(st, "MIG-VM-002", events=[STOP])
        return self._ok(st, "MIG-VM-002")

    def _h_cont(self, args: dict[str, Any], st: ModelState) -> Outcome:
        r = st.runstate
        assert r is not None
        if r in NEEDS_RESET:
            return self._err(st, "MIG-VM-003", "needs_reset")
        if r == RunState.SUSPENDED:
            return self._ok(st, "MIG-VM-003")
        if r == RunState.FINISH_MIGRATE and self.repairs("DEF-CONT-DURING-COMPLETION"):
            return self._err(st, "MIG-VM-003", "not_finalized")
        if r == RunState.INMIGRATE:
            st.autostart = True
            return self._ok(st, "MIG-VM-003")
        if r == RunState.RUNNING:
            return self._ok(st, "MIG-VM-003")
        if not self._allowed(r, RunState.RUNNING):
            st.alive = False
            return Outcome(None, [], st, "MIG-VM-003")
        st.runstate = RunState.RUNNING
        return self._ok(st, "MIG-VM-003", events=[RESUME])

    def _allowed(self, old: RunState, new: RunState) -> bool:
        return D.runstate_transition_allowed(old, new,
                                             self.repairs("DEF-INCOMING-PRELAUNCH-ABORT"))

    def _h_migrate_cancel(self, args: dict[str, Any], st: ModelState) -> Outcome:
        status = st.status
        new = D.cancel_outcome(status)
        events: list[Event] = []
        if new != status:
            events = self._gate(st, new)
            st.statuses = frozenset({new})
        return self._ok(st, "MIG-CANCEL-003", events=events)

    def _h_migrate_incoming(self, args: dict[str, Any], st: ModelState) -> Outcome:
        if not st.deferred:
            return self._err(st, "MIG-INCOMING-010", "incoming_not_deferred")
        first: str | None = None
        if not st.incoming_once:
            first = "incoming_already_started"
            if self.repairs("DEF-INCOMING-ONCE-NO-RETURN"):
                return self._err(st, "MIG-INCOMING-011", first)
        uri: str = args["uri"]
        events = [migration_event(S.SETUP)]  # line 240, not gated (MIG-EVENT-003)
        kind = D.incoming_dispatch(uri, self.build)
        if kind == DEFER:
            key = first or "incoming_already_deferred"
            return self._err(st, "MIG-INCOMING-003", key, events=events)
        if kind is None:
            if first is not None:
                return self._err(st, "MIG-INCOMING-011", first, events=events)
            return self._err(st, "MIG-INCOMING-004", "incoming_unknown_protocol", uri,
                             events=events)
        st.listening += 1
        st.incoming_once = False
        if first is not None:
            return self._err(st, "MIG-INCOMING-011", first, events=events)
        return self._ok(st, "MIG-INCOMING-001", events=events)

    def _h_migrate(self, args: dict[str, Any], st: ModelState) -> Outcome:
        status = st.status
        err = D.migrate_precheck(
            status, st.runstate == RunState.INMIGRATE, st.unmigratable is not None,
            bool(st.blockers), False, self.repairs("DEF-MIGRATE-BEFORE-CLEANUP"))
        if err == "migration_active":
            return self._err(st, "MIG-MIGRATE-001", err)
        if err == "guest_inmigrate":
            return self._err(st, "MIG-MIGRATE-002", err)
        if err == "state_blocked":
            return self._err(st, "MIG-MIGRATE-003", err, st.unmigratable)
        if err == "blocker":
            return self._err(st, "MIG-BLOCKER-001", err, st.blockers[-1])
        # MIG-MIGRATE-006, MIG-INIT-001/002: reset, keep settings, SETUP.
        st.blk = bool(args.get("blk", False))
        events = self._gate(st, S.SETUP)
        st.statuses = frozenset({S.SETUP})
        uri: str = args["uri"]
        scheme = D.outgoing_scheme(uri, self.build)
        if scheme is None:
            st.statuses = frozenset({S.FAILED})
            return self._err(st, "MIG-MIGRATE-008", "uri_invalid",
                             events=events + self._gate(st, S.FAILED))
        outcome, error = self._connect_outcome(st, scheme, uri)
        if outcome == "refused":
            st.statuses = frozenset({S.FAILED})
            return self._err(st, "MIG-MIGRATE-009", "connect_failed", error,
                             events=events + self._gate(st, S.FAILED))
        st.phase = {"immediate": THREAD, "delayed": CONNECT_OK,
                    "delayed-refused": CONNECT_FAIL}[outcome]
        # migrate_init zeroes it (MIG-INIT-001); migrate_fd_connect sets it to
        # max downtime in ms (line 1029, MIG-CONNECT-001).
        st.expected_downtime = st.max_downtime // 1_000_000 if st.phase == THREAD else 0
        return self._ok(st, "MIG-MIGRATE-006", events=events)

    @staticmethod
    def _connect_outcome(st: ModelState, scheme: str, uri: str) -> tuple[str, str]:
        """How the transport's start ends, from the environment knobs: an
        ``fd:`` name the monitor lacks fails first; ``auto`` connects exec:,
        fd: and rdma: at once and sockets later (nobody else listens)."""
        if scheme == "fd:":
            name = uri[len(scheme):]
            if name not in st.fds:
                return "refused", fd_not_found(name)
            # monitor_get_fd takes the descriptor: the name is gone (MIG-MIGRATE-010)
            st.fds = tuple(n for i, n in enumerate(st.fds) if i != st.fds.index(name))
        if st.connect != "auto":
            return st.connect, st.connect_error
        if scheme in ("exec:", "fd:", "rdma:"):
            return "immediate", ""
        return "delayed", ""

    # -- time ---------------------------------------------------------------------------
    def settle_outcome(self) -> tuple[ModelState, list[Event]]:
        """Where a certain model ends when every actor runs to quiescence, and
        the events on the way (lines 567-573, 911-1024, 536-565)."""
        st = self.state.clone()
        events: list[Event] = []
        if not st.alive or st.phase == IDLE:
            return st, events
        status = st.status
        if st.phase == CONNECT_FAIL:
            # migrate_fd_error: SETUP -> FAILED; after a cancel the seed stays
            # CANCELLING (DEF-CANCEL-CONNECT-STUCK), the repair finishes it.
            st.phase = IDLE
            if status == S.SETUP:
                st.statuses = frozenset({S.FAILED})
                events += self._gate(st, S.FAILED)
            elif status == S.CANCELLING and self.repairs("DEF-CANCEL-CONNECT-STUCK"):
                st.statuses = frozenset({S.CANCELLED})
                events += self._gate(st, S.CANCELLED)
            return st, events
        # CONNECT_OK becomes THREAD once migrate_fd_connect ran.
        if st.phase == CONNECT_OK:
            st.expected_downtime = st.max_downtime // 1_000_000
        if st.dirty_rate:
            st.expected_downtime = None
        st.phase = IDLE
        channel_error = bool(st.channel_error)
        st.channel_error = False  # the header write consumes it (line 923)
        r = st.runstate
        assert r is not None
        if status == S.CANCELLING:
            # setup_done's CAS fails, the loop never runs (MIG-THREAD-002/003).
            self._thread_end(st, events, old_running=False, complete_ran=False)
            return self._cleanup(st, events)
        assert status == S.SETUP, status
        st.statuses = frozenset({S.ACTIVE})
        events += self._gate(st, S.ACTIVE)
        if channel_error:
            # MIG-THREAD-008: the header write failed.
            st.statuses = frozenset({S.FAILED})
            events += self._gate(st, S.FAILED)
            self._thread_end(st, events, old_running=False, complete_ran=False)
            return self._cleanup(st, events)
        # MIG-THREAD-006: completion under the big lock. A suspended guest is
        # woken first (qemu_system_wakeup_request: runstate_set, no event).
        if r == RunState.SUSPENDED:
            r = st.runstate = RunState.RUNNING
        old_running = r == RunState.RUNNING
        if old_running:
            st.runstate = RunState.FINISH_MIGRATE
            events.append(STOP)
        elif self._allowed(r, RunState.FINISH_MIGRATE):
            st.runstate = RunState.FINISH_MIGRATE
        else:
            st.alive = False  # runstate_set aborts (DEF-FAILED-STOPPED-ABORT)
            return st, events
        mode = st.completion_error
        if mode == "none":
            st.statuses = frozenset({S.COMPLETED})
            events += self._gate(st, S.COMPLETED)
            st.runstate = RunState.POSTMIGRATE  # MIG-THREAD-009
            return self._cleanup(st, events)
        st.statuses = frozenset({S.FAILED})  # MIG-THREAD-007 / MIG-THREAD-008
        events += self._gate(st, S.FAILED)
        self._thread_end(st, events, old_running, complete_ran=mode != "vm-stop")
        return self._cleanup(st, events)

    def _thread_end(self, st: ModelState, events: list[Event], old_running: bool,
                    complete_ran: bool) -> None:
        """Lines 1014-1018 for a migration that did not complete (MIG-THREAD-010)."""
        if old_running and not (complete_ran and self.repairs("DEF-SPLIT-BRAIN")):
            if st.runstate != RunState.RUNNING:
                st.runstate = RunState.RUNNING
                events.append(RESUME)
        elif st.runstate == RunState.FINISH_MIGRATE and self.repairs("DEF-FAILED-STOPPED-ABORT"):
            st.runstate = RunState.POSTMIGRATE

    def _cleanup(self, st: ModelState, events: list[Event]) -> tuple[ModelState, list[Event]]:
        """``migrate_fd_cleanup`` (MIG-CLEANUP-004)."""
        if D.cleanup_decision(st.status)[2]:
            st.statuses = frozenset({S.CANCELLED})
            events += self._gate(st, S.CANCELLED)
        return st, events

    def settle(self, quiescent: bool, events: list[Event]) -> None:
        """Check a settle's events and outcome; the model is certain after a
        quiescent settle from a certain state. From in flight the machine
        resynchronises by queries."""
        got = [strip_event(e) for e in events]
        st = self.state
        self.version += 1
        self.epoch += 1
        if st.inflight or not self.frozen_time:
            self.check_moving_events(got)
            if quiescent:
                st.statuses = self.closure(st.statuses)
            return
        new, expected = self.settle_outcome()
        if got != expected:
            req = "MIG-EVENT-002" if any(e["event"] == "MIGRATION" for e in got + expected) \
                else "MIG-THREAD-006"
            where = (f"from {'/'.join(s.value for s in st.statuses)} ({st.phase}), run state "
                     f"{st.runstate.value if st.runstate else '?'}, completion_error "
                     f"{st.completion_error}, channel_error {st.channel_error}")
            raise Violation(req, f"settle {where}: events {got}, expected {expected}")
        if not quiescent and new.alive:
            raise Violation("MIG-THREAD-011", "settle: the migration did not finish")
        self.state = new

    def feed_outcome(self, outcome: str, runstate: str | None) -> tuple[ModelState, list[Event]]:
        """A stream from a source arrives and loads (lines 262-307,
        MIG-INCOMING-005..008)."""
        st = self.state.clone()
        events = self._gate(st, S.ACTIVE)
        st.listening -= 1
        # a name that is no run state fails post_load (lines 172-180, MIG-DEST-002)
        unknown = runstate is not None and runstate not in {r.value for r in RunState}
        if outcome == "fail" or unknown:
            events += self._gate(st, S.FAILED)
            st.alive = False  # exit(EXIT_FAILURE), line 280
            return st, events
        events += self._gate(st, S.COMPLETED)
        if runstate is not None:
            st.gs_received = True
            st.gs_state = RunState(runstate)
        state = st.gs_state if st.gs_state is not None else RunState.RUNNING
        target = D.incoming_runstate(st.gs_received, state, st.autostart)
        current = st.runstate
        assert current is not None
        if target is None:
            if current != RunState.RUNNING:
                if not self._allowed(current, RunState.RUNNING):
                    st.alive = False
                    return st, events
                st.runstate = RunState.RUNNING
                events.append(RESUME)
        else:
            # DEF-INCOMING-PRELAUNCH-ABORT and DEF-INCOMING-DEBUG-ABORT: a state
            # 'inmigrate' may not enter aborts, or (repaired) arrives as allowed
            arrives = D.arrival_runstate(target, self.repairs("DEF-INCOMING-PRELAUNCH-ABORT"),
                                         self.repairs("DEF-INCOMING-DEBUG-ABORT"))
            new = target if arrives is None else arrives
            if self._allowed(current, new):
                st.runstate = new
            else:
                st.alive = False
        return st, events

    def feed(self, outcome: str, runstate: str | None, events: list[Event]) -> None:
        """Check what a fed stream did once settled."""
        new, expected = self.feed_outcome(outcome, runstate)
        got = [strip_event(e) for e in events]
        if got != expected:
            raise Violation("MIG-INCOMING-008" if outcome == "complete" else "MIG-INCOMING-006",
                            f"feed {outcome} {runstate}: events {got}, expected {expected}")
        self.state = new
        self.version += 1
        self.epoch += 1

    def resync(self, status: S, runstate: RunState) -> None:
        """After a settle from in flight: the target reported ``status`` and
        ``runstate`` and nothing moves any more."""
        st = self.state
        self.version += 1
        self.epoch += 1
        st.statuses = frozenset({status})
        st.runstate = runstate
        st.inflight = False
        st.phase = IDLE
        st.may_crash = False

    def steady(self) -> bool:
        """Alive, certain, and nothing can move before the next command."""
        st = self.state
        return st.alive and st.certain and not self._may_move(st)

    def terminal(self) -> bool:
        """Certain and not in progress."""
        st = self.state
        return st.certain and st.status not in IN_PROGRESS


def _show(cmd: Any) -> str:
    text = repr(cmd)
    return text if len(text) < 200 else text[:197] + "..."


__all__ = [
    "COMPLETION_ERRORS",
    "CONNECT_OUTCOMES",
    "IN_PROGRESS",
    "TERMINAL",
    "Model",
    "ModelState",
    "Violation",
    "qmp_layer",
]
