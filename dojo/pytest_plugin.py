"""The grading contract, as a pytest plugin (loaded with `-p dojo.pytest_plugin`); its code is `dojo.plugin`.

`pytest katas` and `pytest katas/<slug>` run the graders in `graders/` against the learner's code,
`--solutions` against `solutions/`, `--kata-root DIR` against any tree; each kata in a process of its
own (`DOJO_IN_PROCESS=1`: all in this one). The hooks live in `dojo.plugin.hooks`; this name stays.
"""

from dojo.plugin.collection import GRADER_TIMEOUT_SECONDS
from dojo.plugin.fixtures import committed, emails, kata
from dojo.plugin.hooks import *  # noqa: F403 - the hooks pytest looks for on this module
from dojo.plugin.hooks import __all__ as _hooks

__all__ = ["GRADER_TIMEOUT_SECONDS", "committed", "emails", "kata", *_hooks]
