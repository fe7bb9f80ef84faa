from django.urls import path

from streams import api, hooks, views

urlpatterns = [
    path("hooks/srs", hooks.srs_hook, name="hook-srs"),
    path("hooks/nginx-rtmp/<slug:event>", hooks.nginx_rtmp_hook, name="hook-nginx-rtmp"),
    path("api/v1/streams", api.StreamListView.as_view(), name="api-streams"),
    path("me/streams", views.my_streams, name="my-streams"),
    path("me/streams/<slug:slug>/rotate-key", views.rotate_key, name="rotate-stream-key"),
    path("watch/<slug:slug>", views.watch, name="watch"),
]
