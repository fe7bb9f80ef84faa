"""Spot-checks many at a time: the database part in the calling thread, the network part in a pool.

A check spends nearly all its time waiting on the node (and on a player's pauses), so one run
keeps SPOT_CHECK_CONCURRENCY checks in flight. Only the calling thread touches the database (one
connection per run, however many checks), and checks that finish together share one read of the
origin's window (validation.windows). A sampling run also reads every live origin every few
seconds, so the origin history and its signs of life never depend on nodes being due.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings

from nodes.assignment import live_streams
from nodes.models import Node
from validation import checks
from validation.services import scheduling, spotchecks
from validation.windows import OriginWindows

log = logging.getLogger(__name__)


def run(
    *, seconds: float, concurrency: int | None = None, limit: int | None = None, sample_every: float | None = None
) -> Counter[str]:
    """Check due nodes, most overdue first, until none is due, ``limit`` were started, or
    ``seconds`` have passed (checks in flight then still finish). With ``sample_every``, also read
    every live origin that often, for the whole ``seconds``. Returns outcome counts."""
    concurrency = concurrency or settings.SPOT_CHECK_CONCURRENCY
    deadline = time.monotonic() + seconds
    next_sample = time.monotonic()
    origins = OriginWindows()
    outcomes: Counter[str] = Counter()
    pending: dict[Future[spotchecks.Findings], spotchecks.Plan] = {}
    started = 0
    with ThreadPoolExecutor(concurrency, thread_name_prefix="spot-check") as pool:
        while True:
            in_time = time.monotonic() < deadline
            if sample_every is not None and in_time and time.monotonic() >= next_sample:
                _sample(origins)
                next_sample = time.monotonic() + sample_every
            room = concurrency - len(pending)
            if limit is not None:
                room = min(room, limit - started)
            for node in scheduling.claim_due(room) if room > 0 and in_time else []:
                started += 1
                plan = _plan(node, outcomes)
                if plan is not None:
                    pending[pool.submit(spotchecks.inspect, plan, origins)] = plan
            if pending:
                done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    _conclude(pending.pop(future), future, outcomes)
            elif sample_every is not None and in_time:
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))  # nothing due yet: keep sampling
            else:
                break  # nothing due (or no time left): the next run takes what comes due
    log.info("spot-checks: %s (%d origin reads)", dict(outcomes), origins.reads)
    return outcomes


def _sample(origins: OriginWindows) -> None:
    for stream in live_streams():
        try:
            spotchecks.sample_origin(stream, origins)
        except checks.OriginUnavailable as exc:
            log.info("origin of %s not readable: %s", stream.slug, exc)
        except Exception:  # one stream's origin trouble must not stop the others' history or the checks
            log.exception("could not sample the origin of %s", stream.slug)


def _plan(node: Node, outcomes: Counter[str]) -> spotchecks.Plan | None:
    try:
        return spotchecks.plan_check(node)
    except spotchecks.CheckSkipped as exc:
        _skipped(node, exc, outcomes)
    except Exception:  # e.g. a locked database: this node is tried again soon, the run goes on
        log.exception("spot-check of node %s could not start", node.pk)
        scheduling.release(node)
        outcomes["error"] += 1
    return None


def _conclude(plan: spotchecks.Plan, future: Future[spotchecks.Findings], outcomes: Counter[str]) -> None:
    try:
        check = spotchecks.conclude(plan, future.result())
    except spotchecks.CheckSkipped as exc:
        _skipped(plan.node, exc, outcomes)
    except Exception:  # one bad node must never stop the run; its claim lapses and it comes due again
        log.exception("spot-check of node %s failed", plan.node.pk)
        outcomes["error"] += 1
    else:
        outcomes[str(check.outcome)] += 1


def _skipped(node: Node, exc: Exception, outcomes: Counter[str]) -> None:
    scheduling.release(node)
    outcomes["skipped"] += 1
    log.info("spot-check of node %s skipped: %s", node.pk, exc)
