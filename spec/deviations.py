"""Profile ``qemu-7.2``: how Debian 12's QEMU (7.2.22, package qemu-system-x86
1:7.2+dfsg-7+deb12u18) differs from the seed over QMP, observed on the real binary.

Each :class:`Deviation` names the requirement it changes, why 7.2 differs (with the
file and line in the source of that very package, ``apt-get source qemu`` on
bookworm) and how it was observed: a ``migspec run`` script and the exact lines the
real QEMU printed for it (timestamps dropped, the driver's private tcp port and unix
path written back as 4444 and /tmp/m). The engine consults
``profile.deviates(ID)`` at exactly the site each deviation changes.

:data:`REPAIRS` lists the seed defects 7.2 does not show (the profile repairs exactly
those), :data:`KEPT` those it still has. :data:`BEYOND_SEED` declares what 7.2 has
beyond the seed's surface; the engine does not model it: a command or capability
from it raises :class:`~migspec.reference.handlers.Unsupported` in the engine, and
reports mark anything that needs it UNSUPPORTED (events and reply keys listed there
are dropped before comparison, see :func:`beyond_seed_dropped`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from migspec.spec.errors import COMMAND_NOT_FOUND, GENERIC, ErrorDecl

Script = tuple[dict[str, Any], ...]
Line = dict[str, Any]


@dataclass(frozen=True)
class Observation:
    """A probe and what the real QEMU 7.2 printed for it, line by line.

    A racy observation (``racy`` says how often the real QEMU showed it) was
    recorded from conformance runs; its ``step`` lines pin the race on the
    reference, a real QEMU runs the script without them and shows it rarely.
    """

    script: Script
    lines: tuple[Line, ...]
    racy: str | None = None


@dataclass(frozen=True)
class Deviation:
    """One named difference between QEMU 7.2 and the seed."""

    id: str
    requirement: str
    summary: str
    reason: str
    observed: Observation


@dataclass(frozen=True)
class Repair:
    """A seed defect QEMU 7.2 does not show, and the evidence."""

    defect: str
    evidence: str
    observed: Observation | None = None


@dataclass(frozen=True)
class Kept:
    """A seed defect QEMU 7.2 still has (from its source; none is observable
    deterministically over QMP)."""

    defect: str
    evidence: str


@dataclass(frozen=True)
class BeyondSeed:
    """What QEMU 7.2 has beyond the seed's surface (not modelled)."""

    commands: frozenset[str]
    capabilities: tuple[str, ...]
    parameters: tuple[str, ...]
    events: frozenset[str]
    query_migrate_keys: frozenset[str]
    ram_keys: frozenset[str]
    #: (command, argument) pairs of seed commands that only 7.2 has.
    arguments: frozenset[tuple[str, str]] = frozenset()
    #: Keys of query-migrate's ``xbzrle-cache`` that only 7.2 has.
    xbzrle_cache_keys: frozenset[str] = frozenset()


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "QEMU72-CMD-REMOVED-SET-SPEED",
        "MIG-SPEED-001",
        "migrate_set_speed is gone: CommandNotFound; the limit is migrate-set-parameters "
        "max-bandwidth",
        "Removed in 6.0 (docs/about/removed-features.rst:444,541 of qemu "
        "1:7.2+dfsg-7+deb12u18); qapi/migration.json no longer declares it, so the dispatcher "
        "answers CommandNotFound.",
        Observation(
            script=({'execute': 'migrate_set_speed', 'arguments': {'value': 1000000}},),
            lines=({'error': {'class': 'CommandNotFound',
                              'desc': 'The command migrate_set_speed has not been found'}},),
        ),
    ),
    Deviation(
        "QEMU72-CMD-REMOVED-SET-DOWNTIME",
        "MIG-DOWNTIME-001",
        "migrate_set_downtime is gone: CommandNotFound; the limit is migrate-set-parameters "
        "downtime-limit (ms)",
        "Removed in 6.0 (docs/about/removed-features.rst:444,541 of qemu "
        "1:7.2+dfsg-7+deb12u18).",
        Observation(
            script=({'execute': 'migrate_set_downtime', 'arguments': {'value': 1}},),
            lines=({'error': {'class': 'CommandNotFound',
                              'desc': 'The command migrate_set_downtime has not been found'}},),
        ),
    ),
    Deviation(
        "QEMU72-CMD-REMOVED-SET-CACHE-SIZE",
        "MIG-CACHE-001",
        "migrate-set-cache-size is gone: CommandNotFound; the size is migrate-set-parameters "
        "xbzrle-cache-size",
        "Removed in 6.0 (docs/about/removed-features.rst:439,536 of qemu "
        "1:7.2+dfsg-7+deb12u18).",
        Observation(
            script=({'execute': 'migrate-set-cache-size', 'arguments': {'value': 1048576}},),
            lines=({'error': {'class': 'CommandNotFound',
                              'desc': 'The command migrate-set-cache-size has not been found'}},),
        ),
    ),
    Deviation(
        "QEMU72-CMD-REMOVED-QUERY-CACHE-SIZE",
        "MIG-CACHE-005",
        "query-migrate-cache-size is gone: CommandNotFound; query-migrate-parameters reports "
        "xbzrle-cache-size",
        "Removed in 6.0 (docs/about/removed-features.rst:439,536 of qemu "
        "1:7.2+dfsg-7+deb12u18).",
        Observation(
            script=({'execute': 'query-migrate-cache-size'},),
            lines=({'error': {'class': 'CommandNotFound',
                              'desc': 'The command query-migrate-cache-size has not been '
                                      'found'}},),
        ),
    ),
    Deviation(
        "QEMU72-PARAMS-QUERY",
        "MIG-PARAMS-005",
        "query-migrate-parameters also reports max-bandwidth (default 128 MiB/s, not 32 "
        "MiB/s), downtime-limit (ms) and xbzrle-cache-size; its other keys are beyond the seed",
        "migration/migration.c:65 (MAX_THROTTLE is 128 << 20) and "
        "qmp_query_migrate_parameters, migration/migration.c:900-960 of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'query-migrate-parameters'},),
            lines=({'return': {'cpu-throttle-tailslow': False,
                               'xbzrle-cache-size': 67108864,
                               'cpu-throttle-initial': 20,
                               'announce-max': 550,
                               'decompress-threads': 2,
                               'compress-threads': 8,
                               'compress-level': 1,
                               'multifd-channels': 2,
                               'multifd-zstd-level': 1,
                               'announce-initial': 50,
                               'block-incremental': False,
                               'compress-wait-thread': True,
                               'downtime-limit': 300,
                               'tls-authz': '',
                               'multifd-compression': 'none',
                               'announce-rounds': 5,
                               'announce-step': 100,
                               'tls-creds': '',
                               'multifd-zlib-level': 1,
                               'max-cpu-throttle': 99,
                               'max-postcopy-bandwidth': 0,
                               'tls-hostname': '',
                               'throttle-trigger-threshold': 50,
                               'max-bandwidth': 134217728,
                               'x-checkpoint-delay': 20000,
                               'cpu-throttle-increment': 10}},),
        ),
    ),
    Deviation(
        "QEMU72-PARAM-MAX-BANDWIDTH",
        "MIG-SPEED-001",
        "max-bandwidth is a uint64 parameter: any integer is accepted (a negative one wraps to "
        "2^64-1 in the QAPI visitor, where migrate_set_speed stored 0); a non-integer is "
        "refused with \"expects uint64\"",
        "migrate_params_check, migration/migration.c:1482-1488 (max_bandwidth > SIZE_MAX never "
        "holds on 64-bit), and qobject_input_type_uint64, qapi/qobject-input-visitor.c:462 of "
        "qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters',
                     'arguments': {'max-bandwidth': 1000000}},
                    {'execute': 'migrate-set-parameters', 'arguments': {'max-bandwidth': -1}},
                    {'execute': 'migrate-set-parameters', 'arguments': {'max-bandwidth': '1k'}},
                    {'execute': 'query-migrate-parameters'}),
            lines=({'return': {}},
                   {'return': {}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'max-bandwidth' expects uint64"}},
                   {'return': {'cpu-throttle-tailslow': False,
                               'xbzrle-cache-size': 67108864,
                               'cpu-throttle-initial': 20,
                               'announce-max': 550,
                               'decompress-threads': 2,
                               'compress-threads': 8,
                               'compress-level': 1,
                               'multifd-channels': 2,
                               'multifd-zstd-level': 1,
                               'announce-initial': 50,
                               'block-incremental': False,
                               'compress-wait-thread': True,
                               'downtime-limit': 300,
                               'tls-authz': '',
                               'multifd-compression': 'none',
                               'announce-rounds': 5,
                               'announce-step': 100,
                               'tls-creds': '',
                               'multifd-zlib-level': 1,
                               'max-cpu-throttle': 99,
                               'max-postcopy-bandwidth': 0,
                               'tls-hostname': '',
                               'throttle-trigger-threshold': 50,
                               'max-bandwidth': 18446744073709551615,
                               'x-checkpoint-delay': 20000,
                               'cpu-throttle-increment': 10}}),
        ),
    ),
    Deviation(
        "QEMU72-PARAM-DOWNTIME-LIMIT",
        "MIG-DOWNTIME-001",
        "downtime-limit is an integer in ms, 0 to 2000000; larger is refused with \"Parameter "
        "'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms\", a "
        "fraction with \"expects uint64\"",
        "migrate_params_check, migration/migration.c:1490-1497 (MAX_MIGRATE_DOWNTIME at :78, "
        "the text via stringify) of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters',
                     'arguments': {'downtime-limit': 2000001}},
                    {'execute': 'migrate-set-parameters', 'arguments': {'downtime-limit': 0.5}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'downtime-limit': 2000000}},
                    {'execute': 'query-migrate-parameters'}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'downtime_limit' expects an integer in the "
                                      'range of 0 to (2000 * 1000) ms'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'downtime-limit' expects uint64"}},
                   {'return': {}},
                   {'return': {'cpu-throttle-tailslow': False,
                               'xbzrle-cache-size': 67108864,
                               'cpu-throttle-initial': 20,
                               'announce-max': 550,
                               'decompress-threads': 2,
                               'compress-threads': 8,
                               'compress-level': 1,
                               'multifd-channels': 2,
                               'multifd-zstd-level': 1,
                               'announce-initial': 50,
                               'block-incremental': False,
                               'compress-wait-thread': True,
                               'downtime-limit': 2000000,
                               'tls-authz': '',
                               'multifd-compression': 'none',
                               'announce-rounds': 5,
                               'announce-step': 100,
                               'tls-creds': '',
                               'multifd-zlib-level': 1,
                               'max-cpu-throttle': 99,
                               'max-postcopy-bandwidth': 0,
                               'tls-hostname': '',
                               'throttle-trigger-threshold': 50,
                               'max-bandwidth': 134217728,
                               'x-checkpoint-delay': 20000,
                               'cpu-throttle-increment': 10}}),
        ),
    ),
    Deviation(
        "QEMU72-PARAM-XBZRLE-CACHE-SIZE",
        "MIG-CACHE-003",
        "xbzrle-cache-size must be a power of two no smaller than the page size (no rounding "
        "down); it is not compared with the guest RAM size",
        "migrate_params_check, migration/migration.c:1523-1529; migrate_params_apply stores "
        "the size before xbzrle_cache_resize (migration/migration.c:1772-1774), whose 'nothing "
        "to do' test (migration/ram.c:143-146) then skips every other check, of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters',
                     'arguments': {'xbzrle-cache-size': 4095}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'xbzrle-cache-size': 5000}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'xbzrle-cache-size': 1099511627776}},
                    {'execute': 'query-migrate-parameters'}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'xbzrle_cache_size' expects a power of two no "
                                      'less than the target page size'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'xbzrle_cache_size' expects a power of two no "
                                      'less than the target page size'}},
                   {'return': {}},
                   {'return': {'cpu-throttle-tailslow': False,
                               'xbzrle-cache-size': 1099511627776,
                               'cpu-throttle-initial': 20,
                               'announce-max': 550,
                               'decompress-threads': 2,
                               'compress-threads': 8,
                               'compress-level': 1,
                               'multifd-channels': 2,
                               'multifd-zstd-level': 1,
                               'announce-initial': 50,
                               'block-incremental': False,
                               'compress-wait-thread': True,
                               'downtime-limit': 300,
                               'tls-authz': '',
                               'multifd-compression': 'none',
                               'announce-rounds': 5,
                               'announce-step': 100,
                               'tls-creds': '',
                               'multifd-zlib-level': 1,
                               'max-cpu-throttle': 99,
                               'max-postcopy-bandwidth': 0,
                               'tls-hostname': '',
                               'throttle-trigger-threshold': 50,
                               'max-bandwidth': 134217728,
                               'x-checkpoint-delay': 20000,
                               'cpu-throttle-increment': 10}}),
        ),
    ),
    Deviation(
        "QEMU72-PARAM-RANGE-TEXT",
        "MIG-PARAMS-002",
        "range errors read \"Parameter 'compress_level' expects a value between 0 and 9\" (and 1 "
        "and 255 for the thread counts)",
        "migrate_params_check, migration/migration.c:1435-1454 of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters', 'arguments': {'compress-level': 10}},
                    {'execute': 'migrate-set-parameters', 'arguments': {'compress-threads': 0}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'decompress-threads': 0}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress_level' expects a value between 0 and "
                                      '9'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress_threads' expects a value between 1 "
                                      'and 255'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'decompress_threads' expects a value between 1 "
                                      'and 255'}}),
        ),
    ),
    Deviation(
        "QEMU72-PARAM-UINT8",
        "MIG-PARAMS-001",
        "compress-level, compress-threads and decompress-threads are uint8 in QAPI: a value "
        "outside 0..255 is refused by the visitor with \"Parameter 'compress-level' expects "
        "uint8_t\" before the range check",
        "visit_type_uint8, qapi/qapi-visit-core.c:205-213 (visit_type_uintN) of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters', 'arguments': {'compress-level': -1}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'compress-threads': 256}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'decompress-threads': 256}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress-level' expects uint8_t"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress-threads' expects uint8_t"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'decompress-threads' expects uint8_t"}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-INT-TYPE-TEXT",
        "MIG-QMP-002",
        "a value that is not an integer (a string, null, a fraction) for a migration parameter "
        "reads \"Parameter 'compress-level' expects uint64\"",
        "qobject_input_type_uint64, qapi/qobject-input-visitor.c:462 of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters', 'arguments': {'compress-level': 'x'}},
                    {'execute': 'migrate-set-parameters', 'arguments': {'compress-level': None}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'compress-threads': 1.5}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress-level' expects uint64"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress-level' expects uint64"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'compress-threads' expects uint64"}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-UINT64-LITERAL",
        "MIG-QMP-002",
        "a JSON integer from 2^63 to 2^64-1 is a uint64, not a double: a uint8 parameter "
        "reads \"Parameter 'decompress-threads' expects uint8_t\" (not uint64), a uint64 one "
        "takes it",
        "parse_literal, qobject/json-parser.c:491-522 (qemu_strtou64 before the fall-through to "
        "JSON_FLOAT), then visit_type_uintN, qapi/qapi-visit-core.c:195-198, 213 (value > "
        "UINT8_MAX), of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters',
                     'arguments': {'decompress-threads': 9223372036854775808}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'max-bandwidth': 18446744073709551615}},
                    {'execute': 'query-migrate-parameters'}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'decompress-threads' expects uint8_t"}},
                   {'return': {}},
                   {'return': {'cpu-throttle-tailslow': False,
                               'xbzrle-cache-size': 67108864,
                               'cpu-throttle-initial': 20,
                               'announce-max': 550,
                               'decompress-threads': 2,
                               'compress-threads': 8,
                               'compress-level': 1,
                               'multifd-channels': 2,
                               'multifd-zstd-level': 1,
                               'announce-initial': 50,
                               'block-incremental': False,
                               'compress-wait-thread': True,
                               'downtime-limit': 300,
                               'tls-authz': '',
                               'multifd-compression': 'none',
                               'announce-rounds': 5,
                               'announce-step': 100,
                               'tls-creds': '',
                               'multifd-zlib-level': 1,
                               'max-cpu-throttle': 99,
                               'max-postcopy-bandwidth': 0,
                               'tls-hostname': '',
                               'throttle-trigger-threshold': 50,
                               'max-bandwidth': 18446744073709551615,
                               'x-checkpoint-delay': 20000,
                               'cpu-throttle-increment': 10}}),
        ),
    ),
    Deviation(
        "QEMU72-CAPS-LIST",
        "MIG-CAPS-003",
        "query-migrate-capabilities lists 21 capabilities: the seed's six in the seed's order, "
        "then 15 that are beyond the seed",
        "MigrationCapability in qapi/migration.json and qmp_query_migrate_capabilities, "
        "migration/migration.c:878-898 of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'query-migrate-capabilities'},),
            lines=({'return': [{'state': False, 'capability': 'xbzrle'},
                               {'state': False, 'capability': 'rdma-pin-all'},
                               {'state': False, 'capability': 'auto-converge'},
                               {'state': False, 'capability': 'zero-blocks'},
                               {'state': False, 'capability': 'compress'},
                               {'state': False, 'capability': 'events'},
                               {'state': False, 'capability': 'postcopy-ram'},
                               {'state': False, 'capability': 'x-colo'},
                               {'state': False, 'capability': 'release-ram'},
                               {'state': False, 'capability': 'block'},
                               {'state': False, 'capability': 'return-path'},
                               {'state': False, 'capability': 'pause-before-switchover'},
                               {'state': False, 'capability': 'multifd'},
                               {'state': False, 'capability': 'dirty-bitmaps'},
                               {'state': False, 'capability': 'postcopy-blocktime'},
                               {'state': False, 'capability': 'late-block-activate'},
                               {'state': False, 'capability': 'x-ignore-shared'},
                               {'state': False, 'capability': 'validate-uuid'},
                               {'state': False, 'capability': 'background-snapshot'},
                               {'state': False, 'capability': 'zero-copy-send'},
                               {'state': False, 'capability': 'postcopy-preempt'}]},),
        ),
    ),
    Deviation(
        "QEMU72-CAPS-UNKNOWN-TEXT",
        "MIG-QMP-002",
        "an unknown capability name reads \"Parameter 'capability' does not accept value "
        "'bogus'\"",
        "visit_type_enum, qapi/qapi-visit-core.c:407 of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'bogus', 'state': True}]}},),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'capability' does not accept value 'bogus'"}},),
        ),
    ),
    Deviation(
        "QEMU72-QMP-EXTRA-MEMBER-TEXT",
        "MIG-QMP-002",
        "an unknown argument reads \"Parameter 'NAME' is unexpected\"",
        "qobject_input_check_struct, qapi/qobject-input-visitor.c:252-253 of qemu "
        "1:7.2+dfsg-7+deb12u18 (7.2 checks arguments in the QAPI visitor, not in monitor.c's "
        "args_type).",
        Observation(
            script=({'execute': 'migrate',
                     'arguments': {'uri': 'exec:cat > /dev/null', 'bogus': 1}},
                    {'execute': 'query-migrate', 'arguments': {'x': 1}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Parameter 'bogus' is unexpected"}},
                   {'error': {'class': 'GenericError', 'desc': "Parameter 'x' is unexpected"}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-INPUT-OBJECT",
        "MIG-QMP-003",
        "the input object's errors read \"QMP input member 'arguments' must be an object\", "
        "\"QMP input member 'X' is unexpected\", \"QMP input member 'execute' must be a "
        "string\", \"QMP input lacks member 'execute'\" and \"QMP input must be a JSON "
        "object\"; the members are checked in QDict (hash) order, and an object's id is echoed",
        "qmp_dispatch_check_obj, qapi/qmp-dispatch.c:44-90, iterating with qdict_first/"
        "qdict_next (bucket tdb_hash(key) % 512, qobject/qdict.c:35-47, 120-129), and "
        "qmp_dispatch, qapi/qmp-dispatch.c:151-157, 292-294 (the id is read before the check "
        "and put into the error reply), of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'query-migrate', 'arguments': None},
                    {'execute': 'query-migrate', 'argumentz': {}},
                    {'execute': 'query-migrate', 'arguments': None, 'argumentz': {}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "QMP input member 'arguments' must be an object"}},
                   {'error': {'class': 'GenericError',
                              'desc': "QMP input member 'argumentz' is unexpected"}},
                   {'error': {'class': 'GenericError',
                              'desc': "QMP input member 'argumentz' is unexpected"}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-TYPE-NAMES",
        "MIG-QMP-002",
        "type errors name JSON types: \"expected: boolean\" (not bool) and \"expected: array\" "
        "(not list)",
        "qapi/qobject-input-visitor.c:330 (array) and :498 (boolean) of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate',
                     'arguments': {'uri': 'exec:cat > /dev/null', 'blk': 'x'}},
                    {'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': {'capability': 'events', 'state': True}}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'blk', expected: boolean"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'capabilities', expected: "
                                      'array'}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-MEMBER-PATHS",
        "MIG-QMP-002",
        "errors inside a list name the full path ('capabilities[0].state', "
        "'capabilities[0].capability', 'capabilities[0].x', 'capabilities[0]'), a list item "
        "that is not an object 'expected: object'",
        "full_name_nth, qapi/qobject-input-visitor.c:75-116, used at :171 (missing), :252 "
        "(unexpected), :292 (object) and :498 (boolean) of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': 1}]}},
                    {'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events'}]}},
                    {'execute': 'migrate-set-capabilities', 'arguments': {'capabilities': [5]}},
                    {'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'state': True}]}},
                    {'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 5, 'state': True}]}},
                    {'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events',
                                                     'state': True,
                                                     'x': 1}]}},
                    {'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True},
                                                    {'capability': 'xbzrle', 'state': 3}]}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'capabilities[0].state', "
                                      'expected: boolean'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'capabilities[0].state' is missing"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'capabilities[0]', expected: "
                                      'object'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'capabilities[0].capability' is missing"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'capabilities[0].capability', "
                                      'expected: string'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'capabilities[0].x' is unexpected"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'capabilities[1].state', "
                                      'expected: boolean'}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-MEMBER-ORDER",
        "MIG-QMP-002",
        "arguments are checked in the command's QAPI member order (migrate: uri, blk, inc, "
        "detach, resume), and unknown ones only after all declared ones",
        "the QAPI input visitor visits the members in the order of "
        "qapi/migration.json:1488-1490 and reports unknown members in "
        "qobject_input_check_struct (qapi/qobject-input-visitor.c:241-257) after them, of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate', 'arguments': {'blk': 'x', 'uri': 5}},
                    {'execute': 'migrate', 'arguments': {'bogus': 1, 'uri': 5}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'uri', expected: string"}},
                   {'error': {'class': 'GenericError',
                              'desc': "Invalid parameter type for 'uri', expected: string"}}),
        ),
    ),
    Deviation(
        "QEMU72-QMP-NEGOTIATION-TEXT",
        "MIG-QMP-004",
        "qmp_capabilities in command mode reads \"Capabilities negotiation is already complete, "
        "command ignored\" (no command name)",
        "qmp_qmp_capabilities, monitor/qmp-cmds-control.c:82-86 of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'qmp_capabilities'},),
            lines=({'error': {'class': 'CommandNotFound',
                              'desc': 'Capabilities negotiation is already complete, command '
                                      'ignored'}},),
        ),
    ),
    Deviation(
        "QEMU72-INCOMING-NOT-DEFERRED-TEXT",
        "MIG-INCOMING-010",
        "migrate-incoming on a VM started without -incoming reads \"'-incoming' was not "
        "specified on the command line\"",
        "qmp_migrate_incoming, migration/migration.c:2230-2233 of qemu 1:7.2+dfsg-7+deb12u18 "
        "(a run-state test replaces the seed's deferred flag).",
        Observation(
            script=({'execute': 'migrate-incoming', 'arguments': {'uri': 'tcp:0:4444'}},),
            lines=({'error': {'class': 'GenericError',
                              'desc': "'-incoming' was not specified on the command line"}},),
        ),
    ),
    Deviation(
        "QEMU72-INCOMING-URI-ONCE",
        "MIG-INCOMING-010",
        "migrate-incoming on a VM started with -incoming URI reads \"The incoming migration has "
        "already been started\"",
        "vl.c starts a non-deferred incoming migration through qmp_migrate_incoming "
        "(softmmu/vl.c:2624-2625), which clears 'once' (migration/migration.c:2246); the "
        "'once' test comes first (:2226-2229) of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'migspec': 'incoming', 'uri': 'tcp:0:4444'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming',
                                 'arguments': {'uri': 'unix:/tmp/m'}}}),
            lines=({'error': {'class': 'GenericError',
                              'desc': 'The incoming migration has already been started'},
                    'vm': 'destination'},),
        ),
    ),
    Deviation(
        "QEMU72-INCOMING-DEFER-UNKNOWN",
        "MIG-INCOMING-003",
        "'defer' is not a URI of migrate-incoming: it is refused as \"unknown migration "
        "protocol: defer\" (after the 'setup' event), never as \"Incoming migration already "
        "deferred\", and a later migrate-incoming still works",
        "qemu_start_incoming_migration, migration/migration.c:489-511, has no 'defer' branch "
        "(vl.c handles -incoming defer, softmmu/vl.c:2622-2630), of qemu "
        "1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'migspec': 'incoming', 'uri': 'defer'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming', 'arguments': {'uri': 'defer'}}},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming',
                                 'arguments': {'uri': 'tcp:0:4444'}}}),
            lines=({'event': 'MIGRATION', 'data': {'status': 'setup'}, 'vm': 'destination'},
                   {'error': {'class': 'GenericError',
                              'desc': 'unknown migration protocol: defer'},
                    'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}, 'vm': 'destination'},
                   {'return': {}, 'vm': 'destination'}),
        ),
    ),
    Deviation(
        "QEMU72-BUILD-RDMA",
        "MIG-MIGRATE-007",
        "Debian builds QEMU with CONFIG_RDMA: rdma: is a known scheme (here, with no RDMA "
        "device, the start fails with the transport's error through migrate_fd_error)",
        "qmp_migrate, migration/migration.c:2435-2437 (#ifdef CONFIG_RDMA; and :500-502 for "
        "incoming), and rdma_start_outgoing_migration in migration/rdma.c, of qemu "
        "1:7.2+dfsg-7+deb12u18; the error text is the environment's (connect_error).",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'migspec': 'env',
                     'connect': 'refused',
                     'connect_error': 'RDMA ERROR: could not create CM channel'},
                    {'execute': 'migrate', 'arguments': {'uri': 'rdma:127.0.0.1:4444'}},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}},
                   {'error': {'class': 'GenericError',
                              'desc': 'RDMA ERROR: could not create CM channel'}},
                   {'return': {'status': 'failed',
                               'error-desc': 'RDMA ERROR: could not create CM channel'}}),
        ),
    ),
    Deviation(
        "QEMU72-RDMA-NO-DEVICE",
        "MIG-MIGRATE-007",
        "on a host without RDMA (no rdma_cm event channel) migrate rdma: fails at once: "
        "'setup', 'failed' and \"RDMA ERROR: could not create CM channel\"",
        "rdma_start_outgoing_migration -> qemu_rdma_source_init -> qemu_rdma_resolve_host: "
        "rdma_create_event_channel() fails, ERROR(errp, \"could not create CM channel\") "
        "(migration/rdma.c:952-957, the ERROR macro prefixes \"RDMA ERROR: \"), then "
        "migrate_fd_error, of qemu 1:7.2+dfsg-7+deb12u18; the environment of the Debian "
        "host the profile describes.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'execute': 'migrate', 'arguments': {'uri': 'rdma:127.0.0.1:4444'}},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}},
                   {'error': {'class': 'GenericError',
                              'desc': 'RDMA ERROR: could not create CM channel'}},
                   {'return': {'status': 'failed',
                               'error-desc': 'RDMA ERROR: could not create CM channel'}}),
        ),
    ),
    Deviation(
        "QEMU72-RDMA-INCOMING-NO-DEVICE",
        "MIG-INCOMING-001",
        "on a host without RDMA migrate-incoming rdma: sends 'setup' and fails with \"RDMA "
        "ERROR: could not create rdma event channel\" (nothing listens; a later "
        "migrate-incoming may try again)",
        "rdma_start_incoming_migration -> qemu_rdma_dest_init: rdma_create_event_channel() "
        "fails (migration/rdma.c:2649-2655); qmp_migrate_incoming returns before 'once = "
        "false' (migration/migration.c:2235-2246), of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'migspec': 'incoming', 'uri': 'defer'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming',
                                 'arguments': {'uri': 'rdma:127.0.0.1:4444'}}},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-migrate'}}),
            lines=({'event': 'MIGRATION', 'data': {'status': 'setup'}, 'vm': 'destination'},
                   {'error': {'class': 'GenericError',
                              'desc': 'RDMA ERROR: could not create rdma event channel'},
                    'vm': 'destination'},
                   {'return': {}, 'vm': 'destination'}),
        ),
    ),
    Deviation(
        "QEMU72-MIGRATE-BLOCK-CAP",
        "MIG-MIGRATE-004",
        "migrate with blk or inc turns the block capability on until the migration's cleanup "
        "(query-migrate-capabilities shows it; a start error that skips the cleanup leaves it "
        "on, and a later migrate with blk or inc is then refused with \"Command options are "
        "incompatible with current migration capabilities\"); an unknown URI turns it off",
        "migrate_prepare, migration/migration.c:2376-2392 (migrate_set_block_enabled(true), "
        "must_remove_block_options), block_cleanup_parameters :1904-1912, called by "
        "migrate_fd_cleanup :1966 and for an unknown URI :2451, not by migrate_fd_error "
        ":2004-2010 (a synchronous start error, :2455-2461), of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate', 'arguments': {'uri': 'fd:nosuch', 'blk': True}},
                    {'execute': 'query-migrate-capabilities'},
                    {'execute': 'migrate', 'arguments': {'uri': 'fd:nosuch', 'inc': True}},
                    {'execute': 'migrate', 'arguments': {'uri': 'gopher:x'}},
                    {'execute': 'query-migrate-capabilities'}),
            lines=({'error': {'class': 'GenericError',
                              'desc': "File descriptor named 'nosuch' has not been found"}},
                   {'return': [{'state': False, 'capability': 'xbzrle'},
                                {'state': False, 'capability': 'rdma-pin-all'},
                                {'state': False, 'capability': 'auto-converge'},
                                {'state': False, 'capability': 'zero-blocks'},
                                {'state': False, 'capability': 'compress'},
                                {'state': False, 'capability': 'events'},
                                {'state': False, 'capability': 'postcopy-ram'},
                                {'state': False, 'capability': 'x-colo'},
                                {'state': False, 'capability': 'release-ram'},
                                {'state': True, 'capability': 'block'},
                                {'state': False, 'capability': 'return-path'},
                                {'state': False, 'capability': 'pause-before-switchover'},
                                {'state': False, 'capability': 'multifd'},
                                {'state': False, 'capability': 'dirty-bitmaps'},
                                {'state': False, 'capability': 'postcopy-blocktime'},
                                {'state': False, 'capability': 'late-block-activate'},
                                {'state': False, 'capability': 'x-ignore-shared'},
                                {'state': False, 'capability': 'validate-uuid'},
                                {'state': False, 'capability': 'background-snapshot'},
                                {'state': False, 'capability': 'zero-copy-send'},
                                {'state': False, 'capability': 'postcopy-preempt'}]},
                   {'error': {'class': 'GenericError',
                              'desc': 'Command options are incompatible with current '
                                      'migration capabilities'}},
                   {'error': {'class': 'GenericError',
                              'desc': "Parameter 'uri' expects a valid migration protocol"}},
                   {'return': [{'state': False, 'capability': 'xbzrle'},
                                {'state': False, 'capability': 'rdma-pin-all'},
                                {'state': False, 'capability': 'auto-converge'},
                                {'state': False, 'capability': 'zero-blocks'},
                                {'state': False, 'capability': 'compress'},
                                {'state': False, 'capability': 'events'},
                                {'state': False, 'capability': 'postcopy-ram'},
                                {'state': False, 'capability': 'x-colo'},
                                {'state': False, 'capability': 'release-ram'},
                                {'state': False, 'capability': 'block'},
                                {'state': False, 'capability': 'return-path'},
                                {'state': False, 'capability': 'pause-before-switchover'},
                                {'state': False, 'capability': 'multifd'},
                                {'state': False, 'capability': 'dirty-bitmaps'},
                                {'state': False, 'capability': 'postcopy-blocktime'},
                                {'state': False, 'capability': 'late-block-activate'},
                                {'state': False, 'capability': 'x-ignore-shared'},
                                {'state': False, 'capability': 'validate-uuid'},
                                {'state': False, 'capability': 'background-snapshot'},
                                {'state': False, 'capability': 'zero-copy-send'},
                                {'state': False, 'capability': 'postcopy-preempt'}]}),
        ),
    ),
    Deviation(
        "QEMU72-CANCEL-AGAIN-EVENT",
        "MIG-CANCEL-001",
        "a migrate_cancel in 'cancelling' sends another MIGRATION 'cancelling' event (the "
        "state stays)",
        "migrate_fd_cancel's loop runs for every migration_is_running state, which includes "
        "CANCELLING (migration/migration.c:2027-2037, 1009-1021), and migrate_set_state's "
        "compare-and-swap CANCELLING -> CANCELLING succeeds and sends the event (:1869-1876), "
        "of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'max-bandwidth': 100000}},
                    {'execute': 'migrate', 'arguments': {'uri': 'exec:cat > /dev/null'}},
                    {'migspec': 'advance', 'ms': 100},
                    {'execute': 'migrate_cancel'},
                    {'execute': 'migrate_cancel'},
                    {'migspec': 'settle'},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 1}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelling'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelling'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelled'}},
                   {'return': {'status': 'cancelled'}}),
        ),
    ),
    Deviation(
        "QEMU72-MIGRATE-POSTMIGRATE",
        "MIG-MIGRATE-005",
        "migrate in run state 'postmigrate' is refused with \"Can't migrate the vm that was "
        "paused due to previous migration\"",
        "migrate_prepare, migration/migration.c:2366-2370 of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'execute': 'migrate', 'arguments': {'uri': 'exec:cat > /dev/null'}},
                    {'migspec': 'settle'},
                    {'execute': 'query-status'},
                    {'execute': 'migrate', 'arguments': {'uri': 'exec:cat > /dev/null'}}),
            lines=({'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 1}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}},
                   {'event': 'STOP'},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 2}},
                   {'event': 'MIGRATION', 'data': {'status': 'completed'}},
                   {'return': {'status': 'postmigrate', 'singlestep': False, 'running': False}},
                   {'error': {'class': 'GenericError',
                              'desc': "Can't migrate the vm that was paused due to previous "
                                      'migration'}}),
        ),
    ),
    Deviation(
        "QEMU72-CONNECT-SOCKET-ASYNC",
        "MIG-CONNECT-002",
        "tcp: and unix: always connect asynchronously: a refused connect returns {} and then "
        "fails the migration ('failed' event), never an error reply",
        "socket_start_outgoing_migration uses qio_channel_socket_connect_async "
        "(migration/socket.c:129-131) and socket_outgoing_migration (:86) calls "
        "migrate_fd_connect with the error, of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'migspec': 'env', 'connect': 'refused'},
                    {'execute': 'migrate', 'arguments': {'uri': 'tcp:127.0.0.1:4444'}},
                    {'migspec': 'settle'},
                    {'execute': 'query-migrate'},
                    {'execute': 'migrate', 'arguments': {'uri': 'unix:/tmp/m'}},
                    {'migspec': 'settle'},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}},
                   {'return': {'status': 'failed',
                               'error-desc': "Failed to connect to '127.0.0.1:4444': Connection "
                                             'refused'}},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}},
                   {'return': {'status': 'failed',
                               'error-desc': "Failed to connect to '/tmp/m': No such file or "
                                             'directory'}}),
        ),
    ),
    Deviation(
        "QEMU72-QUERY-DEST-STATUS",
        "MIG-QUERY-001",
        "query-migrate on the destination reports the incoming migration's status ('active' "
        "while loading, 'completed' after), where the seed returns {}",
        "qmp_query_migrate fills the destination's info first, "
        "fill_destination_migration_info, migration/migration.c:1365-1404; the incoming state "
        "changes at :612-613 and :571-572 of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'execute': 'migrate-set-parameters',
                     'arguments': {'max-bandwidth': 100000}},
                    {'migspec': 'incoming', 'uri': 'tcp:0:4444'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-migrate'}},
                    {'execute': 'migrate', 'arguments': {'uri': 'tcp:127.0.0.1:4444'}},
                    {'migspec': 'advance', 'ms': 200},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-migrate'}},
                    {'execute': 'migrate-set-parameters',
                     'arguments': {'max-bandwidth': 1000000000}},
                    {'migspec': 'settle'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-migrate'}}),
            lines=({'return': {}},
                   {'return': {'socket-address': [{'port': '4444',
                                                   'ipv4': True,
                                                   'host': '0.0.0.0',
                                                   'type': 'inet'}]},
                    'vm': 'destination'},
                   {'return': {}},
                   {'return': {'status': 'active',
                               'socket-address': [{'port': '4444',
                                                   'ipv4': True,
                                                   'host': '0.0.0.0',
                                                   'type': 'inet'}]},
                    'vm': 'destination'},
                   {'return': {}},
                   {'event': 'STOP'},
                   {'event': 'RESUME', 'vm': 'destination'},
                   {'return': {'status': 'completed'}, 'vm': 'destination'}),
        ),
    ),
    Deviation(
        "QEMU72-DEST-EVENT-ORDER",
        "MIG-INCOMING-007",
        "on the destination the guest starts (RESUME) before the 'completed' event",
        "process_incoming_migration_bh, migration/migration.c:553-572: vm_start before "
        "migrate_set_state(ACTIVE -> COMPLETED) ('This must happen after any state changes') "
        "of qemu 1:7.2+dfsg-7+deb12u18.",
        Observation(
            script=({'migspec': 'incoming', 'uri': 'tcp:0:4444'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-set-capabilities',
                                 'arguments': {'capabilities': [{'capability': 'events',
                                                                 'state': True}]}}},
                    {'execute': 'migrate', 'arguments': {'uri': 'tcp:127.0.0.1:4444'}},
                    {'migspec': 'settle'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-status'}}),
            lines=({'return': {}, 'vm': 'destination'},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}, 'vm': 'destination'},
                   {'event': 'STOP'},
                   {'event': 'RESUME', 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'completed'}, 'vm': 'destination'},
                   {'return': {'status': 'running', 'singlestep': False, 'running': True},
                    'vm': 'destination'}),
        ),
    ),
    Deviation(
        "QEMU72-RUNSTATE-SAME",
        "MIG-INCOMING-008",
        "runstate_set to the state the guest is already in does nothing (the seed's vl.c "
        "aborts): a stream whose global-state section names 'inmigrate' leaves the "
        "destination 'inmigrate' after 'completed'",
        "runstate_set returns early when current_run_state == new_state, "
        "softmmu/runstate.c:209-211 of qemu 1:7.2+dfsg-7+deb12u18 (the table has no "
        "inmigrate -> inmigrate row, :77-162). Observed with a real stream whose "
        "global-state buffer was rewritten to 'inmigrate' (QemuSession.feed).",
        Observation(
            script=({'migspec': 'incoming', 'uri': 'defer'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-set-capabilities',
                                 'arguments': {'capabilities': [{'capability': 'events',
                                                                 'state': True}]}}},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming',
                                 'arguments': {'uri': 'tcp:0:4444'}}},
                    {'migspec': 'feed', 'outcome': 'complete', 'runstate': 'inmigrate'},
                    {'migspec': 'settle'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-status'}}),
            lines=({'return': {}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}, 'vm': 'destination'},
                   {'return': {}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'completed'}, 'vm': 'destination'},
                   {'return': {'status': 'inmigrate', 'singlestep': False, 'running': False},
                    'vm': 'destination'}),
        ),
    ),
    Deviation(
        "QEMU72-CANCEL-AFTER-STOP",
        "MIG-THREAD-006",
        "a migrate_cancel can land inside the completion, after the guest stopped (STOP) and "
        "before its state is saved: the save fails on the shut-down channel, the destination's "
        "load fails, the source resumes the guest and ends 'cancelled'",
        "migration_completion holds the big lock from migration/migration.c:3323 to :3348 of "
        "qemu 1:7.2+dfsg-7+deb12u18; do_vm_stop sends STOP (softmmu/cpus.c:264) and "
        "ram_save_complete syncs the dirty bitmap (migration/ram.c:3404, MIGRATION_PASS at "
        ":1213) before it writes anything. The real QEMU sent STOP, then the cancel's "
        "'cancelling' and reply, then MIGRATION_PASS 2 (wire order on one QMP connection): "
        "the main loop ran migrate_cancel between the two. With KVM cpu_synchronize_all_states "
        "(migration/savevm.c:1446) waits in run_on_cpu with the lock released "
        "(cpus-common.c:do_run_on_cpu); under TCG without block devices the release point is "
        "not identified. The seed's region (941-954) has no such boundary: there the cancel "
        "lands before STOP or after the stream's end (DEF-SPLIT-BRAIN). Racy: recorded from "
        "the conform run's failing trace (race-migrate-cancel, 2 of 200 runs; 6 of 600 runs of "
        "race-cancel-destination-paused); the probe's steps pin it on the reference.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'migspec': 'incoming', 'uri': 'unix:/tmp/m'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-set-capabilities',
                                 'arguments': {'capabilities': [{'capability': 'events',
                                                                 'state': True}]}}},
                    {'execute': 'migrate', 'arguments': {'uri': 'unix:/tmp/m'}},
                    {'migspec': 'step', 'actor': 'main', 'task': 'connect'},
                    {'migspec': 'step', 'until': 'complete'},
                    {'migspec': 'step'},
                    {'migspec': 'step'},
                    {'execute': 'migrate_cancel'},
                    {'migspec': 'settle'},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'return': {}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}, 'vm': 'destination'},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 1}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}},
                   {'event': 'STOP'},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelling'}},
                   {'return': {}},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 2}},
                   {'event': 'RESUME'},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelled'}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}, 'vm': 'destination'},
                   {'migspec': 'exited', 'vm': 'destination'},
                   {'return': {'status': 'cancelled'}}),
            racy="2 of 200 runs of race-migrate-cancel (TCG)",
        ),
    ),
    Deviation(
        "QEMU72-COMPLETION-CANCELLING-FAILS",
        "MIG-THREAD-007",
        "a migrate_cancel that lands after the thread chose completion and before "
        "migration_completion read the state makes it 'failed', not 'cancelled': no STOP, no "
        "save, 'cancelling' -> 'failed'",
        "migration_completion takes current_active_state = s->state ('cancelling') without the "
        "lock (migration/migration.c:3320), stops and saves only from 'active' (:3322), goes to "
        "its fail label (:3367-3368) and swaps current_active_state to FAILED (:3421-3422) of "
        "qemu 1:7.2+dfsg-7+deb12u18; the seed enters its locked completion without reading "
        "the state (941). MIGRATION_PASS 2 between the reply and 'failed' is ram_save_pending's "
        "sync (migration/ram.c:3458-3466) before migration_completion. Racy: recorded from a "
        "conform run of race-migrate-cancel-jitter (1 of 4000 runs; once in 1000 racy runs "
        "before); the probe's steps pin it on the reference.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'migspec': 'incoming', 'uri': 'unix:/tmp/m'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-set-capabilities',
                                 'arguments': {'capabilities': [{'capability': 'events',
                                                                 'state': True}]}}},
                    {'execute': 'migrate', 'arguments': {'uri': 'unix:/tmp/m'}},
                    {'migspec': 'step', 'actor': 'main', 'task': 'connect'},
                    {'migspec': 'step', 'until': 'complete'},
                    {'execute': 'migrate_cancel'},
                    {'migspec': 'settle'},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'return': {}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}, 'vm': 'destination'},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 1}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelling'}},
                   {'return': {}},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 2}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}, 'vm': 'destination'},
                   {'migspec': 'exited', 'vm': 'destination'},
                   {'return': {'status': 'failed'}}),
            racy="1 of 4000 runs of race-migrate-cancel-jitter (TCG)",
        ),
    ),
    Deviation(
        "QEMU72-QMP-REPLY-AFTER-BH",
        "MIG-SETSTATE-002",
        "a command's reply can follow events of bottom halves that ran after the command: "
        "the source's 'cancelled' can arrive before the reply to migrate_cancel",
        "qmp_dispatch runs a command in a bottom half and yields (qapi/qmp-dispatch.c:257-259 "
        "of qemu 1:7.2+dfsg-7+deb12u18); the bottom half wakes the dispatcher coroutine, which "
        "lives in another AioContext, by scheduling it (util/async.c:689-691), so the main "
        "loop can run a bottom half scheduled meanwhile (the migration cleanup, "
        "'cancelling' -> 'cancelled') before the reply goes out. The seed's monitor answers "
        "in the handler's main-loop step. Racy: recorded from conform runs of "
        "race-migrate-cancel-jitter (3 of 1500 runs; 2 of 200 of race-cancel-destination-paused "
        "before); the probe's steps pin it on the reference.",
        Observation(
            script=({'execute': 'migrate-set-capabilities',
                     'arguments': {'capabilities': [{'capability': 'events', 'state': True}]}},
                    {'migspec': 'incoming', 'uri': 'unix:/tmp/m'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-set-capabilities',
                                 'arguments': {'capabilities': [{'capability': 'events',
                                                                 'state': True}]}}},
                    {'execute': 'migrate', 'arguments': {'uri': 'unix:/tmp/m'}},
                    {'migspec': 'step', 'actor': 'main', 'task': 'connect'},
                    {'migspec': 'step', 'until': 'loop_check'},
                    {'migspec': 'submit', 'command': {'execute': 'migrate_cancel'}},
                    {'migspec': 'step', 'actor': 'main', 'task': 'qmp'},
                    {'migspec': 'step', 'until': 'final'},
                    {'migspec': 'step'},
                    {'migspec': 'step', 'actor': 'main', 'task': 'bh'},
                    {'migspec': 'step', 'actor': 'main', 'task': 'join'},
                    {'migspec': 'settle'},
                    {'execute': 'query-migrate'}),
            lines=({'return': {}},
                   {'return': {}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'setup'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}, 'vm': 'destination'},
                   {'event': 'MIGRATION_PASS', 'data': {'pass': 1}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelling'}},
                   {'event': 'MIGRATION', 'data': {'status': 'cancelled'}},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'failed'}, 'vm': 'destination'},
                   {'migspec': 'exited', 'vm': 'destination'},
                   {'return': {'status': 'cancelled'}}),
            racy="3 of 1500 runs of race-migrate-cancel-jitter (TCG)",
        ),
    ),
)

