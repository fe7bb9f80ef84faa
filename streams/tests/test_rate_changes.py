"""A stream's reward rate is money: every change names who made it, from what to what, in the money
audit log (written by rewards, which hears streams' signal inside the change's transaction)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from rewards.models import AuditEntry
from streams import services
from streams.models import Stream

pytestmark = pytest.mark.django_db


def rate_changes() -> list[tuple[str | None, dict[str, object]]]:
    entries = AuditEntry.objects.filter(action="stream.rate_changed").order_by("pk")
    return [(e.actor.username if e.actor else None, e.details) for e in entries.select_related("actor")]


def test_changing_the_rate_in_the_admin_is_audited_with_actor_and_old_and_new(client, admin_user, stream_and_key):
    stream, _ = stream_and_key
    client.force_login(admin_user)
    form = {"owner": stream.owner_id, "title": "Alice renamed", "slug": "alice", "is_active": "on"}
    client.post(f"/admin/streams/stream/{stream.pk}/change/", {**form, "reward_rate_per_hour": "9.50"})
    stream.refresh_from_db()
    assert (stream.reward_rate_per_hour, stream.title) == (Decimal("9.50"), "Alice renamed")
    assert rate_changes() == [("root", {"stream": stream.pk, "slug": "alice", "old": "1.00", "new": "9.50"})]
    # Saving the page again without touching the rate logs nothing new.
    client.post(f"/admin/streams/stream/{stream.pk}/change/", {**form, "reward_rate_per_hour": "9.50"})
    assert len(rate_changes()) == 1


def test_the_service_audits_a_change_and_ignores_a_non_change(stream_and_key, admin_user):
    stream, _ = stream_and_key
    services.set_reward_rate(stream, "2.25", actor=admin_user)
    services.set_reward_rate(stream, Decimal("2.25"), actor=admin_user)
    services.set_reward_rate(stream, "0", actor=None)  # the coordinator itself
    assert rate_changes() == [
        ("root", {"stream": stream.pk, "slug": "alice", "old": "1.00", "new": "2.25"}),
        (None, {"stream": stream.pk, "slug": "alice", "old": "2.25", "new": "0.00"}),
    ]


@pytest.mark.parametrize("rate", ["-1", "abc", "1.001", "NaN", "1e12", 1.5, True])
def test_a_rate_that_is_not_whole_cents_from_zero_is_refused(stream_and_key, admin_user, rate):
    stream, _ = stream_and_key
    with pytest.raises(services.StreamError) as refused:
        services.set_reward_rate(stream, rate, actor=admin_user)
    assert refused.value.code == "invalid_rate"
    assert Stream.objects.get(pk=stream.pk).reward_rate_per_hour == Decimal("1.00") and not rate_changes()


def test_a_rate_change_and_its_audit_entry_commit_or_roll_back_together(stream_and_key, admin_user):
    stream, _ = stream_and_key
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_reward_rate(stream, "7.00", actor=admin_user)
        assert len(rate_changes()) == 1  # written inside the change's transaction
        raise RuntimeError("the admin's request failed after the change")
    assert Stream.objects.get(pk=stream.pk).reward_rate_per_hour == Decimal("1.00") and not rate_changes()
