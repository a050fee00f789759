"""The built site in a real browser (headless Chromium), served on localhost, as a reader uses it."""

import functools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from dojo import paths, site, trees
from dojo.browser import bundle as browser_bundle
from dojo.manifest import kata_by_slug, load_katas
from dojo.rules import load_rules
from dojo.runner import grade
from tests.test_editor_contrast import contrast

from .conftest import progress

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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

    def __init__(self, browser: Any, base: str, width: int = 1280, dark: bool = False) -> None:
        self.base = base
        self.page = browser.new_page(
            viewport={"width": width, "height": 900 if width > 600 else 844},
            color_scheme="dark" if dark else "light",
        )
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path, wait_until="networkidle")
        return self.page

    def screenshot(self, name: str, *, full_page: bool = False) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    def horizontal_overflow(self) -> int:
        """How many pixels the page is wider than the window (0: no horizontal scroll)."""
        return int(self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if urlsplit(url).hostname not in ("127.0.0.1", "localhost", None)]


@pytest.fixture
def visits(browser: Any, site_url: str) -> Iterator[Callable[..., Visit]]:
    """Open browser pages (`visits(width=390, dark=True)`); each must log no error and stay offline."""
    opened: list[Visit] = []

    def new(width: int = 1280, dark: bool = False) -> Visit:
        opened.append(Visit(browser, site_url, width, dark))
        return opened[-1]

    yield new
    for current in opened:
        assert current.errors == [], f"console errors: {current.errors}"
        assert current.foreign_requests() == [], "the site must work offline: it asked other hosts"
        current.page.close()


@pytest.fixture
def visit(visits: Callable[..., Visit]) -> Visit:
    return visits()


def test_the_home_page_shows_the_hero_the_three_ways_in_and_the_quickstart(visit: Visit) -> None:
    page = visit.open("/")
    assert page.locator(".dojo-hero h1").inner_text().startswith("Backend Standards Dojo")
    cards = page.locator(".grid.cards > ul > li")
    assert [cards.nth(n).locator("strong").first.inner_text() for n in range(cards.count())] == [
        "Read the standard",
        "Train",
        "Run a workshop",
    ]
    boxes = [cards.nth(n).bounding_box() for n in range(3)]
    assert len({round(box["y"]) for box in boxes}) == 1, "the three cards side by side at 1280 px"
    article = page.locator("article").inner_text()
    assert "Quickstart" in article
    assert "uv run mkdocs serve" in article
    assert "uv run pytest katas" in article
    assert "The learning path" in article
    assert visit.horizontal_overflow() == 0
    visit.screenshot("home")
    visit.screenshot("home-full", full_page=True)


def test_the_home_page_on_a_phone_stacks_its_cards_without_scrolling_sideways(visits: Callable[..., Visit]) -> None:
    visit = visits(width=390)
    page = visit.open("/")
    cards = page.locator(".grid.cards > ul > li")
    boxes = [cards.nth(n).bounding_box() for n in range(3)]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"], "one card per row on a phone"
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= 390 for box in boxes)
    assert visit.horizontal_overflow() == 0
    visit.screenshot("home-390")
    visit.screenshot("home-390-full", full_page=True)


def test_the_coverage_reads_at_1280_px_without_scrolling_sideways(visit: Visit) -> None:
    page = visit.open("/rules/coverage/")
    assert visit.horizontal_overflow() == 0
    overflowing = page.evaluate(
        "() => [...document.querySelectorAll('article .md-typeset__table, article table')]"
        ".filter(box => box.scrollWidth > box.clientWidth + 1).length"
    )
    assert overflowing == 0, "a coverage table scrolls sideways"
    tables = page.locator("article table")
    assert tables.count() == len({rule.section for rule in load_rules().values()})
    perf_2 = page.locator("tr", has=page.locator("a", has_text="PERF-2"))
    assert "n_plus_one" in perf_2.inner_text()
    kept = page.locator("tr", has_text="Kept by tooling and review")
    assert kept.count() == sum(1 for rule in load_rules().values() if not site.katas_for_rule(rule.id))
    visit.screenshot("coverage")
    visit.screenshot("coverage-full", full_page=True)


