from agencyos.common.settings import ServiceSettings, service_config


class IdentitySettings(ServiceSettings):
    service_name = "identity"
    model_config = service_config("identity")

    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    signing_key_bits: int = 2048
