"""The seed's assertions and compare-and-swap, driven directly: situations no
QMP client can reach in a correct schedule."""

from __future__ import annotations

import pytest
from support import EXEC_URI, new_engine, ret, to_state

from migspec.reference import decisions as D
from migspec.reference import mainloop
from migspec.reference.world import Crash
from migspec.spec.states import MigrationStatus as S


@pytest.mark.parametrize("current", list(S))
def test_compare_and_swap(current: S) -> None:
    """MIG-SETSTATE-001: atomic_cmpxchg(&s->state, old, new) == old (line 530): the
    swap happens only if the state still is the expected one."""
    assert D.compare_and_swap(current, S.ACTIVE, S.FAILED) == (
        (S.FAILED, True) if current == S.ACTIVE else (current, False))


def test_failed_swap_sends_no_event() -> None:
    """MIG-EVENT-002, MIG-SETSTATE-001: a swap whose expected state no longer holds
    changes nothing and sends no event (lines 530-533)."""
    eng = new_engine()
    to_state(eng, "completed")
    vm = eng.vm()
    vm.s.enabled_capabilities = {c: True for c in vm.s.enabled_capabilities}
    eng.output()
    assert eng.world.set_state(vm, S.ACTIVE, "channel_error") is False
    assert vm.s.state == S.COMPLETED
    assert eng.output() == []


@pytest.mark.parametrize("state", list(S))
def test_cleanup_decision(state: S) -> None:
    """MIG-CLEANUP-003, MIG-CLEANUP-004: cleanup asserts the state is not 'active'
    (line 554); anything but 'completed' cancels the saved state (556-557) and only
    'cancelling' becomes 'cancelled' (558-561)."""
    fails, cancel, to_cancelled = D.cleanup_decision(state)
    assert fails == (state == S.ACTIVE)
    if state != S.ACTIVE:
        assert cancel == (state != S.COMPLETED)
    assert to_cancelled == (state == S.CANCELLING)


def test_cleanup_in_active_aborts() -> None:
    """MIG-CLEANUP-003: reaching cleanup's end in 'active' is the failed assertion of
    line 554."""
    eng = new_engine()
    to_state(eng, "active")
    with pytest.raises(Crash) as info:
        mainloop.cleanup_finish(eng.world, eng.vm())
    assert info.value.line == 554


def test_fd_error_with_file_aborts() -> None:
    """MIG-FDERROR-002: migrate_fd_error asserts s->file == NULL (line 570)."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert eng.vm().s.file is not None
    with pytest.raises(Crash) as info:
        mainloop.migrate_fd_error(eng.world, eng.vm(), "connect_error")
    assert info.value.line == 570


@pytest.mark.parametrize("state", list(S))
def test_cancel_outcome(state: S) -> None:
    """MIG-CANCEL-001: the cancel loop (lines 581-588) leaves 'cancelling' after
    'setup' or 'active' and any other state as it was."""
    expected = S.CANCELLING if state in (S.SETUP, S.ACTIVE) else state
    assert D.cancel_outcome(state) == expected
