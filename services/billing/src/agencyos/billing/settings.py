from agencyos.common.settings import ServiceSettings, service_config


class BillingSettings(ServiceSettings):
    service_name = "billing"
    model_config = service_config("billing")
