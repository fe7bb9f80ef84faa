from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from web.views import admin_overview

urlpatterns = [
    # Before admin/: the admin's catch-all would answer 404 for it first.
    path("admin/overview/", admin_overview.overview, name="admin-overview"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Machine-facing routes of each app (origin hooks, node and money APIs), then every page.
    path("", include("streams.urls")),
    path("", include("nodes.urls")),
    path("", include("validation.urls")),
    path("", include("rewards.urls")),
    path("", include("web.urls")),
]

handler400 = "core.errors.bad_request"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"
