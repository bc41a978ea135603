"""Fast copies and canonical keys of a whole world, for the explorer.

A key is a hashable value equal for two worlds exactly when every state
variable is equal (the log of what clients saw is keyed separately by the
explorer, which extends it step by step).
"""

from __future__ import annotations

import json
from operator import attrgetter
from typing import Any, TypeVar

from migspec.reference.vm import VM
from migspec.reference.world import World

T = TypeVar("T")


def _cp(obj: T) -> T:
    """Shallow copy of a plain instance (faster than copy.copy)."""
    new: T = object.__new__(obj.__class__)
    new.__dict__ = obj.__dict__.copy()
    return new


def clone_vm(vm: VM) -> VM:
    """An independent copy of ``vm``."""
    return _clone_vm(vm)


def _clone_vm(vm: VM) -> VM:
    new = _cp(vm)
    s = new.s = _cp(vm.s)
    s.parameters = dict(s.parameters)
    s.enabled_capabilities = dict(s.enabled_capabilities)
    new.global_state = _cp(vm.global_state)
    new.ram = _cp(vm.ram)
    inc = new.incoming = _cp(vm.incoming)
    inc.listening = list(inc.listening)
    inc.accepted = list(inc.accepted)
    new.blockers = list(vm.blockers)
    new.fds = list(vm.fds)
    new.bhs = dict(vm.bhs)
    new.scheduled_bhs = list(vm.scheduled_bhs)
    new.connects = [_cp(c) for c in vm.connects]
    new.threads = {k: _cp(t) for k, t in vm.threads.items()}
    new.queue = list(vm.queue)
    new.notifications = list(vm.notifications)
    return new


def clone(world: World, acting: str | None = None) -> World:
    """An independent copy of ``world`` (log entries are shared: never mutated).

    With ``acting``, only that VM is copied; the others are shared with
    ``world`` (copy on write: a step that changes another VM takes it through
    :meth:`World.own`). The explorer passes the VM a move acts for, and its
    tests check that no move changes a VM it shares."""
    new = _cp(world)
    if acting is None:
        new.vms = {name: _clone_vm(vm) for name, vm in world.vms.items()}
        new.shared = frozenset()
    else:
        new.vms = {name: _clone_vm(vm) if name == acting else vm
                   for name, vm in world.vms.items()}
        new.shared = frozenset(world.vms) - {acting}
    new.files = {fid: _cp(f) for fid, f in world.files.items()}
    new.readers = dict(world.readers)
    new.payloads = dict(world.payloads)
    new.log = list(world.log)
    new.trace = list(world.trace)
    new.env = _cp(world.env)
    new.fired = []
    return new


#: Fields keyed by value; every other field of the class is keyed by hand below
#: (tests/test_snapshot.py proves that together they cover every field).
S_SCALARS = (
    "state", "bandwidth_limit", "xbzrle_cache_size", "mbps", "blk", "shared", "file",
    "cleanup_bh", "thread", "total_time", "setup_time", "downtime", "expected_downtime",
    "dirty_pages_rate", "dirty_bytes_rate", "dirty_sync_count",
)
S_CONTAINERS = ("parameters", "enabled_capabilities")
VM_SCALARS = (
    "name", "max_downtime", "deferred_incoming", "incoming_once", "unmigratable", "runstate",
    "autostart", "joining", "bql_until_us", "exited", "next_id", "migrations",
    "running_at_start", "events_at_start", "completion_started", "cancel_after_completion",
    "block_options",
)
VM_CONTAINERS = (
    "s", "global_state", "blockers", "fds", "ram", "incoming", "bhs", "scheduled_bhs",
    "connects", "threads", "queue", "reply", "notifications",
)
_s_scalars = attrgetter(*S_SCALARS)
_vm_scalars = attrgetter(*VM_SCALARS)


def _vm_key(vm: VM) -> tuple[Any, ...]:
    s = vm.s
    inc = vm.incoming
    return (
        _vm_scalars(vm),
        _s_scalars(s),
        tuple(s.parameters.values()),
        tuple(s.enabled_capabilities.values()),
        tuple(vm.global_state.__dict__.values()),
        tuple(vm.blockers),
        tuple(vm.fds),
        tuple(vm.ram.__dict__.values()),
        (tuple(inc.listening), tuple(inc.accepted), inc.file, inc.mis, inc.finished),
        tuple(vm.bhs.items()),
        tuple(vm.scheduled_bhs),
        tuple([tuple(c.__dict__.values()) for c in vm.connects]),
        tuple([tuple(t.__dict__.values()) for t in vm.threads.values()]),
        len(vm.queue),
        None if vm.reply is None else json.dumps(vm.reply, sort_keys=True),
        tuple(vm.notifications),
    )


