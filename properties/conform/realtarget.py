"""Real processes behind the single-process :class:`~migspec.properties.targets.Target`
protocol, so the Hypothesis state machines run against them::

    pytest --pyargs migspec.properties.conformance \\
        --migspec-target=migspec.properties.conform.realtarget:qemu_seed

Within what a real target supports: no environment knobs and no control of
time (``supports_env``/``supports_time`` False); ``reset(incoming=URI)``
launches a destination with ``-incoming URI`` (``qemu`` targets only). Each
call is bounded by the session's timeout; a process that died answers None.
A command object qemu.qmp cannot send (not an object, no string ``execute``)
raises the protocol's ``Unsupported``.

Such targets are judged by trace validation: :meth:`RealTarget.observations`
is the wire-order trace of the current process (sends, replies, events, its
start and exit), which the state machines validate with
:func:`migspec.properties.tracecheck.check_trace` under the profile the
target claims (:func:`qemu_seed`: ``seed``; :func:`qemu_72`: ``qemu-7.2``).
The fixed addresses the machines use are made private per process (a
listener binds loopback or a unix socket in the run's folder only:
``tcp:0:4444`` and ``tcp:127.0.0.1:4444`` become a free loopback port,
``unix:/tmp/...`` the run's folder) and the trace shows them canonically,
as the conformance harness records them.
Processes are ended by PID at the next reset, at :meth:`RealTarget.close`,
when the factory makes the next target (the state machines make one per
example and never close it), and at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import math
import random
import shutil
from collections.abc import Mapping
from typing import Any

from migspec.properties.conform.drivers import (
    QemuSpec,
    QmpSpec,
    Session,
    TargetSpec,
    Unresolved,
    Unsupported,
)
from migspec.properties.conform.observe import DESTINATION, SOURCE
from migspec.properties.conform.processes import Registry
from migspec.properties.conform.runner import _canonical
from migspec.properties.conform.scenarios import _private_uris, instantiate
from migspec.properties.targets import Event, Reply, Target
from migspec.properties.targets import Unsupported as TargetUnsupported
from migspec.reference.profiles import get_profile

#: The model's default guest (Env.ram_bytes): 128 MiB.
MODEL_RAM: tuple[dict[str, Any], ...] = ({"migspec": "env", "ram_bytes": 128 << 20},)


#: One event loop for every RealTarget of the process (they run one at a time).
_LOOP: asyncio.AbstractEventLoop | None = None
#: The target the factory made last; closed when it makes the next.
_LAST: list[RealTarget] = []


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def _made(target: RealTarget) -> RealTarget:
    """Close the factory's previous target; remember this one."""
    while _LAST:
        _LAST.pop().close()
    _LAST.append(target)
    return target


