"""Targets: what the property suites drive, at the QMP level.

A :class:`Target` is one QEMU-like process seen through QMP: execute a command
object and get its reply, read the events it sent, start it afresh. Targets
that can also control their environment (guest RAM, how the transport
connects, channel and completion errors, dirty rate, blockers) or time
(advance a virtual clock, run until quiescent) say so with capability flags;
the state machines use those rules only where the flags allow.

Implemented here: :class:`ReferenceTarget`, the in-process reference engine.
Targets for a real QEMU and a QMP socket implement the same protocol; a
target factory is any ``() -> Target`` callable, named on the pytest command
line as ``--migspec-target=module:factory``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from migspec.reference.engine import Engine
from migspec.reference.world import DESTINATION, SOURCE

Reply = dict[str, Any]
Event = dict[str, Any]


class Unsupported(RuntimeError):
    """The target lacks the capability a call needs."""


@runtime_checkable
class Target(Protocol):
    """One process under test, driven over QMP.

    Required of every target: :meth:`execute`, :meth:`events`, :meth:`reset`
    and the attributes below. The rest is optional and guarded by a
    ``supports_*`` flag; a target without the capability raises
    :class:`Unsupported`.
    """

    #: A short name for reports.
    name: str
    #: The profile the target claims to implement: ``"seed"`` or ``"fixed"``
    #: (the model predicts that profile's behaviour).
    profile: str
    #: :meth:`set_env`, :meth:`configure_vm` and :meth:`feed` work.
    supports_env: bool
    #: :meth:`advance` and :meth:`settle` work, and nothing happens between
    #: calls: the migration thread and main-loop callbacks run only inside
    #: ``advance``, ``settle`` or a command that waits for a busy main loop.
    supports_time: bool
    #: :meth:`reset` accepts ``incoming`` (a process started with ``-incoming``).
    supports_incoming: bool

    def execute(self, cmd: Any) -> Reply | None:
        """Send one command object; its reply (``{"return": ...}`` or
        ``{"error": {"class": ..., "desc": ...}}``, with ``"id"`` when the
        command had one), or None if the process exited without answering."""
        ...

    def events(self) -> list[Event]:
        """The events the process sent since the last call, in order."""
        ...

    def reset(self, incoming: str | None = None) -> None:
        """Start the process afresh (with ``-incoming URI`` if ``incoming``)."""
        ...

    def alive(self) -> bool:
        """False once the process has exited (aborted, crashed or exit(1))."""
        ...

    def set_env(self, values: Mapping[str, Any]) -> None:
        """Change environment knobs (the reference's ``env`` directive keys:
        ``ram_bytes``, ``connect``, ``connect_delay_ms``, ``channel_error``,
        ``completion_error``, ``dirty_rate``, ...)."""
        ...

    def configure_vm(self, values: Mapping[str, Any]) -> None:
        """Set ``runstate``, ``autostart``, ``global_state_optional``,
        ``blockers``, ``unmigratable`` or ``fds`` of the process."""
        ...

    def feed(self, outcome: str, runstate: str | None) -> None:
        """An incoming stream arrives at the listener: ``"complete"`` (with a
        global-state section carrying ``runstate``, or none) or ``"fail"``."""
        ...

    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds pass."""
        ...

    def settle(self, max_ms: int = 600_000) -> bool:
        """Run until nothing can move (True) or ``max_ms`` passed (False)."""
        ...


TargetFactory = Callable[[], Target]