def key(world: World) -> tuple[Any, ...]:
    """Every state variable of ``world`` but the log, as a hashable value."""
    return (
        world.clock_us,
        world.next_fid,
        tuple([_vm_key(vm) for vm in world.vms.values()]),
        tuple([tuple(f.__dict__.values()) for f in world.files.values()]),
        tuple(world.readers.items()),
        tuple(world.payloads.items()),
        tuple(world.env.__dict__.values()),
    )


#: The fields of a :class:`World` a :class:`WorldStore` rebuilds from a key
#: (the others are the same in every world of one exploration: its profile,
#: build and transition table, and tracing off; the log, trace and fired
#: triggers start empty).
STORED_FIELDS = frozenset({"vms", "files", "readers", "payloads", "clock_us", "next_fid", "env"})
SHARED_FIELDS = frozenset({"profile", "build", "table", "tracing", "log", "trace", "fired",
                           "shared"})


class WorldStore:
    """Worlds kept as nothing but their keys.

    A key here is :func:`key` with each VM's part, the environment and the
    files replaced by a reference to the first object seen in that state
    (SPIN calls this collapse compression): equal exactly when :func:`key`
    is, and small, because most worlds share their VMs' states with many
    others. :meth:`world` rebuilds a world from its key alone, so an
    explorer need keep no world objects at all. A rebuilt world shares those
    objects and must only be read; moves run on a :func:`clone`, which copies
    them all."""

    def __init__(self, root: World) -> None:
        fields = set(root.__dict__)
        if fields != STORED_FIELDS | SHARED_FIELDS:
            unknown = sorted(fields ^ (STORED_FIELDS | SHARED_FIELDS))
            raise TypeError(f"WorldStore does not know World fields {unknown}")
        self.root = root
        self.vm_ids: dict[tuple[Any, ...], int] = {}
        self.vms: list[VM] = []
        #: Each kept VM's key, and its number by object identity (a world
        #: rebuilt from a key shares the kept VM objects, which are never
        #: changed, so a VM still shared needs no keying).
        self.vm_keys: list[tuple[Any, ...]] = []
        self.by_object: dict[int, int] = {}
        self.envs: dict[tuple[Any, ...], Any] = {}
        self.files: dict[tuple[Any, ...], dict[int, Any]] = {}
        #: Each distinct part of a key, once.
        self.parts: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def key(self, world: World) -> tuple[Any, ...]:
        """The collapsed key of ``world`` (its parts remembered for
        :meth:`world`; ``world`` itself is not kept). Equal parts of
        different keys are one object."""
        ids = []
        for vm in world.vms.values():
            n = self.by_object.get(id(vm), -1)
            if n < 0 or self.vms[n] is not vm:
                k = _vm_key(vm)
                n = self.vm_ids.get(k, -1)
                if n < 0:
                    n = self.vm_ids[k] = len(self.vms)
                    self.vms.append(vm)
                    self.vm_keys.append(k)
                    self.by_object[id(vm)] = n
            ids.append(n)
        parts = self.parts
        files = tuple([tuple(f.__dict__.values()) for f in world.files.values()])
        known = parts.get(files)
        if known is None:
            known = parts[files] = files
            self.files[files] = world.files
        env = tuple(world.env.__dict__.values())
        known_env = parts.get(env)
        if known_env is None:
            known_env = parts[env] = env
            self.envs[env] = world.env
        vms = tuple(ids)
        readers = tuple(world.readers.items())
        payloads = tuple(world.payloads.items())
        return (world.clock_us, world.next_fid, parts.setdefault(vms, vms), known,
                parts.setdefault(readers, readers), parts.setdefault(payloads, payloads),
                known_env)

    def world(self, k: tuple[Any, ...]) -> World:
        """The world of key ``k`` (read only: :func:`clone` it to change it)."""
        clock_us, next_fid, ids, files, readers, payloads, env = k
        new: World = object.__new__(World)
        d = new.__dict__ = self.root.__dict__.copy()
        d["vms"] = {vm.name: vm for vm in (self.vms[i] for i in ids)}
        d["files"] = self.files[files]
        d["readers"] = dict(readers)
        d["payloads"] = dict(payloads)
        d["env"] = self.envs[env]
        d["clock_us"] = clock_us
        d["next_fid"] = next_fid
        d["log"] = []
        d["trace"] = []
        d["fired"] = []
        d["shared"] = frozenset()
        return new

    def changed(self, world: World) -> list[str]:
        """The VMs ``world`` shares with this store whose state no longer
        matches their key: a step changed a VM it shared, without
        :meth:`World.own` (empty when copy on write is respected)."""
        out = []
        for name in world.shared:
            vm = world.vms[name]
            n = self.by_object.get(id(vm), -1)
            if n >= 0 and self.vms[n] is vm and _vm_key(vm) != self.vm_keys[n]:
                out.append(name)
        return out

    def clear(self) -> None:
        """Let go of every part."""
        self.vm_ids.clear()
        self.vms.clear()
        self.vm_keys.clear()
        self.by_object.clear()
        self.envs.clear()
        self.files.clear()
        self.parts.clear()
