"""The website's generators: traceability from the code, the seed copy and its
coverage, the pages `migspec docs` writes, and `mkdocs build --strict`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import need_program

from migspec.docsite import pages
from migspec.docsite import seed as SEED
from migspec.docsite.trace import CHECK_KINDS, collect, expand
from migspec.spec.defects import DEFECTS
from migspec.spec.requirements import PROPERTIES, REQUIREMENTS

ROOT = Path(__file__).resolve().parent.parent


def _need_dot() -> None:
    need_program("dot")


def test_expand_reads_ranges_and_lists() -> None:
    assert expand("(lines 494-512, MIG-PARAMS-001..004)") == {
        "MIG-PARAMS-001", "MIG-PARAMS-002", "MIG-PARAMS-003", "MIG-PARAMS-004"}
    assert expand("MIG-DOWNTIME-001/002 and MIG-CANCEL-003") == {
        "MIG-DOWNTIME-001", "MIG-DOWNTIME-002", "MIG-CANCEL-003"}
    # IDs that do not exist are not invented
    assert expand("MIG-CANCEL-001..009") == {"MIG-CANCEL-001", "MIG-CANCEL-002",
                                            "MIG-CANCEL-003"}
    assert expand("MIG-" + "NOPE-001") == set()  # split: tests cite only declared IDs


def test_collect_attributes_citations_by_place(tmp_path: Path) -> None:
    """Engine functions, tests, contracts, Hypothesis invariants and conformance
    scenarios in a miniature checkout, each found where it cites."""
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "engine.py").write_text(
        'def cancel():\n    """migrate_fd_cancel (MIG-CANCEL-001)."""\n\n\n'
        "def clean():\n    world.set_state(vm, S.X, 'cleanup_cancelled')\n\n\n"
        "def plain():\n    return 1\n"
    )
    (tmp_path / "reference" / "decisions.py").write_text(
        'def clamp(x: int) -> int:\n    """MIG-SPEED-001.\n\n    post: __return__ >= 0\n'
        '    """\n    return max(x, 0)\n'
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "CASES = ['MIG-QUERY-001']\n\n\ndef test_cancel():\n"
        "    # MIG-CANCEL-002: the loop\n    assert True\n"
    )
    (tmp_path / "properties" / "conform").mkdir(parents=True)
    (tmp_path / "properties" / "conform" / "scenarios.py").write_text(
        "def cancel_race():\n    return 'MIG-CANCEL-003'\n\n\nSCENARIOS = (\n"
        "    Scenario('defaults', ('MIG-STATE-001',\n"
        "                          'MIG-QUERY-002')),\n)\n")
    (tmp_path / "properties" / "stateful.py").write_text(
        "class M:\n    @invariant()\n    def one_event(self):\n"
        "        '''MIG-EVENT-002'''\n")
    t = collect(tmp_path)
    assert [(s.path, s.line, s.name, s.kind) for s in t.engine["MIG-CANCEL-001"]] == [
        ("reference/engine.py", 1, "cancel", "engine")]
    # the cleanup_cancelled trigger's declaration names MIG-CLEANUP-004
    assert [s.name for s in t.engine["MIG-CLEANUP-004"]] == ["clean"]
    assert [(s.name, s.kind) for s in t.checks["MIG-SPEED-001"]] == [
        ("clamp", "CrossHair contract")]
    assert [(s.name, s.kind) for s in t.checks["MIG-CANCEL-002"]] == [("test_cancel", "test")]
    assert [(s.name, s.kind) for s in t.checks["MIG-QUERY-001"]] == [("(module)", "test table")]
    assert [(s.name, s.kind) for s in t.checks["MIG-CANCEL-003"]] == [
        ("cancel_race", "conformance scenario")]
    # a scenario declared as data is named by its call, on every line it spans
    assert [(s.line, s.name, s.kind) for s in t.checks["MIG-QUERY-002"]] == [
        (6, "Scenario('defaults')", "conformance scenario")]
    assert [(s.name, s.kind) for s in t.checks["MIG-EVENT-002"]
            if s.kind != "defect witness"] == [("M.one_event", "Hypothesis invariant")]
    # each seed defect's counterexample is a witness for its requirement
    assert ("DEF-CANCEL-CONNECT-STUCK", "defect witness") in [
        (s.name, s.kind) for s in t.checks["MIG-FDERROR-003"]]


