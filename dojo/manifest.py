"""The kata manifest: the one list of katas that the graders, the site and the tools read.

`katas.toml` holds the order and the catalogue's facts; `graders/<slug>/kata.toml` the rest of a kata,
next to its grader; the checks themselves say which rule they carry (`@pytest.mark.lesson`).
"""

import ast
import itertools
import tokenize
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dojo import paths
from dojo.rules import load_rules
from dojo.tomlcheck import Table, TableError

DIFFICULTIES = ("beginner", "intermediate", "advanced")
MINUTES = (5, 60)
HEADLINE = {"slug", "title", "rules", "difficulty", "minutes"}
DETAILS = {
    "files",
    "hints",
    "discussion",
    "migrations",
    "decoys",
    "decoys_postgresql",
    "decoys_sqlite",
    "alternatives",
    "threat",
    "mutation",
    "audit",
    "edits",
}
#: The check the harness adds to a kata whose kata.toml has an `[edits]` table (dojo.plugin.edits).
EDITS_CHECK = "test_only_the_files_to_edit_were_changed"
MARKERS = ("lesson", "guard")


class ManifestError(ValueError):
    """The manifest is malformed; the message names the kata and the field."""


@dataclass(frozen=True)
class Threat:
    """One way a wrong fix could make the symptom go away, and the checks that catch it."""

    way: str
    caught_by: tuple[str, ...]
    decoys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edits:
    """`[edits]` in a kata.toml: the harness's guard that only the files to edit were changed.

    `guard` is the rule it is filed under, `title` what it checks in a sentence, `why` what an edit
    elsewhere would hide (said to the learner), `fix` where the fix belongs instead, `contract` the
    README's Contract line it enforces, when the README has one.
    """

    guard: str
    title: str
    why: str
    fix: str
    contract: int | None = None


