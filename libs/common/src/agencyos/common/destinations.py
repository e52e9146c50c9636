"""Where a URL given by a user may lead our services: the one rule (against server-side request
forgery) for every outbound URL a tenant chooses: notification's webhook endpoints, identity's
single sign-on issuers. Checked when the URL is saved (as written) and again before every
request and redirect (every address its host resolves to now), so neither a DNS name pointing
inside nor a redirect can reach a private service.

Refused unless the policy's `allowed_private_networks` lists them (each service reads them
from its own settings, e.g. `webhook_allowed_private_networks`): loopback, private (RFC 1918,
fc00::/7), link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10), shared
(100.64.0.0/10), multicast, reserved and unspecified addresses, and IPv4 addresses written as
IPv6 (::ffff:a.b.c.d is judged as a.b.c.d). Schemes other than https are refused unless
`allow_http` (then http too; never anything else).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


class RefusedDestination(ValueError):
    """A URL or an address our services must not reach; the message says why, for people."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # as written (lower case), without brackets
    port: int
    url: str


@dataclass(frozen=True)
class DestinationPolicy:
    allow_http: bool = False
    allowed_private_networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_http: bool, allowed_private_networks: Iterable[str]) -> DestinationPolicy:
        return cls(
            allow_http=allow_http,
            allowed_private_networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in allowed_private_networks
            ),
        )

    def parse(self, url: str) -> Destination:
        """The URL's parts, if its form is one the policy admits (no address is looked up).
        A host written as an IP address is judged here; a name is judged when it resolves."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as error:
            raise RefusedDestination(f"not a valid URL ({error})") from None
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise RefusedDestination("the URL must start with https://")
        if scheme == "http" and not self.allow_http:
            raise RefusedDestination("the URL must use https (plain http is not allowed here)")
        host = (parts.hostname or "").lower()
        if not host:
            raise RefusedDestination("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise RefusedDestination("the URL must not carry a user name or password")
        literal = _literal_address(host)
        if literal is not None:
            self.check_address(literal)
        elif host == "localhost" or host.endswith(".localhost"):
            self.check_address(ipaddress.ip_address("127.0.0.1"))
        return Destination(
            scheme=scheme,
            host=host,
            port=port or (443 if scheme == "https" else 80),
            url=url.strip(),
        )

    def check_address(self, address: IPAddress) -> None:
        """Raise RefusedDestination when the policy does not admit a connection to `address`."""
        judged = _unmapped(address)
        reason = _private_reason(judged)
        if reason is None:
            return
        if any(
            judged in network
            for network in self.allowed_private_networks
            if network.version == judged.version
        ):
            return
        raise RefusedDestination(f"{judged} is {reason}; only public addresses may be reached")

    async def resolve(self, destination: Destination) -> list[IPAddress]:
        """Every address the host resolves to now, each allowed (else RefusedDestination).
        Connect to one of these, not to the name again, so an answer that changes in between
        cannot slip a private address in."""
        literal = _literal_address(destination.host)
        if literal is not None:
            self.check_address(literal)
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as error:
            raise RefusedDestination(f"{destination.host} does not resolve ({error})") from None
        addresses = _unique(
            ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos
        )
        if not addresses:
            raise RefusedDestination(f"{destination.host} does not resolve")
        for address in addresses:
            self.check_address(address)
        return addresses


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _private_reason(address: IPAddress) -> str | None:
    if address in _METADATA:
        return "the cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def _unique(addresses: Iterable[IPAddress]) -> list[IPAddress]:
    seen: list[IPAddress] = []
    for address in addresses:
        if address not in seen:
            seen.append(address)
    return seen


def describe_networks(networks: Sequence[Network]) -> str:
    return ", ".join(str(n) for n in networks) or "none"
