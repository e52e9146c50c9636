"""`GET/PUT/DELETE /v1/agency/sso`: owners configure their agency's OpenID provider; the
issuer is fetched (its discovery document) under the outbound-URL rule before it is saved,
the client secret is sealed and never shown, and every change is in the audit log."""

from __future__ import annotations

import httpx
import pytest

from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.identity.settings import IdentitySettings
from agencyos.testing import oidc
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import ServiceInProcess

from ..conftest import AddMember, Outbox, _rows
from .conftest import CLIENT_SECRET, Configure


def body(issuer: str, **overrides: object) -> dict[str, object]:
    return {
        "issuer": issuer,
        "client_id": "agencyos",
        "client_secret": CLIENT_SECRET,
        "allowed_email_domains": ["Staff.Example"],
        **overrides,
    }


class TestSave:
    async def test_the_owner_saves_a_provider_and_reads_it_back_without_the_secret(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        issuer = oidc.new_issuer()

        saved = await identity.put("/v1/agency/sso", json=body(issuer), headers=agency.headers)
        read = await identity.get("/v1/agency/sso", headers=agency.headers)

        assert saved.status_code == 200, saved.text
        assert read.json() == saved.json()
        got = read.json()
        assert got["issuer"] == issuer
        assert got["allowed_email_domains"] == ["staff.example"]
        assert got["default_role"] == "member"
        assert (got["client_secret_set"], got["enabled"], got["sso_required"]) == (
            True,
            True,
            False,
        )
        assert got["redirect_uri"].endswith("/v1/auth/sso/callback")
        assert got["start_url"].endswith(f"/v1/auth/sso/{agency.slug}/start")
        assert CLIENT_SECRET not in read.text

    async def test_the_secret_is_stored_sealed_and_bound_to_the_agency(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        configure: Configure,
    ) -> None:
        await configure(agency)

        rows = await _rows(
            identity_service,
            "SELECT client_secret_sealed FROM sso_configurations WHERE tenant_id = $1",
            agency.agency_id,
            tenant_id=agency.agency_id,
        )

        sealed = rows[0]["client_secret_sealed"]
        assert sealed.startswith("v1.")
        assert CLIENT_SECRET not in sealed

    async def test_omitting_the_secret_keeps_the_stored_one(
        self,
        identity: httpx.AsyncClient,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        configure: Configure,
    ) -> None:
        provider = await configure(agency)
        query = "SELECT client_secret_sealed FROM sso_configurations WHERE tenant_id = $1"
        before = await _rows(identity_service, query, agency.agency_id, tenant_id=agency.agency_id)

        again = body(provider.issuer, client_secret=None, sso_required=True)
        del again["client_secret"]
        response = await identity.put("/v1/agency/sso", json=again, headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json()["sso_required"] is True
        after = await _rows(identity_service, query, agency.agency_id, tenant_id=agency.agency_id)
        assert after[0]["client_secret_sealed"] == before[0]["client_secret_sealed"]

    async def test_a_first_save_without_a_secret_is_refused(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = body(oidc.new_issuer())
        del first["client_secret"]

        response = await identity.put("/v1/agency/sso", json=first, headers=agency.headers)

        problem = assert_problem(response, 422, "invalid-input")
        assert problem["errors"][0]["field"] == "client_secret"

    @pytest.mark.parametrize("role", ["owner", "client"], ids=["owner", "client"])
    async def test_the_default_role_is_never_owner_nor_client(
        self, identity: httpx.AsyncClient, agency: AgencySession, role: str
    ) -> None:
        response = await identity.put(
            "/v1/agency/sso",
            json=body(oidc.new_issuer(), default_role=role),
            headers=agency.headers,
        )

        assert_problem(response, 422, "invalid-input")

    async def test_saving_records_the_change_in_the_audit_log_without_the_secret(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        issuer = oidc.new_issuer()

        await identity.put("/v1/agency/sso", json=body(issuer), headers=agency.headers)

        records = [
            e["data"]
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] == "sso.configuration_updated"
        ]
        assert len(records) == 1
        assert records[0]["changes"]["issuer"] == {"before": None, "after": issuer}
        assert records[0]["detail"] == {"client_secret_changed": True}
        assert records[0]["actor_id"] == str(agency.user_id)
        assert CLIENT_SECRET not in str(records[0])


class TestIssuerChecks:
    async def test_an_issuer_that_does_not_answer_is_refused(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # an allowed address (loopback is allowed in tests), where nothing listens
        response = await identity.put(
            "/v1/agency/sso", json=body("http://127.0.0.1:1/issuer"), headers=agency.headers
        )

        problem = assert_problem(response, 422, "invalid-input")
        assert problem["errors"][0]["field"] == "issuer"

    async def test_a_discovery_document_naming_another_issuer_is_refused(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # The provider serves `<x>/./<id>` as `<x>/<id>`, and its document says so: the
        # issuer it names is not the URL given (OpenID Connect Discovery §4.3 wants them equal).
        issuer = oidc.new_issuer().replace("/agency-", "/./agency-")

        response = await identity.put("/v1/agency/sso", json=body(issuer), headers=agency.headers)

        problem = assert_problem(response, 422, "invalid-input")
        assert "names issuer" in problem["detail"]

    @pytest.mark.parametrize(
        "issuer",
        [
            "http://login.example.com/tenant",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:169.254.169.254]/x",
            "https://127.0.0.1:18080/agency",
            "https://10.1.2.3/realm",
            "https://localhost/realm",
            "file:///etc/passwd",
            "https://user:password@login.example.com/x",
        ],
        ids=[
            "plain-http",
            "cloud-metadata",
            "mapped-metadata",
            "loopback",
            "private",
            "localhost",
            "file",
            "credentials",
        ],
    )
    async def test_production_refuses_an_issuer_that_is_not_public_https(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        strict_destinations: None,
        issuer: str,
    ) -> None:
        response = await identity.put("/v1/agency/sso", json=body(issuer), headers=agency.headers)

        problem = assert_problem(response, 422, "invalid-input")
        assert problem["errors"][0]["field"] == "issuer"
        assert "refused" in problem["detail"]

    async def test_the_metadata_address_stays_refused_where_http_is_allowed(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.put(
            "/v1/agency/sso",
            json=body("http://169.254.169.254/latest/meta-data"),
            headers=agency.headers,
        )

        problem = assert_problem(response, 422, "invalid-input")
        assert "metadata" in problem["detail"]


class TestDelete:
    async def test_deleting_removes_the_configuration_and_is_audited(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        outbox: Outbox,
    ) -> None:
        await configure(agency)

        deleted = await identity.delete("/v1/agency/sso", headers=agency.headers)
        read = await identity.get("/v1/agency/sso", headers=agency.headers)
        again = await identity.delete("/v1/agency/sso", headers=agency.headers)

        assert deleted.status_code == 204, deleted.text
        assert_problem(read, 404, "sso-not-configured")
        assert_problem(again, 404, "sso-not-configured")
        actions = [e["data"]["action"] for e in await outbox("audit.recorded", agency.agency_id)]
        assert "sso.configuration_deleted" in actions


class TestAccess:
    @pytest.mark.parametrize(
        "role", ["admin", "manager", "member"], ids=["admin", "manager", "member"]
    )
    async def test_a_role_without_security_manage_gets_403(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        configure: Configure,
        role: str,
    ) -> None:
        await configure(agency)
        someone = await add_member(agency, role)

        for response in (
            await identity.get("/v1/agency/sso", headers=someone.headers),
            await identity.put(
                "/v1/agency/sso", json=body(oidc.new_issuer()), headers=someone.headers
            ),
            await identity.delete("/v1/agency/sso", headers=someone.headers),
        ):
            assert_problem(response, 403)

    async def test_another_agency_sees_only_its_own_configuration(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        configure: Configure,
    ) -> None:
        await configure(agency)

        response = await identity.get("/v1/agency/sso", headers=other_agency.headers)
        deleted = await identity.delete("/v1/agency/sso", headers=other_agency.headers)

        assert_problem(response, 404, "sso-not-configured")
        assert_problem(deleted, 404, "sso-not-configured")
        mine = await identity.get("/v1/agency/sso", headers=agency.headers)
        assert mine.status_code == 200


class TestSettings:
    def test_production_refuses_http_or_private_issuers(self) -> None:
        for unsafe in ({"sso_allow_http": True}, {"sso_allowed_private_networks": ["10.0.0.0/8"]}):
            with pytest.raises(ValueError, match="SSO_ALLOW"):
                IdentitySettings(environment="production", **unsafe)  # type: ignore[arg-type]

    def test_production_refuses_the_local_public_base_url(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="PUBLIC_BASE_URL"):
            refuse_development_defaults(
                IdentitySettings(
                    environment="production",
                    service_credential="s3cret",
                    key_encryption_key="kek-of-its-own",
                )
            )
