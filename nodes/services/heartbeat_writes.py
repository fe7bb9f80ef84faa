"""Writing a batch of heartbeats: the rows a batch reads and writes, and the statements.

On PostgreSQL a batch is two statements whatever its size (one array per column, unnested: one
parse and plan), sent in pipeline mode with binary parameters; elsewhere one statement a row.
The heartbeat transaction alone may commit without waiting for the disk (``relaxed_commit``).
"""

from __future__ import annotations

import functools
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from nodes.events import NodeBeat
from nodes.models import Node, NodeMinute


@dataclass
class Bucket:
    """One node-minute's increments from a batch."""

    stream_id: int | None = None
    heartbeats: int = 0
    healthy: int = 0
    bytes_served: int = 0
    segments_served: int = 0
    http_requests: int = 0
    max_viewers: int = 0
    clamped: int = 0

    def counters(self) -> tuple[int, int, int]:
        return self.bytes_served, self.segments_served, self.http_requests


@dataclass
class Batch:
    """What a batch writes: the final state of each changed node, the buckets, the pushes."""

    nodes: dict[int, Node] = field(default_factory=dict)
    buckets: dict[tuple[int, datetime], Bucket] = field(default_factory=dict)
    events: list[NodeBeat] = field(default_factory=list)
    rejoined: set[int] = field(default_factory=set)
    # Nodes whose first heartbeat or a new public URL arrived (node id -> "first_heartbeat" or
    # "url_change"): validation probes their reachability once the batch is committed.
    probes: dict[int, str] = field(default_factory=dict)


def relaxed_commit() -> None:
    """On PostgreSQL, this transaction's COMMIT returns before its WAL reaches the disk.

    The bounded loss window this buys (about 3 x ``wal_writer_delay``, 600 ms by default) opens
    only if PostgreSQL itself crashes and restarts; the web tier crashing loses nothing answered
    (``nodes/tests/test_heartbeat_crash.py``). An agent whose answered beat was lost that way sends
    higher totals next time and is credited the difference then (unless its agent restarted in
    between): a lost beat costs one bucket's heartbeat count. Only called for the heartbeat's own
    transaction, never inside a caller's. Waiting for the disk on every batch was most of a
    batch's time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def pipelined() -> AbstractContextManager[object]:
    """psycopg's pipeline mode on PostgreSQL: statements go out together, results come back
    together (one round trip where there would be several); nothing elsewhere."""
    if connection.vendor == "postgresql":
        return connection.connection.pipeline()  # type: ignore[no-any-return]
    return nullcontext()


NODE_COLUMNS = (
    "last_seen_at",
    "stale_after",
    "offline_after",
    "agent_session",
    "agent_session_started_at",
    "agent_version",
    "last_seq",
    "bytes_served_total",
    "segments_served_total",
    "http_requests_total",
    "viewers",
    "relaying_slug",
    "relay_running",
    "newest_segment_age",
    "public_url",
    "anomalies",
    "last_anomaly",
    "last_anomaly_at",
)
# The columns a batch reads: the ones it writes, and what judging and answering a beat need (a
# rejoining node's assignment reads the rest on demand).
READ = (
    "owner_id",
    "name",
    "api_key_hash",
    "approval",
    "heartbeat_interval",
    "assigned_stream__slug",
    *NODE_COLUMNS,
)
_DATETIMES = {"last_seen_at", "stale_after", "offline_after", "agent_session_started_at", "last_anomaly_at"}

_BUCKET_COLUMNS = (
    "node_id",
    "minute",
    "stream_id",
    "heartbeats",
    "healthy_heartbeats",
    "bytes_served",
    "segments_served",
    "http_requests",
    "max_viewers",
    "clamped",
)

# Whoever comes first in the minute inserts, the others add: PostgreSQL and SQLite (3.24+) both
# speak INSERT … ON CONFLICT DO UPDATE. GREATEST is MAX on SQLite.
_BUCKET_UPSERT = """
INSERT INTO {table} ({columns}) {rows}
ON CONFLICT (node_id, minute) DO UPDATE SET
    stream_id = COALESCE(excluded.stream_id, {table}.stream_id),
    heartbeats = {table}.heartbeats + excluded.heartbeats,
    healthy_heartbeats = {table}.healthy_heartbeats + excluded.healthy_heartbeats,
    bytes_served = {table}.bytes_served + excluded.bytes_served,
    segments_served = {table}.segments_served + excluded.segments_served,
    http_requests = {table}.http_requests + excluded.http_requests,
    max_viewers = {greatest}({table}.max_viewers, excluded.max_viewers),
    clamped = {table}.clamped + excluded.clamped
