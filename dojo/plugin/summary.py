"""The summary that ends a grading run: one line per kata, and the results written
(`--dojo-report FILE`, and `.dojo/results.json` for the learner's own tree)."""

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from dojo import paths, results, tamper
from dojo.files import StateError
from dojo.manifest import kata_by_slug, load_katas
from dojo.plugin.planning import tree_label
from dojo.plugin.run import Run, run_of
from dojo.rules import rule_url

MARKS = MappingProxyType(
    {
        results.KataStatus.SOLVED: "PASS",
        results.KataStatus.FAILING: "FAIL",
        results.KataStatus.BROKEN: "FAIL",
        results.KataStatus.INCOMPLETE: "INCOMPLETE",
    }
)


def kata_results(run: Run, finished_at: str) -> dict[str, results.KataResult]:
    graded = {}
    for slug in [kata.slug for kata in load_katas() if kata.slug in run.results or kata.slug in run.deselected]:
        entries = run.results.get(slug, [])
        tests = [results.TestResult(**{k: v for k, v in entry.items() if k != "slug"}) for entry in entries]
        graded[slug] = results.kata_result(
            slug,
            tests,
            deselected=run.deselected.get(slug, ()),
            graded_at=finished_at,
            files_sha256=tamper.checksum(run.kata_root / slug),
        )
    return graded


def write(terminalreporter: Any, config: pytest.Config) -> None:
    run = run_of(config)
    if run.role == "child" or not (run.results or run.deselected):
        return
    from dojo.files import now

    finished_at = now()
    graded = kata_results(run, finished_at)
    root = run.kata_root
    write_line = terminalreporter.write_line
    terminalreporter.section(f"kata results ({tree_label(root)})", sep="=")
    for slug, result in graded.items():
        kata = kata_by_slug()[slug]
        failed = [entry for entry in result.tests if entry.outcome == results.Outcome.FAILED]
        line = f"{MARKS[result.status]:<10}  {kata.slug:<28} {', '.join(kata.rules):<18}"
        if result.status is results.KataStatus.BROKEN:
            line += "  the code could not be loaded (see above)"
        elif failed:
            lessons = sorted({entry.rule for entry in failed if entry.rule})
            line += f"  {len(failed)} of {len(result.tests)} checks fail"
            if lessons:
                line += f"; read {', '.join(rule_url(r).split(' ')[0] for r in lessons)}"
        status = result.status
        write_line(line, red=status in ("failing", "broken"), green=status == "solved", yellow=status == "incomplete")
        if status is results.KataStatus.INCOMPLETE:
            for note in result.notes:
                write_line(f"{'':<12}{note}", yellow=True)
    document = results.Results(tree=tree_label(root), finished_at=finished_at, katas=graded)
    report = config.getoption("dojo_report")
    if report:
        results.write(Path(report), document)
    if root.resolve() == paths.KATAS and not config.getoption("kata_root"):
        # the learner's own results, merged with earlier runs of other katas
        try:
            results.record(paths.STATE / "results.json", document, kata_by_slug())
        except StateError as error:  # the grading stands; only remembering it failed, and the message says why
            write_line(str(error), red=True)
            return
        from dojo.workshop.client import after_grading

        after_grading(document)  # a workshop board the learner joined: queued, sent by a process of its own
