"""POST /me/nodes/<pk>/probe: a node's owner asks the site to reach the node from outside now;
nobody else learns the node exists, and the probes are throttled."""

from __future__ import annotations

import pytest
from django.test import Client

from validation.models import ReachabilityProbe
from validation.tests.reach_servers import Agent, closed_port

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _local_nodes(settings):
    settings.REACHABILITY_TIMEOUT_SECONDS = 0.3
    settings.NODE_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def node(register, friend):
    node, _ = register("home", user=friend, public_url=closed_port())
    return node


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_gets_the_verdict_with_its_advice_as_json(friend, node):
    response = signed_in(friend).post(f"/me/nodes/{node.pk}/probe", **JSON)
    assert response.status_code == 200
    state = response.json()["reachability"]
    assert (state["ok"], state["verdict"]) == (False, "refused")
    assert "forward TCP port" in state["detail"] and state["checked_at"]
    assert ReachabilityProbe.objects.get(node=node).trigger == "owner"


def test_the_owner_of_a_reachable_node_is_sent_back_to_me_with_the_verdict(friend, node, tmp_path):
    with Agent(tmp_path, node.pk).running() as url:
        node.public_url = url
        node.save(update_fields=["public_url"])
        response = signed_in(friend).post(f"/me/nodes/{node.pk}/probe", follow=True)
    assert response.redirect_chain == [("/me", 302)]
    assert any(str(m).startswith("home: Reachable") for m in response.context["messages"])


@pytest.mark.parametrize("who", ["owner", "outsider", "admin_user"])
def test_anybody_but_the_nodes_owner_gets_404_and_probes_nothing(request, node, who):
    # "owner" is the streamer of these tests: owning a stream gives no say over a friend's node.
    response = signed_in(request.getfixturevalue(who)).post(f"/me/nodes/{node.pk}/probe", **JSON)
    assert response.status_code == 404
    assert not ReachabilityProbe.objects.exists()


def test_a_node_that_does_not_exist_is_404_too(friend, node):
    assert signed_in(friend).post(f"/me/nodes/{node.pk + 1}/probe", **JSON).status_code == 404


def test_nobody_signed_in_is_sent_to_log_in(client, node):
    response = client.post(f"/me/nodes/{node.pk}/probe")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not ReachabilityProbe.objects.exists()


def test_only_post_probes(friend, node):
    assert signed_in(friend).get(f"/me/nodes/{node.pk}/probe").status_code == 405


def test_probes_past_the_limit_are_refused_with_retry_after(friend, node, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "reachability-probe": (2, 3600)}
    client = signed_in(friend)
    answers = [client.post(f"/me/nodes/{node.pk}/probe", **JSON) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "throttled" and int(answers[2]["Retry-After"]) > 0
    assert ReachabilityProbe.objects.filter(node=node).count() == 2


def test_the_form_post_needs_a_csrf_token(friend, node):
    client = Client(enforce_csrf_checks=True)
    client.force_login(friend)
    assert client.post(f"/me/nodes/{node.pk}/probe").status_code == 403
