"""Hostile input to the engine (issue 8): numbers beyond what the monitor's
types hold, RAM sizes that are not whole pages, migrations that never
converge. Expected values come from the seed's C and QEMU 2.4's JSON parser,
written as literals."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXEC_URI, new_engine, qmp

from migspec import cli
from migspec.properties import mutants
from migspec.properties.mutants import MUTANT_BY_ID, Mutant
from migspec.reference import rounds, snapshot
from migspec.reference import scheduler as sched
from migspec.reference.engine import EngineError, StepBoundReached
from migspec.reference.environment import QemuFile, Ram
from migspec.reference.script import replay
from migspec.reference.state import MigrationState
from migspec.reference.vm import VM, ConnectPending, MigrationThread
from migspec.reference.world import World

#: The largest double below 2**64 (2**64 - 2**11): the repair's clamp.
LARGEST_DOUBLE_BELOW_2_64 = 18446744073709549568


# -- row: migrate_set_downtime with an integer of 309+ digits ---------------------
@pytest.mark.parametrize(
    ("value", "seed_ns", "fixed_ns"),
    [
        # json-parser.c: an integer beyond int64 is read by strtod; 10**400 is
        # beyond the double range, so +inf. Line 823: inf*1e9 = inf; 824 clamps
        # to UINT64_MAX as a double, 2**64; 825 converts 2**64 to 0 on x86-64
        # (DEF-DOWNTIME-OVERFLOW); the repair keeps the largest double below.
        (10**400, 0, LARGEST_DOUBLE_BELOW_2_64),
        (1e400, 0, LARGEST_DOUBLE_BELOW_2_64),
        (math.inf, 0, LARGEST_DOUBLE_BELOW_2_64),
        # 2**63 does not fit int64: the double 2**63, times 1e9 far above 2**64.
        (2**63, 0, LARGEST_DOUBLE_BELOW_2_64),
        # Negative: MAX(0, ...) at line 824.
        (-(10**400), 0, 0),
        (-math.inf, 0, 0),
        # In range: 2 s is 2,000,000,000 ns in both.
        (2, 2_000_000_000, 2_000_000_000),
    ],
    ids=["10**400", "1e400", "inf", "2**63", "-10**400", "-inf", "2"],
)
def test_downtime_accepts_what_the_monitor_hands_it(
    value: float, seed_ns: int, fixed_ns: int
) -> None:
    """MIG-DOWNTIME-001/002: migrate_set_downtime answers {} for any JSON
    number and stores what the seed's arithmetic gives."""
    for profile, expected in (("seed", seed_ns), ("fixed", fixed_ns)):
        eng = new_engine(profile)
        assert qmp(eng, "migrate_set_downtime", {"value": value}) == {"return": {}}
        assert eng.vm().max_downtime == expected


@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("migrate_set_speed", "value"),
        ("migrate-set-cache-size", "value"),
        ("migrate-set-parameters", "compress-level"),
        ("migrate-set-parameters", "decompress-threads"),
    ],
)
@pytest.mark.parametrize("value", [10**400, -(10**400), 2**63, -(2**63) - 1],
                         ids=["10**400", "-10**400", "2**63", "-2**63-1"])
def test_integer_arguments_beyond_int64_are_doubles(name: str, arg: str, value: int) -> None:
    """MIG-QMP-002: an integer beyond int64 reaches check_client_args_type as a
    QFloat (json-parser.c falls back to strtod), and 'o'/'i' arguments need a
    QInt: monitor.c refuses it with the expected type 'int'."""
    eng = new_engine()
    assert qmp(eng, name, {arg: value}) == {"error": {
        "class": "GenericError",
        "desc": f"Invalid parameter type for '{arg}', expected: int",
    }}


def test_the_huge_downtime_then_migrates() -> None:
    """After 10**400 the seed's max_downtime is 0 (DEF-DOWNTIME-OVERFLOW): a
    migration still runs and answers query-migrate (no exception)."""
    eng = new_engine("seed", ram_bytes=1 << 20, dirty_rate=0)
    assert qmp(eng, "migrate_set_downtime", {"value": 10**400}) == {"return": {}}
    assert qmp(eng, "migrate", {"uri": EXEC_URI}) == {"return": {}}
    assert eng.settle() is True
    assert qmp(eng, "query-migrate")["return"]["status"] == "completed"


