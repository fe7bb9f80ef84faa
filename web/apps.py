from django.apps import AppConfig


class WebConfig(AppConfig):
    """Every page people open (friends, streamers, viewers), the live websocket, /dashboard,
    /healthz and /metrics: the top app, which may use all the others."""

    name = "web"
    verbose_name = "Web pages"
