from pathlib import Path

from agencyos.billing.app import build_app
from agencyos.billing.consumers import SUBSCRIPTION
from agencyos.billing.rpc import registrar
from agencyos.billing.scheduler.worker import scheduler_worker
from agencyos.billing.settings import BillingSettings
from agencyos.common.runtime import ServiceDefinition, main

DEFINITION = ServiceDefinition(
    name="billing",
    settings_factory=BillingSettings,
    create_app=build_app,
    grpc_registrar=registrar,
    service_dir=Path(__file__).resolve().parents[3],
    subscription=SUBSCRIPTION,
    workers={"scheduler": scheduler_worker},
)

if __name__ == "__main__":
    main(DEFINITION)
