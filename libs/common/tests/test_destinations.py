"""The one outbound-URL rule (agencyos.common.destinations), judged without any connection:
schemes, credentials in the URL, and every kind of address that leads inside."""

from __future__ import annotations

import ipaddress

import pytest

from agencyos.common.destinations import DestinationPolicy, RefusedDestination

STRICT = DestinationPolicy.of(False, [])


class TestParse:
    def test_a_public_https_url_is_admitted_with_its_default_port(self) -> None:
        destination = STRICT.parse("https://login.example.com/tenant")
        assert (destination.scheme, destination.host, destination.port) == (
            "https",
            "login.example.com",
            443,
        )

    @pytest.mark.parametrize(
        "url",
        [
            "http://login.example.com",
            "ftp://login.example.com",
            "file:///etc/passwd",
            "https://user:pw@login.example.com",
            "https://",
        ],
        ids=["http", "ftp", "file", "credentials", "no-host"],
    )
    def test_a_url_of_the_wrong_form_is_refused(self, url: str) -> None:
        with pytest.raises(RefusedDestination):
            STRICT.parse(url)

    @pytest.mark.parametrize(
        "url",
        [
            "https://169.254.169.254/latest/meta-data",
            "https://127.0.0.1:8443",
            "https://localhost",
            "https://10.0.0.5",
            "https://[::ffff:169.254.169.254]",
            "https://[::1]",
            "https://100.64.0.1",
        ],
        ids=[
            "metadata",
            "loopback",
            "localhost",
            "rfc1918",
            "mapped-metadata",
            "v6-loopback",
            "cgnat",
        ],
    )
    def test_a_private_address_written_in_the_url_is_refused(self, url: str) -> None:
        with pytest.raises(RefusedDestination):
            STRICT.parse(url)

    def test_http_and_a_listed_network_are_admitted_when_the_policy_allows_them(self) -> None:
        relaxed = DestinationPolicy.of(True, ["127.0.0.0/8"])
        assert relaxed.parse("http://127.0.0.1:18080/issuer").port == 18080
        with pytest.raises(RefusedDestination, match="metadata"):
            relaxed.check_address(ipaddress.ip_address("169.254.169.254"))


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    destination = STRICT.parse("https://localhost.")
    with pytest.raises(RefusedDestination):
        await STRICT.resolve(destination)
