"""The seed, read from the copy checked in as ``spec/seed/migration.c.txt``, and
which of its lines the requirements and seed defects account for.

The copy is QEMU's ``migration/migration.c`` at 6775e2c4 as the project
received it: a header line, then every source line prefixed with its
original number and a no-break space. QEMU's file is GPL-2.0 (IBM's 2008
code) with contributions after 2012-01-13 under GPL-2.0-or-later (its own
header, lines 9-13); migspec is GPL-2.0-or-later.

A line is *cited by a requirement* when it is in the seed lines of a
requirement (``spec/requirements.py``, the explorer's properties excluded:
they span whole functions) or of a declaration that names one (transitions,
commands, errors, parameters, URI schemes); *cited only by a defect* when it
is in a seed defect's lines and no requirement's; else *not cited*, and then
the page says why: blank, comment, preprocessor line, brace, a declaration
outside any function, a function's header, a local declaration, or
behaviour that no requirement covers yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from migspec.spec.commands import COMMANDS
from migspec.spec.defects import DEFECTS
from migspec.spec.errors import ERRORS
from migspec.spec.parameters import CACHE_SIZE, DOWNTIME, PARAMETERS, SPEED
from migspec.spec.requirements import REQUIREMENTS
from migspec.spec.transitions import TRANSITIONS
from migspec.spec.uris import SCHEMES

SEED_COPY = Path(__file__).resolve().parent.parent / "spec" / "seed" / "migration.c.txt"

REQUIREMENT = "requirement"
DEFECT = "defect"
UNCITED = "uncited"

#: Why an uncited line carries no behaviour (or "behaviour" when it does).
REASONS = (
    "blank", "comment", "preprocessor", "brace", "declaration outside functions",
    "function header", "local declaration", "behaviour",
)


def line_numbers(spec: str) -> set[int]:
    """The seed lines of a ``lines`` field ("61-77", "391-394,463", "-")."""
    out: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m:
            out |= set(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return out


@cache
def seed_lines() -> tuple[str, ...]:
    """The seed's lines; index 0 is line 1."""
    out: list[str] = []
    for raw in SEED_COPY.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"(\d+)\u00a0?(.*)", raw)
        if m is None:
            continue  # the header line
        if int(m.group(1)) != len(out) + 1:
            raise ValueError(f"{SEED_COPY}: line {m.group(1)} out of order")
        out.append(m.group(2))
    return tuple(out)


@dataclass(frozen=True)
class Function:
    """A function of the seed: its name and the lines from its header to ``}``."""

    name: str
    start: int
    body: int  # the line of the opening brace
    end: int


_HEADER = re.compile(r"^(?:static\s+)?(?:[A-Za-z_][\w\s\*]*?[\s\*])?(\w+)\(")


@cache
def functions() -> tuple[Function, ...]:
    """Functions, found as QEMU's style writes them: a header at column 0,
    ``{`` and ``}`` alone at column 0."""
    lines = seed_lines()
    out: list[Function] = []
    i = 0
    while i < len(lines):
        m = _HEADER.match(lines[i])
        if m and not lines[i].rstrip().endswith(";") and not lines[i].startswith(("#", " ")):
            j = i
            while j < len(lines) and lines[j] != "{":
                if lines[j].rstrip().endswith(";"):
                    break
                j += 1
            if j < len(lines) and lines[j] == "{":
                k = j + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                out.append(Function(m.group(1), i + 1, j + 1, k + 1))
                i = k + 1
                continue
        i += 1
    return tuple(out)


def function_at(line: int) -> Function | None:
    for f in functions():
        if f.start <= line <= f.end:
            return f
    return None


_LOCAL = re.compile(
    r"^\s+(?:static\s+|const\s+)*(?:struct\s+|enum\s+|unsigned\s+|signed\s+)?"
    r"[A-Za-z_]\w*(?:\s*\*+\s*|\s+)\**[A-Za-z_]\w*(?:\[[^\]]*\])?(?:\s*,\s*\**\w+)*\s*;\s*$"
)


#: A local declaration initialised from a name or a constant (``MigrationState *s = opaque;``).
_LOCAL_INIT = re.compile(
    r"^\s+(?:const\s+)?(?:struct\s+)?[A-Za-z_]\w*\s*\**\s*\**[A-Za-z_]\w*\s*=\s*"
    r"(?:[A-Za-z_]\w*|NULL|-?\d+|false|true)\s*;\s*$"
)


