"""How the spot-checker talks to a node: exactly as a viewer's browser would.

A relay that could tell the checker from a viewer could serve the checker the live stream and
viewers anything else. So the checker sends what hls.js sends from Chromium on our watch page
(recorded from Debian's Chromium 156: header names, values and order, Origin and Referer of the
watch page, the same Accept-Encoding), loads the playlist and then more than one segment with a
player's small pauses, and decodes compressed bodies like a browser, inside the size caps.
What still marks it is its source address: viewers' own reports (audits) cover that.
"""

from __future__ import annotations

import functools
import io
import ssl
import zlib
from collections.abc import Iterable
from urllib.parse import urlsplit

import brotli
import certifi
import httpcore
import httpx
import zstandard
from django.conf import settings

# httpx 0.28's HTTPTransport takes no network backend; its exception mapping and response stream
# are reused as they are, so errors keep their httpx types (pinned: requirements.txt).
from httpx._transports.default import ResponseStream, map_httpcore_exceptions

from core import netguard

CHROME_MAJOR = 156  # keep with current desktop Chrome: a stale version is a mark too
USER_AGENT = (
    f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{CHROME_MAJOR}.0.0.0 Safari/537.36"
)
CONNECT_TIMEOUT = 1.0
ZSTD_MAX_WINDOW = 8 * 1024 * 1024  # browsers accept at most 8 MiB windows for zstd
READ_TIMEOUT = 1.5


class TooLarge(Exception):
    """The body, decoded, is larger than allowed."""


class Undecodable(Exception):
    """The body is not valid in the encoding it claims."""


def viewer_headers(url: str, page_url: str) -> list[tuple[str, str]]:
    """Chromium's headers, in its order, for hls.js fetching ``url`` from the watch page at ``page_url``."""
    page = urlsplit(page_url)
    target = urlsplit(url)
    same_site = (page.hostname or "") == (target.hostname or "") and page.scheme == target.scheme
    headers = [
        ("Connection", "keep-alive"),
        ("sec-ch-ua-platform", '"Linux"'),
        ("User-Agent", USER_AGENT),
        ("sec-ch-ua", f'"Not:A-Brand";v="8", "Chromium";v="{CHROME_MAJOR}"'),
        ("sec-ch-ua-mobile", "?0"),
        ("Accept", "*/*"),
    ]
    if page_url:
        headers.append(("Origin", f"{page.scheme}://{page.netloc}"))
    headers += [
        ("Sec-Fetch-Site", "same-site" if same_site else "cross-site"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Dest", "empty"),
    ]
    if page_url:
        headers.append(("Referer", f"{page.scheme}://{page.netloc}/"))  # strict-origin-when-cross-origin
    headers += [("Accept-Encoding", "gzip, deflate, br, zstd"), ("Accept-Language", "en-US,en;q=0.9")]
    return headers


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every check: building one (loading the CA bundle) takes ~18 ms, more
    than the rest of a check's CPU; a context is safe to share between threads."""
    return ssl.create_default_context(cafile=certifi.where())


class VettedBackend(httpcore.NetworkBackend):
    """Connects only to addresses core.netguard passed, resolved and vetted for every new
    connection (a name cannot resolve to a public address for the check and to an internal one
    for the connection). The socket goes to the vetted IP literal; httpcore takes TLS SNI and
    certificate checks from the URL's host name and httpx the Host header, so both stay the name."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = netguard.resolve_vetted(host, port, allow_private=self.allow_private)
        except netguard.Unresolvable as exc:
            raise httpcore.ConnectError(str(exc)) from None
        failed: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # as socket.create_connection does: the next address if one fails
            try:
                return self._sockets.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failed = exc
        assert failed is not None  # resolve_vetted never returns an empty list
        raise failed

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("nodes are reached over TCP only")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


class VettedTransport(httpx.BaseTransport):
    """httpx's HTTPTransport (HTTP/1.1, no proxy) over a VettedBackend connection pool."""

    def __init__(self, *, allow_private: bool) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=_tls(), network_backend=VettedBackend(allow_private=allow_private), http1=True, http2=False
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with map_httpcore_exceptions():
            answer = self._pool.handle_request(core_request)
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=ResponseStream(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def client(*, node: bool = True) -> httpx.Client:
    """A client for one check. ``node``: every connection goes through core.netguard (raising
    UnsafeAddress for an internal address, unless NODE_ALLOW_PRIVATE_URLS); the origin, which the
    operator configures and which usually is internal, is read with ``node=False``."""
    # Requests are built by hand (see get): the client's own default headers never go out.
    # trust_env=False: no proxy from the environment (a proxy would connect to anything).
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    if not node:
        return httpx.Client(timeout=timeout, follow_redirects=False, verify=_tls(), trust_env=False)
    transport = VettedTransport(allow_private=settings.NODE_ALLOW_PRIVATE_URLS)
    return httpx.Client(timeout=timeout, follow_redirects=False, transport=transport, trust_env=False)


def get(http: httpx.Client, url: str, page_url: str) -> httpx.Response:
    """Start a GET with a browser's headers; the caller reads the raw body and closes it."""
    return http.send(httpx.Request("GET", url, headers=viewer_headers(url, page_url)), stream=True)


def decode(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as the browser would see it, never more than ``limit`` bytes of it (a small
    compressed body can expand to gigabytes: every decoder here stops at the limit)."""
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            decoded = body
        elif encoding in ("gzip", "x-gzip", "deflate"):
            # gzip header (16+), or zlib-wrapped deflate (the common "deflate"); both via zlib.
            unpack = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS)
            decoded = unpack.decompress(body, limit + 1)
        elif encoding == "br":
            decoded = brotli.Decompressor().process(body, output_buffer_limit=limit + 1)
        elif encoding == "zstd":
            # A stream reader: decompress() would allocate whatever size the frame header declares.
            reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(io.BytesIO(body))
            decoded = reader.read(limit + 1)
        else:
            raise Undecodable(f"unknown content encoding {encoding!r}")
    except (zlib.error, brotli.error, zstandard.ZstdError) as exc:
        if "output size" in str(exc).lower() or "too large" in str(exc).lower():
            raise TooLarge(f"decodes to more than {limit} bytes") from None
        raise Undecodable(f"not valid {encoding}: {exc}") from None
    if len(decoded) > limit:
        raise TooLarge(f"decodes to more than {limit} bytes")
    return decoded
