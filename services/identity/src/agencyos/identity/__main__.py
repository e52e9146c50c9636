from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.identity.app import build_app
from agencyos.identity.audit.worker import audit_runner
from agencyos.identity.rpc import registrar
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.commands import rotate_signing_key

DEFINITION = ServiceDefinition(
    name="identity",
    settings_factory=IdentitySettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
    grpc_registrar=registrar,
    commands={"rotate-signing-key": rotate_signing_key},
    # The audit log's writer: its own consumer group on `audit.events`.
    workers={"audit": audit_runner},
)

if __name__ == "__main__":
    main(DEFINITION)
