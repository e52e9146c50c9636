from fastapi import APIRouter

router = APIRouter(prefix="/v1/billing-settings", tags=["billing settings"])
