"""The `dojo` commands, in the order `dojo --help` lists them. Each one is a function under `@command`."""

import argparse
import importlib
import json
import sys
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dojo import backups, names, paths, progress, trees
from dojo.cli import render
from dojo.cli.core import FAILED, OK, Dojo, DojoError, GradingTimeoutError
from dojo.cli.registry import arg, command
from dojo.cli.watch import changes_from_watchfiles, watch_loop
from dojo.files import now
from dojo.manifest import Kata
from dojo.results import KataStatus

SLUG = "SLUG"


def _unique(katas: list[Kata]) -> list[Kata]:
    return list({kata.slug: kata for kata in katas}.values())


def _missing(dojo: Dojo, kata: Kata) -> bool:
    """Say so, and offer a reset, when files of the kata were deleted."""
    gone = progress.missing_files(kata)
    if gone:
        render.show_missing(dojo.err, kata, gone)
    return bool(gone)


def _named_or_current(dojo: Dojo, name: str | None, when_all_solved: str) -> Kata:
    if name:
        return dojo.kata(name)
    current = dojo.current()
    if current is None:
        raise DojoError(when_all_solved)
    return current.kata


@command("list", "every kata with its status, rules, level and minutes, and your progress")
def cmd_list(dojo: Dojo, args: argparse.Namespace) -> int:
    found = dojo.rows()
    current = dojo.current(found)
    dojo.out.print(render.kata_table(found, current, dojo.out.width))
    dojo.out.print(render.progress_bar(sum(row.status == "solved" for row in found), len(found)))
    if current is None:
        dojo.out.print("[green]Every kata is solved.[/] [bold]uv run dojo progress[/] shows your report.")
    else:
        dojo.out.print(
            f"Next: [bold]uv run dojo next[/] ({current.slug}) · grade on every save: [bold]uv run dojo watch[/]"
        )
    for row in found:
        if row.missing_files:
            render.show_missing(dojo.err, row.kata, row.missing_files)
    return OK


@command("next", "the first unsolved kata: what to do, the files to edit, how to grade")
def cmd_next(dojo: Dojo, args: argparse.Namespace) -> int:
    found = dojo.rows()
    current = dojo.current(found)
    if current is None:
        dojo.out.print(
            f"[green]All {len(found)} katas are solved.[/] Compare your code with the references "
            "([bold]uv run dojo solution SLUG[/]) and share [bold]uv run dojo progress --json[/] with your lead."
        )
        return OK
    render.show_kata(dojo.out, current.kata, current, dojo.katas)
    if current.missing_files:
        render.show_missing(dojo.err, current.kata, current.missing_files)
    return OK


@command(
    "check",
    "grade katas (all by default); exit status 0 only when all pass",
    arg("slugs", nargs="*", metavar=SLUG, help="the katas to grade (default: all)"),
    arg("-v", "--verbose", action="store_true", help="also show pytest's full output"),
)
def cmd_check(dojo: Dojo, args: argparse.Namespace) -> int:
    katas = _unique([dojo.kata(name) for name in args.slugs] if args.slugs else list(dojo.katas))
    gradable = [kata for kata in katas if not _missing(dojo, kata)]
    if not gradable:
        return FAILED
    state = dojo.load_state()
    before = {slug: s.first_passed_at for slug, s in state.katas.items()}
    try:
        grading = dojo.grade(gradable)
    except GradingTimeoutError as timeout:
        render.show_timeout(dojo.out, timeout)
        return FAILED
    if args.verbose:
        dojo.out.print(Text(grading.output), soft_wrap=True)
    hints = dojo.load_state()
    passed = []
    for kata in gradable:
        result = grading.katas.get(kata.slug)
        first_pass = result is not None and result.status == KataStatus.SOLVED and not before.get(kata.slug)
        shown = hints.kata(kata.slug).hints_shown
        passed.append(
            render.show_result(dojo.out, kata, result, grading, first_pass=first_pass, hints_shown=shown)
            and result is not None
            and result.status == KataStatus.SOLVED
        )
    return OK if all(passed) and len(gradable) == len(katas) else FAILED


