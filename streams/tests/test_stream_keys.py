"""Stream keys: shown once, stored hashed, rotatable; the operator commands that print them."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from streams import keys, services
from streams.models import Stream
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def printed_key(output: str) -> str:
    match = re.search(r"Stream key: (\S+)", output)
    assert match, output
    return match.group(1)


def test_stores_only_a_hash_of_the_key(stream_and_key):
    stream, key = stream_and_key
    assert key not in (stream.key_hash, stream.key_hint)
    assert stream.key_hash == keys.hash_key(key)
    assert stream.key_hint == key[-4:]


def test_createstream_prints_a_key_that_admits_a_publish(owner, post_srs):
    output = run("createstream", "zed", "--owner", "owner", "--rate", "2.50")
    key = printed_key(output)
    assert f"rtmp://127.0.0.1:1935/live/zed?key={key}" in output
    stream = Stream.objects.get(slug="zed")
    assert stream.reward_rate_per_hour == Decimal("2.50")
    assert post_srs(srs_payload("on_publish", stream="zed", key=key)).status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["bad slug!", "--owner", "owner"], "not a valid slug"),
        (["zed", "--owner", "nobody"], "No user"),
        (["zed", "--owner", "owner", "--rate", "-1"], "non-negative"),
        (["zed", "--owner", "owner", "--rate", "1.234"], "2 decimal places"),
        (["zed", "--owner", "owner", "--rate", "lots"], "amount"),
        (["zed", "--owner", "owner", "--rate", "NaN"], "non-negative"),
        (["zed", "--owner", "owner", "--rate", "1e30"], "too large"),
    ],
)
def test_createstream_refuses_bad_input_with_a_clear_message(owner, args, message):
    with pytest.raises(CommandError, match=message):
        run("createstream", *args)
    assert not Stream.objects.exists()


def test_createstream_refuses_a_taken_slug(stream_and_key, owner):
    with pytest.raises(CommandError, match="already exists"):
        run("createstream", "alice", "--owner", "owner")


def test_rotatekey_replaces_the_key_and_the_old_one_stops_working(stream_and_key, post_srs):
    _, old_key = stream_and_key
    new_key = printed_key(run("rotatekey", "alice"))
    assert new_key != old_key
    assert post_srs(srs_payload("on_publish", key=old_key)).status_code == 403
    assert post_srs(srs_payload("on_publish", key=new_key)).status_code == 200


def test_rotatekey_refuses_an_unknown_stream(db):
    with pytest.raises(CommandError, match="No stream"):
        run("rotatekey", "ghost")


def test_rotating_keeps_a_live_publish_going(stream_and_key, post_srs, client):
    stream, key = stream_and_key
    post_srs(srs_payload("on_publish", key=key))
    services.rotate_key(stream)
    assert client.get("/api/v1/streams").json()[0]["live"] is True
