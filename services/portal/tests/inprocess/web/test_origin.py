"""Where a page's form may come from: the public base URL's origin, or the portal's own
domain when it has one; the Origin decides, else the Referer; neither is refused."""

from __future__ import annotations

import pytest

from agencyos.portal.settings import PortalSettings
from agencyos.portal.web.context import same_site

SETTINGS = PortalSettings(
    public_base_url="https://api.example.com", portal_base_url="https://portal.example.com/"
)


@pytest.mark.parametrize(
    ("origin", "referer", "allowed"),
    [
        ("https://api.example.com", None, True),
        ("https://portal.example.com", None, True),
        ("HTTPS://API.EXAMPLE.COM", None, True),
        ("https://evil.example", "https://api.example.com/portal/acme/", False),
        ("null", None, False),
        ("http://api.example.com", None, False),  # another scheme is another origin
        ("https://api.example.com:8443", None, False),
        ("https://api.example.com.evil.example", None, False),
        (None, "https://portal.example.com/portal/acme/sign-in", True),
        (None, "https://evil.example/portal/acme/", False),
        (None, None, False),
    ],
)
def test_a_form_is_taken_only_from_the_portals_own_origin(
    origin: str | None, referer: str | None, allowed: bool
) -> None:
    assert same_site(SETTINGS, origin, referer) is allowed


def test_without_a_portal_domain_only_the_public_origin_counts() -> None:
    settings = PortalSettings(public_base_url="https://api.example.com")

    assert same_site(settings, "https://api.example.com", None)
    assert not same_site(settings, "https://portal.example.com", None)