class ReferenceTarget:
    """The reference engine in-process (:class:`~migspec.reference.engine.Engine`).

    With ``incoming`` the process under test is the engine's destination VM,
    started as with ``-incoming URI``; otherwise it is the source VM.
    """

    supports_env = True
    supports_time = True
    supports_incoming = True

    def __init__(self, profile: str = "seed", env: Mapping[str, Any] | None = None) -> None:
        self.profile = profile
        self.name = f"reference:{profile}"
        self._env = dict(env or {})
        self.engine = Engine(profile)
        self.vm_name = SOURCE
        self._events: list[Event] = []
        self._trace: list[dict[str, Any]] = []
        self.reset()

    def reset(self, incoming: str | None = None) -> None:
        """A new engine; with ``incoming`` the destination is the process."""
        self.engine = Engine(self.profile)
        if self._env:
            self.engine.set_env(dict(self._env))
        if incoming is None:
            self.vm_name = SOURCE
        else:
            self.vm_name = DESTINATION
            self.engine.incoming(incoming, DESTINATION)
            # The process under test is alone: the engine's idle source VM
            # takes no part (nothing connects to it or listens on it).
            self.engine.world.vms[SOURCE].exited = "not part of this target"
        self._events = []
        self._trace = [{"vm": self.vm_name, "start": {"incoming": incoming, "paused": False}}]

    def _collect(self) -> None:
        me = self.vm_name
        for line in self.engine.output():
            if line.get("vm", SOURCE) != me:
                continue
            if "vm" in line:
                line = {k: v for k, v in line.items() if k != "vm"}
            if "event" in line:
                self._events.append(line)
                self._trace.append({"vm": me, "event": line["event"],
                                    "data": line.get("data") or {}})
            elif "return" in line or "error" in line:
                self._trace.append({"vm": me, "reply": {k: v for k, v in line.items()
                                                        if k in ("return", "error")}})
            elif line.get("migspec") == "exited":
                self._trace.append({"vm": me, "exited": str(line.get("reason", ""))})

    def observations(self) -> list[dict[str, Any]]:
        """The process's trace since its start, in the order the engine logged
        it (the trace validator's format: sends, replies, events, exit)."""
        self._collect()
        return list(self._trace)

    def execute(self, cmd: Any) -> Reply | None:
        """Run the command on the process's main loop to its reply."""
        self._collect()
        self._trace.append({"vm": self.vm_name, "send": cmd})
        reply = self.engine.execute(cmd, self.vm_name)
        self._collect()
        return reply

    def events(self) -> list[Event]:
        """Events since the last call."""
        self._collect()
        out, self._events = self._events, []
        return out

    def alive(self) -> bool:
        """The process has not exited."""
        return self.engine.vm(self.vm_name).exited is None

    def set_env(self, values: Mapping[str, Any]) -> None:
        """Environment knobs (:class:`~migspec.reference.environment.Env`)."""
        self.engine.set_env(dict(values))

    def configure_vm(self, values: Mapping[str, Any]) -> None:
        """VM set-up (run state, blockers, ...)."""
        self.engine.configure_vm(self.vm_name, dict(values))

    def feed(self, outcome: str, runstate: str | None) -> None:
        """A stream from a source outside the engine arrives."""
        self.engine.feed(self.vm_name, outcome, runstate)

    def advance(self, ms: int) -> None:
        """Virtual time passes."""
        self.engine.advance(ms)
        self._collect()

    def settle(self, max_ms: int = 600_000) -> bool:
        """Run every actor until quiescent (the engine's
        :class:`~migspec.reference.scheduler.StepBoundReached` if its step
        bound comes first: never a silent False)."""
        done = self.engine.settle(max_ms)
        self._collect()
        return done


def reference_seed() -> Target:
    """Factory: the reference engine, ``seed`` profile."""
    return ReferenceTarget("seed")


def reference_fixed() -> Target:
    """Factory: the reference engine, ``fixed`` profile."""
    return ReferenceTarget("fixed")


def reference_qemu_72() -> Target:
    """Factory: the reference engine, ``qemu-7.2`` profile (the machines judge
    it by trace validation, as they judge a launched QEMU 7.2)."""
    return ReferenceTarget("qemu-7.2")


def load_factory(spec: str) -> TargetFactory:
    """``module:attribute`` -> the factory it names. ValueError with a one-line
    message if ``spec`` has no colon, the module cannot be imported (whatever
    it raised), the attribute is missing or it is not callable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"a target factory is named 'module:factory', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import-time failure is the user's input
        raise ValueError(
            f"cannot import module {module_name!r}: {type(err).__name__}: {err}"
        ) from None
    obj: Any = module
    where = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{where!r} has no attribute {part!r}")
        obj = getattr(obj, part)
        where = f"{where}.{part}" if where != module_name else f"{module_name}:{part}"
    if not callable(obj):
        raise ValueError(f"{spec} is not callable (it is {type(obj).__name__} {obj!r:.60})")
    factory: TargetFactory = obj
    return factory


def protocol_members() -> list[str]:
    """Every attribute and method of :class:`Target`, sorted."""
    methods = {n for n, v in vars(Target).items() if callable(v) and not n.startswith("_")}
    return sorted(set(Target.__annotations__) | methods)


def missing_members(obj: object) -> list[str]:
    """The members of :class:`Target` that ``obj`` lacks (methods must be
    callable); empty when it is a Target."""
    def has(name: str) -> bool:
        if not hasattr(obj, name):
            return False
        return name in Target.__annotations__ or callable(getattr(obj, name))

    return [name for name in protocol_members() if not has(name)]


class NotATarget(TypeError):
    """A target factory returned something that is not a :class:`Target`."""


def checked(factory: TargetFactory, spec: str) -> TargetFactory:
    """``factory``, checking each object it returns: :class:`NotATarget`
    naming the missing members if it is not a :class:`Target`."""
    def make() -> Target:
        obj: Any = factory()
        missing = missing_members(obj)
        if missing:
            raise NotATarget(
                f"{spec} returned {obj!r:.60}, which is not a migspec Target: "
                f"missing {', '.join(missing)}"
            )
        target: Target = obj
        return target
    return make
