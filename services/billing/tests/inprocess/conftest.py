"""The in-process tier of billing: its app through httpx.ASGITransport, its own database (cloned
from the migrated template, emptied after each test), identity, CRM and work as typed
stand-ins, and time as the real time service in this process (its gRPC servicers over its own
database, emptied after each test too), since what billing asks of time is the point of most
invoice rules. Stripe is stripe-mock at its default local URL, as in the platform tier.

The helpers of `agencyos.testing` that read a service's database (`Books`, `invoice_row`) or
write billing's own (`seed_invoice`) take `databases` where the platform tier passes
`platform`; time's entries are made through time's API, never written into its tables."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agencyos.billing.settings import BillingSettings
from agencyos.testing import billing as billing_rows
from agencyos.testing import factories
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess
from agencyos.testing.invoicing import Books
from agencyos.testing.sql import fetch_rows
from agencyos.testing.stripe_webhooks import signed_request, stripe_event, stripe_id, stripe_object

MakeBooks = Callable[..., Books]
SeedMilestone = Callable[..., Awaitable[uuid.UUID]]


@dataclass(frozen=True)
class ServiceDatabases:
    """The in-process services' databases, shaped like `Platform` where the helpers of
    `agencyos.testing` use it (`infra`, `database(service)`)."""

    infra: Infra
    names: dict[str, str]

    def database(self, service: str) -> str:
        return self.names[service]


@pytest.fixture
async def billing(in_process: InProcess) -> AsyncIterator[httpx.AsyncClient]:
    """billing's FastAPI app in this process, with the real time service as its time peer
    (both services' tables emptied after the test)."""
    service = await in_process.service("billing", real_peers=["time"])
    time_service = await in_process.service("time")
    try:
        yield service.http
    finally:
        await service.reset()
        await time_service.reset()


@pytest.fixture
async def billing_service(in_process: InProcess, billing: httpx.AsyncClient) -> ServiceInProcess:
    """billing in this process: its settings, database name and infra, to read its rows (the
    outbox, say) the way the platform tier reads the running service's database."""
    return await in_process.service("billing")


@pytest.fixture
async def databases(in_process: InProcess, billing: httpx.AsyncClient) -> ServiceDatabases:
    billing_service = await in_process.service("billing")
    time_service = await in_process.service("time")
    return ServiceDatabases(
        in_process.infra, {"billing": billing_service.database, "time": time_service.database}
    )


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    """The owner of a made-up agency (shaped like the platform tier's `AgencySession`)."""
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner


@pytest.fixture
async def time_api(in_process: InProcess, billing: httpx.AsyncClient) -> httpx.AsyncClient:
    """time's FastAPI app in this process (the one billing asks over gRPC), where tests log,
    submit and approve the time billing invoices."""
    return (await in_process.service("time")).http


@pytest.fixture
def make_books(
    in_process: InProcess,
    billing: httpx.AsyncClient,
    time_api: httpx.AsyncClient,
    databases: ServiceDatabases,
) -> MakeBooks:
    """Books of an agency (the tenant's owner unless told): a client on the CRM stand-in and
    an active hourly project of it at 12,345 on the work stand-in (the owner its member), as
    the platform tier's `new_books` makes them through CRM's and work's APIs; their time is
    logged and approved through time's own API."""

    def make(agency: Caller, *, currency: str = "EUR") -> Books:
        client_id = in_process.standins.crm.add_client(agency.agency_id, currency=currency)
        project_id = in_process.standins.work.add_project(
            agency.agency_id,
            agency.user_id,
            client_id=client_id,
            billing_type="hourly",
            hourly_rate_cents=12_345,
            currency=currency,
        )
        # Books is typed for the platform tier; its platform and agency are used duck-typed
        return Books(databases, billing, agency, client_id, project_id, currency, time_api)  # type: ignore[arg-type]

    return make


@pytest.fixture
def books(make_books: MakeBooks, agency: Caller) -> Books:
    """The agency's client with a billable project, to invoice."""
    return make_books(agency)


@pytest.fixture
def seed_milestone(databases: ServiceDatabases) -> SeedMilestone:
    """A completed milestone of the books' project, billable, as billing's handler of
    `work.milestone.completed` records it (the event itself is the platform tier's)."""

    async def seed(
        books: Books,
        *,
        amount_cents: int = 250_000,
        project_id: uuid.UUID | None = None,
        currency: str | None = None,
    ) -> uuid.UUID:
        milestone_id = uuid.uuid4()
        conn = await databases.infra.raw(databases.database("billing"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(books.agency.agency_id)
                )
                await conn.execute(
                    "INSERT INTO billable_milestones (tenant_id, milestone_id, project_id, "
                    "client_id, name, amount_cents, currency, completed_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    books.agency.agency_id,
                    milestone_id,
                    project_id or books.project_id,
                    books.client_id,
                    f"Design approved {milestone_id.hex[:4]}",
                    amount_cents,
                    currency or books.currency,
                    datetime.now(UTC),
                )
        finally:
            await conn.close()
        return milestone_id

    return seed


OutboxEvents = Callable[[Caller, str, uuid.UUID], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def outbox_events(billing_service: ServiceInProcess) -> OutboxEvents:
    """The `event_type` events about one invoice that billing wrote to its outbox (in the
    order written), each as the envelope the relay would publish."""

    async def events(
        agency: Caller, event_type: str, invoice_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        rows = await fetch_rows(
            billing_service.infra,
            billing_service.database,
            "SELECT envelope FROM outbox WHERE event_type = $1 AND envelope->>'subject' = $2 "
            "ORDER BY id",
            event_type,
            f"invoices/{invoice_id}",
            tenant_id=agency.agency_id,
            owner=True,
        )
        return [json.loads(row["envelope"]) for row in rows]

    return events


SeedInvoice = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def seed_invoice(databases: ServiceDatabases) -> SeedInvoice:
    """An invoice written straight into billing's database (`agencyos.testing.factories.
    seed_invoice`'s arguments after the platform)."""

    async def seed(agency: Caller, **fields: Any) -> uuid.UUID:
        return await factories.seed_invoice(databases, agency, **fields)  # type: ignore[arg-type]

    return seed


InvoiceRow = Callable[[Caller, uuid.UUID], Awaitable[Any]]


@pytest.fixture
def invoice_row(databases: ServiceDatabases) -> InvoiceRow:
    """An invoice's row as billing stored it."""

    async def row(agency: Caller, invoice_id: uuid.UUID) -> Any:
        return await billing_rows.invoice_row(databases, agency, invoice_id)  # type: ignore[arg-type]

    return row


PaymentRows = Callable[[Caller, uuid.UUID], Awaitable[list[Any]]]


@pytest.fixture
def payment_rows(databases: ServiceDatabases) -> PaymentRows:
    """An invoice's payments as billing stored them (oldest first, refunds after the payment
    they were recorded with)."""

    async def rows(agency: Caller, invoice_id: uuid.UUID) -> list[Any]:
        return await billing_rows.payment_rows(databases, agency, invoice_id)  # type: ignore[arg-type]

    return rows


Balance = Callable[[Caller, uuid.UUID], Awaitable[tuple[str, int]]]


@pytest.fixture
def balance(invoice_row: InvoiceRow) -> Balance:
    """An invoice's (status, amount paid) as billing stored them."""

    async def of(agency: Caller, invoice_id: uuid.UUID) -> tuple[str, int]:
        row = await invoice_row(agency, invoice_id)
        return row["status"], row["amount_paid_cents"]

    return of


WriteBillingSettings = Callable[..., Awaitable[None]]


@pytest.fixture
def write_billing_settings(databases: ServiceDatabases) -> WriteBillingSettings:
    """The agency's billing settings row, written straight into billing's database (for the
    rules that only read them; the settings API has tests of its own)."""

    async def write(agency: Caller, **values: object) -> None:
        columns = ", ".join(["tenant_id", *values])
        params = ", ".join(f"${i}" for i in range(1, len(values) + 2))
        conn = await databases.infra.raw(databases.database("billing"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                await conn.execute(
                    f"INSERT INTO billing_settings ({columns}) VALUES ({params})",
                    agency.agency_id,
                    *values.values(),
                )
        finally:
            await conn.close()

    return write


# --- Stripe's webhook -------------------------------------------------------------------------

WEBHOOK = "/v1/webhooks/stripe"


@pytest.fixture
def stripe_settings(billing_service: ServiceInProcess) -> BillingSettings:
    """billing's settings in this process: stripe-mock's address and the webhook secret."""
    settings = billing_service.settings
    assert isinstance(settings, BillingSettings)
    return settings


class StripePayment:
    """One Stripe Checkout payment of an invoice: its session, payment intent and charge, as
    objects shaped by stripe-mock's fixtures and events wrapping them."""

    def __init__(
        self,
        api_base: str,
        agency: Caller,
        invoice_id: uuid.UUID,
        amount: int,
        currency: str = "eur",
    ) -> None:
        self.api_base = api_base
        self.agency = agency
        self.invoice_id = invoice_id
        self.amount = amount
        self.currency = currency
        self.session_id = stripe_id("cs")
        self.intent_id = stripe_id("pi")
        self.charge_id = stripe_id("ch")

    @property
    def metadata(self) -> dict[str, str]:
        return {"invoice_id": str(self.invoice_id), "tenant_id": str(self.agency.agency_id)}

    async def checkout_session(self, **fields: Any) -> dict[str, Any]:
        obj = await stripe_object(self.api_base, "checkout/sessions")
        obj.update(
            id=self.session_id,
            mode="payment",
            status="complete",
            payment_status="paid",
            payment_intent=self.intent_id,
            amount_subtotal=self.amount,
            amount_total=self.amount,
            currency=self.currency,
            client_reference_id=str(self.invoice_id),
            metadata=self.metadata,
        )
        obj.update(fields)
        return obj

    async def payment_intent(self, **fields: Any) -> dict[str, Any]:
        obj = await stripe_object(self.api_base, "payment_intents")
        obj.update(
            id=self.intent_id,
            amount=self.amount,
            amount_received=self.amount,
            currency=self.currency,
            status="succeeded",
            latest_charge=self.charge_id,
            last_payment_error=None,
            metadata=self.metadata,
        )
        obj.update(fields)
        return obj

    async def charge(self, **fields: Any) -> dict[str, Any]:
        obj = await stripe_object(self.api_base, "charges")
        obj.update(
            id=self.charge_id,
            amount=self.amount,
            amount_captured=self.amount,
            captured=True,
            paid=True,
            status="succeeded",
            currency=self.currency,
            payment_intent=self.intent_id,
            metadata=self.metadata,
        )
        obj.update(fields)
        return obj

    async def completed(self, **fields: Any) -> dict[str, Any]:
        return stripe_event("checkout.session.completed", await self.checkout_session(**fields))

    async def succeeded(self, **fields: Any) -> dict[str, Any]:
        return stripe_event("payment_intent.succeeded", await self.payment_intent(**fields))

    async def refunded(self, amount_refunded: int) -> dict[str, Any]:
        charge = await self.charge(
            amount_refunded=amount_refunded, refunded=amount_refunded >= self.amount
        )
        return stripe_event("charge.refunded", charge)


NewStripePayment = Callable[..., StripePayment]


@pytest.fixture
def stripe_payment(stripe_settings: BillingSettings) -> NewStripePayment:
    """A Stripe payment of `amount` for the agency's invoice (`currency` lower-case, as Stripe
    writes it)."""

    def make(
        agency: Caller, invoice_id: uuid.UUID, amount: int, currency: str = "eur"
    ) -> StripePayment:
        return StripePayment(stripe_settings.stripe_api_base, agency, invoice_id, amount, currency)

    return make


SentInvoice = Callable[..., Awaitable[tuple[uuid.UUID, StripePayment]]]


@pytest.fixture
def sent_invoice(seed_invoice: SeedInvoice, stripe_payment: NewStripePayment) -> SentInvoice:
    """A sent invoice with a Checkout Session, as sending it leaves it, and its payment."""

    async def make(
        agency: Caller, total_cents: int = 120_000, **fields: Any
    ) -> tuple[uuid.UUID, StripePayment]:
        currency = fields["currency"].lower() if "currency" in fields else "eur"
        payment = stripe_payment(agency, uuid.uuid4(), total_cents, currency)
        invoice_id = await seed_invoice(
            agency,
            total_cents=total_cents,
            checkout_session_id=payment.session_id,
            payment_url=f"https://checkout.stripe.com/c/pay/{payment.session_id}",
            **fields,
        )
        payment.invoice_id = invoice_id
        return invoice_id, payment

    return make


Deliver = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def deliver(billing: httpx.AsyncClient, stripe_settings: BillingSettings) -> Deliver:
    """POST `event` to billing's webhook as Stripe would, signed with billing's secret; unless
    `expect` is None, assert it was answered 200 with that outcome."""

    async def post(event: dict[str, Any], *, expect: str | None = "processed") -> httpx.Response:
        body, headers = signed_request(event, stripe_settings.stripe_webhook_secret)
        response = await billing.post(WEBHOOK, content=body, headers=headers)
        if expect is not None:
            assert response.status_code == 200, response.text
            assert response.json() == {
                "received": True,
                "event_id": event["id"],
                "outcome": expect,
            }
        return response

    return post


StripeEventRow = Callable[[str], Awaitable[Any]]


@pytest.fixture
def stripe_event_row(billing_service: ServiceInProcess) -> StripeEventRow:
    """The event as billing recorded it (None when it recorded nothing)."""

    async def row(event_id: str) -> Any:
        rows = await billing_service.rows("SELECT * FROM stripe_events WHERE id = $1", event_id)
        return rows[0] if rows else None

    return row
