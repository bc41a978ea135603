"""Conformance scenarios: deterministic ``migspec run`` scripts, each with the
requirement IDs it judges.

A script line is a QMP command (to the source), or a directive: ``qmp`` (a
command to a named VM), ``submit`` (send without waiting), ``incoming``
(start the destination with ``-incoming URI``; a ``vm autostart false``
line right after it is ``-S``), ``vm runstate prelaunch`` before anything
else (the source starts with ``-S``), ``vm runstate paused|running`` later
(``stop``/``cont``), ``env`` (knobs: leading ones build the world, only
those a target can express run there), ``settle`` and ``advance``. ``step``,
``tick``, ``trace`` and ``vm`` knobs other than a run state have no real
counterpart: UNSUPPORTED on real targets, performed by the reference. A
``feed`` is performed by the reference and by a launched QEMU (a real stream
rewritten, ``QemuSession.feed``); elsewhere it is UNSUPPORTED.

Requirements no scenario judges, and why (:data:`NOT_JUDGED`): properties
over every reachable state or run, which the explorer checks, and effects
that only statistics over real time show, which the spec does not fix.

Strings may hold placeholders filled per run: ``{dir}`` (the run's private
folder), ``{port}`` (a free loopback port) and ``{jitter}`` (a random delay,
0-40 ms, as the whole value of an ``advance``'s ``ms``).
"""

from __future__ import annotations

import dataclasses
import importlib
import random
from dataclasses import dataclass
from typing import Any

from migspec.spec.defects import DEFECTS

Script = tuple[dict[str, Any], ...]

#: The random delay of ``{jitter}``, ms (inclusive).
JITTER_MS = (0, 40)


@dataclass(frozen=True)
class Scenario:
    """One script and what it judges."""

    name: str
    requirements: tuple[str, ...]
    script: Script
    #: Repetitions on a real target (racy ones use ``--reps``).
    reps: int = 1
    racy: bool = False
    #: Connect outcomes a ``migrate`` may take (the validator's Environment).
    connect: tuple[str, ...] = ("auto",)
    #: Environment changes (``env`` knob values) that may each happen once, at any time.
    env_events: Script = ()
    notes: str = ""


def qmp(execute: str, **arguments: Any) -> dict[str, Any]:
    """A command object."""
    cmd: dict[str, Any] = {"execute": execute}
    if arguments:
        cmd["arguments"] = arguments
    return cmd


def on(vm: str, cmd: dict[str, Any]) -> dict[str, Any]:
    """``cmd`` to ``vm`` (the source takes bare commands)."""
    return cmd if vm == "source" else {"migspec": "qmp", "vm": vm, "command": cmd}


def caps(**states: bool) -> dict[str, Any]:
    """migrate-set-capabilities."""
    return qmp("migrate-set-capabilities",
               capabilities=[{"capability": k, "state": v} for k, v in states.items()])


def events(vm: str = "source", state: bool = True) -> dict[str, Any]:
    """The events capability on ``vm``."""
    return on(vm, caps(events=state))


def incoming(uri: str, paused: bool = False) -> Script:
    """Start the destination (``-S`` when ``paused``)."""
    out: Script = ({"migspec": "incoming", "uri": uri, "vm": "destination"},)
    if paused:
        out += ({"migspec": "vm", "vm": "destination", "autostart": False},)
    return out


SETTLE: dict[str, Any] = {"migspec": "settle"}
#: A 1000 B/s limit that keeps a migration in progress until it is cancelled:
#: the seed's command and the parameter that replaced it (6.0 removed the
#: command); each profile judges the one it lacks as the refusal it gives.
#: (Below 10 B/s the per-window limit, bandwidth / XFER_LIMIT_RATIO, is 0,
#: which both QEMUs read as no limit at all.)
SLOW: tuple[dict[str, Any], ...] = (
    {"execute": "migrate_set_speed", "arguments": {"value": 1000}},
    {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1000}},
)
#: No limit again (0 is unlimited for both QEMUs), as SLOW sets it.
FAST: tuple[dict[str, Any], ...] = (
    {"execute": "migrate_set_speed", "arguments": {"value": 0}},
    {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 0}},
)
QUERY = qmp("query-migrate")
CANCEL = qmp("migrate_cancel")
MIB = 1 << 20
#: A small guest, as the launched QEMU has (``-m 16``).
WORLD: Script = ({"migspec": "env", "ram_bytes": 16 * MIB},)
UNIX_URI = "unix:{dir}/mig.sock"
EXEC_URI = "exec:cat > /dev/null"


