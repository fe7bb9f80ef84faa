"""Which network addresses the site may connect to on a node's behalf (SSRF guard).

A node's owner chooses its URL, so a check that fetched whatever the URL names would let anyone
make the site connect to its own loopback, the cloud's metadata service or the private network
it runs in (and read the answers back from check results). So every address is vetted *after*
resolution — a name is only as safe as every address it resolves to — and the connection goes
to the vetted address itself, never to the name again (no window for DNS rebinding).

Only globally routable unicast addresses pass. Addresses that embed an IPv4 address (IPv4-mapped,
NAT64, 6to4, Teredo) are refused when the embedded address would be. Python's own ``is_global``
is not enough on 3.11 (it calls multicast, ``64:ff9b::7f00:1``, ``2002:7f00:1::`` and ``fec0::``
global), so the ranges are listed here, and ``is_global`` is only the last word.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVE_TIMEOUT = 3.0  # seconds: getaddrinfo itself has no timeout (glibc retries for ~10 s)
RESOLVER_THREADS = 8  # lookups waiting beyond this queue up (and time out), never pile up threads


class UnsafeAddress(Exception):
    """The host is, or resolves to, an address the site must not connect to."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class Unresolvable(Exception):
    """The name resolves to no address (or not within RESOLVE_TIMEOUT)."""


_V4_REFUSED = [
    (ipaddress.IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", "private (10/8)"),
        ("100.64.0.0/10", "carrier-grade NAT (100.64/10)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
        ("172.16.0.0/12", "private (172.16/12)"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0/24)"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private (192.168/16)"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved or broadcast"),
    )
]
_V6_REFUSED = [
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b:1::/48", "local-use NAT64 (translates into a private network)"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique-local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
]
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def parse_address(text: str) -> Address | None:
    """``text`` as an IP address ("[::1]" and a "%zone" suffix allowed), or None for a name."""
    text = text.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, with the name of the form that carries them."""
    value = int(address)
    if address in _MAPPED:
        return [("IPv4-mapped", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if address in _NAT64 or address in _NAT64_LOCAL:
        # The local-use /48 may hold any RFC 6052 layout; the /96 one (the last 32 bits) is vetted.
        return [("NAT64", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if address in _SIX_TO_FOUR:
        return [("6to4", ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))]
    if address in _TEREDO:
        server = ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~value & 0xFFFFFFFF)  # stored inverted
        return [("Teredo server", server), ("Teredo client", client)]
    return []


def vet_address(address: Address | str) -> str | None:
    """Why the site must not connect to ``address``, or None when it is a global unicast address."""
    if isinstance(address, str):
        parsed = parse_address(address)
        if parsed is None:
            return f"{address!r} is not an IP address"
        address = parsed
    if isinstance(address, ipaddress.IPv4Address):
        for network4, why in _V4_REFUSED:
            if address in network4:
                return f"{address} is {why}"
        return None if address.is_global else f"{address} is not a global address"
    for form, inner in embedded_ipv4(address):
        refused = vet_address(inner)
        if refused:
            return f"{address} is {form} for {inner}, and {refused}"
    if address in _MAPPED or address in _NAT64:
        return None  # the connection goes to the embedded IPv4 address, which passed
    for network6, why in _V6_REFUSED:
        if address in network6:
            return f"{address} is {why}"
    if address not in _GLOBAL_UNICAST:
        return f"{address} is not a global unicast address (2000::/3)"
    if address in _SIX_TO_FOUR:
        return None  # relayed to its embedded IPv4 address, which passed (Python calls 2002::/16 private)
    return None if address.is_global else f"{address} is not a global address"


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _resolver() -> ThreadPoolExecutor:
    """A pool per process: one made before a fork (django-q2's workers) has no threads in the child."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="netguard-dns"))
    return _pool[1]


def resolve(host: str, port: int, timeout: float = RESOLVE_TIMEOUT) -> list[Address]:
    """Every address ``host`` resolves to now (TCP), in the resolver's order, without duplicates."""
    literal = parse_address(host)
    if literal is not None:
        return [literal]
    name = host.rstrip(".")  # "metadata.google.internal." is the same name as without the dot
    if not name:
        raise Unresolvable(f"{host!r} is not a host name")
    lookup = _resolver().submit(socket.getaddrinfo, name, port, type=socket.SOCK_STREAM)
    try:
        found = lookup.result(timeout=timeout)
    except FutureTimeout:
        raise Unresolvable(f"{name} did not resolve within {timeout:g} s") from None
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"{name} does not resolve ({exc})") from None
    addresses: list[Address] = []
    for *_, sockaddr in found:
        address = parse_address(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolvable(f"{name} resolves to no address")
    return addresses


def resolve_vetted(host: str, port: int, *, allow_private: bool, timeout: float = RESOLVE_TIMEOUT) -> list[Address]:
    """The addresses to connect to for ``host``; UnsafeAddress if ANY of them is refused (a name
    with one public and one internal address would reach the internal one by retry or rebinding),
    Unresolvable if there are none. ``allow_private`` (local setups, tests) vets nothing."""
    addresses = resolve(host, port, timeout)
    if not allow_private:
        for address in addresses:
            refused = vet_address(address)
            if refused:
                raise UnsafeAddress(host, refused)
    return addresses
