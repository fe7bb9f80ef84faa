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
from urllib.parse import urlsplit

import brotli
import certifi
import httpx
import zstandard

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


def client() -> httpx.Client:
    # Requests are built by hand (see get): the client's own default headers never go out.
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    return httpx.Client(timeout=timeout, follow_redirects=False, verify=_tls())


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