def migrate(uri: str) -> dict[str, Any]:
    """migrate to ``uri``."""
    return qmp("migrate", uri=uri)


def _race(name: str, *, delay: bool, paused: bool, submit: bool = False) -> Scenario:
    """migrate to a listening destination, then migrate_cancel."""
    body: Script = WORLD + (events(),) + incoming(UNIX_URI, paused) + (
        events("destination"),)
    if submit:
        body += ({"migspec": "submit", "command": migrate(UNIX_URI)}, CANCEL)
    else:
        body += (migrate(UNIX_URI),)
        if delay:
            body += ({"migspec": "advance", "ms": "{jitter}"},)
        body += (CANCEL,)
    body += (SETTLE, QUERY)
    return Scenario(
        name,
        ("MIG-CANCEL-001", "MIG-CANCEL-002", "MIG-SETSTATE-001", "MIG-SETSTATE-002",
         "MIG-EVENT-002", "MIG-SAFETY-003", "MIG-SAFETY-008", "MIG-WITNESS-001",
         "MIG-WITNESS-002", "MIG-INCOMING-005", "MIG-INCOMING-006", "MIG-INCOMING-007"),
        body, racy=True,
        notes="migrate then migrate_cancel "
        + ("both sent at once" if submit else
           "after a random 0-40 ms" if delay else "as soon as migrate answered")
        + (", destination started with -S" if paused else ""),
    )


#: Fixed addresses of the declared counterexamples -> private ones per run
#: (a real listener binds loopback or a unix socket in the run's folder only).
_PRIVATE = (("tcp:0:4444", "tcp:127.0.0.1:{port}"), ("tcp:127.0.0.1:4444", "tcp:127.0.0.1:{port}"),
            ("unix:/tmp/", "unix:{dir}/"))


def _private_uris(script: Script) -> Script:
    import json

    text = json.dumps(script)
    for fixed, private in _PRIVATE:
        text = text.replace(json.dumps(fixed)[1:-1], private)
    return tuple(json.loads(text))


