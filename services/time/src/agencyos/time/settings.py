from agencyos.common.settings import ServiceSettings, service_config


class TimeSettings(ServiceSettings):
    service_name = "time"
    model_config = service_config("time")

    # how long an agency's timezone (identity) is reused before asking again
    agency_cache_seconds: float = 30.0
