"""Enrollment: one-time tokens (page and command) spent by `POST /api/v1/nodes/register`."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core import tokens
from nodes import services
from nodes.models import Approval, EnrollmentToken, Node

pytestmark = pytest.mark.django_db


def register_call(client, token, name="n1", public_url="http://n1.example:8090"):
    body = {"token": token, "name": name, "public_url": public_url}
    return client.post("/api/v1/nodes/register", data=json.dumps(body), content_type="application/json")


def test_the_add_node_page_needs_a_login(client):
    response = client.get("/nodes/add")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_add_node_page_shows_a_token_and_the_exact_commands(client, friend):
    client.force_login(friend)
    page = client.post("/nodes/add").content.decode()
    token = page.split('<pre class="token">')[1].split("</pre>")[0]
    assert token.startswith("et_")
    assert f"streamr-node register --coordinator http://testserver --token {token}" in page
    assert "streamr-node run" in page
    assert EnrollmentToken.objects.get(user=friend).token_hash == tokens.digest(token)


def test_the_command_prints_a_token_that_registers_a_node(client, friend):
    out = io.StringIO()
    call_command("enrollmenttoken", "friend", stdout=out, stderr=io.StringIO())
    response = register_call(client, out.getvalue().strip())
    assert response.status_code == 201
    assert Node.objects.get().owner == friend


def test_registration_returns_the_api_key_once_and_stores_a_digest(client, friend):
    _, token = services.create_enrollment_token(friend)
    body = register_call(client, token).json()
    node = Node.objects.get(pk=body["node_id"])
    assert body["api_key"].startswith("nk_") and body["heartbeat_interval"] == 10
    assert node.api_key_hash == tokens.digest(body["api_key"]) and body["api_key"] not in node.api_key_hash
    assert body["approval"] == "approved"


def test_a_reused_token_is_refused(client, friend):
    _, token = services.create_enrollment_token(friend)
    register_call(client, token)
    response = register_call(client, token, name="n2")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "token_used"
    assert Node.objects.count() == 1


def test_an_expired_token_is_refused(client, friend):
    _, token = services.create_enrollment_token(friend, ttl=timedelta(hours=1))
    EnrollmentToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = register_call(client, token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "token_expired"


def test_an_unknown_token_is_refused(client, db):
    response = register_call(client, "et_made-up")
    assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    "body",
    [{}, {"token": "x"}, {"token": "x", "name": "n", "public_url": "not a url"}, [], "x", {"token": None}],
)
def test_a_bad_registration_body_gets_400(client, body):
    response = client.post("/api/v1/nodes/register", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


def test_with_approval_required_new_nodes_wait(client, friend, settings):
    settings.NODE_APPROVAL_REQUIRED = True
    _, token = services.create_enrollment_token(friend)
    assert register_call(client, token).json()["approval"] == Approval.PENDING


@pytest.mark.parametrize(
    "url",
    [
        "ftp://n.example/",
        "http://127.0.0.1:8090",
        "http://10.0.0.5:8090",
        "http://[::1]:8090",
        "http://localhost:8090",
        "http://192.168.1.2",
        "http://169.254.169.254/",
    ],
)
def test_in_production_a_public_url_must_be_public_http(client, friend, settings, url):
    settings.NODE_ALLOW_PRIVATE_URLS = False
    _, token = services.create_enrollment_token(friend)
    response = register_call(client, token, public_url=url)
    assert response.status_code == 400 and "public_url" in response.json()["error"]["fields"]
    # A public address literal: a name would be resolved, and this machine resolves no public names.
    assert register_call(client, token, public_url="https://[2606:4700:4700::1111]:8090").status_code == 201


def test_ftp_urls_are_refused_even_on_a_local_setup(client, friend, settings):
    settings.NODE_ALLOW_PRIVATE_URLS = True
    _, token = services.create_enrollment_token(friend)
    assert register_call(client, token, public_url="ftp://n.example/").status_code == 400