#: The destination's run state.
STATUS = on("destination", qmp("query-status"))

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("initial-state",
             ("MIG-STATE-001", "MIG-QUERY-001", "MIG-CAPS-003", "MIG-PARAMS-005",
              "MIG-CACHE-005", "MIG-VM-001"),
             WORLD + (QUERY, qmp("query-migrate-capabilities"), qmp("query-migrate-parameters"),
                      qmp("query-migrate-cache-size"), qmp("query-status"))),
    Scenario("qmp-refusals", ("MIG-QMP-001", "MIG-QMP-002"),
             WORLD + (qmp("no-such-command"), qmp("migrate"), qmp("migrate", uri=7),
                      qmp("migrate", uri=EXEC_URI, bogus=True),
                      qmp("migrate_set_speed", value="fast"), QUERY)),
    Scenario("qmp-malformed", ("MIG-QMP-003",),
             WORLD + ({"execute": 1}, {"execute": "query-migrate", "arguments": []},
                      {"arguments": {}})),
    Scenario("capabilities", ("MIG-CAPS-001", "MIG-CAPS-003"),
             WORLD + (caps(xbzrle=True, events=True), qmp("query-migrate-capabilities"),
                      qmp("migrate-set-capabilities",
                          capabilities=[{"capability": "xbzrle", "state": True},
                                        {"capability": "xbzrle", "state": False}]),
                      qmp("query-migrate-capabilities"),
                      qmp("migrate-set-capabilities",
                          capabilities=[{"capability": "no-such-cap", "state": True}]),
                      qmp("query-migrate-capabilities"))),
    Scenario("parameters",
             ("MIG-PARAMS-001", "MIG-PARAMS-002", "MIG-PARAMS-003", "MIG-PARAMS-004",
              "MIG-PARAMS-005"),
             WORLD + tuple(qmp("migrate-set-parameters", **{k: v}) for k, v in (
                 ("compress-level", 9), ("compress-level", 10), ("compress-level", -1),
                 ("compress-threads", 0), ("compress-threads", 256), ("compress-threads", 255),
                 ("decompress-threads", 0), ("decompress-threads", 4)))
             + (qmp("query-migrate-parameters"),)),
    Scenario("cache-size",
             ("MIG-CACHE-001", "MIG-CACHE-003", "MIG-CACHE-004", "MIG-CACHE-005"),
             WORLD + (qmp("migrate-set-cache-size", value=1_000_000),
                      qmp("query-migrate-cache-size"),
                      qmp("migrate-set-cache-size", value=64 * MIB),
                      qmp("migrate-set-cache-size", value=100),
                      qmp("query-migrate-cache-size"))),
    Scenario("speed-downtime", ("MIG-SPEED-001", "MIG-DOWNTIME-001"),
             WORLD + (qmp("migrate_set_speed", value=-1), qmp("migrate_set_speed", value=1000),
                      qmp("migrate_set_downtime", value=0.5),
                      qmp("migrate_set_downtime", value=-1), QUERY)),
    Scenario("stop-cont", ("MIG-VM-001", "MIG-VM-002", "MIG-VM-003"),
             WORLD + (qmp("stop"), qmp("query-status"), qmp("cont"), qmp("query-status"))),
    Scenario("cancel-idle", ("MIG-CANCEL-003", "MIG-QUERY-001"), WORLD + (CANCEL, QUERY)),
    Scenario("migrate-exec",
             ("MIG-INIT-002", "MIG-EVENT-001", "MIG-EVENT-002", "MIG-MIGRATE-007",
              "MIG-QUERY-004", "MIG-THREAD-002", "MIG-THREAD-009", "MIG-THREAD-011",
              "MIG-SAFETY-003", "MIG-SAFETY-006", "MIG-SAFETY-008"),
             WORLD + (events(), migrate(EXEC_URI), SETTLE, QUERY, qmp("query-status"))),
    Scenario("migrate-exec-events-off", ("MIG-EVENT-001", "MIG-SAFETY-004", "MIG-QUERY-004"),
             WORLD + (migrate(EXEC_URI), SETTLE, QUERY)),
    Scenario("migrate-twice", ("MIG-MIGRATE-006", "MIG-INIT-001", "MIG-SAFETY-006"),
             WORLD + (events(), migrate(EXEC_URI), SETTLE, migrate(EXEC_URI), SETTLE, QUERY)),
    Scenario("migrate-unknown-scheme", ("MIG-MIGRATE-007", "MIG-MIGRATE-008"),
             WORLD + (events(), migrate("gopher:x"), SETTLE, QUERY)),
    Scenario("migrate-unix-no-listener", ("MIG-MIGRATE-009", "MIG-FDERROR-001",
                                          "MIG-FDERROR-002"),
             WORLD + (events(), migrate("unix:{dir}/nobody.sock"), SETTLE, QUERY),
             notes="migrate_fd_error's assertion holds: no abort (MIG-FDERROR-002)",
             connect=("auto", "refused", "delayed-refused")),
    Scenario("migrate-tcp-no-listener",
             ("MIG-CONNECT-002", "MIG-FDERROR-001", "MIG-FDERROR-002", "MIG-MIGRATE-009"),
             WORLD + (events(), migrate("tcp:127.0.0.1:{port}"), SETTLE, QUERY),
             connect=("auto", "refused", "delayed-refused")),
    Scenario("migrate-in-progress",
             ("MIG-MIGRATE-001", "MIG-CAPS-002", "MIG-QUERY-002", "MIG-QUERY-003",
              "MIG-CANCEL-001", "MIG-SAFETY-005", "MIG-QUERY-006", "MIG-SPEED-002"),
             WORLD + (events(),) + SLOW + (migrate(EXEC_URI),
                      migrate(EXEC_URI), caps(xbzrle=True), QUERY, CANCEL, SETTLE, QUERY),
             notes="a 1000 B/s limit keeps the migration in progress until the cancel"),
    Scenario("paused-source", ("MIG-VM-002", "MIG-THREAD-010", "MIG-SAFETY-007",
                               "MIG-GLOBAL-001"),
             WORLD + ({"migspec": "vm", "runstate": "paused"}, events(), migrate(EXEC_URI),
                      SETTLE, QUERY, qmp("query-status"))),
    Scenario("prelaunch-source", ("MIG-VM-001", "MIG-GLOBAL-001", "MIG-GLOBAL-002"),
             WORLD + ({"migspec": "vm", "runstate": "prelaunch", "autostart": False},
                      events(), migrate(EXEC_URI), SETTLE, QUERY, qmp("query-status"))),
    Scenario("migrate-unix-destination",
             ("MIG-INCOMING-001", "MIG-INCOMING-005", "MIG-INCOMING-007", "MIG-INCOMING-008",
              "MIG-SAFETY-002", "MIG-QUERY-004", "MIG-EVENT-003"),
             WORLD + (events(),) + incoming(UNIX_URI) + (
                 events("destination"), migrate(UNIX_URI), SETTLE, QUERY,
                 qmp("query-status"), on("destination", qmp("query-status")))),
    Scenario("migrate-tcp-destination",
             ("MIG-INCOMING-001", "MIG-INCOMING-005", "MIG-INCOMING-007", "MIG-CONNECT-001"),
             WORLD + (events(),) + incoming("tcp:127.0.0.1:{port}") + (
                 events("destination"), migrate("tcp:127.0.0.1:{port}"), SETTLE, QUERY,
                 on("destination", qmp("query-status")))),
    Scenario("destination-paused", ("MIG-INCOMING-008", "MIG-VM-001"),
             WORLD + (events(),) + incoming(UNIX_URI, paused=True) + (
                 events("destination"), migrate(UNIX_URI), SETTLE,
                 on("destination", qmp("query-status")))),
    Scenario("incoming-defer",
             ("MIG-INCOMING-002", "MIG-INCOMING-003", "MIG-INCOMING-010", "MIG-INCOMING-011"),
             WORLD + incoming("defer") + (
                 events("destination"),
                 on("destination", qmp("migrate-incoming", uri="defer")),
                 on("destination", qmp("migrate-incoming", uri=UNIX_URI)),
                 on("destination", qmp("migrate-incoming", uri="unix:{dir}/other.sock")),
                 on("destination", QUERY))),
    Scenario("incoming-defer-migrate",
             ("MIG-INCOMING-010", "MIG-INCOMING-005", "MIG-INCOMING-007"),
             WORLD + (events(),) + incoming("defer") + (
                 events("destination"),
                 on("destination", qmp("migrate-incoming", uri=UNIX_URI)),
                 migrate(UNIX_URI), SETTLE, QUERY, on("destination", qmp("query-status")))),
    Scenario("incoming-not-deferred", ("MIG-INCOMING-010",),
             WORLD + incoming(UNIX_URI) + (
                 on("destination", qmp("migrate-incoming", uri="unix:{dir}/other.sock")),)),
    Scenario("migrate-from-destination", ("MIG-MIGRATE-002", "MIG-MIGRATE-005"),
             WORLD + incoming(UNIX_URI) + (on("destination", migrate(EXEC_URI)),)),
    Scenario("incoming-unknown-scheme", ("MIG-INCOMING-004", "MIG-EVENT-003"),
             WORLD + incoming("gopher:x") + (SETTLE,)),
    Scenario("cancel-active-bandwidth",
             ("MIG-CANCEL-001", "MIG-CANCEL-002", "MIG-THREAD-008", "MIG-QUERY-003",
              "MIG-CLEANUP-004", "MIG-INCOMING-006", "MIG-SPEED-002"),
             WORLD + (events(),) + incoming(UNIX_URI) + (
                 events("destination"),) + SLOW + (
                 migrate(UNIX_URI), {"migspec": "advance", "ms": 50}, QUERY, CANCEL,
                 SETTLE, QUERY, qmp("query-status")),
             notes="a 1000 B/s limit holds the migration in 'active' until the cancel"),
    Scenario("xbzrle-stats-completed", ("MIG-QUERY-005", "MIG-QUERY-004"),
             WORLD + (events(), caps(xbzrle=True), migrate(EXEC_URI), SETTLE, QUERY),
             notes="xbzrle-cache statistics with the cache size once completed"),
    Scenario("xbzrle-stats-active", ("MIG-QUERY-005", "MIG-QUERY-003", "MIG-CANCEL-001"),
             WORLD + (events(), caps(xbzrle=True)) + SLOW + (
                 migrate(EXEC_URI), QUERY, CANCEL, SETTLE, QUERY),
             notes="xbzrle-cache statistics while a slow migration is in progress"),
    Scenario("migrate-block-flags", ("MIG-MIGRATE-004", "MIG-QUERY-007"),
             WORLD + (events(),) + SLOW + (
                 qmp("migrate", uri=EXEC_URI, blk=True, inc=False, detach=True),
                 QUERY, CANCEL, SETTLE, QUERY),
             notes="blk, inc and detach are accepted; disk statistics only while block "
             "migration is active (no disks here: none)"),
    Scenario("cache-size-huge", ("MIG-CACHE-002", "MIG-CACHE-003"),
             WORLD + (qmp("migrate-set-cache-size", value=(1 << 63) - 1),
                      qmp("query-migrate-cache-size")),
             notes="the largest int64 fits size_t on a 64-bit host: refused only as "
             "larger than the guest"),
    Scenario("json-numbers", ("MIG-QMP-005", "MIG-QMP-002"),
             WORLD + (qmp("migrate_set_speed", value=1 << 64),
                      qmp("migrate_set_speed", value=10 ** 400),
                      qmp("migrate-set-parameters", **{"compress-level": 1 << 64}),
                      qmp("migrate_set_downtime", value=10 ** 400), QUERY),
             notes="integers beyond int64 are doubles (and beyond the double range "
             "infinity); NaN, Infinity, deep nesting and duplicate keys cannot be sent "
             "through qemu.qmp"),
    Scenario("unmigratable-device", ("MIG-MIGRATE-003",),
             WORLD + ({"migspec": "vm", "unmigratable": "ivshmem"}, events(),
                      migrate(EXEC_URI), QUERY),
             notes="needs a device the launcher does not add: reference only"),
    Scenario("migration-blocker", ("MIG-BLOCKER-001",),
             WORLD + ({"migspec": "vm", "blockers": ["first", "the latest blocker"]},
                      events(), migrate(EXEC_URI), QUERY),
             notes="needs blockers the launcher does not add: reference only"),
    Scenario("cleanup-then-migrate",
             ("MIG-CLEANUP-001", "MIG-CLEANUP-002", "MIG-CLEANUP-003", "MIG-THREAD-006",
              "MIG-SAFETY-001"),
             WORLD + (events(), migrate(EXEC_URI), SETTLE, QUERY, migrate(EXEC_URI), SETTLE,
                      QUERY, qmp("query-status")),
             notes="cleanup ran after 'completed' (the thread was joined and the file "
             "closed): a second migrate is accepted and completes"),
    Scenario("cleanup-after-cancel-then-migrate",
             ("MIG-CLEANUP-001", "MIG-CLEANUP-002", "MIG-CLEANUP-003", "MIG-THREAD-003"),
             WORLD + (events(),) + SLOW + (migrate(EXEC_URI), CANCEL, SETTLE, QUERY) + FAST
             + (migrate(EXEC_URI), SETTLE, QUERY),
             notes="cleanup ran after 'cancelled' (never from 'active'): the next migrate "
             "is accepted"),
    Scenario("cleanup-notifiers", ("MIG-CLEANUP-005", "MIG-NOTIFY-002", "MIG-NOTIFY-001"),
             WORLD + (events(), migrate(EXEC_URI), SETTLE, {"migspec": "trace"}),
             notes="the state-change notifiers are not visible over QMP: reference only"),
    Scenario("completion-stop-fails", ("MIG-THREAD-007",),
             WORLD + ({"migspec": "env", "completion_error": "vm-stop"}, events(),
                      migrate(EXEC_URI), SETTLE, QUERY, qmp("query-status")),
             notes="a VM that cannot be stopped needs an environment knob: reference only"),
    Scenario("paused-source-to-destination",
             ("MIG-GLOBAL-003", "MIG-THREAD-001", "MIG-INCOMING-008", "MIG-SAFETY-001"),
             WORLD + ({"migspec": "vm", "runstate": "paused"}, events()) + incoming(UNIX_URI)
             + (events("destination"), migrate(UNIX_URI), SETTLE, QUERY,
                on("destination", qmp("query-status"))),
             notes="the destination reads the stream (header first) and the global "
             "state's run state 'paused': it stays paused"),
    Scenario("incoming-once", ("MIG-SAFETY-009", "MIG-INCOMING-011"),
             WORLD + incoming("defer") + (
                 on("destination", qmp("migrate-incoming", uri=UNIX_URI)),
                 on("destination", qmp("migrate-incoming", uri=UNIX_URI)),
                 on("destination", qmp("migrate-incoming", uri="tcp:127.0.0.1:{port}")),
                 on("destination", QUERY))),
    Scenario("migrate-fd-consumed", ("MIG-MIGRATE-010",),
             WORLD + ({"migspec": "vm", "fds": ["mig"]}, events(), migrate("fd:mig"), SETTLE,
                      migrate("fd:mig"), SETTLE, QUERY),
             notes="monitor_get_fd forgets the name: the second fd:mig is not found"),
    _race("race-migrate-cancel", delay=False, paused=False),
    _race("race-migrate-cancel-jitter", delay=True, paused=False),
    _race("race-cancel-destination-paused", delay=False, paused=True),
    _race("race-cancel-jitter-destination-paused", delay=True, paused=True),
    _race("race-migrate-cancel-pipelined", delay=False, paused=False, submit=True),
    # the destination as untrusted input: a stream the source does not send
    # (the feed directive; the validator takes it as an environment event)
    *(Scenario(name, reqs, WORLD + incoming("defer") + (
        events("destination"),
        on("destination", qmp("migrate-incoming", uri="tcp:127.0.0.1:{port}")),
        {"migspec": "feed", **feed}, SETTLE,
        *extra), notes="a fed stream: a launched QEMU gets a real stream with its "
        "global-state section rewritten (QemuSession.feed)")
      for name, reqs, feed, extra in (
        ("fed-no-section", ("MIG-GLOBAL-004", "MIG-INCOMING-008"),
         {"outcome": "complete", "section": None}, (STATUS,)),
        ("fed-unknown-runstate", ("MIG-DEST-002", "MIG-GLOBAL-003", "MIG-INCOMING-006"),
         {"outcome": "complete", "runstate": "flying"}, ()),
        ("fed-size-ignored", ("MIG-DEST-001", "MIG-INCOMING-008"),
         {"outcome": "complete", "section": {"name": "paused", "size": 0}}, (STATUS,)),
        ("fed-unterminated-runstate", ("MIG-DEST-102", "MIG-DEST-002"),
         {"outcome": "complete", "section": {"name": "x" * 100}}, ()),
        ("fed-fails-after-section", ("MIG-DEST-002", "MIG-INCOMING-006"),
         {"outcome": "fail", "at": "after", "runstate": "running"}, ()),
        ("fed-running-then-stop", ("MIG-DEST-101", "MIG-VM-002"),
         {"outcome": "complete", "runstate": "running"},
         (STATUS, on("destination", qmp("stop")), STATUS)),
        ("fed-inmigrate", ("MIG-INCOMING-008", "MIG-GLOBAL-003", "MIG-DEST-103"),
         {"outcome": "complete", "runstate": "inmigrate"}, (STATUS,)),
        ("fed-debug", ("MIG-INCOMING-008", "MIG-SAFETY-001"),
         {"outcome": "complete", "runstate": "debug"}, ()),
    )),
) + tuple(
    Scenario(f"defect:{d.id}", (d.requirement,), _private_uris(d.counterexample),
             notes=f"the counterexample of {d.id}: {d.title}")
    for d in DEFECTS
)


