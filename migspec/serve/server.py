"""``migspec serve``: the reference engine behind real QMP sockets.

One asyncio event loop, no threads. A :class:`Host` owns the engine, its
clock and the routing of what the engine logs; an :class:`Endpoint` is one
QEMU process's QMP socket (``source``, and with ``--pair`` ``destination``);
a :class:`Client` is one connection, which is its own monitor, as each QMP
connection of QEMU is (``monitor.c``, QEMU 2.4):

- it gets the greeting of the profile's QEMU version (``spec/monitor.py``) and
  starts out of command mode; commands before ``qmp_capabilities`` are
  refused as ``invalid_qmp_mode`` refuses them (MIG-QMP-006);
- its bytes are split into messages as QEMU's JSON streamer splits them
  (:mod:`migspec.serve.framing`) and decoded by the project's one JSON policy
  (:mod:`migspec.reference.wire`, MIG-QMP-005); replies carry the command's
  ``id`` where ``handle_qmp_command`` echoes it (MIG-QMP-003);
- events go to every connection of that process that negotiated
  (``monitor_qapi_event_emit``), with wall-clock timestamps;
- each message is answered before the next one of that connection is read,
  as QEMU's monitor handles one command at a time; replies and events are
  written in the order the engine logged them.

Bounds per connection: a message longer than ``max_message`` bytes is
answered "Invalid JSON syntax" (framing.py); a connection whose unread
output passes ``max_output`` bytes is closed (QEMU 2.4 would buffer without
bound). Reading pauses while a reply is awaited or the output is above the
transport's high-water mark (asyncio's ``drain``).

Time: the engine's virtual clock follows the monotonic clock times
``time_scale`` (default 1.0); a task runs the engine's actors up to "now"
and sleeps until the engine's next wake-up (``scheduler.next_time``). With
``manual_time`` the clock moves only on ``x-migspec-advance``/``-settle``/
``-step`` and while a command waits for a busy main loop, exactly as in a
``migspec run`` script. Whenever the engine's clock is ahead of "now" (a
settle, a step), "now" jumps ahead with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migspec.reference import scheduler as sched
from migspec.reference import thread as mthread
from migspec.reference import wire
from migspec.reference.engine import Engine, EngineError, execute_now
from migspec.reference.handlers import QmpError
from migspec.reference.qmp import InputObjectError, check, check_input_object, echo_id
from migspec.reference.script import DIRECTIVES, ScriptError, directive_line, run_line
from migspec.reference.world import DESTINATION, SOURCE, Move
from migspec.serve.control import CONTROL_BY_NAME, ControlDecl
from migspec.serve.framing import MAX_MESSAGE, Framer, Message
from migspec.spec.commands import COMMAND_BY_NAME
from migspec.spec.errors import ERROR_BY_KEY
from migspec.spec.monitor import MonitorDecl, monitor_for

#: Default bound on a connection's unread output, bytes.
MAX_OUTPUT = 1 << 20
#: Above this much unread output a connection's reader waits (drain).
HIGH_WATER = 64 * 1024
#: Internal trace entries kept when no one asks for them.
TRACE_KEEP = 10_000


@dataclass
class ServeConfig:
    """What ``migspec serve`` was asked for."""

    profile: str = "seed"
    pair: bool = False
    incoming: str = "tcp:0:4444"
    time_scale: float = 1.0
    manual_time: bool = False
    control: bool = True
    max_message: int = MAX_MESSAGE
    max_output: int = MAX_OUTPUT
    env: dict[str, Any] = field(default_factory=dict)
    #: VM name -> thread program counter to hold at from the start.
    holds: dict[str, str] = field(default_factory=dict)


class ControlError(Exception):
    """A control command that cannot run: a GenericError with this text."""


def _error(key: str, *args: object) -> dict[str, Any]:
    decl = ERROR_BY_KEY[key]
    return {"error": {"class": decl.error_class, "desc": decl.text(*args)}}


class Client:
    """One QMP connection: its own monitor."""

    def __init__(self, host: Host, endpoint: Endpoint, writer: asyncio.StreamWriter) -> None:
        self.host = host
        self.endpoint = endpoint
        self.writer = writer
        self.negotiated = False
        self.closed = False
        self.waiting: asyncio.Future[None] | None = None

    def send(self, obj: dict[str, Any]) -> None:
        """Queue one message (``monitor_json_emitter``: JSON, then CR LF)."""
        if self.closed:
            return
        line = wire.dumps(obj).encode() + b"\r\n"
        transport = self.writer.transport
        if transport.is_closing():
            self.close()
            return
        if transport.get_write_buffer_size() + len(line) > self.host.config.max_output:
            self.close(abort=True)  # never reads its replies: bounded memory
            return
        self.writer.write(line)

    def answered(self) -> None:
        """The reply the connection waited for has been written."""
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(None)
        self.waiting = None

    def close(self, abort: bool = False) -> None:
        """Close the connection (at once with ``abort``)."""
        if self.closed:
            return
        self.closed = True
        self.answered()
        transport = self.writer.transport
        if abort:
            transport.abort()
        else:
            transport.close()


@dataclass
class Endpoint:
    """One QEMU process's QMP socket."""

    vm: str
    address: str = ""
    clients: set[Client] = field(default_factory=set)
    server: asyncio.base_events.Server | None = None
    path: str | None = None


