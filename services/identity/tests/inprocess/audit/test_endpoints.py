"""`GET /v1/audit-log`, its CSV export and `/verify`: filters, cursor pages, who may read, and
that an agency only ever sees its own records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.audit import GENESIS, recomputed_hash
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import InProcess

Append = Callable[..., Awaitable[list[Any]]]
AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

LOG = "/v1/audit-log"


def unguard(cell: str) -> str:
    """A CSV cell without the export's formula guard (one leading `'`), as documented."""
    return cell.removeprefix("'")


async def listed(identity: httpx.AsyncClient, who: AgencySession, **params: Any) -> dict[str, Any]:
    response = await identity.get(LOG, headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestListing:
    async def test_records_are_newest_first_with_every_field(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, 2)
        (last,) = await append(
            agency.agency_id,
            action="member.role_changed",
            entity_type="member",
            entity_id="m-9",
            actor_id=str(agency.user_id),
            changes={"role": ("member", "admin")},
            request_id="req-9",
        )

        body = await listed(identity, agency)

        assert [r["seq"] for r in body["items"]] == [3, 2, 1]
        assert body["next_cursor"] is None
        newest = body["items"][0]
        assert newest["event_id"] == str(last.id)
        assert newest["action"] == "member.role_changed"
        assert newest["actor"] == {
            "type": "user",
            "id": str(agency.user_id),
            "label": "someone@example.com",
        }
        assert newest["changes"] == {"role": {"before": "member", "after": "admin"}}
        assert (newest["ip"], newest["user_agent"], newest["request_id"]) == (
            "203.0.113.7",
            "pytest-agent/1.0",
            "req-9",
        )
        assert newest["prev_hash"] == body["items"][1]["hash"]
        assert body["items"][2]["prev_hash"] == GENESIS

    async def test_an_empty_log_is_an_empty_page(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = await listed(identity, agency)

        assert body == {"items": [], "next_cursor": None}


class TestFilters:
    @pytest.fixture
    async def mixed(self, agency: AgencySession, append: Append) -> AgencySession:
        day = datetime(2026, 11, 1, tzinfo=UTC)
        await append(
            agency.agency_id,
            action="invoice.sent",
            entity_type="invoice",
            entity_id="inv-1",
            actor_id="u-1",
            time=day,
        )
        await append(
            agency.agency_id,
            action="invoice.voided",
            entity_type="invoice",
            entity_id="inv-1",
            actor_id="u-2",
            time=day + timedelta(days=1),
        )
        await append(
            agency.agency_id,
            action="invoices_report.exported",
            entity_type="report",
            entity_id="r-1",
            actor_id="u-1",
            time=day + timedelta(days=2),
        )
        await append(
            agency.agency_id,
            action="api_key.created",
            entity_type="api_key",
            entity_id="k-1",
            actor_type="api_key",
            actor_id="k-0",
            time=day + timedelta(days=3),
        )
        return agency

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"action": "invoice.sent"}, ["invoice.sent"]),
            ({"action": "invoice.*"}, ["invoice.voided", "invoice.sent"]),
            ({"actor_id": "u-1"}, ["invoices_report.exported", "invoice.sent"]),
            ({"actor_type": "api_key"}, ["api_key.created"]),
            ({"entity_type": "invoice", "entity_id": "inv-1"}, ["invoice.voided", "invoice.sent"]),
            (
                {"from": "2026-11-02T00:00:00Z", "to": "2026-11-04T00:00:00Z"},
                ["invoices_report.exported", "invoice.voided"],
            ),
            ({"action": "invoice.*", "actor_id": "u-2"}, ["invoice.voided"]),
        ],
        ids=[
            "exact-action",
            "action-prefix",
            "actor",
            "actor-type",
            "entity",
            "time-range",
            "combined",
        ],
    )
    async def test_filters_narrow_the_log(
        self,
        identity: httpx.AsyncClient,
        mixed: AgencySession,
        params: dict[str, str],
        expected: list[str],
    ) -> None:
        body = await listed(identity, mixed, **params)

        assert [r["action"] for r in body["items"]] == expected

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"action": "invoice.%"}, "query.action"),
            ({"action": "*"}, "query.action"),
            ({"actor_type": "robot"}, "query.actor_type"),
            ({"from": "yesterday"}, "query.from"),
            ({"from": "2026-11-02T00:00:00"}, "query.from"),
            ({"from": "0001-01-01T00:00:00+05:00"}, "query.from"),
            ({"to": "9999-12-31T23:59:59-05:00"}, "query.to"),
            ({"from": "2026-11-03T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, "query.from"),
            ({"cursor": "1"}, "query.cursor"),
            ({"cursor": "ev1_AAAAAAAAAAE"}, "query.cursor"),
            ({"limit": "0"}, "query.limit"),
            ({"limit": "201"}, "query.limit"),
            ({"entity_id": "a b"}, "query.entity_id"),
        ],
        ids=[
            "like-wildcard",
            "bare-star",
            "actor-type",
            "not-a-time",
            "no-time-zone",
            "before-year-1",
            "after-year-9999",
            "inverted-range",
            "cursor-garbage",
            "foreign-cursor",
            "limit-0",
            "limit-201",
            "entity-id-space",
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        params: dict[str, str],
        field: str,
    ) -> None:
        response = await identity.get(LOG, headers=agency.headers, params=params)

        assert_invalid_fields(response, field)


class TestCursor:
    async def test_pages_continue_where_they_left_off_while_the_log_grows(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, 7)
        seen: list[int] = []

        first = await listed(identity, agency, limit=3)
        seen += [r["seq"] for r in first["items"]]
        await append(agency.agency_id, 5)  # newer records arrive between pages
        second = await listed(identity, agency, limit=3, cursor=first["next_cursor"])
        seen += [r["seq"] for r in second["items"]]
        third = await listed(identity, agency, limit=3, cursor=second["next_cursor"])
        seen += [r["seq"] for r in third["items"]]

        assert seen == [7, 6, 5, 4, 3, 2, 1]
        assert third["next_cursor"] is None
        assert first["next_cursor"].startswith("al1_")

    async def test_a_page_ending_exactly_at_the_last_record_has_no_cursor(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, 4)

        first = await listed(identity, agency, limit=2)
        second = await listed(identity, agency, limit=2, cursor=first["next_cursor"])

        assert [r["seq"] for r in second["items"]] == [2, 1]
        assert second["next_cursor"] is None


class TestWhoMayRead:
    @pytest.mark.parametrize("role", ["admin"])
    async def test_owners_and_admins_read_the_log(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        append: Append,
        role: str,
    ) -> None:
        await append(agency.agency_id)
        admin = await add_member(agency, role)

        for who in (agency, admin):
            assert len((await listed(identity, who))["items"]) == 1
            verify = await identity.get(f"{LOG}/verify", headers=who.headers)
            assert verify.status_code == 200, verify.text

    @pytest.mark.parametrize("role", ["manager", "member", "client"])
    @pytest.mark.parametrize("path", ["", "/export", "/verify"], ids=["list", "export", "verify"])
    async def test_other_roles_get_403(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        role: str,
        path: str,
    ) -> None:
        who = await add_member(agency, role)

        response = await identity.get(LOG + path, headers=who.headers)

        assert_problem(response, 403)

    async def test_without_a_token_it_is_401(self, identity: httpx.AsyncClient) -> None:
        assert_problem(await identity.get(LOG), 401)

    @pytest.mark.parametrize(
        ("role", "status"), [("admin", 200), ("manager", 403), ("member", 403)]
    )
    async def test_api_keys_read_by_their_role(
        self,
        identity: httpx.AsyncClient,
        in_process: InProcess,
        agency: AgencySession,
        role: str,
        status: int,
    ) -> None:
        created = await identity.post(
            "/v1/api-keys", headers=agency.headers, json={"name": f"{role} key", "role": role}
        )
        assert created.status_code == 201, created.text
        async with grpc.aio.insecure_channel(await in_process.grpc_target("identity")) as channel:
            resolved = await identity_pb2_grpc.IdentityServiceStub(channel).ResolveApiKey(
                identity_pb2.ResolveApiKeyRequest(api_key=created.json()["key"])
            )

        response = await identity.get(
            LOG, headers={"Authorization": f"Bearer {resolved.access_token}"}
        )

        assert response.status_code == status, response.text


class TestTenancy:
    async def test_another_agencys_records_are_never_seen(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        append: Append,
    ) -> None:
        (theirs,) = await append(other_agency.agency_id, action="invoice.sent", entity_id="x")
        await append(agency.agency_id, action="invoice.sent", entity_id="x")

        mine = await listed(identity, agency, entity_id="x")
        exported = await identity.get(f"{LOG}/export", headers=agency.headers)
        verified = await identity.get(f"{LOG}/verify", headers=agency.headers)

        assert len(mine["items"]) == 1
        assert mine["items"][0]["event_id"] != str(theirs.id)
        assert str(theirs.id) not in exported.text
        assert verified.json() == {"ok": True, "records": 1, "broken": None}

    async def test_a_cursor_of_another_agency_shows_only_your_own_records(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        append: Append,
    ) -> None:
        await append(other_agency.agency_id, 5)
        await append(agency.agency_id, 2)
        theirs = await listed(identity, other_agency, limit=1)

        mine = await listed(identity, agency, cursor=theirs["next_cursor"])

        assert {r["seq"] for r in mine["items"]} <= {1, 2}
        assert all(r["actor"]["label"] for r in mine["items"])


class TestExport:
    async def test_every_record_is_exported_as_csv_with_what_recomputes_the_chain(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, 3, detail={"note": "naïve ünïcode"})
        await append(agency.agency_id, user_agent='=HYPERLINK("http://evil")')
        await append(agency.agency_id, user_agent="'quoted'", actor_label="-dash")

        response = await identity.get(f"{LOG}/export", headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].startswith(
            'attachment; filename="audit-log-'
        )
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [int(r["seq"]) for r in rows] == [5, 4, 3, 2, 1]
        # formulas are made inert, and a leading `'` is guarded too: one `'` added
        assert rows[1]["user_agent"] == '\'=HYPERLINK("http://evil")'
        assert (rows[0]["user_agent"], rows[0]["actor_label"]) == ("''quoted'", "'-dash")
        # An auditor recomputes each hash from the file alone (as documented).
        prev = GENESIS
        for row in reversed(rows):
            fields: dict[str, Any] = {k: (unguard(v) or None) for k, v in row.items()}
            fields["seq"] = int(row["seq"])
            fields["changes"] = json.loads(row["changes"])
            fields["detail"] = json.loads(row["detail"])
            assert row["prev_hash"] == prev
            assert row["hash"] == recomputed_hash(prev, fields)
            prev = row["hash"]

    async def test_the_export_streams_past_a_batch(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, 520)

        response = await identity.get(f"{LOG}/export", headers=agency.headers)

        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [int(r["seq"]) for r in rows] == list(range(520, 0, -1))

    async def test_the_export_honours_the_filters(
        self, identity: httpx.AsyncClient, agency: AgencySession, append: Append
    ) -> None:
        await append(agency.agency_id, action="invoice.sent")
        await append(agency.agency_id, action="api_key.created")

        response = await identity.get(
            f"{LOG}/export", headers=agency.headers, params={"action": "invoice.*"}
        )

        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["action"] for r in rows] == ["invoice.sent"]

    async def test_exporting_is_itself_recorded(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        response = await identity.get(
            f"{LOG}/export",
            headers={**agency.headers, "User-Agent": "auditor/2.0"},
            params={"action": "invoice.*"},
        )
        assert response.status_code == 200

        (event,) = [
            e
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] != "auth.email_verified"  # the factory verified the owner
        ]
        assert event["data"]["action"] == "audit_log.exported"
        assert event["data"]["actor_id"] == str(agency.user_id)
        assert event["data"]["detail"] == {"format": "csv", "filters": {"action": "invoice.*"}}
        assert event["actoragent"] == "auditor/2.0"
        assert event["requestid"] == response.headers["x-request-id"]


class TestIdentityRecordsItsOwnActions:
    async def test_creating_and_revoking_an_api_key_are_recorded(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        created = await identity.post(
            "/v1/api-keys", headers=agency.headers, json={"name": "CI", "role": "member"}
        )
        key_id = created.json()["id"]
        await identity.delete(f"/v1/api-keys/{key_id}", headers=agency.headers)

        events = [
            e
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] != "auth.email_verified"  # the factory verified the owner
        ]
        assert [(e["data"]["action"], e["data"]["entity_id"]) for e in events] == [
            ("api_key.created", key_id),
            ("api_key.revoked", key_id),
        ]
        assert events[0]["data"]["changes"]["role"] == {"before": None, "after": "member"}
        assert created.json()["key"] not in str(events)
