"""`dojo audit PATH`: the command line.

Exit status: 0 when clean, 1 on findings, 2 on a usage error, 3 when, under `--tests`, the project's own
tests did not pass (failed, errored, or did not run): its run-time evidence is incomplete, whatever was found.
"""

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from dojo.audit import baseline
from dojo.audit.links import resolve_site
from dojo.audit.project import NoProjectError
from dojo.audit.render import RENDERERS, markdown
from dojo.audit.run import Options, UsageError, audit

CLEAN, FINDINGS, USAGE, TESTS_FAILED = 0, 1, 2, 3


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="dojo audit",
        description="Audit a Django project (or one app folder, with --settings) against the standard, rule by rule.",
        epilog="What each check finds, and how to use the audit in CI: docs/audit.md in the dojo's repository. "
        "The audit loads the project's settings and runs its code (and, with --tests, its tests): audit only "
        "code you trust.",
    )
    top.add_argument("path", type=Path, metavar="PATH", help="the project's folder (with manage.py), or one app folder")
    top.add_argument("--settings", metavar="MODULE", help="the settings module (default: found from manage.py)")
    top.add_argument("--python", metavar="PATH", help="the project's interpreter (default: its .venv, else python3)")
    top.add_argument("--format", choices=sorted(RENDERERS), default="text", help="the report's form (default: text)")
    top.add_argument(
        "--summary",
        action="store_true",
        help="with --format markdown: short enough for a pull-request comment (at most 65,536 characters)",
    )
    top.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout")
    top.add_argument("--select", nargs="+", default=[], metavar="RULE", help="only these rules (IDs or sections: DJ)")
    top.add_argument("--ignore", nargs="+", default=[], metavar="RULE", help="leave these rules out")
    top.add_argument("--baseline", type=Path, metavar="FILE", help="report only findings that FILE does not hold")
    top.add_argument("--write-baseline", type=Path, metavar="FILE", help="record today's findings in FILE, exit 0")
    top.add_argument("--static-only", action="store_true", help="do not load the project's Django")
    top.add_argument(
        "--tests",
        nargs="?",
        const="",
        metavar="PYTEST_ARGS",
        help="also run the project's pytest suite with the audit's plugin (N+1s, calls in transactions, skips)",
    )
    top.add_argument(
        "--site-url",
        help="where the rule pages are published (default: `site-url` in the project's [tool.dojo] table, "
        "else DOJO_SITE_URL; with neither, links name the pages' files in the dojo's repository)",
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error argparse has already explained
        return int(stop.code or 0) and USAGE
    options = Options(
        path=args.path,
        settings=args.settings,
        python=args.python,
        select=tuple(args.select),
        ignore=tuple(args.ignore),
        baseline=args.baseline,
        static_only=args.static_only,
        tests=args.tests is not None,
        pytest_args=tuple(shlex.split(args.tests or "")),
        env=dict(os.environ),
    )
    try:
        report = audit(options)
    except (UsageError, NoProjectError, baseline.BaselineError) as error:
        print(f"dojo audit: {error}", file=sys.stderr)
        return USAGE
    if args.write_baseline is not None:
        count = baseline.write(args.write_baseline, report.findings)
        print(f"dojo audit: recorded {count} findings in {args.write_baseline}", file=sys.stderr)
        return CLEAN
    site = resolve_site(args.site_url, report.project.root)
    if args.format == "markdown":
        rendered = markdown(report, site, summary=args.summary)
    else:
        rendered = RENDERERS[args.format](report, site)
    if args.output is not None:
        args.output.write_text(rendered, encoding="utf-8")
    else:
        sys.stdout.write(rendered)
    if report.tests_passed is False:
        return TESTS_FAILED
    return FINDINGS if report.findings else CLEAN


if __name__ == "__main__":
    sys.exit(main())
