"""`uv run dojo-mutate [slug…]`: mutation testing of every grader against its reference solution.

A grader is only as good as the wrong code it rejects. For each kata, the lines of its `files` where the
solution differs from the starter (the lesson) are mutated one change at a time, and each mutant is
graded like a learner's fix, with `--kata-root`. A mutant the grader passes has *survived*: either a
check is missing, or the mutant is equivalent to the solution, which `graders/<slug>/kata.toml` then says
under `[mutation] equivalent = { "<mutant id>" = "why" }`. A survivor that no check kills yet can be
listed under `survivors`, with the check it needs: the run then reports it as known instead of failing,
so that a new survivor always fails while the known ones are worked off.

The mechanics (parsing with parso, operators, applying the n-th occurrence of an operator) are
cosmic-ray's. Its own runner is not used: it would run the mutants one at a time and over whole files,
while here only the lesson's lines are mutated and each mutant is graded by our harness, one grading
per CPU, each forked from a `GradingServer` that has the libraries imported already.
Three operators of ours are added, because cosmic-ray has none for the mistakes our lessons are about:
dropping one call of a chain (`.select_related(…)`), deleting a call statement (`transaction.on_commit(…)`),
and replacing a `with` block's context (`transaction.atomic()`) by one that does nothing.
"""

import argparse
import ast
import difflib
import itertools
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cosmic_ray.plugins
import parso.python.tree
from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import MutationVisitor
from cosmic_ray.operators.operator import Example, Operator
from parso.tree import BaseNode

from dojo import paths
from dojo.manifest import Kata, kata_by_slug, load_katas
from dojo.results import TestResult
from dojo.runner import TIMED_OUT, GradingServer, grade

# cosmic-ray's operators that make sense for our lessons: one replacement per operator kind, so that a
# comparison yields one or two mutants rather than seven
CORE_OPERATORS = (
    "core/ReplaceBinaryOperator_Add_Sub",
    "core/ReplaceBinaryOperator_Sub_Add",
    "core/ReplaceBinaryOperator_Mul_Add",
    "core/ReplaceBinaryOperator_Div_Mul",
    "core/ReplaceBinaryOperator_FloorDiv_Mul",
    "core/ReplaceBinaryOperator_Mod_FloorDiv",
    "core/ReplaceComparisonOperator_Eq_NotEq",
    "core/ReplaceComparisonOperator_NotEq_Eq",
    "core/ReplaceComparisonOperator_Lt_LtE",
    "core/ReplaceComparisonOperator_LtE_Lt",
    "core/ReplaceComparisonOperator_Gt_GtE",
    "core/ReplaceComparisonOperator_GtE_Gt",
    "core/ReplaceComparisonOperator_Is_IsNot",
    "core/ReplaceComparisonOperator_IsNot_Is",
    "core/AddNot",
    "core/ReplaceTrueWithFalse",
    "core/ReplaceFalseWithTrue",
    "core/ReplaceAndWithOr",
    "core/ReplaceOrWithAnd",
    "core/ReplaceBreakWithContinue",
    "core/ExceptionReplacer",
    "core/NumberReplacer",
    "core/RemoveDecorator",
    "core/ZeroIterationForLoop",
)


def _code(text: str, like: Any) -> parso.python.tree.Name:
    """A leaf that prints as `text` where `like` stood, keeping the whitespace and comments before it."""
    return parso.python.tree.Name(text, like.start_pos, prefix=like.get_first_leaf().prefix)


def _without_prefix(node: Any) -> str:
    return str(node.get_code(include_prefix=False))


class DropChainedCall(Operator):
    """`Invoice.objects.select_related("customer").filter(…)` → `Invoice.objects.filter(…)`."""

    def _calls(self, node: Any) -> list[int]:
        if not isinstance(node, BaseNode) or node.type not in ("atom_expr", "power"):
            return []
        children = node.children
        return [
            index
            for index in range(2, len(children) - 1)
            if children[index].type == "trailer"
            and children[index].children[0] == "."
            and children[index + 1].type == "trailer"
            and children[index + 1].children[0] == "("
        ]

    def mutation_positions(self, node: Any) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
        for index in self._calls(node):
            yield node.children[index].start_pos, node.children[index + 1].end_pos

    def mutate(self, node: Any, index: int) -> Any:
        at = self._calls(node)[index]
        kept = node.children[:at] + node.children[at + 2 :]
        return _code(_without_prefix(kept[0]) + "".join(child.get_code() for child in kept[1:]), node)

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("x = a.b.c(1).d(2)\n", "x = a.b.d(2)\n"),)


