from fastapi import APIRouter

router = APIRouter(prefix="/v1/timers", tags=["timers"])
