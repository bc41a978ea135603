"""The transition declaration (migspec.spec.transitions), its compiled table, the
`transitions` machine built from it, and its traceability to the seed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from support import (
    EXEC_URI,
    TCP_URI,
    migrate_channel_error,
    migrate_refused,
    migrate_refused_later,
    migrate_unknown_uri,
    migrate_vm_stop_error,
    new_engine,
    ret,
    step_to_active,
)

from migspec.reference.engine import Engine
from migspec.spec.machine import MigrationModel, build_machine
from migspec.spec.requirements import REQUIREMENT_BY_ID
from migspec.spec.states import MigrationStatus as S
from migspec.spec.transitions import (
    ALL_PROFILES,
    COMPILED,
    TRANSITIONS,
    TRIGGERS,
    TransitionDecl,
    transitions_for,
)

SEED_LINES = 1042

#: Every place the seed changes s->state, read from the seed: line ->
#: (from-states, to-state). migrate_set_state(s, old, new) at 559-560, 571,
#: 587 (old_state is SETUP or ACTIVE, 583-586), 655, 753, 927, 957-958,
#: 963-964, 971-972; the plain assignment at 732.
SEED_STATE_CHANGES: dict[int, tuple[frozenset[S], S]] = {
    559: (frozenset({S.CANCELLING}), S.CANCELLED),
    571: (frozenset({S.SETUP}), S.FAILED),
    587: (frozenset({S.SETUP, S.ACTIVE}), S.CANCELLING),
    655: (frozenset({S.NONE}), S.SETUP),
    732: (frozenset({S.NONE, S.COMPLETED, S.FAILED, S.CANCELLED}), S.NONE),
    753: (frozenset({S.SETUP}), S.FAILED),
    927: (frozenset({S.SETUP}), S.ACTIVE),
    957: (frozenset({S.ACTIVE}), S.FAILED),
    963: (frozenset({S.ACTIVE}), S.COMPLETED),
    971: (frozenset({S.ACTIVE}), S.FAILED),
}


def line_ranges(lines: str) -> list[tuple[int, int]]:
    """'708-732' / '757-760,567-573' as (first, last) pairs; ValueError if malformed."""
    out: list[tuple[int, int]] = []
    for part in lines.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            raise ValueError(lines)
        out.append((int(m.group(1)), int(m.group(2) or m.group(1))))
    return out


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_table_and_machine_agree(profile: str) -> None:
    """MIG-SETSTATE-001: for every (profile, state, trigger) the compiled table and the
    `transitions` machine give the same next state; a trigger that does not apply
    leaves the state alone, as a failed compare-and-swap does (line 530)."""
    table = COMPILED[profile]
    checked = 0
    for state in S:
        for trigger in TRIGGERS:
            model = MigrationModel()
            machine = build_machine(profile, model)
            machine.set_state(state.value)
            if hasattr(model, trigger):
                getattr(model, trigger)()
            assert model.state == table.get((state, trigger), state).value, (
                profile, state, trigger)
            checked += 1
    assert checked == len(S) * len(TRIGGERS)


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_table_is_the_declaration(profile: str) -> None:
    """MIG-SETSTATE-001: the compiled table has exactly one entry per declared
    (source, trigger) of the profile."""
    expected = {(src, d.trigger): d.dest for d in transitions_for(profile) for src in d.sources}
    assert COMPILED[profile] == expected


@pytest.mark.parametrize("decl", TRANSITIONS, ids=lambda d: d.trigger)
def test_declared_lines_within_seed(decl: TransitionDecl) -> None:
    """MIG-SETSTATE-001: every transition's seed lines are well formed and within
    1..1042, and its requirement exists."""
    for first, last in line_ranges(decl.lines):
        assert 1 <= first <= last <= SEED_LINES, decl.lines
    assert decl.requirement in REQUIREMENT_BY_ID


@pytest.mark.parametrize("decl", transitions_for("seed"), ids=lambda d: d.trigger)
def test_seed_transition_is_a_state_change_of_the_seed(decl: TransitionDecl) -> None:
    """MIG-SETSTATE-001, MIG-MIGRATE-006: each seed-profile transition's lines contain
    a state change of the seed with the same destination whose possible old states
    cover the declared sources; cas=True exactly for migrate_set_state calls."""
    spans = line_ranges(decl.lines)
    matches = [
        line for line, (olds, new) in SEED_STATE_CHANGES.items()
        if any(a <= line <= b for a, b in spans)
        and new == decl.dest and set(decl.sources) <= olds
    ]
    assert matches, decl
    assert decl.cas == (matches[0] != 732)


def test_every_seed_state_change_is_declared() -> None:
    """MIG-SETSTATE-001: no state change of the seed is missing from the
    declaration."""
    for line, (olds, new) in SEED_STATE_CHANGES.items():
        assert any(
            any(a <= line <= b for a, b in line_ranges(d.lines))
            and d.dest == new and set(d.sources) <= olds
            for d in transitions_for("seed")
        ), line


def test_fixed_adds_only_repairs() -> None:
    """MIG-FDERROR-003: the fixed profile has every seed transition plus the repair
    connect_error_cancelled (cancelling -> cancelled from the connect callback)."""
    seed = set(transitions_for("seed"))
    fixed = set(transitions_for("fixed"))
    assert seed < fixed
    extra = fixed - seed
    assert {(d.trigger, d.sources, d.dest) for d in extra} == {
        ("connect_error_cancelled", (S.CANCELLING,), S.CANCELLED)}


def test_cancel_declaration_matches_cancel_loop() -> None:
    """MIG-CANCEL-001: cancel moves exactly 'setup' and 'active' to 'cancelling'
    (lines 583-587)."""
    table = COMPILED["seed"]
    assert {s for (s, t) in table if t == "cancel"} == {S.SETUP, S.ACTIVE}
    assert {table[(s, "cancel")] for s in (S.SETUP, S.ACTIVE)} == {S.CANCELLING}


# -- coverage: every declared transition fires in some run ------------------------------
def _complete(eng: Engine) -> None:
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.settle()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    eng.settle()


def _cancel_before_refusal(eng: Engine) -> None:
    eng.set_env({"connect": "delayed-refused", "connect_delay_ms": 10})
    assert ret(eng, "migrate", {"uri": TCP_URI}) == {}
    assert ret(eng, "migrate_cancel") == {}
    eng.settle()


def _cancel(eng: Engine) -> None:
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    step_to_active(eng)
    assert ret(eng, "migrate_cancel") == {}
    eng.settle()


SCENARIOS: tuple[Callable[[Engine], None], ...] = (
    _complete, migrate_unknown_uri, migrate_refused, migrate_refused_later,
    _cancel_before_refusal, migrate_channel_error, migrate_vm_stop_error, _cancel,
)


@pytest.mark.parametrize("profile", ALL_PROFILES)
def test_every_declared_transition_fires(profile: str) -> None:
    """MIG-WITNESS-003: each declared transition of the profile fires in one of a
    handful of plain runs (complete, unknown URI, refused connect, late refusal,
    cancel before a late refusal, channel error, vm-stop error, cancel); a fired
    trigger is always declared for the profile."""
    fired: set[str] = set()
    for scenario in SCENARIOS:
        eng = new_engine(profile)
        scenario(eng)
        eng.settle()
        fired |= {e["trigger"] for who, e in eng.world.trace
                  if e.get("what") == "state" and "trigger" in e}
    declared = {d.trigger for d in transitions_for(profile)}
    assert fired == declared
