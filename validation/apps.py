from django.apps import AppConfig


class ValidationConfig(AppConfig):
    """SpotCheck, media fingerprinting, fraud signals, node trust and suspension (validation issue)."""

    name = "validation"