"""


def write(batch: Batch) -> None:
    """The batch's nodes and buckets: on PostgreSQL two statements in all (one array per column,
    unnested: one parse and plan whatever the batch's size); elsewhere one statement a row."""
    if not batch.nodes:
        return
    nodes = [node for _, node in sorted(batch.nodes.items())]
    buckets = [
        [node_id, minute, b.stream_id, b.heartbeats, b.healthy, *b.counters(), b.max_viewers, b.clamped]
        for (node_id, minute), b in sorted(batch.buckets.items())
    ]
    node_rows = [[getattr(node, column) for column in ("id", *NODE_COLUMNS)] for node in nodes]
    if connection.vendor == "postgresql":
        _write_unnested(node_rows, buckets)
    else:
        _write_row_by_row(node_rows, buckets)


def _array_types(model: type[Node] | type[NodeMinute], columns: tuple[str, ...]) -> list[str]:
    """PostgreSQL's array type for each column, e.g. ``varchar[]`` for ``varchar(64)``."""
    fields = {field.column: field for field in model._meta.concrete_fields}
    return [re.sub(r"\(.*\)", "", fields[c].db_type(connection) or "") + "[]" for c in columns]


@functools.cache  # the same two statements for every batch: built once per process
def _unnested_statements() -> tuple[str, str]:
    """The node update and the bucket upsert, each row's columns as unnested arrays."""
    quote = connection.ops.quote_name
    node_columns = ("id", *NODE_COLUMNS)
    # %b: the arrays travel in binary; their text form was built element by element in Python.
    arrays = ", ".join(f"%b::{kind}" for kind in _array_types(Node, node_columns))
    update = (
        f"UPDATE {quote(Node._meta.db_table)} AS n SET "  # noqa: S608 (names, not input)
        + ", ".join(f"{quote(c)} = v.{quote(c)}" for c in NODE_COLUMNS)
        + f" FROM unnest({arrays}) AS v({', '.join(quote(c) for c in node_columns)}) WHERE n.id = v.id"
    )
    bucket_arrays = ", ".join(f"%b::{kind}" for kind in _array_types(NodeMinute, _BUCKET_COLUMNS))
    upsert = _BUCKET_UPSERT.format(
        table=quote(NodeMinute._meta.db_table),
        columns=", ".join(_BUCKET_COLUMNS),
        rows=f"SELECT * FROM unnest({bucket_arrays})",  # noqa: S608 (types, not input)
        greatest="GREATEST",
    )
    return update, upsert


def _write_unnested(node_rows: list[list[Any]], buckets: list[list[Any]]) -> None:
    update, upsert = _unnested_statements()
    # Server-side binding: the arrays travel as parameters (binary), not quoted into the text as
    # Django's client-side cursors would, which costs more than the statements themselves.
    with connection.connection.pipeline(), psycopg.Cursor(connection.connection) as raw:
        # Django's wrapper over it: its errors, and the statements in connection.queries when logged.
        wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
        # (django-stubs type the argument as a wrapper; Django itself passes the driver's cursor.)
        cursor = wrap(raw)  # type: ignore[arg-type]
        cursor.execute(update, [list(column) for column in zip(*node_rows, strict=True)])
        cursor.execute(upsert, [list(column) for column in zip(*buckets, strict=True)])


def _write_row_by_row(node_rows: list[list[Any]], buckets: list[list[Any]]) -> None:
    ops = connection.ops
    assignments = ", ".join(f"{ops.quote_name(column)} = %s" for column in NODE_COLUMNS)
    update = f"UPDATE {ops.quote_name(Node._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
    times = [at for at, column in enumerate(("id", *NODE_COLUMNS)) if column in _DATETIMES]

    def adapted(row: list[Any], at_times: list[int]) -> list[Any]:
        return [ops.adapt_datetimefield_value(v) if at in at_times else v for at, v in enumerate(row)]

    upsert = _BUCKET_UPSERT.format(
        table=ops.quote_name(NodeMinute._meta.db_table),
        columns=", ".join(_BUCKET_COLUMNS),
        rows=f"VALUES ({', '.join(['%s'] * len(_BUCKET_COLUMNS))})",
        greatest="MAX" if connection.vendor == "sqlite" else "GREATEST",
    )
    with connection.cursor() as cursor:
        cursor.executemany(update, [[*adapted(row, times)[1:], row[0]] for row in node_rows])
        cursor.executemany(upsert, [adapted(row, [1]) for row in buckets])
