"""Hypothesis state machines that drive any :class:`~migspec.properties.targets.Target`.

One :class:`RuleBasedStateMachine` per target factory (:func:`machine_for`).
Its rules send every QMP command of :data:`migspec.spec.commands.COMMANDS`,
with valid arguments, the boundary values of every parameter domain, wrong
types, unknown and malformed URIs, negative, huge, NaN and infinite speed and
downtime, cache sizes around the page size and the RAM size; malformed
command objects and unknown commands; and, where the target supports them,
environment rules (connect outcomes, channel and completion errors, dirty
rate, blockers, run state), time rules (advance, settle), and incoming
streams for a process started with ``-incoming defer``.

Each rule's arguments range over finite domains and are drawn as one
combination from a precomputed table (:func:`action`), a single integer draw:
Hypothesis's own work per step dominates the run, so cheap draws matter.
Every rule run is counted (:attr:`TargetMachine.fired`, :data:`RULES`) and a
test demands that each one fired.

Each rule checks the reply and the events against
:class:`~migspec.properties.model.Model`; invariant checks (tagged with
requirement IDs, :data:`INVARIANT_REQUIREMENTS`) send the query commands after
a step whenever what they observe may have changed, while the model is steady.

Targets that claim a profile the model does not predict (it predicts
``seed`` and ``fixed``; ``qemu-7.2`` is a set of deviations the reference
engine applies) are judged differently (:func:`judged_by_trace`): every
rule's command goes out as usual and :class:`TraceJudge` validates the whole trace recorded so far
(the target's :meth:`observations`, in wire order) with
:func:`migspec.properties.tracecheck.check_trace` under the profile the target
claims, after every step and at the end of each example: the reference engine
(with the profile's deviations of spec/deviations.py, ``qemu-7.2`` included)
is the oracle, so nothing of a profile is declared twice. Deterministic
outcomes (settings, queries, refusals, errors) have one admitted reply; racy
ones (a migration running in real time on a launched QEMU) any the engine
admits under some schedule. The rules that need environment knobs or control
of time do not run on such targets (the validator is told of neither), and a
command the trace cannot hold or the target cannot send (qemu.qmp sends only
objects with a string ``execute``, and no NaN) is skipped
(:attr:`TargetMachine.skipped`).

Usage against a factory: ``run_machine(machine_for(factory), settings)``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from migspec.properties.model import (
    COMPLETION_ERRORS,
    CONNECT_OUTCOMES,
    IDLE,
    Model,
    Violation,
    qmp_layer,
    qmp_requirement,
    strip_event,
)
from migspec.properties.targets import Target, TargetFactory
from migspec.properties.targets import Unsupported as TargetUnsupported
from migspec.spec import constants as C
from migspec.spec.capabilities import Capability
from migspec.spec.commands import COMMAND_BY_NAME, COMMANDS, ArgType
from migspec.spec.parameters import PARAMETERS
from migspec.spec.runstates import RunState
from migspec.spec.states import IN_PROGRESS
from migspec.spec.states import MigrationStatus as S

F = TypeVar("F", bound=Callable[..., Any])

# -- value domains ------------------------------------------------------------------------
MIB = 1024 * 1024
#: Guest RAM sizes the machine starts with: small, so a migration takes a few
#: dozen engine steps; one not a power of two.
RAM_SIZES = (1 * MIB, 2 * MIB + 3 * C.TARGET_PAGE_SIZE)
EXEC_URI = "exec:cat > /dev/null"
VALID_URIS = (EXEC_URI, "tcp:127.0.0.1:4444", "unix:/tmp/migspec.sock", "fd:migfd",
              "exec:true")
#: No scheme (rdma: is not compiled in by default), wrong case, leading blank,
#: no colon, empty, long, non-ASCII.
BAD_URIS = ("", "tcp", "TCP:127.0.0.1:4444", " tcp:127.0.0.1:4444", "rdma:127.0.0.1:4444",
            "gopher:x", "exec", "file:/tmp/x", "defer", "unix", "fd", "tcp;1", "\u00e9xec:x",
            "x" * 300, ":", "tcp :1")
INCOMING_URIS = ("defer", "tcp:0:4444", "unix:/tmp/migspec-in.sock", "exec:cat", "fd:0",
                 "rdma:0:4444", "gopher:x", "", "tcp")
INT64_EDGES = (C.INT64_MIN, C.INT64_MIN + 1, -1, 0, 1, C.INT64_MAX - 1, C.INT64_MAX)
#: Not QInt in QEMU: too large for int64, so JSON parses them as QFloat.
HUGE_INTS = (C.INT64_MAX + 1, C.INT64_MIN - 1, 1 << 64, 10**30)
SPEED_VALUES: tuple[Any, ...] = (
    *INT64_EDGES, 9, 10, 11, 100, 4 * MIB - 1, 4 * MIB, 32 * MIB, 1 << 40, *HUGE_INTS, 1.0, 1.5,
    -1.0, math.nan, math.inf, -math.inf, "32", True, None,
)
DOWNTIME_VALUES: tuple[Any, ...] = (
    0, 0.0, -0.0, -1, -1.5, 1e-10, 1e-9, 1.5e-9, 0.001, 0.3, 1, 2, 30, 1e9, 1e10,
    18.446744073709551, 18446744073.709553, 18446744073.709551615, 2e10, 1e308, -1e308,
    math.inf, -math.inf, math.nan, 5e-324, C.INT64_MAX, C.INT64_MIN, 10**20, -(10**20),
    "0.3", True, None, [],
)
DIRTY_RATES = (0, 65536, 262144)
#: Global-state names no honest source sends (MIG-DEST-002): unknown, empty, and
#: 100 bytes with no NUL in the buffer.
HOSTILE_NAMES = ("flying", "", "x" * 100)
#: A limit at least this fast (or 0, unlimited) keeps a migration of
#: RAM_SIZES to a few dozen windows.
FAST_SPEED = 4 * MIB


def _parameter_values(lo: int, hi: int) -> tuple[Any, ...]:
    return (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, -1, 0, *INT64_EDGES, *HUGE_INTS, 1.0, "1",
            True, None)


def _cache_values(ram: int) -> tuple[Any, ...]:
    page = C.TARGET_PAGE_SIZE
    return (page - 1, page, page + 1, 2 * page - 1, 2 * page, ram - 1, ram, ram + 1,
            ram - page, ram // 2 + 1, 3 * page, 0, -1, -page, *INT64_EDGES, *HUGE_INTS,
            float(page), "4096", True, None)


#: The rules that send each QMP command of spec/commands.py (valid and invalid
#: arguments); ``bad_arguments``, ``unknown_command`` and ``malformed_command``
#: send every command with wrong arguments besides.
COMMAND_RULES: dict[str, tuple[str, ...]] = {
    "migrate": ("migrate", "migrate_bad_uri"),
    "migrate_cancel": ("migrate_cancel", "migrate", "advance"),
    "migrate-incoming": ("migrate_incoming", "feed"),
    "migrate-set-capabilities": ("migrate_set_capabilities", "migrate_set_capabilities_invalid"),
    "query-migrate-capabilities": ("query_migrate_capabilities",),
    "migrate-set-parameters": ("migrate_set_parameters",),
    "query-migrate-parameters": ("query_migrate_parameters",),
    "migrate-set-cache-size": ("migrate_set_cache_size",),
    "query-migrate-cache-size": ("query_migrate_cache_size",),
    "migrate_set_speed": ("migrate_set_speed",),
    "migrate_set_downtime": ("migrate_set_downtime",),
    "query-migrate": ("query_migrate",),
    "query-status": ("query_status",),
    "stop": ("stop",),
    "cont": ("cont",),
    "qmp_capabilities": ("qmp_capabilities",),
}

#: Requirement IDs of each invariant (method name -> IDs).
INVARIANT_REQUIREMENTS: dict[str, tuple[str, ...]] = {}
#: Every action of the machines (what the rules draw and run), with the target
#: capability it needs ("", "env", "time" or "incoming").
RULES: dict[str, str] = {}
#: The finite argument domains of each action.
ACTION_DOMAINS: dict[str, dict[str, tuple[Any, ...]]] = {}


def checks(*requirements: str) -> Callable[[F], F]:
    """Tag an invariant with the requirements it checks."""

    def deco(fn: F) -> F:
        INVARIANT_REQUIREMENTS[fn.__name__] = requirements
        return fn

    return deco




def action(needs: str = "", **domains: Sequence[Any]) -> Callable[[F], F]:
    """Make a method a counted Hypothesis rule whose arguments range over finite
    domains (``needs``: the target capability it uses, "", "env", "time" or
    "incoming").

    The rule draws one combination of the arguments from a precomputed table
    (a single integer draw, cheap next to nested strategies); every run is
    counted in :attr:`TargetMachine.fired` so a test can demand that each rule
    fired. Put ``@precondition`` above it.
    """

    def deco(fn: F) -> F:
        name = fn.__name__
        RULES[name] = needs
        keys = list(domains)
        table = [dict(zip(keys, values, strict=True))
                 for values in itertools.product(*(tuple(domains[k]) for k in keys))]
        ACTION_DOMAINS[name] = {k: tuple(v) for k, v in domains.items()}

        def wrapper(self: TargetMachine, choice: dict[str, Any] | None = None) -> Any:
            type(self).fired[name] += 1
            return fn(self, **(choice or {}))

        wrapper.__name__ = name
        wrapper.__qualname__ = fn.__qualname__
        wrapper.__doc__ = fn.__doc__
        decorated = rule(choice=st.sampled_from(table))(wrapper) if keys else rule()(wrapper)
        return decorated  # type: ignore[return-value]

    return deco


def _capability_lists() -> tuple[list[tuple[Capability, bool]], ...]:
    """Capability lists: empty, every single entry, every pair (a later entry
    wins, MIG-CAPS-001), and longer ones."""
    entries = [(c, on) for c in Capability for on in (False, True)]
    lists: list[list[tuple[Capability, bool]]] = [[]]
    lists += [[e] for e in entries]
    lists += [[a, b] for a in entries for b in entries]
    lists += [entries[i:i + 4] for i in range(0, len(entries) - 3, 2)]
    return tuple(lists)


def _parameter_sets() -> tuple[dict[str, Any], ...]:
    """Every combination of absent or boundary values of the three parameters."""
    options = [(None, *_parameter_values(d.minimum, d.maximum)) for d in PARAMETERS]
    out = []
    for values in itertools.product(*options):
        out.append({d.name: v for d, v in zip(PARAMETERS, values, strict=True)
                    if v is not None})
    return tuple(out)


def _cmd(name: str, args: dict[str, Any] | None = None, ident: Any = None) -> dict[str, Any]:
    cmd: dict[str, Any] = {"execute": name}
    if args is not None:
        cmd["arguments"] = args
    if ident is not None:
        cmd["id"] = ident
    return cmd


_VALID_ARG: dict[ArgType, Any] = {
    ArgType.STRING: EXEC_URI, ArgType.INT: 1, ArgType.OCTETS: 1 << 20, ArgType.NUMBER: 0.3,
    ArgType.BOOL: False, ArgType.ANY: [],
}
_WRONG_ARG: dict[ArgType, tuple[Any, ...]] = {
    ArgType.STRING: (1, True, None, [], {}, 1.5),
    ArgType.INT: ("1", 1.5, True, None, [], *HUGE_INTS),
    ArgType.OCTETS: ("1", 1.0, False, None, {}, *HUGE_INTS),
    ArgType.NUMBER: ("1", True, None, [], {}),
    ArgType.BOOL: (1, 0, "true", None, []),
}
_NOT_COMMANDS = ("migrate-start", "query-migrations", "Migrate", "migrate_incoming",
                 "migrate-set-speed", "query_migrate", "", "quit2", "x" * 64)
#: Doubles among them: QEMU 2.4 echoes 1e-7 as 0 and 0.1234567 as 0.123457
#: (MIG-QMP-007, DEF-QMP-DOUBLE-FORMAT).
_IDS: tuple[Any, ...] = (None, None, 1, "a", 0, [1, "x"], {"k": None}, 0.5, 1e-7,
                         [0.1234567])


def _bad_argument_cases() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every command with one argument missing, one unknown, or one mistyped."""
    cases: list[tuple[str, dict[str, Any]]] = []
    for decl in COMMANDS:
        valid = {a.name: _VALID_ARG[a.kind] for a in decl.args if not a.optional}
        for arg in decl.args:
            if not arg.optional:
                cases.append((decl.name, {k: v for k, v in valid.items() if k != arg.name}))
            for wrong in _WRONG_ARG.get(arg.kind, ()):
                cases.append((decl.name, {**valid, arg.name: wrong}))
        for extra in ("bogus", "value ", "URI", "id"):
            cases.append((decl.name, {**valid, extra: 1}))
    return tuple(cases)


