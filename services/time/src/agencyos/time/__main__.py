from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.time.app import build_app
from agencyos.time.settings import TimeSettings

DEFINITION = ServiceDefinition(
    name="time",
    settings_factory=TimeSettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
)

if __name__ == "__main__":
    main(DEFINITION)
