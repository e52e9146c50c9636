"""identity records every security-relevant action in the agency's audit log (an
`audit.recorded` event in its outbox, in the action's own transaction): sign-in, refused
sign-in (in a transaction of its own, although the login answers 401 or 429), logout,
sessions, password reset, agency switch, members, roles, invitations, API keys and agency
settings; with the actor, the fields before and after, and never a secret."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from agencyos.common.auth import Principal
from agencyos.common.permissions import ALL_PERMISSIONS, Role
from agencyos.identity.agency.schemas import AgencyUpdate
from agencyos.identity.agency.service import agency_service
from agencyos.testing.audit_records import AuditRecord, assert_no_secret, audit_records
from agencyos.testing.factories import PASSWORD, AgencySession, invite, signup_agency
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import ServiceInProcess

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

LOCKOUT_THRESHOLD = 5


async def only(service: ServiceInProcess, action: str, tenant_id: uuid.UUID) -> AuditRecord:
    records = await audit_records(service, action=action, tenant_id=tenant_id)
    assert len(records) == 1, [r.action for r in records]
    return records[0]


async def login(
    identity: httpx.AsyncClient, email: str, password: str, slug: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if slug:
        body["agency_slug"] = slug
    return await identity.post("/v1/auth/login", json=body)


def assert_user(record: AuditRecord, who: AgencySession) -> None:
    assert (record.actor_type, record.actor_id) == ("user", str(who.user_id))
    assert record.source_service == "identity"


class Abandoned(Exception):
    """Raised to roll a transaction back after its action was done."""


async def update_then_abandon(service: ServiceInProcess, principal: Principal) -> None:
    """Change the agency's settings in a transaction that then fails (rolls back)."""
    async with service.ctx.database().transaction(principal.tenant_id) as session:
        await agency_service.update(session, principal, AgencyUpdate(invoice_prefix="RB-"))
        # Recorded in the transaction, as what it did...
        inside = await session.execute(
            text(
                "SELECT count(*) FROM outbox WHERE event_type = 'audit.recorded' "
                # not the owner's email verification (the test factory verifies every owner)
                "AND envelope->'data'->>'action' <> 'auth.email_verified'"
            )
        )
        assert inside.scalar_one() == 1
        raise Abandoned


