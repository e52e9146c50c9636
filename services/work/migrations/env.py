from agencyos.common.migrations import run_env
from agencyos.work.models import Base

run_env(Base.metadata)
