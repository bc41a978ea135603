"""Scripts for `migspec run` (reference/script.py): parsing, directive
validation, the exact error a user is shown (file, line, directive, offending
key or value) and what each directive does, as the README describes it.

Error texts are asserted whole: `migspec run` prints them after
"migspec run: " and a user has only them to find the bad line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import EXEC_URI, TCP_URI, event_names, replies

from migspec.reference.engine import Engine
from migspec.reference.profiles import SEED
from migspec.reference.script import (
    ScriptError,
    ScriptLine,
    parse,
    replay,
    run_line,
    run_script,
)

Line = dict[str, Any]
WHERE = "t.jsonl"
DEST = "destination"
#: Every directive of the README's table, in alphabetical order.
KNOWN = "advance, env, feed, incoming, qmp, settle, step, submit, tick, trace, vm"


def text(*objs: Any) -> str:
    """Script text with one JSON line per object (a str is taken as it is)."""
    return "\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n"


def per_line(*objs: Any, profile: str = "seed") -> tuple[Engine, list[list[Line]]]:
    """Run a script line by line; the engine and each line's output."""
    eng = Engine(profile)
    return eng, [run_line(eng, line) for line in parse(text(*objs), WHERE)]


def run_all(*objs: Any) -> list[Line]:
    """Run a script as `migspec run` does; every output line."""
    return list(run_script(Engine(), parse(text(*objs), WHERE), WHERE))


def error_of(*objs: Any) -> ScriptError:
    """The ScriptError that stops the script (at parse or at run time)."""
    with pytest.raises(ScriptError) as caught:
        run_all(*objs)
    return caught.value


def directive(name: str, **keys: Any) -> dict[str, Any]:
    return {"migspec": name, **keys}


def cmd(name: str, args: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"execute": name, **extra}
    if args is not None:
        obj["arguments"] = args
    return obj


QUERY_STATUS = cmd("query-status")
MIGRATE_EXEC = cmd("migrate", {"uri": EXEC_URI})


# -- parsing -------------------------------------------------------------------
def test_parse_skips_blank_and_comment_lines_keeping_line_numbers() -> None:
    """README: blank lines and lines starting with '#' are skipped; every other
    line is one object, and line numbers count every line of the file from 1."""
    lines = parse(
        "# a comment\n"
        "\n"
        '{"execute": "query-status"}\n'
        "   \n"
        "   # an indented comment\n"
        '{"migspec": "settle"}\n'
    )
    assert lines == [
        ScriptLine(3, {"execute": "query-status"}),
        ScriptLine(6, {"migspec": "settle"}),
    ]


def test_not_json_names_file_line_and_the_decoder_reason() -> None:
    """A line that is not JSON: the file, its line number (comments and blank
    lines count) and the JSON decoder's reason with its column (MIG-QMP-005)."""
    bad = "{not json"
    with pytest.raises(ScriptError) as caught:
        parse(text(QUERY_STATUS, "# comment", bad), WHERE)
    assert str(caught.value) == "t.jsonl:3: not JSON: expected a string as object key at column 2"
    assert caught.value.line == 3


@pytest.mark.parametrize("bad", ["[1, 2]", '"settle"', "42", "null"])
def test_json_that_is_not_an_object(bad: str) -> None:
    """Each line must be one JSON object; anything else is refused at its line."""
    with pytest.raises(ScriptError) as caught:
        parse(text("", bad), WHERE)
    assert str(caught.value) == "t.jsonl:2: a line must be a JSON object"
    assert caught.value.line == 2


def test_default_file_name_is_script() -> None:
    """Without a file name (a script given as text, or replayed objects) errors
    say <script>, both when parsing and when running."""
    with pytest.raises(ScriptError) as parsing:
        parse("{")
    assert str(parsing.value).startswith("<script>:1: not JSON: ")
    eng = Engine()
    with pytest.raises(ScriptError) as running:
        list(run_script(eng, parse(text(directive("tick")))))
    assert str(running.value) == "<script>:1: tick: nothing waits for time"


