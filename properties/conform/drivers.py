"""Targets of the conformance harness, driven through one small async session
protocol that knows a source and a destination VM.

- ``reference[:PROFILE]``: the reference engine in-process (virtual time:
  ``settle`` and ``advance`` run the engine's scheduler);
- ``qemu[:BINARY]``: the harness launches ``qemu-system-x86_64`` (no disk,
  small RAM, ``-nodefaults -display none``, TCG unless ``--accel kvm``),
  QMP on a unix socket in a private temporary folder, a fresh source (and
  destination, with ``-incoming URI|defer`` and maybe ``-S``) per run;
- ``qmp:PATH`` or ``qmp:HOST:PORT``: a source that is already running (not
  restarted between runs; no destination).

Every call to a real target is bounded by a timeout; a hang or a death raises
:class:`Unresolved` with what is known (exit status and stderr tail).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from qemu.qmp import QMPClient
from qemu.qmp.message import Message

from migspec.properties.conform import observe as O
from migspec.properties.conform.observe import DESTINATION, SOURCE, Trace
from migspec.properties.conform.processes import Registry, exit_description
from migspec.reference.engine import Engine
from migspec.reference.profiles import Profile, get_profile
from migspec.reference.qmp import InputObjectError, check_input_object
from migspec.reference.script import parse, run_line
from migspec.reference.stream import Stream, stream_of

#: MIGRATION statuses after which nothing moves by itself.
TERMINAL = frozenset({"completed", "failed", "cancelled"})
#: Seconds a real target gets for one command, and to start.
DEFAULT_TIMEOUT = 10.0
#: Seconds of real time a ``settle`` waits at most.
SETTLE_SECONDS = 5.0


class Unsupported(Exception):
    """A step this target cannot perform (the run is UNSUPPORTED)."""


class Unresolved(Exception):
    """The target could not be driven there: a timeout, a death, a launch
    failure (the run is UNRESOLVED)."""


class Session(Protocol):
    """One scenario run against one target: a world with a source VM and,
    once started, a destination VM."""

    trace: Trace
    #: Virtual time: settle/advance are exact and instant.
    virtual_time: bool

    def placeholders(self) -> dict[str, str]:
        """Values of the ``{dir}``/``{port}`` placeholders for this run."""
        ...

    def configure(self, directive: dict[str, Any]) -> None:
        """A mid-script ``env`` directive (Unsupported where it cannot be
        expressed)."""
        ...

    async def start(self, vm: str, incoming: str | None, paused: bool) -> None:
        """Start ``vm`` (``-incoming`` and ``-S`` as given)."""
        ...

    async def execute(self, vm: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """Send a command and wait for its reply (None if the VM died)."""
        ...

    async def submit(self, vm: str, cmd: dict[str, Any]) -> None:
        """Send a command without waiting for the reply."""
        ...

    async def settle(self, max_ms: int) -> None:
        """Wait (bounded) until the migrations are terminal or quiet."""
        ...

    async def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds pass."""
        ...

    async def close(self) -> None:
        """End every process and remove every folder of this run."""
        ...


class TargetSpec(Protocol):
    """A parsed ``--target``: makes one session per run."""

    @property
    def name(self) -> str:
        """For reports."""
        ...

    #: Runs of one scenario may overlap in time.
    concurrent: bool
    #: Runs happen in real time (racy scenarios repeat).
    real: bool

    def env_supported(self, values: Mapping[str, Any]) -> str | None:
        """None, or why these ``env`` knobs cannot be expressed."""
        ...

    def session(self, profile: Profile, setup: tuple[dict[str, Any], ...],
                registry: Registry) -> Session:
        """A new session (nothing started yet)."""
        ...

