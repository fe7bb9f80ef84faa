"""Four eyes in the Django admin, as two admins click through it: a correction proposed by one and
confirmed by the other, a large payout approved twice, and the filters that find what waits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from rewards import services
from rewards.models import CorrectionProposal, LedgerEntry, PayoutRequest, PayoutStatus

pytestmark = pytest.mark.django_db
PROPOSALS = "/admin/rewards/correctionproposal/"
PAYOUTS = "/admin/rewards/payoutrequest/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def act(client, url, action, objects, **extra) -> str:
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(url, data, follow=True).content.decode()


def test_the_ledger_form_sends_a_large_correction_to_the_proposals(admin_user, friend):
    page = signed_in(admin_user).post(
        "/admin/rewards/ledgerentry/add/", {"user": friend.pk, "amount": "75.00", "memo": "bonus"}
    )
    assert page.status_code == 200 and "Correction proposals" in page.content.decode()
    assert not LedgerEntry.objects.exists()


def test_the_ledger_form_refuses_a_correction_of_ones_own_balance(admin_user):
    page = signed_in(admin_user).post(
        "/admin/rewards/ledgerentry/add/", {"user": admin_user.pk, "amount": "5.00", "memo": "coffee"}
    )
    assert page.status_code == 200 and "their own balance" in page.content.decode()
    assert not LedgerEntry.objects.exists()


def test_a_correction_the_service_refuses_after_the_form_passed_is_an_error_message_not_a_500(
    admin_user, friend, monkeypatch
):
    # Two forms sent at the same moment by one admin: both pass the form's check, the service
    # (which counts under a lock) refuses the second. The form's check is made to pass here.
    monkeypatch.setattr(services, "needs_second_admin", lambda actor, amount: False)
    page = signed_in(admin_user).post(
        "/admin/rewards/ledgerentry/add/", {"user": friend.pk, "amount": "75.00", "memo": "bonus"}, follow=True
    )
    assert page.status_code == 200 and "propose it, and another admin confirms it" in page.content.decode()
    assert not LedgerEntry.objects.exists()


def test_one_admin_proposes_and_another_confirms_in_the_admin(admin_user, second_admin, friend):
    first, second = signed_in(admin_user), signed_in(second_admin)
    first.post(f"{PROPOSALS}add/", {"user": friend.pk, "amount": "250.00", "memo": "lost week of credits"})
    proposal = CorrectionProposal.objects.get()
    assert (proposal.state, proposal.proposed_by, proposal.amount) == ("pending", admin_user, Decimal("250.00"))
    waiting = first.get(f"{PROPOSALS}?state__exact=pending").content.decode()
    assert "lost week of credits" in waiting and "Confirm (write the correction to the ledger)" in waiting
    refused = act(first, PROPOSALS, "confirm", [proposal])
    assert "a different admin must confirm it" in refused and not LedgerEntry.objects.exists()
    assert "1 correction(s) confirmed." in act(second, PROPOSALS, "confirm", [proposal])
    assert services.balance(friend.pk) == Decimal("250.00")
    page = second.get(f"{PROPOSALS}{proposal.pk}/change/").content.decode()
    assert "correction.proposed" in page and "correction.confirmed" in page  # its audit trail


def test_a_proposal_is_rejected_with_a_reason_in_the_admin(admin_user, second_admin, friend):
    proposal = services.propose_correction(friend.pk, Decimal("-120.00"), actor=admin_user, memo="fraud")
    client = signed_in(second_admin)
    assert 'name="text"' in act(client, PROPOSALS, "reject", [proposal])
    assert "1 correction(s) rejected." in act(client, PROPOSALS, "reject", [proposal], apply="1", text="checks pass")
    proposal.refresh_from_db()
    assert (proposal.state, proposal.reason, proposal.decided_by) == ("rejected", "checks pass", second_admin)


def test_proposals_cannot_be_edited_or_deleted_in_the_admin(admin_user, friend):
    proposal = services.propose_correction(friend.pk, Decimal("60.00"), actor=admin_user, memo="x")
    client = signed_in(admin_user)
    client.post(f"{PROPOSALS}{proposal.pk}/change/", {"user": friend.pk, "amount": "6000.00", "memo": "x"})
    assert client.post(f"{PROPOSALS}{proposal.pk}/delete/", {"post": "yes"}).status_code == 403
    proposal.refresh_from_db()
    assert (proposal.amount, proposal.state) == (Decimal("60.00"), "pending")


def test_staff_who_may_only_view_see_proposals_without_actions(viewer_staff, admin_user, friend):
    services.propose_correction(friend.pk, Decimal("60.00"), actor=admin_user, memo="seen, not decided")
    page = signed_in(viewer_staff).get(PROPOSALS).content.decode()
    assert "seen, not decided" in page and "Confirm (write" not in page


def test_a_large_payout_is_approved_twice_in_the_admin(admin_user, second_admin, friend, give):
    give(friend, "400.00")
    services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    payout = services.request_payout(friend, "300.00")
    first, second = signed_in(admin_user), signed_in(second_admin)
    page = act(first, PAYOUTS, "approve", [payout])
    assert "First approval recorded for payout(s)" in page and "a second, different admin" in page
    assert "must approve it too" in act(first, PAYOUTS, "approve", [payout])  # the same admin again
    waiting = first.get(f"{PAYOUTS}?approvals=waiting").content.decode()
    assert "friend@example.com" in waiting
    assert "1 payout(s) approved." in act(second, PAYOUTS, "approve", [payout])
    payout.refresh_from_db()
    assert (payout.status, payout.first_approved_by, payout.decided_by) == (
        PayoutStatus.APPROVED,
        admin_user,
        second_admin,
    )
    assert "friend@example.com" in first.get(f"{PAYOUTS}?approvals=two").content.decode()
    assert "friend@example.com" not in first.get(f"{PAYOUTS}?approvals=waiting").content.decode()
    assert PayoutRequest.objects.filter(status=PayoutStatus.APPROVED).count() == 1
