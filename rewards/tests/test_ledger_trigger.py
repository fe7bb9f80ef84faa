"""On PostgreSQL the database itself keeps the ledger and the audit log append-only: raw SQL that
goes around the ORM's refusal is refused by the triggers of migration rewards.0010.

These need PostgreSQL (CI's database): elsewhere they skip on a laptop but fail where
STREAMR_REQUIRE_MEDIA=1, as CI sets, so CI can never pass them by skipping.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from rewards import services
from rewards.models import AuditEntry, LedgerEntry
from testkit.media import require

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postgresql() -> None:
    reason = None if connection.vendor == "postgresql" else f"the triggers are PostgreSQL's ({connection.vendor} here)"
    require(reason, what="the ledger trigger test")


@pytest.fixture
def rows(admin_user, friend) -> tuple[LedgerEntry, AuditEntry]:
    entry = services.add_correction(friend.pk, Decimal("12.00"), actor=admin_user, memo="a missed hour")
    return entry, AuditEntry.objects.get(action="ledger.corrected")


def refused(sql: str, pk: int) -> str:
    """Run one raw statement in a savepoint; the database's refusal message."""
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [pk])
    return str(error.value)


@pytest.mark.parametrize("table", ["rewards_ledgerentry", "rewards_auditentry"])
def test_the_tables_the_triggers_guard_are_the_models_tables(table):
    assert table in {LedgerEntry._meta.db_table, AuditEntry._meta.db_table}


def test_a_raw_update_of_a_ledger_row_is_refused(rows):
    entry, _ = rows
    message = refused("UPDATE rewards_ledgerentry SET amount = 1000000 WHERE id = %s", entry.pk)
    assert "UPDATE on rewards_ledgerentry" in message and "append-only" in message
    assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("12.00")


def test_a_raw_delete_of_a_ledger_row_is_refused(rows):
    entry, _ = rows
    assert "DELETE on rewards_ledgerentry" in refused("DELETE FROM rewards_ledgerentry WHERE id = %s", entry.pk)
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_a_raw_update_of_an_audit_row_is_refused(rows):
    _, audit = rows
    message = refused("UPDATE rewards_auditentry SET actor_id = NULL, action = 'nothing' WHERE id = %s", audit.pk)
    assert "UPDATE on rewards_auditentry" in message
    assert AuditEntry.objects.get(pk=audit.pk).action == "ledger.corrected"


def test_a_raw_delete_of_an_audit_row_is_refused(rows):
    _, audit = rows
    assert "DELETE on rewards_auditentry" in refused("DELETE FROM rewards_auditentry WHERE id = %s", audit.pk)
    assert AuditEntry.objects.filter(pk=audit.pk).exists()


def test_statements_that_touch_no_row_and_truncate_still_work(rows):
    # Row-level triggers: an UPDATE matching nothing is not an error. TRUNCATE (how the test
    # runner empties tables between transactional tests) has no trigger; rolled back with the test.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rewards_ledgerentry SET memo = 'x' WHERE id = -1")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows' deferred foreign-key checks, first
        cursor.execute("TRUNCATE rewards_ledgerentry, rewards_auditentry CASCADE")
    assert not LedgerEntry.objects.exists() and not AuditEntry.objects.exists()
