"""Tunable values: migration parameters, speed, downtime and cache size.

Each declaration names its QMP spelling, the C spelling used in error texts,
its default, its domain and the seed lines that define them.
"""

from __future__ import annotations

from dataclasses import dataclass

from migspec.spec import constants as C


@dataclass(frozen=True)
class ParameterDecl:
    """A ``MigrationParameter`` validated by ``qmp_migrate_set_parameters``."""

    name: str
    c_name: str
    default: int
    minimum: int
    maximum: int
    lines: str
    requirement: str

    @property
    def range_text(self) -> str:
        """The second argument of the seed's QERR_INVALID_PARAMETER_VALUE."""
        return f"is invalid, it should be in the range of {self.minimum} to {self.maximum}"


PARAMETERS: tuple[ParameterDecl, ...] = (
    ParameterDecl(
        "compress-level", "compress_level", C.DEFAULT_MIGRATE_COMPRESS_LEVEL, 0, 9,
        "46,68-69,494-498,514-516", "MIG-PARAMS-002",
    ),
    ParameterDecl(
        "compress-threads", "compress_threads", C.DEFAULT_MIGRATE_COMPRESS_THREAD_COUNT, 1, 255,
        "41,70-71,499-505,517-519", "MIG-PARAMS-003",
    ),
    ParameterDecl(
        "decompress-threads", "decompress_threads",
        C.DEFAULT_MIGRATE_DECOMPRESS_THREAD_COUNT, 1, 255,
        "44,72-73,506-512,520-523", "MIG-PARAMS-004",
    ),
)

PARAMETER_BY_NAME: dict[str, ParameterDecl] = {p.name: p for p in PARAMETERS}


@dataclass(frozen=True)
class ValueDecl:
    """A scalar setting outside ``MigrationParameters``."""

    name: str
    command: str
    default: int
    unit: str
    rule: str
    lines: str
    requirement: str


SPEED = ValueDecl(
    "bandwidth_limit", "migrate_set_speed", C.MAX_THROTTLE, "bytes/s",
    "negative becomes 0, above SIZE_MAX becomes SIZE_MAX (never on 64-bit hosts); "
    "0 means no rate limit (qemu_file_rate_limit ignores xfer_limit 0); "
    "the file's limit is bandwidth_limit / XFER_LIMIT_RATIO bytes per BUFFER_DELAY",
    "33,65,803-819", "MIG-SPEED-001",
)
DOWNTIME = ValueDecl(
    "max_downtime", "migrate_set_downtime", C.DEFAULT_MAX_DOWNTIME_NS, "ns (QMP: seconds)",
    "value*1e9 clamped to [0, UINT64_MAX] as a double, then converted to uint64 "
    "(2^64 converts to 0 on x86-64: seed defect DEF-DOWNTIME-OVERFLOW)",
    "321-330,821-826", "MIG-DOWNTIME-001",
)
CACHE_SIZE = ValueDecl(
    "xbzrle_cache_size", "migrate-set-cache-size", C.DEFAULT_MIGRATE_CACHE_SIZE, "bytes",
    "not above guest RAM (compared as unsigned), not below TARGET_PAGE_SIZE, "
    "stored as pow2floor(value)",
    "49,66,769-801", "MIG-CACHE-001",
)
