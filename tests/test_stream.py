"""The destination as untrusted input (MIG-DEST-001..004): what a fed stream's
global-state section and failure point do on the seed and fixed profiles.

Expected values are worked out from the seed: the section is VMSTATE_UINT32(size)
then VMSTATE_BUFFER(runstate), a static buffer of sizeof(runstate) = 100 bytes
(lines 104-110, 194-206; QEMU 2.4 vmstate.h), so the size is never used;
global_state_post_load (162-184) parses the buffer with qapi_enum_parse and
fails the load with -EINVAL for any other name; a failed load sends 'failed'
and exits at line 278; a good one 'completed' and obeys 297-306.
"""

from __future__ import annotations

from typing import Any

import pytest
from support import exits, migration_events, replies

from migspec.reference.script import replay

DEST = "destination"
EVENTS_ON = {"migspec": "qmp", "vm": DEST, "command": {
    "execute": "migrate-set-capabilities",
    "arguments": {"capabilities": [{"capability": "events", "state": True}]}}}
STATUS = {"migspec": "qmp", "vm": DEST, "command": {"execute": "query-status"}}
EINVAL = "load of migration failed: Invalid argument"
EIO = "load of migration failed: Input/output error"


def status(name: str) -> dict[str, Any]:
    return {"return": {"running": name == "running", "singlestep": False, "status": name}}


def fed(profile: str, *feeds: dict[str, Any], autostart: bool = True) -> list[dict[str, Any]]:
    """-incoming tcp, events on at the destination, then each feed settled."""
    script: list[dict[str, Any]] = [
        {"migspec": "incoming", "uri": "tcp:0:4444"},
        {"migspec": "vm", "vm": DEST, "autostart": autostart},
        EVENTS_ON,
    ]
    for feed in feeds:
        script += [{"migspec": "feed", **feed}, {"migspec": "settle"}, STATUS]
    return replay(tuple(script), profile)[1]


@pytest.mark.parametrize("profile", ["seed", "fixed"])
@pytest.mark.parametrize(
    ("feed", "reason"),
    [
        # unknown, empty, wrong case: qapi_enum_parse fails (172-180)
        ({"outcome": "complete", "runstate": "flying"}, EINVAL),
        ({"outcome": "complete", "section": {"name": ""}}, EINVAL),
        ({"outcome": "complete", "section": {"name": "Running"}}, EINVAL),
        # 99 characters: terminated, still no run state
        ({"outcome": "complete", "section": {"name": "x" * 99}}, EINVAL),
        # 100 and more: no NUL in the buffer (DEF-GLOBAL-STATE-UNTERMINATED)
        ({"outcome": "complete", "section": {"name": "x" * 100}}, EINVAL),
        ({"outcome": "complete", "section": {"name": "running" * 20}}, EINVAL),
        # a good name, then bytes beyond the 100 that are no section header
        ({"outcome": "complete", "section": {"name": "running" + "\0" * 93 + "xyz"}}, EINVAL),
        # the load fails before the section, inside it (the buffer never
        # arrives: it still holds register_global_state's ""), after it
        ({"outcome": "fail"}, EIO),
        ({"outcome": "fail", "at": "before", "runstate": "running"}, EIO),
        ({"outcome": "fail", "at": "section", "runstate": "running"}, EINVAL),
        ({"outcome": "fail", "at": "after", "runstate": "running"}, EIO),
        ({"outcome": "fail", "at": "after", "section": None}, EIO),
    ],
)
def test_a_bad_stream_fails_the_load(profile: str, feed: dict[str, Any], reason: str) -> None:
    """MIG-DEST-001, MIG-DEST-002, MIG-INCOMING-006: every bad section and every
    failure point ends the same for a client: 'active', 'failed', exit at 278."""
    out = fed(profile, feed)
    assert migration_events(out, DEST) == ["active", "failed"]
    assert [(g["reason"], g["line"]) for g in exits(out, DEST)] == [(reason, 278)]
    assert replies(out, DEST) == [{"return": {}}]  # query-status never answered


@pytest.mark.parametrize("profile", ["seed", "fixed"])
@pytest.mark.parametrize(
    ("feed", "autostart", "arrives"),
    [
        ({"outcome": "complete", "runstate": "running"}, True, "running"),
        ({"outcome": "complete", "runstate": "running"}, False, "paused"),
        ({"outcome": "complete", "runstate": None}, True, "running"),
        ({"outcome": "complete", "section": None}, False, "paused"),
        ({"outcome": "complete", "runstate": "paused"}, True, "paused"),
        # the size field is never used (VMSTATE_BUFFER is always 100 bytes)
        ({"outcome": "complete", "section": {"name": "paused", "size": 0}}, True, "paused"),
        ({"outcome": "complete", "section": {"name": "paused", "size": 4294967295}}, True,
         "paused"),
        # the name ends at its first NUL
        ({"outcome": "complete", "section": {"name": "shutdown\0junk"}}, True, "shutdown"),
        ({"outcome": "complete", "runstate": "io-error"}, True, "io-error"),
        ({"outcome": "complete", "runstate": "finish-migrate"}, True, "finish-migrate"),
    ],
)
def test_a_good_stream_arrives(profile: str, feed: dict[str, Any], autostart: bool,
                               arrives: str) -> None:
    """MIG-DEST-001, MIG-INCOMING-007, MIG-INCOMING-008: a section naming a run state
    'inmigrate' may enter is set (305); 'running' or none obeys autostart (297-303)."""
    out = fed(profile, feed, autostart=autostart)
    assert migration_events(out, DEST) == ["active", "completed"]
    assert exits(out, DEST) == []
    assert replies(out, DEST)[-1] == status(arrives)


