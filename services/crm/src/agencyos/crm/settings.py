from agencyos.common.settings import ServiceSettings, service_config


class CrmSettings(ServiceSettings):
    service_name = "crm"
    model_config = service_config("crm")
