"""Event contracts: the CloudEvents 1.0 envelope, versioned payloads and their registry."""

from __future__ import annotations

import json
import uuid
from typing import ClassVar

import pytest

from agencyos.common.events import (
    ClientCreated,
    CloudEvent,
    EventPayload,
    MemberAdded,
    build_event,
    envelope,
    register,
    registered_events,
)


def client_created() -> ClientCreated:
    return ClientCreated(
        client_id=uuid.uuid4(),
        company_name="Acme",
        status="active",
        owner_id=None,
        created_by=uuid.uuid4(),
    )


class ClientCreatedV2(EventPayload):
    """A breaking change of crm.client.created (not registered; only for these tests)."""

    event_type: ClassVar[str] = "crm.client.created"
    version: ClassVar[int] = 2
    client_id: uuid.UUID
    legal_name: str


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish with it."""
    monkeypatch.setattr(envelope, "_REGISTRY", dict(envelope._REGISTRY))


class TestEnvelope:
    def test_it_is_cloudevents_1_0_json(self) -> None:
        event = build_event(client_created(), tenant_id=uuid.uuid4(), source_service="crm")

        wire = json.loads(event.model_dump_json(exclude_none=True))

        assert wire["specversion"] == "1.0"
        assert wire["datacontenttype"] == "application/json"
        assert {"id", "source", "type", "time", "dataschema", "tenantid", "data"} <= wire.keys()

    def test_it_carries_the_type_source_and_tenant(self) -> None:
        tenant = uuid.uuid4()

        event = build_event(
            client_created(), tenant_id=tenant, source_service="crm", subject="clients/1"
        )

        assert (event.type, event.source, event.tenantid, event.subject) == (
            "crm.client.created",
            "/agencyos/crm",
            tenant,
            "clients/1",
        )

    def test_the_dataschema_names_the_type_and_version(self) -> None:
        event = build_event(client_created(), tenant_id=uuid.uuid4(), source_service="crm")

        assert event.dataschema == "https://agencyos.dev/schemas/events/crm.client.created/v1"

    def test_a_new_version_gets_its_own_dataschema(self) -> None:
        assert ClientCreatedV2.dataschema().endswith("/crm.client.created/v2")

    def test_the_time_is_timezone_aware_utc(self) -> None:
        event = build_event(client_created(), tenant_id=uuid.uuid4(), source_service="crm")

        offset = event.time.utcoffset()
        assert offset is not None
        assert offset.total_seconds() == 0

    def test_every_event_gets_its_own_id(self) -> None:
        payload = client_created()
        tenant = uuid.uuid4()

        first = build_event(payload, tenant_id=tenant, source_service="crm")
        second = build_event(payload, tenant_id=tenant, source_service="crm")

        assert first.id != second.id

    def test_the_topic_is_the_producing_service(self) -> None:
        assert ClientCreated.topic() == "crm.events"
        assert MemberAdded.topic() == "identity.events"

    def test_an_envelope_from_another_spec_version_is_refused(self) -> None:
        wire = json.loads(
            build_event(
                client_created(), tenant_id=uuid.uuid4(), source_service="crm"
            ).model_dump_json()
        )
        wire["specversion"] = "0.3"

        with pytest.raises(ValueError, match="specversion"):
            CloudEvent.model_validate(wire)


class TestPayload:
    def test_it_round_trips_through_json(self) -> None:
        payload = client_created()
        sent = build_event(payload, tenant_id=uuid.uuid4(), source_service="crm")

        received = CloudEvent.model_validate_json(sent.model_dump_json(exclude_none=True))

        assert received.payload(ClientCreated) == payload

    def test_it_rejects_a_model_of_another_type(self) -> None:
        event = build_event(client_created(), tenant_id=uuid.uuid4(), source_service="crm")

        with pytest.raises(ValueError, match="is not MemberAdded"):
            event.payload(MemberAdded)

    def test_it_rejects_a_model_of_another_version_of_the_same_type(self) -> None:
        event = build_event(client_created(), tenant_id=uuid.uuid4(), source_service="crm")

        with pytest.raises(ValueError, match="is not ClientCreatedV2"):
            event.payload(ClientCreatedV2)

    def test_payloads_are_immutable(self) -> None:
        payload = client_created()

        with pytest.raises(ValueError, match="frozen"):
            payload.company_name = "Other"  # type: ignore[misc]


class TestRegistry:
    def test_the_platform_events_are_registered_by_type_and_version(self) -> None:
        registry = registered_events()

        assert registry[("crm.client.created", 1)] is ClientCreated
        assert registry[("identity.member.added", 1)] is MemberAdded

    @pytest.mark.usefixtures("isolated_registry")
    def test_a_second_class_for_the_same_type_and_version_is_refused(self) -> None:
        class CopiedClientCreated(EventPayload):
            event_type: ClassVar[str] = "crm.client.created"
            client_id: uuid.UUID

        with pytest.raises(RuntimeError, match="registered twice"):
            register(CopiedClientCreated)

        assert registered_events()[("crm.client.created", 1)] is ClientCreated

    @pytest.mark.usefixtures("isolated_registry")
    def test_registering_the_same_class_again_is_harmless(self) -> None:
        assert register(ClientCreated) is ClientCreated

    @pytest.mark.usefixtures("isolated_registry")
    def test_a_new_version_of_a_type_registers_beside_the_old_one(self) -> None:
        register(ClientCreatedV2)

        registry = registered_events()
        assert registry[("crm.client.created", 1)] is ClientCreated
        assert registry[("crm.client.created", 2)] is ClientCreatedV2
