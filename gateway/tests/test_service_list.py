"""The gateway knows exactly the services of agencyos.common.services: an upstream URL setting
for each (defaulting to its local port), and routes only to them. In process, no network."""

from __future__ import annotations

import pytest

from agencyos.common.services import SERVICE_PORTS, SERVICES
from agencyos.common.settings import ServiceSettings
from agencyos.gateway.openapi import SERVICES as MERGED
from agencyos.gateway.routes import ROUTES
from agencyos.gateway.settings import GatewaySettings


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_an_upstream_at_its_local_port(service: str) -> None:
    url = GatewaySettings.model_fields[f"{service}_url"].default

    assert url == f"http://127.0.0.1:{SERVICE_PORTS[service][0]}"


def test_no_upstream_setting_names_a_service_that_does_not_exist() -> None:
    own = set(GatewaySettings.model_fields) - set(ServiceSettings.model_fields)
    upstreams = {name.removesuffix("_url") for name in own if name.endswith("_url")}

    assert upstreams == set(SERVICES)


def test_routes_and_the_merged_openapi_cover_exactly_the_services() -> None:
    assert set(ROUTES.values()) == set(SERVICES)
    assert set(MERGED) == set(SERVICES)
