"""Typed auth dependencies for payments: the invoice permissions (managers and above by
default; members never see invoices or their money), defined once with the invoices."""

from agencyos.billing.invoice.permissions import InvoicesRead, InvoicesWrite

__all__ = ["InvoicesRead", "InvoicesWrite"]
