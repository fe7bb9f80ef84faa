"""Benchmark: the open hour's estimate and "why not earning" with NODES nodes relaying one stream.

Loads an hour of NODES nodes' minute buckets (as bench/settlement.py does), gives 3 of them to a
friend, then times what "My nodes" and GET /api/v1/earnings do per request: the stream's split
(settlement's own, uncached: once per CACHE_SECONDS per cache), the friend's estimate and
``why_not`` of their nodes when the split is cached (every other request).
Usage (PostgreSQL, as in production):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/estimate.py [NODES]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from common import test_database
from django.contrib.auth.models import User
from django.core.cache import cache
from settlement import prepare

from nodes.models import Node
from rewards.services import earning, estimate


def timed(what: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and worst seconds of ``runs`` calls."""
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        what()
        took.append(time.perf_counter() - started)
    return statistics.median(took), max(took)


def main(nodes: int) -> None:
    with test_database() as engine:
        stream, hour, loading = prepare(nodes)
        print(f"loaded {nodes:,} nodes x 60 minute buckets in {loading:.1f} s ({engine})")
        friend = User.objects.create_user("bench-friend")
        mine = list(Node.objects.filter(owner__username__startswith="bench-settle").order_by("pk")[:3])
        Node.objects.filter(pk__in=[n.pk for n in mine]).update(owner=friend, assigned_stream=stream)
        mine = list(Node.objects.filter(owner=friend).select_related("assigned_stream"))
        moment = hour + timedelta(minutes=59)

        median, worst = timed(lambda: estimate.stream_hours(hour, cached=False), 3)
        print(f"split so far (uncached): median {median:.3f} s, worst {worst:.3f} s")
        cache.clear()
        estimate.open_hour(friend, now=moment)  # fills the cache
        median, worst = timed(lambda: estimate.open_hour(friend, now=moment), 50)
        print(f"estimate, split cached: median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms")
        median, worst = timed(lambda: earning.why_not(mine, now=moment), 50)
        print(f"why_not of 3 nodes, cached: median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms")
        found = estimate.open_hour(friend, now=moment)
        print(f"estimate {found.estimate} over {len(found.nodes)} nodes: {dict(found.nodes)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