#: Directives that pin the reference's schedule (a probe of a racy deviation
#: uses them); a real target runs the script without them and its schedule is
#: whatever happens; trace validation judges it either way.
SCHEDULING = frozenset({"step"})


def probe_scenario(name: str, requirement: str, script: Script) -> Scenario:
    """A recorded probe (spec/deviations.py) as a scenario: without its
    :data:`SCHEDULING` lines, on private addresses."""
    body = tuple(line for line in script if line.get("migspec") not in SCHEDULING)
    return Scenario(name, (requirement,), _private_uris(body), notes=f"probe of {name}")


#: Requirements no conformance scenario judges, and why.
NOT_JUDGED: dict[str, str] = {
    "MIG-THREAD-004": "rounds go on while pending bytes stay at or above max_size: only "
    "byte counts over time show it, and the spec does not fix a real target's statistics "
    "(the validator compares query-migrate's shape, not its numbers)",
    "MIG-THREAD-012": "a rate-limited thread sleeps to the end of its 100 ms window: only "
    "transfer timing shows it, which a trace does not fix",
    "MIG-LIVE-001": "a property of every reachable state: the explorer checks it; one "
    "trace is one run",
    "MIG-LIVE-002": "no unfair cycle among the reachable states: the explorer checks it",
    "MIG-WITNESS-003": "every declared transition fires in some explored run: the "
    "explorer's coverage",
    "MIG-SAFETY-010": "a positive speed never leaves the channel unlimited: only transfer "
    "timing shows it, which a trace does not fix; the explorer checks it on the engine's "
    "state (scenario speed-below-ratio) and tests/test_reading_real.py on the real 7.2",
    "MIG-QMP-006": "the greeting and the refusals before qmp_capabilities happen before "
    "qemu.qmp hands the harness a connection (it negotiates itself); tests/test_serve.py "
    "and tests/test_serve_monitor72.py check them byte by byte against migspec serve and "
    "the real QEMU 7.2",
}


