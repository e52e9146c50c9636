"""The typed peer clients (`agencyos.common.peers`) against the real services: each answers
typed values for the caller's agency only, and one client asks once for what it was already
told."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agencyos.common.auth import Principal
from agencyos.common.errors import Unauthenticated
from agencyos.common.peers.crm import CrmClient
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.peers.time import TimeClient, TimeSelection
from agencyos.common.peers.work import WorkClient
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import AgencySession, add_member, new_project, new_task
from agencyos.testing.invoicing import new_books
from agencyos.testing.platform import Platform


def principal(who: AgencySession) -> Principal:
    role = Role(who.role)
    return Principal(
        user_id=who.user_id,
        tenant_id=who.agency_id,
        role=role,
        permissions=DEFAULT_ROLE_PERMISSIONS[role],
        token=who.access_token,
    )


async def calls(platform: Platform, service: str, method: str) -> float:
    async with httpx.AsyncClient(base_url=platform.url(service), timeout=10) as client:
        text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "agencyos_grpc_requests_total"
        and sample.labels.get("grpc_method", "").endswith(f"/{method}")
    )


class TestIdentityClient:
    async def test_members_are_typed_and_of_the_callers_agency_only(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        identity = IdentityClient(platform.grpc_target("identity"), 5.0)

        found = await identity.members(
            principal(agency), [agency.user_id, member.user_id, other_agency.user_id]
        )

        assert set(found) == {agency.user_id, member.user_id}
        assert found[member.user_id].role == "member"
        assert found[member.user_id].is_staff
        assert found[agency.user_id].agency_id == agency.agency_id
        assert await identity.member(principal(agency), other_agency.user_id) is None
        assert await identity.is_active_member(principal(agency), member.user_id)

    async def test_asking_again_for_known_people_makes_no_call(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        identity = IdentityClient(platform.grpc_target("identity"), 5.0)
        stranger = uuid.uuid4()
        await identity.members(principal(agency), [agency.user_id, stranger])
        before = await calls(platform, "identity", "GetMembers")

        again = await identity.members(principal(agency), [stranger, agency.user_id])

        assert set(again) == {agency.user_id}
        assert await calls(platform, "identity", "GetMembers") == before

    async def test_the_agency_is_typed(self, platform: Platform, agency: AgencySession) -> None:
        identity = IdentityClient(platform.grpc_target("identity"), 5.0)

        found = await identity.agency(principal(agency))

        assert found.id == agency.agency_id
        assert found.slug == agency.slug
        assert found.timezone.key

    async def test_an_unknown_api_key_is_refused_as_unauthenticated(
        self, platform: Platform
    ) -> None:
        identity = IdentityClient(platform.grpc_target("identity"), 5.0)

        with pytest.raises(Unauthenticated):
            await identity.resolve_api_key(f"ak_{uuid.uuid4().hex}")


class TestCrmWorkAndTimeClients:
    async def test_clients_projects_tasks_and_templates_of_another_agency_are_absent(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        books = await new_books(platform, gateway, agency, currency="EUR")
        task = await new_task(gateway, agency, str(books.project_id))
        theirs = await new_project(gateway, other_agency)
        crm = CrmClient(platform.grpc_target("crm"), 5.0)
        work = WorkClient(platform.grpc_target("work"), 5.0)
        caller = principal(agency)

        clients = await crm.clients(caller, [books.client_id, uuid.uuid4()])
        projects = await work.projects(caller, [books.project_id, uuid.UUID(theirs["id"])])
        tasks = await work.tasks(caller, [uuid.UUID(task["id"])])

        assert clients[books.client_id].currency == "EUR"
        assert list(projects) == [books.project_id]
        project = projects[books.project_id]
        assert (project.client_id, project.hourly_rate_cents, project.currency) == (
            books.client_id,
            12_345,
            "EUR",
        )
        assert project.member_ids == {agency.user_id}
        assert tasks[uuid.UUID(task["id"])].project_id == books.project_id
        assert await work.project_template(caller, uuid.uuid4()) is None

    async def test_the_time_client_lists_unbilled_time_typed(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency, currency="EUR")
        entry_ids = await books.time(3600, rate=10_000, day=date(2026, 3, 2))
        time = TimeClient(platform.grpc_target("time"), 5.0)

        entries = await time.unbilled_entries(principal(agency), TimeSelection(books.client_id))

        assert [e.id for e in entries] == entry_ids
        assert (entries[0].day, entries[0].duration_seconds, entries[0].rate_cents) == (
            date(2026, 3, 2),
            3600,
            10_000,
        )
