"""One Django app per kata, loaded so that a broken kata is recorded instead of stopping every kata.

`INSTALLED_APPS` names `dojo.kata_apps.<slug>`; each of those is a `KataAppConfig` subclass made here
from the manifest. The app label is the kata's slug in both trees, so graders import `<slug>.services`
whether they grade `katas/` or `solutions/`.
"""

from django.apps import AppConfig

from dojo.manifest import load_katas
from dojo.problems import BROKEN, describe_error


class KataAppConfig(AppConfig):
    """An app whose models may fail to import: the error is kept for the grader to report."""

    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self) -> None:
        try:
            super().import_models()
        except Exception as error:  # any error in learner code must not stop the other katas
            from pathlib import Path

            BROKEN[self.label] = describe_error(error, Path(self.path))
            self.models_module = None


def _config_for(slug: str) -> type[KataAppConfig]:
    return type(slug, (KataAppConfig,), {"name": slug, "label": slug, "__module__": __name__})


for _kata in load_katas():
    globals()[_kata.slug] = _config_for(_kata.slug)
