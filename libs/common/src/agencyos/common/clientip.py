"""The client's IP address (the gateway's per-IP limits and IP allowlists, identity's sign-in
checks): the socket peer, unless the peer is a trusted proxy, in which case `X-Forwarded-For`
is read from the right (the entry the nearest proxy appended) past every trusted hop. Entries
left of the first untrusted one are whatever the client chose to send, so they are never
believed: a client cannot pick its own IP."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8`, `192.168.1.7`, `::1` → networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(peer: str, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]) -> str:
    if not trusted or not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",")]
    candidate = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # Garbage where an address should be: stop at the last hop we could vouch for.
            return candidate
        candidate = hop
        if not _is_trusted(hop, trusted):
            return hop
    return candidate


def in_networks(address: str, networks: Iterable[str]) -> bool:
    """Whether `address` lies in one of `networks` (CIDR strings); an address that does not
    parse lies in none. An IPv4-mapped IPv6 address counts as its IPv4 address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for entry in networks:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
