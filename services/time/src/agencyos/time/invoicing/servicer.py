"""TimeService gRPC for billing: unbilled entries, reservation, invoiced, release."""


class InvoicingRpc:
    pass