@pytest.mark.parametrize("key", ["ram_bytes", "dirty_rate", "bandwidth", "setup_ms"])
def test_env_sizes_are_int64(key: str) -> None:
    """Environment sizes, rates and durations are int64 like QEMU's: 2**63 is
    refused with the range, 2**63 - 1 is accepted."""
    eng = new_engine()
    with pytest.raises(EngineError) as caught:
        eng.set_env({key: 2**63})
    assert str(caught.value) == f"env {key} must be an integer from 0 to 9223372036854775807"
    eng.set_env({key: 2**63 - 1})


# -- row: ram_bytes not a multiple of 4096 ----------------------------------------
@pytest.mark.parametrize(("asked", "total"), [(4097, 8192), (1, 4096), (8191, 8192),
                                               (8192, 8192), (0, 0)])
def test_ram_is_whole_pages(asked: int, total: int) -> None:
    """README env ram_bytes: RAM blocks are whole pages (exec.c aligns every
    block up to the 4096-byte page), so query-migrate's total is rounded up
    and every byte of it is sent: the migration completes (MIG-THREAD-009)."""
    eng = new_engine(ram_bytes=asked)
    assert qmp(eng, "migrate", {"uri": EXEC_URI}) == {"return": {}}
    assert eng.settle(1) is True
    info = qmp(eng, "query-migrate")["return"]
    assert info["status"] == "completed"
    assert (info["ram"]["total"], info["ram"]["transferred"], info["ram"]["remaining"]) == (
        total, total, 0)


def test_settle_with_an_odd_ram_size_makes_progress() -> None:
    """The issue's script: 4097 bytes of RAM, migrate, ``settle max_ms=1``
    twice. It completes at once (at 4097 bytes it used to spin at clock 0)."""
    _, out = replay([
        {"migspec": "env", "ram_bytes": 4097},
        {"execute": "migrate", "arguments": {"uri": EXEC_URI}},
        {"migspec": "settle", "max_ms": 1},
        {"migspec": "settle", "max_ms": 1},
        {"execute": "query-migrate"},
    ])
    assert [line for line in out if "migspec" in line] == []
    assert out[-1]["return"]["status"] == "completed"
    assert out[-1]["return"]["ram"]["total"] == 8192


# -- row: a hidden step cap ---------------------------------------------------------
NEVER_CONVERGES: list[dict[str, Any]] = [
    {"migspec": "env", "dirty_rate": 2_000_000_000},
    {"execute": "migrate", "arguments": {"uri": EXEC_URI}},
]


@pytest.mark.parametrize("directive", [{"migspec": "settle"},
                                       {"migspec": "advance", "ms": 1_000_000_000}])
def test_a_step_bound_is_never_silent(
    monkeypatch: pytest.MonkeyPatch, directive: dict[str, Any]
) -> None:
    """When settle or advance stops at the step bound (here lowered to 1,000
    steps) before the time asked for, the script says so with ``bound`` and
    the clock where it stopped, short of the time asked."""
    monkeypatch.setattr(sched, "STEP_BOUND", 1000)
    _, out = replay([*NEVER_CONVERGES, directive])
    notice = out[-1]
    assert notice["migspec"] == directive["migspec"]
    assert notice["quiescent"] is False
    assert notice["bound"] == {"steps": 1000}
    assert 0 < notice["clock_ms"] < 1_000_000


