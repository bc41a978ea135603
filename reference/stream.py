"""The migration stream as the destination reads it: what a source (honest,
broken or hostile) can put in the global-state section, and where a load can
fail (MIG-DEST-001..005).

The seed's section (lines 194-206) is ``VMSTATE_UINT32(size)`` followed by
``VMSTATE_BUFFER(runstate)``: ``VMSTATE_BUFFER`` is ``VMSTATE_STATIC_BUFFER``
of ``sizeof(runstate)``, so the loader always reads exactly 100 bytes into the
buffer whatever ``size`` says (``size`` is read and never used). A name of 100
bytes or more leaves no NUL in the buffer; the bytes of a longer name beyond
the 100 are read as the next section's header. The section is sent only when
``global_state_needed`` says so (lines 140-160); a stream may carry none.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from migspec.reference.wire import text_of
from migspec.spec import constants as C

#: Where a fed stream fails: before the global-state section (it never
#: arrives), inside it (its size field arrives, its buffer does not), or after
#: it (a later section is bad).
FAIL_POINTS = ("before", "section", "after")

UINT32_MAX = (1 << 32) - 1


class Section(NamedTuple):
    """One global-state section as it is on the wire."""

    #: The uint32 ``size`` field (the honest source writes strlen + 1, line 191).
    size: int
    #: The buffer as a C string: its bytes up to the first NUL, one character
    #: per byte (latin-1); 100 characters means no NUL in the 100 bytes.
    runstate: str
    #: Bytes of the name beyond the 100 of the buffer (read as the next section).
    spill: bool


class Stream(NamedTuple):
    """What a source sends: a global-state section or none, and where it
    fails ("" when it completes)."""

    section: Section | None
    fail: str = ""


def section_of(name: bytes, size: int | None = None) -> Section:
    """The section a source writes for ``name`` (the bytes it puts in the
    buffer); ``size`` defaults to what ``global_state_pre_save`` writes."""
    buffer = name[: C.GLOBAL_STATE_RUNSTATE_SIZE]
    cstring = buffer.split(b"\0", 1)[0]
    if size is None:
        size = len(cstring) + 1
    return Section(size, cstring.decode("latin-1"), len(name) > C.GLOBAL_STATE_RUNSTATE_SIZE)


def honest(runstate: str | None) -> Stream:
    """The complete stream the seed's source sends (lines 140-192): a section
    naming ``runstate``, or none when it is not needed."""
    if runstate is None:
        return Stream(None)
    return Stream(section_of(runstate.encode("latin-1")))


def stream_of(obj: dict[str, Any]) -> Stream:
    """The stream a ``feed`` directive describes (README, ``feed``); ValueError
    names a bad argument.

    ``outcome`` is ``"complete"`` or ``"fail"``; ``at`` (with ``fail`` only)
    where it fails, ``"before"`` by default. The section is either
    ``runstate`` (a name, or null for none: the short form) or ``section``
    (null, or an object with ``name``, a string whose UTF-8 bytes go into the
    buffer, and optionally ``size``, a uint32)."""
    outcome = obj.get("outcome")
    if outcome not in ("complete", "fail"):
        raise ValueError("feed outcome must be 'complete' or 'fail'")
    fail = ""
    if "at" in obj:
        at = obj["at"]
        if outcome != "fail":
            raise ValueError("feed at needs outcome 'fail'")
        if not isinstance(at, str) or at not in FAIL_POINTS:
            raise ValueError(f"feed at must be one of {', '.join(FAIL_POINTS)}")
        fail = at
    elif outcome == "fail":
        fail = "before"
    if "runstate" in obj and "section" in obj:
        raise ValueError("feed takes runstate or section, not both")
    section: Section | None = None
    if "section" in obj:
        raw = obj["section"]
        if raw is not None:
            if not isinstance(raw, dict) or "name" not in raw or set(raw) - {"name", "size"}:
                raise ValueError("feed section must be null or an object with name and "
                                 "optional size")
            name = raw["name"]
            if not isinstance(name, str):
                raise ValueError("feed section name must be a string")
            size = raw.get("size")
            if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                     or not 0 <= size <= UINT32_MAX):
                raise ValueError(f"feed section size must be an integer from 0 to {UINT32_MAX}")
            try:
                data = name.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("feed section name must be valid Unicode "
                                 f"(not {text_of(name)})") from None
            section = section_of(data, size)
    else:
        runstate = obj.get("runstate")
        if runstate is not None and not isinstance(runstate, str):
            raise ValueError("feed runstate must be a run-state name or null")
        if runstate is not None:
            try:
                section = section_of(runstate.encode("utf-8"))
            except UnicodeEncodeError:
                raise ValueError("feed runstate must be valid Unicode") from None
    if fail == "section" and section is None:
        raise ValueError("feed at 'section' needs a section")
    return Stream(section, fail)
