from fastapi import APIRouter

router = APIRouter(prefix="/v1/capacity", tags=["capacity"])