def test_the_katas_index_shows_each_slug_with_its_level_and_minutes(visit: Visit) -> None:
    page = visit.open("/katas/")
    rows = page.locator("article table tbody tr")
    assert rows.count() == len(load_katas())
    for number, kata in enumerate(load_katas()):
        cells = rows.nth(number).locator("td").all_inner_texts()
        assert cells[2:5] == [kata.slug, kata.difficulty, str(kata.minutes)]
    assert visit.horizontal_overflow() == 0
    visit.screenshot("katas-index")


def test_a_rule_page_frames_its_body_in_light_and_dark(visits: Callable[..., Visit]) -> None:
    for dark in (False, True):
        visit = visits(dark=dark)
        page = visit.open("/rules/perf-2/")
        assert page.locator("h1").first.inner_text().startswith("PERF-2 · Avoid N+1 queries")
        assert page.locator(".admonition.quote").first.is_visible()
        scheme = page.evaluate("() => document.body.getAttribute('data-md-color-scheme')")
        assert scheme == ("slate" if dark else "default")
        visit.screenshot("rule-dark" if dark else "rule")
    home = visits(dark=True)
    home.open("/")
    home.screenshot("home-dark")
    coverage = visits(dark=True)
    coverage.open("/rules/coverage/")
    coverage.screenshot("coverage-dark")


def test_the_agendas_run_on_the_clock_with_their_breaks(visit: Visit) -> None:
    page = visit.open("/workshops/agendas/")
    for agenda in site.AGENDAS:
        times = list(site.clock(agenda))
        table = page.locator("article table").nth(site.AGENDAS.index(agenda))
        rows = table.locator("tbody tr")
        assert rows.count() == len(times)
        assert [rows.nth(n).locator("td").first.inner_text() for n in range(rows.count())] == [t for t, _ in times]
    assert page.locator("article td", has_text="Lunch").count() == 1
    assert visit.horizontal_overflow() == 0
    visit.screenshot("agendas")


def test_code_formatted_to_88_columns_fits_the_text_column_at_1280_px(visit: Visit) -> None:
    """Examples are formatted to 88 columns (docs/ruff.toml): none of them scrolls at 1280 px."""
    cut = []
    for rule in load_rules().values():
        page = visit.open(f"/{rule.page}")
        cut += page.evaluate(
            """(page) => [...document.querySelectorAll('article pre > code')]
            .filter(code => code.offsetParent !== null)
            .filter(code => Math.max(...code.innerText.split('\\n').map(line => line.length)) <= 88)
            .filter(code => code.scrollWidth > code.clientWidth)
            .map(code => page + ': ' + code.innerText.split('\\n')[0])""",
            rule.page,
        )
    assert cut == []


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
    assert page.locator("article p").first.inner_text().startswith("n_plus_one · beginner · about 15 minutes")
    visit.screenshot("kata")
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


# "Try it here": the real grader of a kata, on Pyodide in a Web Worker (dojo/browser/, dojo-try.js)
RUNNER_SECONDS = 240  # a ceiling for a wait, not a timed assertion: the page answers when it has graded


@pytest.fixture(scope="module")
def runner_site(built_site: Path) -> Path:
    """The built site, which must carry the in-browser runner when CI asks for the browser checks."""
    manifest = json.loads((built_site / "assets" / "runtime" / "runtime.json").read_text(encoding="utf-8"))
    if not manifest["available"]:
        if os.environ.get("DOJO_REQUIRE_BROWSER"):
            pytest.fail(f"the in-browser runner was not built: {manifest['reason']}")
        pytest.skip(f"the in-browser runner was not built: {manifest['reason']}; CI runs these checks")
    return built_site


def _open_panel(visit: Visit, slug: str = "n_plus_one") -> Any:
    page = visit.open(f"/katas/{slug}/")
    page.locator(".dojo-try__tabs").wait_for(timeout=RUNNER_SECONDS * 1000)
    return page


def _files(page: Any) -> dict[str, str]:
    """What the editors of the panel hold, by file name."""
    return dict(page.evaluate("() => document.querySelector('.dojo-try').dojoTry.files()"))


def _type(page: Any, name: str, text: str) -> None:
    """Select all of a file in its editor and type `text` over it, as a learner pasting code."""
    page.locator(".dojo-try__tab", has_text=name).first.click()
    content = page.locator(f".dojo-try__pane[data-file='{name}'] .cm-content")
    content.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
    assert _files(page)[name] == text


