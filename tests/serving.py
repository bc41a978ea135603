"""Helpers for the tests of ``migspec serve``: start the server as its own
process (tracked by PID, ended by PID on every path), and talk raw QMP."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from migspec.properties.conform.processes import end_by_pid


@dataclass
class Served:
    """A running ``migspec serve`` process and the addresses it printed."""

    proc: subprocess.Popen[bytes]
    info: dict[str, Any]

    def path(self, vm: str = "source") -> str:
        """The unix socket of an endpoint."""
        address: str = self.info["endpoints"][vm]
        assert address.startswith("unix:")
        return address[len("unix:"):]

    def peak_kib(self) -> int:
        """The server's peak resident memory (VmHWM), KiB."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM")


@contextlib.contextmanager
def served(*args: str, timeout: float = 20.0) -> Iterator[Served]:
    """``migspec serve ARGS`` until the block ends (SIGTERM, then SIGKILL)."""
    proc = subprocess.Popen([sys.executable, "-m", "migspec", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else b""
        if not line:
            err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            raise AssertionError(f"migspec serve did not start: {err}")
        yield Served(proc, json.loads(line))
    finally:
        end_by_pid(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


class Raw:
    """A raw QMP connection over a unix socket: bytes out, messages in."""

    def __init__(self, path: str, timeout: float = 20.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data: bytes | dict[str, Any]) -> None:
        """Send bytes, or an object as one JSON line."""
        if isinstance(data, dict):
            data = json.dumps(data).encode() + b"\n"
        self.sock.sendall(data)

    def recv(self) -> dict[str, Any]:
        """The next message (each ends with CR LF, as QEMU's monitor writes it)."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        obj: dict[str, Any] = json.loads(line)
        return obj

    def reply(self) -> dict[str, Any]:
        """The next reply, skipping events."""
        while True:
            msg = self.recv()
            if "event" not in msg:
                return msg

    def negotiate(self) -> dict[str, Any]:
        """Read the greeting and negotiate; the greeting."""
        greeting = self.recv()
        self.send({"execute": "qmp_capabilities"})
        assert self.reply() == {"return": {}}
        return greeting

    def closed(self, timeout: float = 10.0) -> bool:
        """True once the server closed the connection (within ``timeout``)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 20):
                    return True
            except TimeoutError:
                continue
            except ConnectionError:
                return True
        return False

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()
