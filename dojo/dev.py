"""`uv run dojo dev ACTION`: the maintainers' tools, under one command next to the learner's.

* `check SLUG`: prove one kata alone (`dojo.devcheck`): the starter fails its lessons, the solution
  passes, every decoy fails and every alternative passes, on the database `DATABASE_URL` names.
* `lock`: write `katas.lock` from `katas/` as it is now (`dojo.trees`).
* `mutate`: mutate the reference solutions and grade each mutant (`dojo.mutate`).
* `bench`: time the gradings, as ratios to a floor measured in the same run (`dojo.bench`).
* `site`: generate the site's pages (`dojo.sitegen`).

The former entry points (`dojo-mutate`, `dojo-bench`, `python -m dojo.trees --write-lock`,
`python -m dojo.devcheck`) stay, as aliases, for one release.
"""

import importlib
import sys
from collections.abc import Callable, Sequence

#: action -> (module, the arguments put before the action's own, what it does)
ACTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "check": ("dojo.devcheck", (), "prove one kata alone: starter, solution, decoys, alternatives"),
    "lock": ("dojo.trees", ("--write-lock",), "write katas.lock from katas/ as it is now"),
    "mutate": ("dojo.mutate", (), "grade mutants of the reference solutions"),
    "bench": ("dojo.bench", (), "time the gradings against a floor measured in the same run"),
    "site": ("dojo.sitegen", (), "generate the site's pages"),
}


def usage() -> str:
    lines = ["usage: dojo dev ACTION [ARGS...]", "", "actions:"]
    lines += [f"  {name:<8} {help_text}" for name, (_module, _args, help_text) in ACTIONS.items()]
    lines += ["", "`dojo dev ACTION --help` describes an action's own arguments."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    action, rest = args[0], args[1:]
    if action not in ACTIONS:
        print(f"dojo dev: no action {action!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        run = load(action)
    except MissingToolError as error:
        print(f"dojo dev: {error}", file=sys.stderr)
        return 2
    _module, before, _help = ACTIONS[action]
    return int(run([*before, *rest]))


class MissingToolError(Exception):
    """An action needs a package of the maintainer group, and the environment was synced without it."""


def load(action: str) -> Callable[[list[str]], int]:
    """The action's `main`; MissingToolError when a package it imports is not installed (a module of our own
    that is missing is a bug, and raises as such)."""
    module, _before, _help = ACTIONS[action]
    try:
        run: Callable[[list[str]], int] = importlib.import_module(module).main
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if not missing or missing == "dojo":
            raise
        raise MissingToolError(
            f"`dojo dev {action}` needs {missing}, one of the maintainer group's tools, and this environment "
            f"was synced without it: run `uv run --group maintainer dojo dev {action}`"
        ) from error
    return run


if __name__ == "__main__":
    sys.exit(main())
