"""Who is behind the work being done now: the actor's IP address, user agent and request id.

Set once per HTTP request by the common web layer (`RequestContextMiddleware`) and once per
gRPC call by the server interceptor (from the caller's metadata, which `rpc.call` fills from
this context); every event published meanwhile carries them as the CloudEvent extensions
`actorip`, `actoragent` and `requestid` (agencyos.common.outbox), so that the audit log can be
written from events. Work started by no request (a consumer, a schedule) has none.

The client's IP address: the gateway puts its answer (`clientip.client_ip()`: the socket peer,
or `X-Forwarded-For` read past the proxies it trusts) in `x-agencyos-client-ip`, always
overwriting what a caller sent. A service believes that header (and the actor metadata of a
gRPC call) only from a peer in its `trusted_peer_networks` setting: loopback and the private
networks by default, where the gateway and our other services run (a NetworkPolicy keeps
everyone else off the services' ports). From any other peer the header is ignored and the
peer's own address is the client's: a caller who reaches a service directly cannot forge it.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

# What the gateway sets on every request it forwards.
CLIENT_IP_HEADER = "x-agencyos-client-ip"

# gRPC metadata (ASCII only: the user agent travels percent-encoded).
ACTOR_IP_METADATA = "x-agencyos-actor-ip"
ACTOR_AGENT_METADATA = "x-agencyos-actor-agent"
REQUEST_ID_METADATA = "x-request-id"

# CloudEvent extension attributes (lower-case letters and digits, CloudEvents 1.0).
ACTOR_IP_EXTENSION = "actorip"
ACTOR_AGENT_EXTENSION = "actoragent"
REQUEST_ID_EXTENSION = "requestid"
ACTOR_EXTENSIONS = (ACTOR_IP_EXTENSION, ACTOR_AGENT_EXTENSION, REQUEST_ID_EXTENSION)

# Longer user agents are cut: a header is the caller's to fill, the audit log is not.
MAX_USER_AGENT_CHARS = 512
MAX_REQUEST_ID_CHARS = 128

# The default of `trusted_peer_networks`: loopback, private and unique-local networks.
PRIVATE_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ActorContext:
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    def extensions(self) -> dict[str, str]:
        """The CloudEvent extensions of this context (only those known)."""
        values = {
            ACTOR_IP_EXTENSION: self.ip,
            ACTOR_AGENT_EXTENSION: self.user_agent,
            REQUEST_ID_EXTENSION: self.request_id,
        }
        return {name: value for name, value in values.items() if value}

    def metadata(self) -> list[tuple[str, str]]:
        """This context as gRPC metadata, for a call made on its behalf."""
        pairs = []
        if self.ip:
            pairs.append((ACTOR_IP_METADATA, self.ip))
        if self.user_agent:
            pairs.append((ACTOR_AGENT_METADATA, quote(self.user_agent, safe=" ;/()=,.:+_-")))
        if self.request_id:
            pairs.append((REQUEST_ID_METADATA, self.request_id))
        return pairs


_current: contextvars.ContextVar[ActorContext | None] = contextvars.ContextVar(
    "agencyos_actor_context", default=None
)


def current_actor_context() -> ActorContext | None:
    return _current.get()


@contextmanager
def actor_context(value: ActorContext | None) -> Iterator[None]:
    """Run the block with `value` as the current actor context."""
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8`, `192.168.1.7`, `::1` → networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def canonical_ip(raw: str | None) -> str | None:
    """`raw` as an IP address in its canonical spelling, or None when it is not one."""
    if not raw:
        return None
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None


def is_trusted(peer: str | None, trusted: tuple[IPNetwork, ...]) -> bool:
    address = canonical_ip(peer)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in trusted)


def clean_user_agent(raw: str | None) -> str | None:
    if not raw:
        return None
    printable = "".join(c if c.isprintable() else " " for c in raw).strip()
    return printable[:MAX_USER_AGENT_CHARS] or None


def clean_request_id(raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.strip()[:MAX_REQUEST_ID_CHARS]
    return value if value and all(c.isalnum() or c in "._:-" for c in value) else None


def client_address(
    peer: str | None, forwarded: str | None, trusted: tuple[IPNetwork, ...]
) -> str | None:
    """The client's IP address: `forwarded` (the gateway's header) when the peer is trusted
    and it is an IP address, else the peer's own."""
    if forwarded and is_trusted(peer, trusted):
        believed = canonical_ip(forwarded)
        if believed is not None:
            return believed
    return canonical_ip(peer) or (peer or None)


def from_http(
    peer: str | None,
    headers: Mapping[str, str],
    request_id: str,
    trusted: tuple[IPNetwork, ...],
) -> ActorContext:
    """The actor context of an HTTP request (its `request_id` already decided)."""
    return ActorContext(
        ip=client_address(peer, headers.get(CLIENT_IP_HEADER), trusted),
        user_agent=clean_user_agent(headers.get("user-agent")),
        request_id=request_id,
    )


def grpc_peer_address(peer: str | None) -> str | None:
    """The IP address in a grpc peer string (`ipv4:10.1.2.3:5000`, `ipv6:[::1]:5000`)."""
    if not peer:
        return None
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        host = rest.rsplit(":", 1)[0]
        return unquote(host.strip("[]"))
    return None


def from_grpc(
    peer: str | None, metadata: Mapping[str, Any], trusted: tuple[IPNetwork, ...]
) -> ActorContext | None:
    """The actor context a trusted caller sent with a gRPC call; None from anyone else (or
    when it sent none)."""
    if not is_trusted(grpc_peer_address(peer), trusted):
        return None
    agent = metadata.get(ACTOR_AGENT_METADATA)
    found = ActorContext(
        ip=canonical_ip(metadata.get(ACTOR_IP_METADATA)),
        user_agent=clean_user_agent(unquote(agent)) if isinstance(agent, str) else None,
        request_id=clean_request_id(metadata.get(REQUEST_ID_METADATA)),
    )
    return found if found.extensions() else None


def actor_extensions(envelope: Mapping[str, Any]) -> ActorContext:
    """The actor context an event envelope carries."""
    return ActorContext(
        ip=canonical_ip(envelope.get(ACTOR_IP_EXTENSION)),
        user_agent=clean_user_agent(envelope.get(ACTOR_AGENT_EXTENSION)),
        request_id=clean_request_id(envelope.get(REQUEST_ID_EXTENSION)),
    )
