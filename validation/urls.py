from django.urls import path

from validation import api

urlpatterns = [
    path("api/v1/streams/<slug:slug>/playback", api.PlaybackView.as_view(), name="api-playback"),
    path("api/v1/playback/reports", api.ReportView.as_view(), name="api-playback-reports"),
]