def test_matrix_groups_hold_each_check_kind_once() -> None:
    assert sorted(k for g in pages.MATRIX_GROUPS.values() for k in g) == sorted(CHECK_KINDS)


def test_the_project_has_a_check_for_every_requirement() -> None:
    trace = collect(ROOT)
    assert trace.gaps_checks(REQUIREMENTS + PROPERTIES) == []
    # cited by the engine's docstring "Lines 581-588 ... (MIG-CANCEL-001..003)"
    assert "qmp_migrate_cancel" in [s.name for s in trace.engine["MIG-CANCEL-001"]]


def test_seed_copy_has_the_original_lines() -> None:
    """Line numbers and texts as in QEMU's file at 6775e2c4."""
    lines = SEED.seed_lines()
    assert len(lines) == 1042
    assert lines[528 - 1] == ("static void migrate_set_state(MigrationState *s, int old_state, "
                              "int new_state)")
    assert lines[13 - 1] == " * GNU GPL, version 2 or (at your option) any later version."
    assert lines[911 - 1] == "static void *migration_thread(void *opaque)"
    shared = ROOT.parent / "shared" / "seed" / "000_523c37cc2bde98da.txt"
    if shared.is_file():
        assert shared.read_bytes() == SEED.SEED_COPY.read_bytes()


def test_seed_functions_and_line_kinds() -> None:
    by_name = {f.name: f for f in SEED.functions()}
    assert (by_name["migrate_set_state"].start, by_name["migrate_set_state"].end) == (528, 534)
    assert (by_name["migration_thread"].start, by_name["migration_thread"].end) == (911, 1024)
    kinds = SEED.reasons()
    assert kinds[16 - 1] == "preprocessor"  # #include "qemu-common.h"
    assert kinds[2 - 1] == "comment"
    assert kinds[529 - 1] == "brace"
    assert kinds[530 - 1] == "behaviour"  # the compare-and-swap
    assert SEED.marks()[530 - 1] == SEED.REQUIREMENT  # MIG-SETSTATE-001 rests on 528-534
    cov = SEED.coverage()
    assert cov.lines == 1042 and 0 < cov.behaviour_cited <= cov.behaviour


def test_uncited_lines_say_why() -> None:
    """Seed lines 190 (trace_migrate_global_state_pre_save), 888 (return of
    migrate_use_events), 99 (g_free) and 1020 (qemu_mutex_unlock_iothread)."""
    assert SEED.why_uncited(190) == "tracing"
    assert SEED.why_uncited(888).startswith("accessor")
    assert SEED.why_uncited(99) == "memory and file management"
    assert SEED.why_uncited(1020).startswith("locking")


def test_generated_pages_cover_every_declaration() -> None:
    _need_dot()
    docs = pages.documents()
    for d in DEFECTS:
        assert f"defects/{d.id}.md" in docs
    seed_page = pages.seed_page()
    assert 'id="L1042"' in seed_page and 'id="L1043"' not in seed_page
    trace = collect(ROOT)
    index = pages.trace_index_page(trace)
    gaps = pages.trace_gaps_page(trace)
    for r in REQUIREMENTS + PROPERTIES:
        assert f"## {r.id} " in index
    for r in trace.gaps_engine():
        assert f"[{r.id}](index.md#" in gaps


def test_docs_check_reports_the_counts() -> None:
    _need_dot()
    done = subprocess.run([sys.executable, "-m", "migspec", "docs", "--check"],
                          capture_output=True, text=True, cwd="/", timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(REQUIREMENTS)} requirements" in done.stdout
    assert "without engine code" in done.stdout and "behaviour lines cited" in done.stdout


def test_docs_without_graphviz_is_a_one_line_error(tmp_path: Path) -> None:
    """No `dot` on PATH: exit status 2 and one line naming the Debian package."""
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "migspec", "docs", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": str(empty)})
    assert done.returncode == 2
    assert done.stderr == ("migspec docs: Graphviz's 'dot' program is needed to draw the "
                           "diagrams (Debian: apt-get install graphviz)\n")


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    _need_dot()
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "reference" / "trace" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "diagrams" / "state-machine-seed.svg").is_file()
