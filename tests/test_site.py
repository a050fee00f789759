"""The site: it builds strictly, every example runs, every rule has its page and every page is reachable."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import wsgiref.util
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from dojo import docs_hooks, paths, progress, site, sitegen, trees
from dojo.manifest import load_katas
from dojo.rules import load_rules

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^\s`]*)(.*)$")
PYTHON_LOOKING = re.compile(r"^\{?\.?(py|python\d?|pycon|python-repl|ipython\d?)$", re.IGNORECASE)


def fences(text: str) -> list[tuple[int, str, str]]:
    """Opening fences of a Markdown text: (line number, language, the rest of the info string)."""
    found, inside = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if not match:
            continue
        if inside is None:
            inside = match.group(1)
            found.append((number, match.group(2), match.group(3).strip()))
        elif match.group(1).startswith(inside) and not match.group(2):
            inside = None
    return found


def escaping_python_fences(text: str) -> list[str]:
    """Fences that look like Python but that the example runner would not collect."""
    problems = []
    for number, language, rest in fences(text):
        if language == "python" and rest:
            problems.append(f"line {number}: ```python {rest}")
        elif language != "python" and PYTHON_LOOKING.match(language):
            problems.append(f"line {number}: ```{language}{(' ' + rest) if rest else ''}")
    return problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```python\nx = 1\n```\n", []),
        ("```py\nx = 1\n```\n", ["line 1: ```py"]),
        ('    ```python title="a.py"\n    x = 1\n    ```\n', ['line 1: ```python title="a.py"']),
        ("```pycon\n>>> 1\n```\n", ["line 1: ```pycon"]),
        ("````markdown\n```py\n```\n````\n", []),
        ("```shell\nuv run pytest\n```\n", []),
    ],
)
def test_the_fence_check_finds_python_that_would_not_run(text: str, expected: list[str]) -> None:
    assert escaping_python_fences(text) == expected


def hand_written_pages() -> list[Path]:
    """The Markdown pages written by hand under `docs/` (not the folder the generator assembles)."""
    return [page for page in paths.DOCS.rglob("*.md") if not page.is_relative_to(sitegen.BUILD)]


def test_no_python_example_escapes_the_example_runner() -> None:
    problems = {
        str(page.relative_to(paths.DOCS)): escaping_python_fences(page.read_text(encoding="utf-8"))
        for page in hand_written_pages()
    }
    assert {page: found for page, found in problems.items() if found} == {}, (
        "label Python examples exactly ```python so that the test suite runs them"
    )


def test_no_docs_page_holds_a_shell_block_that_the_runner_would_execute() -> None:
    executed = {
        str(page.relative_to(paths.DOCS)): [
            n for n, language, _ in fences(page.read_text()) if language in ("sh", "bash")
        ]
        for page in [*hand_written_pages(), *generated_pages()]
    }
    assert {page: lines for page, lines in executed.items() if lines} == {}, "use ```shell for commands to show"


def test_every_rule_of_the_standard_is_in_the_registry() -> None:
    registry = " ".join(site._plain(rule.text) for rule in load_rules().values())
    body = paths.STANDARD.read_text(encoding="utf-8").split("# Backend Rules", 1)[1]
    bullets = [site._plain(m.group(1)) for m in re.finditer(r"^\s*- (.+)$", body, flags=re.MULTILINE)]
    headings = {"algorithm complexity:", "database:"}
    missing = [bullet for bullet in bullets if bullet not in headings and bullet.rstrip(":") not in registry]
    assert missing == [], "rules of the standard that rules.toml does not cover"


def generated_pages() -> list[Path]:
    sitegen.build()
    return [sitegen.BUILD / name for name in sitegen.contents() if name.endswith(".md")]


def test_the_standard_page_links_every_rule() -> None:
    page = site.standard_page()
    for rule in load_rules().values():
        assert f"[{rule.id}](rules/{rule.id.lower()}.md)" in page


@pytest.mark.parametrize("rule", load_rules().values(), ids=lambda rule: rule.id)
def test_every_rule_has_a_page_with_the_required_sections(rule: object) -> None:
    page = paths.DOCS / rule.source  # type: ignore[attr-defined]
    assert page.is_file(), f"docs/{rule.source} is missing"  # type: ignore[attr-defined]
    headings = re.findall(r"^## (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert headings == list(site.RULE_SECTIONS)
    text = page.read_text(encoding="utf-8")
    assert '=== "Bad"' in text
    assert '=== "Good"' in text
    assert "TODO" not in text


def nav_pages(entries: Sequence[object]) -> set[str]:
    found: set[str] = set()
    for entry in entries:
        if isinstance(entry, str):
            found.add(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                found |= nav_pages(value) if isinstance(value, list) else {value}
    return found


def test_the_site_builds_strictly_and_every_page_is_in_the_navigation(built_site: Path) -> None:
    from mkdocs.config import load_config

    config = load_config(str(paths.REPO / "mkdocs.yml"))
    assert config.nav is not None  # for mypy: mkdocs.yml has a nav
    in_nav = nav_pages(config.nav)
    pages = {name for name in sitegen.contents() if name.endswith(".md")}
    assert pages - in_nav == set()
    assert in_nav - pages == set()
    assert (built_site / "index.html").is_file()
    assert yaml is not None


def test_the_docs_test_set_up_and_formatter_settings_are_not_published(built_site: Path) -> None:
    published = {path.name for path in built_site.rglob("*") if path.is_file()}
    assert not published & sitegen.SOURCE_ONLY


def test_kata_pages_show_hints_and_the_solution_behind_a_spoiler(built_site: Path) -> None:
    html = (built_site / "katas" / "n_plus_one" / "index.html").read_text(encoding="utf-8")
    assert html.count("<details") >= 4  # two or more hints, the diff, the file
    assert "prefetch_related" in html  # the solution, rendered from solutions/
    assert "uv run pytest katas/n_plus_one" in html


def test_rule_pages_quote_the_standard_and_list_their_katas(built_site: Path) -> None:
    html = (built_site / "rules" / "perf-2" / "index.html").read_text(encoding="utf-8")
    assert "PERF-2 · Avoid N+1 queries" in html
    assert "by default in services" in html  # the standard's words, in the quote box
    assert "../../katas/n_plus_one/" in html


def test_the_site_fetches_nothing_from_the_internet(built_site: Path) -> None:
    external = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](https?:)?//""", re.IGNORECASE)
    offenders = {
        str(page.relative_to(built_site)): external.findall(page.read_text(encoding="utf-8"))
        for page in built_site.rglob("*.html")
    }
    assert {page: found for page, found in offenders.items() if found} == {}
    assert (built_site / "assets" / "vendor" / "mermaid" / "mermaid.min.js").is_file()


