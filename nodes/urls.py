from django.urls import path

from nodes import api, views

urlpatterns = [
    path("api/v1/nodes/register", api.RegisterView.as_view(), name="api-node-register"),
    path("api/v1/nodes/heartbeat", api.HeartbeatView.as_view(), name="api-node-heartbeat"),
    path("api/v1/nodes/me", api.MeView.as_view(), name="api-node-me"),
    path("dashboard", api.dashboard, name="dashboard"),
    path("nodes/add", views.add_node, name="add-node"),
    path("me", views.my_nodes, name="me"),
    path("api/v1/streams/<slug:slug>/playback", api.PlaybackView.as_view(), name="api-playback"),
]