class DeleteCallStatement(Operator):
    """A statement that is only a call (`send_receipt(…)`, `transaction.on_commit(…)`) → `pass`."""

    def _is_call_statement(self, node: Any) -> bool:
        if not isinstance(node, BaseNode) or node.type != "simple_stmt" or len(node.children) != 2:
            return False
        statement = node.children[0]
        return (
            statement.type in ("atom_expr", "power")
            and statement.children[-1].type == "trailer"
            and statement.children[-1].children[0] == "("
        )

    def mutation_positions(self, node: Any) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
        if self._is_call_statement(node):
            yield node.children[0].start_pos, node.children[0].end_pos

    def mutate(self, node: Any, index: int) -> Any:
        node.children[0] = _code("pass", node.children[0])
        return node

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("send(1)\n", "pass\n"),)


class NullContext(Operator):
    """`with transaction.atomic():` → `with contextlib.nullcontext():` (the block runs unprotected)."""

    def _contexts(self, node: Any) -> list[Any]:
        if not isinstance(node, BaseNode) or node.type != "with_stmt":
            return []
        items = [child for child in node.children[1:-2] if child.type not in ("operator", "keyword")]
        contexts = []
        for item in items:
            contexts.append(item.children[0] if item.type == "with_item" else item)
        return contexts

    def mutation_positions(self, node: Any) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
        for context in self._contexts(node):
            yield context.start_pos, context.end_pos

    def mutate(self, node: Any, index: int) -> Any:
        context = self._contexts(node)[index]
        parent = context.parent
        parent.children[parent.children.index(context)] = _code('__import__("contextlib").nullcontext()', context)
        return node

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("with atomic():\n    pass\n", 'with __import__("contextlib").nullcontext():\n    pass\n'),)


# parso's tree is only partly typed, and cosmic-ray's not at all: the operators take and return its
# nodes as Any, the boundary the standard allows for third-party libraries
OUR_OPERATORS: dict[str, type[Operator]] = {
    "dojo/DropChainedCall": DropChainedCall,
    "dojo/DeleteCallStatement": DeleteCallStatement,
    "dojo/NullContext": NullContext,
}


def operators() -> dict[str, Operator]:
    """Every operator a kata's lesson lines are mutated with, by name."""
    chosen: dict[str, Operator] = {name: cosmic_ray.plugins.get_operator(name)() for name in CORE_OPERATORS}
    chosen.update({name: operator() for name, operator in OUR_OPERATORS.items()})
    return chosen


@dataclass(frozen=True)
class Mutant:
    """One change to one lesson line of the solution."""

    id: str  # "<file>:<line>:<operator>[#n]": stable while the line and the operator stay
    file: str
    line: int
    operator: str
    occurrence: int
    diff: str


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    outcome: str  # killed | survived | equivalent | known (a survivor listed in kata.toml)
    reason: str = ""


def lesson_lines(starter: str, solution: str) -> set[int]:
    """The lines (1-based) of the solution that the lesson changed or added."""
    matcher = difflib.SequenceMatcher(a=starter.splitlines(), b=solution.splitlines(), autojunk=False)
    lines: set[int] = set()
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(j1 + 1, j2 + 1))
    return lines


