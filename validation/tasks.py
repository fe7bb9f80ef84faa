"""django-q2 jobs (scheduled by migration 0002): spot-checks, origin history, fraud signals."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from nodes.assignment import live_streams
from validation import fraud, services

log = logging.getLogger(__name__)


def run_spot_checks(count: int | None = None) -> dict[str, int]:
    """Check a weighted sample of online relaying nodes; one bad node never stops the run."""
    outcomes: dict[str, int] = {}
    for node in services.pick_nodes(count or settings.SPOT_CHECKS_PER_RUN):
        try:
            check = services.spot_check(node)
        except services.CheckSkipped as exc:
            outcomes["skipped"] = outcomes.get("skipped", 0) + 1
            log.info("spot-check of node %s skipped: %s", node.pk, exc)
            continue
        except Exception:  # a worker must move on to the next node whatever one check hits
            log.exception("spot-check of node %s failed", node.pk)
            outcomes["error"] = outcomes.get("error", 0) + 1
            continue
        outcomes[check.outcome] = outcomes.get(check.outcome, 0) + 1
    return outcomes


def sample_origins(duration: float = 50.0, every: float = 5.0) -> int:
    """Keep every live stream's origin history current: sample for ``duration`` seconds.

    Scheduled each minute, so the history has no holes even when the origin's playlist window
    is only a few seconds long (a recording of any moment can then be told from a foreign one).
    """
    frames = 0
    deadline = time.monotonic() + duration
    while True:
        for stream in live_streams():
            try:
                frames += services.sample_origin(stream)
            except Exception:  # one stream's origin trouble must not stop the others' history
                log.exception("could not sample the origin of %s", stream.slug)
        if time.monotonic() + every > deadline:
            return frames
        time.sleep(every)


def detect_fraud() -> int:
    """Fraud signals, every 10 minutes; also drops viewers' per-segment reports older than a day
    (written by an open endpoint, they would otherwise grow without bound)."""
    services.delivery.prune_deliveries()
    return fraud.detect_all()
