"""The per-account lockout of two-factor code checks: the sign-in lockout's scheme
(account/lockout.py: counted in Redis when an attempt starts, cleared by a right code, locked
with a doubling window past a threshold, failing open) with its own counts and settings, keyed
by the user's id. It holds across mfa_tokens (each of which dies after a few wrong codes on
its own) and across every route that takes a code."""

from __future__ import annotations

import hashlib
import math
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from agencyos.identity.account.lockout import LoginLockout
from agencyos.identity.settings import IdentitySettings

KEY_PREFIX = "agencyos:2fa:"


class TwoFactorLockout(LoginLockout):
    def __init__(self, client: Redis, settings: IdentitySettings) -> None:
        super().__init__(client, settings)
        self.enabled = settings.two_factor_lockout_threshold > 0
        self.args = [
            settings.two_factor_lockout_threshold,
            math.ceil(settings.two_factor_lockout_base_seconds * 1000),
            math.ceil(settings.two_factor_lockout_max_seconds * 1000),
            math.ceil(settings.two_factor_lockout_forget_seconds * 1000),
        ]

    def _key(self, email: str) -> str:
        # `email` is the user's id here (the parent's name for the account's key).
        digest = hashlib.sha256(email.encode()).hexdigest()
        middle = f"{self.namespace}:" if self.namespace else ""
        return f"{KEY_PREFIX}{middle}{digest}"


def two_factor_lockout(request: Request) -> TwoFactorLockout:
    lockout: TwoFactorLockout = request.app.state.two_factor_lockout
    return lockout


CodeLockout = Annotated[TwoFactorLockout, Depends(two_factor_lockout)]