BAD_ARGUMENT_CASES = _bad_argument_cases()


#: The profiles :class:`~migspec.properties.model.Model` predicts.
MODEL_PROFILES = ("seed", "fixed")


def judged_by_trace(target: Target) -> bool:
    """The machines judge ``target`` by trace validation (:class:`TraceJudge`)
    rather than by the model: it claims a profile the model does not predict
    (``qemu-7.2``: the engine holds its deviations, the model does not)."""
    return target.profile not in MODEL_PROFILES


#: Connect outcomes a ``migrate`` may take on a judged target: nothing listens
#: on the machines' addresses, so a socket connect is refused, at once or later.
JUDGE_CONNECT = ("auto", "refused", "delayed-refused")
#: Observations shown around a rejected one in a violation's message.
_CONTEXT = 6


class TraceJudge:
    """Validates what a target showed against the profile it claims.

    The trace is the target's own :meth:`observations` (wire order) where it
    has them; otherwise the judge records it from the machine's calls (each
    send, then the events read after the reply, then the reply: an
    approximation of wire order for targets that cannot say better). Each
    :meth:`check` validates the whole trace of the current process as a
    prefix of a run (:func:`~migspec.properties.tracecheck.check_trace`) in the
    validator's small instant world (:data:`~migspec.properties.tracecheck.SMALL_SETUP`,
    statistics are not compared) with :data:`JUDGE_CONNECT`.
    """

    def __init__(self, target: Target) -> None:
        from migspec.properties import tracecheck as tc

        self.target = target
        self.profile = target.profile
        self.env = tc.Environment(setup=tc.SMALL_SETUP, connect=JUDGE_CONNECT)
        self._own: list[dict[str, Any]] | None = (
            None if callable(getattr(target, "observations", None)) else [])
        self.vm = "source"
        self._checked = 0
        #: Why this process's trace is no longer judged (the validator reached
        #: its search bound, or met a request beyond the profile's model).
        self.undecided: str | None = None

    def started(self, incoming: str | None) -> None:
        """The target was (re)started: a new trace."""
        self._checked = 0
        self.undecided = None
        self.vm = "source" if incoming is None else "destination"
        if self._own is not None:
            self._own = [{"vm": self.vm, "start": {"incoming": incoming, "paused": False}}]
            self._own += [{"vm": self.vm, **e} for e in self.target.events()]

    def sent(self, cmd: Any, reply: Any) -> None:
        """Record one command and its reply (targets without observations)."""
        if self._own is None:
            return
        self._own.append({"vm": self.vm, "send": cmd})
        self._own += [{"vm": self.vm, **e} for e in self.target.events()]
        if reply is not None:
            self._own.append({"vm": self.vm, "reply": reply})
        elif not self.target.alive():
            self._own.append({"vm": self.vm, "exited": "no reply"})

    def trace(self) -> list[dict[str, Any]]:
        """The current process's trace."""
        if self._own is None:
            observed: list[dict[str, Any]] = self.target.observations()  # type: ignore[attr-defined]
            return observed
        return list(self._own)

    def check(self) -> None:
        """Validate the trace so far; :class:`Violation` naming the requirement
        of the first observation the profile does not admit."""
        from migspec.properties import tracecheck as tc

        trace = self.trace()
        if self.undecided is not None or len(trace) == self._checked:
            return
        verdict = tc.check_trace(trace, self.env, self.profile)
        if verdict.ok:
            self._checked = len(trace)
            return
        if verdict.bounded or verdict.unsupported:
            self.undecided = (f"validator search bound reached at {len(trace)} observations"
                              if verdict.bounded else "; ".join(verdict.unsupported))
            TargetMachine.undecided[self.undecided] += 1
            return
        index = len(trace) if verdict.index is None else verdict.index
        lo = max(0, index - _CONTEXT)
        shown = "\n".join(f"  {i}: {trace[i]!r:.300}" for i in range(lo, min(index + 1,
                                                                               len(trace))))
        raise Violation(self.requirement(trace, index),
                        f"{self.target.name} as {self.profile} (trace validation): "
                        f"{verdict.message()[:1500]}\n{shown}")

    @staticmethod
    def requirement(trace: Sequence[dict[str, Any]], index: int) -> str:
        """The requirement an observation rests on: a reply, its command's (a
        QMP-layer refusal MIG-QMP-001..003); an event, MIG-EVENT-003 before the
        first command of the process, else MIG-EVENT-002; an exit MIG-SAFETY-001."""
        if index >= len(trace):
            return "MIG-LIVE-001"
        obs = trace[index]
        vm = obs.get("vm", "source")
        mine = [o for o in trace[:index] if o.get("vm", "source") == vm]
        if "exited" in obs:
            return "MIG-SAFETY-001"
        if "event" in obs:
            return "MIG-EVENT-002" if any("send" in o for o in mine) else "MIG-EVENT-003"
        if "reply" not in obs:
            return "MIG-EVENT-002"
        sends = [o["send"] for o in mine if "send" in o]
        replies = sum(1 for o in mine if "reply" in o)
        cmd = sends[replies] if replies < len(sends) else None
        err, parsed, echoed = qmp_layer(cmd)
        if err is not None:
            return qmp_requirement(err, echoed)
        assert parsed is not None
        decl = COMMAND_BY_NAME.get(parsed.decl.name)
        return decl.requirement if decl is not None else "MIG-QMP-001"


