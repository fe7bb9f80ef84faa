from django.apps import AppConfig


class ValidationConfig(AppConfig):
    """SpotCheck, media fingerprinting, fraud signals, node trust and suspension."""

    name = "validation"
