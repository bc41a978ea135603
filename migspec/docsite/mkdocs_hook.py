"""MkDocs hook (``hooks:`` in mkdocs.yml): before each build, write the pages
built from the code (traceability, source listings) into docs/reference/, as
``migspec docs`` does, so ``mkdocs build`` alone gives a complete site. Files
already current are left alone (``mkdocs serve`` would otherwise rebuild for
ever)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_pre_build(config: Any) -> None:
    from migspec.docsite import pages

    out = Path(config["docs_dir"]) / "reference"
    pages.write_if_changed(out, pages.build_documents())
