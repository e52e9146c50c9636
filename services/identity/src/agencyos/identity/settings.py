from typing import ClassVar, Self

from pydantic import Field, model_validator

from agencyos.common.settings import ServiceSettings, service_config


class IdentitySettings(ServiceSettings):
    service_name = "identity"
    model_config = service_config("identity")
    # The service credential (ServiceSettings) admits callers of IssueDelegatedToken; the
    # key-encryption key seals secrets at rest (agencyos.common.sealing); the public base URL
    # is the local gateway's (single sign-on's redirect URI starts with it).
    development_secrets: ClassVar[tuple[str, ...]] = (
        "service_credential",
        "key_encryption_key",
        "public_base_url",
    )

    # Seals what identity keeps secret at rest (SSO client secrets, signing keys' private
    # keys); AGENCYOS_IDENTITY_KEY_ENCRYPTION_KEY. A production start refuses this default.
    key_encryption_key: str = "agencyos-identity-kek-local-development-only"

    access_token_ttl_seconds: int = 15 * 60
    # argon2id cost for new password hashes (argon2-cffi's defaults, RFC 9106's low-memory
    # profile). Stored hashes keep the cost they were made with and still verify.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    # At most this many hashes (or verifications) at once per process, each holding
    # `password_hash_memory_kib` (64 MiB by default): a login burst queues instead of growing
    # past the container's memory limit. Two of 64 MiB fits the chart's 512 MiB limit.
    password_hash_workers: int = Field(default=2, ge=1, le=64)
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
    # Magic-link sign-in (magic_link/): how long an emailed link works, and how many links one
    # email address may ask for per window (past it: no email, the same 202; 0 turns it off).
    magic_link_ttl_seconds: int = Field(default=15 * 60, ge=60, le=60 * 60)
    magic_link_email_limit: int = Field(default=5, ge=0)
    magic_link_email_window_seconds: int = Field(default=15 * 60, ge=1)
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

    # Two-factor sign-in (mfa/): the issuer name authenticator apps show beside the account;
    # how long the `mfa_token` of a sign-in's second step works, and how many wrong codes
    # kill it; and the per-account lockout over all of a user's code checks (the sign-in
    # lockout's scheme, its own counts): after `threshold` wrong codes in a row the account's
    # code checks are refused for `base` seconds, doubling up to `max`.
    two_factor_issuer: str = "AgencyOS"
    mfa_token_ttl_seconds: int = Field(default=5 * 60, ge=30, le=15 * 60)
    mfa_token_max_attempts: int = Field(default=5, ge=1, le=10)
    two_factor_lockout_threshold: int = Field(default=5, ge=0)
    two_factor_lockout_base_seconds: float = Field(default=30.0, gt=0)
    two_factor_lockout_max_seconds: float = Field(default=15 * 60, gt=0)
    two_factor_lockout_forget_seconds: float = Field(default=60 * 60, gt=0)

    # --- Single sign-on (identity/sso) ---
    # Where people reach AgencyOS (the gateway; the shared AGENCYOS_PUBLIC_BASE_URL): the
    # redirect URI registered at every agency's OpenID provider is
    # `<public_base_url>/v1/auth/sso/callback`.
    public_base_url: str = "http://127.0.0.1:8080"
    # Issuer URLs (and the discovery, token and JWKS URLs they name) over plain http, and on
    # private networks (CIDR list): refused unless allowed here (agencyos.common.destinations).
    # `make dev` allows http and ["127.0.0.0/8", "::1/128"], the test platform http and
    # ["127.0.0.1/32"] (the local OIDC provider); production refuses to start with either.
    sso_allow_http: bool = False
    sso_allowed_private_networks: list[str] = []
    # How long a started sign-in (its state, nonce and PKCE verifier) waits for the callback.
    sso_state_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    # Each request to a provider (discovery, token, JWKS) must answer within this.
    sso_http_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Clock skew tolerated on an ID token's exp / iat / nbf.
    sso_clock_leeway_seconds: int = Field(default=60, ge=0, le=300)

    @model_validator(mode="after")
    def _no_private_issuers_in_production(self) -> Self:
        """Production never fetches an issuer over plain http nor on a private network."""
        if self.environment.strip().lower() == "production" and (
            self.sso_allow_http or self.sso_allowed_private_networks
        ):
            raise ValueError(
                "identity refuses to start in production with AGENCYOS_IDENTITY_SSO_ALLOW_HTTP "
                "or AGENCYOS_IDENTITY_SSO_ALLOWED_PRIVATE_NETWORKS set (development only)"
            )
        return self

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