DEVIATION_BY_ID: dict[str, Deviation] = {d.id: d for d in DEVIATIONS}

REPAIRS: tuple[Repair, ...] = (
    Repair(
        "DEF-CANCEL-CONNECT-STUCK",
        "a failed connect cleans up: migrate_fd_connect calls migrate_fd_cleanup after "
        "migrate_fd_error (migration/migration.c:4234-4248), which moves CANCELLING to "
        "CANCELLED (:1955-1958)",
    ),
    Repair(
        "DEF-INCOMING-ONCE-NO-RETURN",
        "qmp_migrate_incoming returns after the 'once' error "
        "(migration/migration.c:2226-2229): no second 'setup' event",
        Observation(
            script=({'migspec': 'incoming', 'uri': 'defer'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming',
                                 'arguments': {'uri': 'tcp:0:4444'}}},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-incoming',
                                 'arguments': {'uri': 'unix:/tmp/m'}}},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-status'}}),
            lines=({'event': 'MIGRATION', 'data': {'status': 'setup'}, 'vm': 'destination'},
                   {'return': {}, 'vm': 'destination'},
                   {'error': {'class': 'GenericError',
                              'desc': 'The incoming migration has already been started'},
                    'vm': 'destination'},
                   {'return': {'status': 'inmigrate', 'singlestep': False, 'running': False},
                    'vm': 'destination'}),
        ),
    ),
    Repair(
        "DEF-DOWNTIME-OVERFLOW",
        "not reachable: migrate_set_downtime is removed and downtime-limit is an integer in ms "
        "checked against 2000000 (migration/migration.c:1490-1497)",
    ),
    Repair(
        "DEF-CAPS-WHILE-CANCELLING",
        "qmp_migrate_set_capabilities refuses while migration_is_running, which includes "
        "CANCELLING (migration/migration.c:1414-1417, 1009-1021)",
    ),
    Repair(
        "DEF-CACHE-NEGATIVE",
        "not reachable: migrate-set-cache-size is removed; xbzrle-cache-size is uint64 and -1 "
        "fails the power-of-two check (migration/migration.c:1523-1529)",
    ),
    Repair(
        "DEF-EXPECTED-DOWNTIME-DIV0",
        "bandwidth is a double division of bytes by milliseconds (migration/migration.c:3725), "
        "never 0 once more than 10000 bytes were sent",
    ),
    Repair(
        "DEF-INCOMING-PRELAUNCH-ABORT",
        "softmmu/runstate.c:93-94 allow inmigrate -> prelaunch and inmigrate -> postmigrate; "
        "migrate_prepare refuses a postmigrate source anyway (migration/migration.c:2366-2370)",
        Observation(
            script=({'migspec': 'vm', 'runstate': 'prelaunch'},
                    {'migspec': 'incoming', 'uri': 'tcp:0:4444'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'migrate-set-capabilities',
                                 'arguments': {'capabilities': [{'capability': 'events',
                                                                 'state': True}]}}},
                    {'execute': 'migrate', 'arguments': {'uri': 'tcp:127.0.0.1:4444'}},
                    {'migspec': 'settle'},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-status'}},
                    {'migspec': 'qmp', 'vm': 'destination', 'command': {'execute': 'cont'}},
                    {'migspec': 'qmp',
                     'vm': 'destination',
                     'command': {'execute': 'query-status'}}),
            lines=({'return': {}, 'vm': 'destination'},
                   {'return': {}},
                   {'event': 'MIGRATION', 'data': {'status': 'active'}, 'vm': 'destination'},
                   {'event': 'MIGRATION', 'data': {'status': 'completed'}, 'vm': 'destination'},
                   {'return': {'status': 'prelaunch', 'singlestep': False, 'running': False},
                    'vm': 'destination'},
                   {'event': 'RESUME', 'vm': 'destination'},
                   {'return': {}, 'vm': 'destination'},
                   {'return': {'status': 'running', 'singlestep': False, 'running': True},
                    'vm': 'destination'}),
        ),
    ),
    Repair(
        "DEF-FAILED-STOPPED-ABORT",
        "migration_iteration_finish moves a stopped guest left in finish-migrate to "
        "postmigrate after a failed or cancelled migration (migration/migration.c:3814-3826)",
    ),
    Repair(
        "DEF-CONT-DURING-COMPLETION",
        "qmp_cont refuses in finish-migrate with \"Migration is not finalized yet\" "
        "(monitor/qmp-cmds.c:129-130)",
    ),    Repair(
        "DEF-GLOBAL-STATE-UNTERMINATED",
        "global_state_post_load writes a NUL into the buffer's last byte when strnlen finds "
        "none, before qapi_enum_parse (migration/global_state.c:97-108); observed: a real "
        "stream whose buffer held 100 'x' failed the load with \"invalid parameter value: \" "
        "and 99 'x' on stderr (conform scenario fed-unterminated-runstate)",
    ),
    Repair(
        "DEF-INCOMING-INVALIDATE-EXIT",
        "process_incoming_migration_bh reports a bdrv_activate_all failure and sets "
        "autostart = false instead of exiting; 'completed' follows the run-state change "
        "(migration/migration.c:524-535, 553-572); observed: with the destination's "
        "virtio-blk image write-locked by another QEMU, the real 7.2 printed 'Failed to get "
        "\"write\" lock', sent 'active' and 'completed' (no RESUME) and stayed 'paused' "
        "(an env knob no launched QEMU takes, so not a replayed probe)",
    ),
    Repair(
        "DEF-INCOMING-LOAD-RUNNING",
        "not reachable: a second stream needs a second listener, and qmp_migrate_incoming "
        "returns after its once test and refuses outside 'inmigrate' "
        "(migration/migration.c:2226-2233); a socket listener ignores an extra connection "
        "(migration/socket.c:155-158)",
    ),
    Repair(
        "DEF-QMP-DOUBLE-FORMAT",
        "json_writer_double prints '%.17g' (qobject/json-writer.c:227-241). On the real 7.2 "
        "(raw socket, tests/test_reading_real.py) query-status with the ids 0.1, 1e-7, 8.0, "
        "0.0, 1e20 and 0.000012 echoed 0.10000000000000001, 9.9999999999999995e-08, 8, 0, "
        "1e+20 and 1.2e-05: each reads back as the sent double (no Observation here: the "
        "conformance harness sends its own ids, so only a raw socket shows an echoed one)",
    ),
    Repair(
        "DEF-CACHE-ALLOC-MISREPORTED",
        "xbzrle_cache_resize hands its Error on (migration/ram.c:131-163): a failed "
        "cache_init reports \"Failed to allocate cache\" or \"Failed to allocate page "
        "cache\" (migration/page_cache.c:61-78), never the page-size text; 7.2 reaches it "
        "through migrate-set-parameters xbzrle-cache-size (migration/migration.c:1774). Not "
        "observed: the allocation cannot be made to fail over QMP on a small guest",
    ),
)

