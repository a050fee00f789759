"""Planning: which katas, which tree and which checks the command line asks for, before Django is set up.

`pytest katas[/<slug>[/<grader file>[::test]]]` (or `solutions/…`, `graders/…`) is routed to the
graders; the tree to grade is chosen (`katas/`, `solutions/` with `--solutions`, or `--kata-root DIR`)
and handed to the kata settings through `DOJO_KATA_ROOT`; the process's role is decided.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest

from dojo import bytecode, isolation, names, paths
from dojo import config as dojo_config
from dojo.manifest import kata_by_slug, load_katas
from dojo.plugin.run import Run, run_of

NO_KATAS = "-"  # DOJO_KATAS for a process that loads no kata (see dojo/settings.py)
TREES = MappingProxyType({"katas": paths.KATAS, "solutions": paths.SOLUTIONS})
#: options whose value follows them: never a path to route
VALUED_OPTIONS = ("--kata-root", "--dojo-report", "-k", "-m", "-p")


@dataclass(frozen=True)
class Route:
    """Where a command-line path points in the graders: a kata (or every kata) and maybe a node id."""

    grader_path: str
    tree: str | None
    slug: str | None  # None: every kata
    selection: str | None = None  # a node id within the kata (a file, a test), None for the whole kata


def option_value(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def route(arg: str, invocation_dir: Path) -> Route | None:
    """Map `katas[/<slug>[/<grader file>[::test]]]` (or `solutions/…`, `graders/…`); None for other arguments."""
    if arg.startswith("-"):
        return None
    path_part, colons, test_part = arg.partition("::")
    target = (invocation_dir / path_part).resolve()
    trees: dict[str | None, Path] = {"katas": paths.KATAS, "solutions": paths.SOLUTIONS, None: paths.GRADERS}
    for tree_name, tree in trees.items():
        if target == tree:
            return Route(str(paths.GRADERS), tree_name, None)
        if not target.is_relative_to(tree):
            continue
        slug, *rest = target.relative_to(tree).parts
        if slug not in kata_by_slug():
            raise pytest.UsageError(names.unknown_kata(slug))  # the words and the matching of `uv run dojo`
        kata_dir = paths.GRADERS / slug
        grader_file = kata_dir.joinpath(*rest) if rest else None
        if grader_file is None or not grader_file.exists():  # a kata file (`katas/x/services.py`): the kata
            return Route(str(kata_dir), tree_name, slug)
        node = str(grader_file.relative_to(paths.REPO).as_posix()) + (colons + test_part if colons else "")
        return Route(str(kata_dir), tree_name, slug, node)
    return None


def role() -> str:
    if dojo_config.child_kata():
        return "child"
    return "in-process" if isolation.IN_PROCESS else "parent"


def plan(early_config: pytest.Config, args: list[str]) -> None:
    """Route `katas/...` to the graders (in `args` too) and choose the tree to grade."""
    run = run_of(early_config)
    chosen = option_value(args, "--kata-root")
    routes: list[tuple[int, Route]] = []
    for index, arg in enumerate(args):
        if index > 0 and args[index - 1] in VALUED_OPTIONS:
            continue
        found = route(arg, early_config.invocation_params.dir)
        if found is not None:
            routes.append((index, found))
    for index, found in routes:
        args[index] = found.grader_path
    trees = {found.tree for _index, found in routes}
    if routes:
        plan_grading(run, [found for _index, found in routes], early_config)
    if chosen is None:
        chosen = str(paths.SOLUTIONS if "--solutions" in args or "solutions" in trees else paths.KATAS)
    run.kata_root = Path(chosen).resolve()
    os.environ["DOJO_KATA_ROOT"] = str(run.kata_root)
    # no __pycache__ folders inside the kata trees, so that `diff -r katas/X solutions/X` shows the lesson only
    bytecode.keep_out_of(Path(chosen), paths.KATAS, paths.SOLUTIONS)
    namespace = early_config.known_args_namespace
    namespace.file_or_dir = [
        found.grader_path if (found := route(str(arg), early_config.invocation_params.dir)) else arg
        for arg in namespace.file_or_dir
    ]


def plan_grading(run: Run, routes: list[Route], config: pytest.Config) -> None:
    """The katas to grade, the checks chosen in them, this process's role and a child's command line."""
    everything = any(found.slug is None for found in routes)
    wanted = {found.slug for found in routes if found.slug is not None}
    run.slugs = [kata.slug for kata in load_katas() if everything or kata.slug in wanted]
    whole = {found.slug for found in routes if found.selection is None}
    for found in routes:
        if found.slug is not None and found.selection is not None and not everything and found.slug not in whole:
            run.selections.setdefault(found.slug, []).append(found.selection)
    run.role = role()
    if run.role == "child":
        run.child_kata, channel = dojo_config.take_child()
        isolation.become_child(channel, (dojo_config.kata_root(),))  # the tree its parent chose
    if run.role in ("parent", "child"):
        # the parent loads no kata; a child sets Django up again with its kata alone (dojo.plugin.environment)
        os.environ["DOJO_KATAS"] = NO_KATAS
    elif not everything:
        # only some katas are graded: only their apps are installed, so Django loads and the test
        # database holds no other kata's models
        os.environ["DOJO_KATAS"] = ",".join(sorted(wanted))
    run.child_options = child_options(config)


def child_options(config: pytest.Config) -> list[str]:
    """The command line without its graded paths and without `--dojo-report`, for a spawned child."""
    routed = {arg for arg in config.invocation_params.args if route(str(arg), config.invocation_params.dir)}
    options, skip = [], False
    for arg in map(str, config.invocation_params.args):
        if skip:
            skip = False
        elif arg == "--dojo-report":
            skip = True
        elif arg not in routed and not arg.startswith("--dojo-report="):
            options.append(arg)
    return options


def tree_label(root: Path) -> str:
    for name, tree in TREES.items():
        if root.resolve() == tree:
            return f"{name}/"
    return str(root)
