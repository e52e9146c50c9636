"""Billing settings: read by whoever works with invoices (`invoices.read`, managers and up);
changed only by those who may change the agency's own settings (`agency.write`, owners and
admins): the tax number, the sender address and the payment terms are the company's legal
and commercial identity on every invoice, not a per-invoice choice a manager makes."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

BillingSettingsRead = Annotated[Principal, require("invoices.read")]
BillingSettingsWrite = Annotated[Principal, require("agency.write")]
