from django.urls import path

from streams import api, hooks

urlpatterns = [
    path("hooks/srs", hooks.srs_hook, name="hook-srs"),
    path("hooks/nginx-rtmp/<slug:event>", hooks.nginx_rtmp_hook, name="hook-nginx-rtmp"),
    path("api/v1/streams", api.StreamListView.as_view(), name="api-streams"),
]
