from django.urls import path

from rewards import api, views

urlpatterns = [
    path("api/v1/earnings", api.EarningsView.as_view(), name="api-earnings"),
    path("api/v1/leaderboard", api.LeaderboardView.as_view(), name="api-leaderboard"),
    path("api/v1/payouts", api.PayoutsView.as_view(), name="api-payouts"),
    path("api/v1/payouts/method", api.PayoutMethodView.as_view(), name="api-payout-method"),
    path("payouts", api.SeedPayoutsView.as_view(), name="seed-payouts"),
    path("me/earnings", views.my_earnings, name="my-earnings"),
    path("me/payouts", views.my_payouts, name="my-payouts"),
    path("leaderboard", views.leaderboard, name="leaderboard"),
]