class TargetMachine(RuleBasedStateMachine):
    """The rules and invariants; :func:`machine_for` binds a target factory.

    Rules keep running after the process exited (an abort the model predicted):
    every command must then go unanswered, until ``reset`` starts it anew."""

    factory: ClassVar[TargetFactory]
    fired: ClassVar[Counter[str]]
    #: Judged targets: rule runs whose command the target could not send.
    skipped: ClassVar[Counter[str]] = Counter()
    #: Judged targets: why a process's trace stopped being judged, and how often.
    undecided: ClassVar[Counter[str]] = Counter()

    #: Choose each step's rule uniformly among the enabled ones
    #: (:func:`_install_flat_rule_choice`) instead of Hypothesis's swarm selection.
    flat_rules: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        if type(self).flat_rules:
            _install_flat_rule_choice(self)
        self.target: Target = type(self).factory()
        #: Set for targets judged by trace validation (:func:`judged_by_trace`);
        #: the model then only carries the role and run state the
        #: preconditions read (the seed's, whatever the target claims).
        self.judge = TraceJudge(self.target) if judged_by_trace(self.target) else None
        self.model = Model(self.target.profile if self.judge is None else "seed",
                           frozen_time=self.target.supports_time)
        self._dirty = False
        self.role = "source"
        self.ram: int | None = None
        self._checked_version = -1
        self._checked_epoch = -1
        self._seen: dict[str, object] = {}

    # -- plumbing -------------------------------------------------------------------------
    def run(self, cmd: Any) -> Any:
        """Send ``cmd``, check reply and events against the model (or, on a
        judged target, the trace so far against the profile); the reply."""
        if self.judge is not None:
            return self._run_judged(cmd)
        reply = self.target.execute(cmd)
        self.model.command(cmd, reply, self.target.events())
        return reply

    def _run_judged(self, cmd: Any) -> Any:
        if not isinstance(cmd, dict):
            type(self).skipped[_show_kind(cmd)] += 1  # a trace holds command objects
            return None
        if _environment_decides(cmd):
            type(self).skipped[_show_kind(cmd) + " (the environment decides)"] += 1
            return None
        try:
            reply = self.target.execute(cmd)
        except TargetUnsupported:
            type(self).skipped[_show_kind(cmd)] += 1
            return None
        assert self.judge is not None
        self.judge.sent(cmd, reply)
        name = cmd.get("execute") if isinstance(cmd, dict) else None
        if isinstance(reply, dict) and "return" in reply and not (
                isinstance(name, str) and name.startswith("query-")):
            self._dirty = True
        self.judge.check()
        return reply

    @property
    def alive(self) -> bool:
        if self.judge is not None:
            return self.target.alive()
        return self.model.state.alive

    def _start(self) -> None:
        incoming = "defer" if self.role == "incoming" else None
        self.target.reset(incoming=incoming)
        if self.judge is not None:
            self.model.reset(incoming, None)  # the role, for the preconditions
            self.judge.started(incoming)
            self.judge.check()
            self._dirty = True
            return
        if self.target.supports_env and self.ram is not None:
            self.target.set_env({"ram_bytes": self.ram})
        expected = self.model.reset(incoming, self.ram)
        got = [strip_event(e) for e in self.target.events()]
        if got != expected:
            raise Violation("MIG-EVENT-003", f"start-up events {got}, expected {expected}")

    def _resync(self) -> None:
        """After time passed in flight: read the status and run state back."""
        reply = self.run(_cmd("query-migrate"))
        if reply is None:
            return
        info = reply["return"]
        status = S(info["status"]) if "status" in info else S.NONE
        reply = self.run(_cmd("query-status"))
        if reply is None:
            return
        runstate = RunState(reply["return"]["status"])
        if self.model.state.channel_error is None:
            self.target.set_env({"channel_error": False})
            self.model.state.channel_error = False
        return self._resynced(status, runstate)

    def _resynced(self, status: S, runstate: RunState) -> None:
        self.model.resync(status, runstate)

    # -- conditions ----------------------------------------------------------------------
    def _certain(self) -> bool:
        if self.judge is not None:
            return True
        return self.model.steady()

    def _can_migrate(self) -> bool:
        """migrate is predictable: certain, or refused for sure (every possible
        status is in progress); and a migration would finish quickly."""
        m = self.model.state
        if not self.alive or self.judge is not None:
            return True  # a process that exited answers nothing; the judge admits any
        if not self.model.steady():
            return all(s in IN_PROGRESS for s in m.statuses)
        return self._converges() and m.runstate is not None

    def _converges(self) -> bool:
        """A migration of the machine's guest ends within a few dozen
        rate-limit windows: the limit is fast (or none) and the guest's
        dirtying cannot outrun ``max_size``."""
        m = self.model.state
        fast = m.bandwidth_limit == 0 or m.bandwidth_limit >= FAST_SPEED
        return fast and (m.dirty_rate == 0 or m.max_downtime == 0
                         or m.max_downtime >= 100_000_000)

    def _settles_quickly(self) -> bool:
        """``settle`` ends soon: nothing runs, the migration converges, or it
        is cancelled (the thread sees that within one window)."""
        m = self.model.state
        if m.phase == IDLE and not m.inflight:
            return True
        return self._converges() or not (m.statuses & {S.SETUP, S.ACTIVE})

    def _env(self) -> bool:
        return self.target.supports_env and self.judge is None

    def _time(self) -> bool:
        return self.target.supports_time and self.judge is None

    # -- set-up ---------------------------------------------------------------------------
    @initialize(role=st.sampled_from(("source", "source", "incoming")),
                ram=st.sampled_from(RAM_SIZES))
    def start(self, role: str, ram: int) -> None:
        """A fresh process: a source, or (targets that can) ``-incoming defer``."""
        self._begin(role, ram)

    def _begin(self, role: str, ram: int) -> None:
        if role == "incoming" and not self.target.supports_incoming:
            role = "source"
        self.role = role
        self.ram = ram if self._env() else None
        self._start()

    @action(role=("source", "incoming"), ram=RAM_SIZES)
    def reset(self, role: str, ram: int) -> None:
        """Start the process afresh (Target.reset). After the process exited
        (abort, exit(1)) this is the only rule left: the process must not
        answer any more."""
        if not self.alive and self.target.execute(_cmd("query-status")) is not None:
            raise Violation("MIG-QMP-001", "a process the model saw exit still answers")
        self._begin(role, ram)

    # -- the QMP layer ------------------------------------------------------------------------
    @action(ident=_IDS)
    def qmp_capabilities(self, ident: Any) -> None:
        """MIG-QMP-004: negotiation is over, the command is refused."""
        self.run(_cmd("qmp_capabilities", ident=ident))

    @action(name=_NOT_COMMANDS, ident=_IDS)
    def unknown_command(self, name: str, ident: Any) -> None:
        """MIG-QMP-001: CommandNotFound, with the id echoed."""
        self.run(_cmd(name, {}, ident))

    @action(kind=("list", "string", "no-execute", "execute-int", "args-list", "extra",
                  "args-null", "number"))
    def malformed_command(self, kind: str) -> None:
        """MIG-QMP-003: objects the monitor refuses before the command."""
        cmds: dict[str, Any] = {
            "list": ["query-migrate"],
            "string": "query-migrate",
            "no-execute": {"arguments": {}},
            "execute-int": {"execute": 1},
            "args-list": {"execute": "query-migrate", "arguments": []},
            "extra": {"execute": "query-migrate", "argumentz": {}},
            "args-null": {"execute": "migrate_cancel", "arguments": None},
            "number": 3,
        }
        self.run(cmds[kind])

    @action(case=BAD_ARGUMENT_CASES, ident=_IDS)
    def bad_arguments(self, case: tuple[str, dict[str, Any]], ident: Any) -> None:
        """MIG-QMP-002: a missing, unknown or mistyped argument of any command."""
        name, args = case
        self.run(_cmd(name, dict(args), ident))

    # -- migrate and cancel ------------------------------------------------------------------
    @precondition(lambda self: self._can_migrate()
                  and self.model.state.runstate != RunState.INMIGRATE)
    @action(uri=VALID_URIS, blk=(None, False, True), detach=(None, True),
            then=("nothing", "settle", "settle", "cancel", "cancel-settle"),
            faults=(None, None, *itertools.product((False, False, True), COMPLETION_ERRORS)))
    def migrate(self, uri: str, blk: bool | None, detach: bool | None, then: str,
                faults: tuple[bool, str] | None) -> None:
        """MIG-MIGRATE-001..009: accepted or refused; then, at times, cancelled
        at once (MIG-CANCEL-001) and/or run to the end. On targets with
        environment control ``faults`` first sets the channel and completion
        errors (MIG-THREAD-006..010)."""
        if faults is not None and self._env():
            channel_error, completion_error = faults
            self.target.set_env({"channel_error": channel_error,
                                 "completion_error": completion_error})
            self.model.state.channel_error = channel_error
            self.model.state.completion_error = completion_error
            self.model.touch()
        args: dict[str, Any] = {"uri": uri}
        if blk is not None:
            args["blk"] = blk
            args["inc"] = not blk
        if detach is not None:
            args["detach"] = detach
        self.run(_cmd("migrate", args))
        if then.startswith("cancel") and self.alive:
            self.run(_cmd("migrate_cancel"))
        if then.endswith("settle") and self._time() and self.alive \
                and self._settles_quickly():
            self._settle()

    @precondition(lambda self: self._can_migrate())
    @action(uri=BAD_URIS)
    def migrate_bad_uri(self, uri: str) -> None:
        """MIG-MIGRATE-008: no scheme matches; setup then failed."""
        self.run(_cmd("migrate", {"uri": uri}))

    @action()
    def migrate_cancel(self) -> None:
        """MIG-CANCEL-001/003: always succeeds; setup and active become cancelling."""
        self.run(_cmd("migrate_cancel"))

    @action(uri=INCOMING_URIS)
    def migrate_incoming(self, uri: str) -> None:
        """MIG-INCOMING-001..004, 010, 011."""
        self.run(_cmd("migrate-incoming", {"uri": uri}))

    # -- capabilities --------------------------------------------------------------------------
    @action(caps=_capability_lists())
    def migrate_set_capabilities(self, caps: list[tuple[Capability, bool]]) -> None:
        """MIG-CAPS-001/002: in order, later entries win; refused while running."""
        listed = [{"capability": c.value, "state": on} for c, on in caps]
        self.run(_cmd("migrate-set-capabilities", {"capabilities": listed}))

    @action(value=(
        "events", {}, None, 1, [None], ["events"], [{"capability": "events"}],
        [{"state": True}], [{"capability": "event", "state": True}],
        [{"capability": "EVENTS", "state": True}], [{"capability": 1, "state": True}],
        [{"capability": "events", "state": 1}], [{"capability": "events", "state": "on"}],
        [{"capability": "events", "state": True, "extra": 1}],
        [{"capability": "xbzrle", "state": True}, {"capability": "nope", "state": True}],
    ))
    def migrate_set_capabilities_invalid(self, value: Any) -> None:
        """MIG-QMP-002: the QAPI visitor refuses the list; nothing changes."""
        self.run(_cmd("migrate-set-capabilities", {"capabilities": value}))

    @action()
    def query_migrate_capabilities(self) -> None:
        """MIG-CAPS-003."""
        self.run(_cmd("query-migrate-capabilities"))

    # -- parameters, cache, speed, downtime -----------------------------------------------------
    @action(args=_parameter_sets())
    def migrate_set_parameters(self, args: dict[str, Any]) -> None:
        """MIG-PARAMS-001..004: each domain's boundaries, wrong types, combinations."""
        self.run(_cmd("migrate-set-parameters", args))

    @action()
    def query_migrate_parameters(self) -> None:
        """MIG-PARAMS-005."""
        self.run(_cmd("query-migrate-parameters"))

    @precondition(lambda self: self.model.state.ram_bytes is not None)
    @action("env", index=range(len(_cache_values(RAM_SIZES[0]))))
    def migrate_set_cache_size(self, index: int) -> None:
        """MIG-CACHE-001..004: around the page size and the guest RAM size."""
        ram = self.model.state.ram_bytes
        assert ram is not None
        self.run(_cmd("migrate-set-cache-size", {"value": _cache_values(ram)[index]}))

    @action()
    def query_migrate_cache_size(self) -> None:
        """MIG-CACHE-005."""
        self.run(_cmd("query-migrate-cache-size"))

    @action(value=SPEED_VALUES)
    def migrate_set_speed(self, value: Any) -> None:
        """MIG-SPEED-001: negative becomes 0; huge, float, NaN, inf are refused
        by type (or as JSON)."""
        self.run(_cmd("migrate_set_speed", {"value": value}))

    @action(value=DOWNTIME_VALUES)
    def migrate_set_downtime(self, value: Any) -> None:
        """MIG-DOWNTIME-001/002: seconds to ns, clamped; 2**64 ns becomes 0 in the seed."""
        self.run(_cmd("migrate_set_downtime", {"value": value}))

    # -- queries and the VM --------------------------------------------------------------------
    @action()
    def query_migrate(self) -> None:
        """MIG-QUERY-001..006."""
        self.run(_cmd("query-migrate"))

    @action()
    def query_status(self) -> None:
        """MIG-VM-001."""
        self.run(_cmd("query-status"))

    @precondition(lambda self: self._certain())
    @action()
    def stop(self) -> None:
        """MIG-VM-002."""
        self.run(_cmd("stop"))

    @precondition(lambda self: self._certain())
    @action()
    def cont(self) -> None:
        """MIG-VM-003."""
        self.run(_cmd("cont"))

    # -- environment ---------------------------------------------------------------------------
    @precondition(lambda self: self._env())
    @action("env", outcome=CONNECT_OUTCOMES, delay=(0, 5, 250))
    def env_connect(self, outcome: str, delay: int) -> None:
        """How the next transport start turns out (MIG-CONNECT-002, MIG-FDERROR-001)."""
        self.target.set_env({"connect": outcome, "connect_delay_ms": delay})
        self.model.state.connect = outcome
        self.model.state.connect_delay_ms = delay
        self.model.touch()

    @precondition(lambda self: self._env())
    @action("env", channel_error=(False, False, True), completion_error=COMPLETION_ERRORS,
            dirty_rate=DIRTY_RATES)
    def env_faults(self, channel_error: bool, completion_error: str, dirty_rate: int) -> None:
        """What goes wrong and how busy the guest is: the next write on the
        channel fails (MIG-THREAD-008), completion fails (MIG-THREAD-006/007/010),
        the running guest dirties memory at a rate."""
        self.target.set_env({"channel_error": channel_error,
                             "completion_error": completion_error, "dirty_rate": dirty_rate})
        m = self.model.state
        m.channel_error = None if (m.inflight and channel_error) else channel_error
        m.completion_error = completion_error
        m.dirty_rate = dirty_rate
        if dirty_rate and m.inflight:
            m.expected_downtime = None  # the running thread may re-estimate it
        self.model.touch()

    @precondition(lambda self: self._env() and self.model.state.runstate != RunState.INMIGRATE)
    @action("env", blockers=((), (), (), ("a blocker",), ("first", "Migration is disabled")),
            device=(None, None, None, None, "ivshmem"), fds=((), ("migfd",), ("migfd",)))
    def env_vm(self, blockers: tuple[str, ...], device: str | None,
               fds: tuple[str, ...]) -> None:
        """Blockers, an unmigratable device, monitor fds (MIG-BLOCKER-001, MIG-MIGRATE-003)."""
        self.target.configure_vm({"blockers": list(blockers), "unmigratable": device,
                                  "fds": list(fds)})
        m = self.model.state
        m.blockers, m.unmigratable, m.fds = blockers, device, fds
        self.model.touch()

    @precondition(lambda self: self._env() and self._certain()
                  and self.model.state.runstate != RunState.INMIGRATE)
    @action("env", runstate=(RunState.RUNNING, RunState.PAUSED, RunState.PRELAUNCH))
    def env_runstate(self, runstate: RunState) -> None:
        """Start the guest stopped (-S: prelaunch) or paused."""
        self.target.configure_vm({"runstate": runstate.value})
        self.model.state.runstate = runstate
        self.model.touch()

    @precondition(lambda self: self._env() and self._time() and self._can_migrate()
                  and self.model.state.runstate != RunState.INMIGRATE)
    @action("env", names=(("migfd",), ("migfd", "other")))
    def getfd_migrate_twice(self, names: tuple[str, ...]) -> None:
        """MIG-MIGRATE-010: the monitor is given descriptors (getfd), a migrate
        takes fd:migfd and, once that migration ended, a second one asks for
        fd:migfd again (monitor_get_fd handed the first over and forgot it)."""
        self.target.configure_vm({"fds": list(names)})
        self.model.state.fds = names
        self.model.touch()
        for _ in range(2):
            if not (self.alive and self._can_migrate()):
                return
            self.run(_cmd("migrate", {"uri": "fd:migfd"}))
            if not (self.alive and self._settles_quickly()):
                return
            self._settle()

    # -- time --------------------------------------------------------------------------------
    def _settle(self) -> None:
        inflight = self.model.state.inflight or not self.model.frozen_time
        quiescent = self.target.settle(120_000)
        self.model.settle(quiescent, self.target.events())
        if not self.target.alive():
            if self.model.state.alive and not (inflight and self.model.state.may_crash):
                raise Violation("MIG-THREAD-011", "the process exited while settling")
            self.model.state.alive = False
            return
        if not self.model.state.alive:
            raise Violation("MIG-THREAD-006", "the process should have aborted")
        if inflight and quiescent:
            self._resync()

    @precondition(lambda self: self._time() and self._settles_quickly())
    @action("time")
    def settle(self) -> None:
        """Run until nothing moves; the outcome is exact from a certain state."""
        self._settle()

    @precondition(lambda self: self._time())
    @action("time", ms=(0, 1, 50, 100, 1000), cancel=(False, True))
    def advance(self, ms: int, cancel: bool) -> None:
        """Let time pass mid-migration: the model goes in flight; at times a
        cancel follows while the thread runs (MIG-CANCEL-001/002)."""
        self._advance(ms)
        if cancel and self.alive:
            self.run(_cmd("migrate_cancel"))

    def _advance(self, ms: int) -> None:
        self.model.go_inflight()
        self.target.advance(ms)
        events = self.target.events()
        if self.model.state.inflight:
            self.model.check_moving_events([strip_event(e) for e in events])
        elif events:
            raise Violation("MIG-EVENT-002", f"events while nothing runs: {events}")
        if not self.target.alive() and self.model.state.alive:
            if not self.model.state.may_crash:
                raise Violation("MIG-THREAD-011", "the process exited while time passed")
            self.model.state.alive = False

    # -- the incoming side ------------------------------------------------------------------

    @precondition(lambda self: self.alive and self._env() and self.target.supports_time
                  and self.model.state.runstate == RunState.INMIGRATE
                  and (self.model.state.listening > 0 or self.model.state.deferred))
    @action("incoming", outcome=("complete", "complete", "fail"),
            runstate=(None, None, RunState.RUNNING, RunState.PAUSED, *RunState,
                      *HOSTILE_NAMES),
            autostart=(None, "stop", "cont"))
    def feed(self, outcome: str, runstate: RunState | str | None,
             autostart: str | None) -> None:
        """A source connects and sends a stream that loads (with a global-state
        section, or none) or fails (MIG-INCOMING-005..008), over every
        combination of received section, run state and autostart (``stop`` and
        ``cont`` on the waiting destination set it, MIG-VM-002/003). Without a
        listener yet, ``migrate-incoming`` opens one first."""
        if autostart is not None:
            self.run(_cmd(autostart))
        if self.model.state.listening == 0:
            self.run(_cmd("migrate-incoming", {"uri": "tcp:0:4444"}))
            if self.model.state.listening == 0:
                return  # refused (the seed's once flag, or the fixed profile)
        name = runstate.value if isinstance(runstate, RunState) else runstate
        self.target.feed(outcome, name)
        self.target.settle(120_000)
        self.model.feed(outcome, name, self.target.events())
        if self.target.alive() != self.model.state.alive:
            raise Violation("MIG-INCOMING-008", f"process alive: {self.target.alive()}, "
                            f"expected {self.model.state.alive}")

    # -- invariants ------------------------------------------------------------------------
    # Each check is named for what it observes and tagged with the requirements
    # it checks; one Hypothesis invariant runs them all after every step in
    # which the model's state may have changed (a query the model answered
    # from its state cannot change what the checks see).
    def _query(self, name: str) -> None:
        self.run(_cmd(name))

    @checks("MIG-QUERY-001", "MIG-QUERY-002", "MIG-QUERY-003", "MIG-QUERY-004",
            "MIG-QUERY-005", "MIG-QUERY-006")
    def inv_query_migrate(self) -> None:
        """query-migrate has the fields of the model's status."""
        self._query("query-migrate")

    @checks("MIG-CAPS-003", "MIG-CAPS-001", "MIG-STATE-001", "MIG-INIT-001")
    def inv_capabilities(self) -> None:
        """query-migrate-capabilities lists the model's capabilities."""
        self._query("query-migrate-capabilities")

    @checks("MIG-PARAMS-005", "MIG-PARAMS-001", "MIG-STATE-001", "MIG-INIT-001")
    def inv_parameters(self) -> None:
        """query-migrate-parameters returns the model's parameters."""
        self._query("query-migrate-parameters")

    @checks("MIG-CACHE-005", "MIG-CACHE-001", "MIG-STATE-001", "MIG-INIT-001")
    def inv_cache_size(self) -> None:
        """query-migrate-cache-size returns the model's size."""
        self._query("query-migrate-cache-size")

    @checks("MIG-VM-001", "MIG-THREAD-009", "MIG-THREAD-010", "MIG-INCOMING-008")
    def inv_runstate(self) -> None:
        """query-status reports the model's run state."""
        self._query("query-status")

    @checks("MIG-EVENT-001", "MIG-EVENT-002")
    def inv_no_stray_events(self) -> None:
        """Every event was accounted for by the rule that caused it."""
        stray = self.target.events()
        if stray:
            raise Violation("MIG-EVENT-002", f"events nobody caused: {stray}")

    def teardown(self) -> None:
        """On a judged target: the events that came after the last step are
        validated too."""
        if self.judge is not None:
            self.target.events()
            self.judge.check()

    def _observed(self, name: str) -> object:
        """What check ``name`` reads of the model (it re-runs when that changes)."""
        m = self.model.state
        if name == "inv_query_migrate":
            return (m.statuses, m.caps[Capability.XBZRLE], m.cache_size, m.blk)
        if name == "inv_capabilities":
            return tuple(m.caps.values())
        if name == "inv_parameters":
            return tuple(m.params.values())
        if name == "inv_cache_size":
            return m.cache_size
        if name == "inv_runstate":
            return m.runstate
        return object()  # always

    @invariant()
    def observations_agree(self) -> None:
        """Run the checks of :data:`INVARIANT_REQUIREMENTS` while the model is
        steady: all of them after time passed, the environment changed or the
        process restarted; after a command, those whose observed part of the
        model changed. On a judged target: the queries after every step in
        which a command was accepted (or the process restarted), then the
        trace so far is validated."""
        if self.judge is not None:
            if self._dirty and self.alive:
                self._dirty = False
                for name in INVARIANT_REQUIREMENTS:
                    if name != "inv_no_stray_events":
                        getattr(self, name)()
            self.target.events()
            self.judge.check()
            return
        if not self.model.steady():
            return
        if self.model.version == self._checked_version:
            return
        force = self.model.epoch != self._checked_epoch
        for name in INVARIANT_REQUIREMENTS:
            if force or self._seen.get(name) != self._observed(name):
                getattr(self, name)()
                if not self.alive:
                    return
                self._seen[name] = self._observed(name)
        self._checked_version = self.model.version
        self._checked_epoch = self.model.epoch


