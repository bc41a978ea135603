"""Migration capabilities of QEMU 2.4 (QAPI enum ``MigrationCapability``).

All are off by default: ``migrate_get_current`` (lines 61-77) leaves
``enabled_capabilities`` zeroed, and ``migrate_init`` keeps them (lines 640-646).
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    """``MigrationCapability`` in QAPI order."""

    XBZRLE = "xbzrle"
    RDMA_PIN_ALL = "rdma-pin-all"
    AUTO_CONVERGE = "auto-converge"
    ZERO_BLOCKS = "zero-blocks"
    COMPRESS = "compress"
    EVENTS = "events"


CAPABILITY_ORDER: tuple[Capability, ...] = tuple(Capability)
