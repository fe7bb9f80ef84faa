"""An admin approves, rejects, marks paid and exports a batch without leaving the Django admin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rewards import services
from rewards.models import AuditEntry, LedgerEntry, PayoutBatch, PayoutRequest, PayoutStatus

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/rewards/payoutrequest/"


def act(client, action, payouts, url=CHANGELIST, **extra):
    return client.post(url, {"action": action, "_selected_action": [p.pk for p in payouts], **extra}, follow=True)


@pytest.fixture
def requests_of(paypal_friend):
    return lambda *amounts: [services.request_payout(paypal_friend, a) for a in amounts]


def test_the_changelist_shows_requests_with_filters(client, admin_user, requests_of):
    requests_of("10.00")
    client.force_login(admin_user)
    page = client.get(CHANGELIST + "?status__exact=requested").content.decode()
    assert "friend@example.com" in page and "10.00" in page and "Approve (debit the ledger)" in page


def test_approve_action_debits_and_reports_refusals(client, admin_user, requests_of, give, paypal_friend):
    first, second = requests_of("60.00", "40.00")
    give(paypal_friend, "-30.00")  # only 70.00 left: the second approval must be refused
    client.force_login(admin_user)
    page = act(client, "approve", [first, second]).content.decode()
    assert "1 payout(s) approved." in page and "balance is 10.00" in page
    assert PayoutRequest.objects.get(pk=first.pk).status == PayoutStatus.APPROVED
    assert PayoutRequest.objects.get(pk=second.pk).status == PayoutStatus.REQUESTED


def test_reject_action_asks_for_a_reason_then_rejects(client, admin_user, requests_of):
    (payout,) = requests_of("10.00")
    client.force_login(admin_user)
    form = act(client, "reject", [payout]).content.decode()
    assert 'name="text"' in form and "Reason" in form
    done = act(client, "reject", [payout], apply="1", text="wrong address").content.decode()
    assert "1 payout(s) rejected." in done
    payout.refresh_from_db()
    assert (payout.status, payout.reason, payout.decided_by) == (PayoutStatus.REJECTED, "wrong address", admin_user)


def test_mark_paid_action_requires_a_reference(client, admin_user, requests_of):
    (payout,) = requests_of("10.00")
    services.approve(payout, actor=admin_user)
    client.force_login(admin_user)
    assert "is required" in act(client, "mark_paid", [payout], apply="1", text=" ").content.decode()
    assert "1 payout(s) marked paid." in act(client, "mark_paid", [payout], apply="1", text="TX-9").content.decode()
    payout.refresh_from_db()
    assert (payout.status, payout.external_reference) == (PayoutStatus.PAID, "TX-9")


def test_export_action_downloads_a_paypal_batch_of_the_approved_selection(
    client, admin_user, requests_of, friend, outsider, give
):
    approved, waiting = requests_of("12.50", "20.00")
    services.approve(approved, actor=admin_user)
    give(outsider, "50.00")
    services.set_payout_method(outsider, kind="venmo", address="@outsider-1")
    venmo = services.request_payout(outsider, "50.00")
    services.approve(venmo, actor=admin_user)
    client.force_login(admin_user)
    response = act(client, "export_batch", [approved, waiting, venmo])
    assert response["Content-Type"].startswith("text/csv")
    batch = PayoutBatch.objects.get()
    assert f'filename="paypal-payouts-batch-{batch.pk}.csv"' in response["Content-Disposition"]
    assert response.content.decode().splitlines() == [
        f'friend@example.com,12.50,USD,payout-{approved.pk},"StreamrP2P relay earnings, payout {approved.pk}",PAYPAL',
        f'outsider-1,50.00,USD,payout-{venmo.pk},"StreamrP2P relay earnings, payout {venmo.pk}",VENMO,PRIVATE',
    ]
    assert (batch.items, batch.total, batch.created_by) == (2, Decimal("62.50"), admin_user)
    assert batch.downloaded_at is not None
    again = act(client, "export_batch", [approved]).content.decode()
    assert "None of the selected payouts" in again  # already batched


def test_a_batch_downloads_again_and_is_marked_paid_in_one_step(client, admin_user, requests_of):
    payouts = requests_of("10.00", "15.00")
    for payout in payouts:
        services.approve(payout, actor=admin_user)
    batch = services.assemble_batch()
    assert batch is not None and batch.created_by is None  # the scheduled job's batch
    client.force_login(admin_user)
    url = "/admin/rewards/payoutbatch/"
    assert "payout-" in act(client, "download", [batch], url=url).content.decode()
    again = act(client, "download", [batch], url=url).content.decode()
    assert "was already downloaded" in again  # a second file could be uploaded twice: confirm first
    assert "payout-" in act(client, "download", [batch], url=url, apply="1").content.decode()
    paid = act(client, "mark_paid", [batch], url=url, apply="1", text="BATCH-7").content.decode()
    assert "2 payout(s) marked paid." in paid
    assert set(PayoutRequest.objects.values_list("status", "external_reference")) == {(PayoutStatus.PAID, "BATCH-7")}
    page = client.get(f"{url}{batch.pk}/change/").content.decode()
    assert "batch.downloaded" in page and "friend@example.com" in page


def test_an_admin_adds_a_correction_as_a_new_ledger_entry(client, admin_user, friend):
    client.force_login(admin_user)
    page = client.post("/admin/rewards/ledgerentry/add/", {"user": friend.pk, "amount": "-0.00", "memo": "x"})
    assert "non-zero" in page.content.decode()
    client.post("/admin/rewards/ledgerentry/add/", {"user": friend.pk, "amount": "7.25", "memo": "missed hour"})
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.memo) == ("correction", Decimal("7.25"), "missed hour")
    assert AuditEntry.objects.get(action="ledger.corrected").actor == admin_user


@pytest.mark.parametrize("who", ["viewer_staff", "friend"])
def test_only_admins_who_may_change_payouts_can_decide_them(client, who, request, requests_of):
    (payout,) = requests_of("10.00")
    client.force_login(request.getfixturevalue(who))
    act(client, "approve", [payout])
    assert PayoutRequest.objects.get(pk=payout.pk).status == PayoutStatus.REQUESTED
    page = client.get(CHANGELIST)
    if who == "friend":
        assert page.status_code == 302  # not staff: sent to the admin login
    else:
        assert page.status_code == 200 and "Approve (debit the ledger)" not in page.content.decode()


def test_payouts_cannot_be_edited_or_deleted_in_the_admin(client, admin_user, requests_of):
    (payout,) = requests_of("10.00")
    client.force_login(admin_user)
    client.post(f"{CHANGELIST}{payout.pk}/change/", {"status": "paid", "amount": "1000"})
    assert client.post(f"{CHANGELIST}{payout.pk}/delete/", {"post": "yes"}).status_code == 403
    payout.refresh_from_db()
    assert (payout.status, payout.amount) == (PayoutStatus.REQUESTED, Decimal("10.00"))


def test_the_changelist_shows_what_the_approver_weighs(client, admin_user, requests_of, paypal_friend, register):
    from django.utils import timezone

    from validation.models import FlagKind, FraudFlag, NodeTrust

    requests_of("10.00")
    node, _ = register("den", user=paypal_friend)
    NodeTrust.objects.create(node=node, score=0.25, checks=4)
    FraudFlag.objects.create(node=node, kind=FlagKind.SYBIL, detected_at=timezone.now(), evidence={})
    LedgerEntry.objects.create(user=paypal_friend, kind="credit", amount=Decimal("3.33"), node=node)  # not vested
    client.force_login(admin_user)
    page = client.get(CHANGELIST).content.decode()
    for column in ("trust", "open_flags", "unvested"):
        assert f'class="sortable column-{column}' in page or f'class="column-{column}' in page
    row = page[page.index("friend@example.com") :]
    assert 'class="field-trust">0.25<' in row and 'class="field-open_flags">1<' in row
    assert 'class="field-unvested">3.33<' in row
