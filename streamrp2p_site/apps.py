from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project package is an app too, for its operator commands (bootstrap, serve, demo, workerhealth)."""

    name = "streamrp2p_site"
    verbose_name = "StreamrP2P site"

    def ready(self) -> None:
        # DRF's generic views and serializers are generic in the stubs only; make them
        # subscriptable at run time too, as settings.py does for Django's own classes.
        import django_stubs_ext
        from rest_framework import generics, serializers

        django_stubs_ext.monkeypatch(extra_classes=[generics.GenericAPIView, serializers.BaseSerializer])