def mutants_of(kata: Kata, starter_root: Path = paths.KATAS) -> list[Mutant]:
    """Every mutant of the lesson's lines in the kata's Python files."""
    found: list[Mutant] = []
    for name in kata.files:
        if not name.endswith(".py"):
            continue
        solution_file = kata.solution_dir / name
        starter_file = starter_root / kata.slug / name
        source = solution_file.read_text(encoding="utf-8")
        starter = starter_file.read_text(encoding="utf-8") if starter_file.is_file() else ""
        lines = lesson_lines(starter, source)
        for operator_name, operator in operators().items():
            module = get_ast(source)
            positions = [start for node in ast_nodes(module) for start, _end in operator.mutation_positions(node)]
            seen: dict[int, int] = {}
            for occurrence, (line, _column) in enumerate(positions):
                if line not in lines:
                    continue
                mutated = MutationVisitor.mutate_code(source, operator, occurrence)
                if mutated is None or syntax_of(mutated) == syntax_of(source):
                    continue  # no change Python would see
                number = seen.get(line, 0)
                seen[line] = number + 1
                short = operator_name.split("/", 1)[1]
                mutant_id = f"{name}:{line}:{short}" + (f"#{number + 1}" if number else "")
                diff = "".join(
                    difflib.unified_diff(
                        source.splitlines(keepends=True),
                        mutated.splitlines(keepends=True),
                        f"a/{name}",
                        f"b/{name}",
                        n=1,
                    )
                )
                found.append(Mutant(mutant_id, name, line, operator_name, occurrence, diff))
    return found


def _mutated_source(kata: Kata, mutant: Mutant) -> str:
    source = (kata.solution_dir / mutant.file).read_text(encoding="utf-8")
    mutated = MutationVisitor.mutate_code(source, operators()[mutant.operator], mutant.occurrence)
    if mutated is None:
        raise RuntimeError(f"mutant {mutant.id} can no longer be made")
    return str(mutated)


def syntax_of(source: str) -> str:
    """What Python makes of `source`, without its layout and comments: two mutants that differ only
    there are one mutant, graded once."""
    try:
        return ast.dump(ast.parse(source))
    except SyntaxError:
        return source


#: How much longer than usual a mutant that ran out of time gets, the second time it is graded
SLOW_FACTOR = 6


def _slow_env() -> dict[str, str]:
    """The time limits of a grading, each `SLOW_FACTOR` times the ordinary one."""
    from dojo import isolation, pytest_plugin

    return {
        "DOJO_GRADER_TIMEOUT": f"{pytest_plugin.GRADER_TIMEOUT_SECONDS * SLOW_FACTOR:g}",
        "DOJO_LOAD_TIMEOUT": f"{isolation.LOAD_TIMEOUT_SECONDS * SLOW_FACTOR:g}",
        "DOJO_KATA_TIMEOUT": f"{isolation.KATA_TIMEOUT_SECONDS * SLOW_FACTOR:g}",
    }


def _ran_out_of_time(failed: list[TestResult]) -> bool:
    return bool(failed) and all(test.took_too_long for test in failed)


GRADING_SECONDS = 180


def _grade_tree(kata: Kata, tree: Path, env: dict[str, str], server: GradingServer | None) -> list[TestResult] | None:
    """The failed checks of the kata in `tree` (graded with `-x`: the first), or None if it was not graded.

    A mutant that fails only for running out of time is graded again with limits `SLOW_FACTOR` times
    longer: a loaded machine must not kill a mutant, only the mutant's own endless loop or wait can."""
    failed: list[TestResult] | None = None
    for attempt, limits in enumerate(({}, _slow_env())):
        grading = grade(
            [f"katas/{kata.slug}"],
            kata_root=tree,
            extra_args=("-x", "-q"),
            env={**env, **limits},
            timeout=GRADING_SECONDS * (SLOW_FACTOR if attempt else 1),
            server=server,
        )
        result = grading.katas.get(kata.slug)
        if result is None:
            if grading.exit_code == TIMED_OUT and attempt == 0:
                continue
            return None
        failed = [test for test in result.tests if test.outcome == "failed"]
        if not _ran_out_of_time(failed):
            return failed
    return failed


def _verdict(kata: Kata, mutant: Mutant, failed: list[TestResult] | None) -> Verdict:
    if failed is None:
        return Verdict(mutant, "killed", "the kata could not be graded at all")
    if failed:
        slow = " (still out of time with limits {SLOW_FACTOR} times longer)" if _ran_out_of_time(failed) else ""
        return Verdict(mutant, "killed", f"by {failed[0].test}{slow.format(SLOW_FACTOR=SLOW_FACTOR)}")
    equivalent = kata.equivalent_mutants.get(mutant.id)
    if equivalent is not None:
        return Verdict(mutant, "equivalent", equivalent)
    known = kata.known_survivors.get(mutant.id)
    if known is not None:
        return Verdict(mutant, "known", known)
    return Verdict(mutant, "survived", "every check passed")