@dataclass(frozen=True)
class Kata:
    """One kata: its metadata, where its files are, and which grader tests carry its lesson."""

    slug: str
    title: str
    rules: tuple[str, ...]
    difficulty: str
    minutes: int
    files: tuple[str, ...]
    hints: tuple[str, ...]
    lessons: dict[str, str] = field(hash=False)
    guards: dict[str, str] = field(hash=False)
    decoys: dict[str, str] = field(hash=False)
    discussion: tuple[str, ...] = ()
    migrations: bool = False
    alternatives: dict[str, str] = field(default_factory=dict, hash=False)
    threats: tuple[Threat, ...] = ()
    equivalent_mutants: dict[str, str] = field(default_factory=dict, hash=False)
    known_survivors: dict[str, str] = field(default_factory=dict, hash=False)
    audit_blind: dict[str, str] = field(default_factory=dict, hash=False)
    audit_accepted: dict[str, str] = field(default_factory=dict, hash=False)
    edits: Edits | None = None
    #: the decoys (all in `decoys` too) whose harm shows on PostgreSQL only: a real row lock, an int4
    #: column, a case-sensitive LIKE; on SQLite they are not expected to fail
    postgresql_decoys: frozenset[str] = frozenset()
    #: the decoys (all in `decoys` too) whose harm shows on SQLite only: a LIKE without an escape
    #: character; on PostgreSQL they are not expected to fail
    sqlite_decoys: frozenset[str] = frozenset()

    @classmethod
    def from_table(cls, data: dict[str, object], where: str, graders: Path = paths.GRADERS) -> "Kata":
        """Read and check one `[[kata]]` table of `katas.toml`, with its `graders/<slug>/kata.toml`."""
        table = Table(data, where, HEADLINE)
        slug = table.text("slug", pattern=r"[a-z][a-z0-9_]{2,39}")
        grader_dir = graders / slug
        details_file = grader_dir / "kata.toml"
        details_where = f"graders/{slug}/kata.toml"
        try:
            with details_file.open("rb") as handle:
                details_data = tomllib.load(handle)
        except FileNotFoundError:
            raise TableError(f"{where}: {details_where} is missing") from None
        except tomllib.TOMLDecodeError as error:
            raise TableError(f"{details_where}: {error}") from None
        details = Table(details_data, details_where, DETAILS)
        lessons, guards = _marked_checks(grader_dir, details_where)
        edits = _edits(details_data.get("edits"), details_where)
        decoys = details.mapping("decoys", at_least=1)
        postgresql_decoys = details.mapping("decoys_postgresql", at_least=0, default={})
        sqlite_decoys = details.mapping("decoys_sqlite", at_least=0, default={})
        tables = {"decoys": decoys, "decoys_postgresql": postgresql_decoys, "decoys_sqlite": sqlite_decoys}
        for first, second in itertools.combinations(tables, 2):
            both = sorted(set(tables[first]) & set(tables[second]))
            if both:
                raise TableError(f"{details_where}: decoys in both [{first}] and [{second}]: {', '.join(both)}")
        if edits is not None:
            if EDITS_CHECK in lessons or EDITS_CHECK in guards:
                raise TableError(f"{details_where}: [edits] and the grader both define {EDITS_CHECK}")
            guards[EDITS_CHECK] = edits.guard
        kata = cls(
            slug=slug,
            title=table.text("title"),
            rules=table.texts("rules", at_least=1),
            difficulty=table.text("difficulty", choices=DIFFICULTIES),
            minutes=table.number("minutes", low=MINUTES[0], high=MINUTES[1]),
            files=details.texts("files", at_least=1),
            hints=details.texts("hints", at_least=2),
            lessons=lessons,
            guards=guards,
            decoys={**decoys, **postgresql_decoys, **sqlite_decoys},
            postgresql_decoys=frozenset(postgresql_decoys),
            sqlite_decoys=frozenset(sqlite_decoys),
            discussion=details.texts("discussion", at_least=0, default=()),
            migrations=details.flag("migrations", default=False),
            alternatives=details.mapping("alternatives", at_least=0, default={}),
            threats=_threats(details_data.get("threat", []), details_where),
            equivalent_mutants=_mutation(details_data.get("mutation", {}), details_where, "equivalent"),
            known_survivors=_mutation(details_data.get("mutation", {}), details_where, "survivors"),
            audit_blind=_audit(details_data.get("audit", {}), details_where, "blind"),
            audit_accepted=_audit(details_data.get("audit", {}), details_where, "accepted"),
            edits=edits,
        )
        if not kata.lessons:
            raise TableError(f"{details_where}: no check of graders/{slug}/ is marked @pytest.mark.lesson(...)")
        known = load_rules()
        for rule_id in (*kata.rules, *kata.lessons.values(), *kata.guards.values()):
            if rule_id not in known:
                raise TableError(f"{where}: unknown rule {rule_id!r} (rules.toml lists the rule IDs)")
        for rule_id in (*kata.lessons.values(), *kata.guards.values()):
            if rule_id not in kata.rules:
                raise TableError(f"{where}: lesson rule {rule_id!r} is missing from the kata's rules")
        teaching = set(kata.lessons) | set(kata.guards)
        for threat in kata.threats:
            unknown = [name for name in threat.caught_by if name not in teaching]
            if unknown:
                raise TableError(
                    f"{details_where}: threat {threat.way!r} names checks that are not lessons or "
                    f"guards: {', '.join(unknown)}"
                )
            unknown = [name for name in threat.decoys if name not in kata.decoys]
            if unknown:
                raise TableError(f"{details_where}: threat {threat.way!r} names unknown decoys: {', '.join(unknown)}")
        return kata

    def caught_on(self, decoy: str, postgresql: bool) -> bool:
        """Whether the grader must reject this decoy on this database (a PostgreSQL- or SQLite-only one: there only)."""
        return decoy not in (self.sqlite_decoys if postgresql else self.postgresql_decoys)

    def decoy_path(self, name: str) -> Path:
        """A decoy: a plausible wrong fix, as a unified diff against the solution."""
        return self.grader_dir / "decoys" / f"{name}.diff"

    def alternative_path(self, name: str) -> Path:
        """An alternative: a correct fix by another route than the solution, as a diff against it."""
        return self.grader_dir / "alternatives" / f"{name}.diff"

    @property
    def starter_dir(self) -> Path:
        return paths.KATAS / self.slug

    @property
    def solution_dir(self) -> Path:
        return paths.SOLUTIONS / self.slug

    @property
    def grader_dir(self) -> Path:
        return paths.GRADERS / self.slug

    @property
    def page(self) -> str:
        """The kata's page, relative to the site root."""
        return f"katas/{self.slug}/"

    def rule_for(self, test_name: str) -> str | None:
        """The rule a grader test teaches, or None when the test only checks behaviour."""
        name = test_name.split("[", 1)[0]
        return self.lessons.get(name) or self.guards.get(name)


