"""On a phone (390x844, Chromium), no page scrolls sideways: tables become one card per row
(``table.cards-on-phone``, web/static/css/site.css) instead of clipping their right half."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from rewards import services as reward_services
from validation.models import SpotCheck

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
FRIEND_PAGES = [
    "/",
    "/me",
    "/me/earnings?by=hour",
    "/me/earnings?by=day",
    "/me/payouts",
    "/leaderboard?window=7d",
    "/nodes/add",
    "/me/notifications",
]
STREAMER_PAGES = ["/me/streams", "/watch/alice"]


def too_wide(page) -> dict[str, int] | None:  # type: ignore[no-untyped-def]
    sizes = page.evaluate("({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth})")
    return sizes if sizes["scroll"] > sizes["inner"] else None


def visit_all(browser, screenshot, base_url: str, username: str, password: str, paths: list[str]) -> dict:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    wide = {}
    for path in paths:
        response = page.goto(base_url + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state()
        if sizes := too_wide(page):
            wide[path] = sizes
        screenshot(page, path.strip("/").replace("/", "-").replace("?", "-") or "home")
    context.close()
    return wide


def test_no_page_scrolls_sideways_on_a_phone(asgi_site, browser, screenshot, friend, owner, earned, hour):
    # Every table with rows: a settled, vested hour, a payout request, a leaderboard, supporters.
    SpotCheck.objects.create(node=earned, checked_at=hour + timedelta(hours=1, minutes=5), outcome="pass", latency_ms=5)
    reward_services.vest_due()
    reward_services.set_payout_method(friend, kind="paypal", address="a-rather-long-address-for-a-phone@example.com")
    reward_services.request_payout(friend, Decimal("5.00"))

    wide = visit_all(
        browser, screenshot, asgi_site.url, "friend", "friend-pass-123", [*FRIEND_PAGES, f"/me/nodes/{earned.pk}"]
    )
    wide |= visit_all(browser, screenshot, asgi_site.url, "owner", "owner-pass-123", STREAMER_PAGES)
    assert wide == {}, f"pages wider than the phone: {wide}"


def test_a_table_row_becomes_a_labelled_card_on_a_phone_and_stays_a_row_on_a_desktop(
    asgi_site, browser, friend, earned, hour
):
    for viewport, display in ((PHONE, "block"), ({"width": 1280, "height": 800}, "table-cell")):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(asgi_site.url + "/accounts/login/")
        page.fill("#id_username", "friend")
        page.fill("#id_password", "friend-pass-123")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(asgi_site.url + "/leaderboard?window=7d")
        cell = page.locator('table.cards-on-phone td[data-label="Friend"]').first
        assert cell.evaluate("td => getComputedStyle(td).display") == display
        label = cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == ('"Friend"' if display == "block" else "none")
        context.close()