def test_the_engine_raises_at_the_step_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API says so too: Engine.settle raises StepBoundReached."""
    monkeypatch.setattr(sched, "STEP_BOUND", 1000)
    eng = new_engine(dirty_rate=2_000_000_000)
    assert qmp(eng, "migrate", {"uri": EXEC_URI}) == {"return": {}}
    with pytest.raises(StepBoundReached) as caught:
        eng.settle()
    assert caught.value.steps == 1000


# -- row: a detector that crashes counted as a catch ------------------------------
def _crashing_detector(mutant: Mutant) -> str | None:
    """Passes the control run on the unmodified reference, then raises on
    every planted fault."""
    if mutant is mutants.CONTROL:
        return None
    raise RuntimeError("detector broke")


def test_a_detector_error_is_an_error_not_a_catch() -> None:
    """properties/mutants.py run: an exception out of a detector is recorded per
    mutant as an error; the mutant is not caught by that suite."""
    mutant = MUTANT_BY_ID["M07-events-atomic"]
    [result] = mutants.run((mutant,), {"broken": _crashing_detector,
                                       "silent": lambda m: None})
    assert result.caught is False
    assert result.caught_by == {}
    assert result.errors == {"broken": "RuntimeError: detector broke"}


def test_a_bad_mutants_profile_is_refused_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """MIGSPEC_MUTANTS_PROFILE=nope: refused before any mutant runs, naming
    the known profiles (properties/hypothesis_profiles.py: ci, dev, nightly, real)."""
    monkeypatch.setenv("MIGSPEC_MUTANTS_PROFILE", "nope")
    with pytest.raises(ValueError) as caught:
        mutants.default_detectors()
    assert str(caught.value) == (
        "MIGSPEC_MUTANTS_PROFILE='nope': unknown Hypothesis profile (known: ci, dev, nightly, real)"
    )


def test_migspec_mutants_refuses_a_bad_profile() -> None:
    """The issue's command, on one mutant: exit status 2 and the message, no
    table claiming catches."""
    done = subprocess.run(
        [sys.executable, "-m", "migspec", "mutants", "--suite", "hypothesis",
         "--mutant", "M07-events-atomic"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "MIGSPEC_MUTANTS_PROFILE": "nope"},
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == ("migspec mutants: MIGSPEC_MUTANTS_PROFILE='nope': unknown "
                           "Hypothesis profile (known: ci, dev, nightly, real)\n")


def test_migspec_mutants_reports_a_detector_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`migspec mutants --json` with a suite that fails to run: the mutant is
    not caught, the error is listed under its suite, and the exit status is 1."""
    monkeypatch.setattr(mutants, "default_detectors",
                        lambda: {"broken": _crashing_detector})
    code = cli.main(["mutants", "--json", "--quiet", "--mutant", "M07-events-atomic"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (report["caught"], report["errors"]) == (0, 1)
    assert report["results"][0]["caught_by"] == {}
    assert report["results"][0]["errors"] == {"broken": "RuntimeError: detector broke"}


# -- rows: --migspec-target naming no factory; a factory returning no Target -----
PLUGIN = "migspec.properties.pytest_plugin"

TARGET_MODULE = '''
thing = 42


def returns_none():
    return None


def returns_42():
    return 42


class Half:
    name = "half"

    def execute(self, cmd):
        return None


def returns_half():
    return Half()
'''


def _conformance(tmp_path: Path, target: str) -> subprocess.CompletedProcess[str]:
    """``pytest --pyargs migspec.properties.conformance`` in ``tmp_path``, where
    ``targets_here.py`` and ``broken_here.py`` are importable."""
    (tmp_path / "targets_here.py").write_text(TARGET_MODULE)
    (tmp_path / "broken_here.py").write_text('raise RuntimeError("boom at import")\n')
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if not any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        args += ["-p", PLUGIN]
    args += [f"--migspec-target={target}", "--migspec-hypothesis-profile=dev",
             "--pyargs", "migspec.properties.conformance"]
    return subprocess.run(args, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nonexistent:thing", "cannot import module 'nonexistent': ModuleNotFoundError: "
                              "No module named 'nonexistent'"),
        ("targets_here", "a target factory is named 'module:factory', got 'targets_here'"),
        ("targets_here:", "a target factory is named 'module:factory', got 'targets_here:'"),
        ("targets_here:missing", "'targets_here' has no attribute 'missing'"),
        ("targets_here:thing", "targets_here:thing is not callable (it is int 42)"),
        ("broken_here:make", "cannot import module 'broken_here': RuntimeError: boom at import"),
    ],
)
def test_a_bad_target_is_a_usage_error(tmp_path: Path, target: str, message: str) -> None:
    """pytest's usage error (exit status 4), one line naming the option and
    the problem, no traceback."""
    done = _conformance(tmp_path, target)
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.strip() == f"ERROR: --migspec-target={target}: {message}"
    assert "Traceback" not in done.stdout + done.stderr


