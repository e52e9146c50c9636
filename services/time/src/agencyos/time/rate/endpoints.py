from fastapi import APIRouter

router = APIRouter(prefix="/v1/rates", tags=["rates"])
