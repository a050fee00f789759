"""The built site in a real browser (headless Chromium), served on localhost, as a reader uses it."""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from dojo import paths

CHROMIUM = os.environ.get("DOJO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = paths.REPO / "artifacts" / "screenshots"
# a closed network refuses Chromium's own background traffic; these flags keep it quiet
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(built_site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("DOJO_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI installs Debian's `chromium` package")
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); CI runs these checks")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Visit:
    """A browser page that records console errors and every request it makes."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path, wait_until="networkidle")
        return self.page

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if urlsplit(url).hostname not in ("127.0.0.1", "localhost", None)]


@pytest.fixture
def visit(browser: Any, site_url: str) -> Iterator[Visit]:
    current = Visit(browser, site_url)
    yield current
    assert current.errors == [], f"console errors: {current.errors}"
    assert current.foreign_requests() == [], "the site must work offline: it asked other hosts"
    current.page.close()


def test_the_home_page_shows_the_quickstart(visit: Visit) -> None:
    page = visit.open("/")
    assert page.locator("h1").first.inner_text().startswith("Backend Standards Dojo")
    quickstart = page.locator("article").inner_text()
    assert "Quickstart" in quickstart
    assert "uv run mkdocs serve" in quickstart
    assert "uv run pytest katas" in quickstart
    visit.screenshot("home")


def test_searching_select_related_finds_the_n_plus_one_rule(visit: Visit) -> None:
    page = visit.open("/")
    page.keyboard.press("/")
    page.locator("input.md-search__input").press_sequentially("select_related", delay=20)
    first = page.locator(".md-search-result__item").first
    first.wait_for(timeout=10_000)
    assert "PERF-2" in first.inner_text()
    visit.screenshot("search")
    first.locator("a").first.click()
    page.wait_for_url("**/rules/perf-2/**")


def test_bad_and_good_tabs_switch(visit: Visit) -> None:
    page = visit.open("/rules/perf-2/")
    good_code = page.locator(".tabbed-block").nth(1)
    assert not good_code.is_visible()
    page.locator(".tabbed-labels label", has_text="Good").first.click()
    assert good_code.is_visible()
    assert 'select_related("customer")' in good_code.inner_text()
    assert not page.locator(".tabbed-block").nth(0).is_visible()
    good_code.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let the tab indicator finish moving before the screenshot
    visit.screenshot("tabs-good")


def svgs_in_shadow_roots(page: Any) -> int:
    """SVG elements inside shadow roots. Material draws mermaid diagrams in a closed shadow root,
    which only the browser's DevTools protocol can look into."""
    session = page.context.new_cdp_session(page)
    document = session.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]

    def count(node: dict[str, Any], in_shadow: bool) -> int:
        found = int(in_shadow and node.get("nodeName", "").lower() == "svg")
        for child in node.get("children", []):
            found += count(child, in_shadow)
        for shadow in node.get("shadowRoots", []):
            found += count(shadow, True)
        if "contentDocument" in node:
            found += count(node["contentDocument"], in_shadow)
        return found

    return count(document, False)


def test_a_mermaid_diagram_is_drawn(visit: Visit) -> None:
    page = visit.open("/rules/data-3/")
    host = page.locator("div.mermaid").first
    host.wait_for(timeout=15_000)  # the source <pre class="mermaid"> is replaced once drawn
    page.wait_for_function("() => document.querySelector('div.mermaid')?.getBoundingClientRect().height > 100")
    assert svgs_in_shadow_roots(page) >= 1
    host.scroll_into_view_if_needed()
    visit.screenshot("mermaid")


def test_a_kata_page_opens_its_hints_and_the_solution_spoiler(visit: Visit) -> None:
    page = visit.open("/katas/n_plus_one/")
    hint = page.locator("details", has=page.locator("summary", has_text="Hint 1"))
    assert not hint.locator("p").first.is_visible()
    hint.locator("summary").click()
    assert "Count the queries" in hint.locator("p").first.inner_text()
    spoiler = page.locator("details", has=page.locator("summary", has_text="the lesson as a diff"))
    spoiler.locator("summary").click()
    assert 'prefetch_related("lines")' in spoiler.locator("pre").inner_text()
    spoiler.scroll_into_view_if_needed()
    visit.screenshot("kata-spoiler")


def test_every_internal_link_resolves(built_site: Path, tmp_path: Path) -> None:
    """LinkChecker on the built site: every link to a page or file of the site exists.

    External links are not followed (the tests never reach the network). LinkChecker drops root
    privileges, so it reads a world-readable copy of the site.
    """
    readable = Path(tempfile.mkdtemp(prefix="dojo-site-"))
    try:
        shutil.copytree(built_site, readable, dirs_exist_ok=True)
        for folder in [readable, *(p for p in readable.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
        config = tmp_path / "linkcheckerrc"
        config.write_text("[checking]\nthreads=10\n", encoding="utf-8")
        completed = subprocess.run(
            [
                str(Path(sys.executable).parent / "linkchecker"),
                *("--config", str(config), "--no-status", "-o", "text"),
                *("--ignore-url", "/assets/vendor/", str(readable / "index.html")),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        shutil.rmtree(readable)
    assert completed.returncode == 0, completed.stdout[-5000:]
    assert " 0 errors found" in completed.stdout


class Anchors(HTMLParser):
    """The ids a page defines and the links it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))


def test_every_internal_anchor_resolves(built_site: Path) -> None:
    """Links with a #fragment land on an element with that id (LinkChecker's anchor check is far too
    slow for a site whose every page links every other; this one reads each page once)."""
    pages = {path: Anchors() for path in built_site.rglob("*.html") if path.name != "404.html"}
    for path, parsed in pages.items():
        parsed.feed(path.read_text(encoding="utf-8"))
    broken = []
    for path, parsed in pages.items():
        for link in parsed.links:
            target, _, fragment = link.partition("#")
            if not fragment or urlsplit(target).scheme or target.startswith("/"):
                continue
            file = (path.parent / target).resolve() if target else path
            file = file / "index.html" if file.is_dir() else file
            if file in pages and unquote(fragment) not in pages[file].ids:
                broken.append(f"{path.relative_to(built_site)}: {link}")
    assert broken == []
