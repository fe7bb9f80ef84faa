"""The playback API routes a viewer to an online, verified, least-loaded node, else to the origin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from nodes.models import Approval, Node
from validation.models import Outcome, SpotCheck
from validation.tests.playback_helpers import relaying

pytestmark = pytest.mark.django_db


def playback(client, query=""):
    response = client.get(f"/api/v1/streams/alice/playback{query}")
    return response.status_code, response.json()


def test_picks_the_least_loaded_verified_node(client, live_alice, register):
    busy, quiet = (
        relaying(register("busy")[0], live_alice, viewers=9),
        relaying(register("quiet")[0], live_alice, viewers=1),
    )
    status, body = playback(client)
    assert status == 200
    assert (body["source"], body["node_id"], body["candidates"]) == ("node", quiet.pk, 2)
    assert body["url"] == "http://quiet.example:8090/hls/alice/index.m3u8"
    assert "least loaded of 2 verified" in body["reason"]
    assert busy.pk != body["node_id"]


@pytest.mark.parametrize(
    "spoil",
    [
        {"checked": Outcome.STALE},  # its last spot-check failed
        {"checked": None},  # never verified
        {"offline": True},
        {"suspended": True},
        {"stopped": True},  # its relay is not running
    ],
)
def test_skips_nodes_that_are_not_online_verified_and_relaying(client, live_alice, register, spoil):
    node = relaying(register("den")[0], live_alice, checked=spoil.get("checked", Outcome.PASS))
    if spoil.get("offline"):
        Node.objects.filter(pk=node.pk).update(stale_after=timezone.now() - timedelta(seconds=1))
    if spoil.get("suspended"):
        Node.objects.filter(pk=node.pk).update(approval=Approval.SUSPENDED)
    if spoil.get("stopped"):
        Node.objects.filter(pk=node.pk).update(relay_running=False)
    status, body = playback(client)
    assert (status, body["source"], body["node_id"]) == (200, "origin", None)
    assert body["url"] == live_alice.origin_hls_url() and "origin" in body["reason"]


def test_a_node_that_failed_for_the_viewer_is_skipped(client, live_alice, register):
    first = relaying(register("first")[0], live_alice)
    second = relaying(register("second")[0], live_alice, viewers=5)
    assert playback(client)[1]["node_id"] == first.pk
    assert playback(client, f"?exclude={first.pk}")[1]["node_id"] == second.pk
    body = playback(client, f"?exclude={first.pk},{second.pk}")[1]
    assert body["source"] == "origin" and "failed for this viewer" in body["reason"]


def test_an_offline_stream_says_so_and_unknown_ones_are_404(client, make_stream):
    make_stream("alice")
    status, body = playback(client)
    assert (status, body["live"], body["source"], body["reason"]) == (200, False, "origin", "The stream is offline.")
    response = client.get("/api/v1/streams/nobody/playback")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    bad = client.get("/api/v1/streams/alice/playback?exclude=x")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_load_is_what_viewers_attest_not_what_a_node_claims(client, live_alice, register):
    claims_none = relaying(register("claims-none")[0], live_alice, viewers=9)
    honest = relaying(register("honest")[0], live_alice, viewers=1)
    Node.objects.filter(pk=claims_none.pk).update(viewers=0)
    Node.objects.filter(pk=honest.pk).update(viewers=50)
    assert {playback(client)[1]["node_id"] for _ in range(10)} == {honest.pk}


def test_spreads_viewers_over_nodes_that_are_nearly_as_idle(client, live_alice, register):
    one, two = relaying(register("one")[0], live_alice, viewers=1), relaying(register("two")[0], live_alice, viewers=2)
    relaying(register("busy")[0], live_alice, viewers=30)
    chosen = {playback(client)[1]["node_id"] for _ in range(40)}
    assert chosen == {one.pk, two.pk}  # never the busy one; both near-idle ones get viewers


def test_a_check_of_another_url_stream_or_session_does_not_verify_a_node(client, live_alice, register, make_stream):
    node = relaying(register("den")[0], live_alice)
    Node.objects.filter(pk=node.pk).update(public_url="http://moved.example:8090")  # changed after its check
    assert playback(client)[1]["source"] == "origin"
    Node.objects.filter(pk=node.pk).update(public_url="http://den.example:8090")
    SpotCheck.objects.update(stream=make_stream("bob")[0])  # a pass on another stream
    assert playback(client)[1]["source"] == "origin"
    SpotCheck.objects.update(stream=live_alice, checked_at=timezone.now() - timedelta(days=1))  # before this session
    assert playback(client)[1]["source"] == "origin"


def test_an_https_page_gets_only_https_nodes(client, live_alice, register):
    relaying(register("plain")[0], live_alice)
    assert client.get("/api/v1/streams/alice/playback", secure=True).json()["source"] == "origin"
    secure = relaying(register("tls", public_url="https://tls.example")[0], live_alice)
    assert client.get("/api/v1/streams/alice/playback", secure=True).json()["node_id"] == secure.pk
