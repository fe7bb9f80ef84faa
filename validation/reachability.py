"""Can viewers reach a node? The site fetches the node's ``<public_url>/healthz`` from outside.

Home relays most often fail here: the agent runs, heartbeats go out, but the router does not
forward the port, so no viewer (and no spot-check) ever reaches it. A probe says so in plain
words with advice, at the moments a friend is looking: the node's first heartbeat, a new public
URL (``nodes.signals.node_url_seen``, queued as a django-q2 job after commit), a click on /me
(``web/views/reachability.py``), and a periodic re-probe of nodes whose last probe failed or is
old (``validation.tasks.reprobe_nodes``).

Everything goes through the spot-checker's SSRF-safe fetcher (validation.fetching, core.netguard):
the probe connects only to vetted addresses. Exception text and status codes go to
``staff_detail`` (admin only); the owner gets the verdict's advice.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.dispatch import receiver
from django.utils import timezone
from django_q.tasks import async_task

from core import live, netguard, tokens
from core.throttle import CACHE_DOWN
from nodes.models import Node
from nodes.signals import node_state_requested, node_url_seen
from validation import fetching
from validation.events import NodeReachability
from validation.models import ReachabilityProbe as ReachabilityProbe  # re-exported: callers type with it
from validation.models import ReachabilityVerdict as V

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # an agent's /healthz is a few hundred bytes
REPROBE_THREADS = 8  # probes in flight in a periodic run: each mostly waits on the network
ENQUEUE_WAIT_SECONDS = 0.5  # the most queueing a probe may add to a heartbeat batch (Redis broker)
NEVER_PROBED: dict[str, Any] = {"ok": False, "verdict": "unknown", "detail": "not checked yet", "checked_at": None}


@dataclass(frozen=True)
class Finding:
    verdict: str
    detail: str  # for the owner: what was found and what to do
    staff_detail: str = ""  # exception text, status codes: admin only
    latency_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == V.OK


def _where(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _forward(port: int) -> str:
    return f"forward TCP port {port} on your router to this machine (and allow it through its firewall)"


def advice(verdict: str, url: str, *, status: int | None = None, other_node: bool = False) -> str:
    """The owner's words for a verdict on ``url``: what is wrong and what to do, never exception text."""
    host, port = _where(url)
    place = f"{host}:{port}"
    seconds = f"{settings.REACHABILITY_TIMEOUT_SECONDS:g}"
    words = {
        V.OK: f"Reachable: viewers can reach your node at {place}.",
        V.REFUSED: f"Nothing accepted the connection at {place}. If the agent is running, {_forward(port)}.",
        V.TIMEOUT: f"No answer from {place} within {seconds} s. Start the agent, and {_forward(port)}.",
        V.NO_DNS: (
            f"The name {host} does not resolve. Check the DNS name in your public URL, or that your "
            "dynamic DNS service points it at your current address."
        ),
        V.NOT_PUBLIC: (
            f"{host} is a private or local address that viewers cannot reach. Use your public address "
            f"(or a DNS name for it) in the public URL, and {_forward(port)}."
        ),
        V.WRONG_NODE: (
            f"Another StreamrP2P node answers at {place}, not this one: give each node its own port and "
            "forward each port to its own machine."
            if other_node
            else f"Something other than the node agent answers at {place} (another service, perhaps the "
            f"router itself): {_forward(port)} where the agent runs."
        ),
        V.HTTP_ERROR: (
            f"{place} answered HTTP {status} instead of the agent's status page: another service may "
            f"own this port; {_forward(port)} where the agent runs."
        ),
        V.ERROR: f"Could not connect to {place}. Check that the agent is running, and {_forward(port)}.",
    }
    return words[V(verdict)][:300]


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _connect_failure(exc: httpx.HTTPError, url: str) -> Finding:
    """A failed connection or exchange, told apart by what lies under httpx's error."""
    text = f"{exc.__class__.__name__}: {exc}"[:500]
    causes = list(_causes(exc))
    if isinstance(exc, httpx.TimeoutException) or any(isinstance(c, TimeoutError) for c in causes):
        return Finding(V.TIMEOUT, advice(V.TIMEOUT, url), text)
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in str(exc).lower():
        return Finding(V.REFUSED, advice(V.REFUSED, url), text)
    if any(isinstance(c, ssl.SSLError) for c in causes):
        host, _ = _where(url)
        words = f"The secure connection to {host} failed: check its TLS certificate, or use an http:// URL."
        return Finding(V.ERROR, words, text)
    return Finding(V.ERROR, advice(V.ERROR, url), text)


