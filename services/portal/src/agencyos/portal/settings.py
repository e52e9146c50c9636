from typing import ClassVar

from pydantic import Field

from agencyos.common.settings import ServiceSettings, service_config


class PortalSettings(ServiceSettings):
    service_name = "portal"
    model_config = service_config("portal")
    # The service credential asks identity for client users' sign-in (portal_sign_in gRPC).
    development_secrets: ClassVar[tuple[str, ...]] = ("service_credential", "public_base_url")

    # --- Web pages (agencyos.portal.web) ---
    # Where people reach AgencyOS (the gateway; the shared AGENCYOS_PUBLIC_BASE_URL): a form's
    # POST must come from this origin (its Origin, else its Referer), besides its CSRF token.
    public_base_url: str = "http://127.0.0.1:8080"
    # Where clients reach the portal's pages when it is not the public base URL (a domain of
    # its own; the shared AGENCYOS_PORTAL_BASE_URL the emails link to): its origin is accepted
    # for forms too.
    portal_base_url: str = ""
    # How long a signed-in page session lives unused (sliding; identity's session policy and
    # refresh tokens still apply), and a signed-out one (the sign-in form's CSRF token).
    web_session_idle_seconds: int = Field(default=8 * 60 * 60, gt=0)
    web_anonymous_session_seconds: int = Field(default=60 * 60, gt=0)
    # Inserted into every page session's Redis key (agencyos:portal-web:<namespace>:...), so
    # environments or test runs sharing a Redis keep apart.
    web_session_namespace: str = ""
    # The session cookie's Secure flag: on outside development (plain-http local stacks and
    # test platforms set it off).
    web_cookie_secure: bool | None = None
    # Where the invoice page's Pay form may send the browser on (Stripe Checkout): allowed by
    # the page's CSP `form-action` next to the portal itself.
    checkout_origin: str = "https://checkout.stripe.com"

    @property
    def cookie_secure(self) -> bool:
        if self.web_cookie_secure is not None:
            return self.web_cookie_secure
        return self.environment.strip().lower() != "development"
