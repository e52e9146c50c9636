from agencyos.common.migrations import run_env
from agencyos.notification.models import Base

run_env(Base.metadata)
