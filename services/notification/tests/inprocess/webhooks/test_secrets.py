"""Signing secrets: the Standard Webhooks form, encrypted at rest, and which ones sign now."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest

from agencyos.common.db import utcnow
from agencyos.notification.models import WebhookEndpoint
from agencyos.notification.webhooks.secrets import (
    UnreadableSecret,
    decrypt_secret,
    encrypt_secret,
    new_secret,
    seal,
    secret_bytes,
    signing_secrets,
)

KEY = "a key for these tests"


def endpoint_with(secret: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(tenant_id=uuid.uuid4(), id=uuid.uuid4())
    endpoint.secret_ciphertext = seal(endpoint, secret, key=KEY)
    return endpoint


class TestNewSecret:
    def test_is_whsec_and_the_base64_of_32_random_bytes(self) -> None:
        secret = new_secret()

        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert secret_bytes(secret) == base64.b64decode(secret[6:])

    def test_two_are_never_the_same(self) -> None:
        assert len({new_secret() for _ in range(100)}) == 100


class TestEncryption:
    def test_round_trips_and_the_ciphertext_holds_no_trace_of_the_secret(self) -> None:
        secret = new_secret()
        tenant_id, endpoint_id = uuid.uuid4(), uuid.uuid4()

        sealed = encrypt_secret(secret, key=KEY, tenant_id=tenant_id, endpoint_id=endpoint_id)

        assert secret not in sealed
        assert secret.removeprefix("whsec_") not in sealed
        assert decrypt_secret(sealed, key=KEY, tenant_id=tenant_id, endpoint_id=endpoint_id) == (
            secret
        )

    def test_the_same_secret_encrypts_differently_each_time(self) -> None:
        secret = new_secret()
        ids = {"tenant_id": uuid.uuid4(), "endpoint_id": uuid.uuid4()}

        assert encrypt_secret(secret, key=KEY, **ids) != encrypt_secret(secret, key=KEY, **ids)

    def test_another_key_cannot_read_it(self) -> None:
        ids = {"tenant_id": uuid.uuid4(), "endpoint_id": uuid.uuid4()}
        sealed = encrypt_secret(new_secret(), key=KEY, **ids)

        with pytest.raises(UnreadableSecret):
            decrypt_secret(sealed, key="another key", **ids)

    def test_a_ciphertext_copied_onto_another_endpoint_does_not_decrypt(self) -> None:
        tenant_id = uuid.uuid4()
        sealed = encrypt_secret(
            new_secret(), key=KEY, tenant_id=tenant_id, endpoint_id=uuid.uuid4()
        )

        with pytest.raises(UnreadableSecret):
            decrypt_secret(sealed, key=KEY, tenant_id=tenant_id, endpoint_id=uuid.uuid4())

    def test_a_tampered_ciphertext_does_not_decrypt(self) -> None:
        ids = {"tenant_id": uuid.uuid4(), "endpoint_id": uuid.uuid4()}
        raw = bytearray(base64.b64decode(encrypt_secret(new_secret(), key=KEY, **ids)))
        raw[-1] ^= 1

        with pytest.raises(UnreadableSecret):
            decrypt_secret(base64.b64encode(bytes(raw)).decode(), key=KEY, **ids)


class TestSigningSecrets:
    def test_without_a_rotation_only_the_current_secret_signs(self) -> None:
        secret = new_secret()

        assert signing_secrets(endpoint_with(secret), now=utcnow(), key=KEY) == [secret]

    def test_the_previous_secret_signs_too_until_its_grace_ends_then_only_the_new_one(
        self,
    ) -> None:
        old, new = new_secret(), new_secret()
        endpoint = endpoint_with(new)
        ends = utcnow() + timedelta(hours=24)
        endpoint.previous_secret_ciphertext = seal(endpoint, old, key=KEY)
        endpoint.previous_secret_expires_at = ends

        during = signing_secrets(endpoint, now=ends - timedelta(seconds=1), key=KEY)
        at_the_end = signing_secrets(endpoint, now=ends, key=KEY)
        after = signing_secrets(endpoint, now=ends + timedelta(hours=1), key=KEY)

        assert during == [new, old]
        assert at_the_end == [new]
        assert after == [new]
