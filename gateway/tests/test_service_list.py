"""The gateway knows exactly the services of agencyos.common.services: an upstream URL setting
for each (defaulting to its local port), and routes only to them. In process, no network."""

from __future__ import annotations

import pytest

from agencyos.common.services import SERVICE_PORTS, SERVICES
from agencyos.common.settings import ServiceSettings
from agencyos.gateway.openapi import SERVICES as MERGED
from agencyos.gateway.routes import ROUTES, STREAM
from agencyos.gateway.settings import GatewaySettings


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_an_upstream_at_its_local_port(service: str) -> None:
    url = GatewaySettings.model_fields[f"{service}_url"].default

    assert url == f"http://127.0.0.1:{SERVICE_PORTS[service][0]}"


def test_no_upstream_setting_names_a_service_that_does_not_exist() -> None:
    own = set(GatewaySettings.model_fields) - set(ServiceSettings.model_fields)
    upstreams = {name.removesuffix("_url") for name in own if name.endswith("_url")}

    # `stream`: notification's stream process, when it is deployed apart
    assert upstreams == {*SERVICES, STREAM}


def test_routes_and_the_merged_openapi_cover_exactly_the_services() -> None:
    assert set(ROUTES.values()) == {*SERVICES, STREAM}
    assert set(MERGED) == set(SERVICES)


def test_the_stream_goes_to_notification_unless_its_process_is_deployed_apart() -> None:
    assert GatewaySettings().upstream_url(STREAM) == GatewaySettings().upstream_url("notification")
    apart = GatewaySettings(stream_url="http://notification-stream:8080/")

    assert apart.upstream_url(STREAM) == "http://notification-stream:8080"
