"""Benchmark: do the spot-check workers cover NODES online nodes within 15 minutes on this machine?

A real nginx-rtmp origin takes an 8 Mbit/s 720p publish; one real relay (the agent's own
`ffmpeg -c copy` command) is served for NODES node identities by bench/relay_farm.py, each at its
own URL and answering /healthz with its own id. The NODES nodes are online, trusted, and due for a
check spread over one interval, as in steady state. WORKERS processes then do what the schedule has
each django-q2 worker do every minute (a spot-check run of up to 50 s, validation.tasks) for
MINUTES. Printed: checks/s against the steady-state demand, how late nodes were checked after their
deadlines, the longest any node went unchecked, outcomes (every relay is honest: any verdict but
pass is a false positive), latency, and CPU per check. Usage (PostgreSQL, as in production; SQLite runs one worker):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/coverage.py \
        [NODES] [MINUTES] [WORKERS] [--backlog]
With --backlog every node is due at the start: checks/s is then what the workers can do at most.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import Row, database_url, test_database
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from streamr_node.relay import find_ffmpeg, relay_command

from nodes.models import Node
from streams import services as stream_services
from streams.models import Origin, Stream
from testkit.hls import HlsWatcher
from testkit.media import (
    NginxRtmpOrigin,
    free_port,
    missing_media_tools,
    publish_test_source,
    stop_process,
    wait_for_port,
)
from validation import media_sandbox, tasks
from validation.models import CheckDue, NodeTrust, SpotCheck

HERE = Path(__file__).resolve().parent
COVERAGE_TARGET = timedelta(minutes=15)


def worker(seconds: float, *, sample: bool) -> dict[str, object]:
    """One django-q2 worker's share of the schedule: at each minute mark a run of that minute
    (validation.tasks.check_due_nodes as start_spot_checks starts them: the first worker's run also
    samples the origin every 5 s), then idle until the next."""
    deadline = time.time() + seconds
    outcomes: Counter[str] = Counter()
    while (minute := time.time()) < deadline - 1:
        outcomes.update(tasks.check_due_nodes(minute, seconds=min(tasks.RUN_SECONDS, deadline - minute), sample=sample))
        time.sleep(max(0.0, minute + 60 - time.time()))
    # Segments are parsed in child processes (validation/media_sandbox.py): close them so their
    # CPU is reaped into RUSAGE_CHILDREN, and count it with the worker's own.
    media_sandbox.close()
    own, parsers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"outcomes": outcomes, "cpu": own.ru_utime + own.ru_stime + parsers.ru_utime + parsers.ru_stime}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fleet(count: int, port: int, owner: User, stream: Stream, *, backlog: bool) -> dict[int, float]:
    """``count`` online, trusted nodes relaying ``stream``, each due once within one interval (all
    due at once with ``backlog``: the workers' capacity). Returns node id -> deadline (epoch seconds)."""
    now = timezone.now()
    Node.objects.bulk_create(
        [
            Node(
                owner=owner,
                name=f"n{n}",
                public_url="http://127.0.0.1",
                api_key_hash=f"{n:064d}",
                assigned_stream=stream,
                stale_after=now + timedelta(days=1),
                offline_after=now + timedelta(days=1),
            )
            for n in range(count)
        ],
        batch_size=5000,
    )
    nodes = list(Node.objects.values_list("pk", flat=True))
    for pk in nodes:  # bulk_create returns no ids on every database: set each URL after
        Node.objects.filter(pk=pk).update(public_url=f"http://127.0.0.1:{port}/n/{pk}")
    NodeTrust.objects.bulk_create([NodeTrust(node_id=pk, score=1.0, checks=20) for pk in nodes], batch_size=5000)
    # Steady state: a trusted node's next check lies 0.8-1.0 intervals after its last one.
    # Steady state: the time left to a trusted node's next check is that of a process renewed by
    # draws of scheduling.draw (exponential, capped at the interval): density ~ exp(-t/I) on [0, I].
    interval = settings.SPOT_CHECK_INTERVAL_SECONDS
    rng = random.Random(7)  # noqa: S311  (a spread of deadlines, not a secret)
    due = {
        pk: now + timedelta(seconds=0 if backlog else -interval * math.log(1 - rng.random() * (1 - math.exp(-1))))
        for pk in nodes
    }
    CheckDue.objects.bulk_create([CheckDue(node_id=pk, due_at=at) for pk, at in due.items()], batch_size=5000)
    return {pk: at.timestamp() for pk, at in due.items()}


def main(count: int, minutes: float, workers: int, backlog: bool) -> dict[str, float]:
    reason = missing_media_tools()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    seconds = minutes * 60
    with tempfile.TemporaryDirectory() as tmp, test_database() as engine:
        if engine != "postgresql" and workers > 1:
            print("SQLite: one worker (set DATABASE_URL to PostgreSQL for more)")
            workers = 1
        work = Path(tmp)
        origin = NginxRtmpOrigin(work / "origin", hook_base_url=None, secret="").start()
        settings.ORIGIN_HLS_URL = f"http://127.0.0.1:{origin.http_port}/hls/{{stream}}.m3u8"
        processes: list[subprocess.Popen[bytes]] = []
        try:
            processes.append(
                publish_test_source(
                    origin.rtmp_url("bench"), seconds=seconds + 120, video_bitrate="8M", size="1280x720"
                )
            )
            relay_dir = work / "relay" / "bench"
            relay_dir.mkdir(parents=True)
            processes.append(
                subprocess.Popen(
                    relay_command(find_ffmpeg(), origin.rtmp_url("bench"), relay_dir), stderr=subprocess.DEVNULL
                )
            )
            port = free_port()
            farm = subprocess.Popen([sys.executable, str(HERE / "relay_farm.py"), str(port), str(work / "relay")])
            processes.append(farm)
            wait_for_port(port)

            owner = User.objects.create_user("bench")
            stream, key = stream_services.create_stream(
                owner=owner, slug="bench", reward_rate_per_hour=Decimal("100.00")
            )
            stream_services.admit_publish(
                stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="bench", key=key, client_id="c")
            )
            deadline = time.monotonic() + 30
            while HlsWatcher(f"http://127.0.0.1:{port}/n/1/hls/bench/index.m3u8").poll() < 3:
                if time.monotonic() > deadline:
                    raise SystemExit("the relay produced no HLS within 30 s")
                time.sleep(1)
            due = fleet(count, port, owner, stream, backlog=backlog)
            connection.close()  # the workers are separate processes

            farm_cpu = cpu_seconds(farm.pid)
            started = time.time()
            env = {**os.environ, "ORIGIN_HLS_URL": settings.ORIGIN_HLS_URL, "LOG_LEVEL": "WARNING"}
            if engine == "postgresql":
                env["DATABASE_URL"] = database_url()
                pool = [
                    subprocess.Popen(
                        [sys.executable, __file__, "--worker", str(seconds), *(["--sample"] if n == 0 else [])],
                        env=env,
                        stdout=subprocess.PIPE,
                    )
                    for n in range(workers)
                ]
                reports = [json.loads(p.communicate()[0].decode().strip().splitlines()[-1]) for p in pool]
            else:
                reports = [worker(seconds, sample=True)]
            elapsed = time.time() - started
            farm_cpu = cpu_seconds(farm.pid) - farm_cpu
            return report(count, minutes, workers, engine, due, started, elapsed, reports, farm_cpu, backlog=backlog)
        finally:
            for process in processes:
                stop_process(process)
            origin.stop()


