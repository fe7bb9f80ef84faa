"""In a real Chromium: log in, watch a heartbeat turn a node online live, request a payout and see
the admin's approval arrive, and open the watch page to see it play from a verified friend node."""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal

import httpx
import pytest

from nodes.models import Node
from nodes.tests.fixtures import beat_body
from rewards import services as reward_services
from rewards.models import PayoutRequest
from streams.models import Stream, StreamSession
from testkit.browser import log_in
from testkit.fixtures import eventually
from testkit.hls import HlsWatcher, fetch
from testkit.media import publish_test_source, stop_process
from validation import services as validation_services
from validation.models import AttestedMinute, DeliveredSegment

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
FRIEND_PASSWORD = "friend-pass-123"


def test_a_heartbeat_turns_the_node_online_on_an_open_dashboard_within_a_second(
    asgi_site, browser, screenshot, friend, register
):
    node, api_key = register("den", user=friend)
    page = browser.new_page()
    log_in(page, asgi_site.url, "friend", FRIEND_PASSWORD)
    status = page.locator(f'[data-node="{node.pk}"] [data-field="status"]')
    assert status.text_content() == "offline"
    page.wait_for_selector('[data-live-state][data-state="open"]', timeout=10_000)
    screenshot(page, "before")

    sent = time.monotonic()
    answer = httpx.post(
        asgi_site.url + "/api/v1/nodes/heartbeat",
        json=beat_body(1, "browser-test", viewers=2),
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    page.wait_for_selector(f'[data-node="{node.pk}"] [data-field="status"].online', timeout=1_000)
    elapsed = time.monotonic() - sent
    print(f"heartbeat to dashboard: {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0
    screenshot(page, "online")


def test_a_friend_requests_a_payout_and_sees_the_admins_approval_arrive(
    asgi_site, browser, screenshot, friend, admin_user, outsider
):
    reward_services.add_correction(friend.pk, Decimal("20.00"), actor=admin_user, memo="relayed")
    reward_services.set_payout_method(friend, kind="paypal", address="friend@example.com")
    page = browser.new_context().new_page()
    log_in(page, asgi_site.url, "friend", FRIEND_PASSWORD)
    page.goto(asgi_site.url + "/me/payouts")
    page.wait_for_selector('[data-live-state][data-state="open"]', timeout=10_000)
    page.fill("#id_amount", "7.50")
    page.click("text=Request payout")
    page.wait_for_selector("text=Payout of 7.50 USD requested.")
    payout = PayoutRequest.objects.get()
    row = page.locator(f'[data-payout="{payout.pk}"] [data-field="status"]')
    assert row.text_content() == "requested"
    page.wait_for_selector('[data-live-state][data-state="open"]', timeout=10_000)
    screenshot(page, "requested")

    admin = browser.new_context().new_page()
    admin.goto(asgi_site.url + "/admin/login/?next=/admin/rewards/payoutrequest/")
    admin.fill("#id_username", "root")
    admin.fill("#id_password", "root-pass-123")
    admin.click("input[type=submit]")
    admin.check(f'input[name="_selected_action"][value="{payout.pk}"]')
    admin.select_option("select[name=action]", "approve")
    admin.click("button[name=index]")
    admin.wait_for_selector("text=1 payout(s) approved.")

    page.wait_for_selector(f'[data-payout="{payout.pk}"] [data-field="status"]:text("approved")', timeout=2_000)
    assert page.locator('[data-field="balance"]').first.text_content() == "12.50"  # pushed, no reload
    screenshot(page, "approved")


def test_the_watch_page_plays_the_stream_from_a_verified_friend_node(
    site, origin, enroll, browser, screenshot, make_stream
):
    _, key = make_stream("alice", title="Alice live")
    publisher = publish_test_source(origin.rtmp_url("alice", key), seconds=120)
    try:
        eventually(lambda: StreamSession.objects.filter(ended_at__isnull=True).exists(), 15, "alice is live")
        agent = enroll("den").start()
        watcher = HlsWatcher(agent.playlist_url("alice"))
        eventually(lambda: watcher.poll() >= 0 and watcher.segments > 1, 40, "the agent relays alice")
        eventually(
            lambda: Node.objects.filter(name="den", relay_running=True, relaying_slug="alice").exists(),
            15,
            "the agent's heartbeat says it relays",
        )
        stream = Stream.objects.get(slug="alice")
        eventually(lambda: HlsWatcher(origin.hls_url("alice")).poll() >= 3, 20, "the origin has an HLS window")
        validation_services.sample_origin(stream)
        node = Node.objects.select_related("assigned_stream").get(name="den")
        assert validation_services.spot_check(node, trigger="test").outcome == "pass"

        page = browser.new_page()
        page.goto(site + "/watch/alice")
        page.wait_for_selector('#source[data-source="node"]', timeout=15_000)
        assert "Playing from friend node den" in (page.text_content("#source") or "")
        page.wait_for_function("document.getElementById('player').currentTime > 1", timeout=30_000)
        screenshot(page, "playing")
        assert page.get_attribute("#source", "data-node") == str(node.pk)

        # The page reports what it loaded from the node, with its ticket: that moves the node's
        # attested bytes, the delivery that pays. Each report's hashes are the node's real bytes.
        eventually(lambda: attested_bytes(node) > 0, 30, "the watch page's report reached the site")
        delivered = DeliveredSegment.objects.filter(node=node).order_by("-reported_at", "-pk").first()
        assert delivered is not None and delivered.url.startswith(node.hls_url("alice").rsplit("/", 1)[0] + "/")
        served = fetch(delivered.url)
        assert (len(served), hashlib.sha256(served).hexdigest()) == (delivered.size, delivered.sha256)
        # The same reports make this viewer one of the people the site shows as watching.
        shown = {s["slug"]: s["viewers"] for s in httpx.get(site + "/api/v1/streams", timeout=10).json()}
        assert shown["alice"] == 1
        assert '<td class="num" data-label="Viewers">1</td>' in httpx.get(site + "/", timeout=10).text
    finally:
        stop_process(publisher)


def attested_bytes(node: Node) -> int:
    return sum(AttestedMinute.objects.filter(node=node).values_list("bytes", flat=True))