@pytest.mark.parametrize("name", ["debug", "inmigrate", "restore-vm", "save-vm"])
def test_states_inmigrate_cannot_enter(name: str) -> None:
    """DEF-INCOMING-DEBUG-ABORT, MIG-INCOMING-008: runstate_set from 'inmigrate' to a
    state vl.c's table does not list aborts the seed after 'completed'; fixed
    arrives 'paused'."""
    seed = fed("seed", {"outcome": "complete", "runstate": name})
    assert migration_events(seed, DEST) == ["active", "completed"]
    assert [g["reason"] for g in exits(seed, DEST)] == [
        f"invalid runstate transition: 'inmigrate' -> '{name}'"]
    fixed = fed("fixed", {"outcome": "complete", "runstate": name})
    assert replies(fixed, DEST)[-1] == status("paused")


def test_a_received_state_stays_received() -> None:
    """MIG-DEST-004, MIG-INCOMING-011, DEF-INCOMING-LOAD-RUNNING: after the seed's
    second listener (DEF-INCOMING-ONCE-NO-RETURN) a second stream without a section
    is set to the first stream's run state ('paused': received stays true, 169),
    while the guest runs: no STOP. A truncated second section keeps the old name
    too, but the load then fails (EIO)."""
    base: tuple[dict[str, Any], ...] = (
        {"migspec": "incoming", "uri": "defer"},
        {"migspec": "qmp", "vm": DEST, "command": {
            "execute": "migrate-incoming", "arguments": {"uri": "tcp:0:4444"}}},
        {"migspec": "qmp", "vm": DEST, "command": {
            "execute": "migrate-incoming", "arguments": {"uri": "unix:/tmp/m"}}},
        {"migspec": "feed", "outcome": "complete", "runstate": "paused"},
        {"migspec": "settle"},
        {"migspec": "qmp", "vm": DEST, "command": {"execute": "cont"}},
        STATUS,
    )
    engine, out = replay(base + (
        {"migspec": "feed", "outcome": "complete", "section": None},
        {"migspec": "settle"}, STATUS), "seed")
    assert replies(out, DEST)[-2:] == [status("running"), status("paused")]
    assert [o["event"] for o in out if o.get("event") in ("STOP", "RESUME")] == ["RESUME"]
    assert engine.vm(DEST).global_state.received is True
    _, out = replay(base + (
        {"migspec": "feed", "outcome": "fail", "at": "section", "section": {"name": "x"}},
        {"migspec": "settle"}), "seed")
    assert [g["reason"] for g in exits(out, DEST)] == [EIO]


# -- a real stream rewritten for a launched QEMU (properties/conform/drivers.py) ----------
_HEAD = b"QEVM" + b"\x04" + (7).to_bytes(4, "big") + bytes([11]) + b"globalstate" \
    + (0).to_bytes(4, "big") + (1).to_bytes(4, "big")
_FOOT = b"\x7e" + (7).to_bytes(4, "big")
_REAL = _HEAD + (10).to_bytes(4, "big") + b"prelaunch".ljust(100, b"\0") + _FOOT + b"TAIL"


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        ({"outcome": "complete", "runstate": "debug"},
         _HEAD + (6).to_bytes(4, "big") + b"debug".ljust(100, b"\0") + _FOOT + b"TAIL"),
        ({"outcome": "complete", "section": {"name": "paused", "size": 0}},
         _HEAD + (0).to_bytes(4, "big") + b"paused".ljust(100, b"\0") + _FOOT + b"TAIL"),
        ({"outcome": "complete", "section": {"name": "x" * 101}},
         _HEAD + (101).to_bytes(4, "big") + b"x" * 100 + b"\xff" + _FOOT + b"TAIL"),
        ({"outcome": "complete", "section": None}, b"QEVMTAIL"),
        ({"outcome": "fail", "runstate": "running"}, b"QEVM"),
        ({"outcome": "fail", "at": "section", "runstate": "running"},
         _HEAD + (8).to_bytes(4, "big")),
        ({"outcome": "fail", "at": "after", "runstate": "running"},
         _HEAD + (8).to_bytes(4, "big") + b"running".ljust(100, b"\0") + _FOOT),
    ],
)
def test_rewrite_stream(feed: dict[str, Any], expected: bytes) -> None:
    """MIG-DEST-001: the section savevm.c writes (QEMU_VM_SECTION_FULL, section id,
    id string, instance and version ids, size, the 100-byte buffer, the footer)
    rewritten, left out, or the stream cut where the feed says it fails."""
    from migspec.properties.conform.drivers import rewrite_stream
    from migspec.reference.stream import stream_of

    assert rewrite_stream(_REAL, stream_of(feed)) == expected
