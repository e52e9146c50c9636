"""Stripe customers (one per CRM client) and Checkout Sessions for sent invoices.

The provider is called outside any transaction that holds locks: the caller reads what it has
in one transaction, talks to Stripe, and writes the result in another."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.checkout.provider import (
    CheckoutLink,
    CheckoutRequest,
    CustomerDetails,
    PaymentProvider,
)
from agencyos.billing.models import StripeCustomer, StripeReference


class CheckoutService:
    async def stored_customer(self, session: AsyncSession, client_id: uuid.UUID) -> str | None:
        stmt = select(StripeCustomer.stripe_customer_id).where(
            StripeCustomer.client_id == client_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def new_customer(self, provider: PaymentProvider, details: CustomerDetails) -> str:
        return await provider.create_customer(details)

    async def remember_customer(
        self, session: AsyncSession, tenant_id: uuid.UUID, client_id: uuid.UUID, customer_id: str
    ) -> str:
        """Store the client's Stripe customer; when a concurrent send stored one first, that
        one stays and is answered (one customer per client)."""
        await session.execute(
            insert(StripeCustomer)
            .values(tenant_id=tenant_id, client_id=client_id, stripe_customer_id=customer_id)
            .on_conflict_do_nothing()
        )
        stored = await self.stored_customer(session, client_id)
        assert stored is not None
        return stored

    async def open_checkout(
        self, provider: PaymentProvider, checkout: CheckoutRequest
    ) -> CheckoutLink:
        return await provider.create_checkout(checkout)

    async def reference(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        invoice_id: uuid.UUID,
        link: CheckoutLink,
    ) -> None:
        """Record which agency and invoice the session belongs to (for Stripe's webhooks)."""
        session.add(
            StripeReference(stripe_id=link.session_id, tenant_id=tenant_id, invoice_id=invoice_id)
        )
        await session.flush()


checkout_service = CheckoutService()
