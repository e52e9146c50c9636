from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.identity.models.agency import Agency  # noqa: E402
from agencyos.identity.models.api_key import ApiKey  # noqa: E402
from agencyos.identity.models.audit_record import AuditHead, AuditRecord  # noqa: E402
from agencyos.identity.models.email_verification_token import EmailVerificationToken  # noqa: E402
from agencyos.identity.models.invitation import Invitation  # noqa: E402
from agencyos.identity.models.magic_link_token import MagicLinkToken  # noqa: E402
from agencyos.identity.models.membership import Membership  # noqa: E402
from agencyos.identity.models.password_reset_token import PasswordResetToken  # noqa: E402
from agencyos.identity.models.refresh_token import RefreshToken  # noqa: E402
from agencyos.identity.models.role_permission import RolePermissions  # noqa: E402
from agencyos.identity.models.session_policy import SessionPolicy  # noqa: E402
from agencyos.identity.models.sign_in_device import SignInDevice  # noqa: E402
from agencyos.identity.models.signing_key import SigningKey  # noqa: E402
from agencyos.identity.models.sso_configuration import SsoConfiguration  # noqa: E402
from agencyos.identity.models.two_factor import (  # noqa: E402
    BackupCode,
    MfaChallenge,
    UserTwoFactor,
)
from agencyos.identity.models.user import User  # noqa: E402

__all__ = [
    "Agency",
    "ApiKey",
    "AuditHead",
    "AuditRecord",
    "BackupCode",
    "Base",
    "EmailVerificationToken",
    "Invitation",
    "MagicLinkToken",
    "Membership",
    "MfaChallenge",
    "PasswordResetToken",
    "RefreshToken",
    "RolePermissions",
    "SessionPolicy",
    "SignInDevice",
    "SigningKey",
    "SsoConfiguration",
    "User",
    "UserTwoFactor",
]
