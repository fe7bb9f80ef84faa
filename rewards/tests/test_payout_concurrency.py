"""Concurrent requests and approvals never pay out more than the balance: real threads, real locks.

`.ci/run` runs the suite on PostgreSQL (DATABASE_URL), where the row locks are what keeps these
honest (they fail with the locks taken out). On the default SQLite, IMMEDIATE transactions
serialise the writers instead, and the same outcomes must hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from rewards import services
from rewards.models import EntryKind, LedgerEntry, PayoutRequest, PayoutStatus

pytestmark = pytest.mark.django_db(transaction=True)
ATTEMPTS = 20


def all_at_once(work: Callable[[int], Any]) -> tuple[list[Any], list[services.PayoutError]]:
    """Run ``work(i)`` in ATTEMPTS threads released together; collect results and refusals."""
    barrier = threading.Barrier(ATTEMPTS)
    done: list[Any] = []
    refused: list[services.PayoutError] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = work(i)
            with lock:
                done.append(result)
        except services.PayoutError as exc:
            with lock:
                refused.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert len(done) + len(refused) == ATTEMPTS, "a thread failed with something other than a refusal"
    return done, refused


def test_twenty_concurrent_approvals_never_pay_out_more_than_the_balance(paypal_friend, admin_user, give):
    # Twenty requests of 5.00 each were fine against 100.00; then a correction takes 62.50 back.
    payouts = [services.request_payout(paypal_friend, "5.00") for _ in range(ATTEMPTS)]
    give(paypal_friend, "-62.50")
    done, refused = all_at_once(lambda i: services.approve(payouts[i], actor=admin_user))
    assert len(done) == 7  # 7 x 5.00 = 35.00 of the 37.50 left
    assert {exc.code for exc in refused} == {"insufficient_balance"}
    assert services.balance(paypal_friend.pk) == Decimal("2.50")
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).count() == 7
    assert PayoutRequest.objects.filter(status=PayoutStatus.APPROVED).count() == 7


def test_twenty_concurrent_approvals_of_one_request_debit_it_once(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "100.00")
    done, refused = all_at_once(lambda i: services.approve(payout, actor=admin_user))
    assert len(done) == 1 and {exc.code for exc in refused} == {"wrong_status"}
    assert services.balance(paypal_friend.pk) == Decimal("0.00")


def test_twenty_concurrent_requests_never_ask_for_more_than_the_balance(paypal_friend):
    done, refused = all_at_once(lambda i: services.request_payout(paypal_friend, "15.00"))
    assert len(done) == 6  # 6 x 15.00 = 90.00 of 100.00
    assert {exc.code for exc in refused} == {"insufficient_balance"}
    assert services.pending(paypal_friend.pk) == Decimal("90.00")


def test_two_batch_jobs_at_once_never_batch_a_payout_twice(paypal_friend, admin_user):
    for _ in range(10):
        services.approve(services.request_payout(paypal_friend, "10.00"), actor=admin_user)
    done, _ = all_at_once(lambda i: services.assemble_batch())
    batched = [batch for batch in done if batch is not None]
    assert sum(batch.items for batch in batched) == 10
    assert PayoutRequest.objects.filter(batch__isnull=True).count() == 0
