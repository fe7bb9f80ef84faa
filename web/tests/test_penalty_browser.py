"""In a real Chromium: a friend's open "My nodes" shows the warning after a failed check, then the
suspension with its evidence and the appeal form, live; the appeal is sent from the page and its
decision arrives live. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F

from core import live_outbox
from nodes.models import Node
from streams.tests.hook_clients import srs_payload
from testkit.browser import AsgiSite, log_in, require_browser
from testkit.media import free_port
from validation import services
from validation.models import Appeal, AppealOutcome, SpotCheck
from validation.services import appeals

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_and_worker(transactional_db, tmp_path, monkeypatch):
    """The web tier in its own process; this test process plays the worker whose checks and
    appeal decisions push to the open page (without Redis, through the outbox `make run` uses)."""
    require_browser()
    monkeypatch.setenv(live_outbox.ROLE_ENV, "write")
    with AsgiSite(tmp_path / "asgi", **{live_outbox.ROLE_ENV: "drain"}) as site:
        yield site
        print(f"--- web ---\n{site.log()[-3000:]}")


def unanswered(node: Node) -> None:
    services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk))
    SpotCheck.objects.update(checked_at=F("checked_at") - timedelta(minutes=2))  # confirmable a minute on


def test_warning_suspension_and_appeal_reach_the_open_page_live(
    site_and_worker, browser, screenshot, friend, register, node_client, stream_and_key, post_srs, settings
):
    settings.NODE_ALLOW_PRIVATE_URLS = True  # the checks run in this process
    settings.APPEAL_RELAY_WAIT_SECONDS = 0
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node, key = register("ghost", public_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    agent = node_client(key)
    assert agent.beat().json()["assignment"]["stream"] == "alice"
    page = browser.new_page()
    log_in(page, site_and_worker.url, "friend", "friend-pass-123")
    page.wait_for_selector('[data-live-state][data-state="open"]', timeout=10_000)
    box = f'[data-penalty-node="{node.pk}"]'

    unanswered(node)  # unconfirmed: nothing to show
    unanswered(node)  # confirmed: warned
    page.wait_for_selector(f"{box}.penalty-warning", timeout=3_000)
    assert "2 more failures in a row suspend it" in " ".join(page.locator(box).inner_text().split())
    screenshot(page, "warning")

    unanswered(node)
    unanswered(node)  # the third in a row: suspended
    page.wait_for_selector(f"{box}.penalty-suspended form.appeal-form", timeout=3_000)
    screenshot(page, "suspended")

    agent.beat()  # still online: it gets its stream back on probation
    page.fill(f"{box} textarea[name=message]", "I restarted the relay")
    page.click(f"{box} form.appeal-form button[type=submit]")
    page.wait_for_selector(f'{box} [data-appeal-outcome="pending"]', timeout=5_000)
    screenshot(page, "appeal-sent")

    appeal = Appeal.objects.get(node=node)
    assert appeal.message == "I restarted the relay"
    decided = appeals.decide(appeal.pk)  # what the worker runs: nothing listens yet, so it fails
    assert decided is not None and decided.outcome == AppealOutcome.UPHELD
    page.wait_for_selector(f'{box} [data-appeal-outcome="upheld"]', timeout=3_000)
    assert "Re-check evidence" in page.locator(box).inner_text()
    screenshot(page, "appeal-upheld")
