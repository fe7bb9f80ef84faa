"""The daily job gathers approved PayPal and Venmo payouts into PayPal Payouts bulk files."""

from __future__ import annotations

import csv
import io

import pytest
from django_q.models import Schedule

from rewards import services, tasks
from rewards.models import PayoutStatus

pytestmark = pytest.mark.django_db


def test_the_job_batches_approved_payouts_once_and_leaves_manual_ones_out(paypal_friend, outsider, give, admin_user):
    paypal = services.request_payout(paypal_friend, "30.00")
    waiting = services.request_payout(paypal_friend, "10.00")
    give(outsider, "20.00")
    services.set_payout_method(outsider, kind="manual", address="cash at the meetup")
    manual = services.request_payout(outsider, "20.00")
    for payout in (paypal, manual):
        services.approve(payout, actor=admin_user)
    batch_id = tasks.assemble_payout_batches()
    assert batch_id is not None
    assert tasks.assemble_payout_batches() is None  # nothing new to batch
    for payout in (paypal, waiting, manual):
        payout.refresh_from_db()
    assert (paypal.batch_id, waiting.batch_id, manual.batch_id) == (batch_id, None, None)
    assert manual.status == PayoutStatus.APPROVED  # paid by hand, marked paid in the admin


def test_the_csv_follows_paypals_bulk_upload_columns(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "30.00")
    services.approve(payout, actor=admin_user)
    batch = services.assemble_batch()
    assert batch is not None
    (row,) = list(csv.reader(io.StringIO(services.batch_csv(batch))))
    recipient, amount, currency, customer_id, note, wallet = row
    assert (recipient, amount, currency, wallet) == ("friend@example.com", "30.00", "USD", "PAYPAL")
    assert customer_id == f"payout-{payout.pk}" and " " not in customer_id and len(customer_id) <= 30
    assert 0 < len(note) <= 400


def test_batches_are_assembled_daily(db):
    schedule = Schedule.objects.get(name="rewards: assemble payout batches")
    assert (schedule.func, schedule.schedule_type) == ("rewards.tasks.assemble_payout_batches", Schedule.DAILY)