def _not_json(value: Any) -> bool:
    """``value`` holds a float JSON cannot write (NaN, +/-Infinity)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_not_json(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_not_json(v) for v in value)
    return False


class RealTarget:
    """A :class:`TargetSpec` (``qemu`` or ``qmp``) as a one-process Target."""

    supports_env = False
    supports_time = False

    def __init__(self, spec: TargetSpec, profile: str = "seed") -> None:
        self.spec = spec
        self.name = spec.name
        self.profile = profile
        self.supports_incoming = isinstance(spec, QemuSpec)
        self._loop = _loop()
        self._registry = Registry()
        self._session: Session | None = None
        self._vm = SOURCE
        self._read = 0
        atexit.register(self._registry.end_all_now)
        self.reset()

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        """End the processes now."""
        if self._session is not None:
            self._run(self._session.close())
            self._session = None
        self._registry.end_all_now()
        atexit.unregister(self._registry.end_all_now)

    def _private(self, value: Any) -> Any:
        """``value`` with the machines' fixed addresses made private to this run."""
        assert self._session is not None
        line = _private_uris(({"v": value},))[0]
        return instantiate((line,), self._session.placeholders(), random.Random(0))[0]["v"]

    def reset(self, incoming: str | None = None) -> None:
        """A fresh process (a destination with ``-incoming`` when asked)."""
        if self._session is not None:
            self._run(self._session.close())
        self._session = self.spec.session(get_profile(self.profile), MODEL_RAM, self._registry)
        self._vm = SOURCE if incoming is None else DESTINATION
        try:
            self._run(self._session.start(self._vm, self._private(incoming), False))
        except Unsupported as why:
            raise TargetUnsupported(str(why)) from None
        except Unresolved:
            pass  # alive() says False
        self._read = 0

    def execute(self, cmd: Any) -> Reply | None:
        """Send one command; its reply, or None if the process is gone."""
        assert self._session is not None
        if _not_json(cmd):
            # QEMU answers JSON it cannot parse with an error without an id,
            # which qemu.qmp takes for a broken connection.
            raise TargetUnsupported("NaN and Infinity are not JSON; qemu.qmp cannot send them")
        try:
            reply: Reply | None = self._run(self._session.execute(self._vm, self._private(cmd)))
        except Unsupported as why:
            raise TargetUnsupported(str(why)) from None
        except Unresolved:
            return None
        if reply is not None and isinstance(cmd, dict) and "id" in cmd:
            reply = {**reply, "id": cmd["id"]}
        elif reply is not None:
            reply = {k: v for k, v in reply.items() if k != "id"}
        return reply

    def events(self) -> list[Event]:
        """Events since the last call (the connection is read for 10 ms first)."""
        assert self._session is not None
        self._run(asyncio.sleep(0.01))
        trace = self._session.trace
        out = [{k: v for k, v in o.items() if k in ("event", "data")}
               for o in trace[self._read:] if o["vm"] == self._vm and "event" in o]
        self._read = len(trace)
        return out

    def observations(self) -> list[dict[str, Any]]:
        """The current process's trace in wire order (tracecheck's format),
        its private addresses written canonically (``/run/migspec``, port 4444)."""
        assert self._session is not None
        self._run(asyncio.sleep(0))
        trace: list[dict[str, Any]] = _canonical(list(self._session.trace),
                                                 self._session.placeholders())
        return trace

    def alive(self) -> bool:
        """The process has not exited."""
        assert self._session is not None
        return not any("exited" in o and o["vm"] == self._vm for o in self._session.trace) \
            and self._vm in getattr(self._session, "vms", {})

    def set_env(self, values: Mapping[str, Any]) -> None:
        """Not on a real process."""
        raise TargetUnsupported("a real process has no environment knobs")

    def configure_vm(self, values: Mapping[str, Any]) -> None:
        """Not on a real process."""
        raise TargetUnsupported("a real process cannot be configured that way")

    def feed(self, outcome: str, runstate: str | None) -> None:
        """Not on a real process."""
        raise TargetUnsupported("a real process cannot be fed a stream")

    def advance(self, ms: int) -> None:
        """Not on a real process."""
        raise TargetUnsupported("a real process runs in real time")

    def settle(self, max_ms: int = 600_000) -> bool:
        """Not on a real process."""
        raise TargetUnsupported("a real process runs in real time")


def qemu_seed() -> Target:
    """Factory: a launched ``qemu-system-x86_64`` (TCG) judged as ``seed``."""
    binary = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    return _made(RealTarget(QemuSpec(binary, ram_mib=128), "seed"))


def qemu_72() -> Target:
    """Factory: a launched ``qemu-system-x86_64`` (TCG) judged as ``qemu-7.2``
    (Debian 12's QEMU, the profile of spec/deviations.py)."""
    binary = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    return _made(RealTarget(QemuSpec(binary, ram_mib=128), "qemu-7.2"))


def qmp_target(address: str, profile: str = "seed") -> Target:
    """A running endpoint (``PATH`` or ``HOST:PORT``) as a Target."""
    host, sep, port = address.rpartition(":")
    spec = QmpSpec((host, int(port)) if sep and port.isdigit() and "/" not in host
                   else address)
    return _made(RealTarget(spec, profile))
