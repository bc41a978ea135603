"""The environment model: guest RAM, the channel and the transports.

None of this is in the seed; it stands in for ``ram.c``, ``qemu-file.c``,
``savevm.c`` and the transports of QEMU 2.4 closely enough that the seed's
arithmetic and races play out. Sizes are bytes, rates bytes per second,
durations milliseconds of virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from migspec.reference.wire import text_of
from migspec.spec import constants as C

#: How the transport's connect turns out.
CONNECT_OUTCOMES = ("auto", "immediate", "refused", "delayed", "delayed-refused")
#: What goes wrong at completion (lines 941-966).
COMPLETION_ERRORS = ("none", "vm-stop", "file-before-delivery", "file-after-delivery")

#: ram_save_iterate stops after MAX_WAIT ms (ram.c).
MAX_WAIT_MS = 50


def ram_block_bytes(ram_bytes: int) -> int:
    """The guest RAM the migration sees for ``ram_bytes`` asked: whole target
    pages. QEMU 2.4 never has a partial page of RAM: vl.c rounds ``-m`` up to
    8 KiB and ``qemu_ram_alloc_internal`` (exec.c) aligns every RAM block up
    to the host page (4096 on x86-64, the target page), so
    ``ram_bytes_total()`` is a multiple of ``TARGET_PAGE_SIZE`` and ram.c
    migrates whole pages. The knob is rounded up the same way."""
    page = C.TARGET_PAGE_SIZE
    return -(-ram_bytes // page) * page


@dataclass
class Env:
    """Environment knobs for one world (shared by its VMs)."""

    #: Guest RAM asked for; the VMs get :func:`ram_block_bytes` of it.
    ram_bytes: int = 128 * 1024 * 1024
    #: Bytes per second the guest dirties while running.
    dirty_rate: int = 0
    #: Bytes per second the channel carries.
    bandwidth: int = 1_000_000_000
    #: Duration of qemu_savevm_state_begin (header and setup), ms.
    setup_ms: int = 0
    #: Device state written by qemu_savevm_state_complete, bytes.
    device_bytes: int = 0
    connect: str = "auto"
    connect_delay_ms: int = 0
    connect_error: str = "Failed to connect socket: Connection refused"
    #: The next write on the outgoing channel fails.
    channel_error: bool = False
    completion_error: str = "none"
    #: Transfers take no virtual time (the explorer's scenarios use this).
    instant: bool = False
    #: The destination's bdrv_invalidate_cache_all fails after a load (lines
    #: 285-291): its disks cannot be re-opened (an image locked elsewhere).
    invalidate_error: bool = False
    #: Allocating an XBZRLE cache of a new size during a migration fails
    #: (``cache_init``'s ``g_try_malloc`` returns NULL, ram.c/page_cache.c).
    xbzrle_resize_error: bool = False

    def update(self, values: dict[str, Any]) -> None:
        """Set knobs from a directive; ValueError names a bad key or value."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(
                    f"unknown env key {text_of(key)} (known: {', '.join(sorted(known))})")
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"env {key} must be a boolean")
            elif isinstance(current, int):
                if (isinstance(value, bool) or not isinstance(value, int)
                        or not 0 <= value <= C.INT64_MAX):
                    raise ValueError(f"env {key} must be an integer from 0 to {C.INT64_MAX}")
            elif not isinstance(value, str):
                raise ValueError(f"env {key} must be a string")
            if key == "connect" and value not in CONNECT_OUTCOMES:
                raise ValueError(f"env connect must be one of {', '.join(CONNECT_OUTCOMES)}")
            if key == "completion_error" and value not in COMPLETION_ERRORS:
                raise ValueError(
                    f"env completion_error must be one of {', '.join(COMPLETION_ERRORS)}"
                )
            if key == "bandwidth" and value == 0:
                raise ValueError("env bandwidth must be positive")
            setattr(self, key, value)

    def transfer_us(self, nbytes: int) -> int:
        """Virtual microseconds the channel needs for ``nbytes``."""
        if self.instant:
            return 0
        return -(-nbytes * 1_000_000 // self.bandwidth)


@dataclass
class QemuFile:
    """An outgoing ``QEMUFile`` (qemu-file.c) with its rate limit."""

    fid: int
    scheme: str
    #: Socket files support qemu_file_shutdown; popen and fd files do not.
    can_shutdown: bool
    pos: int = 0
    bytes_xfer: int = 0
    xfer_limit: int = 0
    error: int = 0
    shut_down: bool = False
    broken: bool = False
    #: The stream's end (QEMU_VM_EOF) has been written and will be delivered
    #: at ``complete_at_us``.
    complete_delivered: bool = False
    complete_at_us: int = 0
    closed: bool = False

    def rate_limited(self) -> bool:
        """``qemu_file_rate_limit``: an error, or a positive limit exceeded."""
        if self.error:
            return True
        return self.xfer_limit > 0 and self.bytes_xfer > self.xfer_limit

    def write(self, nbytes: int) -> bool:
        """Account a write; False (and the file in error) if the channel is down."""
        if self.error:
            return False
        if self.shut_down or self.broken:
            self.error = -32  # -EPIPE
            return False
        self.pos += nbytes
        self.bytes_xfer += nbytes
        return True


@dataclass
class Ram:
    """Guest RAM as ``ram.c`` migrates it: dirty bytes, syncs and counters."""

    total: int
    dirty: int = 0
    unsynced: int = 0
    transferred: int = 0
    normal_pages: int = 0
    sync_count: int = 0
    dirty_pages_rate: int = 0
    period_start_ms: int = 0
    period_pages: int = 0
    last_touch_us: int = 0
    active: bool = False
    #: ``XBZRLE.cache`` exists: ram_save_setup made it (the xbzrle capability
    #: on) and neither ram_save_complete nor qemu_savevm_state_cancel freed it.
    xbzrle_cache: bool = False

    def touch(self, now_us: int, running: bool, dirty_rate: int) -> None:
        """Let the guest dirty memory up to ``now_us`` if it is running."""
        if running and dirty_rate and self.active:
            dt = now_us - self.last_touch_us
            dirtied = dirty_rate * dt // 1_000_000 // C.TARGET_PAGE_SIZE * C.TARGET_PAGE_SIZE
            self.unsynced = min(self.total, self.unsynced + dirtied)
        self.last_touch_us = now_us

    def begin(self, now_ms: int) -> None:
        """ram_save_setup: every page dirty, first bitmap sync."""
        self.active = True
        self.dirty = self.total
        self.unsynced = 0
        self.transferred = 0
        self.normal_pages = 0
        self.sync_count = 1
        self.period_start_ms = now_ms
        self.period_pages = 0

    def sync(self, now_ms: int) -> int:
        """migration_bitmap_sync; returns the new ``dirty_bytes_rate`` or -1."""
        newly = min(self.total - self.dirty, self.unsynced)
        self.dirty += newly
        self.period_pages += newly // C.TARGET_PAGE_SIZE
        self.unsynced = 0
        self.sync_count += 1
        if now_ms > self.period_start_ms + 1000:
            self.dirty_pages_rate = self.period_pages * 1000 // (now_ms - self.period_start_ms)
            self.period_start_ms = now_ms
            self.period_pages = 0
            return self.dirty_pages_rate * C.TARGET_PAGE_SIZE
        return -1

    def send(self, nbytes: int) -> None:
        """Account ``nbytes`` of dirty pages as sent."""
        self.dirty -= nbytes
        self.transferred += nbytes
        self.normal_pages += nbytes // C.TARGET_PAGE_SIZE

    def iterate_budget(self, f: QemuFile, bandwidth: int, instant: bool = False) -> int:
        """Bytes one ram_save_iterate sends: pages until the file is rate
        limited, nothing is dirty, or MAX_WAIT ms have passed. The time is
        checked after page 0 and every 64th page; writes go through
        IO_BUF_SIZE buffers, so only whole flushed buffers have cost time:
        after 64k+1 pages exactly 8k buffers were flushed. With ``instant``
        transfers no time passes, so MAX_WAIT never ends the loop."""
        page = C.TARGET_PAGE_SIZE
        dirty_pages = self.dirty // page
        if f.xfer_limit > 0:
            room = f.xfer_limit - f.bytes_xfer
            pages = room // page + 1 if room >= 0 else 0
        else:
            pages = dirty_pages
        if not instant:
            per_check_bytes = 64 * page  # 8 flushed buffers per 64 pages
            checks = MAX_WAIT_MS * bandwidth // (per_check_bytes * 1000) + 1
            pages = min(pages, 64 * checks + 1)
        return min(pages, dirty_pages) * page
