"""migspec conform against the in-process reference: the scenarios, the
verdict per requirement, reports and the expected-deviations file."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from migspec.cli import main
from migspec.properties.conform.drivers import ReferenceSpec, parse_target
from migspec.properties.conform.expect import ExpectError, load
from migspec.properties.conform.processes import Registry
from migspec.properties.conform.runner import Runner, make_report, run_all
from migspec.properties.conform.scenarios import ALL_SCENARIOS, NOT_JUDGED, SCENARIO_BY_NAME
from migspec.reference.profiles import get_profile
from migspec.spec.defects import DEFECTS
from migspec.spec.requirements import REQUIREMENT_BY_ID


def _report(profile: str = "seed", names: list[str] | None = None):  # type: ignore[no-untyped-def]
    runner = Runner(ReferenceSpec(None), get_profile(profile), Registry())
    chosen = [SCENARIO_BY_NAME[n] for n in names] if names else list(ALL_SCENARIOS)
    results = asyncio.run(run_all(runner, chosen, 1))
    return make_report(runner, results, 0.0)


def test_reference_passes_every_scenario() -> None:
    """The reference judged against its own profile: every scenario PASSes
    (it performs step, feed, trace and vm knobs itself) except one that stops
    a step inside an atomic region, finer than the validator follows; every
    requirement is judged but the seven of NOT_JUDGED, which say why."""
    report = _report()
    unsupported = []
    for res in report.scenarios:
        assert res.verdict in ("PASS", "UNSUPPORTED"), (res.scenario.name, res.detail)
        if res.verdict == "UNSUPPORTED":
            unsupported.append(res.scenario.name)
            assert "finer than the validator's whole steps" in res.detail
    assert unsupported == ["defect:DEF-CONT-DURING-COMPLETION",
                           "defect:DEF-COMPLETED-TIMES-EARLY"]
    untested = {rid for rid, (v, _) in report.requirements.items() if v == "UNTESTED"}
    assert untested == {"MIG-THREAD-004", "MIG-THREAD-012", "MIG-LIVE-001",
                        "MIG-LIVE-002", "MIG-WITNESS-003", "MIG-QMP-006", "MIG-SAFETY-010"}
    assert set(NOT_JUDGED) == untested
    for rid in untested:
        assert report.requirements[rid][1].startswith("no scenario judges it: ")
    assert {v for v, _ in report.requirements.values()} == {"PASS", "UNTESTED"}


def test_reference_only_scenarios_are_unsupported_on_real_targets() -> None:
    """What a launched QEMU cannot express (a vm knob, an env knob, the trace
    directive) is UNSUPPORTED there, before anything starts."""
    from migspec.properties.conform.drivers import QemuSpec
    from migspec.properties.conform.drivers import Unsupported as DriverUnsupported
    from migspec.properties.conform.runner import plan

    target = QemuSpec("qemu-system-x86_64", ram_mib=16)
    for name in ("unmigratable-device", "migration-blocker", "cleanup-notifiers",
                 "completion-stop-fails"):
        with pytest.raises(DriverUnsupported):
            plan(SCENARIO_BY_NAME[name].script, target)


def test_every_requirement_gets_a_verdict() -> None:
    """Every ID of spec/requirements.py appears, with one of the five verdicts."""
    report = _report(names=["initial-state"])
    assert set(report.requirements) == set(REQUIREMENT_BY_ID)
    verdicts = {v for v, _ in report.requirements.values()}
    assert verdicts <= {"PASS", "FAIL", "UNRESOLVED", "UNSUPPORTED", "UNTESTED"}
    assert report.requirements["MIG-QUERY-001"][0] == "PASS"
    assert report.requirements["MIG-LIVE-001"][0] == "UNTESTED"


def test_seed_defects_on_the_reference() -> None:
    """Judged as seed, the reference shows the cache defect in its own
    counterexample; judged as fixed, every defect is not applicable."""
    seed = {d.defect: d for d in _report(names=["defect:DEF-CACHE-NEGATIVE"]).defects}
    assert set(seed) == {d.id for d in DEFECTS}
    assert seed["DEF-CACHE-NEGATIVE"].status == "reproduced"
    assert seed["DEF-CACHE-NEGATIVE"].scenario == "defect:DEF-CACHE-NEGATIVE"
    fixed = _report("fixed", names=["defect:DEF-CACHE-NEGATIVE"]).defects
    assert {d.status for d in fixed} == {"not applicable"}


def test_a_wrong_profile_fails_and_the_expect_file_excuses_it(tmp_path: Path) -> None:
    """The fixed reference judged against seed: DEF-CACHE-NEGATIVE's
    counterexample FAILs (MIG-CACHE-004); listed as expected, exit 0."""
    out = tmp_path / "r.json"
    args = ["conform", "--target", "reference:fixed", "--profile", "seed", "--quiet",
            "--scenario", "defect:DEF-CACHE-NEGATIVE", "--json", str(out)]
    assert main(args) == 1
    doc = json.loads(out.read_text())
    assert doc["requirements"]["MIG-CACHE-004"]["verdict"] == "FAIL"
    replay = doc["scenarios"][0]["replay"]
    assert replay == [{"execute": "migrate-set-cache-size", "arguments": {"value": -1}}]
    expect = tmp_path / "expect.toml"
    expect.write_text('[[expected]]\nrequirement = "MIG-CACHE-004"\nreason = "fixed"\n')
    assert main(args + ["--expect", str(expect)]) == 0
    doc = json.loads(out.read_text())
    assert doc["requirements"]["MIG-CACHE-004"]["expected"] == "fixed"
    expect.write_text('[[expected]]\nscenario = "defect:DEF-CACHE-NEGATIVE"\nreason = "x"\n')
    assert main(args + ["--expect", str(expect)]) == 0


def test_junit_parses(tmp_path: Path) -> None:
    """JUnit XML with a testsuite per scenario and one of requirements; a
    failure carries the trace and the replay script."""
    junit = tmp_path / "j.xml"
    main(["conform", "--target", "reference:fixed", "--profile", "seed", "--quiet",
          "--scenario", "defect:DEF-CACHE-NEGATIVE", "--scenario", "cancel-idle",
          "--junit", str(junit)])
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == ["scenario defect:DEF-CACHE-NEGATIVE", "scenario cancel-idle",
                     "requirements"]
    failures = root.findall("testsuite/testcase/failure")
    assert failures and "migrate-set-cache-size" in (failures[0].text or "")
    reqs = root.findall("testsuite[@name='requirements']/testcase")
    assert len(reqs) == len(REQUIREMENT_BY_ID)


@pytest.mark.parametrize("args, message", [
    (["--target", "nothing"], "unknown target"),
    (["--target", "reference:nope"], "unknown profile"),
    (["--target", "reference", "--scenario", "nope"], "unknown scenario"),
    (["--target", "reference", "--reps", "0"], "--reps must be at least 1"),
    (["--target", "qemu:/nonexistent/qemu"], "not found"),
    (["--target", "reference", "--expect", "/nonexistent.toml"], "cannot read"),
])
def test_usage_errors(args: list[str], message: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input: one line on stderr, exit status 2."""
    assert main(["conform", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_expect_file_errors(tmp_path: Path) -> None:
    """Entries must name one known requirement or scenario and a reason."""
    bad = tmp_path / "e.toml"
    for text, message in [
        ('[[expected]]\nrequirement = "MIG-NOPE"\nreason = "r"\n', "unknown requirement"),
        ('[[expected]]\nscenario = "nope"\nreason = "r"\n', "unknown scenario"),
        ('[[expected]]\nrequirement = "MIG-QUERY-001"\n', "needs a reason"),
        ('[[expected]]\nreason = "r"\n', "exactly one"),
        ("expected = [", "not TOML"),
    ]:
        bad.write_text(text)
        with pytest.raises(ExpectError, match=message):
            load(str(bad), {"cancel-idle"})


def test_target_syntax() -> None:
    """reference[:PROFILE], qmp:PATH and qmp:HOST:PORT."""
    assert parse_target("reference").name == "reference"
    assert parse_target("reference:fixed").name == "reference:fixed"
    assert parse_target("qmp:/run/q.sock").name == "qmp:/run/q.sock"
    assert parse_target("qmp:127.0.0.1:4444").name == "qmp:127.0.0.1:4444"


def test_expected_outcomes(tmp_path: Path) -> None:
    """An outcome entry excuses exactly the failing runs that ended so; the
    shipped qemu-7.2 file loads, empty: its three races are deviations of the
    profile now (QEMU72-CANCEL-AFTER-STOP, -COMPLETION-CANCELLING-FAILS,
    -QMP-REPLY-AFTER-BH)."""
    from migspec.properties.conform import expect as E

    shipped = Path(E.__file__).parent / "expected" / "qemu-7.2.toml"
    loaded = load(str(shipped), set(SCENARIO_BY_NAME))
    assert loaded.outcomes == [] and not loaded.requirements and not loaded.scenarios
    path = tmp_path / "e.toml"
    path.write_text('[[expected]]\noutcome = ["a", "b"]\nscenario = "cancel-idle"\n'
                    'reason = "known"\n')
    exp = load(str(path), {"cancel-idle"})
    assert exp.for_outcome("cancel-idle", ("a", "b")) == "known"
    assert exp.for_outcome("cancel-idle", ("a",)) is None
    assert exp.for_outcome("other", ("a", "b")) is None
    path.write_text('[[expected]]\noutcome = ["a"]\nrequirement = "MIG-QUERY-001"\n'
                    'reason = "r"\n')
    with pytest.raises(ExpectError, match="goes with a scenario"):
        load(str(path), {"cancel-idle"})
