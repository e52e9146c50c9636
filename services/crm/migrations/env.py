from agencyos.common.migrations import run_env
from agencyos.crm.models import Base

run_env(Base.metadata)
