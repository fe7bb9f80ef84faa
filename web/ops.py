"""Operations endpoints: /livez and /readyz (/healthz) for orchestrators and load balancers,
/metrics for Prometheus.

- ``/livez``: the process answers (no dependency asked): restart it when this fails.
- ``/readyz``: the database answers: send it traffic. Redis is reported but never decides: with
  Redis down the web tier still answers heartbeats and hooks (core/outages.py), and taking every
  replica out would make SRS refuse every publish. ``/healthz`` is the same answer (the older name).

/metrics reads its figures from the database (one query per family), so every web process answers
the same whatever process did the work (heartbeats land on any web worker, settlements and
spot-checks run in the qcluster). Those aggregates are read at most every METRICS_CACHE_SECONDS per
process: a scrape every few seconds must not count buckets and checks each time. The counters of
this process (``streamr_heartbeats_received_total``, the Redis fail-open and push-drop counts) are
kept in memory, as Prometheus counters usually are.
"""

from __future__ import annotations

import logging
import threading
import time
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

from core import live, outages, tokens
from core.errors import json_error
from nodes.metrics import HEARTBEATS
from nodes.models import Node, NodeMinute
from rewards.models import PayoutRequest, PayoutStatus, Settlement
from streams.models import StreamSession
from validation.models import Outcome, SpotCheck
from validation.services import scheduling

log = logging.getLogger(__name__)


class CoordinatorCollector(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()  # scrapes at once wait for one read, not one read each
        self._figures_read: list[Metric] = []
        self._read_at = -float("inf")  # time.monotonic() of the last read

    def collect(self) -> Iterator[Metric]:
        """The figures, plus streamr_up: 0 (and nothing else) when the database cannot answer."""
        read = self._read()
        if read is None:
            yield GaugeMetricFamily("streamr_up", "1 when the coordinator's figures could be read.", value=0)
            return
        figures, age = read
        yield GaugeMetricFamily("streamr_up", "1 when the coordinator's figures could be read.", value=1)
        yield GaugeMetricFamily(
            "streamr_figures_age_seconds", "How long ago the database figures below were read.", value=age
        )
        yield from figures

    def _read(self) -> tuple[list[Metric], float] | None:
        """The figures and their age: read again when older than METRICS_CACHE_SECONDS, else the
        ones kept in this process's memory (nothing else to fail); a failed read is not kept."""
        with self._lock:
            if time.monotonic() - self._read_at >= settings.METRICS_CACHE_SECONDS:
                try:
                    self._figures_read = list(self._figures())
                except DatabaseError as exc:
                    log.warning("metrics: database unavailable: %s", exc)
                    return None
                self._read_at = time.monotonic()
            return self._figures_read, time.monotonic() - self._read_at

    def forget(self) -> None:
        """Read the figures again at the next scrape (tests)."""
        with self._lock:
            self._read_at = -float("inf")

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
REGISTRY.register(outages.OUTAGES)
REGISTRY.register(outages.FAIL_OPEN)
REGISTRY.register(live.PUSHES_DROPPED)
COORDINATOR = CoordinatorCollector()
REGISTRY.register(COORDINATOR)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; with METRICS_TOKEN set, scrapers send it as a Bearer token."""
    if settings.METRICS_TOKEN:
        given = tokens.bearer(request.META.get("HTTP_AUTHORIZATION", ""))
        if given is None or not tokens.constant_time_equal(given, settings.METRICS_TOKEN):
            return json_error(401, "unauthenticated", "Send 'Authorization: Bearer <METRICS_TOKEN>'.")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: this process answers requests. Asks no database and no Redis, so an outage of
    either never gets healthy processes restarted."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 while this process can reach its database, else 503. Redis is reported
    (``"redis": "ok"`` or ``"down"``) but does not decide: heartbeats and hooks go on without it."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # the answer is the point: never a 500 page
        log.warning("readyz: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    if settings.REDIS_URL:
        checks["redis"] = _redis_state()
    ok = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)


healthz = readyz  # the older name, kept for load balancers and images that probe it


def _redis_state() -> str:
    """Asked even while the cache's breaker is open (the probe says how Redis is now, and a
    success lets the heartbeat limiter use it again at once); one log line per outage."""
    try:  # the cache's short socket timeouts (REDIS_CACHE_OPTIONS) bound this
        cache.set("healthz", "1", timeout=10)
        answered = cache.get("healthz") == "1"
    except Exception as exc:
        outages.CACHE.failed(exc, "readiness")
        return "down"
    outages.CACHE.succeeded()
    return "ok" if answered else "down"
