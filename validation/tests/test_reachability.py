"""Reachability probes: the site fetches a node's /healthz from outside, through the SSRF-safe
fetcher, and tells its owner in plain words what is wrong and what to do."""

from __future__ import annotations

import pytest

from validation import reachability
from validation.models import ReachabilityProbe
from validation.tests.reach_servers import Agent, answering, closed_port, serving, silent_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_timeouts(settings):
    settings.REACHABILITY_TIMEOUT_SECONDS = 0.3
    settings.NODE_ALLOW_PRIVATE_URLS = True  # loopback servers stand in for friends' machines


@pytest.fixture
def node(register):
    node, _ = register("home", public_url="http://home.example:8090")
    return node


def probed(node, url: str) -> ReachabilityProbe:
    node.public_url = url
    node.save(update_fields=["public_url"])
    return reachability.probe(node, "owner")


def test_a_running_agent_answering_with_its_own_node_id_is_reachable(node, tmp_path):
    agent = Agent(tmp_path, node.pk)
    with agent.running() as url:
        found = probed(node, url)
    assert (found.ok, found.verdict, found.trigger) == (True, "ok", "owner")
    assert agent.asked == 1
    assert found.detail.startswith("Reachable") and found.latency_ms is not None
    assert found.url == url


def test_a_closed_port_is_refused_with_advice_to_forward_that_port(node):
    url = closed_port()
    found = probed(node, url)
    port = url.rsplit(":", 1)[1]
    assert (found.ok, found.verdict) == (False, "refused")
    assert f"forward TCP port {port} on your router to this machine" in found.detail
    assert "refused" in found.staff_detail.lower()  # the exception text, for staff only
    assert "Errno" not in found.detail and "Error" not in found.detail


def test_a_port_that_never_answers_times_out_within_the_configured_timeout(node):
    with silent_port() as url:
        found = probed(node, url)
    assert (found.ok, found.verdict) == (False, "timeout")
    assert f"forward TCP port {url.rsplit(':', 1)[1]}" in found.detail and "0.3 s" in found.detail


def test_the_default_port_of_the_scheme_is_the_one_to_forward():
    assert "forward TCP port 443 " in reachability.advice("refused", "https://relay.example.net/")
    assert "forward TCP port 80 " in reachability.advice("timeout", "http://relay.example.net")


def test_a_name_that_does_not_resolve_says_to_check_the_dns_name(node):
    found = probed(node, "http://no-such-node.invalid:8090")
    assert (found.ok, found.verdict) == (False, "no_dns")
    assert "no-such-node.invalid does not resolve" in found.detail and "dynamic DNS" in found.detail


def test_a_private_address_is_not_public_and_is_never_connected_to(node, settings, tmp_path):
    settings.NODE_ALLOW_PRIVATE_URLS = False
    agent = Agent(tmp_path, node.pk)
    with agent.running() as url:
        found = probed(node, url)
    assert (found.ok, found.verdict) == (False, "not_public")
    assert "Use your public address" in found.detail
    assert "loopback" in found.staff_detail
    assert agent.asked == 0  # refused before any connection


def test_another_node_answering_at_the_address_is_the_wrong_node(node, tmp_path):
    with Agent(tmp_path, node.pk + 1000).running() as url:
        found = probed(node, url)
    assert (found.ok, found.verdict) == (False, "wrong_node")
    assert "Another StreamrP2P node answers" in found.detail
    assert f"node {node.pk + 1000} answered" in found.staff_detail  # which one: staff only
    assert str(node.pk + 1000) not in found.detail


def test_a_service_that_is_not_an_agent_is_the_wrong_node(node):
    with serving(answering(200, "<html>Router login</html>")) as url:
        found = probed(node, url)
    assert (found.ok, found.verdict) == (False, "wrong_node")
    assert "Something other than the node agent answers" in found.detail
    assert "Router login" in found.staff_detail


def test_an_agent_that_reports_no_node_id_is_not_taken_for_this_node(node, tmp_path):
    with Agent(tmp_path, None).running() as url:
        assert probed(node, url).verdict == "wrong_node"


def test_an_error_status_is_an_http_error_with_the_status_in_both_details(node):
    with serving(answering(404, "not found")) as url:
        found = probed(node, url)
    assert (found.ok, found.verdict) == (False, "http_error")
    assert "answered HTTP 404" in found.detail and found.staff_detail == "HTTP 404"


def test_a_redirect_is_not_followed(node):
    with serving(answering(302, "")) as url:
        found = probed(node, url)
    assert (found.verdict, found.staff_detail.split(" to ")[0]) == ("http_error", "HTTP 302")


def test_the_newest_probe_of_each_node_is_its_reachability(node, register, tmp_path):
    other, _ = register("other")
    probed(node, closed_port())
    with Agent(tmp_path, node.pk).running() as url:
        newest = probed(node, url)
    latest = reachability.latest_for([node.pk, other.pk])
    assert latest == {node.pk: newest}
    assert reachability.as_state(latest.get(other.pk)) == {
        "ok": False,
        "verdict": "unknown",
        "detail": "not checked yet",
        "checked_at": None,
    }
