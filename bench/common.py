"""Shared set-up for benchmarks: Django on a throw-away test database, and latency tables."""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamrp2p_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # one log line per request would drown the figures

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


@contextmanager
def test_database() -> Iterator[str]:
    """Create the test database (SQLite file, or test_<name> on PostgreSQL) and drop it after."""
    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def database_url() -> str:
    """The PostgreSQL URL of the test database just created, for processes the bench starts."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def heartbeating_fleet(count: int) -> list[str]:
    """``count`` registered nodes and a live stream 'bench' for them to relay: their API keys."""
    from django.contrib.auth.models import User

    from core import tokens
    from nodes.models import Node
    from streams import services as stream_services
    from streams.models import Origin

    owner = User.objects.create_user("bench")
    _, key = stream_services.create_stream(owner=owner, slug="bench")
    api_keys = [f"nk_bench{n:06d}{uuid.uuid4().hex}" for n in range(count)]
    fleet = [
        Node(
            owner=owner,
            name=f"n{n}",
            public_url=f"http://n{n}.example:8090",
            api_key_hash=tokens.digest(k),
            api_key_hint=tokens.hint(k),
        )
        for n, k in enumerate(api_keys)
    ]
    Node.objects.bulk_create(fleet, batch_size=5000)
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="bench", key=key, client_id="c")
    )
    return api_keys


def print_latencies(figures: dict[str, list[float]]) -> None:
    print(f"{'what':<16}{'count':>7}{'mean':>8}{'p50':>8}{'p95':>8}{'max':>8}   (ms)")
    for name, samples in figures.items():
        ordered = sorted(samples)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        print(
            f"{name:<16}{len(samples):>7}{statistics.fmean(samples):8.2f}{statistics.median(samples):8.2f}"
            f"{p95:8.2f}{ordered[-1]:8.2f}"
        )


@dataclass(frozen=True)
class Row:
    """One line of `make bench`'s table: a figure beside a ceiling measured in the same run on the
    same machine, and the issue's target. ``higher_is_better`` says which way the ratio reads."""

    what: str
    figure: float
    unit: str
    ceiling_what: str
    ceiling: float | None
    target: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.ceiling or not self.figure:
            return None
        return self.figure / self.ceiling if self.higher_is_better else self.ceiling / self.figure


def print_rows(rows: list[Row]) -> None:
    """The table as Markdown, ready for docs/BENCHMARKS.md."""
    print("| what | figure | ceiling (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        ceiling = f"{row.ceiling:,.1f} {row.unit} ({row.ceiling_what})" if row.ceiling is not None else row.ceiling_what
        ratio = f"{row.ratio:.0%}" if row.ratio is not None else "—"
        print(f"| {row.what} | {row.figure:,.1f} {row.unit} | {ceiling} | {ratio} | {row.target} |")