@command(
    "watch",
    "re-grade on every save; go on to the next kata after a pass",
    arg("slug", nargs="?", metavar=SLUG, help="the kata to start with (default: the next unsolved)"),
    arg("--poll", action="store_true", help="poll for changes (network drives, WSL, containers)"),
)
def cmd_watch(dojo: Dojo, args: argparse.Namespace) -> int:
    if args.slug:
        kata = dojo.kata(args.slug)
    else:
        current = dojo.current()
        if current is None:
            dojo.out.print("[green]Every kata is solved.[/] Name one to keep working on it: uv run dojo watch SLUG")
            return OK
        kata = current.kata
    try:
        return watch_loop(dojo, kata, changes_from_watchfiles(args.poll), stay=bool(args.slug))
    except KeyboardInterrupt:
        dojo.out.print("\nStopped watching. [bold]uv run dojo[/] shows where you are.")
        return OK


@command(
    "hint",
    "the next hint of a kata; each call shows one more",
    arg("slug", nargs="?", metavar=SLUG, help="the kata (default: the next unsolved)"),
    arg("--all", action="store_true", help="show again the hints already shown, without a new one"),
)
def cmd_hint(dojo: Dojo, args: argparse.Namespace) -> int:
    kata = _named_or_current(dojo, args.slug, "Every kata is solved; name the kata: uv run dojo hint SLUG")
    state = dojo.load_state()
    remembered = state.kata(kata.slug)
    total = len(kata.hints)
    shown = min(remembered.hints_shown, total)  # a hand-edited count, or a hint removed since
    if args.all:
        if shown == 0:
            dojo.out.print(f"No hint of {kata.slug} shown yet: [bold]uv run dojo hint {kata.slug}[/] shows the first.")
        for number in range(1, shown + 1):
            dojo.out.print(render.hint_panel(kata, number))
        return OK
    if shown >= total:
        dojo.out.print(
            f"No more hints: all {total} hints of {kata.slug} have been shown (the last one again below; "
            f"[bold]uv run dojo hint --all {kata.slug}[/] shows them all). Once the kata passes, "
            f"[bold]uv run dojo solution {kata.slug}[/] shows the reference."
        )
        dojo.out.print(render.hint_panel(kata, total))
        return OK
    remembered.hints_shown = shown + 1
    dojo.save_state(state)
    dojo.out.print(render.hint_panel(kata, remembered.hints_shown))
    if remembered.hints_shown < total:
        dojo.out.print(f"[dim]Another one: uv run dojo hint {kata.slug}[/]")
    else:
        dojo.out.print("[dim]That was the last hint.[/]")
    return OK


def _confirm(dojo: Dojo, question: str) -> bool:
    dojo.out.print(question + " [y/N] ", end="")
    try:
        answer = input()
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


@command(
    "reset",
    "back up your files, then restore the starter",
    arg("slugs", nargs="*", metavar=SLUG),
    arg("--all", action="store_true", help="reset every kata (asks first)"),
    arg("-y", "--yes", action="store_true", help="with --all: do not ask"),
)
def cmd_reset(dojo: Dojo, args: argparse.Namespace) -> int:
    if args.all == bool(args.slugs):
        raise DojoError("Name the katas to reset (uv run dojo reset SLUG), or use --all.")
    katas = list(dojo.katas) if args.all else _unique([dojo.kata(name) for name in args.slugs])
    if args.all and not args.yes:
        question = f"Reset all {len(katas)} katas to their starters? Your files are backed up first in .dojo/backups/."
        if not _confirm(dojo, question):
            dojo.out.print("Nothing was reset.")
            return FAILED
    status = OK
    for kata in katas:
        try:
            backup = backups.reset(kata.slug)
        except backups.RestoreError as error:
            dojo.err.print(f"[red]✘ {kata.slug}[/]: {escape(str(error))}", soft_wrap=True)
            status = FAILED
            continue
        dojo.forget_result(kata.slug)
        if backup is None:
            kept = "there were no files to back up"
        else:
            kept = (
                f"your files are in {dojo.repo.shown(backup.path)}/ "
                f"([bold]uv run dojo restore {backup.name}[/] brings them back)"
            )
        dojo.out.print(f"[green]↺ {kata.slug}[/]: the starter is back in katas/{kata.slug}/; {kept}.", soft_wrap=True)
    return status


