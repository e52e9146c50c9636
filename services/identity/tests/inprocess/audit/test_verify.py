"""`GET /v1/audit-log/verify` finds tampering: rows changed, removed or moved behind the
application's back (here by the owner role, which the application never connects as), each
reported at the seq where the chain first breaks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession
from agencyos.testing.inprocess import ServiceInProcess

Append = Callable[..., Awaitable[list[Any]]]

VERIFY = "/v1/audit-log/verify"


async def verify(identity: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await identity.get(VERIFY, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def tamper(service: ServiceInProcess, who: AgencySession, statement: str) -> None:
    await service.rows(statement, tenant_id=who.agency_id)


async def record_id(service: ServiceInProcess, who: AgencySession, seq: int) -> str:
    (row,) = await service.rows(
        f"SELECT id FROM audit_records WHERE seq = {seq}", tenant_id=who.agency_id
    )
    return str(row["id"])


class TestAnIntactLog:
    async def test_is_ok_with_its_record_count(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, 5)

        assert await verify(identity, agency) == {"ok": True, "records": 5, "broken": None}

    async def test_an_empty_log_is_ok(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        assert await verify(identity, agency) == {"ok": True, "records": 0, "broken": None}


class TestTampering:
    async def test_a_changed_field_is_a_hash_mismatch_at_its_seq(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 5)
        await tamper(
            identity_service, agency, "UPDATE audit_records SET ip = '10.0.0.1' WHERE seq = 3"
        )

        body = await verify(identity, agency)

        assert body["ok"] is False
        assert body["records"] == 2
        assert body["broken"]["seq"] == 3
        assert body["broken"]["id"] == await record_id(identity_service, agency, 3)
        assert body["broken"]["problem"] == "hash_mismatch"

    async def test_a_changed_json_field_is_found_too(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 3, changes={"role": ("member", "admin")})
        await tamper(
            identity_service,
            agency,
            "UPDATE audit_records SET changes = "
            """'{"role": {"before": "member", "after": "owner"}}' WHERE seq = 2""",
        )

        body = await verify(identity, agency)

        assert (body["broken"]["seq"], body["broken"]["problem"]) == (2, "hash_mismatch")

    async def test_a_row_rehashed_after_a_change_breaks_the_next_link(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        # A forger who recomputes the changed row's own hash still breaks the next one's link.
        await append(agency.agency_id, 4)
        from agencyos.testing.audit import recomputed_hash

        (row,) = await identity_service.rows(
            "SELECT * FROM audit_records WHERE seq = 2", tenant_id=agency.agency_id
        )
        forged = {**dict(row), "action": "nothing.happened"}
        new_hash = recomputed_hash(row["prev_hash"], forged)
        await tamper(
            identity_service,
            agency,
            f"UPDATE audit_records SET action = 'nothing.happened', hash = '{new_hash}' "
            "WHERE seq = 2",
        )

        body = await verify(identity, agency)

        assert (body["broken"]["seq"], body["broken"]["problem"]) == (3, "prev_hash_mismatch")
        assert body["broken"]["expected"] == new_hash

    async def test_a_deleted_row_is_a_gap_at_its_seq(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 5)
        await tamper(identity_service, agency, "DELETE FROM audit_records WHERE seq = 2")

        body = await verify(identity, agency)

        assert body["records"] == 1
        assert (body["broken"]["seq"], body["broken"]["problem"]) == (2, "seq_gap")
        assert body["broken"]["id"] == await record_id(identity_service, agency, 3)

    async def test_rows_cut_off_the_end_are_a_gap_after_the_last(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 5)
        await tamper(identity_service, agency, "DELETE FROM audit_records WHERE seq >= 4")

        body = await verify(identity, agency)

        assert body["records"] == 3
        assert body["broken"]["seq"] == 4
        assert body["broken"]["problem"] == "seq_gap"
        assert body["broken"]["id"] is None

    async def test_two_swapped_rows_are_found_at_the_first_of_them(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 5)
        await tamper(
            identity_service,
            agency,
            "UPDATE audit_records SET seq = 1000 WHERE seq = 2",
        )
        await tamper(identity_service, agency, "UPDATE audit_records SET seq = 2 WHERE seq = 3")
        await tamper(identity_service, agency, "UPDATE audit_records SET seq = 3 WHERE seq = 1000")

        body = await verify(identity, agency)

        assert body["records"] == 1
        assert body["broken"]["seq"] == 2
        assert body["broken"]["problem"] in {"hash_mismatch", "prev_hash_mismatch"}

    async def test_swapping_the_contents_of_two_rows_is_found(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        # Everything but seq moved: each row hashes (its seq is in the hash) — wrongly.
        await append(agency.agency_id, 4)
        await tamper(
            identity_service,
            agency,
            "UPDATE audit_records a SET action = b.action, entity_id = b.entity_id "
            "FROM audit_records b WHERE (a.seq, b.seq) IN ((2, 3), (3, 2))",
        )

        body = await verify(identity, agency)

        assert (body["broken"]["seq"], body["broken"]["problem"]) == (2, "hash_mismatch")

    async def test_another_agencys_tampering_does_not_show_in_yours(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 2)
        await append(other_agency.agency_id, 2)
        await tamper(identity_service, other_agency, "DELETE FROM audit_records WHERE seq = 1")

        assert (await verify(identity, agency))["ok"] is True
        assert (await verify(identity, other_agency))["ok"] is False