class TestSignIn:
    async def test_a_sign_in_is_recorded_in_the_agency_it_opens_without_password_or_tokens(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)

        response = await login(identity, owner.email, PASSWORD)

        assert response.status_code == 200, response.text
        record = await only(identity_service, "auth.login_succeeded", owner.agency_id)
        assert_user(record, owner)
        assert record.actor_label == owner.email
        assert (record.entity_type, record.entity_id) == ("user", str(owner.user_id))
        assert record.detail["method"] == "password"
        body = response.json()
        assert_no_secret([record], PASSWORD, body["access_token"], body["refresh_token"])

    async def test_a_failed_sign_in_is_recorded_in_each_agency_of_the_email_although_it_is_401(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_membership: AddMembership,
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "member")
        wrong = "not the password at all"

        response = await login(identity, home.email.upper(), wrong)

        assert_problem(response, 401, "unauthenticated")
        for agency in (home, second):
            record = await only(identity_service, "auth.login_failed", agency.agency_id)
            assert record.actor_type == "anonymous"
            assert record.actor_id is None
            assert record.actor_label == home.email
            assert (record.entity_type, record.entity_id) == ("user", str(home.user_id))
            assert record.detail == {"reason": "invalid_credentials"}
            assert_no_secret([record], wrong)
        assert await audit_records(identity_service, action="auth.login_succeeded") == []

    async def test_a_failed_sign_in_is_not_told_to_an_agency_where_the_member_is_suspended(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        suspended = await identity.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text

        response = await login(identity, member.email, "wrong password here")

        assert_problem(response, 401, "unauthenticated")
        assert await audit_records(identity_service, action="auth.login_failed") == []

    async def test_an_unknown_email_records_nothing(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        await signup_agency(identity)

        response = await login(identity, "nobody-here@example.com", PASSWORD)

        assert_problem(response, 401, "unauthenticated")
        assert await audit_records(identity_service, action="auth.login_failed") == []

    async def test_a_locked_out_attempt_is_recorded_with_its_reason(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)
        for _ in range(LOCKOUT_THRESHOLD):
            assert_problem(await login(identity, owner.email, "guess"), 401, "unauthenticated")

        response = await login(identity, owner.email, PASSWORD)

        assert_problem(response, 429, "rate-limited")
        records = await audit_records(
            identity_service, action="auth.login_failed", tenant_id=owner.agency_id
        )
        assert [r.detail["reason"] for r in records] == ["invalid_credentials"] * (
            LOCKOUT_THRESHOLD
        ) + ["locked_out"]
        assert_no_secret(records, PASSWORD)

    async def test_switching_agency_is_recorded_in_the_agency_switched_to(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_membership: AddMembership,
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "manager")

        response = await identity.post(
            "/v1/auth/switch", json={"agency_id": str(second.agency_id)}, headers=home.headers
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, "auth.agency_switched", second.agency_id)
        assert_user(record, home)
        assert record.detail["from_agency_id"] == str(home.agency_id)
        assert (
            await audit_records(
                identity_service, action="auth.agency_switched", tenant_id=home.agency_id
            )
            == []
        )


class TestSessions:
    async def test_logout_is_recorded_with_the_sessions_it_ended(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)

        response = await identity.post(
            "/v1/auth/logout", json={"refresh_token": owner.refresh_token}, headers=owner.headers
        )

        assert response.status_code == 204, response.text
        record = await only(identity_service, "auth.logged_out", owner.agency_id)
        assert_user(record, owner)
        assert record.entity_type == "session"
        assert record.detail["sessions_ended"] == [record.entity_id]
        assert_no_secret([record], owner.refresh_token, owner.access_token)

    async def test_revoking_another_session_is_recorded(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)
        other = (await login(identity, owner.email, PASSWORD)).json()
        sessions = (await identity.get("/v1/sessions", headers=owner.headers)).json()["items"]
        (target,) = [s["id"] for s in sessions if not s["current"]]

        response = await identity.delete(f"/v1/sessions/{target}", headers=owner.headers)

        assert response.status_code == 204, response.text
        record = await only(identity_service, "session.revoked", owner.agency_id)
        assert_user(record, owner)
        assert (record.entity_type, record.entity_id) == ("session", target)
        assert record.detail == {"current": False}
        assert_no_secret([record], other["refresh_token"], other["access_token"])

    async def test_revoking_all_sessions_is_recorded_with_how_many_ended(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)
        for _ in range(2):
            assert (await login(identity, owner.email, PASSWORD)).status_code == 200

        response = await identity.post("/v1/sessions/revoke-all", headers=owner.headers)

        assert response.status_code == 204, response.text
        record = await only(identity_service, "session.all_revoked", owner.agency_id)
        assert_user(record, owner)
        assert record.detail == {"sessions_ended": 2, "include_current": False}

    async def test_a_reused_refresh_token_is_recorded_as_the_platform_ending_the_session(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)
        first = await identity.post("/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
        assert first.status_code == 200, first.text

        again = await identity.post("/v1/auth/refresh", json={"refresh_token": owner.refresh_token})

        assert_problem(again, 401, "unauthenticated")
        record = await only(identity_service, "session.reuse_detected", owner.agency_id)
        assert (record.actor_type, record.actor_id) == ("system", None)
        assert record.detail["user_id"] == str(owner.user_id)
        assert_no_secret([record], owner.refresh_token, first.json()["refresh_token"])


class TestPasswordReset:
    async def test_a_completed_reset_is_recorded_in_every_agency_of_the_user_without_secrets(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_membership: AddMembership,
        outbox: Outbox,
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "member")
        requested = await identity.post("/v1/auth/password-reset", json={"email": home.email})
        assert requested.status_code == 202, requested.text
        (event,) = [
            e
            for e in await outbox("identity.password_reset.requested")
            if e["data"]["user_id"] == str(home.user_id)
        ]
        token = event["data"]["token"]
        new_password = "a brand new passphrase"

        response = await identity.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": new_password},
        )

        assert response.status_code == 204, response.text
        for agency in (home, second):
            record = await only(identity_service, "auth.password_reset_completed", agency.agency_id)
            assert record.actor_type == "user"
            assert record.actor_id == str(home.user_id)
            assert record.entity_id == str(home.user_id)
            assert record.detail["password_changed"] is True
            assert_no_secret([record], token, new_password, PASSWORD)

    async def test_a_refused_reset_token_records_nothing(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        await signup_agency(identity)

        response = await identity.post(
            "/v1/auth/password-reset/confirm",
            json={"token": "pr_" + "x" * 43, "new_password": "a brand new passphrase"},
        )

        assert_problem(response, 400, "bad-request")
        assert await audit_records(identity_service, action="auth.password_reset_completed") == []


class TestMembers:
    async def test_a_role_change_is_recorded_with_the_role_before_and_after(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.patch(
            f"/v1/members/{member.user_id}", json={"role": "manager"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, "member.role_changed", agency.agency_id)
        assert_user(record, agency)
        assert (record.entity_type, record.entity_id) == ("member", str(member.user_id))
        assert record.changes == {"role": {"before": "member", "after": "manager"}}

    async def test_a_refused_role_change_records_nothing(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
    ) -> None:
        # The last owner cannot stop being one: 409, and the transaction rolls back.
        response = await identity.patch(
            f"/v1/members/{agency.user_id}", json={"role": "admin"}, headers=agency.headers
        )

        assert_problem(response, 409, "conflict")
        assert await audit_records(identity_service, action="member.role_changed") == []

    @pytest.mark.parametrize(
        ("path", "action", "before", "after"),
        [
            ("suspend", "member.suspended", "active", "suspended"),
            ("reactivate", "member.reactivated", "suspended", "active"),
        ],
        ids=["suspend", "reactivate"],
    )
    async def test_suspending_and_reactivating_are_recorded_with_the_status(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
        path: str,
        action: str,
        before: str,
        after: str,
    ) -> None:
        member = await add_member(agency, "member")
        if path == "reactivate":
            suspended = await identity.post(
                f"/v1/members/{member.user_id}/suspend", headers=agency.headers
            )
            assert suspended.status_code == 200, suspended.text

        response = await identity.post(
            f"/v1/members/{member.user_id}/{path}", headers=agency.headers
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, action, agency.agency_id)
        assert_user(record, agency)
        assert record.entity_id == str(member.user_id)
        assert record.changes == {"status": {"before": before, "after": after}}

    async def test_removing_a_member_is_recorded_with_their_role(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "manager")

        response = await identity.delete(f"/v1/members/{member.user_id}", headers=agency.headers)

        assert response.status_code == 204, response.text
        record = await only(identity_service, "member.removed", agency.agency_id)
        assert_user(record, agency)
        assert record.entity_id == str(member.user_id)
        assert record.before == {"role": "manager", "status": "active"}
        assert record.after == {"role": None, "status": None}

    async def test_permission_overrides_are_recorded_before_and_after(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.put(
            f"/v1/members/{member.user_id}/permissions",
            json={"granted": ["invoices.read"], "revoked": []},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, "member.permissions_changed", agency.agency_id)
        assert_user(record, agency)
        assert record.changes == {"granted_permissions": {"before": [], "after": ["invoices.read"]}}

    async def test_transferring_ownership_is_recorded(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        admin = await add_member(agency, "admin")

        response = await identity.post(
            f"/v1/members/{admin.user_id}/transfer-ownership", headers=agency.headers
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, "member.ownership_transferred", agency.agency_id)
        assert_user(record, agency)
        assert record.entity_id == str(admin.user_id)
        assert record.changes == {"role": {"before": "admin", "after": "owner"}}
        assert record.detail["former_owner_role"] == "admin"


class TestRoles:
    async def test_tuning_a_role_is_recorded_with_its_permissions_before_and_after(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
    ) -> None:
        response = await identity.put(
            "/v1/roles/member", json={"permissions": ["agency.read"]}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, "role.permissions_changed", agency.agency_id)
        assert_user(record, agency)
        assert (record.entity_type, record.entity_id) == ("role", "member")
        assert record.after == {"permissions": ["agency.read"]}
        assert "agency.read" in record.before["permissions"]
        assert "agency.read" not in record.detail["removed"]
        assert record.detail["added"] == []

    async def test_resetting_a_role_is_recorded(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
    ) -> None:
        tuned = await identity.put(
            "/v1/roles/member", json={"permissions": ["agency.read"]}, headers=agency.headers
        )
        assert tuned.status_code == 200, tuned.text

        response = await identity.post("/v1/roles/member/reset", headers=agency.headers)

        assert response.status_code == 200, response.text
        record = await only(identity_service, "role.permissions_reset", agency.agency_id)
        assert record.before == {"permissions": ["agency.read"]}
        assert sorted(record.after["permissions"]) == sorted(response.json()["permissions"])


class TestInvitations:
    async def test_creating_revoking_and_accepting_invitations_are_recorded_without_tokens(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
    ) -> None:
        revoked = await invite(identity, agency, "revoked-one@example.com", "member")
        kept = await invite(identity, agency, "kept-one@example.com", "manager")
        gone = await identity.delete(f"/v1/invitations/{revoked['id']}", headers=agency.headers)
        assert gone.status_code == 204, gone.text
        accepted = await identity.post(
            f"/v1/invitations/{kept['token']}/accept",
            json={"name": "Kept One", "password": PASSWORD},
        )
        assert accepted.status_code == 201, accepted.text
        joined = accepted.json()

        created = await audit_records(
            identity_service, action="invitation.created", tenant_id=agency.agency_id
        )
        assert [r.entity_id for r in created] == [revoked["id"], kept["id"]]
        assert created[1].after["email"] == "kept-one@example.com"
        assert created[1].after["role"] == "manager"
        assert_user(created[1], agency)
        record = await only(identity_service, "invitation.revoked", agency.agency_id)
        assert record.entity_id == revoked["id"]
        assert record.changes == {"state": {"before": "pending", "after": "revoked"}}
        record = await only(identity_service, "invitation.accepted", agency.agency_id)
        assert record.entity_id == kept["id"]
        assert (record.actor_type, record.actor_id) == ("user", joined["user"]["id"])
        assert record.after == {"user_id": joined["user"]["id"], "role": "manager"}
        everything = await audit_records(identity_service)
        assert_no_secret(
            everything,
            revoked["token"],
            kept["token"],
            PASSWORD,
            joined["access_token"],
            joined["refresh_token"],
        )


class TestApiKeys:
    async def test_creating_and_revoking_a_key_are_recorded_with_name_role_expiry_never_the_key(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
    ) -> None:
        created = await identity.post(
            "/v1/api-keys",
            json={"name": "Nightly BI", "role": "manager", "expires_in_days": 30},
            headers=agency.headers,
        )
        assert created.status_code == 201, created.text
        key = created.json()

        revoked = await identity.delete(f"/v1/api-keys/{key['id']}", headers=agency.headers)

        assert revoked.status_code == 204, revoked.text
        record = await only(identity_service, "api_key.created", agency.agency_id)
        assert_user(record, agency)
        assert (record.entity_type, record.entity_id) == ("api_key", key["id"])
        assert record.after["name"] == "Nightly BI"
        assert record.after["role"] == "manager"
        assert record.after["expires_at"][:10] == key["expires_at"][:10]
        record = await only(identity_service, "api_key.revoked", agency.agency_id)
        assert record.entity_id == key["id"]
        assert record.detail["name"] == "Nightly BI"
        secret_part = key["key"].removeprefix(key["prefix"])
        assert_no_secret(await audit_records(identity_service), key["key"], secret_part)

    async def test_a_key_the_caller_may_not_give_records_nothing(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        admin = await add_member(agency, "admin")

        response = await identity.post(
            "/v1/api-keys", json={"name": "Too strong", "role": "owner"}, headers=admin.headers
        )

        assert response.status_code in (403, 422), response.text
        assert await audit_records(identity_service, action="api_key.created") == []


class TestAgencySettings:
    async def test_changed_settings_are_recorded_field_by_field(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
    ) -> None:
        response = await identity.patch(
            "/v1/agency",
            json={"default_tax_rate_bps": 2000, "invoice_prefix": "NW-", "currency": "USD"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        record = await only(identity_service, "agency.settings_changed", agency.agency_id)
        assert_user(record, agency)
        assert (record.entity_type, record.entity_id) == ("agency", str(agency.agency_id))
        # The currency sent is the one it had: not a change.
        assert record.changes == {
            "default_tax_rate_bps": {"before": 0, "after": 2000},
            "invoice_prefix": {"before": "INV-", "after": "NW-"},
        }

    async def test_an_action_whose_transaction_rolls_back_leaves_no_record(
        self, identity: httpx.AsyncClient, identity_service: ServiceInProcess
    ) -> None:
        owner = await signup_agency(identity)
        principal = Principal(
            user_id=owner.user_id,
            tenant_id=owner.agency_id,
            role=Role.OWNER,
            permissions=ALL_PERMISSIONS,
            token="",
        )

        with pytest.raises(Abandoned):
            await update_then_abandon(identity_service, principal)

        # ...and gone with it.

        assert await audit_records(identity_service, action="agency.settings_changed") == []