def _read(response: httpx.Response, deadline: float) -> bytes:
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise fetching.TooLarge(f"more than {MAX_BODY_BYTES} bytes")
        if time.monotonic() >= deadline:  # a trickling sender never ends a read timeout
            raise httpx.ReadTimeout("still sending at the probe's deadline")
    return fetching.decode(bytes(body), response.headers.get("content-encoding", ""), MAX_BODY_BYTES)


def _judge_answer(response: httpx.Response, body: bytes, url: str, node_id: int, latency: int) -> Finding:
    status = response.status_code
    if status != 200:
        where = f" to {response.headers.get('location', '?')[:200]}" if response.is_redirect else ""
        return Finding(V.HTTP_ERROR, advice(V.HTTP_ERROR, url, status=status), f"HTTP {status}{where}", latency)
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        answer = None
    reported = answer.get("node_id") if isinstance(answer, dict) else None
    if not isinstance(reported, int) or isinstance(reported, bool):
        staff = f"HTTP 200 without an agent's node_id: {body[:200]!r}"
        return Finding(V.WRONG_NODE, advice(V.WRONG_NODE, url), staff, latency)
    if reported != node_id:
        staff = f"node {reported} answered instead of node {node_id}"
        return Finding(V.WRONG_NODE, advice(V.WRONG_NODE, url, other_node=True), staff, latency)
    return Finding(V.OK, advice(V.OK, url), f"HTTP 200 in {latency} ms", latency)


def check(url: str, node_id: int) -> Finding:
    """Fetch ``url``/healthz as a viewer's browser would and judge the answer (no database)."""
    host, port = _where(url)
    seconds = float(settings.REACHABILITY_TIMEOUT_SECONDS)
    try:
        # Resolved and vetted first only to tell "no such name" and "internal address" apart from a
        # refused connection: the fetcher vets the addresses again at every connection.
        netguard.resolve_vetted(host, port, allow_private=settings.NODE_ALLOW_PRIVATE_URLS, timeout=seconds)
    except netguard.Unresolvable as exc:
        return Finding(V.NO_DNS, advice(V.NO_DNS, url), str(exc)[:500])
    except netguard.UnsafeAddress as exc:
        return Finding(V.NOT_PUBLIC, advice(V.NOT_PUBLIC, url), exc.reason[:500])
    target = url.rstrip("/") + "/healthz"
    started = time.monotonic()
    try:
        with fetching.client() as http:
            http.timeout = httpx.Timeout(seconds)
            response = fetching.get(http, target, "")
            try:
                body = _read(response, started + 2 * seconds)
            finally:
                response.close()
    except netguard.UnsafeAddress as exc:  # the name changed its addresses since the lookup above
        return Finding(V.NOT_PUBLIC, advice(V.NOT_PUBLIC, url), exc.reason[:500])
    except (fetching.TooLarge, fetching.Undecodable) as exc:
        return Finding(V.WRONG_NODE, advice(V.WRONG_NODE, url), f"/healthz body {exc}"[:500])
    except httpx.HTTPError as exc:
        return _connect_failure(exc, url)
    latency = int((time.monotonic() - started) * 1000)
    return _judge_answer(response, body, url, node_id, latency)


def probe(node: Node, trigger: str) -> ReachabilityProbe:
    """Probe ``node`` now, record the result and push it to the owner's open pages."""
    return record(node, trigger, safe_check(node.public_url, node.pk))