# -- directive validation at parse time -----------------------------------------
def test_unknown_directive_lists_the_known_ones() -> None:
    """An unknown directive is refused before anything runs (so no output), with
    its name and the list of directives a user can write."""
    with pytest.raises(ScriptError) as caught:
        parse(text(MIGRATE_EXEC, directive("teleport", ms=5)), WHERE)
    assert str(caught.value) == f't.jsonl:2: unknown directive "teleport" (known: {KNOWN})'
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("name", "shown"),
    [(["settle"], '["settle"]'), ({}, "{}"), (5, "5"), (None, "null"), (True, "true")],
)
def test_a_directive_name_that_is_not_a_string_is_refused(name: Any, shown: str) -> None:
    """README: an unknown directive stops the run with FILE:LINE: message, also
    when the name is not even a string (never a traceback); the name is shown
    as the JSON the user wrote (null, true), not as a Python value."""
    with pytest.raises(ScriptError) as caught:
        parse(text({"migspec": name}), WHERE)
    assert str(caught.value) == f"t.jsonl:1: unknown directive {shown} (known: {KNOWN})"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (directive("advance"), "advance needs ms"),
        (directive("incoming", vm="b"), "incoming needs uri"),
        (directive("qmp", vm=DEST), "qmp needs command"),
        (directive("submit"), "submit needs command"),
        (directive("feed", runstate="running"), "feed needs outcome"),
    ],
)
def test_missing_required_key(obj: dict[str, Any], message: str) -> None:
    """A directive without a required key of the README's table names the
    directive and the key."""
    with pytest.raises(ScriptError) as caught:
        parse(text("# header", obj), WHERE)
    assert str(caught.value) == f"t.jsonl:2: {message}"
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (directive("advance", ms=5, extra=1), 'advance does not take "extra"'),
        (directive("tick", ms=5), 'tick does not take "ms"'),
        (directive("trace", vm="source", b=1, a=2), 'trace does not take "a", "b"'),
        (directive("settle", ms=5), 'settle does not take "ms"'),
        (directive("step", actor="main", runstate="x"), 'step does not take "runstate"'),
    ],
)
def test_unexpected_key(obj: dict[str, Any], message: str) -> None:
    """A key the directive does not take is named (all of them, sorted)."""
    with pytest.raises(ScriptError) as caught:
        parse(text(obj), WHERE)
    assert str(caught.value) == f"t.jsonl:1: {message}"
    assert caught.value.line == 1


def test_directives_are_checked_before_the_script_runs() -> None:
    """A bad directive stops the script before its first line runs: no output."""
    eng = Engine()
    produced: list[Line] = []
    with pytest.raises(ScriptError):
        produced.extend(run_script(eng, parse(text(QUERY_STATUS, directive("nap")), WHERE)))
    assert produced == []
    assert eng.world.log == []


