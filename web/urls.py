from django.urls import include, path

from web import dashboard, ops
from web.views import invites, nodes, rewards, streams, viewers

urlpatterns = [
    # Everybody
    path("", viewers.home, name="home"),
    path("watch/<slug:slug>", viewers.watch, name="watch"),
    path("dashboard", dashboard.DashboardView.as_view(), name="dashboard"),
    path("leaderboard", rewards.leaderboard, name="leaderboard"),
    # Accounts: invite links, and Django's own login, logout and password change
    path("accounts/invite/<str:token>", invites.accept_invite, name="accept-invite"),
    path("accounts/", include("django.contrib.auth.urls")),
    # Friends
    path("me", nodes.my_nodes, name="me"),
    path("nodes/add", nodes.add_node, name="add-node"),
    path("me/earnings", rewards.my_earnings, name="my-earnings"),
    path("me/payouts", rewards.my_payouts, name="my-payouts"),
    # Streamers
    path("me/streams", streams.my_streams, name="my-streams"),
    path("me/streams/<slug:slug>/rotate-key", streams.rotate_key, name="rotate-stream-key"),
    # Operators
    path("livez", ops.livez, name="livez"),
    path("readyz", ops.readyz, name="readyz"),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
]
