"""Concurrent on_publish hooks for one stream: exactly one publisher wins (real threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from streams import services
from streams.models import Origin, StreamSession

pytestmark = pytest.mark.django_db(transaction=True)


def test_only_one_of_many_simultaneous_publishers_goes_live(stream_and_key):
    _, key = stream_and_key
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def publish(n: int) -> None:
        try:
            barrier.wait()
            request = services.PublishRequest(origin=Origin.SRS, app="live", slug="alice", key=key, client_id=f"c{n}")
            try:
                services.admit_publish(request)
                outcome = "admitted"
            except services.PublishRefused as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["admitted"] + ["already_live"] * 7
    assert StreamSession.objects.filter(ended_at__isnull=True).count() == 1
