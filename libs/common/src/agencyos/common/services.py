"""The AgencyOS services: the one list every other place reads (settings, the gateway, the test
platform, `make migrate`, the local stack and supervisor). Files that cannot import it (the
Helm values and schema, docker-compose.dev.yml, deploy/SERVICES.md, the Kubernetes manifests)
are checked against it by deploy/tests/test_service_list.py.

Standard library only, so shell scripts can ask for it cheaply:
`python -m agencyos.common.services` prints the names, one a line, in start-up order.
"""

from __future__ import annotations

# name -> default (HTTP port, gRPC port), in start-up order: identity first (every other
# service checks members and keys with it), the rest as they depend on one another.
SERVICE_PORTS: dict[str, tuple[int, int]] = {
    "identity": (8101, 9101),
    "crm": (8102, 9102),
    "work": (8103, 9103),
    "time": (8104, 9104),
    "billing": (8105, 9105),
    "notification": (8106, 9106),
    "portal": (8107, 9107),
}
SERVICES: tuple[str, ...] = tuple(SERVICE_PORTS)

# Kafka topics besides each service's `<service>.events` and `<service>.events.dlq`:
# notification's feed (every recorded feed entry, for the stream processes) and its webhook
# deliveries that failed for good (each with its attempts and body, for whoever investigates);
# every service's audit records (for identity's audit log) and those its audit worker could
# not append (its dead-letter topic).
EXTRA_TOPICS: tuple[str, ...] = (
    "notification.feed",
    "notification.webhooks.dead-letter",
    "audit.events",
    "audit.events.dlq",
)

GATEWAY = "gateway"
GATEWAY_PORT = 8080
GATEWAY_METRICS_PORT = 9080


def main() -> None:
    print("\n".join(SERVICES))


if __name__ == "__main__":
    main()
