"""`dojo.config` is the one reader of the `DOJO_*` environment variables."""

import re

import pytest

from dojo import config, paths

READ = re.compile(
    r"""environ\.(get|pop)\(\s*["']DOJO_|getenv\(\s*["']DOJO_|environ\[["']DOJO_\w+["']\](?!\s*=[^=])|["']DOJO_\w+["']\s+in\s+os\.environ"""
)
# these run in the audited project's interpreter, importing nothing of the dojo: they read their own variables
STANDS_ALONE = {"dojo/audit/plugin.py", "dojo/audit/probe.py"}


def test_no_module_but_config_reads_a_dojo_variable() -> None:
    readers = []
    for path in sorted((paths.REPO / "dojo").rglob("*.py")):
        name = str(path.relative_to(paths.REPO))
        if name in STANDS_ALONE or name == "dojo/config.py":
            continue
        readers += [f"{name}: {match.group(0)}" for match in READ.finditer(path.read_text(encoding="utf-8"))]
    assert readers == []


def test_the_pattern_finds_a_read_and_leaves_a_write_alone() -> None:
    assert READ.search('x = os.environ.get("DOJO_JOBS")')
    assert READ.search('x = os.environ["DOJO_KATAS"]')
    assert not READ.search('os.environ["DOJO_KATAS"] = slug')


def test_values_are_typed_with_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOJO_GRADER_TIMEOUT", "DOJO_JOBS", "DOJO_KATAS", "DOJO_KATA_ROOT", "DOJO_IN_PROCESS"):
        monkeypatch.delenv(name, raising=False)
    assert (config.grader_timeout(), config.jobs_wanted(), config.graded_katas()) == (10.0, None, set())
    assert config.kata_root() == paths.KATAS
    assert not config.in_process()
    monkeypatch.setenv("DOJO_GRADER_TIMEOUT", "2.5")
    monkeypatch.setenv("DOJO_JOBS", "3")
    monkeypatch.setenv("DOJO_KATAS", "n_plus_one,missing_index")
    assert (config.grader_timeout(), config.jobs_wanted()) == (2.5, 3)
    assert config.graded_katas() == {"n_plus_one", "missing_index"}
