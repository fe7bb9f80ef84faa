"""django-q2 runs the validation jobs on a schedule, installed by migration."""

from __future__ import annotations

import time

import pytest
from django_q.brokers import get_broker
from django_q.models import Schedule

from streams.tests.hook_clients import srs_payload
from testkit.media import free_port
from validation import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def relaying_ghost(register, node_client, stream_and_key, post_srs, settings):
    """A node due a check, relaying 'alice' at a URL where nothing listens."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node_client(register("ghost", public_url=f"http://127.0.0.1:{free_port()}")[1]).beat()


def test_spot_checks_and_fraud_signals_are_scheduled():
    scheduled = {s.func: s.minutes for s in Schedule.objects.filter(name__startswith="validation:")}
    assert scheduled == {
        "validation.tasks.start_spot_checks": 1,
        "validation.tasks.detect_fraud": 10,
        "validation.tasks.reprobe_nodes": 5,
    }


def test_each_minute_starts_as_many_spot_check_runs_as_configured(settings, monkeypatch):
    settings.SPOT_CHECK_RUNS = 3
    monkeypatch.setattr(tasks, "RUN_SECONDS", 1.0)  # this run samples origins for its whole minute
    broker = get_broker()
    before = broker.queue_size()
    try:
        assert tasks.start_spot_checks() == {}  # nothing is due (and no origin is live)
        assert broker.queue_size() - before == 2  # the other two wait for other workers
    finally:
        broker.purge_queue()


def test_a_run_that_waited_past_its_minute_does_nothing(relaying_ghost):
    assert tasks.check_due_nodes(time.time() - 55) == {}
    assert tasks.check_due_nodes(time.time()) == {"unreachable": 1}
