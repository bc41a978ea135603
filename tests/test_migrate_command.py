"""The migrate command: refusals, URI dispatch, start-up failures (lines
696-762)."""

from __future__ import annotations

import pytest
from support import (
    EXEC_URI,
    GENERIC,
    MIGRATION_ACTIVE,
    SMALL_RAM,
    err,
    event_names,
    events_on,
    migration_events,
    new_engine,
    qmp,
    query,
    ret,
    status,
    to_state,
)

from migspec.reference.engine import Engine
from migspec.spec.uris import BuildConfig

INVALID_URI = "Parameter 'uri' expects a valid migration protocol"
INMIGRATE = "Guest is waiting for an incoming migration"


def blocked(eng: Engine) -> None:
    """Two later refusal reasons at once: an unmigratable device and blockers."""
    eng.configure_vm("source", {"unmigratable": "dev0", "blockers": ["b1", "b2"]})


@pytest.mark.parametrize("state", ["setup", "active", "cancelling"])
def test_refused_while_in_progress(state: str) -> None:
    """MIG-MIGRATE-001, MIG-MIGRATE-005: 'setup', 'active' and 'cancelling' refuse
    with QERR_MIGRATION_ACTIVE (lines 708-713), checked before every other
    reason; the state is unchanged."""
    eng = new_engine()
    to_state(eng, state)
    blocked(eng)
    assert err(eng, "migrate", {"uri": EXEC_URI}) == (GENERIC, MIGRATION_ACTIVE)
    assert status(eng) == state


def test_refused_while_inmigrate() -> None:
    """MIG-MIGRATE-002, MIG-MIGRATE-005: run state 'inmigrate' refuses with "Guest is
    waiting for an incoming migration" (lines 714-717), before the device and
    blocker checks."""
    eng = new_engine()
    blocked(eng)
    eng.configure_vm("source", {"runstate": "inmigrate"})
    assert err(eng, "migrate", {"uri": EXEC_URI}) == (GENERIC, INMIGRATE)
    assert query(eng) == {}


def test_refused_on_a_waiting_destination() -> None:
    """MIG-MIGRATE-002: a process started with -incoming is 'inmigrate' (vl.c) and
    refuses migrate (lines 714-717)."""
    eng = new_engine()
    eng.incoming("defer")
    assert err(eng, "migrate", {"uri": EXEC_URI}, vm="destination") == (GENERIC, INMIGRATE)


def test_refused_by_unmigratable_device() -> None:
    """MIG-MIGRATE-003, MIG-MIGRATE-005: qemu_savevm_state_blocked (line 719) reports
    "State blocked by non-migratable device 'dev0'" before the blockers (723)."""
    eng = new_engine()
    blocked(eng)
    assert err(eng, "migrate", {"uri": EXEC_URI}) == (
        GENERIC, "State blocked by non-migratable device 'dev0'")
    assert query(eng) == {}


def test_refused_by_most_recent_blocker() -> None:
    """MIG-BLOCKER-001: migrate_add_blocker prepends (line 665) and migrate copies the
    list head (line 724): the most recently added blocker's text is returned."""
    eng = new_engine()
    eng.configure_vm("source", {"blockers": ["first blocker", "second blocker"]})
    assert err(eng, "migrate", {"uri": EXEC_URI}) == (GENERIC, "second blocker")
    assert query(eng) == {}


def test_no_blocker_left_accepts() -> None:
    """MIG-BLOCKER-001: with the blockers removed (migrate_del_blocker, line 670) the
    list is empty and migrate proceeds (line 723)."""
    eng = new_engine()
    eng.configure_vm("source", {"blockers": ["only"]})
    assert err(eng, "migrate", {"uri": EXEC_URI})[1] == "only"
    eng.configure_vm("source", {"blockers": []})
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert status(eng) == "setup"


@pytest.mark.parametrize("state", ["completed", "failed", "cancelled"])
def test_refused_migrate_changes_nothing(state: str) -> None:
    """MIG-MIGRATE-005: a refusal returns before line 732: the old migration's state
    and statistics stay, and no event is sent."""
    eng = new_engine()
    events_on(eng)
    to_state(eng, state)
    before = query(eng)
    eng.output()
    eng.configure_vm("source", {"blockers": ["no"]})
    assert err(eng, "migrate", {"uri": EXEC_URI}) == (GENERIC, "no")
    assert query(eng) == before
    assert event_names(eng.output()) == []