# -- run-time errors carry the file and line -----------------------------------
def test_run_time_error_names_file_and_line_and_keeps_earlier_output() -> None:
    """README: a bad value stops the run with FILE:LINE: message; the lines
    printed before it stand."""
    eng = Engine()
    produced: list[Line] = []
    lines = parse(text("# probe", QUERY_STATUS, "", directive("tick")), WHERE)
    with pytest.raises(ScriptError) as caught:
        produced.extend(run_script(eng, lines, WHERE))
    assert str(caught.value) == "t.jsonl:4: tick: nothing waits for time"
    assert caught.value.line == 4
    # MIG-VM-001: the query-status before it was answered.
    assert produced == [{"return": {"running": True, "singlestep": False, "status": "running"}}]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (directive("advance", ms=-1), "advance ms must be a non-negative integer"),
        (directive("advance", ms=True), "advance ms must be a non-negative integer"),
        (directive("advance", ms="5"), "advance ms must be a non-negative integer"),
        (directive("advance", ms=1.5), "advance ms must be a non-negative integer"),
        (directive("settle", max_ms=-1), "settle max_ms must be a non-negative integer"),
        (directive("settle", max_ms="soon"), "settle max_ms must be a non-negative integer"),
        (directive("trace", vm=1), "trace vm must be a string"),
        (directive("trace", vm="nosuch"), 'no VM named "nosuch" (have: source)'),
        (directive("env", vm=5), 'unknown env key "vm" (known: bandwidth, channel_error, '
         "completion_error, connect, connect_delay_ms, connect_error, device_bytes, "
         "dirty_rate, instant, invalidate_error, ram_bytes, setup_ms, xbzrle_resize_error)"),
        (directive("incoming", uri=5), "incoming uri must be a string"),
        (directive("step", task=5), "step task must be a string"),
        (directive("step", until=5), "step until must be a thread program counter (one of: "
         "begin, setup_cas, emit, loop_check, iterate, complete, complete_stop, complete_save, "
         "after_complete, errcheck, final)"),
        (directive("step", until="after_cmpl"), "step until must be a thread program "
         "counter (one of: begin, setup_cas, emit, loop_check, iterate, complete, "
         "complete_stop, complete_save, after_complete, errcheck, final)"),
        (directive("step", until="final", actor="main"),
         "step until steps the migration thread: it takes no task, and no actor but 'thread'"),
        (directive("step", until="final", task="2"),
         "step until steps the migration thread: it takes no task, and no actor but 'thread'"),
        (directive("step", actor="cpu"), "step actor must be 'main' or 'thread'"),
        (directive("step", vm="nosuch"), 'no VM named "nosuch" (have: source)'),
        (directive("tick"), "tick: nothing waits for time"),
        (directive("step"), "no enabled move for source thread"),
        (directive("step", actor="main", task="bh"), "no enabled move for source main bh"),
        (directive("step", until="final"), "source has no migration thread to step to 'final'"),
        (directive("feed", outcome="complete"), 'no VM named "destination" (have: source)'),
    ],
)
def test_bad_directive_value(obj: dict[str, Any], message: str) -> None:
    """A bad value, or a directive with nothing to act on (README: tick with
    nothing waiting, step with nothing able to move, feed without a listening
    VM), stops the run at its line with a message naming the key or the actor."""
    err = error_of(QUERY_STATUS, obj)
    assert str(err) == f"t.jsonl:2: {message}"
    assert err.line == 2


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (directive("env", no_such_knob=1),
         'unknown env key "no_such_knob" (known: bandwidth, channel_error, completion_error, '
         "connect, connect_delay_ms, connect_error, device_bytes, dirty_rate, instant, "
         "invalidate_error, ram_bytes, setup_ms, xbzrle_resize_error)"),
        (directive("env", instant=1), "env instant must be a boolean"),
        (directive("env", dirty_rate=-1),
         "env dirty_rate must be an integer from 0 to 9223372036854775807"),
        (directive("env", connect_error=404), "env connect_error must be a string"),
        (directive("env", bandwidth=0), "env bandwidth must be positive"),
        (directive("env", connect="later"),
         "env connect must be one of auto, immediate, refused, delayed, delayed-refused"),
        (directive("vm", runstate="flying"), 'unknown runstate "flying"'),
        (directive("vm", autostart="yes"), "vm autostart must be a boolean"),
        (directive("vm", global_state_optional=1), "vm global_state_optional must be a boolean"),
        (directive("vm", blockers="no"), "vm blockers must be a list of strings"),
        (directive("vm", fds=[3]), "vm fds must be a list of strings"),
        (directive("vm", unmigratable=7), "vm unmigratable must be a device name or null"),
        (directive("vm", colour="red"),
         'unknown vm key "colour" (known: runstate, autostart, global_state_optional, '
         "blockers, unmigratable, fds)"),
        (directive("vm", vm=DEST, autostart=False), 'no VM named "destination" (have: source)'),
    ],
)
def test_bad_env_or_vm_value(obj: dict[str, Any], message: str) -> None:
    """env and vm take any key at parse time; the engine names the bad key or
    value (and the known keys) when the line runs."""
    err = error_of(obj)
    assert str(err) == f"t.jsonl:1: {message}"
    assert err.line == 1


