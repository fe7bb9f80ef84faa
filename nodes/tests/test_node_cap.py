"""One friend runs at most NODE_MAX_PER_USER nodes: each node takes its own share of a stream-minute."""

from __future__ import annotations

import pytest

from nodes import services
from nodes.models import Node

pytestmark = pytest.mark.django_db


def enroll(user, name):
    _, token = services.create_enrollment_token(user)
    return services.register_node(token=token, name=name, public_url=f"http://{name}.example:8090")


def test_refuses_a_node_beyond_the_cap(friend, settings):
    settings.NODE_MAX_PER_USER = 3
    for name in ("a", "b", "c"):
        enroll(friend, name)
    _, token = services.create_enrollment_token(friend)
    with pytest.raises(services.NodeError) as refused:
        services.register_node(token=token, name="d", public_url="http://d.example:8090")
    assert (refused.value.code, refused.value.status) == ("too_many_nodes", 409)
    assert Node.objects.filter(owner=friend).count() == 3
    # The refused token stays unused: once a node is gone, it registers.
    Node.objects.filter(owner=friend, name="a").delete()
    node, _ = services.register_node(token=token, name="d", public_url="http://d.example:8090")
    assert node.name == "d"


def test_the_cap_is_per_friend(friend, outsider, settings):
    settings.NODE_MAX_PER_USER = 1
    enroll(friend, "mine")
    assert enroll(outsider, "theirs")[0].owner == outsider


def test_the_api_answers_409_with_the_reason(client, friend, settings):
    settings.NODE_MAX_PER_USER = 1
    enroll(friend, "mine")
    _, token = services.create_enrollment_token(friend)
    body = {"token": token, "name": "two", "public_url": "http://two.example:8090"}
    response = client.post("/api/v1/nodes/register", body, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_nodes"
