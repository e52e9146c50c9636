"""Who may call time's invoicing gRPC (`invoicing/servicer.py`): nobody without
`invoices.write` or without a token, no other agency (it sees, reserves and releases none of
this agency's time), and malformed arguments are INVALID_ARGUMENT."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.inprocess import Caller
from agencyos.testing.time_invoicing import (
    DAY,
    Books,
    as_caller,
    reserve,
    rpc_error,
    selection,
)


class TestWhoMayCall:
    async def test_a_member_without_invoices_write_is_denied_everything(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        entry = await books.entry()
        invoice = uuid.uuid4()
        member = books.person
        calls = [
            stub.ListUnbilledEntries(selection(books), metadata=as_caller(member), timeout=10),
            stub.ReserveEntries(
                time_pb2.ReserveEntriesRequest(invoice_id=str(invoice), selection=selection(books)),
                metadata=as_caller(member),
                timeout=10,
            ),
            stub.ConfirmInvoiced(
                time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(member)
            ),
            stub.ReleaseEntries(
                time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(member)
            ),
        ]

        for call in calls:
            error = await rpc_error(call)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "invoices.write" in (error.details() or "")
        assert await books.holders([entry]) == {entry: None}

    async def test_without_a_token_the_caller_is_unauthenticated(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        error = await rpc_error(stub.ListUnbilledEntries(selection(books), timeout=10))

        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_another_agency_never_sees_reserves_or_releases_this_agencys_time(
        self,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
        other_agency: Caller,
    ) -> None:
        loose = await books.entry()
        held = await books.entry(day=DAY + timedelta(1))
        invoice = uuid.uuid4()
        assert await reserve(stub, books, invoice, [held]) == {held}
        theirs = as_caller(other_agency)

        listed = await stub.ListUnbilledEntries(selection(books), metadata=theirs, timeout=10)
        reserved = await stub.ReserveEntries(
            time_pb2.ReserveEntriesRequest(
                invoice_id=str(uuid.uuid4()),
                selection=selection(books),
                entry_ids=[str(loose), str(held)],
            ),
            metadata=theirs,
            timeout=10,
        )
        again = await stub.ReserveEntries(
            time_pb2.ReserveEntriesRequest(invoice_id=str(invoice), selection=selection(books)),
            metadata=theirs,
            timeout=10,
        )
        confirmed = await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=theirs
        )
        released = await stub.ReleaseEntries(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=theirs
        )

        assert list(listed.entries) == []
        assert list(reserved.entries) == list(again.entries) == []
        assert (confirmed.count, released.count) == (0, 0)
        rows = await books.rows(
            "SELECT id, status, invoice_id FROM time_entries WHERE id = ANY($1)", [loose, held]
        )
        assert {r["id"]: (r["status"], r["invoice_id"]) for r in rows} == {
            loose: ("approved", None),
            held: ("approved", invoice),
        }

    @pytest.mark.parametrize(
        ("method", "request_fields"),
        [
            ("ListUnbilledEntries", {"client_id": "nope"}),
            ("ListUnbilledEntries", {"client_id": ""}),
            ("ListUnbilledEntries", {"project_ids": ["nope"]}),
            ("ListUnbilledEntries", {"period_from": "2026-13-01"}),
            ("ListUnbilledEntries", {"period_from": "2026-11-30", "period_to": "2026-11-01"}),
            ("ListUnbilledEntries", {"currency": "eur"}),
            ("ReserveEntries", {"invoice_id": "nope"}),
            ("ReserveEntries", {"invoice_id": ""}),
            ("ReserveEntries", {"entry_ids": ["nope"]}),
            ("ReserveEntries", {"client_id": "nope"}),
            ("ConfirmInvoiced", {"invoice_id": "nope"}),
            ("ReleaseEntries", {"invoice_id": ""}),
        ],
    )
    async def test_malformed_arguments_are_invalid(
        self,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
        method: str,
        request_fields: dict[str, Any],
    ) -> None:
        entry = await books.entry()
        fields = dict(request_fields)
        sel = {"client_id": str(books.client_id)}
        for key in ("client_id", "project_ids", "period_from", "period_to", "currency"):
            if key in fields:
                sel[key] = fields.pop(key)
        request: Any
        if method == "ListUnbilledEntries":
            request = time_pb2.EntrySelection(**sel)
        elif method == "ReserveEntries":
            request = time_pb2.ReserveEntriesRequest(
                invoice_id=fields.pop("invoice_id", str(uuid.uuid4())),
                selection=time_pb2.EntrySelection(**sel),
                entry_ids=fields.pop("entry_ids", []),
            )
        else:
            request = time_pb2.InvoiceRef(invoice_id=fields.pop("invoice_id"))

        error = await rpc_error(
            getattr(stub, method)(request, metadata=as_caller(books.agency), timeout=10)
        )

        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert await books.holders([entry]) == {entry: None}
