from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.work.app import build_app
from agencyos.work.consumers import SUBSCRIPTION
from agencyos.work.rpc import registrar
from agencyos.work.settings import WorkSettings

DEFINITION = ServiceDefinition(
    name="work",
    settings_factory=WorkSettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
    grpc_registrar=registrar,
    subscription=SUBSCRIPTION,
)

if __name__ == "__main__":
    main(DEFINITION)
