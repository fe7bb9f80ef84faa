"""`manage.py bootstrap` (make run): a local admin and demo stream once, shown on every run."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from streamrp2p_site.management.commands import bootstrap
from streams.models import Stream
from streams.tests.hook_clients import srs_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def credentials(tmp_path, monkeypatch, settings):
    settings.DEBUG = True
    path = tmp_path / ".local" / "credentials.json"
    monkeypatch.setattr(bootstrap, "credentials_path", lambda: path)
    return path


def run_bootstrap(*args: str) -> str:
    out = io.StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def test_creates_an_admin_and_a_demo_stream_whose_key_works(credentials, post_srs):
    output = run_bootstrap()
    saved = json.loads(credentials.read_text())
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(saved["admin_password"])
    assert f"admin / {saved['admin_password']}" in output
    key = re.search(r"live/demo\?key=(\S+)", output).group(1)
    assert post_srs(srs_payload("on_publish", stream="demo", key=key)).status_code == 200


def test_a_second_run_creates_nothing_and_shows_the_same_credentials(credentials):
    first = run_bootstrap()
    second = run_bootstrap()
    assert User.objects.count() == 1 and Stream.objects.count() == 1
    assert first.split("Site:")[1] == second.split("Site:")[1]


def test_says_so_when_the_saved_key_was_rotated(credentials):
    run_bootstrap()
    call_command("rotatekey", "demo", stdout=io.StringIO())
    assert "keys are shown once" in run_bootstrap()


def test_leaves_existing_accounts_and_streams_alone(credentials, admin_user, make_stream):
    make_stream("alice")
    output = run_bootstrap()
    assert not User.objects.filter(username="admin").exists()
    assert list(Stream.objects.values_list("slug", flat=True)) == ["alice"]
    assert "password not stored here" in output


def test_refuses_to_run_with_debug_off(credentials, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="local development only"):
        run_bootstrap()


def test_prints_urls_for_the_port_it_will_serve_on(credentials):
    output = run_bootstrap("--port", "8123")
    assert "http://127.0.0.1:8123/admin/" in output
    assert "http://127.0.0.1:8123/hooks/srs?secret=" in output
    assert ":8000" not in output