@cache
def reasons() -> tuple[str, ...]:
    """For each seed line (index 0 is line 1), what kind of line it is."""
    lines = seed_lines()
    out: list[str] = []
    in_comment = False
    for number, text in enumerate(lines, 1):
        stripped = text.strip()
        was_comment = in_comment
        if "/*" in stripped and "*/" not in stripped.split("/*", 1)[1]:
            in_comment = True
        if in_comment and "*/" in stripped:
            in_comment = False
        fn = function_at(number)
        if not stripped:
            out.append("blank")
        elif was_comment or stripped.startswith(("/*", "//", "*")):
            out.append("comment")
        elif stripped.startswith("#"):
            out.append("preprocessor")
        elif stripped in ("{", "}", "};", "} else {"):
            out.append("brace")
        elif fn is None:
            out.append("declaration outside functions")
        elif number < fn.body:
            out.append("function header")
        elif (_LOCAL.match(text) or _LOCAL_INIT.match(text)) and "return" not in stripped:
            out.append("local declaration")
        else:
            out.append("behaviour")
    return tuple(out)


def _requirement_lines() -> set[int]:
    cited: set[int] = set()
    for spec in (
        [r.lines for r in REQUIREMENTS]
        + [t.lines for t in TRANSITIONS]
        + [c.lines for c in COMMANDS]
        + [e.lines for e in ERRORS]
        + [p.lines for p in PARAMETERS]
        + [v.lines for v in (SPEED, DOWNTIME, CACHE_SIZE)]
        + [s.outgoing_lines for s in SCHEMES] + [s.incoming_lines for s in SCHEMES]
    ):
        cited |= line_numbers(str(spec))
    return cited


@cache
def marks() -> tuple[str, ...]:
    """For each seed line: REQUIREMENT, DEFECT (cited only by a defect) or UNCITED."""
    req = _requirement_lines()
    defect: set[int] = set()
    for d in DEFECTS:
        defect |= line_numbers(d.lines)
    return tuple(
        REQUIREMENT if n in req else DEFECT if n in defect else UNCITED
        for n in range(1, len(seed_lines()) + 1)
    )


@dataclass(frozen=True)
class Coverage:
    """Counts over the seed's lines."""

    lines: int
    behaviour: int  # lines whose kind is "behaviour"
    behaviour_cited: int  # of those, cited by a requirement
    behaviour_defect_only: int
    cited: int  # any line cited by a requirement
    defect_only: int

    @property
    def percent(self) -> float:
        """Behaviour lines cited by a requirement, in percent."""
        return 100.0 * self.behaviour_cited / self.behaviour if self.behaviour else 100.0


def coverage(first: int = 1, last: int | None = None) -> Coverage:
    """Coverage of seed lines ``first..last``."""
    m, r = marks(), reasons()
    last = len(m) if last is None else last
    span = range(first - 1, last)
    return Coverage(
        lines=len(span),
        behaviour=sum(1 for i in span if r[i] == "behaviour"),
        behaviour_cited=sum(1 for i in span if r[i] == "behaviour" and m[i] == REQUIREMENT),
        behaviour_defect_only=sum(1 for i in span if r[i] == "behaviour" and m[i] == DEFECT),
        cited=sum(1 for i in span if m[i] == REQUIREMENT),
        defect_only=sum(1 for i in span if m[i] == DEFECT),
    )


#: Why a behaviour line no requirement cites carries nothing a client can
#: observe, by what the line does (first match wins); "gap" otherwise.
_WHY = (
    (re.compile(r"\btrace_\w+\("), "tracing"),
    (re.compile(r"qemu_mutex_(?:un)?lock|rcu_(?:un)?register_thread"),
     "locking and RCU registration, modelled by the step boundaries"),
    (re.compile(r"g_malloc|g_free|QLIST_INIT|free_\w+\(|_destroy\(|qemu_fclose|= NULL;"),
     "memory and file management"),
    (re.compile(r"notifier_(?:list_add|remove)"), "notifier registration"),
    (re.compile(r"_threads_join\(|_threads_create\("), "compression threads (not modelled)"),
)


def why_uncited(line: int) -> str:
    """Why behaviour line ``line`` is not cited by a requirement."""
    text = seed_lines()[line - 1]
    for pattern, why in _WHY:
        if pattern.search(text):
            return why
    fn = function_at(line)
    if fn is not None:
        body = [n for n in range(fn.body + 1, fn.end) if reasons()[n - 1] == "behaviour"]
        if len(body) <= 2 and re.search(r"\breturn\b|migrate_get_current\(\)", text):
            return "accessor: the engine reads the field directly"
    return "gap: behaviour no requirement covers yet"