# -- what the directives do ----------------------------------------------------
def test_settle_reports_where_it_gave_up() -> None:
    """README settle: still busy after max_ms prints the quiescent=false line with
    the clock; a settle that reaches quiescence prints nothing of its own.

    setup takes 100 ms, so the thread's next step (lines 926-927) runs at 100 ms;
    128 MiB at the default 32 MiB/s limit (MIG-STATE-001) is far from done then.
    Without max_ms the migration completes (MIG-THREAD-006)."""
    _, out = per_line(
        directive("env", setup_ms=100),
        MIGRATE_EXEC,
        directive("settle", max_ms=100),
        directive("settle"),
        cmd("query-migrate"),
    )
    assert out[2] == [{"migspec": "settle", "quiescent": False, "clock_ms": 100}]
    assert not any(ln.get("migspec") == "settle" for ln in out[3])
    assert out[4][0]["return"]["status"] == "completed"


def test_settles_that_give_up_still_make_progress() -> None:
    """README settle: a settle still busy after max_ms leaves the clock max_ms
    later, so repeated short settles move on. setup takes 1000 ms (the thread's
    begin region, lines 914-925), so each settle of 100 ms gives up."""
    _, out = per_line(
        directive("env", setup_ms=1000),
        MIGRATE_EXEC,
        directive("settle", max_ms=100),
        directive("settle", max_ms=100),
        directive("settle", max_ms=100),
    )
    assert [o[0]["clock_ms"] for o in out[2:]] == [100, 200, 300]


def test_settle_max_ms_zero_is_allowed() -> None:
    """max_ms is a non-negative integer: 0 is valid; with nothing to do the
    world is quiescent at once."""
    _, out = per_line(directive("settle", max_ms=0))
    assert out == [[]]


def test_advance_lets_time_pass() -> None:
    """README advance: ms milliseconds of virtual time pass (0 is valid); event
    timestamps come from the virtual clock (MIG-VM-002: stop sends STOP)."""
    _, out = per_line(
        directive("advance", ms=0),
        directive("advance", ms=1500),
        cmd("stop"),
    )
    assert out[0] == out[1] == []
    stop = [ln for ln in out[2] if ln.get("event") == "STOP"]
    assert stop == [{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 500000}}]


def test_tick_moves_the_clock_without_running_anyone() -> None:
    """README tick: the clock goes to the next wake-up, here the delayed connect's
    callback 50 ms after migrate, but the callback does not run: no notifier call
    yet (MIG-NOTIFY-001: notifiers run at connect, line 1036). step main then runs
    the callback at that time."""
    _, out = per_line(
        directive("env", connect="delayed", connect_delay_ms=50),
        cmd("migrate", {"uri": TCP_URI}),
        directive("tick"),
        directive("trace"),
        cmd("stop"),
        directive("step", actor="main", task="connect"),
        directive("trace"),
    )
    assert out[2] == []
    assert [ln["what"] for ln in out[3]] == ["state", "state"]
    assert [ln for ln in out[4] if "event" in ln] == [
        {"event": "STOP", "timestamp": {"seconds": 0, "microseconds": 50000}}
    ]
    assert out[6] == [
        {"migspec": "trace", "vm": "source", "what": "notify", "ms": 50, "state": "setup"}
    ]


def test_trace_prints_and_clears_only_that_vms_trace() -> None:
    """README trace: the VM's trace since the last trace, then cleared; another
    VM's trace is kept. An unknown URI (MIG-MIGRATE-008): line 732 resets the
    state without a swap, migrate_init swaps none -> setup (655), line 753
    setup -> failed, and no notifier runs (MIG-NOTIFY-001)."""
    _, out = per_line(
        directive("incoming", uri="defer"),
        cmd("migrate", {"uri": "gopher:x"}),
        directive("trace", vm=DEST),
        directive("trace"),
        directive("trace"),
    )
    assert out[2] == []
    assert out[3] == [
        {"migspec": "trace", "vm": "source", "what": "state", "ms": 0,
         "trigger": "migrate_reset", "new": "none"},
        {"migspec": "trace", "vm": "source", "what": "state", "ms": 0,
         "trigger": "migrate_init", "old": "none", "new": "setup"},
        {"migspec": "trace", "vm": "source", "what": "state", "ms": 0,
         "trigger": "uri_unknown", "old": "setup", "new": "failed"},
    ]
    assert out[4] == []