def _check(page: Any) -> str:
    """Press Check and return the verdict the page shows."""
    page.locator(".dojo-try__status", has_text="Ready").wait_for(timeout=RUNNER_SECONDS * 1000)
    page.locator(".dojo-try button", has_text="Check").click()
    verdict = page.locator(".dojo-try__verdict")
    verdict.wait_for(timeout=RUNNER_SECONDS * 1000)
    return str(verdict.inner_text())


STARTER = paths.KATAS / "n_plus_one" / "services.py"
SOLUTION = paths.SOLUTIONS / "n_plus_one" / "services.py"


def test_the_starter_fails_its_lesson_in_the_browser_the_solution_passes_and_a_reload_keeps_it(
    runner_site: Path, visit: Visit, tmp_path: Path
) -> None:
    # the command line's verdict on the starter as shipped: the page must say the same
    shipped = grade(["katas/n_plus_one"], kata_root=trees.starter_tree(tmp_path / "katas")).katas["n_plus_one"]
    checks = len(shipped.tests)
    failing = sum(test.outcome == "failed" for test in shipped.tests)
    assert failing >= 1
    page = _open_panel(visit)
    assert _files(page) == {"services.py": STARTER.read_text(encoding="utf-8")}
    assert _check(page) == f"{failing} of {checks} checks fail."
    failed = page.locator(".dojo-try__check--failed")
    assert failed.count() == failing
    assert "some query runs once per invoice (the N+1 pattern)" in failed.nth(0).inner_text()
    assert failed.nth(0).locator("a").get_attribute("href") == f"{visit.base}/rules/perf-2/"
    visit.screenshot("kata-try-starter")
    solution = SOLUTION.read_text(encoding="utf-8")
    _type(page, "services.py", solution)
    assert _check(page) == f"Solved: all {checks} checks pass."
    assert page.locator(".dojo-try__check--failed").count() == 0
    page.reload(wait_until="load")
    page.locator(".dojo-try__tabs").wait_for()
    assert _files(page) == {"services.py": solution}


def test_a_warning_fails_the_same_checks_in_the_browser_as_on_the_command_line(
    runner_site: Path, visit: Visit, tmp_path: Path
) -> None:
    """The project's warnings are errors (pyproject.toml): in the page too, or a warning passes there only."""
    solution = SOLUTION.read_text(encoding="utf-8")
    docstring = '    """Every invoice an organization issued in a month, with its customer, line count and total."""\n'
    warned = "import warnings\n" + solution.replace(
        docstring, docstring + '    warnings.warn("totals are estimates", UserWarning, stacklevel=1)\n', 1
    )
    assert warned.count("warnings.warn(") == 1
    tree = tmp_path / "katas"
    shutil.copytree(paths.SOLUTIONS / "n_plus_one", tree / "n_plus_one", ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "n_plus_one" / "services.py").write_text(warned, encoding="utf-8")
    graded = grade(["katas/n_plus_one"], kata_root=tree).katas["n_plus_one"]
    failing = sum(test.outcome == "failed" for test in graded.tests)
    assert failing >= 1
    page = _open_panel(visit)
    _type(page, "services.py", warned)
    assert _check(page) == f"{failing} of {len(graded.tests)} checks fail."


def test_an_endless_loop_in_the_browser_is_stopped_with_a_message(runner_site: Path, visit: Visit) -> None:
    visit.page.add_init_script("localStorage.setItem('dojo-try:limit-seconds', '5')")
    page = _open_panel(visit)
    starter = STARTER.read_text(encoding="utf-8")
    looping = starter.replace('    """', '    while True:\n        pass\n    """', 1)
    assert looping != starter
    _type(page, "services.py", looping)
    verdict = _check(page)
    assert verdict == "The grading ran for more than 5 s, so it was stopped: look for a loop that never ends."
    assert page.locator(".dojo-try button", has_text="Check").is_enabled()


