"""No `__pycache__` inside the kata trees, and the libraries' bytecode left where it is.

`diff -r katas/X solutions/X` must show the lesson only, so no process that imports kata code
(a grading, mypy's Django plugin, the site's examples) may write bytecode next to it. A
`sys.pycache_prefix` would do that for every module, but it also moves the libraries' bytecode out
of the virtual environment: with `PYTHONDONTWRITEBYTECODE` set (as in CI), each grading would then
compile Django, pydantic and the rest again, about 2.5 s of CPU per grading. Instead, the folders
of the kata trees get an import finder whose loader compiles their modules without writing the
bytecode (`SourceLoader.set_data`, which the import system calls only to cache bytecode); every
other folder keeps Python's own finder.
"""

import sys
from collections.abc import Buffer
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader
from pathlib import Path

__all__ = ["keep_out_of"]

_roots: list[Path] = []


class _UncachedSourceLoader(SourceFileLoader):
    """Python source, compiled on every import: the bytecode is never written to the kata's folder."""

    def set_data(self, path: str, data: Buffer, *, _mode: int = 0o666) -> None:
        return None


def _under_a_root(entry: str) -> bool:
    try:
        folder = Path(entry or ".").resolve()
    except (OSError, RuntimeError):
        return False
    return any(folder == root or folder.is_relative_to(root) for root in _roots)


def _finder(entry: str) -> FileFinder:
    if not _under_a_root(entry):
        raise ImportError(f"{entry} is not a kata tree")  # the next hook (Python's own) takes it
    return FileFinder(entry, (_UncachedSourceLoader, SOURCE_SUFFIXES))


def keep_out_of(*roots: Path) -> None:
    """Import the modules under `roots` without writing their bytecode (idempotent)."""
    added = [root.resolve() for root in roots if root.resolve() not in _roots]
    if not added:
        return
    _roots.extend(added)
    if _finder not in sys.path_hooks:
        sys.path_hooks.insert(0, _finder)
    for entry in list(sys.path_importer_cache):  # folders already seen must be looked at again
        if _under_a_root(entry):
            del sys.path_importer_cache[entry]
