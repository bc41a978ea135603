"""Helpers shared by the tests: drive a reference engine the way a QMP client
would, and read what that client sees.

Nothing here knows an expected value; every expectation lives in a test and is
derived there from the seed (migration.c at 6775e2c4).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from migspec.properties.targets import ReferenceTarget
from migspec.reference.engine import Engine

Reply = dict[str, Any]
Line = dict[str, Any]

MIB = 1024 * 1024
#: A small guest keeps full migrations short in virtual time and in steps.
SMALL_RAM = 16 * MIB
#: An outgoing URI whose transport connects at once and cannot be shut down.
EXEC_URI = "exec:cat > /dev/null"
#: An outgoing URI of the socket transport.
TCP_URI = "tcp:127.0.0.1:4444"

GENERIC = "GenericError"
MIGRATION_ACTIVE = "There's a migration process in progress"


def new_engine(profile: str = "seed", **env: Any) -> Engine:
    """A fresh engine with ``env`` knobs set (a small guest unless told)."""
    eng = Engine(profile)
    knobs: dict[str, Any] = {"ram_bytes": SMALL_RAM}
    knobs.update(env)
    eng.set_env(knobs)
    return eng


def command(name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A QMP command object."""
    cmd: dict[str, Any] = {"execute": name}
    if args is not None:
        cmd["arguments"] = args
    return cmd


def qmp(eng: Engine, name: str, args: dict[str, Any] | None = None,
        vm: str = "source") -> Reply:
    """Run a command to its reply (which must come)."""
    reply = eng.execute(command(name, args), vm)
    assert reply is not None, f"{vm} did not answer {name}"
    return reply


def ret(eng: Engine, name: str, args: dict[str, Any] | None = None,
        vm: str = "source") -> Any:
    """Run a command that must succeed; its return value."""
    reply = qmp(eng, name, args, vm)
    assert "return" in reply, f"{name} failed: {reply}"
    return reply["return"]


def err(eng: Engine, name: str, args: dict[str, Any] | None = None,
        vm: str = "source") -> tuple[str, str]:
    """Run a command that must fail; (error class, description)."""
    reply = qmp(eng, name, args, vm)
    assert "error" in reply, f"{name} succeeded: {reply}"
    error: dict[str, str] = reply["error"]
    return error["class"], error["desc"]


def set_caps(eng: Engine, vm: str = "source", **caps: bool) -> Reply:
    """migrate-set-capabilities with ``name=state`` pairs (underscores become dashes)."""
    listed = [{"capability": k.replace("_", "-"), "state": v} for k, v in caps.items()]
    return qmp(eng, "migrate-set-capabilities", {"capabilities": listed}, vm)


def events_on(eng: Engine, vm: str = "source") -> None:
    """Turn the events capability on."""
    assert "return" in set_caps(eng, vm, events=True)


def query(eng: Engine, vm: str = "source") -> dict[str, Any]:
    """query-migrate's return value."""
    info: dict[str, Any] = ret(eng, "query-migrate", vm=vm)
    return info


def status(eng: Engine, vm: str = "source") -> str:
    """The migration status query-migrate reports ('none' when it has none)."""
    value: str = query(eng, vm).get("status", "none")
    return value


def runstate(eng: Engine, vm: str = "source") -> str:
    """The run state query-status reports."""
    value: str = ret(eng, "query-status", vm=vm)["status"]
    return value


def from_vm(lines: Iterable[Line], vm: str) -> list[Line]:
    """Output lines of ``vm`` (source lines carry no ``vm`` key)."""
    return [ln for ln in lines if ln.get("vm", "source") == vm]


def migration_events(lines: Iterable[Line], vm: str = "source") -> list[str]:
    """The statuses of ``vm``'s MIGRATION events, in order."""
    return [ln["data"]["status"] for ln in from_vm(lines, vm) if ln.get("event") == "MIGRATION"]


def event_names(lines: Iterable[Line], vm: str = "source") -> list[str]:
    """``vm``'s events in order; MIGRATION events as ``MIGRATION:<status>``."""
    names: list[str] = []
    for ln in from_vm(lines, vm):
        if "event" in ln:
            name: str = ln["event"]
            if name == "MIGRATION":
                name += ":" + ln["data"]["status"]
            names.append(name)
    return names


