"""The report in four forms: text for a terminal, JSON to collect, SARIF for code scanning, Markdown for a PR."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dojo.audit.findings import Finding
from dojo.audit.links import audit_page, kata_links, rule_link
from dojo.audit.registry import Kind, check_named, coverage
from dojo.audit.run import Report
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
        not_run = [
            check.name
            for check in entry.checks
            if (check.kind is Kind.IMPORT and not report.import_checks_ran)
            or (check.kind is Kind.RUNTIME and not report.runtime_checks_ran)
        ]
        partly = entry.unchecked if entry.checks else ""
        if not_run and not not_judged:
            why = ", ".join(f"{name} ({check_named(name).kind})" for name in not_run)
            partly = "; ".join(filter(None, [partly, f"not run here: {why}"]))
        if not not_judged and len(not_run) == len(entry.checks):
            not_judged = f"its checks did not run: {partly}"
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


def text(report: Report, site: str) -> str:
    where, versions = _header(report)
    out = [f"dojo audit of {where}", versions, ""]
    if report.found:
        out[-1:] = ["found " + ", ".join(f"{count} {name}" for name, count in report.found.items()), ""]
    if report.tests_summary:
        out[-1:] = [f"its tests, run with --tests: {report.tests_summary}", ""]
    rows = list(statuses(report, site))
    for status in rows:
        if status.not_judged or not status.findings:
            continue
        count = len(status.findings)
        out.append(f"{status.rule}  {status.title}: {count} finding{'s' * (count != 1)}  ({status.url})")
        out += [f"  {finding.path}:{finding.line}  {finding.message}" for finding in status.findings]
        out.append("")
    unchecked = [status for status in rows if status.not_judged and status.rule not in report.left_out]
    if unchecked:
        out.append("Not checked here, and why:")
        out += [f"  {status.rule}  {status.title}: {status.not_judged}" for status in unchecked]
        out.append("")
    if report.left_out:
        out += [f"Left out by --select/--ignore: {', '.join(report.left_out)}.", ""]
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
    if report.noqa:
        out.append(f"noqa comments that would hide findings of the standard from ruff ({len(report.noqa)}):")
        out += [
            f"  {item.path}:{item.finding_line}  {item.rule} {item.code}, hidden by `{item.comment}` (line {item.line})"
            for item in report.noqa
        ]
        out.append("")
    if report.problems:
        out.append("Not audited, or not loaded:")
        out += [f"  {problem.where}: {problem.message}" for problem in report.problems]
        out.append("")
    out.append("Summary")
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
    parts.append(f"{len(report.noqa)} behind noqa comments")
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


def markdown(report: Report, site: str) -> str:
    where, versions = _header(report)
    rows = list(statuses(report, site))
    out = [f"## dojo audit: {len(report.findings)} findings", "", f"`{where}`; {versions}.", ""]
    out += ["| rule | title | findings |", "|---|---|---:|"]
    for status in rows:
        figure = "–" if status.not_judged else str(len(status.findings))
        out.append(f"| [{status.rule}]({status.url}) | {_cell(status.title)} | {figure} |")
    out.append("")
    for status in rows:
        if status.findings and not status.not_judged:
            out += [
                f"<details><summary><b>{status.rule}</b> {_cell(status.title)}: {len(status.findings)}</summary>",
                "",
            ]
            out += [f"- `{finding.path}:{finding.line}` {_cell(finding.message)}" for finding in status.findings]
            out += ["", "</details>", ""]
    unchecked = [status for status in rows if status.not_judged and status.rule not in report.left_out]
    if unchecked:
        out += ["**Not checked here:**", ""]
        out += [f"- {status.rule} {_cell(status.title)}: {_cell(status.not_judged)}" for status in unchecked]
        out.append("")
    if report.suppressed or report.noqa:
        out.append(f"{len(report.suppressed)} suppressed with a reason; {len(report.noqa)} behind `noqa` comments.")
        out.append("")
    out.append(_totals(report))
    return "\n".join(out) + "\n"


RENDERERS = {"text": text, "json": as_json, "sarif": as_sarif, "markdown": markdown}