def test_vm_directive_with_explicit_vm() -> None:
    """README vm: *vm* names the VM (not a setting); runstate takes a QAPI name
    and query-status reports it (MIG-VM-001)."""
    _, out = per_line(directive("vm", vm="source", runstate="paused"), QUERY_STATUS)
    assert out[0] == []
    assert out[1] == [{"return": {"running": False, "singlestep": False, "status": "paused"}}]


def test_incoming_on_a_named_vm() -> None:
    """README incoming: *vm* names the new process; its lines carry "vm"; the
    'setup' its start sends (line 240) reaches no client, none having
    negotiated yet (MIG-EVENT-003); it waits in 'inmigrate' (MIG-MIGRATE-002)."""
    _, out = per_line(
        directive("incoming", uri="defer", vm="b"),
        directive("qmp", vm="b", command=QUERY_STATUS),
    )
    assert out[0] == []
    assert replies(out[1], "b") == [
        {"return": {"running": False, "singlestep": False, "status": "inmigrate"}}
    ]


def test_submit_queues_until_the_main_loop_runs() -> None:
    """README submit: the command is queued, not run; its reply (with its id)
    appears when that VM's main loop handles it (step main, task qmp)."""
    _, out = per_line(
        directive("incoming", uri="defer"),
        directive("submit", command=cmd("query-status", id="q1")),
        directive("submit", vm=DEST, command=cmd("query-status", id="q2")),
        directive("step", actor="main", task="qmp", vm=DEST),
        directive("step", actor="main"),
    )
    assert out[1] == out[2] == []
    assert out[3] == [{"return": {"running": False, "singlestep": False, "status": "inmigrate"},
                       "id": "q2", "vm": DEST}]
    assert out[4] == [{"return": {"running": True, "singlestep": False, "status": "running"},
                       "id": "q1"}]


def test_submit_to_an_exited_vm_is_unanswered() -> None:
    """A failed -incoming makes the process exit (README incoming; MIG-INCOMING-004
    names the URI); a command submitted to it is answered by an ``unanswered``
    notice, as ``qmp`` gives (README, Output), and the script goes on."""
    _, out = per_line(
        directive("incoming", uri="gopher:x"),
        directive("submit", vm=DEST, command=QUERY_STATUS),
        directive("qmp", vm=DEST, command=QUERY_STATUS),
        QUERY_STATUS,
    )
    unanswered = {"migspec": "unanswered",
                  "reason": "-incoming gopher:x: unknown migration protocol: gopher:x",
                  "vm": "destination"}
    assert out[1] == [unanswered]
    assert out[2] == [unanswered]
    assert out[3] == [{"return": {"running": True, "singlestep": False, "status": "running"}}]


def test_step_defaults_to_the_source_thread() -> None:
    """README step: *vm* source and *actor* thread by default. Two thread steps:
    lines 914-925, then 926-927 swap setup -> active (MIG-THREAD-002)."""
    _, out = per_line(MIGRATE_EXEC, directive("step"), directive("step"), cmd("query-migrate"))
    assert out[1] == out[2] == []
    assert out[3][0]["return"]["status"] == "active"


