"""The two parties of a sent invoice, kept on it when it is sent: the agency that sends it
(identity's name, brand colour and logo) and the client it is addressed to (CRM's company
name, primary contact and billing address). Its PDF shows them and its events carry the
addressee (`bill_to`) and the sender (`issuer`), for the notification service, which cannot ask
CRM and may not have heard of the agency yet."""

from __future__ import annotations

from dataclasses import dataclass

from agencyos.billing.models import Invoice
from agencyos.common.events import BillTo, Issuer
from agencyos.common.peers.crm import Client as ClientInfo
from agencyos.common.peers.identity import Agency as AgencyInfo

REMOVED_CLIENT = "(client removed from CRM)"


@dataclass(frozen=True)
class Parties:
    agency_name: str
    brand_color: str | None
    logo_url: str | None
    client_name: str
    contact_name: str | None
    email: str | None
    address: tuple[str, ...]


def parties_now(agency: AgencyInfo, client: ClientInfo | None) -> Parties:
    return Parties(
        agency_name=agency.name,
        brand_color=agency.brand_color,
        logo_url=agency.logo_url,
        client_name=client.company_name if client else REMOVED_CLIENT,
        contact_name=client.contact_name if client else None,
        email=client.contact_email if client else None,
        address=client.address_lines if client else (),
    )


def keep_parties(invoice: Invoice, agency: AgencyInfo, client: ClientInfo) -> None:
    """Keep on the invoice whom it is addressed to and from whom (when it is sent)."""
    invoice.bill_to_client_name = client.company_name
    invoice.bill_to_contact_name = client.contact_name
    invoice.bill_to_email = client.contact_email
    invoice.bill_to_address = list(client.address_lines)
    invoice.issuer_name = agency.name
    invoice.issuer_brand_color = agency.brand_color
    invoice.issuer_logo_url = agency.logo_url
    invoice.issuer_slug = agency.slug


def kept_parties(invoice: Invoice) -> Parties | None:
    if invoice.bill_to_client_name is None or invoice.issuer_name is None:
        return None
    return Parties(
        agency_name=invoice.issuer_name,
        brand_color=invoice.issuer_brand_color,
        logo_url=invoice.issuer_logo_url,
        client_name=invoice.bill_to_client_name,
        contact_name=invoice.bill_to_contact_name,
        email=invoice.bill_to_email,
        address=tuple(invoice.bill_to_address or ()),
    )


def bill_to(invoice: Invoice) -> BillTo | None:
    """Whom the invoice's events are about (None before it was sent with the parties kept)."""
    if invoice.bill_to_client_name is None:
        return None
    return BillTo(
        client_name=invoice.bill_to_client_name,
        contact_name=invoice.bill_to_contact_name,
        email=invoice.bill_to_email,
    )


def issuer(invoice: Invoice) -> Issuer | None:
    """Who sent the invoice, as it was then (None before it was sent with the parties kept)."""
    if invoice.issuer_name is None:
        return None
    return Issuer(
        name=invoice.issuer_name,
        logo_url=invoice.issuer_logo_url,
        brand_color=invoice.issuer_brand_color,
        timezone=invoice.timezone,
        slug=invoice.issuer_slug,
    )
