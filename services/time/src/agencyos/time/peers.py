"""Whom time asks, over gRPC with the caller's own token (so every answer is for the caller's
agency only): work for projects, tasks and membership, identity for the agency's time zone and
its people. One `Peers` per request (or per gRPC call): answers are remembered for its
lifetime, so no project or person is asked for twice in one request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from agencyos.common.auth import Principal
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.peers.work import WorkClient


@dataclass(frozen=True)
class Peers:
    work: WorkClient
    identity: IdentityClient
    # How long an agency's time zone is kept for every request of this process.
    agency_cache_seconds: float = 30.0

    @classmethod
    def of(cls, request: Request) -> Peers:
        return cls.from_settings(request.app.state.ctx.settings)

    @classmethod
    def from_settings(cls, settings: Any) -> Peers:
        return cls(
            WorkClient.of(settings),
            IdentityClient.of(settings),
            getattr(settings, "agency_cache_seconds", 30.0),
        )

    async def timezone(self, principal: Principal) -> ZoneInfo:
        """The agency's time zone (kept briefly); UTC when identity names an unknown one."""
        agency = await self.identity.agency(principal, cache_seconds=self.agency_cache_seconds)
        return agency.timezone
