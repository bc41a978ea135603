"""Traceability: every requirement is cited by a test, every cited ID exists."""

from __future__ import annotations

import re
from pathlib import Path

from migspec.spec.defects import DEFECT_BY_ID
from migspec.spec.requirements import REQUIREMENT_BY_ID

TESTS = Path(__file__).resolve().parent
REFERENCE = TESTS.parent / "reference"
REQ_ID = re.compile(r"\bMIG-[A-Z]+-\d{3}\b")
DEF_ID = re.compile(r"\bDEF-[A-Z0-9]+(?:-[A-Z0-9]+)*\b")


def cited_in(folder: Path, pattern: re.Pattern[str]) -> dict[str, set[str]]:
    """ID -> files of ``folder`` that mention it."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for ident in pattern.findall(path.read_text(encoding="utf-8")):
            found.setdefault(ident, set()).add(path.name)
    return found


def test_every_requirement_cited_by_a_test() -> None:
    """Each requirement ID of spec/requirements.py appears in some test file."""
    cited = cited_in(TESTS, REQ_ID)
    missing = sorted(set(REQUIREMENT_BY_ID) - set(cited))
    assert missing == []


def test_cited_requirements_exist() -> None:
    """Each MIG-* ID named by tests/ or reference/ is a declared requirement."""
    for folder in (TESTS, REFERENCE):
        unknown = sorted(set(cited_in(folder, REQ_ID)) - set(REQUIREMENT_BY_ID))
        assert unknown == [], folder.name


def test_cited_defects_exist() -> None:
    """Each DEF-* ID named by tests/ or reference/ is a declared seed defect."""
    for folder in (TESTS, REFERENCE):
        unknown = sorted(set(cited_in(folder, DEF_ID)) - set(DEFECT_BY_ID))
        assert unknown == [], folder.name


def test_requirement_lines_within_seed() -> None:
    """Every requirement resting on the seed names lines within 1..1042."""
    for req in REQUIREMENT_BY_ID.values():
        if not re.search(r"\d", req.lines):
            continue
        for part in req.lines.replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            assert m is not None, (req.id, req.lines)
            first, last = int(m.group(1)), int(m.group(2) or m.group(1))
            assert 1 <= first <= last <= 1042, (req.id, req.lines)