MISSING_ALL = ("advance, alive, configure_vm, events, execute, feed, name, profile, reset, "
               "set_env, settle, supports_env, supports_incoming, supports_time")


@pytest.mark.parametrize(
    ("factory", "returned", "missing"),
    [
        ("returns_none", "None", MISSING_ALL),
        ("returns_42", "42", MISSING_ALL),
        ("returns_half", "<targets_here.Half object at ",
         "advance, alive, configure_vm, events, feed, profile, reset, set_env, settle, "
         "supports_env, supports_incoming, supports_time"),
    ],
)
def test_a_factory_that_returns_no_target_names_what_is_missing(
    tmp_path: Path, factory: str, returned: str, missing: str
) -> None:
    """Both tests that need a target error out at set-up with the members of
    the Target protocol (properties/targets.py) the object lacks."""
    done = _conformance(tmp_path, f"targets_here:{factory}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "AssertionError" not in done.stdout
    assert "2 errors" in done.stdout
    lines = [line for line in done.stdout.splitlines()
             if line.startswith(f"--migspec-target=targets_here:{factory} returned ")]
    assert len(lines) == 2, done.stdout
    for line in lines:
        assert line.startswith(f"--migspec-target=targets_here:{factory} returned {returned}")
        assert line.endswith(f", which is not a migspec Target: missing {missing}")


# -- jumping identical rounds (reference/rounds.py) against step by step ----------
def _advance_run(
    accelerated: bool, env: dict[str, Any], speed: int | None, ms: int, profile: str,
    destination: bool,
) -> tuple[Any, list[Any], int]:
    """Migrate under ``env`` and advance ``ms``; the world's key, its log and
    the rounds jumped (looking for rounds from the first step, or never)."""
    jumped = 0
    real_jump = rounds.RoundJumper._jump

    def counting(self: rounds.RoundJumper, *args: Any) -> None:
        nonlocal jumped
        before = self.jumped
        real_jump(self, *args)
        jumped += self.jumped - before

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sched, "ROUNDS_AFTER", 0 if accelerated else 10**18)
        mp.setattr(rounds.RoundJumper, "_jump", counting)
        eng = new_engine(profile, **env)
        qmp(eng, "migrate-set-capabilities",
            {"capabilities": [{"capability": "events", "state": True}]})
        uri = EXEC_URI
        if destination:
            eng.incoming("tcp:0:4444")
            uri = "tcp:127.0.0.1:4444"
        if speed is not None:
            qmp(eng, "migrate_set_speed", {"value": speed})
        qmp(eng, "migrate", {"uri": uri})
        eng.advance(ms)
        qmp(eng, "query-migrate")
        return snapshot.key(eng.world), list(eng.world.log), jumped


@pytest.mark.parametrize(
    ("env", "speed", "ms"),
    [
        ({"ram_bytes": 1 << 20, "bandwidth": 4_096_000, "dirty_rate": 8_192_000}, 1 << 20,
         600_000),
        ({"ram_bytes": 1 << 20, "bandwidth": 1_000_000, "dirty_rate": 3_000_000}, None,
         600_000),
    ],
)
@pytest.mark.parametrize("profile", ["seed", "fixed"])
def test_jumped_rounds_give_the_step_by_step_world(
    env: dict[str, Any], speed: int | None, ms: int, profile: str
) -> None:
    """Two migrations that never converge: jumping whole rounds ends in the
    very world (every state variable, the clock) and log that running every
    step does, and it did jump."""
    fast = _advance_run(True, env, speed, ms, profile, False)
    slow = _advance_run(False, env, speed, ms, profile, False)
    assert fast[2] > 0 and slow[2] == 0
    assert fast[:2] == slow[:2]


