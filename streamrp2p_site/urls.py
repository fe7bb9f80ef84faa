from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from streamrp2p_site import ops, views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("streams.urls")),
    path("", include("nodes.urls")),
    path("", include("rewards.urls")),
    path("", include("accounts.urls")),
]

handler400 = "streamrp2p_site.errors.bad_request"
handler404 = "streamrp2p_site.errors.page_not_found"
handler500 = "streamrp2p_site.errors.server_error"
