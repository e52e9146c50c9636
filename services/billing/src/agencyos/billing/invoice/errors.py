"""Invoice problems with their own `type` slugs, so clients can branch on them."""

from agencyos.common.errors import Conflict, Gone, InvalidInput, PermissionDenied


class NothingToInvoice(InvalidInput):
    slug, title = "nothing-to-invoice", "Nothing to invoice"


class CurrencyMismatch(InvalidInput):
    slug, title = "currency-mismatch", "Currency mismatch"


class UnpricedTime(InvalidInput):
    slug, title = "unpriced-time", "Time without a rate"


class NotDraft(Conflict):
    slug, title = "invoice-not-draft", "The invoice is not a draft"


class NotSendable(Conflict):
    slug, title = "invoice-not-sendable", "The invoice cannot be sent"


class NotVoidable(Conflict):
    slug, title = "invoice-not-voidable", "The invoice cannot be voided"


class LineLocked(Conflict):
    slug, title = "line-not-editable", "The line cannot be changed this way"


class NotPayable(Conflict):
    slug, title = "invoice-not-payable", "The invoice takes no payment"


class DocumentLinkInvalid(PermissionDenied):
    slug, title = "document-link-invalid", "The document link is not valid"


class DocumentLinkExpired(Gone):
    slug, title = "document-link-expired", "The document link has expired"
