from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.portal.app import build_app
from agencyos.portal.consumers import SUBSCRIPTION
from agencyos.portal.settings import PortalSettings

DEFINITION = ServiceDefinition(
    name="portal",
    settings_factory=PortalSettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
    subscription=SUBSCRIPTION,
)

if __name__ == "__main__":
    main(DEFINITION)
