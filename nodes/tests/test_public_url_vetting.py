"""A node's public URL is vetted by what its host resolves to, at registration and when a
heartbeat changes it (NODE_ALLOW_PRIVATE_URLS off, as in production); heartbeats stay cheap."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator

import pytest

from nodes import heartbeat_body, services
from nodes.models import Node
from nodes.tests.fixtures import beat_body
from nodes.tests.test_enrollment import register_call
from testkit import netwatch

pytestmark = pytest.mark.django_db

_lookups: list[str] = []


def _count_lookups(event: str, args: tuple[object, ...]) -> None:
    if event == "socket.getaddrinfo":
        _lookups.append(str(args[0]))


sys.addaudithook(_count_lookups)  # the real resolver's calls, counted


@pytest.fixture
def production(settings):
    settings.NODE_ALLOW_PRIVATE_URLS = False


@pytest.fixture
def etc_hosts() -> Iterator[Callable[[str, str], None]]:
    with netwatch.hosts_file() as add:
        yield add


def name() -> str:
    return f"relay-{uuid.uuid4().hex[:12]}.nip.io"


def refusal(response) -> str:
    assert response.status_code == 400, response.content
    return " ".join(response.json()["error"]["fields"]["public_url"])


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.5", "169.254.169.254", "100.64.0.1", "fd00::1"])
def test_registering_a_name_that_resolves_inside_is_refused(client, friend, production, etc_hosts, address):
    host = name()
    etc_hosts(address, host)
    _, token = services.create_enrollment_token(friend)
    for written in (host, host + "."):
        assert "public address" in refusal(register_call(client, token, public_url=f"http://{written}:8090"))
    assert not Node.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]:8090",  # NAT64
        "http://[64:ff9b:1::a00:5]:8090",  # local-use NAT64
        "http://[::ffff:127.0.0.1]:8090",  # IPv4-mapped
        "http://[2002:a00:5::1]:8090",  # 6to4 of 10.0.0.5
        "http://[2001:0:808:808::80ff:fffe]:8090",  # Teredo
        "http://[fe80::1]:8090",
        "http://[fc00::1]:8090",
        "http://100.64.0.1:8090",
        "http://0.0.0.0:8090",
        "http://224.0.0.1:8090",
        "http://[ff02::1]:8090",
        "http://metadata.google.internal./computeMetadata/v1/",
        "http://relay.home.arpa:8090",
    ],
)
def test_registering_an_internal_address_in_any_form_is_refused(client, friend, production, url):
    _, token = services.create_enrollment_token(friend)
    assert register_call(client, token, public_url=url).status_code == 400


def test_registering_a_name_that_does_not_resolve_is_refused_with_a_clear_message(client, friend, production):
    _, token = services.create_enrollment_token(friend)
    message = refusal(register_call(client, token, public_url=f"http://{name()}:8090"))
    assert message == "This host name does not resolve: use a name (or address) viewers can reach."


def test_registering_a_name_that_resolves_to_public_addresses_works(client, friend, production, etc_hosts):
    host = name()
    etc_hosts("8.8.8.8", host)
    etc_hosts("2001:4860:4860::8888", host)
    _, token = services.create_enrollment_token(friend)
    assert register_call(client, token, public_url=f"https://{host}:8443").status_code == 201


def test_a_heartbeat_moving_the_node_to_a_name_inside_is_refused(register, node_client, production, etc_hosts):
    node, key = register()
    host = name()
    etc_hosts("127.0.0.1", host)
    agent = node_client(key)
    assert agent.beat(public_url="http://n1.example:8090").status_code == 200  # its own URL: fine
    assert agent.beat(public_url=f"http://{host}:8090").status_code == 400
    assert agent.beat(public_url=f"http://{host}.:8090").status_code == 400
    node.refresh_from_db()
    assert node.public_url == "http://n1.example:8090"


def test_a_heartbeat_whose_name_does_not_resolve_now_is_still_counted(register, node_client, production):
    """A DNS outage must not refuse every beat: the checker vets the address at each connection."""
    _, key = register()
    assert node_client(key).beat(public_url=f"http://{name()}:8090").status_code == 200


def test_the_heartbeat_path_resolves_a_url_once_not_per_beat(production, etc_hosts):
    host = name()
    etc_hosts("8.8.8.8", host)
    body = beat_body(public_url=f"http://{host}:8090")
    _lookups.clear()
    assert all(heartbeat_body.read(body) is not None for _ in range(50))
    assert _lookups.count(host) == 1


def test_a_refused_name_is_not_resolved_again_by_the_serializer_either(production, etc_hosts):
    host = name()
    etc_hosts("127.0.0.1", host)
    body = beat_body(public_url=f"http://{host}:8090")
    _lookups.clear()
    for _ in range(20):
        assert heartbeat_body.read(body) is None
        beat, errors = heartbeat_body.from_serializer(body)
        assert beat is None and "public_url" in errors
    assert _lookups.count(host) == 1


def test_with_private_urls_allowed_nothing_is_resolved(client, friend, settings):
    settings.NODE_ALLOW_PRIVATE_URLS = True
    _, token = services.create_enrollment_token(friend)
    _lookups.clear()
    assert register_call(client, token, public_url="http://127.0.0.1:8090").status_code == 201
    assert heartbeat_body.read(beat_body(public_url=f"http://{name()}:8090")) is not None
    assert _lookups == []
