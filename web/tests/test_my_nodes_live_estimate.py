"""In a real Chromium: an open "My nodes" page turns a node's "earning now" to yes and its open-hour
estimate above zero as its heartbeats arrive, without a reload; on a phone the table is cards."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from nodes.tests.fixtures import beat_body
from rewards import services
from rewards.tests.helpers import origin_alive
from streams import services as stream_services
from streams.models import Origin
from testkit.browser import log_in

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
FRIEND_PASSWORD = "friend-pass-123"


def test_the_open_page_shows_the_node_earning_and_the_estimate_moving_as_heartbeats_arrive(
    asgi_site, browser, screenshot, friend, register, make_stream
):
    stream, key = make_stream("live", reward_rate_per_hour=Decimal("60.00"))
    stream_services.admit_publish(
        stream_services.PublishRequest(origin=Origin.SRS, app="live", slug="live", key=key, client_id="c")
    )
    start = services.hour_start(timezone.now())
    origin_alive(stream, start, range(60))  # the origin vouches for every minute of this hour
    node, api_key = register("den", user=friend)
    page = browser.new_page()
    log_in(page, asgi_site.url, "friend", FRIEND_PASSWORD)
    page.wait_for_selector('[data-live-state][data-state="open"]', timeout=10_000)
    row = f'tr[data-node="{node.pk}"]'
    assert page.locator(f'{row} [data-field="earning"]').text_content() == "no"
    assert "No stream assigned" in (page.locator(f'{row} [data-field="earning-why"]').text_content() or "")
    screenshot(page, "not-earning")

    for seq in (1, 2, 3):  # the first beat gets the assignment; the next ones are counted for it
        relay = {"ffmpeg_running": True, "newest_segment_age": 1.0}
        answer = httpx.post(
            asgi_site.url + "/api/v1/nodes/heartbeat",
            json=beat_body(seq, "live-estimate", stream="live", relay=relay),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    # Heartbeat events re-fetch the page's state (throttled; the split is cached a few seconds).
    page.wait_for_selector(f'{row} [data-field="earning"].pass', timeout=30_000)
    assert "Earning: relaying live" in (page.locator(f'{row} [data-field="earning-why"]').text_content() or "")
    estimate = Decimal(page.locator('[data-field="open-hour-estimate"]').text_content() or "0")
    assert estimate > 0 and page.locator(f'{row} [data-field="estimate"]').text_content() == str(estimate)
    screenshot(page, "earning")

    page.set_viewport_size({"width": 390, "height": 844})
    cell = page.locator(f'{row} td[data-label="Earning now"]')
    box = cell.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # a card, not a clipped table
    screenshot(page, "phone")
