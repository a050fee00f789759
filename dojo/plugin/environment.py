"""The kata's Django environment: its app alone, and every module of it loaded before its checks run.

A kata's process sets Django up again with `DOJO_KATAS=<slug>`, so that its test database holds its
own tables only and nothing another kata defines can be loaded; a module that cannot be loaded makes
the kata broken (`dojo.problems.BROKEN`), read by `dojo.plugin.collection`.
"""

import contextlib
import os
from collections.abc import Iterator

import pytest

from dojo import isolation
from dojo.plugin import processes, warm
from dojo.plugin.run import Run, on_postgresql, run_of
from dojo.problems import BROKEN, describe_error


@contextlib.contextmanager
def loaded(config: pytest.Config) -> Iterator[None]:
    """Around collection: the katas' modules loaded (in one process), or this child's kata set up."""
    run = run_of(config)
    if run.role == "in-process":
        from dojo.kata_apps import load_modules

        for slug in run.slugs:
            load_modules(slug, run.kata_root / slug)
    if run.role != "child" or run.child_kata is None:
        yield
        return
    if len(run.slugs) > 1:  # one kata alone imports only what its grader needs
        warm.warm_up(run, postgresql=on_postgresql())
    with isolation.load_time_limit():
        enter_kata(run, run.child_kata)
        yield


def enter_kata(run: Run, slug: str) -> None:
    """In a kata's child: set Django up with this kata's app alone, and load every module of the kata."""
    from django.apps import apps
    from django.conf import settings

    from dojo.kata_apps import load_modules

    os.environ["DOJO_KATAS"] = slug
    processes.forget_django_settings()  # read the settings again, for this kata (and its own test database)
    kata_dir = run.kata_root / slug
    try:
        apps.set_installed_apps(settings.INSTALLED_APPS)
    except (Exception, SystemExit) as error:  # e.g. models that Django refuses: this kata's problem alone
        BROKEN[slug] = describe_error(error, kata_dir)
        return
    load_modules(slug, kata_dir)
