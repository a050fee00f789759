"""`dojo ARGS…`: parse the command line, find the clone, run the command, turn errors into messages."""

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from dojo import paths, trees
from dojo.cli import commands as _commands  # noqa: F401 - registers the commands
from dojo.cli.core import FAILED, Dojo, DojoError, find_root
from dojo.cli.registry import COMMANDS, parser
from dojo.manifest import ManifestError

TEAM_COMMANDS = ("audit", "rules")


def _parse(argv: list[str]) -> argparse.Namespace:
    if argv and argv[0] in COMMANDS and COMMANDS[argv[0]].passthrough:  # its own options, untouched
        return argparse.Namespace(command=argv[0], rest=argv[1:])
    return parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    try:
        args = _parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:  # --help, or a usage error argparse has already explained
        return int(stop.code or 0)
    if args.command in TEAM_COMMANDS:  # a team runs these in its own project: no clone of the dojo needed
        from dojo.audit.entry import main as team_command

        return team_command([args.command, *args.rest])
    out = Console(highlight=False, emoji=False)
    err = Console(stderr=True, highlight=False, emoji=False)
    try:
        with paths.use_repo(find_root(Path.cwd())):
            dojo = Dojo(out=out, err=err)
            dojo.prepare()
            trees.keep_snapshots()
            return COMMANDS[args.command or "list"].run(dojo, args)
    except DojoError as error:
        err.print(Text(str(error)), soft_wrap=True)
        return error.status
    except ManifestError as error:
        err.print(Text(f"The kata manifest cannot be read: {error}"), soft_wrap=True)
        return FAILED
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
