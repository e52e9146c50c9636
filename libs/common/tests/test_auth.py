"""Token verification, attacker-style: `JwksVerifier` against a real HTTP JWKS endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from agencyos.common.auth import JwksVerifier, Principal, bearer_token
from agencyos.common.errors import (
    EmailNotVerified,
    PermissionDenied,
    ServiceUnavailable,
    Unauthenticated,
)
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.infra import free_port
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def hand_made_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}.{b64url(signature)}"


def make_verifier(jwks_url: str, **overrides: Any) -> JwksVerifier:
    return JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE, **overrides)


@pytest.fixture
async def verifier(jwks_url: str) -> AsyncIterator[JwksVerifier]:
    v = make_verifier(jwks_url, min_refresh_seconds=0)
    yield v
    await v.close()


class TestValidToken:
    async def test_it_yields_the_user_tenant_and_role_of_the_token(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        user, agency = uuid.uuid4(), uuid.uuid4()
        token = test_keys.mint(sub=str(user), tid=str(agency), role="manager", jti="tok-1")

        principal = await verifier.verify(token)

        assert (principal.user_id, principal.tenant_id, principal.role) == (
            user,
            agency,
            Role.MANAGER,
        )
        assert principal.token == token
        assert principal.token_id == "tok-1"

    async def test_without_a_perms_claim_the_role_defaults_apply(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        principal = await verifier.verify(test_keys.mint(role="member"))

        assert principal.permissions == DEFAULT_ROLE_PERMISSIONS[Role.MEMBER]
        assert not principal.can("invoices.write")

    async def test_a_perms_claim_overrides_the_role_defaults(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        token = test_keys.mint(role="member", perms=["invoices.write"])

        principal = await verifier.verify(token)

        assert principal.permissions == frozenset({"invoices.write"})
        assert not principal.can("tasks.write")

    async def test_a_client_users_client_id_is_carried(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        client = uuid.uuid4()

        principal = await verifier.verify(test_keys.mint(role="client", cid=str(client)))

        assert principal.client_id == client
        assert principal.permissions == DEFAULT_ROLE_PERMISSIONS[Role.CLIENT]

    @pytest.mark.parametrize(
        ("claim", "verified"),
        [(None, True), (True, True), (False, False)],
        ids=["absent", "true", "false"],
    )
    async def test_email_verified_is_true_unless_the_token_says_false(
        self, verifier: JwksVerifier, test_keys: TestKeys, claim: bool | None, verified: bool
    ) -> None:
        principal = await verifier.verify(test_keys.mint(email_verified=claim))

        assert principal.email_verified is verified
        if verified:
            principal.require_verified_email("invite people")
        else:
            with pytest.raises(EmailNotVerified, match="before you invite people"):
                principal.require_verified_email("invite people")

    async def test_the_agencys_ip_allowlist_is_carried(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        listed = await verifier.verify(test_keys.mint(ipal=["203.0.113.0/24"]))
        unlisted = await verifier.verify(test_keys.mint())

        assert listed.ip_allowlist == ("203.0.113.0/24",)
        assert unlisted.ip_allowlist == ()

    @pytest.mark.parametrize(
        "ipal", ["203.0.113.0/24", [1, 2], {"a": 1}], ids=["str", "ints", "obj"]
    )
    async def test_a_malformed_ip_allowlist_is_refused(
        self, verifier: JwksVerifier, test_keys: TestKeys, ipal: object
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(ipal=ipal))


class TestForgedTokens:
    async def test_an_alg_none_token_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        token = hand_made_token(
            {"alg": "none", "typ": "JWT", "kid": test_keys.current.kid}, test_keys.claims(), b""
        )

        with pytest.raises(Unauthenticated):
            await verifier.verify(token)

    async def test_an_hs256_token_keyed_with_the_public_key_pem_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        # The classic algorithm-confusion attack: the public key is no secret.
        public_pem = test_keys.current.as_pem(private=False)
        header = {"alg": "HS256", "typ": "JWT", "kid": test_keys.current.kid}
        signing_input = f"{b64url_json(header)}.{b64url_json(test_keys.claims())}"
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

        with pytest.raises(Unauthenticated):
            await verifier.verify(f"{signing_input}.{b64url(signature)}")

    async def test_a_token_naming_an_unknown_kid_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        token = test_keys.mint(header={"kid": "no-such-key"})

        with pytest.raises(Unauthenticated, match="unknown"):
            await verifier.verify(token)

    async def test_a_token_naming_no_kid_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        claims = test_keys.claims()
        token = jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, test_keys.current)

        with pytest.raises(Unauthenticated):
            await verifier.verify(token)

    async def test_a_token_signed_by_a_foreign_key_under_a_published_kid_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        impostor = RSAKey.generate_key(2048, parameters={"kid": test_keys.current.kid})

        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(impostor))

    async def test_a_tampered_payload_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        header, payload, signature = test_keys.mint(role="member").split(".")
        claims = json.loads(b64url_decode(payload))
        claims["role"] = "owner"
        tampered = f"{header}.{b64url_json(claims)}.{signature}"

        with pytest.raises(Unauthenticated):
            await verifier.verify(tampered)

    @pytest.mark.parametrize(
        "garbage",
        ["", "garbage", "a.b.c", "not.a.jwt.at.all", "eyJhbGciOiJSUzI1NiJ9.e30."],
    )
    async def test_garbage_is_rejected(self, verifier: JwksVerifier, garbage: str) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(garbage)


class TestClaimChecks:
    async def test_an_expired_token_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        now = int(time.time())

        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(iat=now - 7200, exp=now - 3600))

    async def test_a_token_from_another_issuer_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(iss="someone-else"))

    async def test_a_token_for_another_audience_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(aud="another-api"))

    async def test_a_token_without_a_tenant_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(tid=None))

    async def test_a_token_without_an_expiry_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(exp=None))

    async def test_a_token_with_an_unknown_role_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(role="superuser"))

    async def test_a_token_whose_subject_is_not_a_uuid_is_rejected(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated):
            await verifier.verify(test_keys.mint(sub="admin"))

    async def test_a_rejection_answers_with_a_bearer_challenge(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(test_keys.mint(aud="another-api"))

        assert rejected.value.status == 401
        assert rejected.value.headers["WWW-Authenticate"].startswith("Bearer")


class TestRejectionDetails:
    """A rejection says what is wrong in plain words; the library's exception stays in the
    chain for the logs and is never named to the caller."""

    async def test_an_expired_token_is_said_to_have_expired(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        now = int(time.time())

        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(test_keys.mint(iat=now - 7200, exp=now - 3600))

        assert rejected.value.detail == "the token has expired"
        assert rejected.value.__cause__ is not None

    async def test_a_bad_signature_is_said_to_be_not_valid_without_naming_the_library(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        impostor = RSAKey.generate_key(2048, parameters={"kid": test_keys.current.kid})

        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(test_keys.mint(impostor))

        assert rejected.value.detail == "the token is not valid"
        assert type(rejected.value.__cause__).__name__ not in str(rejected.value.problem())

    @pytest.mark.parametrize("claims", [{"aud": "another-api"}, {"iss": "someone-else"}])
    async def test_a_failed_claim_check_is_said_to_be_not_valid(
        self, verifier: JwksVerifier, test_keys: TestKeys, claims: dict[str, Any]
    ) -> None:
        with pytest.raises(Unauthenticated) as rejected:
            await verifier.verify(test_keys.mint(**claims))

        assert rejected.value.detail == "the token is not valid"
        assert "Error" not in json.dumps(rejected.value.problem())


class TestKeyRotation:
    async def test_a_token_signed_by_a_key_published_after_caching_is_accepted(
        self, verifier: JwksVerifier, test_keys: TestKeys
    ) -> None:
        await verifier.verify(test_keys.mint())  # the key set is now cached
        rotated = test_keys.add_key()
        user = uuid.uuid4()

        principal = await verifier.verify(test_keys.mint(rotated, sub=str(user)))

        assert principal.user_id == user

    async def test_unknown_kids_do_not_refetch_the_key_set_more_often_than_allowed(
        self, jwks_url: str, test_keys: TestKeys
    ) -> None:
        # Otherwise anyone could make every service hammer identity with made-up kids.
        throttled = make_verifier(jwks_url, min_refresh_seconds=3600)
        try:
            await throttled.verify(test_keys.mint())
            rotated = test_keys.add_key()

            with pytest.raises(Unauthenticated):
                await throttled.verify(test_keys.mint(rotated))
        finally:
            await throttled.close()

    async def test_an_unreachable_key_set_answers_service_unavailable_not_unauthenticated(
        self, test_keys: TestKeys
    ) -> None:
        unreachable = make_verifier(f"http://127.0.0.1:{free_port()}/.well-known/jwks.json")
        try:
            with pytest.raises(ServiceUnavailable):
                await unreachable.verify(test_keys.mint())
        finally:
            await unreachable.close()


class TestBearerToken:
    def test_a_bearer_header_yields_the_token(self) -> None:
        assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"

    def test_the_scheme_is_case_insensitive(self) -> None:
        assert bearer_token("bearer abc") == "abc"

    @pytest.mark.parametrize(
        "header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "abc"]
    )
    def test_anything_else_is_unauthenticated(self, header: str | None) -> None:
        with pytest.raises(Unauthenticated):
            bearer_token(header)


class TestPrincipal:
    def test_require_refuses_a_missing_permission_with_permission_denied(self) -> None:
        principal = Principal(
            user_id=uuid.uuid4(),
            tenant_id=uuid.uuid4(),
            role=Role.MEMBER,
            permissions=DEFAULT_ROLE_PERMISSIONS[Role.MEMBER],
            token="t",
        )

        with pytest.raises(PermissionDenied, match=r"invoices\.write") as refused:
            principal.require("invoices.write")

        assert refused.value.status == 403
