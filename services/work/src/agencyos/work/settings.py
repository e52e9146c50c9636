from agencyos.common.settings import ServiceSettings, service_config


class WorkSettings(ServiceSettings):
    service_name = "work"
    model_config = service_config("work")
