"""Profile ``qemu-7.2`` (spec/deviations.py): each deviation's probe, run on the
reference engine under ``qemu-7.2``, prints what the real QEMU 7.2 printed
(recorded in the declaration), and under ``seed`` it prints something else, so
every deviation is real and modelled. Same for the seed defects 7.2 repairs.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from dataclasses import replace

import pytest

from migspec.reference.profiles import FIXED, PROFILES, QEMU72, SEED, Profile, adapt, get_profile
from migspec.reference.script import ScriptError, replay
from migspec.spec.defects import DEFECT_BY_ID
from migspec.spec.deviations import (
    BEYOND_SEED,
    DEVIATIONS,
    KEPT,
    REMOVED_COMMANDS,
    REPAIRS,
    Observation,
    beyond_seed_dropped,
    comparable,
)
from migspec.spec.requirements import REQUIREMENT_BY_ID

OBSERVED: list[tuple[str, Observation]] = [(d.id, d.observed) for d in DEVIATIONS] + [
    (r.defect, r.observed) for r in REPAIRS if r.observed is not None
]


@pytest.mark.parametrize(("ident", "observed"), OBSERVED, ids=[i for i, _ in OBSERVED])
def test_engine_prints_what_qemu_72_printed(ident: str, observed: Observation) -> None:
    _, out = replay(observed.script, "qemu-7.2")
    assert comparable(out, True) == comparable(observed.lines, True)


@pytest.mark.parametrize(("ident", "observed"), OBSERVED, ids=[i for i, _ in OBSERVED])
def test_the_seed_prints_something_else(ident: str, observed: Observation) -> None:
    _, out = replay(observed.script, "seed")
    assert comparable(out, True) != comparable(observed.lines, True)


def test_deviations_are_named_once_and_cite_requirements_and_the_72_source() -> None:
    ids = [d.id for d in DEVIATIONS]
    assert len(ids) == len(set(ids))
    for d in DEVIATIONS:
        assert d.id.startswith("QEMU72-")
        assert d.requirement in REQUIREMENT_BY_ID, d.id
        assert ":" in d.reason and "7.2" in d.reason, d.id  # file:line of the 7.2 source
        assert d.observed.lines, d.id


def test_every_deviation_is_consulted_by_the_engine() -> None:
    root = pathlib.Path(__file__).resolve().parent.parent / "reference"
    source = "".join(p.read_text() for p in root.glob("*.py"))
    missing = [d.id for d in DEVIATIONS if f'"{d.id}"' not in source]
    # the removed commands are consulted through REMOVED_COMMANDS, the moved
    # parameters through MOVED_PARAMETERS
    assert set(missing) <= set(REMOVED_COMMANDS.values()) | {
        "QEMU72-PARAM-MAX-BANDWIDTH", "QEMU72-PARAM-DOWNTIME-LIMIT",
        "QEMU72-PARAM-XBZRLE-CACHE-SIZE"}


def test_each_seed_defect_is_either_repaired_or_kept_by_72() -> None:
    repaired = {r.defect for r in REPAIRS}
    kept = {k.defect for k in KEPT}
    assert not repaired & kept
    assert repaired | kept == set(DEFECT_BY_ID)
    assert get_profile("qemu-7.2").repaired == repaired
    assert QEMU72.repaired < FIXED.repaired


def test_profile_api() -> None:
    plain = Profile("p", frozenset({"DEF-EVENT-ORDER"}), "three positional fields")
    assert plain.deviations == frozenset()
    assert not plain.deviates("QEMU72-CAPS-LIST")
    assert plain.repairs("DEF-EVENT-ORDER")
    assert QEMU72.deviates("QEMU72-CAPS-LIST")
    assert not SEED.deviates("QEMU72-CAPS-LIST")
    derived = replace(QEMU72, name="qemu-7.2+x", repaired=QEMU72.repaired | {"DEF-EVENT-ORDER"})
    assert derived.deviations == QEMU72.deviations
    assert set(PROFILES) == {"seed", "fixed", "qemu-7.2"}


def test_the_surface_beyond_the_seed_is_unsupported_not_answered() -> None:
    with pytest.raises(ScriptError, match="unsupported: command 'migrate-pause'"):
        replay(({"execute": "migrate-pause"},), "qemu-7.2")
    turn_on = {"execute": "migrate-set-capabilities",
               "arguments": {"capabilities": [{"capability": "postcopy-ram", "state": True}]}}
    with pytest.raises(ScriptError, match="unsupported: capability 'postcopy-ram'"):
        replay((turn_on,), "qemu-7.2")
    with pytest.raises(ScriptError, match="unsupported: argument 'multifd-channels'"):
        replay(({"execute": "migrate-set-parameters",
                 "arguments": {"multifd-channels": 4}},), "qemu-7.2")
    # off, as it is by default: QEMU 7.2 answers {} (observed) and nothing modelled changes
    turn_off = {"execute": "migrate-set-capabilities",
                "arguments": {"capabilities": [{"capability": "postcopy-ram", "state": False}]}}
    assert replay((turn_off,), "qemu-7.2")[1] == [{"return": {}}]
    # the seed (QEMU 2.4) has no such command
    assert replay(({"execute": "migrate-pause"},), "seed")[1] == [{"error": {
        "class": "CommandNotFound", "desc": "The command migrate-pause has not been found"}}]
    assert "MIGRATION_PASS" in BEYOND_SEED.events


def test_adapt_replaces_the_removed_setting_commands() -> None:
    script = ({"execute": "migrate_set_speed", "arguments": {"value": 0}},
              {"execute": "migrate_set_downtime", "arguments": {"value": 0.5}},
              {"execute": "query-migrate"})
    assert adapt(script, SEED) == script
    assert adapt(script, QEMU72) == (
        {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 0}},
        {"execute": "migrate-set-parameters", "arguments": {"downtime-limit": 500}},
        {"execute": "query-migrate"},
    )


def _migspec(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migspec", *args], input=stdin,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_run_with_the_qemu_72_profile() -> None:
    script = "\n".join(json.dumps(c) for c in (
        {"execute": "migrate_set_speed", "arguments": {"value": 1}},
        {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1}},
        {"execute": "query-migrate-parameters"},
        {"execute": "migrate-pause"},
    ))
    done = _migspec("run", "--profile", "qemu-7.2", "-", stdin=script)
    assert done.returncode == 2
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"error": {"class": "CommandNotFound",
                   "desc": "The command migrate_set_speed has not been found"}},
        {"return": {}},
        {"return": {"compress-level": 1, "compress-threads": 8, "decompress-threads": 2,
                    "max-bandwidth": 1, "downtime-limit": 300,
                    "xbzrle-cache-size": 67108864}},
    ]
    assert done.stderr == ("migspec run: <stdin>:4: unsupported: command 'migrate-pause' of "
                           "qemu-7.2 is beyond the seed\n")


def test_cli_explore_with_the_qemu_72_profile() -> None:
    done = _migspec("explore", "--profile", "qemu-7.2", "--scenario", "cancel-connect",
                    "--json", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] is True
    # a cancel against every connect outcome: 7.2 repairs DEF-CANCEL-CONNECT-STUCK,
    # so only the event-order defect it keeps is left
    assert {v["defect"] for r in doc["runs"] for v in r["violations"]} == {"DEF-EVENT-ORDER"}


def test_what_is_beyond_the_seed_is_set_aside_from_a_72_reply() -> None:
    # recorded from QEMU 7.2: xbzrle on, an exec: migration completed, query-migrate
    reply = {"return": {
        "status": "completed", "setup-time": 0, "downtime": 1, "total-time": 5,
        "error-desc": "x",
        "xbzrle-cache": {"encoding-rate": 0, "bytes": 0, "cache-size": 67108864,
                         "cache-miss-rate": 0, "pages": 0, "overflow": 0, "cache-miss": 8},
        "ram": {"total": 34086912, "postcopy-requests": 0, "dirty-sync-count": 2,
                "multifd-bytes": 0, "pages-per-second": 0, "downtime-bytes": 0,
                "page-size": 4096, "remaining": 0, "postcopy-bytes": 0, "mbps": 1026.2784,
                "transferred": 529535, "dirty-sync-missed-zero-copy": 0,
                "precopy-bytes": 529535, "duplicate": 8211, "dirty-pages-rate": 0,
                "skipped": 0, "normal-bytes": 454656, "normal": 111}}}
    kept = beyond_seed_dropped(reply)
    assert kept is not None
    # the seed's keys (qapi-schema.json of QEMU 2.4: MigrationInfo, MigrationStats,
    # XBZRLECacheStats)
    assert set(kept["return"]) == {"status", "setup-time", "downtime", "total-time", "ram",
                                   "xbzrle-cache"}
    assert set(kept["return"]["ram"]) == {
        "transferred", "remaining", "total", "duplicate", "skipped", "normal",
        "normal-bytes", "dirty-pages-rate", "mbps", "dirty-sync-count"}
    assert set(kept["return"]["xbzrle-cache"]) == {
        "cache-size", "bytes", "pages", "cache-miss", "cache-miss-rate", "overflow"}
    assert beyond_seed_dropped({"event": "MIGRATION_PASS", "data": {"pass": 1}}) is None


# -- the three races recorded from conform runs on the real QEMU 7.2 ------------------------
RACES = json.loads((pathlib.Path(__file__).parent / "data" / "qemu72_races.json")
                   .read_text())["traces"]


@pytest.mark.parametrize("ident", sorted(RACES))
def test_a_recorded_race_needs_its_deviation(ident: str) -> None:
    """Each race trace the real QEMU 7.2 showed in a conform run (a whole run)
    is admitted by qemu-7.2 and rejected by qemu-7.2 without that deviation:
    the deviation's site in the engine is what admits it."""
    from migspec.properties import tracecheck as T
    from migspec.properties.conform.drivers import QemuSpec
    from migspec.properties.conform.processes import Registry
    from migspec.properties.conform.runner import Runner
    from migspec.properties.conform.scenarios import SCENARIO_BY_NAME

    race = RACES[ident]
    runner = Runner(QemuSpec(), QEMU72, Registry())
    env = runner.environment(SCENARIO_BY_NAME[race["scenario"]])
    verdict = T.check_trace(race["trace"], env, QEMU72, complete=True)
    assert verdict.ok, verdict.message()
    without = replace(QEMU72, name=f"qemu-7.2-{ident}", deviations=QEMU72.deviations - {ident})
    assert not T.check_trace(race["trace"], env, without, complete=True).ok


def test_72_echoes_the_id_of_a_refused_input_object() -> None:
    """QEMU72-QMP-INPUT-OBJECT: the id of an object is echoed (the conformance
    harness drops ids, so the probe cannot show it); not that of a non-object.
    Expected lines: the real qemu-system-x86_64 7.2 over a raw unix socket."""
    _, lines = replay(({"execute": "query-migrate", "arguments": None, "id": 1},
                       {"execute": 1, "id": 2},
                       {"id": 3}), "qemu-7.2")
    assert lines == [
        {"id": 1, "error": {"class": "GenericError",
                            "desc": "QMP input member 'arguments' must be an object"}},
        {"id": 2, "error": {"class": "GenericError",
                            "desc": "QMP input member 'execute' must be a string"}},
        {"id": 3, "error": {"class": "GenericError",
                            "desc": "QMP input lacks member 'execute'"}},
    ]
    assert all("id" not in line for line in replay(({"id": 1},), "seed")[1])
