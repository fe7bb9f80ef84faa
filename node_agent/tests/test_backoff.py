"""Retry delays grow exponentially, stay capped and jittered, and reset after success."""

from __future__ import annotations

import random

from streamr_node.backoff import Backoff


def test_delays_double_up_to_the_cap_with_jitter():
    backoff = Backoff(base=1, cap=30, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling * 0.5 <= delay <= ceiling


def test_jitter_spreads_agents_that_failed_together():
    first = [Backoff(rng=random.Random(seed)).next_delay() for seed in range(50)]
    assert len({round(d, 3) for d in first}) > 40


def test_reset_starts_again_from_the_base():
    backoff = Backoff(base=1, cap=60)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1
