"""The built website in a real browser: Debian's chromium, headless, loads every
page over a loopback HTTP server; a broken link or image, a console error, or a
diagram that did not render fails.

Skips without chromium unless CI=true (then it fails: CI installs it). Set
MIGSPEC_SCREENSHOTS=DIR to also save PNG screenshots of a few pages there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from support import need_program

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Pages photographed when MIGSPEC_SCREENSHOTS is set.
SCREENSHOTS = ("index.html", "reference/diagrams.html", "reference/seed.html",
               "reference/trace/index.html", "reference/defects/DEF-EVENT-ORDER.html")


def _need_browser() -> None:
    need_program(CHROMIUM)
    if shutil.which("dot") is None and os.environ.get("CI") != "true":
        pytest.skip("graphviz's dot is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need_browser()
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                    "-d", str(out)], cwd=ROOT, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return out


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``python -m http.server`` on loopback, a free port; ended by its PID."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"port (\d+)", line)
        assert m, f"http.server said {line!r}"
        yield f"http://127.0.0.1:{m.group(1)}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


def _ids(path: Path) -> set[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.ids


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


def browse(site: Path, server: str, profile: Path, shots: str | None = None) -> list[str]:
    """Load every page of ``site`` (served at ``server``) in headless chromium; the
    problems: console errors, failed requests, images not decoded, broken
    same-site links and missing #anchors."""
    from playwright.sync_api import sync_playwright

    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if p.name != "404.html")
    problems: list[str] = []
    links: dict[str, str] = {}  # absolute URL -> the page it was found on
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = ctx.new_page()
            current = [""]
            page.on("console", lambda m: problems.append(f"{current[0]}: console "
                    f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"{current[0]}: {e}"))
            # net::ERR_ABORTED: a request still running when the next page loads
            # (the search worker); a missing file answers 404 instead.
            page.on("requestfailed", lambda r: problems.append(
                f"{current[0]}: request failed {r.url}: {r.failure}")
                if "ERR_ABORTED" not in str(r.failure) else None)
            page.on("response", lambda r: problems.append(
                f"{current[0]}: HTTP {r.status} {r.url}") if r.status >= 400 else None)
            for rel in pages:
                current[0] = rel
                response = page.goto(server + rel, wait_until="load")
                assert response is not None and response.ok, rel
                broken = page.eval_on_selector_all(
                    "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
                    ".map(i => i.getAttribute('src'))")
                problems += [f"{rel}: image did not render: {src}" for src in broken]
                for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                    if urlparse(href).netloc == urlparse(server).netloc:
                        links.setdefault(href, rel)
                if shots and rel in SCREENSHOTS:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(shots) / (rel.replace("/", "_") + ".png")))
        finally:
            ctx.close()
    ids: dict[str, set[str]] = {}
    for href, found_on in sorted(links.items()):
        url, fragment = urldefrag(href)
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                status = reply.status
        except urllib.error.HTTPError as err:
            status = err.code
        if status != 200:
            problems.append(f"{found_on}: broken link {href} (HTTP {status})")
            continue
        if fragment:
            path = urlparse(url).path.lstrip("/") or "index.html"
            target = site / (path + "index.html" if path.endswith("/") else path)
            if target.suffix == ".html":
                if path not in ids:
                    ids[path] = _ids(target)
                if fragment not in ids[path]:
                    problems.append(f"{found_on}: link {href}: no #{fragment} there")
    return problems


def test_every_page_loads_without_errors(site: Path, server: str, tmp_path: Path) -> None:
    """Every page of the built site: no console error, no failed request, every
    image (diagrams included) decoded, every same-site link and #anchor found."""
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert {"reference/trace/index.html", "reference/seed.html",
            "reference/diagrams.html", "guide/running.html"} <= pages
    assert browse(site, server, tmp_path / "profile",
                  os.environ.get("MIGSPEC_SCREENSHOTS")) == []


def test_the_check_sees_what_is_broken(tmp_path: Path) -> None:
    """The same check on a two-page site with a broken image, a broken link, a
    missing anchor and a script error reports each of them."""
    _need_browser()
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "ok.html").write_text('<html><body><p id="here">ok</p></body></html>')
    (folder / "bad.html").write_text(
        '<html><body><img src="missing.svg"><a href="gone.html">x</a>'
        '<a href="ok.html#nowhere">y</a><a href="ok.html#here">z</a>'
        "<script>undefinedFunction()</script></body></html>")
    with serve(folder) as url:
        problems = browse(folder, url, tmp_path / "profile")
    text = "\n".join(problems)
    assert "image did not render: missing.svg" in text
    assert "broken link" in text and "gone.html (HTTP 404)" in text
    assert "no #nowhere there" in text
    assert "undefinedFunction" in text
    assert "#here" not in text


def test_diagrams_are_svg_images(site: Path) -> None:
    """The diagrams page shows the state machine of each profile as an SVG drawn by
    Graphviz, and each file it names exists and is an SVG."""
    text = (site / "reference" / "diagrams.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img[^>]+src="([^"]+\.svg)"', text)
    assert "diagrams/state-machine-seed.svg" in srcs
    assert "diagrams/state-machine-fixed.svg" in srcs
    for src in srcs:
        svg = (site / "reference" / urljoin("x", src)).read_text(encoding="utf-8")
        assert "<svg" in svg and "</svg>" in svg, src
