from fastapi import APIRouter

router = APIRouter(prefix="/v1/reports", tags=["reports"])
