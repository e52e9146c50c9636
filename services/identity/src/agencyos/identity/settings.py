from typing import ClassVar

from pydantic import Field

from agencyos.common.settings import ServiceSettings, service_config


class IdentitySettings(ServiceSettings):
    service_name = "identity"
    model_config = service_config("identity")
    # The service credential (ServiceSettings) admits callers of IssueDelegatedToken; the
    # key-encryption key seals secrets at rest (agencyos.common.sealing).
    development_secrets: ClassVar[tuple[str, ...]] = ("service_credential", "key_encryption_key")

    # Seals what identity keeps secret at rest (SSO client secrets, signing keys' private
    # keys); AGENCYOS_IDENTITY_KEY_ENCRYPTION_KEY. A production start refuses this default.
    key_encryption_key: str = "agencyos-identity-kek-local-development-only"

    access_token_ttl_seconds: int = 15 * 60
    # argon2id cost for new password hashes (argon2-cffi's defaults, RFC 9106's low-memory
    # profile). Stored hashes keep the cost they were made with and still verify.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    signing_key_bits: int = 2048
    # A superseded signing key stays in the JWKS this long past the access-token lifetime
    # (clock skew, the verifiers' leeway, requests in flight when the key was superseded).
    signing_key_retire_leeway_seconds: int = 5 * 60
    # How long an emailed password reset token works.
    password_reset_ttl_seconds: int = 30 * 60
    # How long an emailed email-verification link works.
    email_verification_ttl_seconds: int = Field(default=48 * 3600, ge=60)
    # A user may ask for a new verification email once per this many seconds (429 and
    # Retry-After before that).
    email_verification_resend_interval_seconds: int = Field(default=60, ge=0)
    # Peers whose X-Forwarded-For identity believes to find the caller's address (the gateway,
    # which appends the address it saw; and the proxies the gateway trusts): addresses or CIDRs.
    # Empty: the socket peer is the caller. Sign-ins and refreshes are checked against the
    # agency's IP allowlist with it, and sessions and new-device notices show it.
    trusted_proxies: list[str] = []
    # How long an invitation link works.
    invitation_ttl_seconds: int = 7 * 24 * 3600
    # Lifetime of the access token the gateway gets for an API key (it re-resolves the key
    # far more often than this; see the gateway's api_key_cache_seconds).
    api_key_token_ttl_seconds: int = 5 * 60
    # Lifetime of a delegated token (IssueDelegatedToken: a service acting for a member with
    # no person present); short, as nobody is there to sign out.
    delegated_token_ttl_seconds: int = Field(default=5 * 60, ge=30, le=5 * 60)

    # Sign-in lockout per account (account/lockout.py): after `threshold` consecutive failed
    # attempts (0 turns it off) the account is locked for `base` seconds, doubling with each
    # further failure up to `max`; failures are forgotten `forget` seconds after the last one.
    login_lockout_threshold: int = Field(default=5, ge=0)
    login_lockout_base_seconds: float = Field(default=1.0, gt=0)
    login_lockout_max_seconds: float = Field(default=15 * 60, gt=0)
    login_lockout_forget_seconds: float = Field(default=60 * 60, gt=0)
    # Inserted into every lockout key (agencyos:login:<namespace>:...), like the revocations'.
    login_lockout_namespace: str = ""

    @property
    def revocation_ttl_seconds(self) -> int:
        """How long a revocation entry lives: past the longest token lifetime, the
        verifiers' leeway (30 s) and a margin for clock skew."""
        longest = max(
            self.access_token_ttl_seconds,
            self.api_key_token_ttl_seconds,
            self.delegated_token_ttl_seconds,
        )
        return longest + 30 + 60
