"""Admins see every reachability probe: filtered lists, and the exception text or status behind a
verdict, which its owner never sees."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from validation import reachability
from validation.models import ReachabilityProbe
from validation.tests.reach_servers import closed_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_nodes(settings):
    settings.NODE_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def refused(register):
    node, _ = register("home", public_url=closed_port())
    return reachability.probe(node, "first_heartbeat")


@pytest.mark.parametrize("query", ["", "?verdict=refused", "?ok__exact=0", "?trigger=first_heartbeat", "?q=home"])
def test_filtered_lists_show_the_probes(admin_client, refused, query):
    response = admin_client.get(f"/admin/validation/reachabilityprobe/{query}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "home" in page and "connection refused" in page


def test_the_list_reads_each_probes_node_in_the_same_query(admin_client, register):
    for name in ("a", "b", "c"):
        node, _ = register(name, public_url=closed_port())
        reachability.probe(node, "schedule")
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/admin/validation/reachabilityprobe/")
    node, _ = register("d", public_url=closed_port())
    reachability.probe(node, "schedule")
    with CaptureQueriesContext(connection) as more:
        admin_client.get("/admin/validation/reachabilityprobe/")
    assert len(more.captured_queries) == len(few.captured_queries)


def test_a_probe_shows_staff_the_exception_text_the_owner_never_sees(admin_client, refused):
    page = admin_client.get(f"/admin/validation/reachabilityprobe/{refused.pk}/change/").content.decode()
    assert refused.staff_detail.startswith("ConnectError") and "refused" in refused.staff_detail.lower()
    assert escape(refused.staff_detail) in page
    assert "forward TCP port" in page  # what the owner was told, beside it


def test_probes_are_not_added_or_edited_by_hand(admin_client, refused):
    assert admin_client.get("/admin/validation/reachabilityprobe/add/").status_code == 403
    admin_client.post(
        f"/admin/validation/reachabilityprobe/{refused.pk}/change/", {"verdict": "ok", "ok": "on", "detail": "fine"}
    )
    assert ReachabilityProbe.objects.get(pk=refused.pk).verdict == "refused"


def test_the_list_shows_each_probes_latency_in_milliseconds(admin_client, refused):
    ReachabilityProbe.objects.filter(pk=refused.pk).update(latency_ms=850)
    page = admin_client.get("/admin/validation/reachabilityprobe/").content.decode()
    assert "850 ms" in page
