"""MkDocs hooks: run our generator when a build starts, and serve the learner's status under `serve`.

Pages and the *Rules* and *Katas* navigation are written by `dojo.sitegen` (`uv run dojo site` runs it
alone): the navigation is in `mkdocs.yml` as committed, so another builder that reads `mkdocs.yml` needs
only that step first, and this module never changes the configuration MkDocs loaded. What remains here
is what only MkDocs' own loop can do:

- at every build, run the generator, so that `uv run mkdocs serve` is the one command; when the
  registry or the manifest changed the navigation, the generator rewrites `mkdocs.yml` and this build,
  which still has the navigation it loaded, warns (and fails, strict): a running `serve` watches
  `mkdocs.yml` and builds again from it, a `build` is simply run again;
- under `uv run mkdocs serve`, answer `dojo-status.json` with the learner's results from `.dojo/`
  (`assets/javascripts/dojo-status.js` shows them on the kata pages and the progress page), for the
  served host only: a page from another site that rebinds its DNS name to 127.0.0.1 gets a 403, not
  the learner's results;
- rebuild when the hand-written sources change (not on every write of the generated folder, which
  would rebuild twice, nor on a grading: the open page asks for the status again by itself).

A built site carries `dojo-status.json` holding `null`: no learner, and no failed request.
"""

import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.livereload import LiveReloadServer

from dojo import paths, progress, sitegen
from dojo.browser import fetch

log = logging.getLogger("mkdocs.plugins.dojo")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    sitegen.build(Path(config.docs_dir))
    if config.config_file_path and sitegen.write_config(Path(config.config_file_path)):
        log.warning(
            "%s: the Rules and Katas navigation was out of step with rules.toml and katas.toml and has been "
            "rewritten (`uv run dojo site` does the same); this build still has the old one: build again",
            Path(config.config_file_path).name,
        )
    return config


LOOPBACK = ("127.0.0.1", "localhost", "::1")
EVERY_INTERFACE = ("0.0.0.0", "::")  # noqa: S104 - names of what `mkdocs serve -a` binds, not a bind


def served_hosts(host: str, port: int) -> set[str]:
    """The Host headers a browser on this machine sends for the served site: its address with its port,
    and localhost's names when it listens there."""
    names = {host, *LOOPBACK} if host in LOOPBACK + EVERY_INTERFACE else {host}
    return {f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names}


def status_endpoint(app: WSGIApp, path: str, hosts: set[str]) -> WSGIApp:
    """`app`, except that `path` answers the learner's status, to requests for one of `hosts` only."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != path:
            return app(environ, start_response)
        if environ.get("HTTP_HOST", "").lower() not in hosts:
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"The learner's status is served to this site's own address only.\n"]
        body = json.dumps(progress.site_status(paths.REPO), indent=2).encode("utf-8")
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
        start_response("200 OK", headers)
        return [body]

    return serve


def on_serve(server: LiveReloadServer, config: MkDocsConfig, builder: Callable[..., None]) -> LiveReloadServer:
    host, port = server.server_address[:2]
    app = server.get_app() or server.serve_request
    server.set_app(status_endpoint(app, server.mount_path + sitegen.STATUS, served_hosts(str(host), int(port))))
    built = Path(config.docs_dir)
    with contextlib.suppress(KeyError):  # MkDocs watches it; our generator writes there: watch its sources
        server.unwatch(str(built))
    docs = paths.DOCS
    server.watch(str(docs), recursive=False)
    for folder in sorted(p for p in docs.iterdir() if p.is_dir() and p != built and not p.name.startswith(".")):
        server.watch(str(folder))
    server.watch(str(paths.REPO), recursive=False)  # katas.toml, rules.toml
    for folder in (paths.STANDARD.parent, paths.SOLUTIONS):
        server.watch(str(folder))
    # not the learner's state: a grading rebuilt the whole site (30 to 65 s) and slowed the grading; the
    # open page asks `dojo-status.json` again every few seconds instead (dojo-status.js)
    return server


def on_post_build(config: MkDocsConfig) -> None:
    """Copy the in-browser runner (Pyodide, the wheels, the kata bundles) into the built site."""
    fetch.install(Path(config.site_dir))