@pytest.mark.parametrize("state", ["none", "completed", "failed", "cancelled"])
def test_accepted_migrate_resets_without_event(state: str) -> None:
    """MIG-MIGRATE-006, MIG-INIT-002, MIG-EVENT-002: an accepted migrate sets 'none'
    by plain assignment, without an event (line 732), then migrate_init's
    compare-and-swap none -> setup sends 'setup' (line 655)."""
    eng = new_engine()
    events_on(eng)
    to_state(eng, state)
    eng.output()
    assert ret(eng, "migrate", {"uri": EXEC_URI}) == {}
    assert status(eng) == "setup"
    assert migration_events(eng.output()) == ["setup"]


def test_unknown_uri_fails_the_migration() -> None:
    """MIG-MIGRATE-008, MIG-EVENT-002: no scheme matches, so the reply is
    QERR_INVALID_PARAMETER_VALUE for 'uri' and 'setup' becomes 'failed' (lines
    750-754): events setup, failed."""
    eng = new_engine()
    events_on(eng)
    eng.output()
    assert err(eng, "migrate", {"uri": "foo:bar"}) == (GENERIC, INVALID_URI)
    out = eng.output()
    assert migration_events(out) == ["setup", "failed"]
    assert "error" in out[-1]  # both events were sent while the handler ran
    assert query(eng) == {"status": "failed"}


def test_unknown_uri_without_events() -> None:
    """MIG-MIGRATE-008, MIG-EVENT-001: with the capability off the same failure sends
    no MIGRATION event (lines 218-220)."""
    eng = new_engine()
    eng.output()
    assert err(eng, "migrate", {"uri": "gopher:x"})[1] == INVALID_URI
    assert event_names(eng.output()) == []
    assert status(eng) == "failed"


def test_unknown_uri_does_not_notify() -> None:
    """MIG-NOTIFY-001 (DEF-UNKNOWN-URI-NO-NOTIFY): lines 750-755 change the state
    without notifier_list_notify; nothing else notifies."""
    eng = new_engine()
    assert err(eng, "migrate", {"uri": "nope"})[1] == INVALID_URI
    assert eng.vm().notifications == []


@pytest.mark.parametrize(
    "uri",
    ["tcp", "TCP:127.0.0.1:4444", " tcp:127.0.0.1:4444", "", "rdma:host:1", "file:/tmp/x",
     "unix", "fd"],
)
def test_uri_must_start_with_a_scheme(uri: str) -> None:
    """MIG-MIGRATE-007, MIG-MIGRATE-008: strstart is a case-sensitive prefix test
    including the colon (lines 736-749); rdma: is compiled in only with CONFIG_RDMA
    (738-741), off in the default build."""
    eng = new_engine()
    assert err(eng, "migrate", {"uri": uri}) == (GENERIC, INVALID_URI)
    assert status(eng) == "failed"


@pytest.mark.parametrize("uri", ["tcp:127.0.0.1:4444", "exec:cat > /dev/null", "unix:/tmp/m"])
def test_known_schemes_start_and_complete(uri: str) -> None:
    """MIG-MIGRATE-007, MIG-THREAD-006: tcp:, exec: and unix: are dispatched to their
    transport (lines 736-749); the migration starts in 'setup' and completes."""
    eng = new_engine()
    assert ret(eng, "migrate", {"uri": uri}) == {}
    assert status(eng) == "setup"
    assert eng.settle()
    assert status(eng) == "completed"


def test_fd_scheme_with_known_fd() -> None:
    """MIG-MIGRATE-007: fd:NAME uses the monitor's file descriptor NAME
    (lines 747-748)."""
    eng = new_engine()
    eng.configure_vm("source", {"fds": ["migfd"]})
    assert ret(eng, "migrate", {"uri": "fd:migfd"}) == {}
    assert eng.settle()
    assert status(eng) == "completed"


