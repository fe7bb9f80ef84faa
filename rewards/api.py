"""Friends' money API: earnings, leaderboard, payouts and payout method; plus the public /payouts
(settled earnings per stream and node)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.throttle import ScopedThrottle
from rewards import reports, services
from rewards.models import MethodKind, PayoutMethod, PayoutRequest
from rewards.services import estimate

ERRORS = {
    400: OpenApiResponse(description='Bad input: {"error": {"code", "message"}}'),
    403: OpenApiResponse(description="Not signed in."),
}
THROTTLED = OpenApiResponse(description="Too many requests; see Retry-After.")


def money(**kwargs: Any) -> serializers.DecimalField:
    """Money goes out as a decimal string (never a float), in whole cents."""
    return serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True, **kwargs)


def _user(request: Request) -> User:
    if not isinstance(request.user, User):
        raise NotAuthenticated()
    return request.user


class EarningsQuery(serializers.Serializer[Any]):
    by = serializers.ChoiceField(choices=["hour", "day"], default="day")
    days = serializers.IntegerField(min_value=1, max_value=90, default=7, help_text="How far back, in days.")


class PeriodSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField(help_text="Start of the hour or day relayed (UTC).")
    amount = money()
    minutes = serializers.IntegerField(help_text="Verified minutes relayed.")
    bytes_served = serializers.IntegerField()


class NodeEarningsSerializer(serializers.Serializer[Any]):
    node_id = serializers.IntegerField()
    name = serializers.CharField()
    amount = money()
    minutes = serializers.IntegerField()
    bytes_served = serializers.IntegerField()


class MoneyStateSerializer(serializers.Serializer[Any]):
    """What the friend is owed now (``_money_state``); earnings and payouts answers both start with it."""

    currency = serializers.CharField()
    balance = money(help_text="Everything owed now (credits less payouts).")
    pending = money(help_text="Requested, awaiting an admin.")
    available = money(help_text="What a new payout request may ask for (vested, less pending).")
    unvested = money(help_text="Credited, payable once a later check verifies its hours.")


class OpenHourSerializer(serializers.Serializer[Any]):
    """The hour not settled yet, estimated by settlement's own split of the data so far."""

    hour = serializers.DateTimeField(help_text="Start of the open hour (UTC).")
    estimate = money(help_text="What settling the hour now would credit my nodes (the sum of nodes).")
    nodes = serializers.DictField(child=money(), help_text="Per node id: its estimated credit so far.")


class EarningsSerializer(MoneyStateSerializer):
    by = serializers.CharField()
    since = serializers.DateTimeField()
    total = money(help_text="Credits in the window.")
    periods = PeriodSerializer(many=True)
    nodes = NodeEarningsSerializer(many=True)
    open_hour = OpenHourSerializer()


def _money_state(user_id: int) -> dict[str, Any]:
    now = services.account(user_id)
    return {
        "currency": settings.CURRENCY,
        "balance": now.balance,
        "pending": now.pending,
        "available": now.available,
        "unvested": now.unvested,
    }


