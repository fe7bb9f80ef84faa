from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel is an app only for its one table, the local live-push outbox (core/live_outbox.py)."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