def test_the_editor_has_a_tab_per_file_highlights_python_and_keeps_the_other_files_read_only(
    runner_site: Path, visit: Visit
) -> None:
    page = _open_panel(visit)
    starter = sorted(path.name for path in (paths.KATAS / "n_plus_one").glob("*.py"))
    tabs = page.locator(".dojo-try__tab").all_inner_texts()
    assert tabs[0] == "services.py"
    assert sorted(tab.removesuffix(" (read only)") for tab in tabs) == starter
    assert all(tab.endswith("(read only)") for tab in tabs[1:])
    # highlighting: the tokens of a line are spans, and a keyword is drawn in another colour than a name
    line = page.locator(".dojo-try__pane[data-file='services.py'] .cm-line", has_text="def monthly_statement").first
    colours = line.locator("span").evaluate_all("spans => spans.map(span => getComputedStyle(span).color)")
    assert len(set(colours)) >= 2
    page.locator(".dojo-try__tab", has_text="models.py").click()
    models = page.locator(".dojo-try__pane[data-file='models.py']")
    assert models.is_visible()
    assert not page.locator(".dojo-try__pane[data-file='services.py']").is_visible()
    assert models.locator(".cm-content").get_attribute("contenteditable") == "false"
    assert "class Invoice" in models.inner_text()
    models.locator(".cm-content").click()
    page.keyboard.insert_text("oops")
    assert "oops" not in models.inner_text()
    assert set(_files(page)) == {"services.py"}
    visit.screenshot("kata-try-tabs")


def _rgb(css: str) -> tuple[float, float, float]:
    """A computed colour, `rgb(r, g, b)`, as sRGB channels from 0 to 1."""
    channels = css.removeprefix("rgba(").removeprefix("rgb(").removesuffix(")").split(",")
    red, green, blue = (int(channel) / 255 for channel in channels[:3])
    return (red, green, blue)


def test_the_editor_s_colours_read_at_4_5_to_1_in_light_and_dark(
    runner_site: Path, visits: Callable[..., Visit]
) -> None:
    for dark in (False, True):
        visit = visits(dark=dark)
        page = _open_panel(visit)
        pane = page.locator(".dojo-try__pane[data-file='services.py']")
        background = _rgb(pane.evaluate("pane => getComputedStyle(pane).backgroundColor"))
        drawn = pane.locator(".cm-content span").evaluate_all(
            "spans => [...new Set(spans.map(span => getComputedStyle(span).color))]"
        )
        drawn.append(pane.locator(".cm-content").evaluate("content => getComputedStyle(content).color"))
        drawn.append(pane.locator(".cm-gutters").evaluate("gutters => getComputedStyle(gutters).color"))
        assert len(drawn) >= 5, drawn  # keywords, strings, comments, names: the tokens have their colours
        faint = [colour for colour in drawn if contrast(_rgb(colour), background) < 4.5]
        assert faint == [], f"{'slate' if dark else 'default'}: {faint} on {background}"
        # the tabs just under the site's sticky header, the editor below them
        page.evaluate("() => { document.querySelector('.dojo-try__tabs').scrollIntoView(); window.scrollBy(0, -80); }")
        visit.screenshot("kata-editor-dark" if dark else "kata-editor")


