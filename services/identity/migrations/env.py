from agencyos.common.migrations import run_env
from agencyos.identity.models import Base

run_env(Base.metadata)
