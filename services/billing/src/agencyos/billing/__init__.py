"""Billing: invoices, numbering, tax and currency, payments through Stripe, overdue and
reminders."""