def test_step_task_narrows_the_main_loop_move() -> None:
    """README step: *task* picks the kind of main-loop work. With a queued command
    and a connect callback both ready, task connect runs the callback (its
    notifier call, line 1036) and leaves the command unanswered; a plain step main
    then answers it."""
    _, out = per_line(
        directive("env", connect="delayed", connect_delay_ms=0),
        cmd("migrate", {"uri": TCP_URI}),
        directive("submit", command=cmd("query-migrate", id="q")),
        directive("step", actor="main", task="connect"),
        directive("trace"),
        directive("step", actor="main"),
    )
    assert out[3] == []
    assert [ln["what"] for ln in out[4]][-1] == "notify"
    # MIG-QUERY-002: query-migrate in 'setup' returns only the status.
    assert out[5] == [{"return": {"status": "setup"}, "id": "q"}]


def test_step_until_a_program_counter() -> None:
    """README step until: the source's migration thread runs until 'after_complete'
    is next: completion (941-954) stopped the guest (STOP, line 948) but the
    swap to 'completed' (963) has not happened."""
    _, out = per_line(
        directive("env", ram_bytes=1024 * 1024),
        MIGRATE_EXEC,
        directive("step", until="after_complete"),
        cmd("query-migrate"),
    )
    assert "STOP" in event_names(out[2])
    assert out[3][0]["return"]["status"] == "active"


def test_feed_defaults_to_the_destination() -> None:
    """README feed: *vm* destination by default; a complete stream carrying a
    global-state section with 'paused' leaves the destination paused
    (MIG-INCOMING-008, MIG-GLOBAL-003), not started by autostart."""
    _, out = per_line(
        directive("incoming", uri="tcp:0:4444"),
        directive("feed", outcome="complete", runstate="paused"),
        directive("settle"),
        directive("qmp", vm=DEST, command=QUERY_STATUS),
    )
    assert "RESUME" not in event_names(out[2], DEST)
    assert replies(out[3], DEST) == [
        {"return": {"running": False, "singlestep": False, "status": "paused"}}
    ]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (directive("feed", outcome="succeed"), "feed outcome must be 'complete' or 'fail'"),
        (directive("feed", outcome="complete", at="after"), "feed at needs outcome 'fail'"),
        (directive("feed", outcome="fail", at="middle"),
         "feed at must be one of before, section, after"),
        (directive("feed", outcome="fail", at="section"), "feed at 'section' needs a section"),
        (directive("feed", outcome="complete", runstate="running", section=None),
         "feed takes runstate or section, not both"),
        (directive("feed", outcome="complete", section={"name": "running", "size": -1}),
         "feed section size must be an integer from 0 to 4294967295"),
        (directive("feed", outcome="complete", section={"name": "running", "size": 1 << 32}),
         "feed section size must be an integer from 0 to 4294967295"),
        (directive("feed", outcome="complete", section={"size": 8}),
         "feed section must be null or an object with name and optional size"),
        (directive("feed", outcome="complete", section={"name": 5}),
         "feed section name must be a string"),
        (directive("feed", outcome="complete", runstate=5),
         "feed runstate must be a run-state name or null"),
        (directive("feed", outcome="fail", vm="source"),
         'VM "source" is not listening for an incoming migration'),
    ],
)
def test_feed_errors(obj: dict[str, Any], message: str) -> None:
    """feed names a bad outcome, an unknown run state, or a VM that does not
    listen (the source never does)."""
    err = error_of(directive("incoming", uri="tcp:0:4444"), obj)
    assert str(err) == f"t.jsonl:2: {message}"


# -- replay ----------------------------------------------------------------------
def test_replay_runs_on_the_seed_profile_by_default() -> None:
    """replay runs script objects on a new engine of the seed profile (README: seed
    is the default profile); the engine and every output line come back."""
    eng, out = replay([MIGRATE_EXEC, directive("settle"), cmd("query-migrate")])
    assert eng.world.profile is SEED
    assert out[0] == {"return": {}}
    assert out[-1]["return"]["status"] == "completed"


def test_replay_errors_name_the_object_index() -> None:
    """A replayed script has no file: errors say <script> and the 1-based index
    of the object."""
    with pytest.raises(ScriptError) as caught:
        replay([QUERY_STATUS, QUERY_STATUS, directive("tick")])
    assert str(caught.value) == "<script>:3: tick: nothing waits for time"
    assert caught.value.line == 3