class Host:
    """The engine, its clock, and who gets what it logs."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.monitor: MonitorDecl = monitor_for(config.profile)
        self.endpoints: dict[str, Endpoint] = {SOURCE: Endpoint(SOURCE)}
        if config.pair:
            self.endpoints[DESTINATION] = Endpoint(DESTINATION)
        self.poke = asyncio.Event()
        self.replies = 0
        self.pending: dict[str, deque[Client]] = {}
        self.start()

    def start(self) -> None:
        """A fresh world as the server starts it: the source (and with
        ``pair`` the destination, as with ``-incoming URI``), the ``env``
        knobs and hold points of the command line, the clock at 0. Commands
        still waiting for a main loop of the old world are not answered:
        their connections are closed."""
        for queue in self.pending.values():
            for client in queue:
                if client.waiting is not None:
                    client.close()
        self.engine = Engine(self.config.profile)
        if self.config.pair:
            self.engine.incoming(self.config.incoming, DESTINATION)
        self.pending = {}
        self.holds: dict[str, str] = {}
        self.engine.allow = self._allow
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.offset_us = 0
        if self.config.env:
            self._directive("env", dict(self.config.env), SOURCE)
        for vm, pc in self.config.holds.items():
            self._hold(vm, pc)
        self.route()

    # -- time ------------------------------------------------------------------
    def now_us(self) -> int:
        """The virtual "now"; never behind the engine's clock."""
        world = self.engine.world
        if self.config.manual_time:
            return world.clock_us
        elapsed = time.monotonic() - self.t0
        mapped = self.offset_us + int(elapsed * self.config.time_scale * 1e6)
        if world.clock_us > mapped:
            self.offset_us += world.clock_us - mapped
            mapped = world.clock_us
        return mapped

    def _wall(self, stamp: dict[str, int]) -> dict[str, int]:
        now = time.time()
        if self.config.manual_time:
            wall = now
        else:
            virtual = stamp["seconds"] * 1_000_000 + stamp["microseconds"]
            wall = min(now, self.wall0 + (virtual - self.offset_us)
                       / (self.config.time_scale * 1e6))
        us = int(wall * 1e6)
        return {"seconds": us // 1_000_000, "microseconds": us % 1_000_000}

    def catch_up(self) -> None:
        """Run every actor (but held ones) up to "now" (clocked modes)."""
        if self.config.manual_time:
            return
        # At the step bound the clock stands where it stopped; the next round goes on.
        with contextlib.suppress(sched.StepBoundReached):
            sched.run(self.engine.world, self.now_us(), self.engine.scheduler,
                      allow=self._allow)
        self.route()

    async def clock(self) -> None:
        """The engine's actors run as time passes (not with manual time)."""
        while True:
            self.catch_up()
            wake = sched.next_time(self.engine.world)
            timeout = None
            if wake is not None:
                timeout = max(0.0, (wake - self.now_us()) / (self.config.time_scale * 1e6))
            self.poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.poke.wait(), timeout)

    # -- holds -------------------------------------------------------------------
    def _allow(self, move: Move) -> bool:
        if move.actor != "thread":
            return True
        pc = self.holds.get(move.vm)
        if pc is None:
            return True
        t = self.engine.world.vms[move.vm].threads.get(int(move.task))
        return t is None or t.pc != pc

    def _hold(self, vm: str, pc: Any) -> None:
        if not isinstance(pc, str) or pc not in mthread.PROGRAM_COUNTERS:
            raise ControlError("until must be a thread program counter (one of: "
                               + ", ".join(mthread.PROGRAM_COUNTERS) + ")")
        self._vm(vm)
        self.holds[vm] = pc

    def _vm(self, name: Any) -> str:
        if not isinstance(name, str):
            raise ControlError("vm must be a string")
        try:
            self.engine.vm(name)
        except EngineError as err:
            raise ControlError(str(err)) from None
        return name

    # -- routing -----------------------------------------------------------------
    def route(self) -> None:
        """Hand every new log entry to the connections it belongs to."""
        for vm, obj in self.engine.drain_log():
            if "return" in obj or "error" in obj:
                queue = self.pending.get(vm)
                client = queue.popleft() if queue else None
                if client is not None:
                    self.replies += 1
                    client.send(obj)
                    client.answered()
            elif "event" in obj:
                endpoint = self.endpoints.get(vm)
                if endpoint is None:
                    continue
                event = {"timestamp": self._wall(obj["timestamp"]),
                         **{k: v for k, v in obj.items() if k != "timestamp"}}
                for client in list(endpoint.clients):
                    if client.negotiated:
                        client.send(event)
            elif obj.get("migspec") == "unanswered":
                queue = self.pending.get(vm)
                client = queue.popleft() if queue else None
                if client is not None:
                    client.close()
            elif obj.get("migspec") == "exited":
                self._exited(vm)
        trace = self.engine.world.trace
        if len(trace) > TRACE_KEEP:
            del trace[:len(trace) - TRACE_KEEP]

    def _exited(self, vm: str) -> None:
        """The process died: its connections close, as QEMU's would."""
        endpoint = self.endpoints.get(vm)
        for client in list(endpoint.clients if endpoint else ()):
            client.close()
        for waiting in self.pending.pop(vm, deque()):
            waiting.close()

    # -- commands ----------------------------------------------------------------
    async def run_command(self, client: Client, cmd: dict[str, Any]) -> None:
        """A QMP command of the engine, from ``client``; returns once its
        reply is written (or the connection closed)."""
        vm = client.endpoint.vm
        engine = self.engine
        target = engine.world.vms[vm]
        queue = self.pending.setdefault(vm, deque())
        if self.config.manual_time:
            queue.append(client)
            engine.execute(cmd, vm)
            self.route()
            return
        self.catch_up()
        if target.exited is not None or client.closed:
            client.close()
            return
        queue.append(client)
        if not target.queue and sched.main_loop_free(engine.world, vm):
            execute_now(engine.world, target, cmd)
            self.route()
            self.poke.set()
            return
        waiting: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.waiting = waiting
        target.queue.append(cmd)  # the main loop is busy: it runs when free
        self.poke.set()
        await waiting

    def control(self, client: Client, decl: ControlDecl, args: dict[str, Any]) -> Any:
        """An ``x-migspec-*`` command; its return value (ControlError)."""
        vm = client.endpoint.vm
        if decl.directive is None:
            unknown = set(args) - ({"vm", "until"} if decl.name == "x-migspec-hold" else {"vm"})
            if unknown:
                raise ControlError(f"{decl.name} does not take "
                                   + ", ".join(wire.text_of(k) for k in sorted(unknown)))
            if decl.name == "x-migspec-reset":
                if args:
                    raise ControlError("x-migspec-reset takes no arguments")
                self.start()
                self.poke.set()
                return {}
            name = self._vm(args.get("vm", vm))
            if decl.name == "x-migspec-hold":
                if "until" not in args:
                    raise ControlError("x-migspec-hold needs until")
                self._hold(name, args["until"])
            else:
                self.holds.pop(name, None)
            self.poke.set()
            return {}
        self.catch_up()
        out = self._directive(decl.directive, args, vm)
        self.poke.set()
        if decl.directive == "trace":
            return [{k: v for k, v in o.items() if k != "migspec"}
                    for o in out if o.get("migspec") == "trace"]
        notices = [o for o in out if o.get("migspec") in ("settle", "advance")]
        return notices[0] if notices else {}

    def _directive(self, name: str, args: dict[str, Any], vm: str) -> list[dict[str, Any]]:
        if "migspec" in args:
            raise ControlError("arguments must not hold 'migspec'")
        obj = {"migspec": name, **args}
        if "vm" not in obj and (name == "vm" or "vm" in DIRECTIVES[name][1]):
            obj["vm"] = vm
        try:
            out = run_line(self.engine, directive_line(obj))
        except ScriptError as err:
            raise ControlError(err.message) from None
        except EngineError as err:
            raise ControlError(str(err)) from None
        finally:
            self.route()
        if name == "step" and "until" in args:
            self.holds[str(obj["vm"])] = str(args["until"])
        return out

    # -- one message -------------------------------------------------------------
    async def message(self, client: Client, msg: Message) -> None:
        """Answer one message as the profile's QEMU monitor does."""
        if msg.data is None:
            client.send(_error("json_parsing"))
            return
        try:
            cmd = wire.decode(msg.data.decode("utf-8")).value
        except (UnicodeDecodeError, wire.WireError):
            client.send(_error("json_parsing"))
            return
        try:
            name = check_input_object(cmd)
        except InputObjectError as err:
            client.send({"error": {"class": err.error_class, "desc": err.desc}})
            return
        if "id" in cmd and not wire.finite(cmd["id"]):
            # QEMU would echo the id as inf, which is not JSON (MIG-QMP-005).
            client.send(_error("json_parsing"))
            return

        def reply(obj: dict[str, Any]) -> None:
            if "id" in cmd:
                obj["id"] = echo_id(cmd["id"], self.engine.world.profile)
            client.send(obj)

        mon = self.monitor
        is_cap = name == "qmp_capabilities"
        mode_error = None
        if is_cap and client.negotiated:
            mode_error = mon.already_complete.format(name)
        elif not is_cap and not client.negotiated:
            mode_error = mon.expecting.format(name)
        control = CONTROL_BY_NAME.get(name) if self.config.control else None
        if mode_error is not None and mon.mode_before_lookup:
            reply({"error": {"class": mon.error_class, "desc": mode_error}})
            return
        if name not in COMMAND_BY_NAME and control is None:
            reply(_error("command_not_found", name))
            return
        if mode_error is not None:
            reply({"error": {"class": mon.error_class, "desc": mode_error}})
            return
        if is_cap:
            args = cmd.get("arguments", {})
            try:
                if mon.capabilities and set(args) <= {"enable"}:
                    # A version that offers capabilities takes them in 'enable'.
                    enable = args.get("enable", [])
                    if not isinstance(enable, list) or not set(enable) <= set(mon.capabilities):
                        raise QmpError("invalid_parameter_type", "enable", "list")
                else:
                    check(cmd)
            except QmpError as err:
                reply({"error": {"class": err.error_class, "desc": err.desc}})
                return
            client.negotiated = True
            reply({"return": {}})
            return
        if control is not None:
            try:
                value = self.control(client, control, dict(cmd.get("arguments", {})))
            except ControlError as err:
                reply({"error": {"class": "GenericError", "desc": str(err)}})
                return
            reply({"return": value})
            return
        await self.run_command(client, cmd)


