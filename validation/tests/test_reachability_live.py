"""Live: a real `streamr-node` agent registers and runs against the site; its first heartbeat
queues a reachability probe, which the worker's job runs against the agent's own /healthz."""

from __future__ import annotations

import pytest
from django_q.brokers import get_broker

from nodes.models import Node
from testkit.fixtures import eventually
from validation import reachability, tasks
from validation.models import ReachabilityProbe
from validation.tests.reach_servers import queued_probes

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_real_agents_first_heartbeat_gets_it_probed_once_and_found_reachable(enroll, settings):
    settings.NODE_ALLOW_PRIVATE_URLS = True  # the agent listens on loopback here
    broker = get_broker()
    broker.purge_queue()
    try:
        agent = enroll("home").start()
        node = Node.objects.get(name="home")
        eventually(lambda: Node.objects.filter(pk=node.pk, last_seen_at__isnull=False).exists(), 20, "a heartbeat")
        eventually(lambda: broker.queue_size() > 0, 10, "the probe is queued after the beat's commit")
        eventually(lambda: Node.objects.get(pk=node.pk).last_seq >= 2, 20, "a second heartbeat")
        jobs = queued_probes(broker)
    finally:
        broker.purge_queue()
    assert jobs == [(node.pk, "first_heartbeat")]
    assert tasks.probe_node(*jobs[0]) == "ok"
    probe = ReachabilityProbe.objects.get(node=node)
    assert (probe.ok, probe.url, probe.trigger) == (True, agent.base_url, "first_heartbeat")
    assert reachability.latest_for([node.pk]) == {node.pk: probe}

    agent.stop()  # the friend stopped the agent: the owner's next probe says what to do
    refused = reachability.probe(node, "owner")
    assert refused.verdict == "refused" and f"forward TCP port {agent.port}" in refused.detail
