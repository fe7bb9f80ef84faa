from django.apps import AppConfig


class ValidationConfig(AppConfig):
    """SpotCheck, media fingerprinting, fraud signals, node trust and suspension."""

    name = "validation"

    def ready(self) -> None:
        from validation import reachability  # noqa: F401  (connects the node URL and node state receivers)