KEPT: tuple[Kept, ...] = (
    Kept(
        "DEF-MIGRATE-BEFORE-CLEANUP",
        "migrate_prepare refuses only migration_is_running states and inmigrate/postmigrate "
        "(migration/migration.c:2354-2370); the thread sets FAILED before "
        "migration_iteration_finish schedules the cleanup (3795-3835), so a migrate in that "
        "window reaches migrate_fd_connect's assert(!s->cleanup_bh) (:4228)",
    ),
    Kept(
        "DEF-EVENT-ORDER",
        "migrate_set_state still swaps and then sends the event outside any lock "
        "(migration/migration.c:1869-1876)",
    ),
    Kept(
        "DEF-SPLIT-BRAIN",
        "migration_iteration_finish still calls vm_start for a failed or cancelled migration "
        "whose guest was running (migration/migration.c:3814-3822), even after the device "
        "state was sent",
    ),
    Kept(
        "DEF-INCOMING-DEBUG-ABORT",
        "softmmu/runstate.c:77-162 still lets 'inmigrate' enter none of debug, inmigrate, "
        "restore-vm, save-vm; migrate_prepare refuses only inmigrate and postmigrate "
        "(migration/migration.c:2361-2370), global_state_store stores 'debug' at completion "
        "(:3327) and process_incoming_migration_bh calls runstate_set with it (:564); "
        "observed end to end: a real 7.2 source stopped in 'debug' by a gdb single step "
        "(-gdb, packet 's') migrated ('completed', source 'postmigrate') and the real 7.2 "
        "destination aborted with \"invalid runstate transition: 'inmigrate' -> 'debug'\" "
        "(SIGABRT); so did a real stream whose buffer was rewritten to 'debug' or 'save-vm' "
        "(conform scenario fed-debug); one naming 'inmigrate' does not abort but leaves the "
        "guest 'inmigrate' for good (QEMU72-RUNSTATE-SAME, MIG-DEST-103)",
    ),
    Kept(
        "DEF-UNKNOWN-URI-NO-NOTIFY",
        "qmp_migrate still moves SETUP to FAILED itself for an unknown URI without "
        "notifier_list_notify (migration/migration.c:2443-2452)",
    ),
    Kept(
        "DEF-SPEED-BELOW-RATIO-UNLIMITED",
        "migrate_params_apply sets the rate limit to max_bandwidth / XFER_LIMIT_RATIO "
        "(migration/migration.c:1747-1748, and migrate_fd_connect 4255) and "
        "qemu_file_rate_limit still treats 0 as no limit (migration/qemu-file.c:751-753). "
        "On the real 7.2 (tests/test_reading_real.py) max-bandwidth 5 and a migrate to fd: "
        "completed a 32 MiB guest within a second; max-bandwidth 10 had sent 72 bytes after "
        "a second",
    ),
    Kept(
        "DEF-COMPLETED-TIMES-EARLY",
        "migration_completion still sets COMPLETED (migration/migration.c:3396-3397) before "
        "migration_iteration_finish computes total_time and downtime under the lock "
        "(3797-3803, 3679-3691); query-migrate in 'completed' reads s->total_time and "
        "s->downtime (1034-1038), which migrate_init zeroed (2171, 2184): in that window 7.2 "
        "reports total-time 0 and downtime 0 (not the start timestamp: it keeps the start in "
        "s->start_time). A window of microseconds, not observable deterministically over QMP; "
        "the qemu-7.2 profile reports the seed's start timestamp there",
    ),
)