def _marked_checks(grader_dir: Path, where: str) -> tuple[dict[str, str], dict[str, str]]:
    """The grader checks marked `@pytest.mark.lesson("RULE")` and `@pytest.mark.guard("RULE")`, by name.

    Read from the source, so that every process (the site, the CLI, a grading) knows them without
    importing the graders, which import the kata code.
    """
    found: dict[str, dict[str, str]] = {kind: {} for kind in MARKERS}
    for module in sorted(grader_dir.glob("test_*.py")):
        with tokenize.open(module) as handle:
            tree = ast.parse(handle.read(), str(module))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                marker = _marker(decorator)
                if marker is None:
                    continue
                kind, rule_id = marker
                if node.name in found["lesson"] or node.name in found["guard"]:
                    raise TableError(f"{where}: {module.name}::{node.name} is marked twice")
                found[kind][node.name] = rule_id
    return found["lesson"], found["guard"]


def _edits(data: object, where: str) -> Edits | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise TableError(f"{where}: [edits] must be a table")
    table = Table(data, f"{where}: [edits]", {"guard", "title", "why", "fix", "contract"})
    return Edits(
        guard=table.text("guard", pattern=r"[A-Z]+-[0-9]+"),
        title=table.text("title"),
        why=table.text("why"),
        fix=table.text("fix"),
        contract=table.number("contract", low=1, high=99) if "contract" in data else None,
    )


def _marker(decorator: ast.expr) -> tuple[str, str] | None:
    """`pytest.mark.lesson("PERF-2")` as ("lesson", "PERF-2"); None for any other decorator."""
    match decorator:
        case ast.Call(
            func=ast.Attribute(value=ast.Attribute(value=ast.Name(id="pytest"), attr="mark"), attr=kind),
            args=[ast.Constant(value=str() as rule_id)],
        ) if kind in MARKERS:
            return kind, rule_id
    return None


def _mutation(data: object, where: str, key: str) -> dict[str, str]:
    """`[mutation]`: `equivalent = { "<mutant id>" = "why it behaves as the solution does" }`, and
    `survivors = { "<mutant id>" = "what check would kill it" }`, mutants not killed yet, said openly."""
    if not isinstance(data, dict):
        raise TableError(f"{where}: [mutation] must be a table")
    return Table(data, f"{where}: [mutation]", {"equivalent", "survivors"}).mapping(key, at_least=0, default={})


def _audit(data: object, where: str, key: str) -> dict[str, str]:
    """`[audit]`: `blind = { "RULE-ID" = "why dojo audit cannot see this lesson in the starter" }`, and
    `accepted = { "RULE-ID file:line" = "why this finding in the solution stands, for now" }`."""
    if not isinstance(data, dict):
        raise TableError(f"{where}: [audit] must be a table")
    return Table(data, f"{where}: [audit]", {"blind", "accepted"}).mapping(key, at_least=0, default={})


def _threats(data: object, where: str) -> tuple[Threat, ...]:
    if not isinstance(data, list):
        raise TableError(f"{where}: [[threat]] must be a list of tables")
    threats = []
    for number, item in enumerate(data, start=1):
        table = Table(item, f"{where}: threat {number}", {"way", "caught_by", "decoys"})
        threats.append(
            Threat(
                way=table.text("way"),
                caught_by=table.texts("caught_by", at_least=1),
                decoys=table.texts("decoys", at_least=0, default=()),
            )
        )
    return tuple(threats)


#: The format of katas.toml this dojo reads (`format_version`, at its top); `dojo dev check` refuses another.
FORMAT_VERSION = 1


def format_version(manifest: Path = paths.MANIFEST) -> int | None:
    """The `format_version` a manifest declares (None when it declares none)."""
    with manifest.open("rb") as handle:
        found = tomllib.load(handle).get("format_version")
    return found if isinstance(found, int) else None


@cache
def load_katas(manifest: Path = paths.MANIFEST, graders: Path = paths.GRADERS) -> tuple[Kata, ...]:
    """Every kata, in the order a learner should take them."""
    with manifest.open("rb") as handle:
        data = tomllib.load(handle)
    katas = []
    for position, table in enumerate(data.get("kata", []), start=1):
        where = f"{manifest.name}: kata {table.get('slug', f'number {position}')}"
        try:
            katas.append(Kata.from_table(table, where, graders))
        except TableError as error:
            raise ManifestError(str(error)) from None
    slugs = [kata.slug for kata in katas]
    if len(set(slugs)) != len(slugs):
        raise ManifestError(f"{manifest.name}: a kata slug appears twice")
    return tuple(katas)


def kata_by_slug() -> dict[str, Kata]:
    return {kata.slug: kata for kata in load_katas()}
