from agencyos.billing.models import Base
from agencyos.common.migrations import run_env

run_env(Base.metadata)
