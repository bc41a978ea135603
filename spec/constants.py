"""Numeric constants of the seed and of the QEMU 2.4 code it calls."""

from __future__ import annotations

#: ``MAX_THROTTLE`` (line 33): default bandwidth limit, bytes per second.
MAX_THROTTLE = 32 << 20
#: ``BUFFER_DELAY`` (line 37): length of one rate-limit window, ms.
BUFFER_DELAY = 100
#: ``XFER_LIMIT_RATIO`` (line 38).
XFER_LIMIT_RATIO = 1000 // BUFFER_DELAY
#: Lines 41, 44, 46.
DEFAULT_MIGRATE_COMPRESS_THREAD_COUNT = 8
DEFAULT_MIGRATE_DECOMPRESS_THREAD_COUNT = 2
DEFAULT_MIGRATE_COMPRESS_LEVEL = 1
#: ``DEFAULT_MIGRATE_CACHE_SIZE`` (line 49), bytes.
DEFAULT_MIGRATE_CACHE_SIZE = 64 * 1024 * 1024
#: ``max_downtime`` initial value (line 325), nanoseconds.
DEFAULT_MAX_DOWNTIME_NS = 300_000_000
#: Initial ``mbps`` (line 67).
INITIAL_MBPS = -1.0
#: ``transferred_bytes > 10000`` guard on expected_downtime (line 989).
EXPECTED_DOWNTIME_MIN_BYTES = 10000
#: ``TARGET_PAGE_SIZE`` on x86_64 (ram.c, outside the seed).
TARGET_PAGE_SIZE = 4096
#: ``sizeof(global_state.runstate)`` (line 107).
GLOBAL_STATE_RUNSTATE_SIZE = 100

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
UINT64_MAX = (1 << 64) - 1
#: ``SIZE_MAX`` on a 64-bit host.
SIZE_MAX = UINT64_MAX