#: The QEMU 7.2 capabilities, in its enum order: the seed's six, then these.
BEYOND_SEED = BeyondSeed(
    # migration commands of qapi/migration.json that the seed does not have
    commands=frozenset({
        "calc-dirty-rate",
        "cancel-vcpu-dirty-limit",
        "client_migrate_info",
        "migrate-continue",
        "migrate-pause",
        "migrate-recover",
        "migrate-start-postcopy",
        "query-colo-status",
        "query-dirty-rate",
        "query-vcpu-dirty-limit",
        "query-xen-replication-status",
        "set-vcpu-dirty-limit",
        "snapshot-delete",
        "snapshot-load",
        "snapshot-save",
        "x-colo-lost-heartbeat",
        "xen-colo-do-checkpoint",
        "xen-load-devices-state",
        "xen-save-devices-state",
        "xen-set-global-dirty-log",
        "xen-set-replication",
    }),
    capabilities=(
        "postcopy-ram",
        "x-colo",
        "release-ram",
        "block",
        "return-path",
        "pause-before-switchover",
        "multifd",
        "dirty-bitmaps",
        "postcopy-blocktime",
        "late-block-activate",
        "x-ignore-shared",
        "validate-uuid",
        "background-snapshot",
        "zero-copy-send",
        "postcopy-preempt",
    ),
    # query-migrate-parameters keys beyond the seed's three and the three that moved in
    parameters=(
        "cpu-throttle-tailslow",
        "cpu-throttle-initial",
        "announce-max",
        "multifd-channels",
        "multifd-zstd-level",
        "announce-initial",
        "block-incremental",
        "compress-wait-thread",
        "tls-authz",
        "multifd-compression",
        "announce-rounds",
        "announce-step",
        "tls-creds",
        "multifd-zlib-level",
        "max-cpu-throttle",
        "max-postcopy-bandwidth",
        "tls-hostname",
        "throttle-trigger-threshold",
        "x-checkpoint-delay",
        "cpu-throttle-increment",
    ),
    events=frozenset({"MIGRATION_PASS"}),
    # "compression": with the compress capability on (migration/migration.c:1085-1090)
    query_migrate_keys=frozenset({"error-desc", "socket-address", "blocked-reasons",
                                  "compression"}),
    arguments=frozenset({("migrate", "resume")}),
    xbzrle_cache_keys=frozenset({"encoding-rate"}),
    ram_keys=frozenset({
        "dirty-sync-missed-zero-copy",
        "downtime-bytes",
        "multifd-bytes",
        "page-size",
        "pages-per-second",
        "postcopy-bytes",
        "postcopy-requests",
        "precopy-bytes",
    }),
)

