"""The mutant catalogue plants its faults where every caller sees them."""

from __future__ import annotations

import pytest

from migspec.properties.mutants import MUTANT_BY_ID, MUTANTS, Mutant, applied
from migspec.reference import handlers, mainloop
from migspec.reference.engine import Engine


def test_catalogue_is_large_and_cites_requirements() -> None:
    from migspec.spec.requirements import REQUIREMENT_BY_ID
    assert len(MUTANTS) >= 25
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)
    assert all(m.requirement in REQUIREMENT_BY_ID for m in MUTANTS)


def _expected_downtime_after_connect() -> int:
    """expected-downtime in the first active query-migrate after an immediate
    (exec:) connect: max_downtime in ms (line 1029, MIG-CONNECT-001)."""
    engine = Engine("seed")
    engine.execute({"execute": "migrate", "arguments": {"uri": "exec:cat"}})
    engine.advance(0)
    reply = engine.execute({"execute": "query-migrate"})
    assert reply is not None
    value: int = reply["return"]["expected-downtime"]
    return value


def test_a_patched_function_is_patched_for_every_module_that_imported_it() -> None:
    """handlers.py does ``from mainloop import migrate_fd_connect``: M29 must
    reach that name too, or an immediate connect would run the good code."""
    good = mainloop.migrate_fd_connect
    assert vars(handlers)["migrate_fd_connect"] is good
    with applied(MUTANT_BY_ID["M29-expected-downtime-units"]):
        assert mainloop.migrate_fd_connect is not good
        assert vars(handlers)["migrate_fd_connect"] is mainloop.migrate_fd_connect
        assert _expected_downtime_after_connect() == 300_000  # microseconds: the fault
    assert vars(handlers)["migrate_fd_connect"] is good is mainloop.migrate_fd_connect
    assert _expected_downtime_after_connect() == 300  # the default 300 ms


def test_a_suite_that_fails_the_control_run_catches_nothing() -> None:
    """A suite that reports a problem on the unmodified reference would "catch"
    every mutant; its verdicts are errors instead (issue 8)."""
    from migspec.properties.mutants import CONTROL, run

    seen: list[str] = []

    def always(m: Mutant) -> str:
        seen.append(m.id)
        return "a problem"

    def discerning(m: Mutant) -> str | None:
        return None if m is CONTROL else "caught it"

    [result] = run((MUTANTS[0],), {"always": always, "discerning": discerning})
    assert seen == ["control"]  # judged once, on the control, then never asked again
    assert result.caught_by == {"discerning": "caught it"}
    assert set(result.errors) == {"always"}
    assert "unmodified reference" in result.errors["always"]

    [alone] = run((MUTANTS[0],), {"always": always})
    assert not alone.caught and alone.errors


def test_every_decision_fault_takes_the_functions_parameters() -> None:
    """A decision mutant whose fault cannot take the function's parameters
    makes every call raise TypeError, which CrossHair reports as EXEC_ERR; it
    was once counted as a catch (M15 and M16 after cache_size_decision gained
    parameters). Applying such a mutant is refused; every mutant applies."""
    from migspec.properties.mutants import _decision
    from migspec.reference import decisions as D

    for mutant in MUTANTS:
        with applied(mutant):
            pass
    broken = _decision("cache_size_decision", lambda o: lambda v, ram, r: o(v, ram, r))
    with pytest.raises(TypeError, match="does not take its parameters"), broken():
        pass
    assert D.cache_size_decision.__name__ == "cache_size_decision"
