"""The report in four forms: text for a terminal, JSON to collect, SARIF for code scanning, Markdown for a PR."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dojo.audit import ranking
from dojo.audit.findings import Finding
from dojo.audit.links import audit_page, kata_links, rule_link
from dojo.audit.registry import check_named, coverage
from dojo.audit.run import Report, package_of
from dojo.rules import load_rules

TOOL = "dojo audit"
VERSION = "1"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@dataclass(frozen=True)
class RuleStatus:
    """One rule in the report: judged (its findings) or not, and why not."""

    rule: str
    title: str
    url: str
    checks: tuple[str, ...]
    findings: tuple[Finding, ...]
    not_judged: str  # why the rule is not judged here ("" when it is)
    partly: str  # what part of the rule no check can judge, or which of its checks did not run


def statuses(report: Report, site: str) -> Iterator[RuleStatus]:
    by_rule: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule_id, rule in load_rules().items():
        entry = coverage()[rule_id]
        not_judged = ""
        if not entry.checks:
            not_judged = entry.unchecked
        elif report.project.app_folder and entry.project_only:
            not_judged = f"not judged on an app folder: {entry.project_only}"
        elif rule_id in report.left_out:
            not_judged = "left out by --select/--ignore"
        not_run = [check.name for check in entry.checks if check.name in report.not_run]
        partly = entry.unchecked if entry.checks else ""
        if not_run and not not_judged:
            reasons = {report.not_run[name] for name in not_run}
            if len(reasons) == 1:
                why = f"{', '.join(not_run)}: {reasons.pop()}"
            else:
                why = "; ".join(f"{name} ({check_named(name).kind}): {report.not_run[name]}" for name in not_run)
            if len(not_run) == len(entry.checks) and rule_id not in by_rule:
                not_judged = f"its checks did not run: {why}"
            else:
                partly = "; ".join(filter(None, [partly, f"not run here: {why}"]))
        yield RuleStatus(
            rule=rule_id,
            title=rule.title,
            url=rule_link(rule_id, site),
            checks=tuple(check.name for check in entry.checks),
            findings=tuple(sorted(by_rule.get(rule_id, []), key=lambda item: (item.path, item.line))),
            not_judged=not_judged,
            partly=partly,
        )


def _header(report: Report) -> tuple[str, str]:
    project = report.project
    kind = "one app folder" if project.app_folder else "a project"
    versions = " · ".join(f"{name} {version}" for name, version in report.versions.items())
    return f"{project.root} ({kind}, settings {project.settings})", versions


def _links(rule: str, site: str) -> str:
    katas = kata_links(rule, site)
    return rule_link(rule, site) + (f"; kata: {', '.join(katas)}" if katas else "")


def _item_line(item: ranking.Item) -> str:
    seen = f" [{item.merged}: {', '.join(item.checks)}]" if item.merged else ""
    more = ""
    if item.elsewhere:
        shown = ", ".join(item.elsewhere[:SHOWN_ELSEWHERE])
        rest = len(item.elsewhere) - SHOWN_ELSEWHERE
        more = f"; also {shown}" + (f" and {rest} more" if rest > 0 else "")
    return f"{item.path}:{item.line}  {item.message}{seen}{more}"


def _run_lines(report: Report) -> list[str]:
    """How the run went: what the loaded project holds, and how its tests ran."""
    out = []
    if report.found:
        out.append("found " + ", ".join(f"{count} {name}" for name, count in report.found.items()))
    if report.tests_passed is not None:
        verdict = "passed" if report.tests_passed else "DID NOT PASS (exit status 3)"
        out.append(f"its tests, run with --tests: {verdict}: {report.tests_summary or 'no summary'}")
        out += [f"  {note}" for note in report.test_notes]
        out += [f"  written by the tests: {line}" for line in report.written]
    return out


def _severity_counts(found: list[ranking.Item]) -> list[tuple[str, int, str]]:
    """Per severity: the defects (a repeated decision counts once), and the rules with their counts."""
    rows = []
    for level in ranking.SEVERITIES:
        mine = [item for item in found if item.severity == level]
        by_rule: dict[str, int] = {}
        for item in mine:
            by_rule[item.rule] = by_rule.get(item.rule, 0) + 1
        rows.append((level, len(mine), " · ".join(f"{rule} {count}" for rule, count in by_rule.items())))
    return rows


def _coverage_line(report: Report) -> str:
    rows = ranking.annotation_coverage(report.annotations)
    done, total = sum(row[1] for row in rows), sum(row[2] for row in rows)
    if not total or "PY-2" not in report.rules:
        return ""
    return f"type hints (PY-2): {ranking.percent(done, total)} of {total:,} parameters and return values annotated"


SHOWN_ELSEWHERE = 3


def _coverage_table(report: Report) -> list[str]:
    """PY-2 as coverage: per package, the share of parameters and return values annotated, and the missing."""
    missing: dict[str, int] = {}
    for finding in report.findings:
        if finding.check in ranking.COVERAGE_CHECKS:
            missing[package_of(finding.path)] = missing.get(package_of(finding.path), 0) + 1
    out = [f"  {'package':<40} {'annotated':>9} {'missing':>8}"]
    for package, done, total in ranking.annotation_coverage(report.annotations):
        if missing.get(package):
            out.append(f"  {package:<40} {ranking.percent(done, total):>9} {missing[package]:>8}")
    out.append("  (every place: --format json or sarif)")
    return out


def text(report: Report, site: str) -> str:
    where, versions = _header(report)
    out = [f"dojo audit of {where}", versions, *_run_lines(report), ""]
    rows = list(statuses(report, site))
    found = ranking.items(report.findings)
    unchecked = [status for status in rows if status.not_judged and status.rule not in report.left_out]
    out.append(
        f"Summary: {len(found)} defects in {len({item.rule for item in found})} of {len(report.rules)} rules judged"
    )
    for level, count, rules in _severity_counts(found):
        out.append(f"  {level:<7} {count:>5}  {rules}")
    coverage_line = _coverage_line(report)
    if coverage_line:
        out.append(f"  {coverage_line}")
    if unchecked:
        out.append(f"Not judged here ({len(unchecked)} rules), and why:")
        out += [f"  {status.rule}  {status.title}: {status.not_judged}" for status in unchecked]
    if report.problems:
        out.append(f"Not audited, or not loaded ({len(report.problems)}):")
        out += [f"  {problem.where}: {problem.message}" for problem in report.problems]
    out.append("")
    by_rule = {status.rule: status for status in rows}
    for level in ranking.SEVERITIES:
        mine = [item for item in found if item.severity == level]
        if not mine:
            continue
        out += [f"== {level.capitalize()} ==", ""]
        for rule in dict.fromkeys(item.rule for item in mine):
            group = [item for item in mine if item.rule == rule]
            count = sum(item.count for item in group)
            out.append(f"{rule}  {by_rule[rule].title}: {count} finding{'s' * (count != 1)}  ({_links(rule, site)})")
            for item in group:
                out += _coverage_table(report) if item.check_kind_coverage else [f"  {_item_line(item)}"]
            out.append("")
    if report.suppressed:
        out.append(f"Suppressed by `# dojo: ignore[...]` ({len(report.suppressed)}):")
        out += [
            f"  {item.finding.path}:{item.finding.line}  {item.finding.rule}: {item.reason}"
            for item in report.suppressed
        ]
        out.append("")
    if report.refused:
        out.append("Suppressions without a reason, which hide nothing:")
        out += [f"  {path}:{comment.line}  {', '.join(sorted(comment.rules))}" for path, comment in report.refused]
        out.append("")
    comments = ranking.noqa_comments(report.noqa)
    if comments:
        out.append(f"noqa comments that would hide findings of the standard from ruff ({len(comments)}):")
        out += [f"  {item.path}:{item.line}  `{item.comment}` hides {', '.join(item.hidden)}" for item in comments]
        out.append("")
    if report.left_out:
        out += [f"Left out by --select/--ignore: {', '.join(report.left_out)}.", ""]
    out.append("Every rule")
    out.append(f"  {'rule':<8} {'findings':>8}  title")
    for status in rows:
        if status.rule not in report.left_out:
            figure = "-" if status.not_judged else str(len(status.findings))
            out.append(f"  {status.rule:<8} {figure:>8}  {status.title}")
    out.append("")
    out.append(_totals(report))
    return "\n".join(out) + "\n"


def _totals(report: Report) -> str:
    judged = len(report.rules)
    broken = len({finding.rule for finding in report.findings})
    parts = [f"{len(report.findings)} findings in {broken} of {judged} rules judged"]
    if report.baseline_matched:
        parts.append(f"{report.baseline_matched} known from the baseline")
    parts.append(f"{len(report.suppressed)} suppressed")
    parts.append(f"{len(ranking.noqa_comments(report.noqa))} noqa comments hiding findings")
    return "; ".join(parts) + f" ({report.seconds:.1f} s)."


def _finding_json(finding: Finding, site: str) -> dict[str, Any]:
    rule = load_rules()[finding.rule]
    return {
        "rule": finding.rule,
        "title": rule.title,
        "check": finding.check,
        "kind": str(check_named(finding.check).kind),
        "path": finding.path,
        "line": finding.line,
        "message": finding.message,
        "url": rule_link(finding.rule, site),
        "katas": list(kata_links(finding.rule, site)),
        "fingerprint": finding.fingerprint,
    }


def as_json(report: Report, site: str) -> str:
    rows = list(statuses(report, site))
    data = {
        "tool": TOOL,
        "version": VERSION,
        "root": str(report.project.root),
        "settings": report.project.settings,
        "app_folder": report.project.app_folder,
        "versions": report.versions,
        "found": report.found,
        "rules": [
            {
                "id": status.rule,
                "title": status.title,
                "url": status.url,
                "checks": list(status.checks),
                "judged": not status.not_judged,
                "not_judged": status.not_judged,
                "partly_unchecked": status.partly,
                "findings": len(status.findings),
            }
            for status in rows
        ],
        "findings": [_finding_json(finding, site) for finding in report.findings],
        "suppressed": [{**_finding_json(item.finding, site), "reason": item.reason} for item in report.suppressed],
        "refused_suppressions": [
            {"path": path, "line": comment.line, "rules": sorted(comment.rules)} for path, comment in report.refused
        ],
        "noqa": [
            {
                "path": item.path,
                "line": item.line,
                "finding_line": item.finding_line,
                "rule": item.rule,
                "code": item.code,
                "comment": item.comment,
            }
            for item in report.noqa
        ],
        "problems": [{"where": problem.where, "message": problem.message} for problem in report.problems],
        "baseline_matched": report.baseline_matched,
        "seconds": round(report.seconds, 3),
        "not_run": report.not_run,
        "tests": None
        if report.tests_passed is None
        else {
            "passed": report.tests_passed,
            "summary": report.tests_summary,
            "notes": report.test_notes,
            "written": report.written,
        },
    }
    return json.dumps(data, indent=2) + "\n"


def _sarif_result(finding: Finding, index: dict[str, int], reason: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": "warning",
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": max(finding.line, 1)},
                }
            }
        ],
        "partialFingerprints": {"dojoAudit/v1": finding.fingerprint},
        "properties": {"check": finding.check},
    }
    if reason is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": reason}]
    return result


def _help(rule_id: str, site: str) -> str:
    katas = kata_links(rule_id, site)
    trained = f"; trained by {', '.join(katas)}" if katas else ""
    return f"The rule: {rule_link(rule_id, site)}{trained}"


def as_sarif(report: Report, site: str) -> str:
    rules = load_rules()
    index = {rule_id: position for position, rule_id in enumerate(rules)}
    driver: dict[str, Any] = {"name": "dojo-audit", "version": VERSION, "rules": []}
    if site:  # a URI; with no published site, each rule's help names its page's file instead
        driver["informationUri"] = audit_page(site)
    for rule in rules.values():
        entry: dict[str, Any] = {
            "id": rule.id,
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.text},
            "help": {"text": _help(rule.id, site)},
            "properties": {"checks": [check.name for check in coverage()[rule.id].checks]},
        }
        if site:
            entry["helpUri"] = rule_link(rule.id, site)
        driver["rules"].append(entry)
    results = [_sarif_result(finding, index) for finding in report.findings]
    results += [_sarif_result(item.finding, index, item.reason) for item in report.suppressed]
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": report.project.root.as_uri() + "/"}},
        "results": results,
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


COMMENT_LIMIT = 65_536  # characters in a GitHub pull-request comment
SUMMARY_ITEMS_PER_RULE = 10


def _md_link(target: str, label: str) -> str:
    return f"[{label}]({target})"


def markdown(report: Report, site: str, summary: bool = False) -> str:
    """The report for a pull request. With `summary`, it fits a comment: at most 10 places per rule, and
    whatever would pass COMMENT_LIMIT is counted instead of listed."""
    where, versions = _header(report)
    rows = list(statuses(report, site))
    found = ranking.items(report.findings)
    counts = _severity_counts(found)
    head = ", ".join(f"{count} {level}" for level, count, _rules in counts)
    out = [f"## dojo audit: {len(found)} defects ({head})", "", f"`{where}`; {versions}.", ""]
    out += [f"- {_cell(line.strip())}" for line in _run_lines(report)]
    out += ["", "| severity | defects | rules |", "|---|---:|---|"]
    out += [f"| {level} | {count} | {_cell(rules) or '–'} |" for level, count, rules in counts]
    out.append("")
    coverage_line = _coverage_line(report)
    if coverage_line:
        out += [f"{coverage_line.capitalize()}.", ""]
    unchecked = [status for status in rows if status.not_judged and status.rule not in report.left_out]
    if unchecked:
        out += [f"**Not judged here ({len(unchecked)} rules):**", ""]
        out += [f"- {status.rule} {_cell(status.title)}: {_cell(status.not_judged)}" for status in unchecked]
        out.append("")
    if report.problems:
        out += [f"**Not audited, or not loaded ({len(report.problems)}):**", ""]
        listed = report.problems[:20] if summary else report.problems
        out += [f"- `{_cell(problem.where)}`: {_cell(problem.message)}" for problem in listed]
        if len(listed) < len(report.problems):
            out.append(f"- and {len(report.problems) - len(listed)} more")
        out.append("")
    tail = [_totals(report)]
    budget = COMMENT_LIMIT - len("\n".join(tail)) - 400
    by_rule = {status.rule: status for status in rows}
    left = 0
    for level in ranking.SEVERITIES:
        mine = [item for item in found if item.severity == level]
        if not mine:
            continue
        section = [f"### {level.capitalize()}", ""]
        for rule in dict.fromkeys(item.rule for item in mine):
            group = [item for item in mine if item.rule == rule]
            katas = kata_links(rule, site)
            links = _md_link(rule_link(rule, site), "rule") + "".join(f" · {_md_link(link, 'kata')}" for link in katas)
            block = [
                f"<details><summary><b>{rule}</b> {_cell(by_rule[rule].title)}: {len(group)}</summary>",
                "",
                links,
                "",
            ]
            shown = group[:SUMMARY_ITEMS_PER_RULE] if summary else group
            block += [f"- `{item.path}:{item.line}` {_cell(_item_line(item).split('  ', 1)[1])}" for item in shown]
            if len(shown) < len(group):
                block.append(f"- and {len(group) - len(shown)} more (the full report lists them)")
            block += ["", "</details>", ""]
            if summary and len("\n".join(out + section + block)) > budget:
                left += len(group)
                continue
            section += block
        out += section
    if left:
        out += [f"{left} more defects are left out to fit a comment: see the full report.", ""]
    comments = ranking.noqa_comments(report.noqa)
    if report.suppressed or comments:
        out += [
            f"{len(report.suppressed)} suppressed with a reason; {len(comments)} `noqa` comments hide findings.",
            "",
        ]
    if not summary:
        out += ["| rule | title | findings |", "|---|---|---:|"]
        for status in rows:
            figure = "–" if status.not_judged else str(len(status.findings))
            out.append(f"| [{status.rule}]({status.url}) | {_cell(status.title)} | {figure} |")
        out.append("")
    out += tail
    return "\n".join(out) + "\n"


RENDERERS = {"text": text, "json": as_json, "sarif": as_sarif, "markdown": markdown}
