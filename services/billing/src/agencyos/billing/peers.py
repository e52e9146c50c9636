"""Whom billing asks, over gRPC with the caller's own token (so every answer is for the caller's
agency only): identity for the agency (branding, prefix, default tax, time zone) and people's
names, CRM for clients, work for projects and tasks, time for the billable time it reserves,
confirms and releases. One `Peers` per request: answers are remembered for its lifetime, so
one invoice run asks for each project, client, person and task once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from agencyos.common.peers.crm import CrmClient
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.peers.time import TimeClient
from agencyos.common.peers.work import WorkClient


@dataclass(frozen=True)
class Peers:
    identity: IdentityClient
    crm: CrmClient
    work: WorkClient
    time: TimeClient

    @classmethod
    def of(cls, request: Request) -> Peers:
        return cls.of_settings(request.app.state.ctx.settings)

    @classmethod
    def of_settings(cls, settings: Any) -> Peers:
        return cls(
            IdentityClient.of(settings),
            CrmClient.of(settings),
            WorkClient.of(settings),
            TimeClient.of(settings),
        )
