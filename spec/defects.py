"""Seed defects: behaviour of the seed that looks like a bug.

The ``seed`` profile reproduces each one; the ``fixed`` profile repairs each
one. Every entry names the seed lines, what goes wrong, a counterexample (a
``migspec run`` script, as a tuple of script lines) and the repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Script = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class DefectDecl:
    """One seed defect."""

    id: str
    title: str
    lines: str
    what_goes_wrong: str
    repair: str
    requirement: str
    #: What a client sees; checked by tests against the seed and fixed profiles.
    counterexample: Script


def _qmp(execute: str, **arguments: Any) -> dict[str, Any]:
    cmd: dict[str, Any] = {"execute": execute}
    if arguments:
        cmd["arguments"] = arguments
    return cmd


def _d(name: str, **fields: Any) -> dict[str, Any]:
    return {"migspec": name, **fields}


_EVENTS_ON = _qmp(
    "migrate-set-capabilities", capabilities=[{"capability": "events", "state": True}]
)

DEFECTS: tuple[DefectDecl, ...] = (
    DefectDecl(
        "DEF-CANCEL-CONNECT-STUCK",
        "A cancel before an asynchronous connect fails leaves the migration in CANCELLING forever",
        "567-573,581-588",
        "migrate_cancel in SETUP while the connect is pending moves SETUP to CANCELLING and, "
        "with no file, shuts nothing down. When the connect then fails, migrate_fd_error "
        "tries SETUP -> FAILED, which no longer matches; no thread exists, so no cleanup "
        "bottom half is ever scheduled. query-migrate reports 'cancelling' forever and every "
        "later migrate is refused with \"There's a migration process in progress\".",
        "migrate_fd_error also moves CANCELLING to CANCELLED (transition "
        "connect_error_cancelled).",
        "MIG-FDERROR-003",
        (
            _d("env", connect="delayed-refused", connect_delay_ms=50),
            _qmp("migrate", uri="tcp:127.0.0.1:4444"),
            _qmp("migrate_cancel"),
            _d("settle"),
            _qmp("query-migrate"),
            _qmp("migrate", uri="tcp:127.0.0.1:4444"),
        ),
    ),
    DefectDecl(
        "DEF-INCOMING-ONCE-NO-RETURN",
        "A second migrate-incoming reports an error but starts another incoming migration",
        "682-693",
        "The 'once' test sets the error but does not return, so qemu_start_incoming_migration "
        "runs again: it sends another MIGRATION 'setup' event and opens a second listener "
        "while the client is told \"The incoming migration has already been started\".",
        "Return after setting the error.",
        "MIG-INCOMING-011",
        (
            _d("incoming", uri="defer"),
            _d("qmp", vm="destination", command=_qmp("migrate-incoming", uri="tcp:0:4444")),
            _d("qmp", vm="destination", command=_qmp("migrate-incoming", uri="unix:/tmp/m")),
            _d("qmp", vm="destination", command=_qmp("query-migrate")),
        ),
    ),
    DefectDecl(
        "DEF-MIGRATE-BEFORE-CLEANUP",
        "A new migrate is accepted before the previous migration's cleanup ran",
        "536-552,643,708-713,1019",
        "The migration thread sets FAILED or COMPLETED before it schedules the cleanup "
        "bottom half, and the bottom half runs later still. qmp_migrate refuses only SETUP, "
        "ACTIVE and CANCELLING, so a migrate in that window is accepted; migrate_init's "
        "memset wipes cleanup_bh, file and thread of the migration still finishing. The old "
        "thread then schedules a NULL bottom half (QEMU crashes) or the new migration's "
        "bottom half, whose cleanup joins the new thread and tears the new migration down.",
        "Refuse migrate with QERR_MIGRATION_ACTIVE while a cleanup is pending or the "
        "previous thread has not been joined.",
        "MIG-MIGRATE-001",
        (
            _d("env", channel_error=True),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            # begin (the header write fails), setup_cas, emit 'active', loop_check,
            # iterate (rate limited by the error), errcheck: ACTIVE -> FAILED.
            *([_d("step", actor="thread")] * 6),
            _qmp("query-migrate"),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("settle"),
            _qmp("query-migrate"),
        ),
    ),
    DefectDecl(
        "DEF-EVENT-ORDER",
        "MIGRATION events can reach the client in another order than the state changes",
        "528-534,927",
        "migrate_set_state changes the state with a compare-and-swap and sends the event "
        "afterwards, outside any lock. The migration thread can move SETUP to ACTIVE, the "
        "main loop can then cancel (ACTIVE to CANCELLING) and send 'cancelling' before the "
        "thread sends 'active': the client sees setup, cancelling, active, cancelled. For the "
        "same reason a migrate-set-capabilities that turns 'events' off between the thread's "
        "swap to 'completed' and its event suppresses the 'completed' event.",
        "Send the event in the same atomic step as the state change.",
        "MIG-EVENT-002",
        (
            _EVENTS_ON,
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("step", actor="thread"),
            _d("step", actor="thread"),
            _qmp("migrate_cancel"),
            _d("settle"),
        ),
    ),
    DefectDecl(
        "DEF-SPLIT-BRAIN",
        "The source resumes the guest after the destination may have started it",
        "941-974,1014-1017,282-306",
        "Once qemu_savevm_state_complete has run, the destination can load the whole stream "
        "and start the guest. If the source then sees a file error (or a migrate_cancel wins "
        "the race before the thread's ACTIVE -> COMPLETED), it ends FAILED or CANCELLED and, "
        "because the guest was running before, calls vm_start: both sides run the guest.",
        "After qemu_savevm_state_complete has run, a failed or cancelled source does not "
        "resume the guest; it stays stopped and management decides which side runs.",
        "MIG-THREAD-010",
        (
            _d("incoming", uri="tcp:0:4444"),
            _d("env", completion_error="file-after-delivery"),
            _qmp("migrate", uri="tcp:127.0.0.1:4444"),
            _d("settle"),
            _qmp("query-status"),
            _d("qmp", vm="destination", command=_qmp("query-status")),
        ),
    ),
    DefectDecl(
        "DEF-DOWNTIME-OVERFLOW",
        "A huge downtime limit becomes 0",
        "823-825",
        "value*1e9 is clamped to UINT64_MAX as a double, which rounds to 2^64; converting "
        "2^64 to uint64_t is undefined and x86-64 yields 0, so 'migrate_set_downtime "
        "1e10*2' sets max_downtime to 0 ns instead of the largest value.",
        "Clamp to the largest double below 2^64 before converting.",
        "MIG-DOWNTIME-002",
        (
            _qmp("migrate_set_downtime", value=2e10),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("step", actor="thread"),
            _d("step", actor="thread"),
            _qmp("query-migrate"),
        ),
    ),
    DefectDecl(
        "DEF-CAPS-WHILE-CANCELLING",
        "Capabilities can change while a cancelled migration is still running",
        "474-477",
        "migrate-set-capabilities refuses only ACTIVE and SETUP. In CANCELLING the migration "
        "thread is still running; turning 'events' off then suppresses the 'cancelled' event "
        "of the migration the client just cancelled, and xbzrle or compress change under the "
        "running thread.",
        "Also refuse in CANCELLING.",
        "MIG-CAPS-002",
        (
            _EVENTS_ON,
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("step", actor="thread"),
            _d("step", actor="thread"),
            _d("step", actor="thread"),
            _qmp("migrate_cancel"),
            _qmp(
                "migrate-set-capabilities",
                capabilities=[{"capability": "events", "state": False}],
            ),
            _d("settle"),
        ),
    ),
    DefectDecl(
        "DEF-UNKNOWN-URI-NO-NOTIFY",
        "An unknown URI fails the migration without telling the state-change notifiers",
        "750-755",
        "qmp_migrate moves SETUP to FAILED itself for an unknown URI instead of calling "
        "migrate_fd_error, so notifier_list_notify is not called: the notifiers saw 'setup' "
        "(they are told in migrate_fd_connect and migrate_fd_error only) and never see the "
        "failure.",
        "Call notifier_list_notify after the state change.",
        "MIG-NOTIFY-001",
        (
            _qmp("migrate", uri="gopher:x"),
            _d("trace"),
        ),
    ),
    DefectDecl(
        "DEF-CACHE-NEGATIVE",
        "A negative cache size is reported as exceeding the guest RAM size",
        "774-793",
        "value != (size_t)value never holds on a 64-bit host, and value > ram_bytes_total() "
        "compares as unsigned, so -1 is rejected with \"Parameter 'cache size' expects "
        "exceeds guest ram size \" (sic, trailing space).",
        "Test value < TARGET_PAGE_SIZE before the RAM comparison.",
        "MIG-CACHE-004",
        (_qmp("migrate-set-cache-size", value=-1),),
    ),
    DefectDecl(
        "DEF-EXPECTED-DOWNTIME-DIV0",
        "expected-downtime becomes INT64_MIN on a very slow channel",
        "977-991",
        "bandwidth is an integer division of bytes by milliseconds; with more than 10000 "
        "bytes sent in a window of more than that many milliseconds it is 0, and "
        "dirty_bytes_rate / 0.0 is infinity, which x86-64 converts to INT64_MIN.",
        "Skip the estimate when bandwidth is 0.",
        "MIG-THREAD-005",
        (
            _d("env", ram_bytes=64 * 1024 * 1024, dirty_rate=20_000_000),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("advance", ms=3000),
            _d("env", bandwidth=500),
            _d("advance", ms=600_000),
            _qmp("query-migrate"),
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-INCOMING-PRELAUNCH-ABORT",
        "A guest that never ran, or that already migrated, makes the destination abort",
        "297-306",
        "A source started with -S and never continued is in 'prelaunch'; one that completed a "
        "migration and was not restarted is in 'postmigrate'. global_state_store records that "
        "name and global_state_needed sends it; after a successful load the destination calls "
        "runstate_set with it from 'inmigrate', which vl.c's transition table does not allow: "
        "the destination aborts with \"invalid runstate transition: 'inmigrate' -> "
        "'prelaunch'\" (or 'postmigrate').",
        "Allow 'inmigrate' -> 'prelaunch' and 'inmigrate' -> 'postmigrate' (as later QEMU does).",
        "MIG-INCOMING-008",
        (
            _d("vm", runstate="prelaunch"),
            _d("incoming", uri="tcp:0:4444"),
            _qmp("migrate", uri="tcp:127.0.0.1:4444"),
            _d("settle"),
            _d("qmp", vm="destination", command=_qmp("query-status")),
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-FAILED-STOPPED-ABORT",
        "Migrating again after a failed completion of a stopped guest aborts QEMU",
        "946-953,1014-1018",
        "Completion stops the guest into 'finish-migrate' (vm_stop_force_state). If the "
        "migration then fails or is cancelled and the guest was not running before, nothing "
        "leaves 'finish-migrate'. The next migrate reaches completion again and calls "
        "runstate_set(finish-migrate) from 'finish-migrate', which vl.c does not allow: QEMU "
        "aborts with \"invalid runstate transition: 'finish-migrate' -> 'finish-migrate'\".",
        "After a failed or cancelled migration that leaves the guest in 'finish-migrate', "
        "move it to 'postmigrate' (as later QEMU does).",
        "MIG-THREAD-010",
        (
            _d("vm", runstate="paused"),
            _d("env", completion_error="file-before-delivery"),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("settle"),
            _qmp("query-status"),
            _d("env", completion_error="none"),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("settle"),
            _qmp("query-migrate"),
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-CONT-DURING-COMPLETION",
        "A cont between completion and the thread's last region aborts QEMU",
        "954-1013",
        "Completion stops the guest into 'finish-migrate' and drops the big lock (954) "
        "before the thread takes it again for its last region (1003). A 'cont' in between "
        "restarts the guest ('finish-migrate' -> 'running' is allowed); the thread then calls "
        "runstate_set(postmigrate) from 'running' (1013), which vl.c does not allow: QEMU "
        "aborts with \"invalid runstate transition: 'running' -> 'postmigrate'\". (Found by "
        "the Hypothesis state machines.)",
        "Refuse cont in 'finish-migrate' with \"Migration is not finalized yet\" (as later "
        "QEMU does).",
        "MIG-THREAD-009",
        (
            _d("env", ram_bytes=8192),
            _qmp("migrate_set_speed", value=0),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("step", actor="thread", until="after_complete"),
            _qmp("query-status"),
            _qmp("cont"),
            _d("settle"),
            _qmp("query-status"),
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-INCOMING-DEBUG-ABORT",
        "A guest stopped in the debugger, or a stream naming a transient run state, makes "
        "the destination abort",
        "114-123,162-184,297-306",
        "The source stores whatever run state it is in (114-123); post_load accepts any "
        "RunState name (172-181) and, after a successful load, the destination calls "
        "runstate_set with it from 'inmigrate' (305). vl.c's table lets 'inmigrate' enter "
        "neither 'debug' nor 'inmigrate', 'restore-vm' or 'save-vm': a source stopped at a "
        "gdb breakpoint ('debug', which may migrate: only 'inmigrate' is refused, 714-717) "
        "makes the destination abort with \"invalid runstate transition: 'inmigrate' -> "
        "'debug'\" after its 'completed' event, and so does any stream whose section names "
        "one of the other three. (The repair of DEF-INCOMING-PRELAUNCH-ABORT covers only "
        "'prelaunch' and 'postmigrate'; 'restore-vm' and 'save-vm' never reach an honest "
        "stream: completion's runstate_set(finish-migrate) aborts the source first.)",
        "A guest received in a run state that 'inmigrate' may not enter arrives 'paused' "
        "(stopped, as it was on the source).",
        "MIG-INCOMING-008",
        (
            _d("vm", runstate="debug"),
            _d("incoming", uri="tcp:0:4444"),
            _qmp("migrate", uri="tcp:127.0.0.1:4444"),
            _d("settle"),
            _qmp("query-status"),
            _d("qmp", vm="destination", command=_qmp("query-status")),
        ),
    ),
    DefectDecl(
        "DEF-GLOBAL-STATE-UNTERMINATED",
        "A run-state name of 100 bytes or more makes the destination read past the buffer",
        "162-184,194-206",
        "VMSTATE_BUFFER(runstate) loads exactly 100 bytes; a source that fills them with no "
        "NUL leaves an unterminated string, and global_state_post_load passes it to "
        "qapi_enum_parse (strcmp against every name, then \"invalid parameter value: %s\") "
        "and to the trace point: reads past runstate[100] into the rest of GlobalState. "
        "The load then fails (no name is that long), but the read is undefined behaviour "
        "driven by the stream.",
        "Write a NUL into the last byte of the buffer before parsing it (as QEMU 7.2 does, "
        "migration/global_state.c:97-108).",
        "MIG-DEST-001",
        (
            _d("incoming", uri="tcp:0:4444"),
            _d("feed", outcome="complete", section={"name": "r" * 100}),
            _d("settle"),
            _d("trace", vm="destination"),
        ),
    ),
    DefectDecl(
        "DEF-INCOMING-INVALIDATE-EXIT",
        "The destination announces 'completed' and then exits when it cannot re-open its "
        "disks",
        "282-291",
        "After the load the destination sends MIGRATION 'completed' (282) and only then "
        "calls bdrv_invalidate_cache_all (286); if an image cannot be re-opened (for "
        "example it is locked by another process) it exits (290). Its client was told the "
        "migration completed; the source has completed too and stays stopped "
        "('postmigrate'): the guest runs nowhere.",
        "Report the error and do not start the guest (autostart off: it stays 'paused' for "
        "the management to fix the disks and 'cont'), as QEMU 7.2 does "
        "(migration/migration.c:529-534).",
        "MIG-DEST-003",
        (
            _d("env", invalidate_error=True),
            _d("incoming", uri="tcp:0:4444"),
            _d("qmp", vm="destination", command=_EVENTS_ON),
            _qmp("migrate", uri="tcp:127.0.0.1:4444"),
            _d("settle"),
            _qmp("query-status"),
            _d("qmp", vm="destination", command=_qmp("query-status")),
        ),
    ),
    DefectDecl(
        "DEF-INCOMING-LOAD-RUNNING",
        "A second stream is loaded into a guest that already runs; it is paused without STOP",
        "262-270,293-306,310-319",
        "process_incoming_migration takes any stream a listener accepts, whatever the run "
        "state; after DEF-INCOMING-ONCE-NO-RETURN a second listener can accept a second "
        "stream after the first load started the guest (here a fed stream, then a paused "
        "source's). The second load overwrites the "
        "memory of the running guest, and line 305 (or 302 without autostart) calls "
        "runstate_set(paused) from 'running': allowed by vl.c, but it only changes the "
        "name: no STOP event, the vCPUs are not stopped. A client sees RESUME, then 'paused' "
        "in query-status with no STOP between. Into a guest already 'paused' the same "
        "line aborts (\"invalid runstate transition: 'paused' -> 'paused'\").",
        "Take a stream only while the guest is 'inmigrate' (QEMU 7.2 refuses migrate-incoming "
        "outside 'inmigrate', migration/migration.c:2230-2233); a later connection is "
        "closed unread.",
        "MIG-DEST-004",
        (
            _d("vm", runstate="paused"),
            _d("incoming", uri="defer"),
            _d("qmp", vm="destination", command=_qmp("migrate-incoming", uri="tcp:0:4444")),
            _d("qmp", vm="destination", command=_qmp("migrate-incoming", uri="unix:/tmp/m")),
            _d("feed", outcome="complete", runstate="running"),
            _d("settle"),
            _d("qmp", vm="destination", command=_qmp("query-status")),
            _qmp("migrate", uri="unix:/tmp/m"),
            _d("settle"),
            _d("qmp", vm="destination", command=_qmp("query-status")),
        ),
    ),
    DefectDecl(
        "DEF-QMP-DOUBLE-FORMAT",
        "Doubles on the wire keep six decimals: an id 1e-7 is echoed as 0",
        "420,1010-1012",
        "QEMU 2.4's JSON writer (qobject/qjson.c, to_json for QFloat) prints a double with "
        "'%f' and strips the trailing zeros and the dot. Every digit past the sixth decimal "
        "is lost: a command sent with the id 1e-7 gets its reply with the id 0, and the ids "
        "0.1234567 and 0.1234568 both come back as 0.123457, so a client cannot match the "
        "reply to its command; query-migrate's mbps (lines 420, 1010-1012) of a slow "
        "migration reads 0. (Found by reading the seed against QEMU 2.4's qjson.c.)",
        "Print every double so that it reads back as the same double: '%.17g', as QEMU 7.2's "
        "json_writer_double does (qobject/json-writer.c:240).",
        "MIG-QMP-007",
        (
            {"execute": "query-status", "id": 1e-7},
            {"execute": "query-status", "id": 0.1234567},
            {"execute": "query-status", "id": 0.1234568},
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-SPEED-BELOW-RATIO-UNLIMITED",
        "migrate_set_speed below 10 B/s removes the rate limit",
        "807-818,1032-1033",
        "The per-window limit is bandwidth_limit / XFER_LIMIT_RATIO (10) in C integer "
        "division (817, 1033), and qemu_file_rate_limit treats a limit of 0 as no limit. "
        "A speed of 1 to 9 bytes per second (and a negative one, clamped to 0 at 807-809) "
        "makes the limit 0: asking for 5 B/s sends a 16 MiB guest in 16 ms, the whole "
        "channel's bandwidth. (Found by reading the seed; QEMU 7.2 keeps it for "
        "max-bandwidth.)",
        "A positive speed below XFER_LIMIT_RATIO gives the smallest limit, 1 byte per "
        "window (so one page goes per 100 ms window); 0 keeps meaning no limit.",
        "MIG-SPEED-002",
        (
            {"migspec": "env", "ram_bytes": 16777216},
            _qmp("migrate_set_speed", value=5),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("advance", ms=1000),
            _qmp("query-migrate"),
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-COMPLETED-TIMES-EARLY",
        "query-migrate right after 'completed' reports the start timestamp as total-time",
        "433-442,963-965,1003-1008",
        "The thread moves ACTIVE to COMPLETED (963-965) outside the big lock and only in its "
        "last region (1003-1008) turns s->total_time, until then the start timestamp "
        "(migrate_init, 657), into a duration and sets s->downtime. A query-migrate in "
        "between reads 'completed' with total-time the migration's start timestamp (5000 for "
        "a migration started at 5 s; in QEMU, milliseconds since 1970) and downtime 0; a "
        "later query reads 104 and the real downtime. (Found by reading the seed.)",
        "Compute end_time, total_time and downtime (1005-1008) before the CAS to COMPLETED, "
        "so that the final values are there when 'completed' is.",
        "MIG-QUERY-004",
        (
            {"migspec": "env", "ram_bytes": 1048576, "bandwidth": 10000000},
            _d("advance", ms=5000),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("step", until="final"),
            _qmp("query-migrate"),
            _d("settle"),
            _qmp("query-migrate"),
        ),
    ),
)

DEFECTS += (
    DefectDecl(
        "DEF-CACHE-ALLOC-MISREPORTED",
        "A failed XBZRLE cache allocation is reported as a size smaller than a page",
        "788-793",
        "qmp_migrate_set_cache_size reports every negative return of xbzrle_cache_resize "
        "as \"is smaller than page size\" (789-792). During a migration with the xbzrle "
        "capability the resize allocates a new cache (ram.c, cache_init with g_try_malloc), "
        "and when that allocation fails it returns -1 too: asking for 8 MiB on a 16 MiB "
        "guest is answered \"Parameter 'cache size' expects is smaller than page size\". "
        "(Found by reading the seed with ram.c.)",
        "Report the allocation failure as such: \"Failed to allocate page cache\", the text "
        "of QEMU 7.2's cache_init (page_cache.c:76).",
        "MIG-CACHE-006",
        (
            {"migspec": "env", "ram_bytes": 16777216, "bandwidth": 1000000},
            _qmp("migrate-set-capabilities",
                 capabilities=[{"capability": "xbzrle", "state": True}]),
            _qmp("migrate", uri="exec:cat > /dev/null"),
            _d("advance", ms=100),
            _d("env", xbzrle_resize_error=True),
            _qmp("migrate-set-cache-size", value=8388608),
            _qmp("query-migrate-cache-size"),
        ),
    ),
)

DEFECT_BY_ID: dict[str, DefectDecl] = {d.id: d for d in DEFECTS}