#: Incoming URI schemes whose stream comes from the process's surroundings
#: (a command's output, an inherited descriptor): on a real target what
#: arrives there (here: end of file at once, and the destination exits) is
#: the environment's choice, which the validator cannot be told.
ENVIRONMENT_STREAMS = ("exec:", "fd:")


def _environment_decides(cmd: Any) -> bool:
    """A judged target's outcome of ``cmd`` rests on what its environment
    does, not on the spec (``migrate-incoming`` on :data:`ENVIRONMENT_STREAMS`)."""
    if not isinstance(cmd, dict) or cmd.get("execute") != "migrate-incoming":
        return False
    args = cmd.get("arguments")
    uri = args.get("uri") if isinstance(args, dict) else None
    return isinstance(uri, str) and uri.startswith(ENVIRONMENT_STREAMS)


def _show_kind(cmd: Any) -> str:
    """A short name of a command object for :attr:`TargetMachine.skipped`."""
    name = cmd.get("execute") if isinstance(cmd, dict) else None
    if isinstance(name, str):
        return name
    return f"<{type(cmd).__name__} command object>"


def machine_for(factory: TargetFactory, name: str = "TargetMachine",
                flat_rules: bool = True) -> type[TargetMachine]:
    """A machine class bound to ``factory`` with its own rule counter.

    ``flat_rules`` (default): pick each step's rule uniformly among the
    enabled rules instead of through Hypothesis's swarm selection (feature
    flags that disable a random subset of rules per example). The swarm
    selection costs about as much per step as everything else together; the
    flat choice is about twice as fast and, on the mutation catalogue of
    ``migspec mutants``, catches every fault the swarm selection catches (24
    against 22 of 32 with the ci profile). ``False`` restores Hypothesis's
    own selection.
    """
    cls = type(name, (TargetMachine,), {"factory": staticmethod(factory),
                                        "fired": Counter(), "flat_rules": flat_rules})
    return cls