@pytest.mark.parametrize("agenda", site.AGENDAS, ids=lambda agenda: agenda.name)
def test_workshop_agendas_fit_their_time_and_follow_the_training_order(agenda: site.Agenda) -> None:
    blocks = site.plan(agenda)
    assert sum(block.minutes for block in blocks if not block.rest) <= agenda.minutes
    planned = [kata.slug for kata in load_katas() if any(f"katas/{kata.slug}.md" in b.title for b in blocks)]
    assert planned, "an agenda without a kata"
    order = [kata.slug for kata in load_katas()]
    assert planned == sorted(planned, key=order.index)
    assert [b.title for b in blocks if b.rest] == [title for _after, title, _minutes in agenda.breaks]


@pytest.mark.parametrize("agenda", site.AGENDAS, ids=lambda agenda: agenda.name)
def test_workshop_agendas_show_clock_times_with_their_breaks(agenda: site.Agenda) -> None:
    times = list(site.clock(agenda))
    assert times[0][0] == agenda.start
    hours = [int(at[:2]) * 60 + int(at[3:]) for at, _block in times]
    assert hours == [hours[0], *(hours[0] + sum(b.minutes for _, b in times[:i]) for i in range(1, len(times)))]
    length = sum(block.minutes for _at, block in times)
    assert length == sum(b.minutes for b in site.plan(agenda)) <= agenda.minutes + sum(m for *_, m in agenda.breaks)
    page = site.workshop_agendas()
    assert f"From {times[0][0]} to {times[-1][0]}{', breaks included' if agenda.breaks else ''}." in page
    for at, block in times:
        assert f"| {at} |" in page
        assert block.title in page


def test_the_coverage_lists_every_rule_under_its_section_with_its_katas() -> None:
    page = site.coverage_page()
    sections = re.split(r"^## ", page, flags=re.MULTILINE)[1:]
    by_section = {chunk.splitlines()[0]: chunk for chunk in sections}
    rules = load_rules()
    assert list(by_section) == list(dict.fromkeys(rule.section for rule in rules.values()))
    for rule in rules.values():
        row = next(line for line in by_section[rule.section].splitlines() if f"**{rule.id}** · " in line)
        katas = site.katas_for_rule(rule.id)
        assert [f"`{kata.slug}`" in row for kata in load_katas()] == [kata in katas for kata in load_katas()]
        assert ("Kept by tooling and review" in row) == (not katas)
        assert row.count(" | ") == 1, "two columns (rule, katas), never one per kata"


