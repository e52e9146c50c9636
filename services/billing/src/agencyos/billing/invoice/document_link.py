"""Signed links to a sent invoice's PDF that need no login: what the client's email attaches
and links to. The link names the agency and the invoice and when it expires, and carries an
HMAC-SHA256 of the three under billing's `document_signing_key`: changing any of them (another
invoice, another agency, a later expiry) breaks the signature. The agency comes from the link
only because it is signed; the PDF is then read under that agency alone."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import Request

from agencyos.billing.invoice.errors import DocumentLinkExpired, DocumentLinkInvalid
from agencyos.billing.settings import BillingSettings

# What the signature is of, so a signature made for something else never fits here.
_PURPOSE = "billing.invoice.document.v1"


@dataclass(frozen=True)
class DocumentLinks:
    key: bytes
    valid_for: timedelta
    base_url: str

    @classmethod
    def of(cls, settings: BillingSettings) -> DocumentLinks:
        return cls(
            key=settings.document_signing_key.encode(),
            valid_for=timedelta(days=settings.document_link_days),
            base_url=settings.public_base_url.rstrip("/"),
        )

    def signature(self, tenant_id: uuid.UUID, invoice_id: uuid.UUID, expires: int) -> str:
        message = f"{_PURPOSE}\n{tenant_id}\n{invoice_id}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def url(self, tenant_id: uuid.UUID, invoice_id: uuid.UUID, now: datetime) -> str:
        """`<public_base_url>/v1/invoices/<id>/document?...`, good for `valid_for` from now."""
        expires = int((now + self.valid_for).timestamp())
        query = urlencode(
            {
                "tenant_id": str(tenant_id),
                "expires": expires,
                "signature": self.signature(tenant_id, invoice_id, expires),
            }
        )
        return f"{self.base_url}/v1/invoices/{invoice_id}/document?{query}"

    def check(
        self,
        tenant_id: uuid.UUID,
        invoice_id: uuid.UUID,
        expires: int,
        signature: str,
        now: datetime,
    ) -> None:
        """Refuse a link this key did not sign as it is (403), then one past its expiry
        (410). The signatures are compared in constant time."""
        expected = self.signature(tenant_id, invoice_id, expires).encode()
        if not hmac.compare_digest(expected, signature.lower().encode("utf-8", "replace")):
            raise DocumentLinkInvalid(
                "this link to the invoice is not valid; ask the sender for a new one"
            )
        if expires <= now.timestamp():
            raise DocumentLinkExpired(
                "this link to the invoice has expired; ask the sender for a new one"
            )


def document_links(request: Request) -> DocumentLinks:
    """The links of this process's settings."""
    settings = request.app.state.ctx.settings
    assert isinstance(settings, BillingSettings)
    return DocumentLinks.of(settings)