def _tree_name(mutant_id: str) -> str:
    return mutant_id.replace("/", "_").replace(":", "_").replace("#", "_")


def grade_mutant(
    kata: Kata, mutant: Mutant | None, scratch: Path, env: dict[str, str], server: GradingServer | None = None
) -> list[TestResult] | None:
    """Grade one mutant like a learner's fix, in a tree of its own (`None`: the solution itself)."""
    tree = scratch / (_tree_name(mutant.id) if mutant is not None else f"{kata.slug}-solution")
    shutil.copytree(kata.solution_dir, tree / kata.slug, ignore=shutil.ignore_patterns("__pycache__"))
    if mutant is not None:
        (tree / kata.slug / mutant.file).write_text(_mutated_source(kata, mutant), encoding="utf-8")
    try:
        return _grade_tree(kata, tree, env, server)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def judge(
    kata: Kata, mutant: Mutant, scratch: Path, env: dict[str, str], server: GradingServer | None = None
) -> Verdict:
    """Grade one mutant like a learner's fix, and say what became of it."""
    return _verdict(kata, mutant, grade_mutant(kata, mutant, scratch, env, server))


_databases = iter(range(1, 1_000_000))


def _env() -> dict[str, str]:
    if "DATABASE_URL" not in os.environ:
        return {}
    return {"DOJO_TEST_DB": f"test_dojo_mutate_{os.getpid()}_{next(_databases)}"}


@dataclass
class Run:
    """Every kata's verdicts, and the katas whose solution its own grader does not pass (here, now)."""

    verdicts: dict[str, list[Verdict]]
    unsound: dict[str, str]


