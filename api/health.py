"""`GET /v1/health`: liveness, for load balancers and operators."""

from __future__ import annotations

from importlib.metadata import version
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The server is up and answering."""

    status: Literal["ok"] = "ok"
    version: str


@router.get("/health")
async def health() -> Health:
    return Health(version=version("testimony-vault"))
