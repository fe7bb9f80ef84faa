"""GET /api/v1/streams: the public list of active streams, and its place in the schema."""

from __future__ import annotations

import pytest

from streams import services
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def test_lists_active_streams_with_their_live_state(client, make_stream, post_srs):
    _, key = make_stream("bob", title="Bob plays")
    make_stream("carol")
    post_srs(srs_payload("on_publish", stream="bob", key=key))
    body = client.get("/api/v1/streams").json()
    assert [s["slug"] for s in body] == ["bob", "carol"]
    bob, carol = body
    assert set(bob) == {"slug", "title", "live", "live_since", "viewers"}
    assert (bob["title"], bob["live"], bob["viewers"]) == ("Bob plays", True, 0)
    assert (carol["live"], carol["live_since"]) == (False, None)


def test_hides_inactive_streams(client, make_stream):
    make_stream("hidden", is_active=False)
    assert client.get("/api/v1/streams").json() == []


def test_is_public_and_never_shows_keys(client, make_stream):
    _, key = make_stream("alice")
    response = client.get("/api/v1/streams")
    assert response.status_code == 200
    assert key not in response.content.decode()
    assert "key" not in response.json()[0]


def test_takes_a_fixed_number_of_queries_whatever_the_number_of_streams(
    client, make_stream, django_assert_max_num_queries
):
    for n in range(20):
        make_stream(f"s{n}")
    with django_assert_max_num_queries(1):
        assert len(client.get("/api/v1/streams").json()) == 20


def test_a_deactivated_stream_disappears(client, make_stream):
    stream, _ = make_stream("alice")
    services.set_active(type(stream).objects.filter(pk=stream.pk), active=False)
    assert client.get("/api/v1/streams").json() == []


def test_is_described_in_the_openapi_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/streams" in schema["paths"]
    properties = schema["components"]["schemas"]["Stream"]["properties"]
    assert {"slug", "title", "live", "live_since", "viewers"} <= set(properties)


def test_unknown_api_paths_answer_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
