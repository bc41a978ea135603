"""The explorer over the shipped scenarios (MIG-SAFETY-*, MIG-LIVE-*, MIG-WITNESS-*)."""

from __future__ import annotations

import pytest

from migspec.properties.exploration import Summary, explore
from migspec.properties.explorer import Explorer, compact
from migspec.properties.scenarios import SCENARIO_BY_NAME
from migspec.reference.script import replay
from migspec.spec.defects import DEFECT_BY_ID


@pytest.fixture(scope="module")
def summary() -> Summary:
    return explore(sequences=True, check_sharing=True)


def test_fixed_profile_has_no_violation_and_seed_ones_are_defects(summary: Summary) -> None:
    """On fixed nothing fails; on seed every violation names a recorded defect;
    every declared transition fires (MIG-WITNESS-003)."""
    assert summary.problems == []
    seed = [v for r in summary.runs if r.profile == "seed" for v in r.violations]
    assert seed, "the seed's defects must show"
    assert all(v.defect in DEFECT_BY_ID for v in seed)
    assert not [v for r in summary.runs if r.profile == "fixed" for v in r.violations]
    for profile, cover in summary.coverage.items():
        assert cover["never_fired"] == [], profile


def test_each_counterexample_script_replays(summary: Summary) -> None:
    """Replaying an emitted script shows a client exactly what the explorer saw."""
    count = 0
    for result in summary.runs:
        for v in result.violations:
            engine, _ = replay(v.script, result.profile)
            assert tuple(compact(n, o) for n, o in engine.world.log) == v.observed
            count += 1
    assert count >= 10


def test_expected_seed_findings(summary: Summary) -> None:
    """What reading the seed predicts the explorer must find, by scenario."""
    found = {(r.scenario, v.property, v.defect) for r in summary.runs
             if r.profile == "seed" for v in r.violations}
    assert ("cancel-connect", "MIG-LIVE-001", "DEF-CANCEL-CONNECT-STUCK") in found
    assert ("migrate-cancel", "MIG-SAFETY-003", "DEF-EVENT-ORDER") in found
    assert ("completion-race", "MIG-SAFETY-002", "DEF-SPLIT-BRAIN") in found
    assert ("migrate-twice", "MIG-SAFETY-005", "DEF-MIGRATE-BEFORE-CLEANUP") in found
    assert ("settings-during-migration", "MIG-SAFETY-008", "DEF-CAPS-WHILE-CANCELLING") in found
    assert ("never-started-guest", "MIG-SAFETY-001", "DEF-INCOMING-PRELAUNCH-ABORT") in found
    assert ("incoming-defer", "MIG-SAFETY-009", "DEF-INCOMING-ONCE-NO-RETURN") in found


def test_stuck_cancel_is_a_two_step_trace() -> None:
    """MIG-LIVE-001 on the seed: migrate with a connect that will fail, then
    cancel; from there nothing reaches a terminal state (lines 567-588)."""
    result = Explorer(SCENARIO_BY_NAME["cancel-connect"], "seed").run()
    live = [v for v in result.violations if v.property == "MIG-LIVE-001"]
    assert len(live) == 1
    assert [step["did"] for step in live[0].trace] == [
        "migrate (connect delayed-refused)", "migrate_cancel"
    ]


def test_migrate_cancel_event_sequences(summary: Summary) -> None:
    """The MIGRATION sequences a client can see on the source: no migrate;
    cancel in setup; cancel in active; cancel too late; and, only in the seed,
    the thread's 'active' after the main loop's 'cancelling' (lines 528-534)."""
    runs = {r.profile: r for r in summary.runs if r.scenario == "migrate-cancel"}
    base = {
        (),
        ("setup", "cancelling", "cancelled"),
        ("setup", "active", "cancelling", "cancelled"),
        ("setup", "active", "completed"),
    }
    fixed = {tuple(s) for s in runs["fixed"].sequences["source"]}
    seed = {tuple(s) for s in runs["seed"].sequences["source"]}
    assert fixed == base
    assert seed == base | {("setup", "cancelling", "active", "cancelled")}
    # The destination: 'setup' at migrate-incoming (that of -incoming defer is
    # sent during start-up, before any client negotiated: MIG-EVENT-003); then
    # loads (active) and completes, or fails when the source cancels.
    dest = {tuple(s) for s in runs["fixed"].sequences["destination"]}
    assert dest == {
        ("setup",),
        ("setup", "active", "completed"),
        ("setup", "active", "failed"),
    }


