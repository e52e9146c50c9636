from fastapi import APIRouter

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])
