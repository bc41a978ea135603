"""Requirements: every observable behaviour of the seed, with a stable ID,
one sentence, the seed lines it rests on and the seed function it comes from.

Engine code, checks and reports cite these IDs. A conformance verdict is given
per ID.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    """One behaviour of the seed."""

    id: str
    text: str
    lines: str
    function: str


def _r(id_: str, function: str, lines: str, text: str) -> Requirement:
    return Requirement(id_, text, lines, function)


REQUIREMENTS: tuple[Requirement, ...] = (
    # migrate_get_current and migrate_init
    _r("MIG-STATE-001", "migrate_get_current", "61-77",
       "Before any migration the state is 'none', the bandwidth limit 32 MiB/s, the XBZRLE "
       "cache 64 MiB, compress-level 1, compress-threads 8, decompress-threads 2, every "
       "capability off and max downtime 300 ms."),
    _r("MIG-INIT-001", "migrate_init", "628-654",
       "A new migration zeroes the migration state but keeps the bandwidth limit, the "
       "capabilities, the XBZRLE cache size and the parameters; mbps, times and statistics "
       "restart from 0."),
    _r("MIG-INIT-002", "migrate_init", "655-658",
       "A new migration moves 'none' to 'setup' (with its event) and starts the total-time "
       "clock."),
    # events and state changes
    _r("MIG-EVENT-001", "migrate_generate_event", "216-221",
       "A MIGRATION event is sent for a state change only while the 'events' capability is "
       "on, read when the event is sent."),
    _r("MIG-EVENT-002", "migrate_set_state", "528-534",
       "Each successful state change sends exactly one MIGRATION event with the new status; "
       "a failed compare-and-swap sends none."),
    _r("MIG-EVENT-003", "qemu_start_incoming_migration", "240",
       "Starting an incoming migration always sends a MIGRATION 'setup' event, whatever the "
       "'events' capability and even if the URI is then rejected; like every event it reaches "
       "only monitors that negotiated capabilities, so no client sees the one sent at start-up "
       "by -incoming (before the main loop runs), only that of migrate-incoming."),
    _r("MIG-SETSTATE-001", "migrate_set_state", "528-534",
       "A state change is a compare-and-swap from an expected state: it happens only if the "
       "state still is the expected one."),
    _r("MIG-SETSTATE-002", "migrate_set_state", "530-533",
       "The event of a state change is sent after the swap, not atomically with it; another "
       "thread's change and event can come between."),
    # query
    _r("MIG-QUERY-001", "qmp_query_migrate", "391-394,463",
       "query-migrate in 'none' returns an empty object, without 'status'."),
    _r("MIG-QUERY-002", "qmp_query_migrate", "395-398",
       "query-migrate in 'setup' returns only the status."),
    _r("MIG-QUERY-003", "qmp_query_migrate", "399-432",
       "query-migrate in 'active' and 'cancelling' returns status, RAM statistics with "
       "remaining bytes and dirty-pages-rate, total-time since the start, expected-downtime "
       "and setup-time."),
    _r("MIG-QUERY-004", "qmp_query_migrate", "433-455",
       "query-migrate in 'completed' returns status, RAM statistics with remaining 0, the "
       "final total-time, downtime and setup-time."),
    _r("MIG-QUERY-005", "get_xbzrle_cache_stats", "372-384,431,434",
       "With the xbzrle capability on, query-migrate in 'active', 'cancelling' and "
       "'completed' includes xbzrle-cache statistics with the cache size."),
    _r("MIG-QUERY-006", "qmp_query_migrate", "456-461",
       "query-migrate in 'failed' and 'cancelled' returns only the status."),
    _r("MIG-QUERY-007", "qmp_query_migrate", "423-429",
       "query-migrate includes disk statistics only while block migration is active."),
    # capabilities
    _r("MIG-CAPS-001", "qmp_migrate_set_capabilities", "480-482",
       "migrate-set-capabilities sets each listed capability in order; later entries win."),
    _r("MIG-CAPS-002", "qmp_migrate_set_capabilities", "474-477",
       "migrate-set-capabilities is refused with \"There's a migration process in progress\" "
       "in 'setup' and 'active' (and, in the seed, accepted in 'cancelling')."),
    _r("MIG-CAPS-003", "qmp_query_migrate_capabilities", "332-355",
       "query-migrate-capabilities lists every capability of the revision in enum order with "
       "its state."),
    # parameters
    _r("MIG-PARAMS-001", "qmp_migrate_set_parameters", "485-524",
       "migrate-set-parameters checks compress-level, then compress-threads, then "
       "decompress-threads, and changes nothing unless all given values are valid; it is "
       "accepted in any migration state."),
    _r("MIG-PARAMS-002", "qmp_migrate_set_parameters", "494-498",
       "compress-level must be 0 to 9, else \"Parameter 'compress_level' expects is invalid, "
       "it should be in the range of 0 to 9\"."),
    _r("MIG-PARAMS-003", "qmp_migrate_set_parameters", "499-505",
       "compress-threads must be 1 to 255, else the range error for 'compress_threads'."),
    _r("MIG-PARAMS-004", "qmp_migrate_set_parameters", "506-512",
       "decompress-threads must be 1 to 255, else the range error for 'decompress_threads'."),
    _r("MIG-PARAMS-005", "qmp_query_migrate_parameters", "357-370",
       "query-migrate-parameters returns the three parameters."),
    # cache size
    _r("MIG-CACHE-001", "qmp_migrate_set_cache_size", "795,788",
       "A valid cache size is stored rounded down to a power of two."),
    _r("MIG-CACHE-002", "qmp_migrate_set_cache_size", "774-779",
       "A size that does not fit size_t is refused (never on a 64-bit host)."),
    _r("MIG-CACHE-003", "qmp_migrate_set_cache_size", "781-786",
       "A size above the guest RAM size, compared as unsigned, is refused with \"Parameter "
       "'cache size' expects exceeds guest ram size \"."),
    _r("MIG-CACHE-004", "qmp_migrate_set_cache_size", "788-793",
       "A size below the target page size is refused with \"Parameter 'cache size' expects "
       "is smaller than page size\"."),
    _r("MIG-CACHE-005", "qmp_query_migrate_cache_size", "798-801",
       "query-migrate-cache-size returns the stored cache size."),
    _r("MIG-CACHE-006", "qmp_migrate_set_cache_size", "788-793",
       "While a migration holds an XBZRLE cache, a new size allocates a new cache; if that "
       "fails, xbzrle_cache_resize returns -1, the size is not stored and the error reads "
       "\"Parameter 'cache size' expects is smaller than page size\" like a size below a page."),
    # speed and downtime
    _r("MIG-SPEED-001", "qmp_migrate_set_speed", "807-815",
       "migrate_set_speed stores a negative value as 0 and any other value as given; it is "
       "never refused."),
    _r("MIG-SPEED-002", "qmp_migrate_set_speed", "816-818",
       "With an outgoing file open, a new speed takes effect at once as a per-window limit of "
       "bandwidth_limit / 10 bytes; 0 means unlimited."),
    _r("MIG-DOWNTIME-001", "qmp_migrate_set_downtime", "821-826",
       "migrate_set_downtime takes seconds and stores value*1e9 ns clamped to [0, UINT64_MAX]; "
       "it is never refused."),
    _r("MIG-DOWNTIME-002", "qmp_migrate_set_downtime", "824-825",
       "A downtime whose nanoseconds round to 2^64 or more is stored as 0 on x86-64 (the seed "
       "converts 2^64 to uint64)."),
    # migrate
    _r("MIG-MIGRATE-001", "qmp_migrate", "708-713",
       "migrate is refused with \"There's a migration process in progress\" in 'setup', "
       "'active' and 'cancelling'."),
    _r("MIG-MIGRATE-002", "qmp_migrate", "714-717",
       "migrate is refused with \"Guest is waiting for an incoming migration\" while the run "
       "state is 'inmigrate'."),
    _r("MIG-MIGRATE-003", "qmp_migrate", "719-721",
       "migrate is refused when a device's state cannot be migrated."),
    _r("MIG-BLOCKER-001", "qmp_migrate", "663-671,723-726",
       "migrate is refused with the text of the most recently added migration blocker."),
    _r("MIG-MIGRATE-004", "qmp_migrate", "705-706",
       "migrate's blk and inc flags are recorded; detach is accepted and ignored."),
    _r("MIG-MIGRATE-005", "qmp_migrate", "696-762",
       "The refusals are checked in order: in progress, inmigrate, unmigratable device, "
       "blocker; a refused migrate changes nothing."),
    _r("MIG-MIGRATE-006", "qmp_migrate", "728-734",
       "An accepted migrate resets the state to 'none' without an event, then migrate_init "
       "moves it to 'setup'."),
    _r("MIG-MIGRATE-007", "qmp_migrate", "736-749",
       "The URI's scheme is the first of tcp:, rdma: (with RDMA), exec:, unix:, fd: (not on "
       "Windows) that prefixes it."),
    _r("MIG-MIGRATE-008", "qmp_migrate", "750-755",
       "A URI of no known scheme fails the migration ('setup' then 'failed') and returns "
       "\"Parameter 'uri' expects a valid migration protocol\"."),
    _r("MIG-MIGRATE-009", "qmp_migrate", "757-761",
       "A transport error at start fails the migration through migrate_fd_error and returns "
       "the transport's error."),
    _r("MIG-MIGRATE-010", "fd_start_outgoing_migration", "747-748",
       "An fd:NAME URI takes the descriptor the monitor holds under NAME (monitor_get_fd "
       "hands it over and forgets the name), so a later fd:NAME fails with \"File "
       "descriptor named 'NAME' has not been found\" until a new getfd."),
    # connect, error, cancel, cleanup
    _r("MIG-CONNECT-001", "migrate_fd_connect", "1026-1041",
       "Once connected, expected-downtime is max downtime in ms, a cleanup bottom half "
       "exists, the rate limit is applied, notifiers run and the migration thread starts."),
    _r("MIG-CONNECT-002", "qmp_migrate", "736-749",
       "A socket transport may connect later, from the main loop; until then the state stays "
       "'setup' with no file."),
    _r("MIG-FDERROR-001", "migrate_fd_error", "567-573",
       "A connect error moves 'setup' to 'failed' and runs the notifiers; there is no file."),
    _r("MIG-FDERROR-002", "migrate_fd_error", "570",
       "migrate_fd_error asserts that no outgoing file is open."),
    _r("MIG-FDERROR-003", "migrate_fd_error", "571",
       "A connect error after a cancel leaves the state 'cancelling' in the seed "
       "(DEF-CANCEL-CONNECT-STUCK); the fixed profile moves it to 'cancelled'."),
    _r("MIG-CANCEL-001", "migrate_fd_cancel", "581-588",
       "migrate_cancel moves 'setup' or 'active' to 'cancelling' (retrying if the state "
       "changed under it) and leaves any other state alone; it always succeeds."),
    _r("MIG-CANCEL-002", "migrate_fd_cancel", "597-599",
       "When cancelling with an outgoing socket file, the file is shut down so the thread's "
       "writes fail; popen and fd files cannot be shut down."),
    _r("MIG-CANCEL-003", "qmp_migrate_cancel", "764-767",
       "migrate_cancel returns success in every state, including when there is nothing to "
       "cancel."),
    _r("MIG-CLEANUP-001", "migrate_fd_cleanup", "540-541",
       "Cleanup deletes the current cleanup bottom half and clears it."),
    _r("MIG-CLEANUP-002", "migrate_fd_cleanup", "543-552",
       "With a file, cleanup drops the big lock, joins the migration thread, relocks and "
       "closes the file."),
    _r("MIG-CLEANUP-003", "migrate_fd_cleanup", "554",
       "Cleanup asserts that the state is not 'active'."),
    _r("MIG-CLEANUP-004", "migrate_fd_cleanup", "556-562",
       "Cleanup of a migration that did not complete cancels the saved state and moves "
       "'cancelling' to 'cancelled'."),
    _r("MIG-CLEANUP-005", "migrate_fd_cleanup", "564",
       "Cleanup runs the state-change notifiers."),
    _r("MIG-NOTIFY-001", "notifier_list_notify", "564,572,1036",
       "State-change notifiers run at connect, at a connect error and at cleanup (not when an "
       "unknown URI fails the migration)."),
    _r("MIG-NOTIFY-002", "migration_in_setup", "612-626",
       "Notifiers classify the state: in setup, has finished ('completed'), has failed "
       "('failed' or 'cancelled')."),
    # the migration thread
    _r("MIG-THREAD-001", "migration_thread", "914-925",
       "The thread writes the stream header and sets up every section before anything else."),
    _r("MIG-THREAD-002", "migration_thread", "926-927",
       "After setup, setup-time is recorded and 'setup' moves to 'active' (unless cancelled)."),
    _r("MIG-THREAD-003", "migration_thread", "929",
       "The thread iterates only while the state is 'active'."),
    _r("MIG-THREAD-004", "migration_thread", "933-937",
       "While not rate limited and pending bytes are at least max_size (and not zero), the "
       "thread sends another round."),
    _r("MIG-THREAD-005", "migration_thread", "975-996",
       "Every BUFFER_DELAY (100 ms) the thread recomputes bandwidth (bytes/ms, integer "
       "division), max_size = bandwidth * max_downtime / 1e6, mbps, and expected-downtime = "
       "dirty bytes rate / bandwidth when more than 10000 bytes were sent, then resets the "
       "rate limit."),
    _r("MIG-THREAD-006", "migration_thread", "938-966",
       "When pending bytes fall below max_size the thread, under the big lock, wakes a "
       "suspended guest, stores the run state, stops the VM (finish-migrate), lifts the rate "
       "limit and completes the stream; without a file error 'active' becomes 'completed'."),
    _r("MIG-THREAD-007", "migration_thread", "956-959",
       "If stopping the VM fails, 'active' becomes 'failed'."),
    _r("MIG-THREAD-008", "migration_thread", "970-974",
       "A file error (including one caused by a cancel's shutdown) moves 'active' to "
       "'failed'."),
    _r("MIG-THREAD-009", "migration_thread", "1004-1013",
       "After a completed migration total-time, downtime and the overall mbps are set and the "
       "run state becomes 'postmigrate'."),
    _r("MIG-THREAD-010", "migration_thread", "1014-1018",
       "After a failed or cancelled migration the guest is restarted if it was running when "
       "completion began."),
    _r("MIG-THREAD-011", "migration_thread", "1019",
       "The thread always schedules the cleanup bottom half before it ends."),
    _r("MIG-THREAD-012", "migration_thread", "997-1000",
       "When rate limited the thread sleeps until the end of the current 100 ms window."),
    # global state
    _r("MIG-GLOBAL-001", "global_state_store", "114-123",
       "At completion the source stores its current run state's name."),
    _r("MIG-GLOBAL-002", "global_state_needed", "140-160",
       "The global-state section is sent unless it is optional and the run state is "
       "'running' or 'paused'."),
    _r("MIG-GLOBAL-003", "global_state_post_load", "162-184",
       "A received section marks the state received and parses the run state; an unknown "
       "name fails the load."),
    _r("MIG-GLOBAL-004", "register_global_state", "208-214",
       "At start-up the global state is empty and not received."),
    # incoming
    _r("MIG-INCOMING-001", "qemu_start_incoming_migration", "236-260",
       "Incoming URIs dispatch to defer, tcp:, rdma: (with RDMA), exec:, unix:, fd: (not on "
       "Windows)."),
    _r("MIG-INCOMING-002", "deferred_incoming_migration", "228-234",
       "'defer' marks the incoming migration deferred."),
    _r("MIG-INCOMING-003", "deferred_incoming_migration", "230-232",
       "Deferring again reports \"Incoming migration already deferred\"."),
    _r("MIG-INCOMING-004", "qemu_start_incoming_migration", "257-259",
       "An unknown incoming URI reports \"unknown migration protocol: URI\"."),
    _r("MIG-INCOMING-005", "process_incoming_migration_co", "262-270,310-319",
       "When a source connects, the destination sends MIGRATION 'active' (with the events "
       "capability) and loads the stream."),
    _r("MIG-INCOMING-006", "process_incoming_migration_co", "276-281",
       "A failed load sends 'failed' (with the capability) and the destination exits with "
       "status 1."),
    _r("MIG-INCOMING-007", "process_incoming_migration_co", "282-283",
       "A successful load sends 'completed' (with the capability)."),
    _r("MIG-INCOMING-008", "process_incoming_migration_co", "293-306",
       "After a successful load: without a received global state, or with 'running', the "
       "guest starts if autostart is set and is 'paused' otherwise; any other received run "
       "state is set as it is."),
    _r("MIG-INCOMING-010", "qmp_migrate_incoming", "678-681",
       "migrate-incoming is refused with \"For use with '-incoming defer'\" unless started "
       "with -incoming defer."),
    _r("MIG-INCOMING-011", "qmp_migrate_incoming", "682-693",
       "A second successful migrate-incoming is refused with \"The incoming migration has "
       "already been started\" (in the seed it still starts another one); a failed one can "
       "be retried."),
    # QMP layer and VM commands beside the seed
    _r("MIG-QMP-001", "monitor", "-",
       "An unknown command gets CommandNotFound \"The command NAME has not been found\"."),
    _r("MIG-QMP-002", "monitor", "-",
       "Unknown, mistyped and missing arguments are refused before the handler runs."),
    _r("MIG-QMP-003", "monitor", "-",
       "A malformed command object is refused with the monitor's input-object errors."),
    _r("MIG-QMP-004", "monitor", "-",
       "The reference's monitor starts in command mode, so qmp_capabilities gets "
       "CommandNotFound \"Capabilities negotiation is already complete, command "
       "'qmp_capabilities' ignored\"."),
    _r("MIG-QMP-006", "monitor", "-",
       "A new QMP connection gets the greeting of its QEMU version and is out of command "
       "mode: every command but qmp_capabilities is refused with CommandNotFound "
       "\"Expecting capabilities negotiation with 'qmp_capabilities' before command "
       "'NAME'\", and events reach only connections that negotiated (migspec serve)."),
    _r("MIG-QMP-005", "json-parser", "-",
       "The monitor reads JSON as QEMU 2.4's parser does: NaN and Infinity are not JSON; an "
       "integer beyond int64 becomes a double and one beyond the double range infinity; "
       "nesting deeper than 1024 objects or arrays is refused; of duplicate keys in one "
       "object the last wins."),
    _r("MIG-QMP-007", "to_json", "420,1010-1012",
       "The monitor prints a double (query-migrate's mbps and cache-miss-rate, a double in a "
       "command's id) as QEMU 2.4's to_json does: '%f', then trailing zeros and a trailing dot "
       "dropped (0, 8, 80.664615; 1e-7 prints as 0)."),
    _r("MIG-VM-001", "qmp_query_status", "-", "query-status reports the run state."),
    _r("MIG-VM-002", "qmp_stop", "-",
       "stop pauses a running guest (STOP event); on a waiting destination it clears "
       "autostart."),
    _r("MIG-VM-003", "qmp_cont", "-",
       "cont resumes the guest (RESUME event); on a waiting destination it sets autostart."),
    # the destination as untrusted input: what a source can put in the stream
    _r("MIG-DEST-001", "vmstate_globalstate", "194-206",
       "The global-state section is a uint32 size and the 100-byte run-state buffer: the "
       "loader always reads exactly 100 bytes (VMSTATE_BUFFER) and never uses the size; a "
       "name of 100 bytes or more leaves no NUL in the buffer and its bytes beyond 100 are "
       "read as the next section."),
    _r("MIG-DEST-002", "global_state_post_load", "162-184,276-281",
       "A received buffer that names no run state (unknown, empty, without its NUL, or cut "
       "before it arrived and still holding what an earlier load left) fails the load: "
       "'failed' (with the events capability) and exit; a load that fails before, inside "
       "or after the section ends the same way."),
    _r("MIG-DEST-003", "process_incoming_migration_co", "282-291",
       "After a successful load and its 'completed' event the destination re-opens its "
       "disks (bdrv_invalidate_cache_all); if that fails it exits."),
    _r("MIG-DEST-004", "process_incoming_migration", "125-133,169,262-270,310-319",
       "Every stream that reaches a listener is loaded, also into a guest that already runs "
       "after an earlier load; a global state received once stays received, so a later "
       "stream without the section is set to the earlier run state."),
)

#: Properties the explorer checks over every interleaving (design.md).
PROPERTIES: tuple[Requirement, ...] = (
    _r("MIG-SAFETY-001", "(all)", "315,554,570,1019",
       "No process aborts or crashes; the destination's exit after a failed load "
       "(lines 276-281) is by design and does not count."),
    _r("MIG-SAFETY-002", "migration_thread", "1014-1018,293-306",
       "The source does not run the guest once the destination has loaded the whole stream "
       "and runs it."),
    _r("MIG-SAFETY-003", "migrate_set_state", "528-534",
       "The MIGRATION events a VM sends follow the transition table: each status can follow "
       "the previous one."),
    _r("MIG-SAFETY-004", "migrate_generate_event", "216-221,240",
       "No MIGRATION event is sent while the events capability is off, except the 'setup' "
       "event of an incoming start (line 240)."),
    _r("MIG-SAFETY-005", "qmp_migrate", "708-713,1019,536-552",
       "migrate is refused exactly while a migration is in progress: its state is setup, "
       "active or cancelling, or its thread or cleanup has not finished."),
    _r("MIG-SAFETY-006", "migrate_set_state", "528-534",
       "A migration that reached a terminal state leaves it only for a new migration."),
    _r("MIG-SAFETY-007", "migration_thread", "1014-1018",
       "A source that ran when its migration started runs again after that migration is "
       "cancelled or fails before completion began."),
    _r("MIG-SAFETY-008", "migrate_generate_event", "216-221,474-477",
       "A migration started with the events capability on sends the event of the terminal "
       "state it ends in."),
    _r("MIG-SAFETY-009", "qmp_migrate_incoming", "673-694",
       "A destination starts at most one incoming migration: one listener or connection."),
    _r("MIG-SAFETY-010", "qmp_migrate_set_speed", "807-818,1032-1033",
       "While a migration is active and has not begun completion, its channel's rate-limit "
       "windows have a limit unless the speed asked for is 0."),
    _r("MIG-LIVE-001", "(all)", "536-573,911-1024",
       "From every reachable state a quiescent state is reachable in which every started "
       "migration is in a terminal state and cleaned up (thread joined, file closed)."),
    _r("MIG-LIVE-002", "(all)", "911-1024",
       "No cycle of states avoids termination while the main loop and the migration thread "
       "are treated weakly fairly."),
    _r("MIG-WITNESS-001", "migration_thread", "954-966,581-588",
       "Cancel can win: a migrate_cancel after completion began can end the migration "
       "'cancelled'."),
    _r("MIG-WITNESS-002", "migration_thread", "954-966,581-588",
       "Completion can win: a migration can end 'completed' although a migrate_cancel arrived "
       "after completion began."),
    _r("MIG-WITNESS-003", "(all)", "528-534",
       "Every declared transition of the profile fires in some explored run."),
    _r("MIG-DEST-101", "process_incoming_migration_co", "297-306",
       "A guest leaves 'running' only with a STOP event (or its process ends): a client "
       "that saw it run is told when it stops."),
    _r("MIG-DEST-102", "global_state_post_load", "162-184",
       "The destination never reads past the 100-byte run-state buffer, whatever a source "
       "sends."),
    _r("MIG-DEST-103", "process_incoming_migration_co", "293-306",
       "A destination that loaded a stream is not left 'inmigrate' (where 'cont' only sets "
       "autostart and the guest can never run)."),
)

REQUIREMENT_BY_ID: dict[str, Requirement] = {r.id: r for r in REQUIREMENTS + PROPERTIES}
