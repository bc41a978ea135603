"""Every process and temporary folder the harness makes, tracked so that it
is ended by PID and removed on success, failure, timeout and Ctrl-C.

Each started PID is also appended to the file named by
``$MIGSPEC_CONFORM_PIDFILE`` (when set), so a test can check afterwards that
none is left. Children run in their own process group, so a Ctrl-C at the
terminal reaches only the harness, which then ends them in order. (No
``preexec_fn``: it would force a full fork per child, ~10 ms of a blocked
event loop each, instead of vfork.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

PIDFILE_ENV = "MIGSPEC_CONFORM_PIDFILE"
#: Seconds a terminated process gets before it is killed.
TERMINATE_GRACE = 2.0


class Registry:
    """Processes and folders alive right now."""

    def __init__(self) -> None:
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.folders: set[str] = set()
        #: Files made once per harness run (name -> path).
        self.shared: dict[str, str] = {}

    def folder(self) -> str:
        """A new private temporary folder (mode 0700)."""
        path = tempfile.mkdtemp(prefix="migspec-conform-")
        self.folders.add(path)
        return path

    def remove_folder(self, path: str) -> None:
        """Remove a folder made by :meth:`folder`."""
        shutil.rmtree(path, ignore_errors=True)
        self.folders.discard(path)

    async def spawn(self, argv: list[str], stderr_path: str) -> asyncio.subprocess.Process:
        """Start ``argv`` with stdin/stdout closed and stderr to a file."""
        with open(stderr_path, "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=err, process_group=0)
        self.procs[proc.pid] = proc
        name = os.environ.get(PIDFILE_ENV)
        if name:
            with open(name, "a", encoding="ascii") as handle:
                handle.write(f"{proc.pid}\n")
        return proc

    async def end(self, proc: asyncio.subprocess.Process) -> None:
        """Terminate, wait (bounded), kill, wait: by PID."""
        try:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), TERMINATE_GRACE)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        finally:
            self.procs.pop(proc.pid, None)

    def end_all_now(self) -> None:
        """Synchronous last resort (after the event loop is gone): kill every
        process still registered and remove every folder."""
        for pid, proc in list(self.procs.items()):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, 0)
            self.procs.pop(pid, None)
        for path in list(self.folders):
            self.remove_folder(path)


def exit_description(returncode: int | None, stderr_path: str, tail: int = 400) -> str:
    """``exit status N: <stderr tail>`` or ``killed by signal N: ...``."""
    try:
        text = Path(stderr_path).read_bytes()[-tail:].decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    if returncode is None:
        how = "running"
    elif returncode < 0:
        how = f"killed by signal {-returncode}"
    else:
        how = f"exit status {returncode}"
    return f"{how}: {text}" if text else how


def pidfd_watcher() -> None:
    """Call inside the running loop: Python 3.11 waits for each child in a
    thread of its own; a pidfd in the event loop is cheaper (3.12 does this
    by default)."""
    if sys.version_info < (3, 12) and hasattr(os, "pidfd_open"):
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)


def default_watcher() -> None:
    """Back to the policy's default once the loop is gone (a pidfd watcher
    stays attached to its loop)."""
    if sys.version_info < (3, 12) and hasattr(os, "pidfd_open"):
        asyncio.set_child_watcher(None)  # type: ignore[arg-type]


def end_by_pid(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """End a child started with :class:`subprocess.Popen` by its PID: SIGTERM,
    then SIGKILL after ``grace`` seconds; reaped either way (tests and
    benchmarks that start ``migspec serve`` or a QEMU of their own)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
