"""The checker never connects to this machine or its networks on a node's say-so (SSRF).

With NODE_ALLOW_PRIVATE_URLS off, as in production: a node URL whose host is, names or embeds an
internal address is judged ``not_public`` and nothing is connected to. ``connections`` sees every
connect() the process makes (and stops any off this machine, so a broken guard still sends
nothing out); ``loopback_listener`` listens on 127.0.0.1 and ::1 and counts what reaches it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core import netguard
from nodes.models import Node
from streams.tests.hook_clients import srs_payload
from testkit import netwatch
from validation import checks, fetching, services
from validation.models import Outcome

# Hosts that reach this machine's loopback if connected to (the listener would see them).
LOOPBACK_FORMS = [
    "127.0.0.1",
    "127.1",
    "2130706433",  # decimal
    "0x7f.0.0.1",  # hex
    "0.0.0.0",  # noqa: S104  (Linux routes it to the loopback)
    "localhost",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
]
# Hosts that lead into internal networks elsewhere (connecting would leave the machine).
INTERNAL_FORMS = [
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[64:ff9b:1::a00:1]",  # local-use NAT64
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
    "[2001:0:808:808::80ff:fffe]",  # Teredo, client 127.0.0.1
    "[::7f00:1]",  # IPv4-compatible
    "169.254.169.254",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",
    "255.255.255.255",
    "[fe80::1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fec0::1]",
    "[ff02::1]",
]


@pytest.fixture
def production(settings):
    settings.NODE_ALLOW_PRIVATE_URLS = False


@pytest.fixture
def connections() -> Iterator[list[tuple[str, int]]]:
    with netwatch.watch_connections() as log:
        yield log


@pytest.fixture
def etc_hosts() -> Iterator[Callable[[str, str], None]]:
    with netwatch.hosts_file() as add:
        yield add


@pytest.fixture
def loopback_listener() -> Iterator[netwatch.Listener]:
    with netwatch.listen_on_loopback() as listener:
        yield listener


def name() -> str:
    return f"node-{uuid.uuid4().hex[:12]}.nip.io"


def playlist_at(host: str, port: int) -> str:
    return f"http://{host}:{port}/hls/alice/index.m3u8"


@pytest.mark.parametrize("host", LOOPBACK_FORMS)
def test_a_node_url_reaching_the_loopback_is_never_connected_to(host, production, loopback_listener, connections):
    found = checks.inspect_node(playlist_at(host, loopback_listener.port))
    assert found.outcome == Outcome.NOT_PUBLIC, found.evidence
    assert found.evidence["reason"] == "node's address is not public"
    assert connections == [] and loopback_listener.settled() == []


@pytest.mark.parametrize("host", INTERNAL_FORMS)
def test_a_node_url_into_an_internal_network_is_never_connected_to(host, production, connections):
    found = checks.inspect_node(playlist_at(host, 8090))
    assert found.outcome == Outcome.NOT_PUBLIC, found.evidence
    assert connections == []


def test_octal_ipv4_is_not_even_a_url_to_the_checker(production, loopback_listener, connections):
    # 0177.0.0.1 is 127.0.0.1 to inet_aton; httpx refuses the URL before anything resolves it.
    found = checks.inspect_node(playlist_at("0177.0.0.1", loopback_listener.port))
    assert found.outcome == Outcome.BAD_MEDIA and found.evidence["reason"] == "node listed an invalid URL"
    assert connections == [] and loopback_listener.settled() == []


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_a_name_resolving_to_this_machine_is_never_connected_to(
    address, production, etc_hosts, loopback_listener, connections
):
    host = name()
    etc_hosts(address, host)
    for written in (host, host + ".", host.upper()):
        found = checks.inspect_node(playlist_at(written, loopback_listener.port))
        assert found.outcome == Outcome.NOT_PUBLIC, found.evidence
        assert checks.node_identity(f"http://{written}:{loopback_listener.port}") is None
    assert connections == [] and loopback_listener.settled() == []


def test_a_metadata_name_with_a_trailing_dot_is_never_connected_to(production, etc_hosts, connections):
    host = f"metadata-{uuid.uuid4().hex[:8]}.google.internal"
    etc_hosts("169.254.169.254", host)
    found = checks.inspect_node(f"http://{host}./computeMetadata/v1/")
    assert found.outcome == Outcome.NOT_PUBLIC and connections == []


def test_a_name_with_one_public_and_one_internal_address_is_refused_whole(etc_hosts):
    host = name()
    etc_hosts("8.8.8.8", host)
    etc_hosts("127.0.0.1", host)
    with pytest.raises(netguard.UnsafeAddress, match=r"127\.0\.0\.1 is loopback"):
        netguard.resolve_vetted(host, 80, allow_private=False)


def test_each_connection_is_vetted_again_and_goes_to_the_vetted_address(production, etc_hosts, connections):
    """A name that passed once and then resolves inward (DNS rebinding) is refused on the next
    connection of the same client; the passed one went to the vetted address itself."""
    host = name()
    etc_hosts("8.8.8.8", host)  # public: vetted and passed (the test guard stops the connect itself)
    with fetching.client() as http:
        with pytest.raises(httpx.ConnectError, match="off this machine"):
            fetching.get(http, f"http://{host}:8090/healthz", "")
        etc_hosts("127.0.0.1", host)
        with pytest.raises(netguard.UnsafeAddress):
            fetching.get(http, f"http://{host}:8090/healthz", "")
    assert connections == [("8.8.8.8", 8090)]


def test_with_private_urls_allowed_the_same_checks_do_connect(settings, etc_hosts, loopback_listener):
    """The control: the refusals above come from the guard, not from a listener nobody can reach."""
    settings.NODE_ALLOW_PRIVATE_URLS = True
    host = name()
    etc_hosts("127.0.0.1", host)
    for written in (host, "[::ffff:127.0.0.1]", "2130706433", "[::1]"):
        assert checks.inspect_node(playlist_at(written, loopback_listener.port)).outcome != Outcome.NOT_PUBLIC
    assert len(loopback_listener.settled()) == 4


def test_the_node_is_asked_by_its_name_host_header_and_tls_server_name(settings, etc_hosts, tmp_path):
    """The socket goes to the vetted address; Host and SNI stay the URL's name."""
    settings.NODE_ALLOW_PRIVATE_URLS = True  # the only server here is on the loopback
    host = name()
    etc_hosts("127.0.0.1", host)
    hosts_seen: list[str] = []

    class Request(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts_seen.append(self.headers["Host"])
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Request)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        assert checks.inspect_node(playlist_at(host, port)).outcome == Outcome.UNREACHABLE
    finally:
        server.shutdown()
        server.server_close()
    assert hosts_seen == [f"{host}:{port}"]

    names_seen: list[str | None] = []
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-subj", f"/CN={host}", "-keyout", str(key), "-out", str(cert), "-days", "1"),
        ],
        check=True,
        capture_output=True,
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.sni_callback = lambda _sock, server_name, _ctx: names_seen.append(server_name)  # type: ignore[assignment,misc,return-value]
    listener = socket.create_server(("127.0.0.1", 0))

    def handshake() -> None:
        peer, _ = listener.accept()
        # The checker does not trust a self-signed certificate: only the name it asked for matters.
        with contextlib.suppress(ssl.SSLError, OSError):
            tls.wrap_socket(peer, server_side=True).close()

    thread = threading.Thread(target=handshake, daemon=True)
    thread.start()
    try:
        found = checks.inspect_node(f"https://{host}:{listener.getsockname()[1]}/hls/alice/index.m3u8")
    finally:
        thread.join(timeout=5)
        listener.close()
    assert found.outcome == Outcome.UNREACHABLE and names_seen == [host]


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "reason"),
    [
        (302, {"Location": "http://10.1.2.3:6379/"}, Outcome.REDIRECT, "node redirected its playlist (not followed)"),
        (404, {}, Outcome.UNREACHABLE, "node did not serve its playlist"),
        (500, {"Server": "Internal-Admin/1.0"}, Outcome.UNREACHABLE, "node did not serve its playlist"),
    ],
)
def test_what_a_node_answered_stays_out_of_the_verdict(status, headers, outcome, reason):
    """A status code or a Location in a verdict would make checks a scanner of what the URL
    reaches: the verdict says what went wrong, and the answer is kept for staff only."""

    class Request(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            for header, value in {**headers, "Content-Length": "0"}.items():
                self.send_header(header, value)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Request)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        found = checks.inspect_node(playlist_at("127.0.0.1", server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()
    assert (found.outcome, found.evidence["reason"]) == (outcome, reason)
    assert str(status) in found.evidence["staff_detail"]
    assert all(value in found.evidence["staff_detail"] for value in headers.values() if value.startswith("http"))


def test_a_refused_connection_is_a_verdict_without_the_error_text():
    with socket.socket() as taken:  # a port nothing listens on
        taken.bind(("127.0.0.1", 0))
        free = taken.getsockname()[1]
    found = checks.inspect_node(playlist_at("127.0.0.1", free))
    assert (found.outcome, found.evidence["reason"]) == (Outcome.UNREACHABLE, "node could not be reached")
    assert "Errno" in found.evidence["staff_detail"]


@pytest.mark.django_db
def test_a_spot_check_of_a_node_on_an_internal_address_fails_at_once(
    register, node_client, stream_and_key, post_srs, settings, etc_hosts, loopback_listener, connections
):
    """Judged at once (not a provisional "no answer"), with a verdict that names no address."""
    host = name()
    etc_hosts("127.0.0.1", host)
    post_srs(srs_payload("on_publish", key=stream_and_key[1]))
    node, key = register("inside", public_url=f"http://{host}:{loopback_listener.port}")  # registered when allowed
    assert node_client(key).beat().json()["assignment"]["stream"] == "alice"
    settings.NODE_ALLOW_PRIVATE_URLS = False
    check = services.spot_check(Node.objects.select_related("assigned_stream").get(pk=node.pk))
    assert check.outcome == Outcome.NOT_PUBLIC and not check.provisional and not check.passed
    assert check.evidence["reason"] == "node's address is not public"
    assert "127.0.0.1" in check.evidence["staff_detail"]  # for the admin only
    # (the site's own Redis is on the loopback too: only the node's port is the node)
    assert [port for _, port in connections if port == loopback_listener.port] == []
    assert loopback_listener.settled() == []


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888", "64:ff9b::808:808", "::ffff:8.8.8.8"],
)
def test_a_global_address_passes_vetting(address):
    assert netguard.vet_address(address) is None
    assert netguard.resolve_vetted(address, 443, allow_private=False) == [netguard.parse_address(address)]


@pytest.mark.parametrize("host", [*LOOPBACK_FORMS[:1], *LOOPBACK_FORMS[6:], *INTERNAL_FORMS])
def test_every_internal_literal_is_refused_by_vetting(host):
    assert netguard.vet_address(host.strip("[]")) is not None
