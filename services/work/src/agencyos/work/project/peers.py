"""Whom work asks when a person creates or changes a project: identity whether users are active
members of the agency, CRM whether a client exists. Over gRPC with the caller's own token, so
the peers answer for the caller's agency only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agencyos.common.peers.crm import CrmClient
from agencyos.common.peers.identity import IdentityClient


@dataclass(frozen=True)
class Peers:
    identity: IdentityClient
    crm: CrmClient

    @classmethod
    def of(cls, settings: Any) -> Peers:
        return cls(IdentityClient.of(settings), CrmClient.of(settings))