def _deviation_probes() -> tuple[Scenario, ...]:
    """Probe scripts of the qemu-7.2 deviations (spec/deviations.py), when the
    declarations exist and carry them (``probe`` or ``script``)."""
    try:
        module = importlib.import_module("migspec.spec.deviations")
    except ModuleNotFoundError:
        return ()
    out: list[Scenario] = []
    for dev in getattr(module, "DEVIATIONS", ()):
        observed = getattr(dev, "observed", None)
        script = getattr(observed, "script", None) or getattr(dev, "probe", None)
        requirement = getattr(dev, "requirement", None)
        if not script or not isinstance(requirement, str):
            continue
        probe = probe_scenario(f"deviation:{dev.id}", requirement, tuple(script))
        out.append(dataclasses.replace(probe, notes=f"probe of deviation {dev.id}"))
    return tuple(out)


ALL_SCENARIOS: tuple[Scenario, ...] = SCENARIOS + _deviation_probes()
SCENARIO_BY_NAME: dict[str, Scenario] = {s.name: s for s in ALL_SCENARIOS}


def instantiate(script: Script, values: dict[str, str], rng: random.Random) -> Script:
    """The script with its placeholders filled (``{jitter}`` drawn from ``rng``)."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            if value == "{jitter}":
                return rng.randint(*JITTER_MS)
            for key, text in values.items():
                value = value.replace("{" + key + "}", text)
            return value
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return tuple(fill(line) for line in script)