def test_facilitator_notes_show_each_wrong_fix_as_a_diff(built_site: Path) -> None:
    html = (built_site / "workshops" / "katas" / "index.html").read_text(encoding="utf-8")
    decoys = sum(len(kata.decoys) for kata in load_katas())
    assert html.count("The wrong fix, against the reference solution") == decoys
    assert "prefetch_related" in html  # the n_plus_one decoy that drops the prefetch


def test_links_are_relative_from_one_source_page_to_another() -> None:
    assert site.link("PERF-2", "rules/perf-2.md", page="katas/index.md") == "[PERF-2](../rules/perf-2.md)"
    assert site.link("x", "rules/perf-2.md#why", page="rules/performance/index.md") == "[x](../perf-2.md#why)"
    assert site.link("x", "katas/n_plus_one.md", page="standard.md") == "[x](katas/n_plus_one.md)"


def test_kata_pages_and_the_index_show_the_slug_level_and_minutes(built_site: Path) -> None:
    index = (built_site / "katas" / "index.html").read_text(encoding="utf-8")
    for kata in load_katas():
        minutes = f'<td style="text-align: right;">{kata.minutes}</td>'
        assert f"<code>{kata.slug}</code></td>\n<td>{kata.difficulty}</td>\n{minutes}" in index
        page = site.kata_page(kata)
        facts = f"`{kata.slug}` · {kata.difficulty} · about {kata.minutes} minutes"
        grade = page.split("## Grade it", 1)[1]
        assert grade.lstrip().startswith(f"Kata {facts}:\n\n```shell\nuv run dojo watch {kata.slug} ")


def test_the_contributor_guide_states_the_minutes_the_manifest_accepts() -> None:
    """The guide's example entry says which `minutes` the manifest takes: probe the manifest for it."""
    from dojo.manifest import Kata, ManifestError
    from dojo.tomlcheck import TableError

    guide = (paths.DOCS / "contributing" / "katas.md").read_text(encoding="utf-8")
    low, high = map(int, re.search(r"^minutes = \d+ +# (\d+) to (\d+):", guide, flags=re.MULTILINE).groups())  # type: ignore[union-attr]
    with paths.MANIFEST.open("rb") as handle:
        table = tomllib.load(handle)["kata"][0]

    def accepted(minutes: int) -> bool:
        try:
            Kata.from_table({**table, "minutes": minutes}, "probe")
        except (TableError, ManifestError):
            return False
        return True

    assert [accepted(m) for m in (low - 1, low, high, high + 1)] == [False, True, True, False]


def test_the_generator_writes_only_what_changed_and_removes_what_left(tmp_path: Path) -> None:
    first = sitegen.build(tmp_path)
    assert len(first.written) == first.total > 80
    (tmp_path / "katas" / "a_kata_since_removed.md").write_text("# Gone\n", encoding="utf-8")
    (tmp_path / "rules" / "perf-2.md").write_text("# An old frame\n", encoding="utf-8")
    (tmp_path / sitegen.KEEP).write_text("", encoding="utf-8")
    again = sitegen.build(tmp_path)
    assert (again.written, again.removed) == (["rules/perf-2.md"], ["katas/a_kata_since_removed.md"])
    assert (tmp_path / sitegen.KEEP).is_file()
    assert sitegen.build(tmp_path).written == []