@settings(max_examples=100, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    pages=st.sampled_from([1024, 2048, 1537, 700, 300, 2, 1]),
    bandwidth=st.sampled_from([4_096_000, 2_048_000, 8_192_000, 1_000_000, 3_000_000]),
    dirty_halves=st.sampled_from([4, 6, 8, 3, 5, 7, 2, 1, 0]),
    speed=st.sampled_from([None, 409_600, 1_228_800, 40_960, 4_096_000, 0]),
    ms=st.sampled_from([900_000, 300_000, 60_000, 999, 1, 0]),
    profile=st.sampled_from(["seed", "fixed"]),
    destination=st.booleans(),
)
def test_jumping_never_changes_a_run(
    pages: int, bandwidth: int, dirty_halves: int, speed: int | None, ms: int, profile: str,
    destination: bool,
) -> None:
    """Any small migration, converging or not (the guest dirties 0 to 4 times
    what the channel carries): the run that looks for rounds to jump ends in
    the same world and log as the plain step-by-step run."""
    env = {"ram_bytes": pages * 4096, "bandwidth": bandwidth,
           "dirty_rate": dirty_halves * bandwidth // 2}
    fast = _advance_run(True, env, speed, ms, profile, destination)
    slow = _advance_run(False, env, speed, ms, profile, destination)
    assert fast[:2] == slow[:2]
    JUMPED_EXAMPLES.append(fast[2] > 0)


#: Which examples of the test above jumped (the next test checks some did).
JUMPED_EXAMPLES: list[bool] = []


def test_the_property_above_did_jump() -> None:
    """The comparison above is not vacuous: many of its examples jumped."""
    if not JUMPED_EXAMPLES:
        test_jumping_never_changes_a_run()
    assert sum(JUMPED_EXAMPLES) >= 10, JUMPED_EXAMPLES


def test_the_issue_advance_reaches_the_time_asked() -> None:
    """The issue's run: a guest dirtying 2e9 B/s never converges; advance 1e9
    ms lets 1e9 ms pass (no step bound reached, no notice) and the migration
    is still active, total-time 1e9 ms."""
    _, out = replay([*NEVER_CONVERGES, {"migspec": "advance", "ms": 1_000_000_000},
                     {"execute": "query-migrate"}])
    assert [line for line in out if "migspec" in line] == []
    info = out[-1]["return"]
    assert (info["status"], info["total-time"]) == ("active", 1_000_000_000)


def test_instant_transfers_send_all_dirty_ram_in_one_iteration() -> None:
    """README env instant: transfers take no virtual time, so ram_save_iterate's
    MAX_WAIT (50 ms, ram.c) never ends its loop: with no rate limit
    (migrate_set_speed 0, MIG-SPEED-001), 2**50 bytes of RAM go in one
    iteration and settle is quiescent at clock 0 (it used to take 2**38 /
    12,225 iterations at a clock that never moved)."""
    eng = new_engine(ram_bytes=2**50, instant=True)
    assert qmp(eng, "migrate_set_speed", {"value": 0}) == {"return": {}}
    assert qmp(eng, "migrate", {"uri": EXEC_URI}) == {"return": {}}
    assert eng.settle() is True
    assert eng.world.clock_us == 0
    info = qmp(eng, "query-migrate")["return"]
    assert info["status"] == "completed"
    assert info["ram"]["transferred"] == 2**50


def test_every_time_field_has_a_round_kind() -> None:
    """reference/rounds.py compares every field it does not know exactly; a
    integer field that holds a time (named ``*_us``, ``*_ms``, ``*time``, ``*start``)
    must be declared there, so a new one cannot be shifted wrongly or not at
    all. The clock itself and durations (compared exactly) are the exceptions."""
    durations = {(World, "clock_us"), (VM, "max_downtime"), (MigrationState, "setup_time"),
                 (MigrationState, "downtime"), (MigrationState, "expected_downtime")}
    for cls in (World, VM, MigrationState, MigrationThread, Ram, QemuFile, ConnectPending):
        for f in dataclasses.fields(cls):
            name = f.name
            if (f.type == "int" and name.endswith(("_us", "_ms", "time", "start"))
                    and (cls, name) not in durations):
                assert (cls, name) in rounds.KINDS, f"{cls.__name__}.{name}"
