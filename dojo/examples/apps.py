from django.apps import AppConfig


class ExamplesConfig(AppConfig):
    name = "dojo.examples"
    label = "examples"
    default_auto_field = "django.db.models.BigAutoField"
