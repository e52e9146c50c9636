from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.crm.app import build_app
from agencyos.crm.consumers import SUBSCRIPTION
from agencyos.crm.csv_import.runner import import_runner
from agencyos.crm.rpc import registrar
from agencyos.crm.settings import CrmSettings

DEFINITION = ServiceDefinition(
    name="crm",
    settings_factory=CrmSettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
    grpc_registrar=registrar,
    subscription=SUBSCRIPTION,
    workers={"import": import_runner},
)

if __name__ == "__main__":
    main(DEFINITION)
