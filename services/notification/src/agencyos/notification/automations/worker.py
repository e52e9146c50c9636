"""The `automations` worker: its own consumer group on every `<service>.events` topic (the
common consumer runner: one transaction per event under its agency, the inbox so a
redelivered event is seen as a duplicate, retries and the dead-letter topic) recording runs,
and a loop running the due actions of every agency's runs."""

from __future__ import annotations

import asyncio
from typing import cast

from agencyos.common.consumer import ConsumerRunner, Subscription
from agencyos.common.logs import get_logger
from agencyos.common.web import ServiceContext
from agencyos.notification.automations.engine import AutomationEngine, handlers_for
from agencyos.notification.automations.peers import GrpcAutomationPeers
from agencyos.notification.automations.triggers import trigger_types
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.deliveries import attempts_allowed

log = get_logger(__name__)

CONSUMER_NAME = "notification-automations"


def subscription_of(engine: AutomationEngine) -> Subscription:
    return Subscription(handlers=handlers_for(engine, trigger_types()))


class AutomationWorker:
    def __init__(
        self, engine: AutomationEngine, runner: ConsumerRunner, *, poll_seconds: float
    ) -> None:
        self.engine = engine
        self.runner = runner
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.runner.stop()

    async def run(self) -> None:
        log.info("automations worker started", group=CONSUMER_NAME)
        await asyncio.gather(self.runner.run(), self._run_actions())
        log.info("automations worker stopped")

    async def _run_actions(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = await self.engine.run_due() > 0
            except Exception as exc:  # the database went away: try again after a pause
                log.warning("automation actions could not run", error=repr(exc))
                busy = False
            if busy:
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass


def automation_worker(ctx: ServiceContext) -> AutomationWorker:
    settings = cast(NotificationSettings, ctx.settings)
    engine = AutomationEngine(
        ctx.database(),
        GrpcAutomationPeers.of(settings, ctx.verifier),
        max_depth=settings.automation_max_depth,
        retry_seconds=settings.automation_action_retry_seconds,
        webhook_max_attempts=attempts_allowed(settings.webhook_retry_seconds),
    )
    runner = ConsumerRunner(
        CONSUMER_NAME,
        ctx.database(),
        settings.kafka_bootstrap,
        subscription_of(engine),
        topic_prefix=settings.kafka_topic_prefix,
    )
    return AutomationWorker(engine, runner, poll_seconds=settings.automation_poll_seconds)
