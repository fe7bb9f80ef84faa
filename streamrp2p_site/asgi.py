"""ASGI entry point (`manage.py web`: uvicorn; daphne for `make run`): pages and APIs over HTTP, the
machines' hot paths — node heartbeats (nodes/fastpath.py) and SRS's hooks (streams/fastpath.py) —
on lean routes ahead of Django's stack, live dashboard updates over one websocket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamrp2p_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from nodes.fastpath import HeartbeatFastPath  # noqa: E402
from streams.fastpath import HookFastPath  # noqa: E402
from web.consumers import LiveConsumer  # noqa: E402

websocket_urls = [path("ws/live", LiveConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": HeartbeatFastPath(HookFastPath(django_asgi_app)),
        # Session cookie auth; the Origin header must be one of ALLOWED_HOSTS (no cross-site sockets).
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urls))),
    }
)