def _print_progress(futures: list[Future[list[TestResult] | None]]) -> None:
    """A line every tenth of the mutants graded: a run takes minutes, and says how far it is."""
    total = len(futures)
    step = max(1, total // 10)
    done = itertools.count(1)
    lock = threading.Lock()
    print(f"grading {total} mutants", file=sys.stderr, flush=True)

    def one_more(_future: Future[list[TestResult] | None]) -> None:
        with lock:
            count = next(done)
        if count % step == 0 or count == total:
            print(f"  graded {count} of {total} mutants", file=sys.stderr, flush=True)

    for future in futures:
        future.add_done_callback(one_more)


def run(katas: list[Kata], workers: int) -> Run:
    """Every mutant of every kata, judged, `workers` gradings at a time.

    Each worker grades in a `GradingServer` of its own. The solution of every kata is graded first, in
    the same way: a grader that fails it here would kill every mutant and prove nothing. Mutants that
    Python reads the same (`syntax_of`) are graded once."""
    servers: queue.Queue[GradingServer] = queue.Queue()
    started: list[GradingServer] = []

    def in_a_server(kata: Kata, mutant: Mutant | None, scratch: Path) -> list[TestResult] | None:
        server = servers.get()
        try:
            return grade_mutant(kata, mutant, scratch, _env(), server)
        finally:
            servers.put(server)

    try:
        with ThreadPoolExecutor(workers) as pool:
            for server in pool.map(lambda _n: GradingServer(), range(workers)):
                started.append(server)
                servers.put(server)
        with tempfile.TemporaryDirectory(prefix="dojo-mutate-") as scratch, ThreadPoolExecutor(workers) as pool:
            baselines = {kata.slug: pool.submit(in_a_server, kata, None, Path(scratch)) for kata in katas}
            made = {kata.slug: mutants_of(kata) for kata in katas}
            gradings: dict[tuple[str, str, str], Future[list[TestResult] | None]] = {}
            for kata in katas:
                for mutant in made[kata.slug]:
                    key = (kata.slug, mutant.file, syntax_of(_mutated_source(kata, mutant)))
                    if key not in gradings:
                        gradings[key] = pool.submit(in_a_server, kata, mutant, Path(scratch))
            _print_progress(list(gradings.values()))
            unsound: dict[str, str] = {}
            for slug, baseline in baselines.items():
                failed = baseline.result()
                if failed is None or failed:
                    unsound[slug] = f"by {failed[0].test}: {failed[0].message}" if failed else "not graded at all"
            verdicts = {
                kata.slug: [
                    _verdict(
                        kata,
                        mutant,
                        gradings[(kata.slug, mutant.file, syntax_of(_mutated_source(kata, mutant)))].result(),
                    )
                    for mutant in made[kata.slug]
                ]
                for kata in katas
            }
    finally:
        for server in started:
            server.close()
    return Run(verdicts, unsound)


def stale_equivalents(kata: Kata, verdicts: list[Verdict]) -> list[str]:
    """Mutant ids that kata.toml names but that are no longer made (the code moved on)."""
    made = {verdict.mutant.id for verdict in verdicts}
    return sorted((set(kata.equivalent_mutants) | set(kata.known_survivors)) - made)


def report(
    katas: list[Kata], results: dict[str, list[Verdict]], unsound: dict[str, str] | None = None
) -> tuple[str, bool]:
    """The per-kata table and the survivors' diffs; and whether every survivor is explained (and every
    solution passed its grader, without which no verdict of its kata means anything)."""
    lines = [f"{'kata':<28} {'mutants':>7} {'killed':>7} {'equiv.':>7} {'known':>6} {'survived':>8}"]
    clean = True
    details: list[str] = []
    for slug, why in (unsound or {}).items():
        clean = False
        details.append(f"{slug}: the reference solution fails its own grader here, {why}")
    for kata in katas:
        verdicts = results[kata.slug]
        counts = {
            name: sum(v.outcome == name for v in verdicts) for name in ("killed", "equivalent", "known", "survived")
        }
        lines.append(
            f"{kata.slug:<28} {len(verdicts):>7} {counts['killed']:>7} {counts['equivalent']:>7} "
            f"{counts['known']:>6} {counts['survived']:>8}"
        )
        for verdict in verdicts:
            if verdict.outcome == "equivalent":
                details.append(f"{kata.slug}: {verdict.mutant.id} is equivalent: {verdict.reason}")
            if verdict.outcome == "known":
                details.append(f"{kata.slug}: {verdict.mutant.id} survives, known: {verdict.reason}")
            if verdict.outcome == "survived":
                clean = False
                details.append(f"{kata.slug}: {verdict.mutant.id} SURVIVED\n{verdict.mutant.diff}")
            if verdict.outcome == "killed" and verdict.mutant.id in kata.known_survivors:
                # good news, and not a failure: a kill can hinge on timing; the entry is out of date
                details.append(
                    f"{kata.slug}: {verdict.mutant.id} is killed now, though kata.toml lists it as a known "
                    "survivor: the gap is closed, so take the entry out of [mutation] survivors"
                )
        for stale in stale_equivalents(kata, verdicts):
            clean = False
            details.append(f"{kata.slug}: kata.toml names {stale} as equivalent, but no such mutant is made now")
    total = sum(len(v) for v in results.values())
    killed = sum(v.outcome == "killed" for vs in results.values() for v in vs)
    lines.append(f"{'all':<28} {total:>7} {killed:>7}")
    return "\n".join([*lines, "", *details]), clean


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dojo-mutate", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("slugs", nargs="*", help="katas to mutate (default: every kata)")
    parser.add_argument("--list", action="store_true", help="only list the mutants, without grading them")
    parser.add_argument("--json", metavar="FILE", help="also write the verdicts as JSON to FILE")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gradings at once")
    args = parser.parse_args(argv)
    known = kata_by_slug()
    unknown = [slug for slug in args.slugs if slug not in known]
    if unknown:
        parser.error(f"no kata named {', '.join(unknown)}; `uv run dojo list` shows them")
    katas = [known[slug] for slug in args.slugs] if args.slugs else list(load_katas())
    if args.list:
        for kata in katas:
            for mutant in mutants_of(kata):
                print(f"{kata.slug}  {mutant.id}")
        return 0
    began = time.monotonic()
    done = run(katas, args.workers)
    text, clean = report(katas, done.verdicts, done.unsound)
    print(text)
    print(f"graded in {time.monotonic() - began:.0f} s, {args.workers} at a time")
    if args.json:
        document = {slug: [asdict(verdict) for verdict in verdicts] for slug, verdicts in done.verdicts.items()}
        Path(args.json).write_text(json.dumps(document, indent=2), encoding="utf-8")
    if not clean:
        print("\nEvery survivor needs a check that kills it, or a reason in kata.toml why it is equivalent.")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
