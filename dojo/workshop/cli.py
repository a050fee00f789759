"""`dojo workshop serve | join | leave | status | flush`: run a board, or take part in one."""

import argparse
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from dojo import config, paths

DEFAULT_PORT = 8800


def _lead_path() -> Path:
    return paths.STATE / "workshop" / "lead.json"


def _room_address(host: str) -> str:
    """The address learners type: the bound one, or this machine's name on the room's network."""
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - compared with, not bound to
        return host
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def serve(args: argparse.Namespace) -> int:
    """Open (or reopen) the lead's workshop, print how to join it, and serve the board under uvicorn."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "dojo.workshop.settings"
    if args.database_url:
        os.environ[config.WORKSHOP_DATABASE_URL] = args.database_url
    if args.site_origin:
        os.environ[config.WORKSHOP_SITE_ORIGINS] = ",".join(args.site_origin)
    (paths.STATE / "workshop").mkdir(parents=True, exist_ok=True)
    import django
    import uvicorn
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from dojo.workshop import services
    from dojo.workshop.models import Workshop

    lead = _reopen(services, Workshop, args)
    address = _room_address(args.host)
    print(f"Workshop '{lead['title']}' — join code {lead['code']}")
    print(f"Learners run:  uv run dojo workshop join http://{address}:{args.port} --code {lead['code']} --name NAME")
    board = f"http://{address}:{args.port}"
    print(f"In the browser: open a kata page with #workshop={board}&code={lead['code']} after its address")
    print(f"Your board:    http://127.0.0.1:{args.port}/#lead={lead['token']}  (the token opens the board: keep it)")
    if args.host in ("127.0.0.1", "localhost"):
        print("Only this machine can reach the board: pass --host 0.0.0.0 for the room's network.")
    uvicorn.run("dojo.workshop.asgi:application", host=args.host, port=args.port, log_level="warning")
    return 0


def _reopen(services: object, workshop_model: type, args: argparse.Namespace) -> dict[str, str]:
    """The lead's last workshop, if its token still opens it; else a new one (`--new` always starts one)."""
    from dojo.workshop import services as board

    try:
        kept = json.loads(_lead_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = None
    if kept and not args.new and board.workshop_of_lead(str(kept.get("token", ""))) is not None:
        return {key: str(value) for key, value in kept.items()}
    opened = board.open_workshop(args.title, stuck_minutes=args.stuck_minutes)
    lead = {"title": opened.workshop.title, "code": opened.workshop.join_code, "token": opened.lead_token}
    from dojo.files import write_json_atomic

    write_json_atomic(_lead_path(), lead)
    return lead


def join(args: argparse.Namespace) -> int:
    from dojo.workshop import client

    try:
        membership = client.join(args.url, args.code, args.name)
    except client.WorkshopClientError as error:
        print(error)
        return 1
    sent, left = client.flush()
    print(f"Joined '{membership.workshop}' as {membership.name}. Each grading now sends the board its counts and")
    print("failing checks (never your code). `uv run dojo workshop leave` stops it.")
    if left:
        print(f"{left} gradings wait to be sent: the board could not be reached just now.")
    elif sent:
        print(f"Your current status was sent ({sent} katas).")
    return 0


def leave(args: argparse.Namespace) -> int:
    from dojo.workshop import client

    print("Left the workshop: gradings are no longer sent." if client.leave() else "You had not joined a workshop.")
    return 0


def status(args: argparse.Namespace) -> int:
    from dojo.workshop import client

    membership = client.read_membership()
    if membership is None:
        print("You have not joined a workshop (`uv run dojo workshop join URL --code CODE --name NAME`).")
        return 0
    queued = len(client._read_outbox())
    print(
        f"Joined '{membership.workshop}' at {membership.url} as {membership.name}; {queued} gradings wait to be sent."
    )
    return 0


def flush(args: argparse.Namespace) -> int:
    from dojo.workshop import client

    sent, left = client.flush()
    print(f"Sent {sent}; {left} still wait (the board could not be reached)." if left else f"Sent {sent}.")
    return 0 if not left else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="dojo workshop", description="Run a workshop board, or take part in one.")
    commands = top.add_subparsers(dest="action", required=True)
    run = commands.add_parser("serve", help="the lead: open a workshop and serve its board")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0: the room's network)")
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument("--title", default="Backend Standards workshop")
    run.add_argument("--stuck-minutes", type=int, default=10, help="a learner failing one check this long is stuck")
    run.add_argument("--database-url", help="PostgreSQL for the board (default: SQLite in .dojo/workshop/)")
    run.add_argument("--new", action="store_true", help="start a new workshop instead of reopening the last one")
    run.add_argument(
        "--site-origin",
        action="append",
        help="the origin of the site whose kata pages post to the board (default: http://127.0.0.1:8000)",
    )
    run.set_defaults(run=serve)
    enter = commands.add_parser("join", help="a learner: send each grading to the lead's board")
    enter.add_argument("url")
    enter.add_argument("--code", required=True)
    enter.add_argument("--name", required=True)
    enter.set_defaults(run=join)
    for name, run_it, text in (
        ("leave", leave, "stop sending gradings"),
        ("status", status, "the board you joined, and what waits to be sent"),
        ("flush", flush, "send what waits now"),
    ):
        commands.add_parser(name, help=text).set_defaults(run=run_it)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code
