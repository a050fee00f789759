from django.apps import AppConfig


class WorkshopConfig(AppConfig):
    name = "dojo.workshop"
    label = "workshop"
    verbose_name = "Workshop board"
    default_auto_field = "django.db.models.BigAutoField"