async def serve_connection(host: Host, endpoint: Endpoint,
                           reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection, from the greeting to its end."""
    client = Client(host, endpoint, writer)
    if host.engine.world.vms[endpoint.vm].exited is not None:
        client.close()  # the process is gone: nothing listens any more
        return
    writer.transport.set_write_buffer_limits(high=HIGH_WATER)
    endpoint.clients.add(client)
    framer = Framer(host.config.max_message)
    try:
        client.send(host.monitor.greeting())
        while not client.closed:
            data = await reader.read(65536)
            if not data:
                break
            for msg in framer.feed(data):
                await host.message(client, msg)
                if client.closed:
                    break
            if not client.closed:
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        endpoint.clients.discard(client)
        client.close()


Ready = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Listen:
    """Where one endpoint listens: a unix socket path, or a TCP host and port."""

    path: str | None = None
    host: str | None = None
    port: int = 0


async def _listen(host: Host, endpoint: Endpoint, where: Listen) -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(host, endpoint, reader, writer)

    if where.path is not None:
        old = os.umask(0o177)  # the socket file is created owner-only (0600)
        try:
            endpoint.server = await asyncio.start_unix_server(accept, path=where.path)
        finally:
            os.umask(old)
        os.chmod(where.path, 0o600)
        endpoint.path = where.path
        endpoint.address = f"unix:{where.path}"
    else:
        endpoint.server = await asyncio.start_server(accept, host=where.host, port=where.port)
        sock = endpoint.server.sockets[0].getsockname()
        endpoint.address = f"tcp:{sock[0]}:{sock[1]}"


async def serve(config: ServeConfig, listens: dict[str, Listen], ready: Ready,
                stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM when ``stop`` is None);
    ``ready`` gets the endpoints' addresses once every socket listens. Sockets
    are closed and socket files removed on the way out."""
    import signal

    host = Host(config)
    loop = asyncio.get_running_loop()
    own_stop = stop is None
    stop = stop or asyncio.Event()
    if own_stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    clock: asyncio.Task[None] | None = None
    try:
        for name, where in listens.items():
            await _listen(host, host.endpoints[name], where)
        if not config.manual_time:
            clock = asyncio.create_task(host.clock())
        ready({"migspec": "serve", "profile": config.profile,
               "qemu": host.monitor.qemu,
               "time": "manual" if config.manual_time else config.time_scale,
               **({"incoming": config.incoming} if config.pair else {}),
               "endpoints": {n: e.address for n, e in host.endpoints.items()}})
        await stop.wait()
    finally:
        if clock is not None:
            clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await clock
        for endpoint in host.endpoints.values():
            for client in list(endpoint.clients):
                client.close(abort=True)
            if endpoint.server is not None:
                endpoint.server.close()
            if endpoint.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(endpoint.path)
        if own_stop:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
