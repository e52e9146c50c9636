from agencyos.common.settings import ServiceSettings, service_config


class TimeSettings(ServiceSettings):
    service_name = "time"
    model_config = service_config("time")
