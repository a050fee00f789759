"""The table of `dojo` commands: each command is one function, declared with its help and arguments.

A new command is one edit: a function in `dojo/cli/commands.py` under `@command(...)`. The parser,
the help and the dispatch are built from this table.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dojo.cli.core import Dojo

Run = Callable[[Dojo, argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One argument of a command, as `argparse.ArgumentParser.add_argument` takes it."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:  # noqa: ANN401 - argparse's own keyword arguments
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Run
    args: tuple[Arg, ...] = ()
    one_of: tuple[Arg, ...] = ()  # mutually exclusive options
    passthrough: bool = False  # the rest of the command line goes to the command as it is (`args.rest`)


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, *args: Arg, one_of: tuple[Arg, ...] = (), passthrough: bool = False
) -> Callable[[Run], Run]:
    """Register the decorated function as the command `name`."""

    def register(run: Run) -> Run:
        COMMANDS[name] = Command(name, help, run, args, one_of, passthrough)
        return run

    return register


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="dojo",
        description="The Backend Standards Dojo's training loop. With no command: the katas and your progress.",
        epilog="Every command is described at http://127.0.0.1:8000/dojo-cli/ (uv run mkdocs serve).",
    )
    subcommands = top.add_subparsers(dest="command", metavar="COMMAND")
    for entry in COMMANDS.values():
        sub = subcommands.add_parser(entry.name, help=entry.help, add_help=not entry.passthrough)
        for argument in entry.args:
            sub.add_argument(*argument.flags, **argument.options)
        if entry.one_of:
            group = sub.add_mutually_exclusive_group()
            for argument in entry.one_of:
                group.add_argument(*argument.flags, **argument.options)
    return top