@command(
    "backups",
    "list the backups that reset and restore made",
    arg("slug", nargs="?", metavar=SLUG, help="only this kata's backups"),
)
def cmd_backups(dojo: Dojo, args: argparse.Namespace) -> int:
    slug = dojo.kata(args.slug).slug if args.slug else None
    found = backups.list_backups(slug)
    if not found:
        dojo.out.print(
            "No backups yet: [bold]uv run dojo reset[/] and [bold]restore[/] make one before changing files."
        )
        return OK
    table = Table(title="Backups in .dojo/backups/ (newest last)", title_justify="left")
    wide = dojo.out.width >= render.WIDE  # narrower, the backup's name says its kata: IDs are never cut
    table.add_column("Backup", no_wrap=True)
    if wide:
        table.add_column("Kata", no_wrap=True)
    table.add_column("Taken", no_wrap=True)
    table.add_column("Files")
    for backup in found:
        taken = f"{backup.created_at.astimezone():%Y-%m-%d %H:%M:%S}"
        table.add_row(backup.name, *([backup.slug] if wide else []), taken, ", ".join(backup.files))
    dojo.out.print(table)
    dojo.out.print("Restore one with [bold]uv run dojo restore BACKUP[/] (or a kata's slug: its newest backup).")
    return OK


@command(
    "restore",
    "put a backup's files back (backing up the current ones first)",
    arg("backup", metavar="BACKUP", help="a name from `dojo backups`, or a slug for its newest"),
)
def cmd_restore(dojo: Dojo, args: argparse.Namespace) -> int:
    found = backups.list_backups()
    wanted = args.backup.rstrip("/").split("/")[-1]
    chosen = next((backup for backup in found if backup.name == wanted), None)
    if chosen is None:
        slug = next((kata.slug for kata in dojo.katas if kata.slug == args.backup), None)
        of_kata = [backup for backup in found if backup.slug == slug]
        if slug is not None and not of_kata:
            raise DojoError(f"There is no backup of {slug} yet.", FAILED)
        chosen = of_kata[-1] if of_kata else None
    if chosen is None:
        suggestion = names.did_you_mean(args.backup, [backup.name for backup in found], cutoff=0.3)
        raise DojoError(f"There is no backup named {args.backup!r}.{suggestion} `uv run dojo backups` lists them.")
    try:
        current = backups.restore(chosen)
    except backups.RestoreError as error:
        raise DojoError(str(error), FAILED) from None
    dojo.forget_result(chosen.slug)
    kept = f" What was there before is in {dojo.repo.shown(current.path)}/." if current else ""
    dojo.out.print(
        f"[green]↺ {chosen.slug}[/]: katas/{chosen.slug}/ holds the files of {chosen.name} again.{kept} "
        f"Grade them: [bold]uv run dojo check {chosen.slug}[/]",
        soft_wrap=True,
    )
    return OK


