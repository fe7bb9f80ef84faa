"""Four eyes on money: what one admin may move alone, and what needs a second, different admin.

The defaults: CORRECTION_SECOND_ADMIN_OVER = 50.00 (one admin's corrections in 24 h, absolute
amounts added up) and PAYOUT_SECOND_ADMIN_OVER = 100.00 (what one admin approves alone for one
friend in 24 h). The permission matrix: same admin refused, a second admin completes, below the
limit one admin suffices, nobody approves or confirms money for themselves.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from rewards import services
from rewards.models import AuditEntry, CorrectionProposal, EntryKind, LedgerEntry, PayoutRequest, PayoutStatus

pytestmark = pytest.mark.django_db


def refusal(call, *args, **kwargs) -> tuple[str, int]:
    with pytest.raises(services.PayoutError) as refused:
        call(*args, **kwargs)
    return refused.value.code, refused.value.status


def trail(**filters) -> list[tuple[str, str]]:
    entries = AuditEntry.objects.filter(**filters).order_by("pk")
    return list(entries.values_list("action", "actor__username"))


# --- Corrections ----------------------------------------------------------------------------------


def test_the_defaults_are_fifty_for_corrections_and_a_hundred_for_payouts(settings):
    limits = (settings.CORRECTION_SECOND_ADMIN_OVER, settings.PAYOUT_SECOND_ADMIN_OVER)
    assert limits == (Decimal("50.00"), Decimal("100.00"))


def test_one_admin_alone_corrects_up_to_the_limit_and_no_further(admin_user, friend):
    services.add_correction(friend.pk, Decimal("50.00"), actor=admin_user, memo="missed hour")
    assert refusal(services.add_correction, friend.pk, Decimal("0.01"), actor=admin_user, memo="one cent more") == (
        "second_admin_required",
        409,
    )
    assert services.balance(friend.pk) == Decimal("50.00")


def test_a_large_correction_is_refused_to_one_admin_and_writes_nothing(admin_user, friend):
    code, _ = refusal(services.add_correction, friend.pk, Decimal("50.01"), actor=admin_user, memo="bonus")
    assert code == "second_admin_required"
    assert not LedgerEntry.objects.exists() and not AuditEntry.objects.exists()


def test_splitting_a_correction_over_accounts_or_signs_does_not_get_around_the_limit(admin_user, friend, outsider):
    services.add_correction(friend.pk, Decimal("30.00"), actor=admin_user, memo="part one")
    services.add_correction(outsider.pk, Decimal("-15.00"), actor=admin_user, memo="taken back")
    code, _ = refusal(services.add_correction, outsider.pk, Decimal("5.01"), actor=admin_user, memo="part two")
    assert code == "second_admin_required"  # 30 + 15 + 5.01 > 50 within 24 hours
    services.add_correction(outsider.pk, Decimal("5.00"), actor=admin_user, memo="exactly at the limit")


def test_a_proposal_reaches_the_ledger_only_when_a_second_admin_confirms(admin_user, second_admin, friend):
    proposal = services.propose_correction(friend.pk, Decimal("500.00"), actor=admin_user, memo="lost week")
    assert services.balance(friend.pk) == Decimal("0.00")
    assert refusal(services.confirm_correction, proposal, actor=admin_user) == ("same_admin", 403)
    entry = services.confirm_correction(proposal, actor=second_admin)
    assert (entry.kind, entry.amount, entry.user_id) == (EntryKind.CORRECTION, Decimal("500.00"), friend.pk)
    proposal.refresh_from_db()
    assert (proposal.state, proposal.decided_by, proposal.entry) == ("confirmed", second_admin, entry)
    assert services.balance(friend.pk) == Decimal("500.00")
    assert trail(proposal=proposal) == [("correction.proposed", "root"), ("correction.confirmed", "root2")]
    assert refusal(services.confirm_correction, proposal, actor=second_admin) == ("wrong_status", 409)


def test_nobody_confirms_a_correction_of_their_own_balance(admin_user, second_admin, django_user_model):
    proposal = services.propose_correction(second_admin.pk, Decimal("80.00"), actor=admin_user, memo="expenses")
    assert refusal(services.confirm_correction, proposal, actor=second_admin) == ("own_balance", 403)
    third = django_user_model.objects.create_user("root3", "root3@example.com", "root3-pass-123", is_staff=True)
    services.confirm_correction(proposal, actor=third)
    assert services.balance(second_admin.pk) == Decimal("80.00")


def test_an_admin_may_propose_for_themselves_and_another_admin_decides(admin_user, second_admin):
    proposal = services.propose_correction(admin_user.pk, Decimal("60.00"), actor=admin_user, memo="my expenses")
    assert refusal(services.confirm_correction, proposal, actor=admin_user)[1] == 403
    services.confirm_correction(proposal, actor=second_admin)
    assert services.balance(admin_user.pk) == Decimal("60.00")


def test_a_rejected_or_withdrawn_proposal_never_reaches_the_ledger(admin_user, second_admin, friend):
    withdrawn = services.propose_correction(friend.pk, Decimal("70.00"), actor=admin_user, memo="typo")
    services.reject_correction(withdrawn, actor=admin_user, reason="typo in the amount")  # its proposer
    rejected = services.propose_correction(friend.pk, Decimal("-90.00"), actor=admin_user, memo="fraud")
    services.reject_correction(rejected, actor=second_admin, reason="the checks passed")
    assert refusal(services.confirm_correction, rejected, actor=second_admin) == ("wrong_status", 409)
    assert not LedgerEntry.objects.exists()
    assert trail(proposal=rejected) == [("correction.proposed", "root"), ("correction.rejected", "root2")]
    assert AuditEntry.objects.get(proposal=rejected, action="correction.rejected").details["reason"] == (
        "the checks passed"
    )


def test_only_admins_propose_or_confirm(admin_user, friend, outsider):
    assert refusal(services.propose_correction, outsider.pk, Decimal("60.00"), actor=friend, memo="x") == (
        "not_an_admin",
        403,
    )
    proposal = services.propose_correction(outsider.pk, Decimal("60.00"), actor=admin_user, memo="x")
    assert refusal(services.confirm_correction, proposal, actor=friend) == ("not_an_admin", 403)


def test_the_database_refuses_a_proposal_confirmed_by_its_proposer(admin_user, friend):
    proposal = services.propose_correction(friend.pk, Decimal("60.00"), actor=admin_user, memo="x")
    entry = LedgerEntry.objects.create(user=friend, kind=EntryKind.CORRECTION, amount=Decimal("60.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrectionProposal.objects.filter(pk=proposal.pk).update(
            state="confirmed", decided_by=admin_user, decided_at=timezone.now(), entry=entry
        )


# --- Payouts --------------------------------------------------------------------------------------


@pytest.fixture
def rich_friend(friend, give):
    give(friend, "500.00")
    services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    return friend


def test_below_the_limit_one_admin_approves_a_payout(rich_friend, admin_user):
    payout = services.approve(services.request_payout(rich_friend, "100.00"), actor=admin_user)
    assert (payout.status, payout.first_approved_by, payout.decided_by) == ("approved", None, admin_user)
    assert services.balance(rich_friend.pk) == Decimal("400.00")


def test_a_large_payout_needs_two_different_admins(rich_friend, admin_user, second_admin):
    payout = services.request_payout(rich_friend, "150.00")
    first = services.approve(payout, actor=admin_user)
    assert (first.status, first.first_approved_by) == (PayoutStatus.REQUESTED, admin_user)
    assert services.balance(rich_friend.pk) == Decimal("500.00")  # nothing debited yet
    assert refusal(services.approve, payout, actor=admin_user) == ("same_approver", 403)
    done = services.approve(payout, actor=second_admin)
    assert (done.status, done.first_approved_by, done.decided_by) == ("approved", admin_user, second_admin)
    assert services.balance(rich_friend.pk) == Decimal("350.00")
    assert LedgerEntry.objects.filter(payout=payout, kind=EntryKind.PAYOUT).count() == 1
    assert trail(payout=payout) == [
        ("payout.requested", "friend"),
        ("payout.first_approval", "root"),
        ("payout.approved", "root2"),
    ]


def test_splitting_a_payout_does_not_get_around_the_limit(rich_friend, admin_user, second_admin):
    services.approve(services.request_payout(rich_friend, "60.00"), actor=admin_user)
    second = services.approve(services.request_payout(rich_friend, "40.01"), actor=admin_user)
    assert second.status == PayoutStatus.REQUESTED  # 60 + 40.01 > 100 for one friend in 24 hours
    assert services.approve(second, actor=second_admin).status == PayoutStatus.APPROVED
    # Approvals with a second pair of eyes do not count against either admin's own allowance.
    third = services.approve(services.request_payout(rich_friend, "40.00"), actor=admin_user)
    assert third.status == PayoutStatus.APPROVED


def test_a_first_approval_can_still_be_rejected_and_debits_nothing(rich_friend, admin_user, second_admin):
    payout = services.request_payout(rich_friend, "200.00")
    services.approve(payout, actor=admin_user)
    services.reject(payout, actor=second_admin, reason="address bounced")
    assert PayoutRequest.objects.get(pk=payout.pk).status == PayoutStatus.REJECTED
    assert not LedgerEntry.objects.filter(payout=payout).exists()


def test_nobody_approves_their_own_payout_not_even_as_second_admin(admin_user, second_admin, give):
    give(admin_user, "300.00")  # root proposes for themselves, root2 confirms
    services.set_payout_method(admin_user, kind="paypal", address="root@example.com")
    small = services.request_payout(admin_user, "20.00")
    assert refusal(services.approve, small, actor=admin_user) == ("own_payout", 403)
    large = services.request_payout(admin_user, "200.00")
    services.approve(large, actor=second_admin)  # the first approval
    assert refusal(services.approve, large, actor=admin_user) == ("own_payout", 403)
    assert services.balance(admin_user.pk) == Decimal("300.00")


def test_the_database_refuses_one_admin_as_both_approvers(rich_friend, admin_user):
    payout = services.request_payout(rich_friend, "150.00")
    services.approve(payout, actor=admin_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutRequest.objects.filter(pk=payout.pk).update(decided_by=admin_user, status=PayoutStatus.APPROVED)