def test_fd_name_is_consumed_by_migrate() -> None:
    """MIG-MIGRATE-010: monitor_get_fd hands the descriptor over and forgets
    its name, so a second migrate fd:migfd is not found (what the real QEMU
    7.2 answered: tests/test_reading_real.py); a second name given to the
    monitor is still there."""
    eng = new_engine()
    eng.configure_vm("source", {"fds": ["migfd", "other"]})
    assert ret(eng, "migrate", {"uri": "fd:migfd"}) == {}
    assert eng.settle()
    assert status(eng) == "completed"
    assert eng.vm().fds == ["other"]
    assert err(eng, "migrate", {"uri": "fd:migfd"}) == (
        GENERIC, "File descriptor named 'migfd' has not been found")
    assert ret(eng, "migrate", {"uri": "fd:other"}) == {}


def test_fd_scheme_with_unknown_fd() -> None:
    """MIG-MIGRATE-009, MIG-FDERROR-001: fd_start_outgoing_migration fails (monitor_get_fd:
    "File descriptor named 'x' has not been found"); the error is propagated and
    migrate_fd_error moves setup to failed (lines 757-760, 571)."""
    eng = new_engine()
    events_on(eng)
    eng.output()
    assert err(eng, "migrate", {"uri": "fd:x"}) == (
        GENERIC, "File descriptor named 'x' has not been found")
    assert migration_events(eng.output()) == ["setup", "failed"]
    assert query(eng) == {"status": "failed"}


def test_rdma_with_config_rdma() -> None:
    """MIG-MIGRATE-007: with CONFIG_RDMA, rdma: is a scheme (lines 738-741)."""
    eng = Engine(build=BuildConfig(config_rdma=True))
    eng.set_env({"ram_bytes": SMALL_RAM})
    assert ret(eng, "migrate", {"uri": "rdma:192.0.2.1:4444"}) == {}
    assert status(eng) == "setup"


@pytest.mark.parametrize("uri", ["exec:cat", "unix:/tmp/m", "fd:x"])
def test_posix_schemes_absent_on_windows(uri: str) -> None:
    """MIG-MIGRATE-007, MIG-MIGRATE-008: exec:, unix: and fd: are compiled out on
    WIN32 (lines 742-749): the URI is unknown."""
    eng = Engine(build=BuildConfig(win32=True))
    assert err(eng, "migrate", {"uri": uri}) == (GENERIC, INVALID_URI)
    assert status(eng) == "failed"


def test_tcp_on_windows() -> None:
    """MIG-MIGRATE-007: tcp: exists in every build (lines 736-737)."""
    eng = Engine(build=BuildConfig(win32=True))
    assert ret(eng, "migrate", {"uri": "tcp:127.0.0.1:4444"}) == {}


def test_connect_refused_synchronously() -> None:
    """MIG-MIGRATE-009, MIG-FDERROR-001, MIG-NOTIFY-001: a transport error at start is
    returned as it is (line 759) after migrate_fd_error moved setup to failed and
    notified (lines 571-572): events setup, failed."""
    eng = new_engine(connect="refused", connect_error="Connection refused (test)")
    events_on(eng)
    eng.output()
    assert err(eng, "migrate", {"uri": "tcp:127.0.0.1:1"}) == (
        GENERIC, "Connection refused (test)")
    assert migration_events(eng.output()) == ["setup", "failed"]
    assert query(eng) == {"status": "failed"}
    assert eng.vm().notifications == ["failed"]


@pytest.mark.parametrize(
    ("args", "blk", "shared"),
    [
        ({}, False, False),
        ({"blk": True}, True, False),
        ({"inc": True}, False, True),
        ({"blk": True, "inc": True, "detach": True}, True, True),
        ({"blk": False, "inc": False, "detach": False}, False, False),
    ],
)
def test_blk_and_inc_recorded(args: dict[str, bool], blk: bool, shared: bool) -> None:
    """MIG-MIGRATE-004: params.blk = has_blk && blk, params.shared = has_inc && inc
    (lines 705-706), kept by migrate_init (line 644); detach is accepted and unused."""
    eng = new_engine()
    assert qmp(eng, "migrate", {"uri": EXEC_URI, **args}) == {"return": {}}
    assert (eng.vm().s.blk, eng.vm().s.shared) == (blk, shared)