# records every text the status line and the progress detail show, from the page's first script on
RECORD_STATUS = """
window.dojoSeen = [];
const last = new Map();
new MutationObserver(() => {
  for (const node of document.querySelectorAll(".dojo-try__status, .dojo-try__progress-detail")) {
    const text = node.textContent;
    if (text && last.get(node.className) !== text) window.dojoSeen.push(text);
    last.set(node.className, text);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def test_while_python_loads_the_page_says_each_step_and_how_long_the_last_start_took(
    runner_site: Path, visit: Visit
) -> None:
    visit.page.add_init_script(RECORD_STATUS)
    page = _open_panel(visit)
    status = page.locator(".dojo-try__status", has_text="Ready")
    status.wait_for(timeout=RUNNER_SECONDS * 1000)
    assert re.fullmatch(r"Ready: Python is loaded \(in \d+\.\d s\)\. Press Check to grade\.", status.inner_text())
    seen = page.evaluate("() => window.dojoSeen")
    said = [text for text in seen if text.startswith("Loading Python")]
    assert [text.split(":")[0] for text in said] == [
        "Loading Python, step 1 of 3",
        "Loading Python, step 2 of 3",
        "Loading Python, step 3 of 3",
    ]
    assert "The first start in this browser takes longest" in said[0]
    wheels = len(
        json.loads((runner_site / "assets" / "runtime" / "runtime.json").read_text(encoding="utf-8"))["wheels"]
    )
    assert any(text.startswith(f"Step 2 of 3: {wheels} of {wheels} packages (") for text in seen), seen
    assert not page.locator(".dojo-try__loading").is_visible()
    last = float(page.evaluate("() => localStorage.getItem('dojo-try:load-seconds')"))
    assert last > 0

    page.reload(wait_until="load")
    page.locator(".dojo-try__tabs").wait_for()
    assert page.locator(".dojo-try__progress").is_visible()
    first = page.evaluate("() => window.dojoSeen.find(text => text.startsWith('Loading Python'))")
    assert first.endswith(f"It took {math.floor(last + 0.5)} s last time.")  # as Math.round
    page.locator(".dojo-try__status", has_text="Ready").wait_for(timeout=RUNNER_SECONDS * 1000)


def test_hints_open_one_at_a_time_and_stay_open_after_a_reload(runner_site: Path, visit: Visit) -> None:
    page = _open_panel(visit)
    hints = kata_by_slug()["n_plus_one"].hints
    shown = page.locator(".dojo-try__hints li")
    assert shown.count() == 0
    for number in range(1, len(hints) + 1):
        page.locator(".dojo-try button", has_text=f"Show hint {number} of {len(hints)}").click()
        assert shown.count() == number
    assert shown.nth(0).inner_text() == hints[0].replace("`", "")
    page.reload(wait_until="load")
    page.locator(".dojo-try__tabs").wait_for()
    assert shown.count() == len(hints)
    assert page.locator(".dojo-try button", has_text="No more hints").is_disabled()


def test_reset_to_starter_keeps_the_previous_version_one_undo_away(runner_site: Path, visit: Visit) -> None:
    page = _open_panel(visit)
    starter = STARTER.read_text(encoding="utf-8")
    mine = starter + "\n# my attempt\n"
    _type(page, "services.py", mine)
    undo = page.locator(".dojo-try button", has_text="Undo the reset")
    assert not undo.is_visible()
    page.locator(".dojo-try button", has_text="Reset to starter").click()
    assert _files(page) == {"services.py": starter}
    page.reload(wait_until="load")  # the previous version is kept across a reload too
    page.locator(".dojo-try__tabs").wait_for()
    assert _files(page) == {"services.py": starter}
    undo.click()
    assert _files(page) == {"services.py": mine}
    assert not undo.is_visible()


def test_the_kata_exports_as_a_zip_in_the_repository_layout_and_imports_back(
    runner_site: Path, visit: Visit, tmp_path: Path
) -> None:
    page = _open_panel(visit)
    solution = SOLUTION.read_text(encoding="utf-8")
    _type(page, "services.py", solution)
    with page.expect_download() as download:
        page.locator(".dojo-try button", has_text="Export as zip").click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    assert exported.name == "n_plus_one.zip"
    starter = {f"katas/n_plus_one/{path.name}": path for path in (paths.KATAS / "n_plus_one").glob("*.py")}
    with zipfile.ZipFile(exported) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(starter)
        texts = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    assert texts["katas/n_plus_one/services.py"] == solution
    assert texts["katas/n_plus_one/models.py"] == starter["katas/n_plus_one/models.py"].read_text(encoding="utf-8")

    # a zip made elsewhere (deflated, inside a clone's folder) brings its services.py back in
    mine = solution + "\n# continued on my machine\n"
    made = tmp_path / "from-my-clone.zip"
    with zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dojo/katas/n_plus_one/services.py", mine)
        archive.writestr("dojo/katas/n_plus_one/models.py", "not editable here")
    page.locator(".dojo-try input[type=file]").set_input_files(str(made))
    page.locator(".dojo-try__status", has_text="Imported services.py").wait_for()
    assert _files(page) == {"services.py": mine}
    page.locator(".dojo-try button", has_text="Undo the reset").click()
    assert _files(page) == {"services.py": solution}


def test_a_grading_while_mkdocs_serve_runs_rebuilds_nothing_and_the_open_page_shows_its_status(
    browser: Any, tmp_path: Path
) -> None:
    """The learner's set-up of docs/dojo-cli.md: the site served, a kata page open, a grading in the terminal."""
    from playwright.sync_api import Error as PlaywrightError

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
            cwd=paths.REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # the session's state folder: its results only
        )
    try:
        visit = Visit(browser, f"http://127.0.0.1:{port}")
        for _attempt in range(600):  # the first build comes before the server listens
            try:
                visit.page.goto(f"{visit.base}/katas/n_plus_one/", wait_until="load")
                break
            except PlaywrightError:  # the connection was refused: not listening yet
                assert server.poll() is None, log.read_text(encoding="utf-8")
                visit.page.wait_for_timeout(500)
        else:
            pytest.fail("mkdocs serve did not listen within five minutes")
        box = visit.page.locator(".dojo-status[data-kata='n_plus_one']")
        box.wait_for(state="attached")
        visit.page.wait_for_timeout(4_000)  # the first answer of dojo-status.json is drawn
        before, builds = box.inner_text(), log.read_text(encoding="utf-8").count("Documentation built")
        assert builds == 1, log.read_text(encoding="utf-8")

        grading = grade(["katas/n_plus_one"])  # the starter: failing, written to the session's state folder
        assert grading.katas["n_plus_one"].status == "failing"
        visit.page.wait_for_function(
            "([before]) => { const box = document.querySelector(\".dojo-status[data-kata='n_plus_one']\");"
            " return box.innerText !== before && box.innerText.includes('Failing'); }",
            arg=[before],
            timeout=30_000,
        )
        visit.page.wait_for_timeout(3_000)  # a rebuild, had the grading started one, would have begun
        assert log.read_text(encoding="utf-8").count("Building documentation") == 1, log.read_text(encoding="utf-8")
        visit.page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_zip_bomb_is_refused_unread_and_entries_the_kata_does_not_need_are_never_unpacked(
    runner_site: Path, visit: Visit, tmp_path: Path
) -> None:
    page = _open_panel(visit)
    before = _files(page)
    # 200 MB of zeros as the kata's file, deflated to a few hundred kilobytes
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("katas/n_plus_one/services.py", b"\0" * 200_000_000)
    page.locator(".dojo-try input[type=file]").set_input_files(str(bomb))
    page.locator(".dojo-try__status", has_text="too large for a kata file").wait_for()
    assert "Nothing was imported" in page.locator(".dojo-try__status").inner_text()
    assert _files(page) == before

    # the same, with its directory claiming 10 bytes: unpacking stops at the limit all the same
    liar = tmp_path / "liar.zip"
    data = bytearray(bomb.read_bytes())
    entry = data.find(b"PK\x01\x02")
    data[entry + 24 : entry + 28] = (10).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    page.locator(".dojo-try input[type=file]").set_input_files(str(liar))
    page.locator(".dojo-try__status", has_text="unpacks to more than").wait_for()
    assert _files(page) == before

    # a bomb beside the kata's file is never unpacked: the kata's file comes in
    mine = "# mine\n" + before["services.py"]
    beside = tmp_path / "beside.zip"
    with zipfile.ZipFile(beside, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("clone/.venv/big.bin", b"\0" * 300_000_000)
        archive.writestr("clone/katas/n_plus_one/services.py", mine)
    page.locator(".dojo-try input[type=file]").set_input_files(str(beside))
    page.locator(".dojo-try__status", has_text="Imported services.py").wait_for()
    assert _files(page) == {"services.py": mine}


def test_a_kata_whose_grader_cannot_run_in_the_browser_says_why_and_shows_the_command(built_site: Path) -> None:
    page = (built_site / "katas" / "ruff_clean" / "index.html").read_text(encoding="utf-8")
    ruff = browser_bundle._locked_version("ruff")
    assert f"does not run in the browser: its grader runs ruff {ruff} as a program of its own" in page
    assert f"is {browser_bundle.RUFF_WASM}, whose findings can differ" in page
    assert "uv run pytest katas/ruff_clean" in page
    assert 'class="dojo-try"' not in page
    page = (built_site / "katas" / "type_hints" / "index.html").read_text(encoding="utf-8")
    assert "does not run in the browser: its grader runs mypy --strict with the django-stubs plugin" in page


def test_a_kata_with_checks_that_need_postgresql_says_which_do_not_run_in_the_browser(built_site: Path) -> None:
    page = (built_site / "katas" / "service_roles" / "index.html").read_text(encoding="utf-8")
    assert 'class="dojo-try"' in page
    assert (
        "Every check runs in the browser but these: "
        "<code>test_two_admins_voiding_one_invoice_at_once_void_it_once</code>" in page
    )
    assert "incomplete, never solved" in page
    every = (built_site / "katas" / "n_plus_one" / "index.html").read_text(encoding="utf-8")
    assert "Every check of this kata runs in the browser." in every


# every kata of IN_BROWSER, starter and solution, each in a fresh worker, two workers at a time
GRADE_IN_WORKERS = """async ({ jobs, parallel }) => {
  const results = new Array(jobs.length);
  let next = 0;
  async function work() {
    while (next < jobs.length) {
      const index = next++;
      const { slug, replace } = jobs[index];
      const bundle = await (await fetch(`/assets/runtime/katas/${slug}.json`)).json();
      const files = { ...bundle.files };
      for (const [name, text] of Object.entries({ ...bundle.starter, ...replace })) {
        files[`katas/${slug}/${name}`] = text;
      }
      const worker = new Worker("/assets/javascripts/dojo-worker.mjs", { type: "module" });
      // as the page does: warm up on the harness's files while the learner edits, then grade
      const warm = await new Promise((resolve) => {
        worker.onmessage = ({ data }) => { if (data.type !== "progress") resolve(data); };
        worker.postMessage({ type: "warm", harness: bundle.files });
      });
      const data = warm.type !== "warm" ? warm : await new Promise((resolve) => {
        worker.onmessage = ({ data }) => { if (data.type !== "started" && data.type !== "progress") resolve(data); };
        worker.postMessage({ type: "grade", slug, files, skips: bundle.not_in_browser });
      });
      worker.terminate();
      const kata = data.report && data.report.katas && data.report.katas[slug];
      results[index] = kata
        ? Object.fromEntries(kata.tests.map((test) => [test.test, test.outcome]))
        : { "(no report)": `${data.type}: ${data.message || ""} ${(data.output || "").slice(-2000)}` };
    }
  }
  await Promise.all(Array.from({ length: parallel }, work));
  return results;
}"""


# a comma-separated subset of IN_BROWSER that the comparison grades (all of them when unset), to try one kata
ONLY_KATAS = "DOJO_BROWSER_KATAS"


def compared_katas() -> list[str]:
    """The katas the comparison grades: IN_BROWSER, or the part of it that `DOJO_BROWSER_KATAS` names."""
    named = [slug.strip() for slug in os.environ.get(ONLY_KATAS, "").split(",") if slug.strip()]
    unknown = sorted(set(named) - set(browser_bundle.IN_BROWSER))
    if unknown:
        pytest.fail(f"{ONLY_KATAS} names katas the browser does not grade: {', '.join(unknown)}")
    return [slug for slug in browser_bundle.IN_BROWSER if not named or slug in named]


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_kata_in_the_browser_gives_the_command_line_s_verdict_for_each_check(
    runner_site: Path, visit: Visit, on_postgresql: bool, request: pytest.FixtureRequest
) -> None:
    """The browser grades on SQLite: its verdicts are compared with the command line's on SQLite.

    `DOJO_BROWSER_KATAS=webhook_idempotency,atomic_invariants` compares those katas alone.
    """
    if on_postgresql:
        pytest.skip("the browser grades on SQLite, so it is compared with the command line on SQLite only")
    katas = kata_by_slug()
    slugs = compared_katas()
    targets = [f"katas/{slug}" for slug in slugs]
    progress(request.config, f"\nthe browser comparison: {len(slugs)} katas on the command line, starter and solution")
    command_line = {"starter": grade(targets), "solution": grade([*targets, "--solutions"])}
    jobs: list[dict[str, Any]] = []
    for slug in slugs:
        solution = {name: (paths.SOLUTIONS / slug / name).read_text(encoding="utf-8") for name in katas[slug].files}
        jobs += [{"slug": slug, "replace": {}}, {"slug": slug, "replace": solution}]
    visit.open("/")
    progress(request.config, f"the browser comparison: {len(jobs)} gradings in the browser, two workers at a time")
    graded = visit.page.evaluate(GRADE_IN_WORKERS, {"jobs": jobs, "parallel": 2})
    differ = {}
    for job, in_browser in zip(jobs, graded, strict=True):
        tree = "solution" if job["replace"] else "starter"
        slug = str(job["slug"])
        skips = browser_bundle.not_in_browser(katas[slug])  # by function: each of its parameters is skipped
        expected = {
            test.test: "skipped" if test.test.partition("[")[0] in skips else str(test.outcome)
            for test in command_line[tree].katas[slug].tests
        }
        for name in sorted(expected.keys() | in_browser.keys()):
            if in_browser.get(name) != expected.get(name):
                differ[f"{slug} {tree}: {name}"] = f"browser {in_browser.get(name)}, command line {expected.get(name)}"
    assert differ == {}
    starters = [result for job, result in zip(jobs, graded, strict=True) if not job["replace"]]
    assert all("failed" in result.values() for result in starters), "every starter fails some check"
