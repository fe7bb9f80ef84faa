from django.urls import path

from nodes import api

urlpatterns = [
    path("api/v1/nodes/register", api.RegisterView.as_view(), name="api-node-register"),
    path("api/v1/nodes/heartbeat", api.HeartbeatView.as_view(), name="api-node-heartbeat"),
    path("api/v1/nodes/me", api.MeView.as_view(), name="api-node-me"),
]
