"""The scheduler as a worker (`python -m agencyos.billing worker`, and in `all`): one active
instance at a time however many replicas run (agencyos.common.leadership). Ticks are also safe
if two leaders ever overlapped: every notice is claimed in `invoice_reminders` in the
transaction that publishes it."""

from __future__ import annotations

from typing import cast

from agencyos.billing.scheduler.service import SchedulerService
from agencyos.billing.settings import BillingSettings
from agencyos.common.leadership import LeaderLock, LeadingWorker
from agencyos.common.web import ServiceContext


def scheduler_worker(ctx: ServiceContext) -> LeadingWorker:
    settings = cast(BillingSettings, ctx.settings)
    return LeadingWorker(
        LeaderLock(
            settings.leader_database_url, key=settings.scheduler_lock_key, name="billing-scheduler"
        ),
        SchedulerService(ctx.database()).tick,
        interval_seconds=settings.scheduler_interval_seconds,
        name="scheduler",
    )
