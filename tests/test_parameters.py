"""migrate-set-parameters and query-migrate-parameters (seed lines 357-370,
485-524)."""

from __future__ import annotations

import pytest
from support import ALL_STATES, GENERIC, err, new_engine, ret, to_state

DEFAULTS = {"compress-level": 1, "compress-threads": 8, "decompress-threads": 2}

LEVEL_ERROR = (
    "Parameter 'compress_level' expects is invalid, it should be in the range of 0 to 9"
)
THREADS_ERROR = (
    "Parameter 'compress_threads' expects is invalid, it should be in the range of 1 to 255"
)
DECOMPRESS_ERROR = (
    "Parameter 'decompress_threads' expects is invalid, it should be in the range of 1 to 255"
)


@pytest.mark.parametrize("value", [0, 1, 5, 9])
def test_compress_level_in_range(value: int) -> None:
    """MIG-PARAMS-002, MIG-PARAMS-005: 0..9 is accepted (line 494) and stored
    (lines 514-516); the other two parameters keep their defaults."""
    eng = new_engine()
    assert ret(eng, "migrate-set-parameters", {"compress-level": value}) == {}
    assert ret(eng, "query-migrate-parameters") == {**DEFAULTS, "compress-level": value}


@pytest.mark.parametrize("value", [-1, 10, -(2**63), 2**63 - 1])
def test_compress_level_out_of_range(value: int) -> None:
    """MIG-PARAMS-002: below 0 or above 9 is refused with QERR_INVALID_PARAMETER_VALUE
    "Parameter '%s' expects %s" filled with 'compress_level' and the range text
    (lines 494-498); nothing changes."""
    eng = new_engine()
    assert err(eng, "migrate-set-parameters", {"compress-level": value}) == (
        GENERIC, LEVEL_ERROR)
    assert ret(eng, "query-migrate-parameters") == DEFAULTS


@pytest.mark.parametrize("name", ["compress-threads", "decompress-threads"])
@pytest.mark.parametrize("value", [1, 2, 128, 255])
def test_threads_in_range(name: str, value: int) -> None:
    """MIG-PARAMS-003, MIG-PARAMS-004: 1..255 is accepted (lines 499-500, 506-507)
    and stored (lines 517-523)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-parameters", {name: value}) == {}
    assert ret(eng, "query-migrate-parameters") == {**DEFAULTS, name: value}


@pytest.mark.parametrize(
    ("name", "text"),
    [("compress-threads", THREADS_ERROR), ("decompress-threads", DECOMPRESS_ERROR)],
)
@pytest.mark.parametrize("value", [0, 256, -1])
def test_threads_out_of_range(name: str, text: str, value: int) -> None:
    """MIG-PARAMS-003, MIG-PARAMS-004: 0 and 256 (just outside 1..255) are refused
    with the C name in the text (lines 499-512); nothing changes."""
    eng = new_engine()
    assert err(eng, "migrate-set-parameters", {name: value}) == (GENERIC, text)
    assert ret(eng, "query-migrate-parameters") == DEFAULTS


def test_all_three_at_once() -> None:
    """MIG-PARAMS-001: three valid values are all stored (lines 514-523)."""
    eng = new_engine()
    new = {"compress-level": 0, "compress-threads": 255, "decompress-threads": 1}
    assert ret(eng, "migrate-set-parameters", new) == {}
    assert ret(eng, "query-migrate-parameters") == new


def test_no_arguments_changes_nothing() -> None:
    """MIG-PARAMS-001: every argument is optional (has_* false): nothing is checked
    and nothing is stored."""
    eng = new_engine()
    assert ret(eng, "migrate-set-parameters", {}) == {}
    assert ret(eng, "query-migrate-parameters") == DEFAULTS


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ({"compress-level": 5, "decompress-threads": 0}, DECOMPRESS_ERROR),
        ({"compress-level": 5, "compress-threads": 0, "decompress-threads": 4}, THREADS_ERROR),
        ({"compress-threads": 9, "decompress-threads": 256}, DECOMPRESS_ERROR),
        ({"compress-level": 10, "compress-threads": 7, "decompress-threads": 3}, LEVEL_ERROR),
    ],
)
def test_one_invalid_value_changes_nothing(args: dict[str, int], text: str) -> None:
    """MIG-PARAMS-001: every value is checked (lines 494-512) before any is stored
    (lines 514-523), so a valid value beside an invalid one is not stored either."""
    eng = new_engine()
    assert err(eng, "migrate-set-parameters", args) == (GENERIC, text)
    assert ret(eng, "query-migrate-parameters") == DEFAULTS


def test_check_order_level_then_threads_then_decompress() -> None:
    """MIG-PARAMS-001: with all three invalid, compress_level is reported (checked
    first, line 494); without it compress_threads (line 499) before
    decompress_threads (line 506)."""
    eng = new_engine()
    bad = {"compress-level": 10, "compress-threads": 0, "decompress-threads": 0}
    assert err(eng, "migrate-set-parameters", bad)[1] == LEVEL_ERROR
    del bad["compress-level"]
    assert err(eng, "migrate-set-parameters", bad)[1] == THREADS_ERROR


@pytest.mark.parametrize("state", ALL_STATES)
def test_parameters_accepted_in_every_state(state: str) -> None:
    """MIG-PARAMS-001: qmp_migrate_set_parameters never looks at s->state
    (lines 485-524), so it is accepted in every migration state."""
    eng = new_engine()
    to_state(eng, state)
    assert ret(eng, "migrate-set-parameters", {"compress-threads": 3}) == {}
    assert ret(eng, "query-migrate-parameters")["compress-threads"] == 3


def test_parameters_survive_a_new_migration() -> None:
    """MIG-INIT-001: migrate_init saves the three parameters before its memset and
    restores them (lines 634-652)."""
    eng = new_engine()
    new = {"compress-level": 9, "compress-threads": 2, "decompress-threads": 7}
    assert ret(eng, "migrate-set-parameters", new) == {}
    to_state(eng, "completed")
    assert ret(eng, "query-migrate-parameters") == new
