"""`uv run dojo`: the training loop around the graders.

`uv run pytest katas` stays the grading contract; this command is the friendly loop around it: which
kata is next, what failed and where to read about it, a watch mode, hints one at a time, a reset that
backs up first, the solution once solved, and a progress report for the workshop lead.

* `registry`: the table of commands, from which the parser and `--help` are built;
* `commands`: one function per command;
* `core`: one invocation (its consoles, the learner's state, grading);
* `render`: what is printed;
* `watch`: the saves, noticed in a thread of their own, and the watch loop.
"""

from dojo.cli.app import main
from dojo.cli.registry import COMMANDS

__all__ = ["COMMANDS", "main"]
