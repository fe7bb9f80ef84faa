"""When the site probes a node's reachability by itself: its first heartbeat, a new public URL
(queued as a django-q2 job after commit, once), and the periodic re-probe of failed or old probes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule

from nodes.models import Node
from testkit.redis_server import redis_server
from validation import reachability, tasks
from validation.models import ReachabilityProbe
from validation.tests.reach_servers import Agent, closed_port, queued_probes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_nodes(settings):
    settings.REACHABILITY_TIMEOUT_SECONDS = 0.3
    settings.NODE_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def broker():
    """The real django-q2 broker (Redis or the ORM), emptied before and after."""
    queue = get_broker()
    queue.purge_queue()
    yield queue
    queue.purge_queue()


def test_a_nodes_first_heartbeat_queues_exactly_one_probe_after_commit(
    register, node_client, broker, django_capture_on_commit_callbacks
):
    node, api_key = register("home")
    agent = node_client(api_key)
    with django_capture_on_commit_callbacks() as waiting:
        assert agent.beat().status_code == 200
        assert queued_probes(broker) == []  # nothing before the heartbeat is committed
    for callback in waiting:
        callback()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert agent.beat().status_code == 200
    [job] = queued_probes(broker)
    assert job == (node.pk, "first_heartbeat")
    assert tasks.probe_node(*job) == "no_dns"  # what the worker runs: home.example has no address
    assert ReachabilityProbe.objects.filter(node=node, trigger="first_heartbeat").count() == 1


def test_a_new_public_url_queues_one_probe_and_the_same_url_none(
    register, node_client, broker, django_capture_on_commit_callbacks
):
    node, api_key = register("home")
    agent = node_client(api_key)
    with django_capture_on_commit_callbacks(execute=True):
        agent.beat(public_url=node.public_url)
    assert queued_probes(broker) == [(node.pk, "first_heartbeat")]
    with django_capture_on_commit_callbacks(execute=True):
        agent.beat(public_url=node.public_url)
        agent.beat(public_url="http://moved.example:8091")
        agent.beat(public_url="http://moved.example:8091")
        agent.beat()  # an agent that sends no URL keeps the one it had
    assert queued_probes(broker) == [(node.pk, "url_change")]
    assert Node.objects.get(pk=node.pk).public_url == "http://moved.example:8091"


def test_a_steady_heartbeat_costs_no_query_for_reachability(register, node_client):
    _, api_key = register("home")
    agent = node_client(api_key)
    agent.beat()
    with CaptureQueriesContext(connection) as first:
        agent.beat()
    with CaptureQueriesContext(connection) as second:
        agent.beat(public_url="http://home.example:8090")  # the URL it has: no change
    assert not [q for q in first.captured_queries + second.captured_queries if "reachability" in q["sql"]]
    assert len(second.captured_queries) == len(first.captured_queries)


def test_the_queued_job_probes_once_however_often_it_was_queued(register, tmp_path):
    node, _ = register("home")
    with Agent(tmp_path, node.pk).running() as url:
        Node.objects.filter(pk=node.pk).update(public_url=url)
        assert tasks.probe_node(node.pk, "first_heartbeat") == "ok"
        assert tasks.probe_node(node.pk, "first_heartbeat") is None  # another worker's copy
    assert ReachabilityProbe.objects.filter(node=node).count() == 1


def test_a_claim_is_per_url_so_a_new_url_is_probed_at_once(register):
    node, _ = register("home")
    assert reachability.claim(node.pk, "http://a.example:8090")
    assert not reachability.claim(node.pk, "http://a.example:8090")
    assert reachability.claim(node.pk, "http://b.example:8090")


def test_a_job_for_a_node_that_is_gone_does_nothing(register):
    node, _ = register("home")
    node_id = node.pk
    node.delete()
    assert tasks.probe_node(node_id, "url_change") is None


def online(node: Node) -> None:
    now = timezone.now()
    Node.objects.filter(pk=node.pk).update(
        last_seen_at=now, stale_after=now + timedelta(seconds=30), offline_after=now + timedelta(minutes=1)
    )


def aged(node: Node, ok: bool, minutes: int) -> None:
    ReachabilityProbe.objects.create(
        node=node,
        checked_at=timezone.now() - timedelta(minutes=minutes),
        url=node.public_url,
        ok=ok,
        verdict="ok" if ok else "refused",
        detail="…",
        trigger="owner",
    )


def test_the_periodic_run_probes_online_nodes_never_probed_failed_a_while_ago_or_passed_long_ago(register, settings):
    settings.REACHABILITY_RETRY_MINUTES = 15
    settings.REACHABILITY_REFRESH_HOURS = 6
    names = ("new", "failed", "fresh", "passed", "old", "moved")
    nodes = {name: register(name, public_url=closed_port())[0] for name in names}
    for node in nodes.values():
        online(node)
    aged(nodes["failed"], ok=False, minutes=20)
    aged(nodes["fresh"], ok=False, minutes=5)  # failed, but retried only after 15 minutes
    aged(nodes["passed"], ok=True, minutes=60)
    aged(nodes["old"], ok=True, minutes=7 * 60)
    aged(nodes["moved"], ok=True, minutes=5)
    Node.objects.filter(pk=nodes["moved"].pk).update(public_url=closed_port())  # its URL-change job was lost
    offline, _ = register("offline")  # its agent is not running: nothing to learn
    assert {n.name for n in reachability.due(10)} == {"new", "failed", "old", "moved"}
    assert tasks.reprobe_nodes() == {"refused": 4}
    assert reachability.due(10) == []
    latest = reachability.latest_for(n.pk for n in nodes.values())
    assert {nodes[name].pk for name in ("new", "failed", "old", "moved")} == {
        pk for pk, probe in latest.items() if probe.trigger == "schedule"
    }
    assert offline.pk not in reachability.latest_for([offline.pk])


def test_old_probes_are_pruned_but_each_nodes_newest_is_kept(register, settings):
    settings.RETENTION_DAYS = 7
    quiet, _ = register("quiet")
    busy, _ = register("busy")
    aged(quiet, ok=False, minutes=30 * 24 * 60)
    aged(busy, ok=False, minutes=30 * 24 * 60)
    aged(busy, ok=True, minutes=60)
    assert reachability.prune() == 1
    assert ReachabilityProbe.objects.filter(node=quiet).count() == 1
    assert list(ReachabilityProbe.objects.filter(node=busy).values_list("ok", flat=True)) == [True]


def test_the_re_probe_is_scheduled_every_five_minutes():
    schedule = Schedule.objects.get(name="validation: reachability")
    assert (schedule.func, schedule.minutes, schedule.repeats) == ("validation.tasks.reprobe_nodes", 5, -1)


def test_a_hung_redis_broker_costs_a_first_heartbeat_a_bounded_wait_not_its_answer(
    register, node_client, settings, monkeypatch, django_capture_on_commit_callbacks
):
    _, api_key = register("home")
    with redis_server() as server:
        # django-q2 reads its broker from Conf (at import): pointed at this private Redis here.
        monkeypatch.setattr(Conf, "REDIS", server.url)
        monkeypatch.setattr(Conf, "ORM", None)
        settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": server.url}
        with server.paused():  # connections accepted, nothing answered: rpush would wait forever
            started = time.monotonic()
            with django_capture_on_commit_callbacks(execute=True):
                answer = node_client(api_key).beat()
            took = time.monotonic() - started
        assert answer.status_code == 200 and answer.json()["accepted"] is True
        assert took < reachability.ENQUEUE_WAIT_SECONDS + 1.5, f"the first heartbeat took {took:.2f} s"
