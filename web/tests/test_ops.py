"""/livez and /readyz (/healthz) answer orchestrators and load balancers; /metrics gives Prometheus
the coordinator's figures, read from the database at most every METRICS_CACHE_SECONDS."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from rewards import services as reward_services
from streams.tests.hook_clients import srs_payload
from validation.models import Outcome, SpotCheck
from web import ops

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _figures_read_afresh() -> None:
    ops.COORDINATOR.forget()  # figures kept by an earlier test's scrape belong to its data


def scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_healthz_says_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok" and response.json()["database"] == "ok"


def test_metrics_count_streams_nodes_checks_payouts_and_heartbeats(
    client, make_stream, post_srs, register, node_client, friend, admin_user, settings
):
    settings.METRICS_CACHE_SECONDS = 0  # every scrape reads the database: the second sees the work
    _, key = make_stream("alice")
    post_srs(srs_payload("on_publish", key=key))
    node, api_key = register("den", user=friend)
    register("idle", user=friend)
    before = scrape(client).get(("streamr_heartbeats_received_total", ()), 0)
    node_client(api_key).beat()
    SpotCheck.objects.create(node=node, checked_at=timezone.now(), outcome=Outcome.PASS, latency_ms=1)
    reward_services.add_correction(friend.pk, Decimal("10.00"), actor=admin_user, memo="t")
    reward_services.set_payout_method(friend, kind="paypal", address="f@example.com")
    reward_services.request_payout(friend, "6.00")

    figures = scrape(client)
    assert figures[("streamr_live_streams", ())] == 1
    assert figures[("streamr_nodes", (("status", "online"),))] == 1
    assert figures[("streamr_nodes", (("status", "offline"),))] == 1
    assert figures[("streamr_spot_checks_total", (("outcome", "pass"),))] == 1
    assert figures[("streamr_payouts", (("state", "requested"),))] == 1
    assert figures[("streamr_payout_amount", (("state", "requested"),))] == 6.0
    assert figures[("streamr_heartbeats_received_total", ())] == before + 1
    assert figures[("streamr_settlement_duration_seconds_count", ())] == 0 and figures[("streamr_up", ())] == 1


def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer scrape-secret")


def test_livez_answers_without_asking_the_database_or_redis(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_200_while_the_database_answers_and_healthz_answers_the_same(client, settings):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    if settings.REDIS_URL:  # reported, never deciding (streamrp2p_site/tests/test_redis_outage.py)
        assert ready.json()["redis"] == "ok"
    assert client.get("/healthz").json() == ready.json()


def scrape_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        scrape(client)
    return len(queries)


def test_two_scrapes_in_a_row_read_the_aggregates_once(client, settings):
    settings.METRICS_CACHE_SECONDS = 30
    assert scrape_queries(client) >= 5  # streams, nodes, buckets, checks, settlements, payouts
    assert scrape_queries(client) == 0
    figures = scrape(client)
    assert figures[("streamr_up", ())] == 1 and figures[("streamr_figures_age_seconds", ())] < 30


def test_figures_older_than_metrics_cache_seconds_are_read_again(client, settings, make_stream, post_srs):
    settings.METRICS_CACHE_SECONDS = 1
    assert scrape(client)[("streamr_live_streams", ())] == 0
    _, key = make_stream("alice")
    post_srs(srs_payload("on_publish", key=key))
    assert scrape(client)[("streamr_live_streams", ())] == 0  # still the figures read a moment ago
    time.sleep(1.1)
    assert scrape(client)[("streamr_live_streams", ())] == 1