def mean_wait(interval: float) -> float:
    """Mean seconds between a trusted node's checks: scheduling.draw's exponential capped at the
    interval (its 30 s floor adds a negligible amount)."""
    return interval * (1 - math.exp(-1))


def report(
    count: int,
    minutes: float,
    workers: int,
    engine: str,
    due: dict[int, float],
    started: float,
    elapsed: float,
    reports: list[dict[str, Any]],
    farm_cpu: float,
    *,
    backlog: bool,
) -> dict[str, float]:
    outcomes: Counter[str] = Counter()
    for one in reports:
        outcomes.update(one["outcomes"])
    checks = SpotCheck.objects.filter(checked_at__gte=timezone.now() - timedelta(seconds=elapsed + 60))
    total = checks.count()
    first = dict(checks.values("node_id").annotate(first=Min("checked_at")).values_list("node_id", "first"))
    ended = started + elapsed
    came_due = [pk for pk, at in due.items() if at <= ended - 60]  # due a minute before the end or earlier
    late = sorted(first[pk].timestamp() - due[pk] if pk in first else ended - due[pk] for pk in came_due)
    missed = sum(1 for pk in came_due if pk not in first)
    interval = settings.SPOT_CHECK_INTERVAL_SECONDS
    demand = count / mean_wait(interval)
    latencies = sorted(checks.values_list("latency_ms", flat=True))
    worker_cpu = sum(float(one["cpu"]) for one in reports)
    print(f"spot-check coverage: {count:,} honest relays of one 8 Mbit/s 720p stream, {engine}, {workers} worker(s)")
    print(f"  ran {elapsed:.0f} s ({minutes:g} min); concurrency {settings.SPOT_CHECK_CONCURRENCY} per worker")
    print(f"  checks: {total:,} = {total / elapsed:.1f}/s; steady-state demand at {interval} s: {demand:.1f}/s")
    if backlog:
        coverable = total / elapsed * mean_wait(interval)
        print("  backlog: every node was due at the start, so checks/s is what the workers can do at most:")
        print(f"  enough for {coverable:,.0f} trusted nodes each checked within {timedelta(seconds=interval)}")
    else:
        print(f"  nodes due during the run: {len(came_due):,}; checked: {len(came_due) - missed:,}; missed: {missed}")
    if late and not backlog:
        print(
            f"  checked after their deadline by: p50 {statistics.median(late):.1f} s, "
            f"p99 {late[int(len(late) * 0.99) - 1]:.1f} s, max {late[-1]:.1f} s"
        )
        longest = timedelta(seconds=interval + max(late[-1], 0))
        verdict = "within" if longest <= COVERAGE_TARGET else "BEYOND"
        print(f"  longest any node went unchecked: {longest} ({verdict} the 15-minute target)")
    print(f"  outcomes: {dict(outcomes)} (false positives: {total - outcomes.get('pass', 0)})")
    if latencies:
        print(
            f"  node latency: p50 {statistics.median(latencies):.0f} ms, "
            f"p95 {latencies[int(len(latencies) * 0.95) - 1]} ms"
        )
    if total:
        print(
            f"  CPU per check: workers {worker_cpu / total * 1000:.1f} ms, relay farm {farm_cpu / total * 1000:.1f} ms"
        )
    return {
        "rate": total / elapsed,
        "cpu_per_check": (worker_cpu + farm_cpu) / total if total else 0.0,
        "latency_p50": float(statistics.median(latencies)) if latencies else 0.0,
        "false_positives": float(total - outcomes.get("pass", 0)),
    }


def rows(count: int = 10_000, minutes: float = 2, workers: int = 2) -> list[Row]:
    """Capacity (--backlog): checks/s beside what the CPU allows at the CPU per check measured in
    the same run (every core busy with checks and the relays they fetch), and node latency."""
    found = main(count, minutes, workers, True)
    cores = os.cpu_count() or 1
    cpu_bound = cores / found["cpu_per_check"] if found["cpu_per_check"] else None
    return [
        Row(
            f"spot-checks/s, {workers} workers, {count:,} nodes due",
            found["rate"],
            "/s",
            f"{cores} cores / CPU per check",
            cpu_bound,
            ">= 20/s",
        ),
        Row("spot-check node latency p50", found["latency_p50"], "ms", "—", None, "<= 1,000 ms", False),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(float(sys.argv[2]), sample="--sample" in sys.argv)))
    else:
        backlog = "--backlog" in sys.argv
        args = [float(a) for a in sys.argv[1:] if a != "--backlog"]
        count, minutes = int(args[0]) if args else 10_000, args[1] if len(args) > 1 else 3
        main(count, minutes, int(args[2]) if len(args) > 2 else 2, backlog)
