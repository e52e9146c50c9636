from agencyos.common.migrations import run_env
from agencyos.time.models import Base

run_env(Base.metadata)
