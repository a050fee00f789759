"""`dojo` as a team installs it (the `dojo-audit` distribution): the commands that need no clone of the dojo.

`dojo audit PATH` audits a project; `dojo rules export --format …` writes the standard for coding
assistants. The training loop (`dojo next`, `dojo check`, …) runs in a clone of the dojo, and says so.
"""

import sys
from collections.abc import Sequence

TEAM_COMMANDS = ("audit", "rules")
USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command == "audit":
        from dojo.audit.cli import main as audit

        return audit(rest)
    if command == "rules":
        from dojo.audit.export import main as export

        return export(rest)
    if command in ("", "-h", "--help"):
        print(
            "usage: dojo {audit,rules} ...\n\n"
            "  audit PATH      audit a Django project against the standard (`dojo audit --help`)\n"
            "  rules export    write the standard for coding assistants (`dojo rules export --help`)\n"
        )
        return 0 if command else USAGE
    print(
        f"dojo: `{command}` is a command of the dojo's training loop, which runs in a clone of the dojo; "
        f"this installation has {' and '.join(TEAM_COMMANDS)}.",
        file=sys.stderr,
    )
    return USAGE


if __name__ == "__main__":
    sys.exit(main())