# -- reference ---------------------------------------------------------------------
class ReferenceSession:
    """The reference engine, one world per run."""

    virtual_time = True

    def __init__(self, profile: Profile, setup: tuple[dict[str, Any], ...]) -> None:
        import json

        self.engine = Engine(profile)
        self.trace: Trace = []
        for line in parse("\n".join(json.dumps(d) for d in setup), "<setup>"):
            run_line(self.engine, line)
        self.engine.output()

    def _drain(self) -> None:
        for line in self.engine.output():
            vm = line.get("vm", SOURCE)
            if "return" in line or "error" in line:
                self.trace.append(O.reply(vm, line))
            elif "event" in line:
                self.trace.append(O.event(vm, line))
            elif line.get("migspec") == "exited":
                self.trace.append(O.exited(vm, str(line.get("reason"))))

    async def start(self, vm: str, incoming: str | None, paused: bool) -> None:
        """Source: -S is prelaunch without autostart. Destination: the engine's
        ``incoming`` (a failure there is an exit, as QEMU's exit(1))."""
        self.trace.append(O.start(vm, incoming, paused))
        if incoming is None:
            if paused:
                self.engine.configure_vm(vm, {"runstate": "prelaunch", "autostart": False})
        else:
            self.engine.incoming(incoming, vm)
            if paused:
                self.engine.configure_vm(vm, {"autostart": False})
        self._drain()

    async def execute(self, vm: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """Run to the reply."""
        self.trace.append(O.send(vm, cmd))
        out = self.engine.execute(cmd, vm)
        self._drain()
        return out

    async def submit(self, vm: str, cmd: dict[str, Any]) -> None:
        """Queue on the VM's main loop."""
        self.trace.append(O.send(vm, cmd))
        self.engine.submit(cmd, vm)

    async def settle(self, max_ms: int) -> None:
        """Run every actor to quiescence (a ``settle`` observation when it got there)."""
        quiet = self.engine.settle(max_ms)
        self._drain()
        if quiet:
            self.trace.append({"vm": SOURCE, "settle": True})

    async def advance(self, ms: int) -> None:
        """Virtual time passes."""
        self.engine.advance(ms)
        self._drain()

    async def close(self) -> None:
        """Nothing to end."""

    def placeholders(self) -> dict[str, str]:
        """Fixed values: nothing is really bound."""
        return {"dir": "/run/migspec", "port": "4444"}

    def configure(self, directive: dict[str, Any]) -> None:
        """Environment knobs change now."""
        self.engine.set_env({k: v for k, v in directive.items() if k != "migspec"})

    def directive(self, line: dict[str, Any]) -> None:
        """Any ``migspec run`` directive (``step``, ``tick``, ``feed``,
        ``trace``, ``vm`` knobs): what has no QMP-level counterpart, which
        only the reference performs."""
        import json

        if line.get("migspec") == "step" and "until" in line:
            raise Unsupported("a step that stops inside an atomic region (until) is finer "
                              "than the validator's whole steps")
        for parsed in parse(json.dumps(line), "<scenario>"):
            run_line(self.engine, parsed)
        self._drain()


@dataclass
class ReferenceSpec:
    """``reference[:PROFILE]``."""

    profile_name: str | None
    concurrent: bool = False
    real: bool = False

    @property
    def name(self) -> str:
        """For reports."""
        return "reference" + (f":{self.profile_name}" if self.profile_name else "")

    def env_supported(self, values: Mapping[str, Any]) -> str | None:
        """Every knob."""
        return None

    def session(self, profile: Profile, setup: tuple[dict[str, Any], ...],
                registry: Registry) -> Session:
        """The engine under ``profile`` (or the target's own profile)."""
        chosen = get_profile(self.profile_name) if self.profile_name else profile
        return ReferenceSession(chosen, setup)



# -- real processes over QMP ---------------------------------------------------------
class RecordingQMP(QMPClient):
    """A :class:`QMPClient` that records every reply and event in wire order
    into the session's trace as it arrives."""

    def __init__(self, vm: str, session: RealSession) -> None:
        super().__init__(f"migspec-{vm}")
        self.vm = vm
        self.session = session

    async def _on_message(self, msg: Message) -> None:
        obj = dict(msg)
        if "event" in obj:
            self.session.trace.append(O.event(self.vm, obj))
        elif "return" in obj or "error" in obj:
            self.session.trace.append(O.reply(self.vm, obj))
        self.session.changed.set()
        await super()._on_message(msg)


@dataclass
class _VM:
    client: RecordingQMP
    proc: asyncio.subprocess.Process | None = None
    stderr: str = ""
    watcher: asyncio.Task[None] | None = None
    events_on: bool = False


class RealSession:
    """Shared by the launched-QEMU and the QMP-endpoint targets."""

    virtual_time = False

    def __init__(self, registry: Registry, timeout: float, folder: str) -> None:
        self.registry = registry
        self.folder = folder
        self._port: str | None = None
        self.timeout = timeout
        self.trace: Trace = []
        self.vms: dict[str, _VM] = {}
        self.changed = asyncio.Event()
        self.closing = False
        self.pending: list[asyncio.Task[Any]] = []
        self._migrate_mark: dict[str, int | None] = {}
        #: The profile the target is judged under (set by the spec's ``session``).
        self.profile: Profile | None = None

    # -- helpers ----------------------------------------------------------------
    def _dead(self, vm: str) -> str | None:
        state = self.vms.get(vm)
        if state is None or state.proc is None or state.proc.returncode is None:
            return None
        return exit_description(state.proc.returncode, state.stderr)

    async def _unresolved(self, vm: str, what: str) -> Unresolved:
        state = self.vms.get(vm)
        if state is not None and state.proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.proc.wait(), 1.0)
            if state.watcher is not None:
                await asyncio.sleep(0)
        died = self._dead(vm)
        return Unresolved(f"{vm} {what}" + (f" (died: {died})" if died else ""))

    async def _watch(self, vm: str, proc: asyncio.subprocess.Process, stderr: str) -> None:
        await proc.wait()
        if not self.closing:
            self.trace.append(O.exited(vm, exit_description(proc.returncode, stderr)))
            self.changed.set()

    async def _connect(self, vm: str, address: str | tuple[str, int],
                       proc: asyncio.subprocess.Process | None, stderr: str) -> None:
        client = RecordingQMP(vm, self)
        state = _VM(client, proc, stderr)
        self.vms[vm] = state
        if proc is not None:
            state.watcher = asyncio.create_task(self._watch(vm, proc, stderr))
        deadline = time.monotonic() + self.timeout
        while True:
            if proc is not None and proc.returncode is not None:
                if state.watcher is not None:
                    await state.watcher  # records the exit
                return
            ready = not isinstance(address, str) or os.path.exists(address)
            if ready:
                try:
                    await asyncio.wait_for(client.connect(address), max(
                        0.05, deadline - time.monotonic()))
                    return
                except TimeoutError:
                    raise await self._unresolved(
                        vm, f"QMP did not answer within {self.timeout:g}s") from None
                except Exception as err:  # ConnectError: not listening yet
                    if time.monotonic() > deadline:
                        raise await self._unresolved(vm, f"QMP connect failed: {err}") from None
            if time.monotonic() > deadline:
                raise await self._unresolved(
                    vm, f"QMP socket did not appear within {self.timeout:g}s")
            await asyncio.sleep(0.002)

    def _note_command(self, vm: str, cmd: dict[str, Any]) -> None:
        name = cmd.get("execute")
        if name == "migrate-set-capabilities":
            args = cmd.get("arguments")
            listed = args.get("capabilities") if isinstance(args, dict) else None
            # Any value may come: the monitor refuses what is not a list.
            for cap in listed if isinstance(listed, list) else []:
                if isinstance(cap, dict) and cap.get("capability") == "events":
                    self.vms[vm].events_on = bool(cap.get("state"))
        elif name == "migrate":
            self._migrate_mark[vm] = len(self.trace)

    async def _send(self, vm: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        state = self.vms.get(vm)
        if state is None:
            raise Unsupported(f"{vm} is not running on this target")
        if not isinstance(cmd, dict) or not isinstance(cmd.get("execute"), str):
            raise Unsupported("a malformed command object cannot go through qemu.qmp")
        if self.profile is not None and not self.profile.deviates("QEMU72-QMP-INPUT-OBJECT"):
            try:
                check_input_object(cmd, self.profile)
            except InputObjectError:
                # only QEMU 7.2 echoes the id of a refused object (QEMU72-QMP-INPUT-OBJECT)
                raise Unsupported("the monitor answers a malformed command object without "
                                  "its id, which qemu.qmp takes for a broken connection") from None
        died = self._dead(vm)
        if died is not None:
            raise Unresolved(f"{vm} died before {cmd['execute']}: {died}")
        self._note_command(vm, cmd)
        self.trace.append(O.send(vm, cmd))
        try:
            msg = await asyncio.wait_for(
                state.client._raw({k: v for k, v in cmd.items() if k != "id"}), self.timeout)
        except TimeoutError:
            raise await self._unresolved(
                vm, f"no reply to {cmd['execute']} within {self.timeout:g}s") from None
        except Exception as err:
            raise await self._unresolved(
                vm, f"lost its QMP connection during {cmd['execute']}: "
                f"{type(err).__name__}") from None
        reply = dict(msg)
        if self._migrate_mark.get(vm) is not None and cmd["execute"] == "migrate" \
                and "error" in reply:
            self._migrate_mark[vm] = None  # refused: nothing to settle
        return reply

    # -- the protocol -------------------------------------------------------------
    async def execute(self, vm: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """Send and await the reply (bounded)."""
        return await self._send(vm, cmd)

    async def submit(self, vm: str, cmd: dict[str, Any]) -> None:
        """Send now; the reply is awaited (bounded) at the next settle or close."""
        self.pending.append(asyncio.create_task(self._send(vm, cmd)))
        await asyncio.sleep(0)

    async def _drain_pending(self) -> None:
        tasks, self.pending = self.pending, []
        for task in tasks:
            await task

    async def _status(self, vm: str) -> str | None:
        reply = await self._send(vm, {"execute": "query-migrate"})
        value = (reply or {}).get("return")
        return value.get("status") if isinstance(value, dict) else None

    def _terminal_event_since(self, vm: str, mark: int) -> bool:
        return any(o["vm"] == vm and o.get("event") == "MIGRATION"
                   and o.get("data", {}).get("status") in TERMINAL
                   for o in self.trace[mark:])

    def _any_event_since(self, vm: str, mark: int) -> bool:
        return any(o["vm"] == vm and o.get("event") == "MIGRATION" for o in self.trace[mark:])

    async def _wait_change(self, seconds: float) -> None:
        self.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), seconds)

    async def _settle_vm(self, vm: str, mark: int, deadline: float) -> None:
        """Wait until ``vm``'s migration since ``mark`` is terminal: by its
        events when they are on, else by polling query-migrate."""
        state = self.vms[vm]
        quiet_polls = 0
        while time.monotonic() < deadline and self._dead(vm) is None:
            if state.events_on:
                if self._terminal_event_since(vm, mark):
                    return
                if vm == DESTINATION and not self._any_event_since(vm, mark):
                    # nothing ever connected: give it a moment, then stop waiting
                    await self._wait_change(0.05)
                    if not self._any_event_since(vm, mark):
                        return
                    continue
                await self._wait_change(0.05)
                continue
            status = await self._status(vm)
            if status is None:
                quiet_polls += 1
                if quiet_polls > 2:
                    return
            elif status in TERMINAL:
                return
            await asyncio.sleep(0.005)

    async def settle(self, max_ms: int) -> None:
        """Source first, then the destination; bounded by SETTLE_SECONDS."""
        await self._drain_pending()
        deadline = time.monotonic() + min(SETTLE_SECONDS, max_ms / 1000)
        mark = self._migrate_mark.get(SOURCE)
        if mark is not None and SOURCE in self.vms:
            await self._settle_vm(SOURCE, mark, deadline)
        if DESTINATION in self.vms:
            start = next((i for i, o in enumerate(self.trace)
                          if o["vm"] == DESTINATION and "start" in o), 0)
            await self._settle_vm(DESTINATION, start, deadline)
            await self._exit_after_failure(start, deadline)
        await asyncio.sleep(0.002)  # the last events of a finishing thread

    async def _exit_after_failure(self, mark: int, deadline: float) -> None:
        """A destination whose load failed exits (exit(1)): wait for it, so
        the exit is part of the trace rather than a matter of timing."""
        state = self.vms[DESTINATION]
        failed = any(o["vm"] == DESTINATION and o.get("event") == "MIGRATION"
                     and o.get("data", {}).get("status") == "failed" for o in self.trace[mark:])
        if failed and state.proc is not None and state.proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.proc.wait(), max(0.01, deadline - time.monotonic()))
            if state.watcher is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(state.watcher), 0.5)

    async def advance(self, ms: int) -> None:
        """Real time passes."""
        await asyncio.sleep(ms / 1000)

    def placeholders(self) -> dict[str, str]:
        """A private folder for the run, and a free loopback port (chosen once)."""
        import socket

        if self._port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self._port = str(s.getsockname()[1])
        return {"dir": self.folder, "port": self._port}

    def configure(self, directive: dict[str, Any]) -> None:
        """A real process's environment does not change on request."""
        raise Unsupported(f"env {', '.join(k for k in directive if k != 'migspec')} "
                          "cannot change during a run on a real target")

    async def start(self, vm: str, incoming: str | None, paused: bool) -> None:
        """Overridden by the launched-QEMU session."""
        raise Unsupported("this target cannot start processes")

    async def close(self) -> None:
        """Disconnect and end every process of the run (by PID)."""
        self.closing = True
        for task in self.pending:
            task.cancel()
        for state in self.vms.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(state.client.disconnect(), 1.0)
        for state in self.vms.values():
            if state.proc is not None:
                await self.registry.end(state.proc)
            if state.watcher is not None:
                state.watcher.cancel()


