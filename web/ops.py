"""Operations endpoints: /healthz for load balancers and /metrics for Prometheus.

/metrics reads its figures from the database at scrape time (one query per family), so every web
process answers the same whatever process did the work (heartbeats land on any web worker,
settlements and spot-checks run in the qcluster). Only ``streamr_heartbeats_received_total`` is
counted in memory, per process, as Prometheus counters usually are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from core import tokens
from core.errors import json_error
from nodes.metrics import HEARTBEATS
from nodes.models import Node, NodeMinute
from rewards.models import PayoutRequest, PayoutStatus, Settlement
from streams.models import StreamSession
from validation.models import Outcome, SpotCheck
from validation.services import scheduling

log = logging.getLogger(__name__)


class CoordinatorCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        """The figures, plus streamr_up: 0 (and nothing else) when the database cannot answer."""
        try:
            figures = list(self._figures())
        except DatabaseError as exc:
            log.warning("metrics: database unavailable: %s", exc)
            yield GaugeMetricFamily("streamr_up", "1 when the coordinator's figures could be read.", value=0)
            return
        yield GaugeMetricFamily("streamr_up", "1 when the coordinator's figures could be read.", value=1)
        yield from figures

    def _figures(self) -> Iterator[Metric]:
        now = timezone.now()
        yield GaugeMetricFamily(
            "streamr_live_streams",
            "Streams live now.",
            value=StreamSession.objects.filter(ended_at__isnull=True).count(),
        )
        nodes = Node.objects.aggregate(
            online=Count("pk", filter=Q(stale_after__gt=now)),
            stale=Count("pk", filter=Q(stale_after__lte=now, offline_after__gt=now)),
            total=Count("pk"),
        )
        family = GaugeMetricFamily("streamr_nodes", "Registered nodes by liveness.", labels=["status"])
        family.add_metric(["online"], nodes["online"])
        family.add_metric(["stale"], nodes["stale"])
        family.add_metric(["offline"], nodes["total"] - nodes["online"] - nodes["stale"])
        yield family

        last_minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
        beats = NodeMinute.objects.filter(minute=last_minute).aggregate(n=Sum("heartbeats"))["n"] or 0
        yield GaugeMetricFamily("streamr_heartbeats_last_minute", "Heartbeats in the last full minute.", value=beats)

        checks = CounterMetricFamily("streamr_spot_checks", "Spot-checks by outcome.", labels=["outcome"])
        counted = dict(SpotCheck.objects.values_list("outcome").annotate(n=Count("pk")).values_list("outcome", "n"))
        for outcome in Outcome.values:
            checks.add_metric([outcome], counted.get(outcome, 0))
        yield checks
        waiting, oldest = scheduling.overdue(now)
        yield GaugeMetricFamily(
            "streamr_spot_checks_overdue", "Online relaying nodes past their check deadline.", value=waiting
        )
        yield GaugeMetricFamily(
            "streamr_spot_check_overdue_seconds",
            "How long the most overdue node has waited past its deadline (coverage falls behind when this grows).",
            value=oldest,
        )

        settled = Settlement.objects.aggregate(n=Count("pk"), total=Sum("duration_ms"), newest=Max("settled_at"))
        yield SummaryMetricFamily(
            "streamr_settlement_duration_seconds",
            "Time spent settling each stream-hour.",
            count_value=settled["n"],
            sum_value=(settled["total"] or 0) / 1000,
        )
        if settled["newest"] is not None:
            yield GaugeMetricFamily(
                "streamr_settlement_last_timestamp_seconds",
                "When the newest settlement ran.",
                value=settled["newest"].timestamp(),
            )

        states = PayoutRequest.objects.values("status").annotate(n=Count("pk"), amount=Sum("amount"))
        by_state = {row["status"]: row for row in states}
        count = GaugeMetricFamily("streamr_payouts", "Payout requests by state.", labels=["state"])
        amount = GaugeMetricFamily(
            "streamr_payout_amount", "Payout amounts by state (ledger currency).", labels=["state"]
        )
        for state in PayoutStatus.values:
            row = by_state.get(state, {"n": 0, "amount": 0})
            count.add_metric([state], row["n"])
            amount.add_metric([state], float(row["amount"] or 0))
        yield count
        yield amount


REGISTRY = CollectorRegistry()  # no auto_describe: it would query the database at import
REGISTRY.register(HEARTBEATS)
REGISTRY.register(CoordinatorCollector())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; with METRICS_TOKEN set, scrapers send it as a Bearer token."""
    if settings.METRICS_TOKEN:
        given = tokens.bearer(request.META.get("HTTP_AUTHORIZATION", ""))
        if given is None or not tokens.constant_time_equal(given, settings.METRICS_TOKEN):
            return json_error(401, "unauthenticated", "Send 'Authorization: Bearer <METRICS_TOKEN>'.")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when this process can reach its database (and cache/Redis when configured), else 503."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # the answer is the point: never a 500 page
        log.warning("healthz: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    if settings.REDIS_URL:
        try:
            cache.set("healthz", "1", timeout=10)
            checks["redis"] = "ok" if cache.get("healthz") == "1" else "unreachable"
        except Exception as exc:
            log.warning("healthz: redis unreachable: %s", exc)
            checks["redis"] = "unreachable"
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)
