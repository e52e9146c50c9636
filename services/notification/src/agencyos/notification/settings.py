from agencyos.common.settings import ServiceSettings, service_config


class NotificationSettings(ServiceSettings):
    service_name = "notification"
    model_config = service_config("notification")