#: Every capability QEMU 7.2 lists, in its order.
QEMU72_CAPABILITIES: tuple[str, ...] = (
    "xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "compress", "events",
) + BEYOND_SEED.capabilities


def beyond_seed_dropped(line: Line) -> Line | None:
    """``line`` without what is beyond the seed: None for an event of
    :attr:`BeyondSeed.events`; a reply without the beyond-seed keys of
    query-migrate (top level and ``ram``) and query-migrate-parameters."""
    if line.get("event") in BEYOND_SEED.events:
        return None
    ret = line.get("return")
    if not isinstance(ret, dict):
        return line
    beyond = BEYOND_SEED.query_migrate_keys | frozenset(BEYOND_SEED.parameters)
    kept = {k: v for k, v in ret.items() if k not in beyond}
    if isinstance(kept.get("ram"), dict):
        kept["ram"] = {k: v for k, v in kept["ram"].items() if k not in BEYOND_SEED.ram_keys}
    if isinstance(kept.get("xbzrle-cache"), dict):
        kept["xbzrle-cache"] = {k: v for k, v in kept["xbzrle-cache"].items()
                                if k not in BEYOND_SEED.xbzrle_cache_keys}
    return {**line, "return": kept}

#: Seed commands QEMU 7.2 no longer has, with the deviation that removes each.
REMOVED_COMMANDS: dict[str, str] = {
    "migrate_set_speed": "QEMU72-CMD-REMOVED-SET-SPEED",
    "migrate_set_downtime": "QEMU72-CMD-REMOVED-SET-DOWNTIME",
    "migrate-set-cache-size": "QEMU72-CMD-REMOVED-SET-CACHE-SIZE",
    "query-migrate-cache-size": "QEMU72-CMD-REMOVED-QUERY-CACHE-SIZE",
}