def test_witnesses_are_reached() -> None:
    """MIG-WITNESS-001/002: after completion began, a cancel can still win and
    completion can still win (lines 954-966)."""
    for profile in ("seed", "fixed"):
        result = Explorer(SCENARIO_BY_NAME["completion-race"], profile).run()
        assert result.witnesses == {"MIG-WITNESS-001": True, "MIG-WITNESS-002": True}


def _findings(scenario: str, profile: str) -> set[tuple[str, str, tuple[str, ...]]]:
    result = Explorer(SCENARIO_BY_NAME[scenario], profile).run()
    assert result.complete
    return {(v.property, v.detail, tuple(v.defects)) for v in result.violations}


def test_destination_checks_catch_their_defects_on_seed_only() -> None:
    """MIG-DEST-101, MIG-DEST-102, MIG-SAFETY-001 over the destination scenarios:
    on seed each new defect shows as predicted from the seed's lines (297-306,
    162-184, 285-291), on fixed nothing does."""
    hostile = _findings("hostile-stream", "seed")
    assert ("MIG-DEST-102", "destination read past the 100-byte global-state buffer",
            ("DEF-GLOBAL-STATE-UNTERMINATED",)) in hostile
    for state in ("debug", "inmigrate", "restore-vm", "save-vm"):
        assert ("MIG-SAFETY-001", "destination died: invalid runstate transition: "
                f"'inmigrate' -> '{state}'", ("DEF-INCOMING-DEBUG-ABORT",)) in hostile
    assert ("MIG-SAFETY-001", "destination died: bdrv_invalidate_cache_all failed: "
            "exit(EXIT_FAILURE)", ("DEF-INCOMING-INVALIDATE-EXIT",)) in hostile
    assert ("MIG-SAFETY-001", "destination died: invalid runstate transition: 'inmigrate' "
            "-> 'debug'", ("DEF-INCOMING-DEBUG-ABORT",)) in _findings("debug-source", "seed")
    for scenario in ("deferred-incoming-orders", "second-stream"):
        assert ("MIG-DEST-101", "destination left 'running' for 'paused' without a STOP "
                "event", ("DEF-INCOMING-ONCE-NO-RETURN", "DEF-INCOMING-LOAD-RUNNING")) \
            in _findings(scenario, "seed")
    for scenario in ("hostile-stream", "debug-source", "deferred-incoming-orders",
                     "second-stream"):
        assert _findings(scenario, "fixed") == set()
    # MIG-DEST-103: QEMU 7.2 does not abort on 'inmigrate' (QEMU72-RUNSTATE-SAME), the
    # guest stays 'inmigrate' for good: the kept DEF-INCOMING-DEBUG-ABORT, as the profile says
    assert ("MIG-DEST-103", "destination loaded a stream and is still 'inmigrate'",
            ("DEF-INCOMING-DEBUG-ABORT",)) in _findings("hostile-stream", "qemu-7.2")


def test_destination_properties_are_quiet_without_the_defects() -> None:
    """MIG-DEST-101 and MIG-DEST-102 fire on seed only through their defects: with
    DEF-INCOMING-LOAD-RUNNING alone repaired no run state leaves 'running' without
    STOP (the second stream is closed unread), with DEF-GLOBAL-STATE-UNTERMINATED
    alone repaired nothing is read past the buffer."""
    from dataclasses import replace

    from migspec.reference.profiles import SEED

    for scenario, defect, prop in (
            ("second-stream", "DEF-INCOMING-LOAD-RUNNING", "MIG-DEST-101"),
            ("deferred-incoming-orders", "DEF-INCOMING-LOAD-RUNNING", "MIG-DEST-101"),
            ("hostile-stream", "DEF-GLOBAL-STATE-UNTERMINATED", "MIG-DEST-102")):
        one = replace(SEED, name=f"seed+{defect}", repaired=frozenset({defect}))
        result = Explorer(SCENARIO_BY_NAME[scenario], one).run()
        assert result.complete
        assert prop not in {v.property for v in result.violations}, scenario
