"""Report enrichment: a failing check names its rule and the page to read, and each check gets its
result record on the report's `user_properties` (under `results.RECORD`), which the parent collects
for the summary and `results.json`."""

import pytest

from dojo import config, paths, results
from dojo.manifest import Kata
from dojo.plugin.collection import GRADER_TIMEOUT_SECONDS, BrokenKata, kata_of
from dojo.plugin.run import STOPPED_AT_FIRST_LESSON, Run
from dojo.rules import load_rules, rule_url


def enrich(item: pytest.Item, report: pytest.TestReport) -> pytest.TestReport:
    """Add the lesson to a failure, shorten what the code printed, and attach the check's result."""
    kata = kata_of(item)
    if kata is None:
        return report
    output = _shorten_captured(report)
    if report.failed:
        title, text = _lesson_text(kata, item, report)
        addsection = getattr(report.longrepr, "addsection", None)
        if callable(addsection):
            addsection(title, text)
        else:
            report.longrepr = f"{report.longrepr}\n\n--- {title} ---\n{text}"
    if report.when == "call" or report.failed or report.skipped:
        message = failure_message(report) if report.failed else _skip_reason(report) if report.skipped else ""
        made = results.TestResult(
            test=item.name,
            outcome=report.outcome,
            rule=kata.rule_for(item.name),
            message=message,
            broken=isinstance(item, BrokenKata),
            title=_title(item),
            output=output,
            kind=_kind(kata, item),
            stop=_stop(item, report),
        )
        report.user_properties = [(name, value) for name, value in report.user_properties if name != results.RECORD] + [
            (results.RECORD, results.entry(kata.slug, made))
        ]
    return report


CATCHING_KINDS = (results.Kind.LESSON, results.Kind.GUARD)


def stop_if_rejected(run: Run, item: pytest.Item, report: pytest.TestReport) -> None:
    """In a kata's process asked to stop at its first failed lesson or guard check, stop once one fails."""
    kata = kata_of(item)
    if run.role != "child" or kata is None or not report.failed or not config.stop_at_first_lesson():
        return
    if _kind(kata, item) in CATCHING_KINDS:
        item.session.shouldstop = STOPPED_AT_FIRST_LESSON


def _kind(kata: Kata, item: pytest.Item) -> results.Kind:
    name = item.name.split("[")[0]
    if isinstance(item, BrokenKata):
        return results.Kind.HARNESS
    if name in kata.lessons:
        return results.Kind.LESSON
    return results.Kind.GUARD if name in kata.guards else results.Kind.BEHAVIOUR


def _stop(item: pytest.Item, report: pytest.TestReport) -> results.Stop | None:
    if isinstance(item, BrokenKata):
        return results.Stop.UNLOADABLE
    if report.failed and _timed_out(report):
        return results.Stop.CHECK_TIMEOUT
    return None


def _timed_out(report: pytest.TestReport) -> bool:
    """pytest-timeout ended the check (its failure is `Failed: Timeout (>N s) from pytest-timeout.`)."""
    return failure_message(report).startswith("Timeout")


def record(run: Run, report: pytest.TestReport) -> None:
    """Keep a check's result (the last one of each check: a failing teardown replaces a passing call)."""
    found = next((value for name, value in report.user_properties if name == results.RECORD), None)
    if isinstance(found, dict):
        entries = run.results.setdefault(found["slug"], [])
        entries[:] = [existing for existing in entries if existing["test"] != found["test"]]
        entries.append(found)


def _lesson_text(kata: Kata, item: pytest.Item, report: pytest.TestReport) -> tuple[str, str]:
    rule_id = kata.rule_for(item.name)
    if isinstance(item, BrokenKata):
        return "kata", f"Kata `{kata.slug}` could not be graded; see above."
    if _timed_out(report):
        head = f"This check ran for more than {GRADER_TIMEOUT_SECONDS:g} s: look for a loop that never ends.\n"
    else:
        head = ""
    if rule_id is None:
        return (
            "behaviour",
            head + f"This check is not the lesson: the code no longer does what it did. "
            f"Re-read katas/{kata.slug}/README.md: the result must stay the same.",
        )
    rule = load_rules()[rule_id]
    return (
        f"{rule.id} · {rule.title}",
        head + f"This is the lesson of `{kata.slug}`: rule {rule.id} ({rule.title}).\n"
        f"Read the rule: {rule_url(rule.id)}\n"
        f"The kata, with hints: {paths.SITE_URL}/{kata.page} · hints: `uv run dojo hint {kata.slug}`",
    )


def _title(item: pytest.Item) -> str:
    if isinstance(item, BrokenKata):
        return "The kata can be loaded"
    function = getattr(item, "function", None)
    return results.title_of(item.name, getattr(function, "__doc__", None))


def _shorten_captured(report: pytest.TestReport) -> str:
    """Shorten what the code printed (in the report too, so the terminal shows the short form)."""
    shortened = [(title, results.shorten(content)) for title, content in report.sections]
    report.sections = shortened
    return "\n".join(f"{title}:\n{content}" for title, content in shortened if title.startswith("Captured") and content)


def failure_message(report: pytest.TestReport) -> str:
    """The whole failure message, as the check wrote it: never cut (the learner's output is shortened)."""
    if isinstance(report.longrepr, str):
        text = report.longrepr.split("\n\n--- ", 1)[0]
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = str(crash.message) if crash is not None else str(report.longrepr)
    lines = text.strip().splitlines()
    # pytest's own explanation of a bare `assert` starts with "assert …": the check's words come first
    explained = next((index for index, line in enumerate(lines) if line.lstrip().startswith("assert ")), None)
    if explained:
        lines = lines[:explained]
    first = (lines or [""])[0].removeprefix("AssertionError: ").removeprefix("Failed: ")
    return results.shorten("\n".join([first, *lines[1:]]).strip())


def _skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr or "")
