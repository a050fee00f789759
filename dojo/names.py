"""Names a learner types: the kata they meant, and the closest names when there is no such kata.

`uv run dojo` and `uv run pytest katas/<slug>` answer a mistyped name the same way, from here.
"""

import difflib
from collections.abc import Iterable

from dojo import paths
from dojo.manifest import load_katas


def kata_slugs() -> list[str]:
    return [kata.slug for kata in load_katas(paths.repo().manifest)]


def normalize(name: str) -> str:
    """`katas/n_plus_one/`, `./n-plus-one`, `N_Plus_One` → `n_plus_one`: what a learner meant."""
    slug = name.strip().rstrip("/").removeprefix("./")
    for prefix in ("katas/", "solutions/", "graders/"):
        slug = slug.removeprefix(prefix)
    return slug.split("/", 1)[0].replace("-", "_").lower()


def suggest(slug: str, choices: Iterable[str] | None = None, *, cutoff: float = 0.5) -> list[str]:
    """Up to three known names close to `slug` (the kata slugs by default): similar, or containing it."""
    known = list(kata_slugs() if choices is None else choices)
    close = difflib.get_close_matches(slug, known, n=3, cutoff=cutoff)
    close += [name for name in known if slug and slug in name and name not in close]
    return close[:3]


def did_you_mean(slug: str, choices: Iterable[str] | None = None, *, cutoff: float = 0.5) -> str:
    """` Did you mean: a, b?`, or nothing when no name is close."""
    close = suggest(slug, choices, cutoff=cutoff)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def unknown_kata(name: str) -> str:
    """The message for a kata name that is not in the manifest."""
    return f"There is no kata named {name!r}.{did_you_mean(normalize(name))} `uv run dojo list` shows them all."
