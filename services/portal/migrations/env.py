from agencyos.common.migrations import run_env
from agencyos.portal.models import Base

run_env(Base.metadata)