def safe_check(url: str, node_id: int) -> Finding:
    """``check``, and a probe that broke is still an answer (logged), never a 500 on /me."""
    try:
        return check(url, node_id)
    except Exception as exc:
        log.exception("reachability probe of node %s broke", node_id)
        return Finding(V.ERROR, advice(V.ERROR, url), f"{exc.__class__.__name__}: {exc}"[:500])


def record(node: Node, trigger: str, found: Finding, *, url: str | None = None) -> ReachabilityProbe:
    """Keep a finding on ``node`` (probed at ``url``, default its public URL) and push it to its owner."""
    saved = ReachabilityProbe.objects.create(
        node=node,
        checked_at=timezone.now(),
        url=(url or node.public_url)[:300],
        ok=found.ok,
        verdict=found.verdict,
        detail=found.detail,
        trigger=trigger[:16],
        latency_ms=found.latency_ms,
        staff_detail=found.staff_detail,
    )
    log.info("reachability of node %s (%s): %s", node.pk, trigger, found.verdict)
    live.push(
        NodeReachability(
            audience=node.owner_id,
            node_id=node.pk,
            ok=saved.ok,
            verdict=saved.verdict,
            detail=saved.detail,
            checked_at=saved.checked_at,
        )
    )
    return saved


def newest_probe() -> Subquery:
    """The id of the newest probe of the node in the outer query (one index lookup per node)."""
    newest = ReachabilityProbe.objects.filter(node_id=OuterRef("pk")).order_by("-checked_at", "-pk")
    return Subquery(newest.values("pk")[:1])


def latest_for(node_ids: Iterable[int]) -> dict[int, ReachabilityProbe]:
    """Each node's newest probe (nodes never probed are absent), in one query."""
    ids = list(node_ids)
    if not ids:
        return {}
    newest = Node.objects.filter(pk__in=ids).values("pk").annotate(probe=newest_probe()).values("probe")
    return {p.node_id: p for p in ReachabilityProbe.objects.filter(pk__in=Subquery(newest))}


def as_state(record: ReachabilityProbe | None) -> dict[str, Any]:
    """The ``reachability`` part of GET /api/v1/nodes/me and of the probe view's answer."""
    if record is None:
        return dict(NEVER_PROBED)
    return {"ok": record.ok, "verdict": record.verdict, "detail": record.detail, "checked_at": record.checked_at}


# --- Queueing: after commit, at most one probe per node and URL in a short window ---------------


def queue_probe(node: Node, trigger: str) -> None:
    """Probe ``node`` in a django-q2 job once the current transaction commits."""
    _queue(node.pk, trigger)


_enqueuer: tuple[int, ThreadPoolExecutor] | None = None


def _redis_enqueuer() -> ThreadPoolExecutor:
    """One thread per process (made again after a fork, as core.netguard's resolver pool)."""
    global _enqueuer
    if _enqueuer is None or _enqueuer[0] != os.getpid():
        _enqueuer = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="reachability-queue"))
    return _enqueuer[1]


def _enqueue(node_id: int, trigger: str) -> None:
    async_task("validation.tasks.probe_node", node_id, trigger, task_name=f"reachability-{node_id}")


def _queue(node_id: int, trigger: str) -> None:
    def enqueue() -> None:
        try:
            if "redis" in settings.Q_CLUSTER:
                # This runs on the heartbeat path, and django-q2's Redis client has no socket
                # timeouts: a hung Redis must cost a batch a bounded wait, not block it forever.
                _redis_enqueuer().submit(_enqueue, node_id, trigger).result(timeout=ENQUEUE_WAIT_SECONDS)
            else:
                _enqueue(node_id, trigger)  # the ORM broker: an insert on this thread's connection
        except Exception:  # the broker down or hung: the periodic re-probe catches the node up later
            log.warning("could not queue a reachability probe of node %s", node_id, exc_info=True)

    transaction.on_commit(enqueue)


