from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.time.app import build_app
from agencyos.time.consumers import SUBSCRIPTION
from agencyos.time.rpc import registrar
from agencyos.time.settings import TimeSettings

DEFINITION = ServiceDefinition(
    name="time",
    settings_factory=TimeSettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
    grpc_registrar=registrar,
    subscription=SUBSCRIPTION,
)

if __name__ == "__main__":
    main(DEFINITION)
