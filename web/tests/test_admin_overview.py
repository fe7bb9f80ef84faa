"""The admins' overview (/admin/overview/): staff only, linked from the admin's index, and showing
what is seeded: live streams, nodes by status, failing checks, suspensions, appeals, payouts
waiting and the last settlement run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from nodes.models import Approval, Node
from rewards import services as reward_services
from streams.models import Stream
from validation.models import Appeal, SpotCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_site(earned, register, friend, paypal_friend, admin_user):
    """alice live; den (online, 6.00 credited), plus a stale, an offline and a suspended node; one
    confirmed failed check and one unconfirmed in the last hour; an open appeal; two payouts waiting."""
    now = timezone.now()
    alice = Stream.objects.get(slug="alice")
    Node.objects.filter(pk=earned.pk).update(
        stale_after=now + timedelta(seconds=30), offline_after=now + timedelta(minutes=2), assigned_stream=alice
    )
    stale, _ = register("stale-one", user=friend)
    Node.objects.filter(pk=stale.pk).update(
        stale_after=now - timedelta(seconds=5), offline_after=now + timedelta(minutes=1)
    )
    register("offline-one", user=friend)
    banned, _ = register("banned-one", user=friend)
    Node.objects.filter(pk=banned.pk).update(approval=Approval.SUSPENDED)
    SpotCheck.objects.create(node=banned, checked_at=now - timedelta(minutes=10), outcome="mismatch", latency_ms=1234)
    SpotCheck.objects.create(
        node=stale, checked_at=now - timedelta(minutes=5), outcome="timeout", latency_ms=9000, provisional=True
    )
    SpotCheck.objects.create(node=earned, checked_at=now - timedelta(minutes=3), outcome="pass", latency_ms=80)
    SpotCheck.objects.create(node=banned, checked_at=now - timedelta(hours=2), outcome="mismatch", latency_ms=10)
    Appeal.objects.create(node=banned, opened_by=friend, opened_at=now, message="my router rebooted")
    reward_services.request_payout(paypal_friend, "10.00")
    reward_services.request_payout(paypal_friend, "5.50")
    return {"banned": banned}


def test_staff_see_the_seeded_counts(client, admin_user, busy_site):
    client.force_login(admin_user)
    page = client.get("/admin/overview/").content.decode()
    live = page.split('data-card="live"')[1].split('class="big">')[1]
    assert live.startswith("1<")
    assert 'data-count="online">1<' in page and 'data-count="stale">1<' in page
    assert 'data-count="offline">2<' in page  # offline-one and banned-one never heartbeated
    assert 'data-count="failing">1<' in page  # the unconfirmed timeout and the old failure do not count
    assert 'data-count="suspended">1<' in page and 'data-count="appeals">1<' in page
    assert 'data-count="payouts">2<' in page and "15.50 USD" in page
    assert "6.00 of 6.00 credited" in page
    failing = page.split('data-section="failing"')[1].split("</table>")[0]
    assert "banned-one" in failing and "1.23 s" in failing and "/admin/validation/spotcheck/" in failing
    assert f"/me/nodes/{busy_site['banned'].pk}" in failing
    assert "my router rebooted" in page
    live_table = page.split('data-section="live"')[1].split("</table>")[0]
    assert "alice" in live_table and "<td>1</td>" in live_table  # den relays it


def test_an_empty_site_has_a_calm_overview(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/admin/overview/").content.decode()
    assert "Nobody is live." in page and "No failed checks in the last hour." in page
    assert 'data-count="payouts">0<' in page and "never" in page


@pytest.mark.parametrize("who", ["anonymous", "friend"])
def test_the_overview_is_for_staff_only(client, friend, who):
    if who == "friend":
        client.force_login(friend)
    response = client.get("/admin/overview/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_admin_index_links_the_overview(client, admin_user):
    client.force_login(admin_user)
    assert 'href="/admin/overview/"' in client.get("/admin/").content.decode()


def test_the_overview_costs_a_fixed_number_of_queries(client, admin_user, busy_site, django_assert_max_num_queries):
    client.force_login(admin_user)
    with django_assert_max_num_queries(16):
        assert client.get("/admin/overview/").status_code == 200
