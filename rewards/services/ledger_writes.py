"""The two bulk steps of settling an hour of thousands of nodes, in SQL the ORM does not write:
the per-node totals of the hour's buckets, and the credits written into the ledger.

Both keep what the ORM did before (the same filters, the same rows), only faster: settling
10,000 nodes' hour was ~0.4 s of an aggregate grouped by the nodes' text columns and ~0.5 s of
building 10,000 model instances for ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Field, Model, QuerySet, Sum
from django.utils import timezone

from nodes.models import Approval, Node, NodeMinute
from rewards.models import EntryKind, LedgerEntry

# The columns a settlement credit sets; the others (payout, reverses) stay NULL, as before.
CREDIT_COLUMNS = ("user", "kind", "amount", "settlement", "node", "stream", "memo", "minutes", "bytes_served")


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)  # a concrete column, not a reverse relation
    return field


def node_totals(buckets: QuerySet[NodeMinute]) -> list[tuple[int, int, str, str, int, int]]:
    """(node, owner, endpoint, public URL, buckets, bytes claimed) of each node not suspended
    that has any of ``buckets``. The buckets are summed per node first and the node's columns
    joined to the 10,000 sums: grouping the joined rows by those text columns sorted 600,000."""
    per_node = buckets.values("node_id").annotate(n=Count("pk"), sent=Sum("bytes_served")).order_by()
    try:
        inner, params = per_node.query.sql_with_params()
    except EmptyResultSet:  # no minute at all to read (the origin vouched for none)
        return []
    q = connection.ops.quote_name
    node = {name: q(_field(Node, name).column) for name in ("id", "owner", "endpoint", "public_url", "approval")}
    query = (
        f"SELECT t.{q('node_id')}, n.{node['owner']}, n.{node['endpoint']}, n.{node['public_url']}, "  # noqa: S608
        f"t.{q('n')}, t.{q('sent')} FROM ({inner}) t "
        f"INNER JOIN {q(Node._meta.db_table)} n ON n.{node['id']} = t.{q('node_id')} "
        f"WHERE NOT (n.{node['approval']} = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, Approval.SUSPENDED.value])
        # PostgreSQL sums bigints as numeric (a Decimal): the sum of whole bytes is a whole number.
        return [(n, user, end, url, count, int(sent or 0)) for n, user, end, url, count, sent in cursor.fetchall()]


def write_credits(
    settlement_id: int, stream_id: int, memo: str, credits: Iterable[tuple[int, int, Decimal, int, int]]
) -> int:
    """Append one credit per (user, node, amount, minutes, bytes served), in this order: the rows
    ``LedgerEntry.objects.bulk_create`` wrote, each value prepared by its model field as the ORM
    does, created_at set once for them all (auto_now_add); by COPY on PostgreSQL. Database errors
    come out as Django's (a duplicate credit: IntegrityError). Returns the rows written."""
    fields = {name: _field(LedgerEntry, name) for name in (*CREDIT_COLUMNS, "created_at")}

    def prepared(name: str, value: object) -> Any:
        return fields[name].get_db_prep_save(value, connection)

    kind, memo = prepared("kind", EntryKind.CREDIT.value), prepared("memo", memo)
    settlement, stream = prepared("settlement", settlement_id), prepared("stream", stream_id)
    created_at = prepared("created_at", timezone.now())
    amounts: dict[str, Any] = {}  # thousands of credits, a few distinct amounts: each prepared once
    rows = []
    for user, node, amount, minutes, sent in credits:
        key = str(amount)
        if key not in amounts:
            amounts[key] = prepared("amount", amount)
        # user, node, minutes and bytes are ints, which every backend takes as they are
        rows.append((user, kind, amounts[key], settlement, node, stream, memo, minutes, sent, created_at))
    if not rows:
        return 0
    q = connection.ops.quote_name
    table = q(LedgerEntry._meta.db_table)
    columns = ", ".join(q(field.column) for field in fields.values())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
    return len(rows)
