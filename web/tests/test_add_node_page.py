"""The "Add a node" page: the pip command with the site's wheel URL before any token, then the
register and run commands with the token filled in, copy buttons, a suggested public address, and
the line that waits for the new node's first heartbeat."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from web import agent_wheel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _wheels_in_tmp(settings, tmp_path):
    settings.AGENT_WHEEL_DIR = tmp_path / "wheels"


def commands(page: str) -> dict[str, str]:
    shown = re.findall(r'<pre data-command="([a-z]+)">(.*?)</pre>', page, flags=re.S)
    return {name: html.unescape(text) for name, text in shown}


def copies(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<button type="button" class="copy" data-copy="([^"]*)"', page)]


def test_before_any_token_the_page_shows_pip_install_with_the_wheels_absolute_url(client, friend, settings):
    client.force_login(friend)
    page = client.get("/nodes/add").content.decode()
    name = agent_wheel.read_source(Path(settings.AGENT_SOURCE_DIR)).filename
    install = f"pip install http://testserver/agent/{name}"
    assert commands(page)["install"] == install
    assert install in copies(page)
    assert "register" not in commands(page) and "data-first-beat" not in page
    assert "Create enrollment token" in page


def test_the_shown_url_is_the_wheel_the_site_serves(client, friend):
    client.force_login(friend)
    url = commands(client.get("/nodes/add").content.decode())["install"].split()[-1]
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"


def test_after_create_token_the_register_and_run_commands_have_the_token_one_option_a_line(client, friend):
    client.force_login(friend)
    page = client.post("/nodes/add").content.decode()
    token = page.split('<pre class="token">')[1].split("</pre>")[0]
    shown = commands(page)
    assert shown["register"] == (
        "streamr-node register \\\n  --coordinator http://testserver \\\n"
        f"  --token {token} \\\n  --public-url http://YOUR-PUBLIC-ADDRESS:8090"
    )
    one_line = (
        f"streamr-node register --coordinator http://testserver --token {token} "
        "--public-url http://YOUR-PUBLIC-ADDRESS:8090"
    )
    assert one_line in copies(page)  # the copy button copies it on one line
    assert shown["run"] == "streamr-node run" and "streamr-node run" in copies(page)
    assert "pip install http://testserver/agent/streamr_node-" in shown["install"]
    assert "forward <strong>TCP port 8090</strong>" in page


def test_a_public_client_address_is_suggested_as_the_nodes_public_url(client, friend):
    client.force_login(friend)
    page = client.post("/nodes/add", REMOTE_ADDR="203.0.113.7").content.decode()
    # 203.0.113.0/24 is a documentation network, not global: no suggestion.
    assert "--public-url http://YOUR-PUBLIC-ADDRESS:8090" in commands(page)["register"]
    page = client.post("/nodes/add", REMOTE_ADDR="81.2.69.160").content.decode()
    assert "--public-url http://81.2.69.160:8090" in commands(page)["register"]
    assert "the address this page was opened from" in page
    page = client.post("/nodes/add", REMOTE_ADDR="2a00:1450:4001:80b::200e").content.decode()
    assert "--public-url http://[2a00:1450:4001:80b::200e]:8090" in commands(page)["register"]


@pytest.mark.parametrize("address", ["127.0.0.1", "192.168.1.20", "10.0.0.5", "::1", "fd00::1", "100.64.0.1"])
def test_an_address_viewers_cannot_reach_is_never_suggested(client, friend, address):
    client.force_login(friend)
    page = client.post("/nodes/add", REMOTE_ADDR=address).content.decode()
    assert "--public-url http://YOUR-PUBLIC-ADDRESS:8090" in commands(page)["register"]


def test_the_waiting_line_lists_the_nodes_that_already_exist(client, friend, register):
    old, _ = register("old-den", user=friend)
    client.force_login(friend)
    page = client.post("/nodes/add").content.decode()
    assert f'data-first-beat data-known-nodes="{old.pk}"' in page
    assert "Waiting for your node&#x27;s first heartbeat" in page or "Waiting for your node's first heartbeat" in page
    assert "js/add_node" in page
