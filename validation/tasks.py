"""django-q2 jobs (scheduled by migrations 0002 and 0010): spot-checks, origin history, fraud signals,
reachability probes."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django_q.tasks import async_task

from nodes.assignment import live_streams
from streams import services as stream_services
from validation import fraud, reachability, runner, services
from validation.services import appeals

log = logging.getLogger(__name__)

RUN_SECONDS = 50.0  # a spot-check run stops starting checks after this, within its minute
ORIGIN_SAMPLE_SECONDS = 5.0  # the sampling run reads every live origin this often


def start_spot_checks() -> dict[str, int]:
    """Every minute (django-q2 schedule): SPOT_CHECK_RUNS runs side by side, this one and the rest
    queued for other workers. One run checks on one core; the deadlines in the database keep runs
    from checking a node twice, so more runs (and workers) simply check more nodes a minute. This
    run also samples every live origin every few seconds for its whole minute (the origin history,
    and the signs of life that keep a hook-less origin's session open and its minutes paid)."""
    queued_at = time.time()
    for _ in range(settings.SPOT_CHECK_RUNS - 1):
        async_task("validation.tasks.check_due_nodes", queued_at, task_name="spot-checks")
    return check_due_nodes(queued_at, RUN_SECONDS, sample=True)


def check_due_nodes(queued_at: float, seconds: float | None = None, *, sample: bool = False) -> dict[str, int]:
    """One run of the minute started at ``queued_at``. A run that waited in the queue past its
    minute does nothing: the next minute's runs take over, so runs never pile up behind a busy
    cluster."""
    seconds = RUN_SECONDS if seconds is None else seconds
    late = time.time() - queued_at
    if late >= seconds:
        log.warning("spot-check run skipped: it waited %.0f s for a worker", late)
        return {}
    every = ORIGIN_SAMPLE_SECONDS if sample else None
    return dict(runner.run(seconds=seconds - late, sample_every=every))


def run_spot_checks(limit: int | None = None, seconds: float = RUN_SECONDS) -> dict[str, int]:
    """Check the nodes that are due, many at a time (validation.runner), for up to ``seconds``,
    at most ``limit`` of them; one bad node never stops the run."""
    return dict(runner.run(seconds=seconds, limit=limit))


def sample_origins(duration: float = 50.0, every: float = 5.0) -> int:
    """Read every live stream's whole origin window into its history for ``duration`` seconds (on
    demand; the schedule's sampling happens inside the minute's first spot-check run)."""
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
    """Fraud signals, every 10 minutes; also drops viewers' per-segment reports and watchers older
    than a day (written through an open endpoint, they would otherwise grow without bound)."""
    services.delivery.prune_deliveries()
    stream_services.prune_watchers()
    return fraud.detect_all()


def probe_node(node_id: int, trigger: str) -> str | None:
    """A queued reachability probe (a node's first heartbeat, a new public URL); None when another
    worker probed the node at that URL just now, or it is gone."""
    return reachability.run_queued(node_id, trigger)


def reprobe_nodes() -> dict[str, int]:
    """Every 5 minutes: probe again the online nodes whose newest probe failed or is old (and drop
    old probes, keeping each node's newest)."""
    reachability.prune()
    return reachability.reprobe()


def decide_appeal(appeal_id: int) -> str:
    """Queued when the owner of a suspended node appeals: probation, the re-check, the decision
    (validation/services/appeals.py)."""
    appeal = appeals.decide(appeal_id)
    return appeal.outcome if appeal is not None else "already decided"