@command(
    "solution",
    "once a kata passes: the lesson (starter → reference), and your code against the reference",
    arg("slug", metavar=SLUG),
    arg("--force", action="store_true", help="show it before the kata passes (a spoiler)"),
)
def cmd_solution(dojo: Dojo, args: argparse.Namespace) -> int:
    kata = dojo.kata(args.slug)
    row = dojo.row(kata)
    if row.status != "solved":
        if not args.force:
            dojo.err.print(
                f"The solution of {kata.slug} unlocks once the kata passes: [bold]uv run dojo check {kata.slug}[/]. "
                f"It teaches most once you have met the problem. Stuck? [bold]uv run dojo hint {kata.slug}[/]. "
                f"To look anyway: [bold]uv run dojo solution {kata.slug} --force[/]."
            )
            return FAILED
        dojo.err.print(
            f"[bold yellow]Spoiler:[/] {kata.slug} does not pass yet ({row.status}); here is the reference anyway."
        )
    try:
        lesson = trees.lesson_diff(kata.slug)
    except trees.StarterError as error:
        raise DojoError(str(error), FAILED) from None
    dojo.out.print(f"The lesson of {kata.slug}, from the starter (-) to the reference solution (+):\n")
    render.show_diff(dojo.out, lesson)
    yours = trees.learner_diff(kata.slug)
    if not yours:
        dojo.out.print(f"\nYour {', '.join(kata.files)} match the reference solution exactly.")
    else:
        dojo.out.print("\nFrom your code (-) to the reference solution (+):\n")
        render.show_diff(dojo.out, yours)
    dojo.out.print(f"\nThe lesson, explained: {paths.SITE_URL}/{kata.page}#reference-solution", soft_wrap=True)
    if kata.discussion:
        dojo.out.print("To think about: " + kata.discussion[0], soft_wrap=True)
    return OK


@command(
    "progress",
    "your progress report, for you or your workshop lead",
    arg("--name", help="the learner's name in the report (default: git's user.name)"),
    one_of=(
        arg("--json", action="store_true", help="as JSON, to collect"),
        arg("--markdown", action="store_true", help="as a Markdown table"),
    ),
)
def cmd_progress(dojo: Dojo, args: argparse.Namespace) -> int:
    found = dojo.rows()
    learner = args.name or progress.learner_name()
    if args.json:
        document = progress.report(found, learner=learner, generated_at=now())
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return OK
    if args.markdown:
        sys.stdout.write(progress.markdown(found, learner=learner, generated_at=now()))
        return OK
    dojo.out.print(render.progress_table(found, learner))
    dojo.out.print(
        "For your workshop lead: [bold]uv run dojo progress --json > progress.json[/] (or [bold]--markdown[/])."
    )
    return OK


# --- for contributors and facilitators: their own modules, loaded only when asked for ---------------


@command("site", "for contributors: generate the site's pages (`uv run dojo site --help`)", passthrough=True)
def cmd_site(dojo: Dojo, args: argparse.Namespace) -> int:
    status: int = _contributor_module("dojo.sitegen").main(args.rest)  # from dojo.sitegen import main
    return status


@command("dev", "for contributors: check, lock, mutate, bench, site (`uv run dojo dev --help`)", passthrough=True)
def cmd_dev(dojo: Dojo, args: argparse.Namespace) -> int:
    status: int = _contributor_module("dojo.dev").main(args.rest)  # from dojo.dev import main
    return status


@command("audit", "audit a Django project against the standard (`dojo audit --help`)", passthrough=True)
def cmd_audit(dojo: Dojo, args: argparse.Namespace) -> int:
    status: int = _contributor_module("dojo.audit.cli").main(args.rest)  # from dojo.audit.cli import main
    return status


@command(
    "workshop",
    "a live board of the room: `serve` it (a lead), or `join` one (`uv run dojo workshop --help`)",
    passthrough=True,
)
def cmd_workshop(dojo: Dojo, args: argparse.Namespace) -> int:
    from dojo.workshop.cli import main

    return main(args.rest)


@command("rules", "the standard for coding assistants (`dojo rules export --help`)", passthrough=True)
def cmd_rules(dojo: Dojo, args: argparse.Namespace) -> int:
    status: int = _contributor_module("dojo.audit.export").main(args.rest)  # from dojo.audit.export import main
    return status


def _contributor_module(name: str) -> Any:  # noqa: ANN401 - a module of ours, loaded by name
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is None or not name.startswith(error.name):
            raise
        raise DojoError(f"This copy of the dojo has no {name} (a module for contributors).", FAILED) from None