@dataclass(frozen=True)
class MovedParameter:
    """A seed setting that QEMU 7.2 sets through migrate-set-parameters."""

    name: str
    c_name: str
    deviation: str
    #: The seed command that set it (removed in 7.2).
    seed_command: str


#: In QEMU 7.2's MigrateSetParameters member order (qapi/migration.json).
MOVED_PARAMETERS: tuple[MovedParameter, ...] = (
    MovedParameter("max-bandwidth", "max_bandwidth", "QEMU72-PARAM-MAX-BANDWIDTH",
                   "migrate_set_speed"),
    MovedParameter("downtime-limit", "downtime_limit", "QEMU72-PARAM-DOWNTIME-LIMIT",
                   "migrate_set_downtime"),
    MovedParameter("xbzrle-cache-size", "xbzrle_cache_size", "QEMU72-PARAM-XBZRLE-CACHE-SIZE",
                   "migrate-set-cache-size"),
)

#: MAX_THROTTLE of QEMU 7.2 (migration/migration.c:65): the default max-bandwidth.
QEMU72_MAX_THROTTLE = 128 << 20
#: MAX_MIGRATE_DOWNTIME of QEMU 7.2 (migration/migration.c:78), ms.
QEMU72_MAX_MIGRATE_DOWNTIME_MS = 2000 * 1000
#: The texts of QEMU 7.2's migrate_params_check (migration/migration.c:1435-1529).
QEMU72_RANGE_TEXTS: dict[str, str] = {
    "compress-level": "a value between 0 and 9",
    "compress-threads": "a value between 1 and 255",
    "decompress-threads": "a value between 1 and 255",
    "downtime-limit": "an integer in the range of 0 to (2000 * 1000) ms",
    "xbzrle-cache-size": "a power of two no less than the target page size",
}

