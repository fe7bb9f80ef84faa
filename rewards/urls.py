from django.urls import path

from rewards import api

urlpatterns = [
    path("api/v1/earnings", api.EarningsView.as_view(), name="api-earnings"),
    path("api/v1/leaderboard", api.LeaderboardView.as_view(), name="api-leaderboard"),
    path("api/v1/payouts", api.PayoutsView.as_view(), name="api-payouts"),
    path("api/v1/payouts/method", api.PayoutMethodView.as_view(), name="api-payout-method"),
    path("payouts", api.StreamPayoutsView.as_view(), name="stream-payouts"),
]