def claim(node_id: int, url: str) -> bool:
    """Whether this worker may probe ``node_id`` at ``url`` now: not while another worker holds the
    claim (an atomic add in the shared cache; fails open when the cache is down) nor when a probe of
    the same URL was recorded within REACHABILITY_CLAIM_SECONDS (jobs queued twice probe once)."""
    window = settings.REACHABILITY_CLAIM_SECONDS
    key = f"reachability:claim:{node_id}:{tokens.digest(url)[:16]}"
    try:
        if not cache.add(key, 1, timeout=window):
            return False
    except CACHE_DOWN:
        log.warning("cache down: probing node %s without a claim", node_id)
    since = timezone.now() - timedelta(seconds=window)
    return not ReachabilityProbe.objects.filter(node_id=node_id, url=url[:300], checked_at__gte=since).exists()


def run_queued(node_id: int, trigger: str) -> str | None:
    """The queued job: probe the node if it still exists and nobody probed it just now."""
    node = Node.objects.filter(pk=node_id).first()
    if node is None or not claim(node.pk, node.public_url):
        return None
    return str(probe(node, trigger).verdict)


def due(limit: int) -> list[Node]:
    """Online nodes to probe again, most overdue first: never probed, probed at another URL than
    their public URL now (a queued probe that was lost), the newest probe failed over
    REACHABILITY_RETRY_MINUTES ago, or it passed over REACHABILITY_REFRESH_HOURS ago."""
    now = timezone.now()
    failed_before = now - timedelta(minutes=settings.REACHABILITY_RETRY_MINUTES)
    passed_before = now - timedelta(hours=settings.REACHABILITY_REFRESH_HOURS)
    newest = ReachabilityProbe.objects.filter(node_id=OuterRef("pk")).order_by("-checked_at", "-pk")
    nodes = (
        Node.objects.filter(offline_after__gt=now)
        .exclude(approval="suspended")
        .annotate(
            probed_at=Subquery(newest.values("checked_at")[:1]),
            probed_ok=Subquery(newest.values("ok")[:1]),
            probed_url=Subquery(newest.values("url")[:1]),
        )
        .filter(
            Q(probed_at__isnull=True)
            | ~Q(probed_url=F("public_url"))
            | Q(probed_ok=False, probed_at__lt=failed_before)
            | Q(probed_ok=True, probed_at__lt=passed_before)
        )
        .order_by(F("probed_at").asc(nulls_first=True), "pk")
    )
    return list(nodes[:limit])


def reprobe(limit: int | None = None) -> dict[str, int]:
    """Probe the nodes that are due, a few at a time (the fetches in threads: they touch no database),
    within the job's time; returns the count of each verdict."""
    nodes = [n for n in due(limit or settings.REACHABILITY_PROBES_PER_RUN) if claim(n.pk, n.public_url)]
    counts: dict[str, int] = {}
    if not nodes:
        return counts
    with ThreadPoolExecutor(REPROBE_THREADS, thread_name_prefix="reachability") as pool:
        findings = pool.map(lambda n: safe_check(n.public_url, n.pk), nodes)
        for node, found in zip(nodes, findings, strict=True):
            record(node, "schedule", found)
            counts[found.verdict] = counts.get(found.verdict, 0) + 1
    return counts


def prune(days: int | None = None) -> int:
    """Drop probes older than RETENTION_DAYS, except each node's newest (its current reachability)."""
    cutoff = timezone.now() - timedelta(days=days or settings.RETENTION_DAYS)
    newer = ReachabilityProbe.objects.filter(node_id=OuterRef("node_id"), checked_at__gt=OuterRef("checked_at"))
    old = ReachabilityProbe.objects.filter(checked_at__lt=cutoff).filter(Exists(newer))
    deleted, _ = ReachabilityProbe.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:10_000])).delete()
    return deleted


# --- Signals from nodes -------------------------------------------------------------------------


@receiver(node_url_seen, dispatch_uid="validation.reachability.url_seen")
def _url_seen(sender: type[Node], nodes: list[tuple[int, str]], **kwargs: Any) -> None:
    for node_id, trigger in nodes:
        _queue(node_id, trigger)


@receiver(node_state_requested, dispatch_uid="validation.reachability.state")
def _state(sender: type[Node], node: Node, **kwargs: Any) -> dict[str, Any]:
    return {"reachability": as_state(latest_for([node.pk]).get(node.pk))}