#: QEMU 7.2's RDMA errors on a host without RDMA (QEMU72-RDMA-NO-DEVICE,
#: QEMU72-RDMA-INCOMING-NO-DEVICE; migration/rdma.c:955, 2653).
RDMA_NO_CM_CHANNEL = "RDMA ERROR: could not create CM channel"
RDMA_NO_EVENT_CHANNEL = "RDMA ERROR: could not create rdma event channel"

#: Error texts only QEMU 7.2 has (the engine raises them at the deviations' sites).
QEMU72_ERRORS: tuple[ErrorDecl, ...] = (
    ErrorDecl("postmigrate", GENERIC,
              "Can't migrate the vm that was paused due to previous migration",
              "7.2 migration/migration.c:2366-2370", "MIG-MIGRATE-005"),
    ErrorDecl("incoming_not_specified", GENERIC,
              "'-incoming' was not specified on the command line",
              "7.2 migration/migration.c:2230-2233", "MIG-INCOMING-010"),
    ErrorDecl("negotiation_complete_72", COMMAND_NOT_FOUND,
              "Capabilities negotiation is already complete, command ignored",
              "7.2 monitor/qmp-cmds-control.c:82-86", "MIG-QMP-004"),
    ErrorDecl("unexpected_parameter", GENERIC, "Parameter '{0}' is unexpected",
              "7.2 qapi/qobject-input-visitor.c:252-253", "MIG-QMP-002"),
    ErrorDecl("enum_value", GENERIC, "Parameter '{0}' does not accept value '{1}'",
              "7.2 qapi/qapi-visit-core.c:407", "MIG-QMP-002"),
    ErrorDecl("block_options_incompatible", GENERIC,
              "Command options are incompatible with current migration capabilities",
              "7.2 migration/migration.c:2381-2385", "MIG-MIGRATE-004"),
    ErrorDecl("input_not_object_72", GENERIC, "QMP input must be a JSON {0}",
              "7.2 qapi/qmp-dispatch.c:151-154", "MIG-QMP-003"),
    ErrorDecl("input_member_string_72", GENERIC, "QMP input member '{0}' must be a string",
              "7.2 qapi/qmp-dispatch.c:58-62", "MIG-QMP-003"),
    ErrorDecl("input_arguments_72", GENERIC, "QMP input member 'arguments' must be an object",
              "7.2 qapi/qmp-dispatch.c:70-74", "MIG-QMP-003"),
    ErrorDecl("input_unexpected_72", GENERIC, "QMP input member '{0}' is unexpected",
              "7.2 qapi/qmp-dispatch.c:78-81", "MIG-QMP-003"),
    ErrorDecl("input_lacks_execute_72", GENERIC, "QMP input lacks member '{0}'",
              "7.2 qapi/qmp-dispatch.c:85-87", "MIG-QMP-003"),
)

