"""My nodes shows, per node, whether it earns right now and why not, whether viewers can reach
it (with advice and a "check again" button), and the open hour's estimate; only my own nodes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from validation.models import ReachabilityProbe, ReachabilityVerdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def relaying(live_this_hour, register, node_client, friend):
    """'den' of the friend relays the live stream 'live' (rate 12.00/hour), healthy, this minute."""
    live_this_hour("live")
    node, api_key = register("den", user=friend)
    agent = node_client(api_key)
    for _ in range(2):  # the first beat gets the assignment; the second is counted for it
        agent.beat(stream="live", relay={"ffmpeg_running": True, "newest_segment_age": 1.0})
    return node


def test_shows_each_node_earning_now_with_the_estimate_reachability_advice_and_its_page(
    client, friend, register, relaying
):
    quiet, _ = register("quiet", user=friend, public_url="http://quiet.example:8091")
    ReachabilityProbe.objects.create(
        node=quiet, checked_at=timezone.now(), url="http://quiet.example:8091/healthz", ok=False,
        verdict=ReachabilityVerdict.REFUSED, detail="Nothing accepted the connection at quiet.example:8091. "
        "If the agent is running, forward TCP port 8091 on your router to this machine.",
    )  # fmt: skip
    client.force_login(friend)
    page = client.get("/me").content.decode()
    assert f'href="/me/nodes/{relaying.pk}">den</a>' in page and f'href="/me/nodes/{quiet.pk}">quiet</a>' in page
    assert 'data-field="earning" class="pass">yes<' in page and "Earning: relaying live" in page
    assert "No stream assigned to this node yet." in page  # quiet never sent a heartbeat
    assert "forward TCP port 8091 on your router" in page and 'data-field="reach" class="fail">no<' in page
    assert f'action="/me/nodes/{quiet.pk}/probe"' in page and "Check again" in page
    assert f'data-penalty-node="{quiet.pk}"' in page  # PENALTY's box, once per node
    assert '<table class="cards-on-phone my-nodes">' in page and 'data-label="Earning now"' in page
    estimate = Decimal(page.split('data-field="open-hour-estimate">')[1].split("<")[0])
    assert estimate > 0  # "earned today" is no longer alone at 0.00 while relaying
    assert f'<span data-field="estimate">{estimate}</span>' in page


def test_answers_the_moving_parts_as_json_for_the_pages_live_refresh(client, friend, relaying):
    client.force_login(friend)
    state = client.get("/me", HTTP_ACCEPT="application/json").json()
    mine = state["nodes"][str(relaying.pk)]
    assert mine["earning"]["ok"] is True and mine["earning"]["reason"] == "earning"
    assert mine["reachability"]["verdict"] == "unknown" and Decimal(mine["estimate"]) > 0
    assert state["open_hour"]["estimate"] == mine["estimate"] == state["open_hour"]["nodes"][str(relaying.pk)]


def test_shows_only_my_own_nodes(client, friend, outsider, register, relaying):
    theirs, _ = register("theirs", user=outsider)
    client.force_login(outsider)
    page = client.get("/me").content.decode()
    assert ">theirs</a>" in page and ">den</a>" not in page and f'data-node="{relaying.pk}"' not in page
    state = client.get("/me", HTTP_ACCEPT="application/json").json()
    assert set(state["nodes"]) == {str(theirs.pk)} and set(state["open_hour"]["nodes"]) == {str(theirs.pk)}
    assert state["open_hour"]["estimate"] == "0.00"  # the friend's earnings are not the outsider's


def test_sends_the_signed_out_to_log_in(client):
    response = client.get("/me", HTTP_ACCEPT="application/json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