def _install_flat_rule_choice(machine: TargetMachine) -> None:
    """Replace the machine's rule strategy by a uniform draw over the rules whose
    preconditions hold. Uses Hypothesis's internal hook (``_rules_strategy``,
    ``Rule.preconditions``, ``Rule.arguments_strategies``); if those are
    missing the default selection stays."""
    # Typed through a Callable so that the call type-checks both with the
    # Hypothesis releases that annotate setup_state and those that do not.
    setup_state: Callable[[], Any] = type(machine).setup_state
    rules = list(setup_state().rules)
    if not hasattr(machine, "_rules_strategy") or not all(
            hasattr(r, "preconditions") and hasattr(r, "arguments_strategies")
            for r in rules):
        return
    rules.sort(key=lambda r: r.function.__name__)

    @st.composite
    def flat(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
        enabled = [r for r in rules if all(p(machine) for p in r.preconditions)]
        chosen = draw(st.sampled_from(enabled))
        return chosen, {k: draw(v) for k, v in chosen.arguments_strategies.items()}

    machine._rules_strategy = flat()  # type: ignore[assignment]


def run_machine(machine: type[TargetMachine], settings: Settings) -> None:
    """Run ``machine`` with ``settings`` (Hypothesis's runner, typed)."""
    # Typed through a Callable: annotated in Hypothesis >= 6.170.7, not before.
    run: Callable[..., None] = run_state_machine_as_test
    run(machine, settings=settings)


def rules_for(target: Target) -> list[str]:
    """The rules a target's capabilities let fire."""
    judged = judged_by_trace(target)
    env = target.supports_env and not judged
    time = target.supports_time and not judged
    have = {"": True, "env": env, "time": time,
            "incoming": env and time and target.supports_incoming}
    needs_time = {"settle", "advance"}
    out = []
    for rule_name, needs in RULES.items():
        if not have[needs]:
            continue
        if rule_name in needs_time and not time:
            continue
        out.append(rule_name)
    return out


def unfired(machine: type[TargetMachine], target: Target) -> list[str]:
    """Rules the target could run that never fired."""
    return sorted(r for r in rules_for(target) if machine.fired[r] == 0)


def mutant_detector(profile: str | None = None) -> str | None:
    """For ``migspec mutants``: run the machines against the reference (seed and
    fixed, without shrinking) under whatever fault is patched in; the first
    violation found, or None. ``profile`` (default ``$MIGSPEC_MUTANTS_PROFILE``,
    else the deterministic ``ci``) names the Hypothesis profile."""
    import os

    from hypothesis import Phase

    from migspec.properties.hypothesis_profiles import load
    from migspec.properties.targets import reference_fixed, reference_seed

    name = profile or os.environ.get("MIGSPEC_MUTANTS_PROFILE") or "ci"
    quick = Settings(load(name), phases=[Phase.generate], print_blob=False)
    for factory in (reference_seed, reference_fixed):
        machine = machine_for(factory, "MutantMachine")
        try:
            run_machine(machine, quick)
        except Violation as err:
            return str(err)
    return None
