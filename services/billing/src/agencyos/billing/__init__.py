"""Billing: invoices, payments through Stripe, expenses and subscription plans.

Not built yet: this service starts, migrates its platform tables and answers health,
readiness and metrics, and serves no API routes of its own.
"""
