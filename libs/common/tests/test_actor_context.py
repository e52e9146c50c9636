"""The actor context: whose word on the client is believed, and how it crosses gRPC."""

from __future__ import annotations

import pytest

from agencyos.common.actor_context import (
    PRIVATE_NETWORKS,
    ActorContext,
    actor_context,
    client_address,
    current_actor_context,
    from_grpc,
    parse_networks,
)

TRUSTED = parse_networks(PRIVATE_NETWORKS)


class TestClientAddress:
    @pytest.mark.parametrize(
        ("peer", "header", "expected"),
        [
            ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
            ("10.4.0.12", "2001:db8::1", "2001:db8::1"),
            ("::1", "203.0.113.9", "203.0.113.9"),
            ("198.51.100.1", "10.0.0.5", "198.51.100.1"),
            ("127.0.0.1", "not an address", "127.0.0.1"),
            ("127.0.0.1", None, "127.0.0.1"),
        ],
        ids=["loopback", "private", "ipv6-loopback", "untrusted", "garbage", "absent"],
    )
    def test_the_header_counts_from_trusted_peers_only(
        self, peer: str, header: str | None, expected: str
    ) -> None:
        assert client_address(peer, header, TRUSTED) == expected

    def test_with_no_trusted_networks_nobody_is_believed(self) -> None:
        assert client_address("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"


class TestGrpcMetadata:
    def test_the_context_crosses_a_call_intact(self) -> None:
        sent = ActorContext(ip="203.0.113.9", user_agent="Mozilla/5.0 (X11; ü)", request_id="r-1")

        received = from_grpc("ipv4:10.1.2.3:5000", dict(sent.metadata()), TRUSTED)

        assert received == sent

    def test_an_untrusted_caller_sends_no_context(self) -> None:
        sent = ActorContext(ip="203.0.113.9", user_agent="x", request_id="r-1")

        assert from_grpc("ipv4:198.51.100.7:5000", dict(sent.metadata()), TRUSTED) is None

    def test_an_ipv6_peer_is_understood(self) -> None:
        sent = ActorContext(ip="203.0.113.9")

        assert from_grpc("ipv6:[::1]:5000", dict(sent.metadata()), TRUSTED) == sent


def test_the_context_is_set_for_the_block_only() -> None:
    with actor_context(ActorContext(ip="203.0.113.9")):
        assert current_actor_context() == ActorContext(ip="203.0.113.9")
    assert current_actor_context() is None