def test_a_hand_written_page_where_a_generated_one_goes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    for rule in load_rules().values():
        (tmp_path / rule.source).write_text("## What it asks\n", encoding="utf-8")
    (tmp_path / "katas").mkdir()
    (tmp_path / "katas" / "n_plus_one.md").write_text("# By hand\n", encoding="utf-8")
    with pytest.raises(sitegen.SiteError, match=r"katas/n_plus_one\.md"):
        sitegen.contents(tmp_path, tmp_path / ".build")


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `mkdocs.yml` that the generator writes instead of the committed one."""
    copy = tmp_path / "mkdocs.yml"
    shutil.copyfile(sitegen.CONFIG, copy)
    monkeypatch.setattr(sitegen, "CONFIG", copy)
    return copy


def test_the_generator_runs_alone_for_another_builder(capsys: pytest.CaptureFixture[str], config_copy: Path) -> None:
    assert sitegen.main([]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"docs/\.build/: \d+ files, \d+ written, \d+ removed\nmkdocs\.yml: navigation \w+\n", out)
    assert (sitegen.BUILD / "rules" / "perf-2.md").read_text(encoding="utf-8").startswith("# PERF-2 · ")


# --- the navigation: written into mkdocs.yml by the generator, read as it is by any builder ---------


def test_the_committed_navigation_is_in_step_with_the_rules_and_the_katas() -> None:
    text = sitegen.CONFIG.read_text(encoding="utf-8")
    assert sitegen.configured(text) == text, "mkdocs.yml's Rules and Katas navigation is stale: run `uv run dojo site`"


def test_the_configuration_holds_the_whole_navigation_as_the_registry_and_manifest_give_it() -> None:
    config = yaml.safe_load(sitegen.CONFIG.read_text(encoding="utf-8").split("\nnav:\n", 1)[1])
    written = [entry for entry in config if isinstance(entry, dict) and next(iter(entry)) in ("Rules", "Katas")]
    assert written == site.nav_sections()
    rules = {page for page in nav_pages(written) if page.startswith("rules/")}
    assert rules >= {rule.source for rule in load_rules().values()}
    assert {f"katas/{kata.slug}.md" for kata in load_katas()} <= nav_pages(written)


def test_a_kata_added_to_the_manifest_puts_the_committed_navigation_out_of_step(
    monkeypatch: pytest.MonkeyPatch, config_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = site.nav_sections()
    katas = [{"Katas": [*shipped[1]["Katas"], {"a_new_kata": "katas/a_new_kata.md"}]}]  # type: ignore[index]
    monkeypatch.setattr(site, "nav_sections", lambda: [shipped[0], *katas])
    text = config_copy.read_text(encoding="utf-8")
    assert sitegen.configured(text) != text
    assert sitegen.main(["--check"]) == 1
    assert "out of step" in capsys.readouterr().out
    assert config_copy.read_text(encoding="utf-8") == text  # --check writes nothing

    assert sitegen.write_config(config_copy)
    updated = config_copy.read_text(encoding="utf-8")
    assert "      - a_new_kata: katas/a_new_kata.md\n" in updated
    before, after = text.split(sitegen.NAV_BEGIN)[0], text.split(sitegen.NAV_END)[1]
    assert updated.startswith(before)  # only the written entries changed
    assert updated.endswith(after)
    assert not sitegen.write_config(config_copy)
    assert sitegen.main(["--check"]) == 0


def test_a_configuration_without_the_markers_is_refused() -> None:
    with pytest.raises(sitegen.SiteError, match="nav has no lines"):
        sitegen.configured("nav:\n  - Home: index.md\n")


def test_the_hook_generates_but_leaves_the_loaded_navigation_as_configured(
    tmp_path: Path, config_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mkdocs.config import load_config

    stale = config_copy.read_text(encoding="utf-8").replace("      - n_plus_one: katas/n_plus_one.md\n", "")
    config_copy.write_text(stale, encoding="utf-8")
    (tmp_path / "docs").mkdir()
    config = load_config(str(config_copy), docs_dir=str(tmp_path / "docs"), hooks=[])  # the hook, called below
    loaded = json.dumps(config.nav)
    assert docs_hooks.on_config(config) is config
    assert json.dumps(config.nav) == loaded
    assert (tmp_path / "docs" / "katas" / "n_plus_one.md").is_file()  # the pages are generated
    assert config_copy.read_text(encoding="utf-8") == sitegen.configured(stale) != stale  # the file, by the generator
    assert "build again" in caplog.text


@pytest.fixture
def learners_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The katas as a learner has them: `n_plus_one` edited, with a file of their own next to the starter."""
    katas = tmp_path / "katas"
    shutil.copytree(paths.KATAS, katas, ignore=shutil.ignore_patterns("__pycache__"))
    (katas / "n_plus_one" / "helper.py").write_text("def mine() -> None: ...\n", encoding="utf-8")
    services = katas / "n_plus_one" / "services.py"
    services.write_text(services.read_text(encoding="utf-8") + "\nLEARNERS_OWN_LINE = 1\n", encoding="utf-8")
    monkeypatch.setattr(paths, "KATAS", katas)
    return katas


