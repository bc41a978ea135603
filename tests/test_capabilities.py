"""migrate-set-capabilities and query-migrate-capabilities (lines 332-355,
468-483)."""

from __future__ import annotations

import pytest
from support import (
    ALL_STATES,
    GENERIC,
    MIGRATION_ACTIVE,
    err,
    events_on,
    migration_events,
    new_engine,
    qmp,
    ret,
    set_caps,
    step_to_active,
    to_state,
)

ORDER = ["xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "compress", "events"]


def caps_of(eng_caps: list[dict[str, object]]) -> dict[object, object]:
    """query-migrate-capabilities as a name -> state mapping."""
    return {c["capability"]: c["state"] for c in eng_caps}


def test_query_lists_every_capability_in_enum_order() -> None:
    """MIG-CAPS-003: one entry per MigrationCapability value, in enum order
    (lines 340-351): xbzrle, rdma-pin-all, auto-converge, zero-blocks, compress,
    events (QEMU 2.4)."""
    caps = ret(new_engine(), "query-migrate-capabilities")
    assert [c["capability"] for c in caps] == ORDER
    assert all(set(c) == {"capability", "state"} for c in caps)


@pytest.mark.parametrize("name", ORDER)
def test_set_one_capability(name: str) -> None:
    """MIG-CAPS-001, MIG-CAPS-003: a listed capability is set (line 481), the others
    keep their state, and the query reports it (line 351)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-capabilities",
               {"capabilities": [{"capability": name, "state": True}]}) == {}
    caps = caps_of(ret(eng, "query-migrate-capabilities"))
    assert caps == {c: c == name for c in ORDER}
    assert ret(eng, "migrate-set-capabilities",
               {"capabilities": [{"capability": name, "state": False}]}) == {}
    assert not any(caps_of(ret(eng, "query-migrate-capabilities")).values())


def test_later_entries_win() -> None:
    """MIG-CAPS-001: entries are applied in list order (lines 480-482), so the last
    entry for a capability decides."""
    eng = new_engine()
    listed = [
        {"capability": "events", "state": True},
        {"capability": "xbzrle", "state": True},
        {"capability": "events", "state": False},
    ]
    assert ret(eng, "migrate-set-capabilities", {"capabilities": listed}) == {}
    caps = caps_of(ret(eng, "query-migrate-capabilities"))
    assert caps["events"] is False
    assert caps["xbzrle"] is True


def test_empty_list_changes_nothing() -> None:
    """MIG-CAPS-001: an empty list sets nothing (the loop of line 480 does not run)."""
    eng = new_engine()
    assert ret(eng, "migrate-set-capabilities", {"capabilities": []}) == {}
    assert not any(caps_of(ret(eng, "query-migrate-capabilities")).values())


@pytest.mark.parametrize("state", ["setup", "active"])
def test_refused_in_setup_and_active(state: str) -> None:
    """MIG-CAPS-002: in 'setup' and 'active' the command fails with
    QERR_MIGRATION_ACTIVE (lines 474-477) and sets nothing."""
    eng = new_engine()
    to_state(eng, state)
    assert err(eng, "migrate-set-capabilities",
               {"capabilities": [{"capability": "xbzrle", "state": True}]}) == (
        GENERIC, MIGRATION_ACTIVE)
    assert caps_of(ret(eng, "query-migrate-capabilities"))["xbzrle"] is False


@pytest.mark.parametrize("state", ["none", "cancelling", "completed", "failed", "cancelled"])
def test_accepted_outside_setup_and_active(state: str) -> None:
    """MIG-CAPS-002: any other state, 'cancelling' included in the seed, passes the
    test of lines 474-475 and the capability is set."""
    eng = new_engine()
    to_state(eng, state)
    assert set_caps(eng, zero_blocks=True) == {"return": {}}
    assert caps_of(ret(eng, "query-migrate-capabilities"))["zero-blocks"] is True


def test_refused_in_cancelling_when_fixed() -> None:
    """MIG-CAPS-002 (DEF-CAPS-WHILE-CANCELLING): the fixed profile also refuses in
    'cancelling'."""
    eng = new_engine("fixed")
    to_state(eng, "cancelling")
    assert err(eng, "migrate-set-capabilities",
               {"capabilities": [{"capability": "compress", "state": True}]}) == (
        GENERIC, MIGRATION_ACTIVE)


def test_capabilities_survive_a_new_migration() -> None:
    """MIG-INIT-001: migrate_init copies enabled_capabilities around its memset
    (lines 640-646)."""
    eng = new_engine()
    assert set_caps(eng, xbzrle=True, auto_converge=True) == {"return": {}}
    to_state(eng, "completed")
    caps = caps_of(ret(eng, "query-migrate-capabilities"))
    assert caps == {c: c in ("xbzrle", "auto-converge") for c in ORDER}


def test_events_read_when_each_event_is_sent() -> None:
    """MIG-EVENT-001: migrate_generate_event reads the capability when it sends
    (lines 216-221). Turned on in 'cancelling' (accepted there, lines 474-477), only
    the later 'cancelled' event is sent (line 559-560)."""
    eng = new_engine()
    assert qmp(eng, "migrate", {"uri": "exec:cat > /dev/null"}) == {"return": {}}
    step_to_active(eng)
    assert ret(eng, "migrate_cancel") == {}
    events_on(eng)
    assert eng.settle()
    assert migration_events(eng.output()) == ["cancelled"]


@pytest.mark.parametrize("state", ALL_STATES)
def test_query_capabilities_in_every_state(state: str) -> None:
    """MIG-CAPS-003: query-migrate-capabilities has no state test (lines 332-355)."""
    eng = new_engine()
    events_on(eng)
    to_state(eng, state)
    assert caps_of(ret(eng, "query-migrate-capabilities"))["events"] is True


@pytest.mark.parametrize(
    ("profile", "events"),
    [("seed", ["setup", "active"]), ("fixed", ["setup", "active", "completed"])],
)
def test_events_off_between_swap_and_event(profile: str, events: list[str]) -> None:
    """MIG-EVENT-001, MIG-SETSTATE-002, MIG-CAPS-002, MIG-SAFETY-008: the thread swaps
    active -> completed (963-964) and sends the event afterwards, unlocked (532).
    In between the state is 'completed', so migrate-set-capabilities is accepted
    (474-477); turning 'events' off then suppresses the 'completed' event in the
    seed (218). With the event sent in the swap's step (the DEF-EVENT-ORDER repair)
    the fixed profile still sends it."""
    eng = new_engine(profile)
    events_on(eng)
    eng.output()
    assert ret(eng, "migrate", {"uri": "exec:cat > /dev/null"}) == {}
    for _ in range(10_000):
        if eng.vm().s.state.value == "completed":
            break
        eng.step("source", "thread")
    assert eng.vm().s.state.value == "completed"
    assert set_caps(eng, events=False) == {"return": {}}
    assert eng.settle()
    assert migration_events(eng.output()) == events
