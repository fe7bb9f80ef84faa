"""A web tier killed under load loses no heartbeat it answered and, once back, counts none twice.

A beat is answered only after its batch committed, so every answer the agents got is in the
minute buckets; a beat in flight when the server died was either committed (its retry, with the
same sequence number, is then refused as a replay) or not (its retry counts). Either way each
beat counts exactly once. The server is the real one (`manage.py web`), killed with SIGKILL.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import httpx
import pytest
from django.db import connection
from django.db.models import Sum

from nodes.models import Node, NodeMinute
from nodes.tests.fixtures import beat_body
from testkit.browser import AsgiSite

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

NODES = 16
BEATS = 40  # per node


def send_from(site_url: str, api_key: str, first: int, answered: list[int], stop: threading.Event) -> int:
    """Send this node's beats first..BEATS one after another, as an agent does; returns the first
    sequence number without an answer (BEATS + 1: all answered)."""
    with httpx.Client(base_url=site_url, timeout=10) as client:
        for seq in range(first, BEATS + 1):
            if stop.is_set():
                return seq
            try:
                answer = client.post(
                    "/api/v1/nodes/heartbeat",
                    content=json.dumps(
                        beat_body(
                            seq,
                            "s1",
                            counters={"bytes_served": seq * 1000, "segments_served": seq, "http_requests": seq},
                        )
                    ),
                    headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
                )
            except httpx.TransportError:
                return seq
            assert answer.status_code == 200, answer.text
            if answer.json()["accepted"]:
                answered.append(seq)
    return BEATS + 1


def run_fleet(
    site_url: str, keys: list[str], first: dict[str, int], *, kill: AsgiSite | None = None
) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Every node's agent sends its beats from ``first``; with ``kill``, that server is killed
    a third of the way. Returns the accepted sequence numbers and the first unanswered one."""
    answered: dict[str, list[int]] = {key: [] for key in keys}
    unanswered: dict[str, int] = {}
    stop = threading.Event()

    def agent(key: str) -> None:
        unanswered[key] = send_from(site_url, key, first[key], answered[key], stop)

    agents = [threading.Thread(target=agent, args=(key,)) for key in keys]
    for thread in agents:
        thread.start()
    if kill is not None:
        while sum(map(len, answered.values())) < NODES * BEATS // 3:
            threading.Event().wait(0.01)
        assert kill.process is not None
        kill.process.kill()  # SIGKILL: no shutdown, batches in flight die with it
        kill.process.wait()
        stop.set()
    for thread in agents:
        thread.join(timeout=60)
    return answered, unanswered


def counted_per_node() -> Counter[int]:
    rows = NodeMinute.objects.values_list("node_id").annotate(n=Sum("heartbeats"))
    return Counter(dict(rows))


def test_a_killed_web_tier_loses_no_answered_beat_and_counts_none_twice(register, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the web tier's processes share the database: PostgreSQL, as in production")
    nodes = dict(register(f"n{i}") for i in range(NODES))
    by_key = {key: node.pk for node, key in nodes.items()}
    keys = list(by_key)
    env = {"HEARTBEAT_RATE_LIMIT": "1000000"}

    with AsgiSite(tmp_path / "first", **env) as site:
        answered_before, unanswered = run_fleet(site.url, keys, dict.fromkeys(keys, 1), kill=site)
    counted = counted_per_node()
    for key, seqs in answered_before.items():
        # Every answered beat is counted; at most the one in flight is counted without an answer.
        assert len(seqs) <= counted[by_key[key]] <= len(seqs) + 1, (key, seqs, counted[by_key[key]])
    assert sum(len(s) for s in answered_before.values()) < NODES * BEATS  # the kill did cut the run short

    with AsgiSite(tmp_path / "second", **env) as site:  # the agents retry from their first unanswered beat
        _, left = run_fleet(site.url, keys, unanswered)
    assert set(left.values()) == {BEATS + 1}
    assert counted_per_node() == Counter(dict.fromkeys(by_key.values(), BEATS))
    assert set(Node.objects.values_list("last_seq", "bytes_served_total")) == {(BEATS, BEATS * 1000)}
