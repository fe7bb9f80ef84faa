from django.urls import include, path

from web import dashboard, ops
from web.views import (
    add_node,
    agent,
    appeals,
    invites,
    landing,
    node_page,
    nodes,
    notifications,
    reachability,
    rewards,
    streams,
    viewers,
)

urlpatterns = [
    # Everybody
    path("", viewers.home, name="home"),
    path("watch/<slug:slug>", viewers.watch, name="watch"),
    path("dashboard", dashboard.DashboardView.as_view(), name="dashboard"),
    path("leaderboard", rewards.leaderboard, name="leaderboard"),
    # Accounts: invite links, and Django's own login, logout and password change
    path("accounts/invite/<str:token>", invites.accept_invite, name="accept-invite"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/landing", landing.landing, name="landing"),  # LOGIN_REDIRECT_URL: each to their own page
    # Friends
    path("me", nodes.my_nodes, name="me"),
    path("me/nodes/<int:pk>", node_page.node_page, name="node-page"),
    path("me/nodes/<int:pk>/probe", reachability.probe_node, name="probe-node"),
    path("me/nodes/<int:pk>/appeal", appeals.appeal_node, name="appeal-node"),
    path("me/nodes/<int:pk>/penalty", appeals.node_penalty, name="node-penalty"),
    path("me/notifications", notifications.notification_settings, name="notification-settings"),
    path("nodes/add", add_node.add_node, name="add-node"),
    # The agent as a wheel, for `pip install <URL>` (public: pip sends no session)
    path("agent/latest", agent.latest, name="agent-latest"),
    path("agent/<str:filename>", agent.wheel, name="agent-wheel"),
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
