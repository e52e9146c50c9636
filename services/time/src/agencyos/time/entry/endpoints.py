from fastapi import APIRouter

router = APIRouter(prefix="/v1/time-entries", tags=["time-entries"])