def test_a_learners_extra_file_and_edits_leave_the_site_and_its_spoiler_as_shipped(
    learners_tree: Path, tmp_path: Path
) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    (tmp_path / "docs").mkdir()
    config = load_config(
        str(paths.REPO / "mkdocs.yml"), docs_dir=str(tmp_path / "docs"), site_dir=str(tmp_path / "site")
    )
    build(config)  # strict, as configured: any warning fails

    html = (tmp_path / "site" / "katas" / "n_plus_one" / "index.html").read_text(encoding="utf-8")
    assert "helper.py" not in html
    assert "LEARNERS_OWN_LINE" not in html
    diff = trees.lesson_diff("n_plus_one")
    assert "LEARNERS_OWN_LINE" not in diff
    assert '+        .prefetch_related("lines")' in diff
    assert diff in (tmp_path / "docs" / "katas" / "n_plus_one.md").read_text(encoding="utf-8").replace("\n    ", "\n")


def test_the_built_site_carries_no_learners_status(built_site: Path) -> None:
    assert json.loads((built_site / sitegen.STATUS).read_text(encoding="utf-8")) is None


def served(app: Any, host: str, path: str = "/dojo-status.json") -> tuple[str, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path, "HTTP_HOST": host}
    wsgiref.util.setup_testing_defaults(environ)
    environ["HTTP_HOST"] = host
    answer: list[str] = []
    body = b"".join(app(environ, lambda status, headers: answer.append(status)))
    return answer[0], body


@pytest.fixture
def dev_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`mkdocs serve`'s server, as our hook leaves it: not listening, its app and its watches ready."""
    from mkdocs.config import load_config
    from mkdocs.livereload import LiveReloadServer

    monkeypatch.setattr(paths, "STATE", tmp_path / ".dojo")  # the module docs_hooks reads
    monkeypatch.setattr(progress, "site_status", lambda root: {"katas": [], "root": str(root)})
    config = load_config(str(paths.REPO / "mkdocs.yml"))
    server = LiveReloadServer(builder=lambda: None, host="127.0.0.1", port=8000, root=str(tmp_path))
    server.watch(config.docs_dir)  # as `mkdocs serve` does before the hook
    assert docs_hooks.on_serve(server, config=config, builder=print) is server
    yield server
    server.server_close()


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}),
        ("0.0.0.0", 8001, {"0.0.0.0:8001", "127.0.0.1:8001", "localhost:8001", "[::1]:8001"}),  # noqa: S104
        ("192.168.1.20", 8000, {"192.168.1.20:8000"}),
    ],
)
def test_the_status_is_served_to_the_served_address_only(host: str, port: int, expected: set[str]) -> None:
    assert docs_hooks.served_hosts(host, port) == expected


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST:8000"])
def test_the_served_site_answers_the_learners_status_to_its_own_host(dev_server: Any, host: str) -> None:
    status, body = served(dev_server.get_app(), host)
    assert status == "200 OK"
    assert json.loads(body) == {"katas": [], "root": str(paths.REPO)}


@pytest.mark.parametrize("host", ["rebound.example:8000", "127.0.0.1:8001", "localhost", "", "127.0.0.1:8000.evil"])
def test_the_served_site_refuses_the_learners_status_to_any_other_host(dev_server: Any, host: str) -> None:
    status, body = served(dev_server.get_app(), host)
    assert status == "403 Forbidden"
    assert b"katas" not in body


def test_the_served_site_still_serves_its_pages_to_any_host(dev_server: Any) -> None:
    status, _body = served(dev_server.get_app(), "rebound.example:8000", path="/no-such-page/")
    assert status == "404 Not Found"  # MkDocs' own answer: only the status is guarded


def test_the_served_site_rebuilds_on_its_sources_not_on_its_own_output_nor_a_grading(
    dev_server: Any, tmp_path: Path
) -> None:
    watched = set(dev_server._watched_paths)
    assert str(sitegen.BUILD) not in watched
    assert not any(Path(path).is_relative_to(tmp_path / ".dojo") for path in watched)  # the page polls instead
    assert {str(paths.DOCS), str(paths.DOCS / "rules"), str(paths.REPO)} <= watched


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_mkdocs_serve_answers_the_status_to_its_own_host_only(tmp_path: Path) -> None:
    """The real `mkdocs serve`, as a learner starts it, asked with its own Host and with a rebound one."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"],
        cwd=paths.REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    try:

        def get(host: str) -> tuple[int, bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/dojo-status.json", headers={"Host": host})
            response = connection.getresponse()
            return response.status, response.read()

        for _attempt in range(600):  # the first build comes before the server listens
            try:
                status, body = get(f"127.0.0.1:{port}")
                break
            except ConnectionRefusedError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("mkdocs serve did not listen within five minutes")
        assert status == 200
        assert "katas" in json.loads(body)
        assert get(f"localhost:{port}")[0] == 200
        assert get(f"rebound.example:{port}")[0] == 403
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
