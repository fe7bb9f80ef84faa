"""Appeals: the owner of a node suspended by failed checks appeals from /me; a real re-check runs
at once and decides (pass: reinstated, fail: upheld), its evidence shown to the owner and admins.

The checks here are real (validation.checks fetching and fingerprinting H.264 over HTTP): the
"origin" and the "node" are two small HTTP servers serving HLS that ffmpeg recorded once for the
module, the node either the origin's own segments (an honest relay) or another picture (mismatch).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import mail
from django.db.models import F
from django.utils import timezone

from core import live
from nodes import services as node_services
from nodes.models import Approval, Node
from streams.models import StreamSession
from streams.tests.hook_clients import srs_payload
from testkit.adversaries import StaticHls
from testkit.media import require
from validation import services
from validation.models import Appeal, AppealOutcome, NodeTrust, Outcome, SpotCheck
from validation.services import appeals

pytestmark = pytest.mark.django_db


def record(directory: Path, pattern: str) -> Path:
    """Four one-second H.264 HLS segments of an ffmpeg test pattern."""
    require(None if shutil.which("ffmpeg") else "ffmpeg is not installed (apt-get install ffmpeg)")
    directory.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
         f"{pattern}=size=320x180:rate=30", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", str(directory / "index.m3u8")],
        check=True,
    )  # fmt: skip
    shutil.copy(directory / "index.m3u8", directory / "alice.m3u8")  # the origin's name for it
    return directory


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("hls")
    return {"live": record(base / "live", "testsrc2"), "other": record(base / "other", "testsrc")}


@pytest.fixture
def origin(recordings, settings):
    server = StaticHls(recordings["live"]).start()
    settings.ORIGIN_HLS_INTERNAL_URL = f"{server.base_url}/live/{{stream}}.m3u8"
    yield server
    server.stop()


@pytest.fixture
def relay(recordings, tmp_path):
    """The node's HTTP server; serves the other picture until told to serve the live one."""
    server = StaticHls(tmp_path).start()

    def serve(which: str, node_id: int) -> None:
        for segment in recordings[which].iterdir():
            shutil.copy(segment, tmp_path / segment.name)
        (tmp_path / "healthz").write_text(json.dumps({"node_id": node_id}))  # who answers at this URL

    server.serve = serve  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def suspended(origin, relay, register, node_client, stream_and_key, post_srs, settings, mail_now):
    """Node 'den' of the friend, relaying the wrong picture: a real mismatch suspended it (one
    failure suspends here; test_graded_penalties.py counts to three). Returns (node, its
    heartbeat client)."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    settings.SPOT_CHECK_FAILURES_TO_SUSPEND = 1
    settings.APPEAL_RELAY_WAIT_SECONDS = 1  # its heartbeats come before the appeal here: checked after the wait
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node, key = register("den", public_url=relay.base_url)
    relay.serve("other", node.pk)
    agent = node_client(key)
    assert agent.beat().json()["assignment"]["stream"] == "alice"
    with mail_now():
        check = services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk))
        assert check.outcome == Outcome.MISMATCH
    assert Node.objects.get(pk=node.pk).approval == Approval.SUSPENDED
    mail.outbox.clear()
    return node, agent


def relaying_beat(agent) -> None:
    """What the agent says once its relay runs again (on probation it gets its stream back)."""
    agent.beat(stream="alice", relay={"ffmpeg_running": True, "newest_segment_age": 1.0})


def appeal(client, user, node, message: str = "") -> object:
    client.force_login(user)
    return client.post(f"/me/nodes/{node.pk}/appeal", {"message": message}, HTTP_ACCEPT="application/json")


def test_an_appeal_whose_recheck_passes_reinstates_the_node_and_tells_the_owner(
    suspended, relay, friend, client, mail_now
):
    node, agent = suspended
    relay.serve("live", node.pk)  # the friend fixed the relay
    relaying_beat(agent)
    with mail_now():
        response = appeal(client, friend, node, "fixed my relay")
    assert response.status_code == 202
    decided = Appeal.objects.get(node=node)
    assert decided.outcome == AppealOutcome.REINSTATED and decided.message == "fixed my relay"
    assert decided.recheck is not None and decided.recheck.outcome == Outcome.PASS
    assert decided.recheck.trigger == "appeal"
    node.refresh_from_db()
    trust = NodeTrust.objects.get(node=node)
    assert node.approval == Approval.APPROVED and trust.consecutive_failures == 0 and trust.suspended_at is None
    assert agent.beat().json()["assignment"]["stream"] == "alice"
    [email] = mail.outbox
    assert email.to == [friend.email] and email.subject == "[StreamrP2P] Appeal accepted: den is reinstated"
    box = " ".join(client.get(f"/me/nodes/{node.pk}/penalty").content.decode().split())
    assert "re-check passed: node reinstated" in box and "Re-check evidence: <strong>pass</strong>" in box


def test_an_appeal_whose_recheck_fails_is_upheld_with_its_evidence(suspended, friend, client, mail_now):
    node, agent = suspended
    relaying_beat(agent)  # it relays, but still the wrong picture
    with mail_now():
        assert appeal(client, friend, node).status_code == 202
    decided = Appeal.objects.get(node=node)
    assert decided.outcome == AppealOutcome.UPHELD and decided.recheck.outcome == Outcome.MISMATCH
    assert "not the stream it relays" in decided.detail
    assert Node.objects.get(pk=node.pk).approval == Approval.SUSPENDED
    assert agent.beat().json()["assignment"] is None
    # One email: the appeal's decision (the re-check's own failure is not told twice).
    assert [e.subject for e in mail.outbox] == ["[StreamrP2P] Appeal refused: den stays suspended"]
    box = " ".join(client.get(f"/me/nodes/{node.pk}/penalty").content.decode().split())
    assert "re-check failed: suspension stands" in box and "Re-check evidence: <strong>mismatch" in box
    assert "You can appeal again after" in box and "Appeal: check my node again now" not in box


def test_a_second_appeal_while_one_is_pending_is_refused(suspended, friend, client):
    node, _ = suspended
    assert appeal(client, friend, node).status_code == 202  # its re-check waits for commit: pending
    second = appeal(client, friend, node)
    assert second.status_code == 409 and second.json()["error"]["code"] == "appeal_pending"
    assert Appeal.objects.filter(node=node).count() == 1


def test_appeals_of_one_node_wait_the_configured_interval(suspended, friend, client, settings, mail_now):
    node, agent = suspended
    settings.APPEAL_INTERVAL_MINUTES = 30
    relaying_beat(agent)
    with mail_now():
        appeal(client, friend, node)  # upheld: still the wrong picture
    refused = appeal(client, friend, node)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_soon"
    Appeal.objects.update(opened_at=F("opened_at") - timedelta(minutes=31))
    assert appeal(client, friend, node).status_code == 202


def test_only_the_nodes_owner_may_appeal(suspended, owner, outsider, admin_user, client):
    node, _ = suspended
    for person in (owner, outsider, admin_user):  # the streamer, a stranger, an admin (who uses the admin)
        assert appeal(client, person, node).status_code == 404
    client.logout()
    anonymous = client.post(f"/me/nodes/{node.pk}/appeal")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not Appeal.objects.exists()


def test_a_node_that_is_not_suspended_by_checks_cannot_be_appealed(register, friend, client):
    node, _ = register("den")
    assert appeal(client, friend, node).json()["error"]["code"] == "not_appealable"
    node_services.suspend(Node.objects.filter(pk=node.pk), reason="an admin's decision")
    refused = appeal(client, friend, node)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_appealable"


def test_the_form_on_the_page_opens_an_appeal_and_comes_back_to_my_nodes(suspended, friend, client):
    node, _ = suspended
    client.force_login(friend)
    response = client.post(f"/me/nodes/{node.pk}/appeal", {"message": "port forwarded"})
    assert response.status_code == 302 and response["Location"] == "/me"
    assert Appeal.objects.get(node=node).outcome == AppealOutcome.PENDING


def test_an_appeal_with_no_live_stream_is_not_checked_and_does_not_count(suspended, friend, client, mail_now):
    node, _ = suspended
    Appeal.objects.create(node=node, opened_by=friend, opened_at=timezone.now())
    appeal_row = Appeal.objects.get(node=node)
    StreamSession.objects.update(ended_at=timezone.now())
    with mail_now():
        decided = appeals.decide(appeal_row.pk)
    assert decided is not None and decided.outcome == AppealOutcome.NOT_CHECKED
    assert Node.objects.get(pk=node.pk).approval == Approval.SUSPENDED
    assert appeals.next_appeal_at(node.pk) is None  # try again as soon as a stream is live


def test_admins_see_appeals_their_outcome_and_a_link_to_the_recheck(suspended, friend, admin_user, client, mail_now):
    node, agent = suspended
    relaying_beat(agent)
    with mail_now():
        appeal(client, friend, node, "please")
    recheck = SpotCheck.objects.get(trigger="appeal")
    client.force_login(admin_user)
    listing = client.get("/admin/validation/appeal/?outcome__exact=upheld")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "den" in page and f"/admin/validation/spotcheck/{recheck.pk}/change/" in page
    assert client.get(f"/admin/validation/appeal/{Appeal.objects.get().pk}/change/").status_code == 200


def test_a_recheck_that_never_finished_does_not_block_the_next_appeal(suspended, friend, client):
    node, _ = suspended
    assert appeal(client, friend, node).status_code == 202  # its job never runs (a killed worker)
    Appeal.objects.update(opened_at=F("opened_at") - timedelta(minutes=16))
    assert appeal(client, friend, node).status_code == 202
    outcomes = sorted(Appeal.objects.values_list("outcome", flat=True))
    assert outcomes == [AppealOutcome.NOT_CHECKED, AppealOutcome.PENDING]


def test_the_owners_open_page_hears_the_appeal_opened_and_decided(suspended, friend, client, mail_now):
    node, agent = suspended
    relaying_beat(agent)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.user_group(friend.pk), channel)
    live.mark_present(friend.pk)  # the friend has /me open
    with mail_now():
        appeal(client, friend, node)

    async def hear() -> list[tuple[int, str]]:
        heard = []
        while len(heard) < 2:
            message = await asyncio.wait_for(layer.receive(channel), timeout=5)
            if message["kind"] == "appeal.changed":
                heard.append((message["data"]["node_id"], message["data"]["outcome"]))
        return heard

    assert async_to_sync(hear)() == [(node.pk, "pending"), (node.pk, "upheld")]
