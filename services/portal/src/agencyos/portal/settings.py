from agencyos.common.settings import ServiceSettings, service_config


class PortalSettings(ServiceSettings):
    service_name = "portal"
    model_config = service_config("portal")
