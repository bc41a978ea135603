"""Who fires a transition: the seed's threads and main-loop callbacks."""

from __future__ import annotations

from enum import StrEnum


class Actor(StrEnum):
    """An actor of the seed. Main-loop actors hold the big lock while they run."""

    #: A QMP command handler, run by the main loop with the big lock held.
    QMP = "qmp"
    #: ``migration_thread`` (lines 911-1024); holds the big lock only in
    #: lines 941-954 and 1003-1020.
    THREAD = "thread"
    #: ``migrate_fd_cleanup``, a bottom half on the main loop (lines 536-565).
    CLEANUP_BH = "cleanup_bh"
    #: The transport's connect callback on the main loop (``migrate_fd_connect``
    #: lines 1026-1041 or ``migrate_fd_error`` lines 567-573).
    CONNECT = "connect"
    #: The destination's incoming coroutine on its main loop (lines 262-308).
    INCOMING = "incoming"


MAIN_LOOP_ACTORS: frozenset[Actor] = frozenset(
    {Actor.QMP, Actor.CLEANUP_BH, Actor.CONNECT, Actor.INCOMING}
)
