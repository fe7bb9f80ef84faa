"""Payout requests and decisions: what a friend may ask for, and what approving does to the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rewards import services
from rewards.models import AppendOnlyError, AuditEntry, EntryKind, LedgerEntry, PayoutStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "address", "stored"),
    [
        ("paypal", " friend@example.com ", "friend@example.com"),
        ("venmo", "@alice-relay", "alice-relay"),
        ("manual", "bank transfer, ask me", "bank transfer, ask me"),
    ],
)
def test_a_friend_sets_a_payout_method(friend, kind, address, stored):
    method = services.set_payout_method(friend, kind=kind, address=address)
    assert (method.kind, method.address) == (kind, stored)


@pytest.mark.parametrize(
    ("kind", "address", "code"),
    [
        ("paypal", "not-an-email", "bad_address"),
        ("paypal", "=cmd@example.com", "bad_address"),
        ("venmo", "@ab", "bad_address"),
        ("venmo", "has space", "bad_address"),
        ("manual", "   ", "bad_address"),
        ("bitcoin", "x", "bad_method"),
    ],
)
def test_refuses_a_payout_method_it_cannot_pay(friend, kind, address, code):
    with pytest.raises(services.PayoutError) as refused:
        services.set_payout_method(friend, kind=kind, address=address)
    assert refused.value.code == code


def test_a_request_keeps_the_address_it_was_made_with(paypal_friend):
    payout = services.request_payout(paypal_friend, "20.00")
    services.set_payout_method(paypal_friend, kind="venmo", address="@someone-else")
    payout.refresh_from_db()
    assert (payout.method, payout.address, payout.status) == ("paypal", "friend@example.com", PayoutStatus.REQUESTED)


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("4.99", "below_minimum"),
        ("abc", "bad_amount"),
        ("-5", "bad_amount"),
        ("10.001", "bad_amount"),
        ("NaN", "bad_amount"),
        ("Infinity", "bad_amount"),
        (True, "bad_amount"),
        (12.5, "bad_amount"),
        ("100.01", "insufficient_balance"),
    ],
)
def test_refuses_a_request_below_the_minimum_above_the_balance_or_malformed(paypal_friend, amount, code):
    with pytest.raises(services.PayoutError) as refused:
        services.request_payout(paypal_friend, amount)
    assert refused.value.code == code


def test_refuses_a_request_without_a_payout_method(friend, give):
    give(friend, "50.00")
    with pytest.raises(services.PayoutError, match="payout method") as refused:
        services.request_payout(friend, "10.00")
    assert refused.value.status == 409


def test_waiting_requests_count_against_what_may_still_be_requested(paypal_friend):
    services.request_payout(paypal_friend, "60.00")
    assert services.available(paypal_friend.pk) == Decimal("40.00")
    with pytest.raises(services.PayoutError, match=r"Only 40\.00"):
        services.request_payout(paypal_friend, "41.00")
    services.request_payout(paypal_friend, "40.00")
    assert services.available(paypal_friend.pk) == Decimal("0.00")


def test_approving_debits_the_ledger_once(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "30.00")
    services.approve(payout, actor=admin_user)
    assert services.balance(paypal_friend.pk) == Decimal("70.00")
    with pytest.raises(services.PayoutError, match="only requested payouts can be approved"):
        services.approve(payout, actor=admin_user)
    debit = LedgerEntry.objects.get(kind=EntryKind.PAYOUT)
    assert (debit.amount, debit.payout_id, debit.user_id) == (Decimal("-30.00"), payout.pk, paypal_friend.pk)


def test_approval_is_refused_when_a_correction_left_too_little(paypal_friend, admin_user, give):
    payout = services.request_payout(paypal_friend, "80.00")
    give(paypal_friend, "-50.00")  # a late fraud finding takes back 50.00
    with pytest.raises(services.PayoutError, match=r"balance is 50\.00"):
        services.approve(payout, actor=admin_user)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED and services.balance(paypal_friend.pk) == Decimal("50.00")


def test_rejecting_a_request_leaves_the_balance_and_frees_the_amount(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "100.00")
    services.reject(payout, actor=admin_user, reason="address bounced")
    payout.refresh_from_db()
    assert (payout.status, payout.reason, payout.decided_by) == (PayoutStatus.REJECTED, "address bounced", admin_user)
    assert services.available(paypal_friend.pk) == Decimal("100.00")
    assert not LedgerEntry.objects.filter(payout=payout).exists()


def test_rejecting_an_approved_payout_reverses_its_debit_with_a_new_entry(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "25.00")
    services.approve(payout, actor=admin_user)
    services.reject(payout, actor=admin_user, reason="PayPal returned it")
    kinds = sorted((e.kind, e.amount) for e in LedgerEntry.objects.filter(payout=payout))
    assert kinds == [(EntryKind.CORRECTION, Decimal("25.00")), (EntryKind.PAYOUT, Decimal("-25.00"))]
    assert services.balance(paypal_friend.pk) == Decimal("100.00")


def test_marking_paid_needs_an_approved_payout_and_a_reference(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "10.00")
    with pytest.raises(services.PayoutError, match="only approved payouts can be marked paid"):
        services.mark_paid(payout, actor=admin_user, reference="TX1")
    services.approve(payout, actor=admin_user)
    with pytest.raises(services.PayoutError, match="reference"):
        services.mark_paid(payout, actor=admin_user, reference="  ")
    services.mark_paid(payout, actor=admin_user, reference="5TY05013RG002845M")
    payout.refresh_from_db()
    assert (payout.status, payout.external_reference) == (PayoutStatus.PAID, "5TY05013RG002845M")
    with pytest.raises(services.PayoutError, match="only requested or approved payouts can be rejected"):
        services.reject(payout, actor=admin_user)


def test_every_change_is_in_the_audit_log_with_who_made_it(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "10.00")
    services.approve(payout, actor=admin_user)
    services.mark_paid(payout, actor=admin_user, reference="TX1")
    trail = [(e.action, e.actor.username, e.user_id) for e in AuditEntry.objects.order_by("pk").select_related("actor")]
    assert trail == [
        ("correction.proposed", "root", paypal_friend.pk),  # the fixture's 100.00, under four eyes
        ("correction.confirmed", "root2", paypal_friend.pk),
        ("method.set", "friend", paypal_friend.pk),
        ("payout.requested", "friend", paypal_friend.pk),
        ("payout.approved", "root", paypal_friend.pk),
        ("payout.paid", "root", paypal_friend.pk),
    ]
    assert AuditEntry.objects.get(action="payout.paid").details == {"amount": "10.00", "reference": "TX1"}


def test_the_audit_log_cannot_be_rewritten(paypal_friend):
    entry = AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.update(action="nothing")
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_a_correction_needs_a_reason_and_a_non_zero_amount(friend, admin_user):
    with pytest.raises(services.PayoutError, match="why"):
        services.add_correction(friend.pk, Decimal("5.00"), actor=admin_user, memo=" ")
    with pytest.raises(services.PayoutError, match="non-zero"):
        services.add_correction(friend.pk, Decimal("0"), actor=admin_user, memo="nothing")


def test_a_payout_in_an_exported_batch_cannot_be_rejected_and_paid_twice(paypal_friend, admin_user):
    payout = services.request_payout(paypal_friend, "40.00")
    services.approve(payout, actor=admin_user)
    batch = services.assemble_batch()
    assert batch is not None
    with pytest.raises(services.PayoutError) as refused:
        services.reject(payout, actor=admin_user, reason="changed my mind")
    assert refused.value.code == "in_batch" and services.balance(paypal_friend.pk) == Decimal("60.00")
    services.mark_paid(payout, actor=admin_user, reference="TX")
    assert services.batch_csv(batch) == ""  # paid rows never go into a file again


def test_nobody_approves_their_own_payout_or_corrects_their_own_balance(admin_user, give, friend):
    give(friend, "10.00")
    with pytest.raises(services.PayoutError) as refused:
        services.add_correction(admin_user.pk, Decimal("50.00"), actor=admin_user, memo="bonus")
    assert refused.value.code == "own_balance"
    services.add_correction(admin_user.pk, Decimal("50.00"), actor=friend, memo="another admin's credit")
    services.set_payout_method(admin_user, kind="paypal", address="root@example.com")
    payout = services.request_payout(admin_user, "50.00")
    with pytest.raises(services.PayoutError) as refused:
        services.approve(payout, actor=admin_user)
    assert (refused.value.code, refused.value.status) == ("own_payout", 403)