class EarningsView(APIView):
    """My earnings by hour or day (the hour relayed), per node, and my balance; ``open_hour``: what
    the hour not settled yet would credit so far (settlement's split of the data up to now)."""

    @extend_schema(parameters=[EarningsQuery], responses={200: EarningsSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        query = EarningsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = _user(request)
        since = services.hour_start(timezone.now()) - timedelta(days=query.validated_data["days"])
        if query.validated_data["by"] == "day":
            since = since.replace(hour=0)
        found = reports.earnings(user.pk, by=query.validated_data["by"], since=since)
        body = {**_money_state(user.pk), "by": query.validated_data["by"], "since": since, **found}
        now = estimate.open_hour(user)
        body["open_hour"] = {
            "hour": now.hour,
            "estimate": now.estimate,
            "nodes": {str(k): v for k, v in now.nodes.items()},
        }
        return Response(EarningsSerializer(body).data)


class LeaderboardQuery(serializers.Serializer[Any]):
    window = serializers.ChoiceField(choices=list(reports.WINDOWS), default="24h")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class NodeRankSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    node_id = serializers.IntegerField()
    name = serializers.CharField()
    friend = serializers.CharField()
    earned = money()
    verified_minutes = serializers.IntegerField()
    uptime_percent = serializers.DecimalField(max_digits=4, decimal_places=1, coerce_to_string=True)


class FriendRankSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    friend = serializers.CharField()
    earned = money()
    verified_minutes = serializers.IntegerField()
    nodes = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer[Any]):
    window = serializers.CharField()
    since = serializers.DateTimeField()
    currency = serializers.CharField()
    nodes = NodeRankSerializer(many=True)
    friends = FriendRankSerializer(many=True)


class LeaderboardView(APIView):
    """Nodes and friends ranked by settled earnings, then verified uptime, over 24h, 7d or 30d."""

    @extend_schema(parameters=[LeaderboardQuery], responses={200: LeaderboardSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        query = LeaderboardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        board = reports.leaderboard(query.validated_data["window"], limit=query.validated_data["limit"])
        body = {
            "window": query.validated_data["window"],
            "since": board.since,
            "currency": settings.CURRENCY,
            "nodes": board.nodes,
            "friends": board.friends,
        }
        return Response(LeaderboardSerializer(body).data)


class PayoutSerializer(serializers.ModelSerializer[PayoutRequest]):
    amount = money()

    class Meta:
        model = PayoutRequest
        fields = [
            "id",
            "amount",
            "method",
            "address",
            "status",
            "requested_at",
            "decided_at",
            "reason",
            "paid_at",
            "external_reference",
        ]


class MethodSerializer(serializers.ModelSerializer[PayoutMethod]):
    kind = serializers.ChoiceField(choices=MethodKind.choices)
    address = serializers.CharField(max_length=200, help_text="PayPal email, Venmo handle, or a note.")

    class Meta:
        model = PayoutMethod
        fields = ["kind", "address", "updated_at"]
        read_only_fields = ["updated_at"]


class PayoutsSerializer(MoneyStateSerializer):
    minimum = money(help_text="The smallest payout that may be requested.")
    method = MethodSerializer(allow_null=True)
    payouts = PayoutSerializer(many=True)


class PayoutRequestBody(serializers.Serializer[Any]):
    amount = serializers.CharField(max_length=32, help_text='Whole cents as a string, e.g. "12.50".')


class PayoutsView(APIView):
    """My payout method, balance and payout requests; POST asks for a payout."""

    throttle_classes = [ScopedThrottle.of("payout-request", methods=["POST"])]  # per friend

    @extend_schema(responses={200: PayoutsSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        user = _user(request)
        body = {
            **_money_state(user.pk),
            "minimum": settings.PAYOUT_MINIMUM,
            "method": PayoutMethod.objects.filter(user=user).first(),
            "payouts": PayoutRequest.objects.filter(user=user)[:100],
        }
        return Response(PayoutsSerializer(body).data)

    @extend_schema(
        request=PayoutRequestBody,
        responses={
            201: PayoutSerializer,
            **ERRORS,
            409: OpenApiResponse(description="No payout method, or the amount is more than is available."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        form = PayoutRequestBody(data=request.data)
        form.is_valid(raise_exception=True)
        payout = services.request_payout(_user(request), form.validated_data["amount"])
        return Response(PayoutSerializer(payout).data, status=status.HTTP_201_CREATED)


class PayoutMethodView(APIView):
    """Where my payouts go: PayPal email, Venmo handle or a manual note. Requests keep the old one."""

    @extend_schema(responses={200: MethodSerializer, 404: OpenApiResponse(description="No method set yet.")})
    def get(self, request: Request) -> Response:
        method = PayoutMethod.objects.filter(user=_user(request)).first()
        if method is None:
            return Response({"error": {"code": "no_method", "message": "No payout method set yet."}}, status=404)
        return Response(MethodSerializer(method).data)

    @extend_schema(request=MethodSerializer, responses={200: MethodSerializer, **ERRORS})
    def put(self, request: Request) -> Response:
        form = MethodSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        method = services.set_payout_method(
            _user(request), kind=form.validated_data["kind"], address=form.validated_data["address"]
        )
        return Response(MethodSerializer(method).data)


# /payouts looks back at most 30 days: a longer window is refused (400), not silently shortened.
MAX_HOURS_BACK = 24 * 30


class StreamPayoutsQuery(serializers.Serializer[Any]):
    hours_back = serializers.IntegerField(min_value=1, max_value=MAX_HOURS_BACK, default=24)


class StreamPayoutsView(APIView):
    """Public ``/payouts``: per stream, its settled pools and each node's earnings since ``hours_back``
    (amounts are decimal strings; keyed by node id, never with its owner). The shape the first
    prototype's /payouts had, which tools still read. Node names only for signed-in callers:
    anonymous ones get each node's id in its place (a name often says whose node it is)."""

    permission_classes = [permissions.AllowAny]  # session authentication (the default): names if signed in
    throttle_classes = [ScopedThrottle.of("public-payouts")]

    @extend_schema(
        parameters=[StreamPayoutsQuery],
        responses={
            200: OpenApiResponse(description="Settled earnings per stream and node."),
            400: ERRORS[400],
            429: THROTTLED,
        },
    )
    def get(self, request: Request) -> Response:
        query = StreamPayoutsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        hours = query.validated_data["hours_back"]
        since = services.hour_start(timezone.now()) - timedelta(hours=hours)
        payouts = reports.stream_payouts(since, names=request.user.is_authenticated)
        for stream in payouts.values():
            for key in ("total_pool", "total_credited"):
                stream[key] = str(stream[key])
            stream["individual_earnings"] = {node: str(v) for node, v in stream["individual_earnings"].items()}
            for node in stream["nodes"].values():
                node["amount"] = str(node["amount"])
        body = {
            "status": "success",
            "hours_back": hours,
            "since": since,
            "currency": settings.CURRENCY,
            "payouts": payouts,
        }
        return Response(body)
