"""The `migspec run` examples in README.md and docs/ print what the text says.

An example is a ``sh`` block that runs ``migspec run`` (a heredoc on standard
input, or a file an earlier ``cat > FILE <<'EOF'`` block wrote; a command
named in inline code in the prose counts too), followed by a ``json`` block:
the lines ``migspec run`` must print. The website shows the same text
(guide/running.md includes README's sections), so a stale example fails here.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
_HEREDOC_FILE = re.compile(r"cat > (\S+) <<'EOF'\n(.*?)\nEOF\n", re.S)
_HEREDOC_RUN = re.compile(r"migspec run((?: --profile \S+)?) - <<'EOF'\n(.*?)\nEOF\n", re.S)
_FILE_RUN = re.compile(r"^migspec run((?: --profile \S+)?) (\S+)$", re.M)
_INLINE_RUN = re.compile(r"`migspec run((?: --profile \S+)?) (\S+)`")


@dataclass(frozen=True)
class Example:
    where: str
    args: tuple[str, ...]
    stdin: str
    expected: tuple[str, ...]


def examples(path: Path) -> list[Example]:
    """Every `migspec run` example of ``path`` with the output the text shows."""
    text = path.read_text(encoding="utf-8")
    files: dict[str, str] = {}
    pending: tuple[tuple[str, ...], str] | None = None
    out: list[Example] = []
    pos = 0
    for m in _FENCE.finditer(text):
        prose, lang, body = text[pos:m.start()], m.group(1), m.group(2)
        pos = m.end()
        for inline in _INLINE_RUN.finditer(prose):
            if inline.group(2) in files:
                pending = (tuple(shlex.split(inline.group(1))), files[inline.group(2)])
        if lang == "sh":
            for h in _HEREDOC_FILE.finditer(body):
                files[h.group(1)] = h.group(2) + "\n"
            run = _HEREDOC_RUN.search(body)
            if run:
                pending = (tuple(shlex.split(run.group(1))), run.group(2) + "\n")
            for f in _FILE_RUN.finditer(body):
                if f.group(2) in files:
                    pending = (tuple(shlex.split(f.group(1))), files[f.group(2)])
        elif lang == "json" and pending is not None:
            line = text.count("\n", 0, m.start()) + 1
            out.append(Example(f"{path.relative_to(ROOT)}:{line}", pending[0], pending[1],
                               tuple(body.splitlines())))
            pending = None
    return out


ALL = [e for path in SOURCES for e in examples(path)]


def test_the_examples_are_found() -> None:
    """README's three (the session, the stuck cancel under seed and under fixed)
    and the guide's own example are all collected."""
    where = [e.where.split(":")[0] for e in ALL]
    assert where.count("README.md") >= 3
    assert "docs/guide/running.md" in where
    assert ("--profile", "fixed") in [e.args for e in ALL]


@pytest.mark.parametrize("example", ALL, ids=[e.where for e in ALL])
def test_example_prints_what_the_text_says(example: Example) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "migspec", "run", *example.args, "-"],
        input=example.stdin, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert tuple(done.stdout.splitlines()) == example.expected