class QemuSession(RealSession):
    """Launches a fresh ``qemu-system-x86_64`` per VM."""

    def __init__(self, spec: QemuSpec, registry: Registry, folder: str) -> None:
        super().__init__(registry, spec.timeout, folder)
        self.spec = spec
        #: The last URI each VM was told to listen on (-incoming, migrate-incoming).
        self.listening: dict[str, str] = {}
        self._stream: bytes | None = None

    async def execute(self, vm: str, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """Send and await the reply; remember where a VM listens."""
        reply = await self._send(vm, cmd)
        args = cmd.get("arguments") if isinstance(cmd, dict) else None
        if cmd.get("execute") == "migrate-incoming" and isinstance(args, dict) \
                and isinstance(args.get("uri"), str) and reply is not None and "return" in reply:
            self.listening[vm] = args["uri"]
        return reply

    async def _source_stream(self) -> bytes:
        """A real stream of this machine: a helper QEMU (not part of the
        trace, ended by PID) migrates to a file in the run's folder."""
        if self._stream is not None:
            return self._stream
        sock = os.path.join(self.folder, "feeder.qmp")
        out = os.path.join(self.folder, "feeder.stream")
        proc = await self.registry.spawn(self._argv(sock, True, None),
                                         os.path.join(self.folder, "feeder.err"))
        client = QMPClient("feeder")
        try:
            deadline = time.monotonic() + self.timeout
            while not os.path.exists(sock):
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise Unresolved("the feeder QEMU did not start")
                await asyncio.sleep(0.01)
            await asyncio.wait_for(client.connect(sock), self.timeout)
            await client.execute("migrate", {"uri": f"exec:cat > {out}"})
            while True:
                info = await client.execute("query-migrate")
                status = info.get("status") if isinstance(info, dict) else None
                if status == "completed":
                    break
                if status in ("failed", "cancelled") or time.monotonic() > deadline:
                    raise Unresolved(f"the feeder's migration ended {status}")
                await asyncio.sleep(0.01)
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()
            await self.registry.end(proc)
        with open(out, "rb") as handle:
            self._stream = handle.read()
        return self._stream

    async def feed(self, line: dict[str, Any]) -> None:
        """The ``feed`` directive on a real destination: a real stream with its
        global-state section rewritten as the line says (MIG-DEST-001),
        sent to the VM's listener, cut where the line says it fails."""
        vm = line.get("vm", DESTINATION)
        uri = self.listening.pop(vm, None)
        if uri is None or not uri.startswith(("tcp:", "unix:")):
            raise Unsupported(f"{vm} does not listen on a socket this harness can feed")
        data = rewrite_stream(await self._source_stream(), stream_of(line))
        if uri.startswith("tcp:"):
            host, _, port = uri[4:].rpartition(":")
            _, writer = await asyncio.open_connection(host or "127.0.0.1", int(port))
        else:
            _, writer = await asyncio.open_unix_connection(uri[5:])
        try:
            writer.write(data)
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _argv(self, sock: str, paused: bool, incoming: str | None) -> list[str]:
        argv = [self.spec.binary, "-nodefaults", "-display", "none", "-machine", "pc",
                "-accel", self.spec.accel, "-m", str(self.spec.ram_mib),
                "-qmp", f"unix:{sock},server=on,wait=off"]
        if self.spec.halt_firmware:
            argv += ["-bios", halt_firmware(self.registry)]
        if paused:
            argv.append("-S")
        if incoming is not None:
            argv += ["-incoming", incoming]
        return argv

    async def start(self, vm: str, incoming: str | None, paused: bool) -> None:
        """Launch and connect (bounded)."""
        if vm in self.vms:
            raise Unsupported(f"{vm} is already running")
        sock = os.path.join(self.folder, f"{vm}.qmp")
        stderr = os.path.join(self.folder, f"{vm}.err")
        argv = self._argv(sock, paused, incoming)
        if incoming is not None:
            self.listening[vm] = incoming
        self.trace.append(O.start(vm, incoming, paused))
        try:
            proc = await self.registry.spawn(argv, stderr)
        except OSError as err:
            raise Unresolved(f"cannot start {self.spec.binary}: {err.strerror}") from None
        await self._connect(vm, sock, proc, stderr)

    async def close(self) -> None:
        """End the processes, then remove the run's folder."""
        try:
            await super().close()
        finally:
            self.registry.remove_folder(self.folder)


#: The reset vector (last 16 bytes of a 64 KiB image): cli; hlt; jmp back.
_HALT = b"\xfa\xf4\xeb\xfd"


def halt_firmware(registry: Registry) -> str:
    """A 64 KiB firmware that halts the CPU at the reset vector, made once per
    harness run: the guest is running but idle, so a launched VM costs about
    17 ms of CPU under TCG instead of about 41 ms booting SeaBIOS into an
    empty boot list (measured on the CI machine). Migration control does not
    depend on what the guest executes."""
    path = registry.shared.get("halt-firmware")
    if path is None:
        path = os.path.join(registry.folder(), "halt.bin")
        image = bytearray(b"\xf4" * 65536)
        image[-16:-16 + len(_HALT)] = _HALT
        with open(path, "wb") as handle:
            handle.write(image)
        registry.shared["halt-firmware"] = path
    return path


@dataclass
class QemuSpec:
    """``qemu[:BINARY]``."""

    binary: str = "qemu-system-x86_64"
    accel: str = "tcg"
    ram_mib: int = 16
    timeout: float = DEFAULT_TIMEOUT
    #: Boot :func:`halt_firmware` instead of the default BIOS.
    halt_firmware: bool = True
    concurrent: bool = True
    real: bool = True
    #: It can feed a destination a rewritten real stream (QemuSession.feed).
    feeds: bool = True

    @property
    def name(self) -> str:
        """For reports."""
        return f"qemu:{self.binary} ({self.accel})"

    def env_supported(self, values: Mapping[str, Any]) -> str | None:
        """Only the guest RAM size (whole MiB) and real connects."""
        for key, value in values.items():
            if key == "ram_bytes" and isinstance(value, int) and value % (1 << 20) == 0:
                continue
            if key == "connect" and value == "auto":
                continue
            return f"env {key}={value!r} cannot be set on a real QEMU"
        return None

    def session(self, profile: Profile, setup: tuple[dict[str, Any], ...],
                registry: Registry) -> Session:
        """A fresh run folder; RAM from the set-up's ``ram_bytes``."""
        spec = self
        for line in setup:
            if line.get("migspec") == "env" and "ram_bytes" in line:
                spec = dataclasses.replace(self, ram_mib=line["ram_bytes"] >> 20)
        session = QemuSession(spec, registry, registry.folder())
        session.profile = profile
        return session



class QmpSession(RealSession):
    """An endpoint that is already running (only the source)."""

    def __init__(self, spec: QmpSpec, registry: Registry) -> None:
        super().__init__(registry, spec.timeout, registry.folder())
        self.spec = spec

    async def close(self) -> None:
        """Disconnect (the endpoint keeps running), remove the run's folder."""
        try:
            await super().close()
        finally:
            self.registry.remove_folder(self.folder)

    async def start(self, vm: str, incoming: str | None, paused: bool) -> None:
        """The source is the endpoint; nothing else can be started."""
        if vm != SOURCE or incoming is not None:
            raise Unsupported("a qmp: target has no destination the harness can start")
        if paused:
            raise Unsupported("a qmp: target is already running (no -S)")
        self.trace.append(O.start(vm, None, False))
        await self._connect(vm, self.spec.address, None, "")
        if self.spec.reset is not None:
            await self._reset(vm, self.spec.reset)

    async def _reset(self, vm: str, command: str) -> None:
        """Ask the endpoint to start afresh (``migspec serve``'s
        ``x-migspec-reset``) before the scenario; the command, its reply and
        whatever the endpoint sent before it are not part of the trace."""
        mark = len(self.trace)
        try:
            reply = dict(await asyncio.wait_for(
                self.vms[vm].client._raw({"execute": command}), self.timeout))
        except TimeoutError:
            raise await self._unresolved(vm, f"no reply to {command} within "
                                             f"{self.timeout:g}s") from None
        del self.trace[mark:]
        if "return" not in reply:
            raise Unresolved(f"{vm} refused the reset command {command}: {reply.get('error')}")


@dataclass
class QmpSpec:
    """``qmp:PATH`` or ``qmp:HOST:PORT``."""

    address: str | tuple[str, int]
    timeout: float = DEFAULT_TIMEOUT
    concurrent: bool = False
    real: bool = True
    #: A command the endpoint runs to start afresh before each scenario run
    #: (``--reset-command``; e.g. ``x-migspec-reset`` of ``migspec serve``).
    reset: str | None = None

    @property
    def name(self) -> str:
        """For reports."""
        a = self.address
        return f"qmp:{a}" if isinstance(a, str) else f"qmp:{a[0]}:{a[1]}"

    def env_supported(self, values: Mapping[str, Any]) -> str | None:
        """No knob can be set on the endpoint; the guest RAM size is taken as
        a description of it (the scenarios assume a small guest)."""
        other = [k for k in values if k != "ram_bytes"]
        return f"env {', '.join(other)} cannot be set on a running endpoint" if other else None

    def session(self, profile: Profile, setup: tuple[dict[str, Any], ...],
                registry: Registry) -> Session:
        """A new connection to the same endpoint."""
        session = QmpSession(self, registry)
        session.profile = profile
        return session



def parse_target(text: str, accel: str = "tcg", timeout: float = DEFAULT_TIMEOUT,
                 seabios: bool = False) -> TargetSpec:
    """``reference[:PROFILE]``, ``qemu[:BINARY]``, ``qmp:PATH`` or
    ``qmp:HOST:PORT``; ValueError with a one-line reason otherwise."""
    kind, _, rest = text.partition(":")
    if kind == "reference":
        if rest:
            get_profile(rest)
        return ReferenceSpec(rest or None)
    if kind == "qemu":
        binary = rest or "qemu-system-x86_64"
        if shutil.which(binary) is None:
            raise ValueError(f"QEMU binary {binary!r} not found")
        return QemuSpec(binary, accel, timeout=timeout, halt_firmware=not seabios)
    if kind == "qmp":
        if not rest:
            raise ValueError("qmp: needs a PATH or HOST:PORT")
        host, sep, port = rest.rpartition(":")
        if sep and port.isdigit() and host and "/" not in host:
            return QmpSpec((host, int(port)), timeout=timeout)
        return QmpSpec(rest, timeout=timeout)
    raise ValueError(f"unknown target {text!r} (reference[:PROFILE], qemu[:BINARY], "
                     "qmp:PATH or qmp:HOST:PORT)")


def kvm_usable() -> str | None:
    """None if /dev/kvm can be opened read-write, else why not."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as err:
        return f"/dev/kvm: {err.strerror}"
    os.close(fd)
    return None


#: The global-state section's id string in a stream (savevm.c writes the
#: section header, the id string, instance and version ids, then the fields).
_GLOBALSTATE = b"globalstate"


def rewrite_stream(data: bytes, stream: Stream) -> bytes:
    """A real QEMU's stream ``data`` with its global-state section as
    ``stream`` says (MIG-DEST-001): the uint32 size and the 100-byte buffer
    rewritten (bytes of a longer name inserted after it), or the whole section
    (header, fields, footer) left out; and cut before the section, after its
    size field, or after it, where ``stream`` fails."""
    idstr = data.index(_GLOBALSTATE)
    # QEMU_VM_SECTION_FULL, section id (4), id length (1) before the id string
    start = idstr - 6
    fields = idstr + len(_GLOBALSTATE) + 8  # instance id, version id
    end = fields + 4 + 100 + 5  # size, buffer, QEMU_VM_SECTION_FOOTER + section id
    sec = stream.section
    if stream.fail == "before":
        return data[:start]
    if sec is None:
        body = data[:start] + data[end:]
        return body[:start] if stream.fail else body
    name = sec.runstate.encode("latin-1")
    buffer = (name + b"\0" * 100)[:100]
    spill = b"\xff" if sec.spill else b""  # no section footer follows
    head = data[:fields] + sec.size.to_bytes(4, "big")
    if stream.fail == "section":
        return head
    whole = head + buffer + spill + data[fields + 104:]
    return whole[:end + len(spill)] if stream.fail == "after" else whole