def replies(lines: Iterable[Line], vm: str = "source") -> list[Reply]:
    """``vm``'s command replies in order (without any ``vm`` key)."""
    out: list[Reply] = []
    for ln in from_vm(lines, vm):
        if "return" in ln or "error" in ln:
            out.append({k: v for k, v in ln.items() if k != "vm"})
    return out


def exits(lines: Iterable[Line], vm: str = "source") -> list[Line]:
    """``vm``'s ``{"migspec": "exited"}`` notices."""
    return [ln for ln in from_vm(lines, vm) if ln.get("migspec") == "exited"]


def _pending_emit(eng: Engine, vm: str) -> bool:
    return any(t.pc == "emit" and not t.done for t in eng.vm(vm).threads.values())


def step_to_active(eng: Engine, vm: str = "source") -> None:
    """Step ``vm``'s migration thread until the state is 'active' and the
    thread has also sent the event of that change (lines 923-927, 532)."""
    for _ in range(10):
        if eng.vm(vm).s.state.value == "active" and not _pending_emit(eng, vm):
            return
        eng.step(vm, "thread")
    raise AssertionError("the migration did not become active")


def to_state(eng: Engine, target: str) -> None:
    """Drive a fresh engine's source into migration state ``target``.

    none: nothing; setup: ``migrate`` over exec: before the thread runs;
    active: the thread has done setup; cancelling: active, then
    ``migrate_cancel``; completed: a whole migration; failed: an unknown URI;
    cancelled: cancelling, then everything settles.
    """
    if target == "none":
        return
    if target == "failed":
        assert "error" in qmp(eng, "migrate", {"uri": "gopher:x"})
        return
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    if target == "setup":
        return
    if target == "completed":
        assert eng.settle()
        return
    step_to_active(eng)
    if target == "active":
        return
    assert ret(eng, "migrate_cancel") == {}
    if target == "cancelling":
        return
    assert target == "cancelled", target
    assert eng.settle()


ALL_STATES = ("none", "setup", "active", "cancelling", "completed", "failed", "cancelled")


# -- starting migrations that end badly (callers settle) -------------------------------
def migrate_unknown_uri(eng: Engine) -> None:
    """migrate to a URI of no scheme: refused, the migration fails (lines 750-755)."""
    assert "error" in qmp(eng, "migrate", {"uri": "gopher:x"})


def migrate_refused(eng: Engine) -> None:
    """A socket connect refused at once: migrate reports it (lines 757-760)."""
    eng.set_env({"connect": "refused"})
    assert "error" in qmp(eng, "migrate", {"uri": TCP_URI})


def migrate_refused_later(eng: Engine) -> None:
    """A socket connect that fails from the main loop later (migrate_fd_error)."""
    eng.set_env({"connect": "delayed-refused"})
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}


def migrate_channel_error(eng: Engine) -> None:
    """A migration whose channel fails at its next write (lines 970-974)."""
    eng.set_env({"channel_error": True})
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}


def migrate_vm_stop_error(eng: Engine) -> None:
    """A migration whose vm_stop_force_state fails at completion (lines 956-959)."""
    eng.set_env({"completion_error": "vm-stop"})
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}


def need_program(name: str, missing: str | None = None) -> str:
    """The path of program ``name``; without it (or with ``missing``, a reason
    it cannot be used) the test is skipped, and fails under ``CI=true``: CI
    installs everything the tests need, so a skip there would hide a check."""
    path = shutil.which(name) if name and missing is None else None
    if path is not None:
        return path
    why = missing or f"{name} is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


def seed_claiming(profile: str) -> Callable[[], ReferenceTarget]:
    """A target factory: the reference engine under ``seed`` that claims to be
    ``profile`` (the judge must tell them apart)."""

    class SeedClaiming(ReferenceTarget):
        def reset(self, incoming: str | None = None) -> None:
            claimed, self.profile = self.profile, "seed"
            try:
                super().reset(incoming)
            finally:
                self.profile = claimed

    def factory() -> ReferenceTarget:
        target = SeedClaiming("seed")
        target.profile = profile
        return target

    return factory