#: QAPI member order of the seed's commands in QEMU 7.2 (qapi/migration.json;
#: QEMU72-QMP-MEMBER-ORDER); a command not listed keeps its declared order.
QEMU72_MEMBER_ORDER: dict[str, tuple[str, ...]] = {
    "migrate": ("uri", "blk", "inc", "detach"),
    "migrate-set-parameters": (
        "compress-level", "compress-threads", "decompress-threads",
        "max-bandwidth", "downtime-limit", "xbzrle-cache-size",
    ),
}
#: migrate-set-parameters members that are uint8 in QEMU 7.2 (QEMU72-PARAM-UINT8);
#: the others are uint64.
QEMU72_UINT8_PARAMETERS: frozenset[str] = frozenset(
    {"compress-level", "compress-threads", "decompress-threads"}
)

#: Declared transitions that a deviation puts out of the explorer scenarios'
#: reach (the coverage check does not ask for them in a profile with that
#: deviation): the scenarios refuse only socket connects, which QEMU 7.2 refuses
#: asynchronously; a synchronous start error remains for fd:, exec: and rdma:.
UNREACHED_IN_SCENARIOS: dict[str, str] = {
    "connect_error_sync": "QEMU72-CONNECT-SOCKET-ASYNC",
}


def comparable(lines: Iterable[Line], drop_beyond_seed: bool) -> dict[str, list[Line]]:
    """What each VM showed a client, in wire order, as the probes compare it:
    across VMs only causality counts, so VMs are compared one by one;
    timestamps are dropped, query-migrate statistics, which no run fixes,
    are reduced to the status and the key set, and a process's exit to the
    fact (its message is QEMU's own). With ``drop_beyond_seed`` also
    what is beyond the seed (:func:`beyond_seed_dropped`), which the engine
    does not model."""
    out: dict[str, list[Line]] = {}
    for raw in lines:
        kept: Line | None = {k: v for k, v in raw.items() if k != "timestamp"}
        if drop_beyond_seed and kept is not None:
            kept = beyond_seed_dropped(kept)
        if kept is None:
            continue
        if kept.get("migspec") == "exited":
            # the process ended; QEMU's and the reference's wording differ
            kept = {k: v for k, v in kept.items() if k in ("migspec", "vm")}
        value = kept.get("return")
        if isinstance(value, dict) and "ram" in value:
            kept = {**kept, "return": {"status": value["status"], "keys": sorted(value)}}
        out.setdefault(str(kept.get("vm", "source")), []).append(kept)
    return out
