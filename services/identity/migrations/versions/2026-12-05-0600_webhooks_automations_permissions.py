"""webhooks.manage and automations.manage: the permissions of outbound webhooks and automation
rules

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 06:00:00

`webhooks.write` (held by admins, never used by any route) becomes `webhooks.manage`, the name
the webhook endpoints check: every stored role set and member override is renamed. Managing
automation rules is new (`automations.manage`, managers and above by default): a stored manager
or admin set that can write projects gains it, as the default sets do. The owner's set is every
permission and is never stored.

Every agency's rows are updated at once, so FORCE ROW LEVEL SECURITY is lifted for the owner
role inside this transaction and put back before it commits.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    op.execute("ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        f"UPDATE role_permissions SET permissions = array_replace(permissions, '{old}', '{new}') "
        f"WHERE '{old}' = ANY(permissions)"
    )
    op.execute("ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE memberships SET "
        f"granted_permissions = array_replace(granted_permissions, '{old}', '{new}'), "
        f"revoked_permissions = array_replace(revoked_permissions, '{old}', '{new}') "
        f"WHERE '{old}' = ANY(granted_permissions) OR '{old}' = ANY(revoked_permissions)"
    )
    op.execute("ALTER TABLE memberships FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    _rename("webhooks.write", "webhooks.manage")
    op.execute("ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE role_permissions "
        "SET permissions = array_append(permissions, 'automations.manage') "
        "WHERE role IN ('admin', 'manager') "
        "AND 'projects.write' = ANY(permissions) AND NOT 'automations.manage' = ANY(permissions)"
    )
    op.execute("ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute("ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE role_permissions SET permissions = array_remove(permissions, 'automations.manage')"
    )
    op.execute("ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE memberships SET "
        "granted_permissions = array_remove(granted_permissions, 'automations.manage'), "
        "revoked_permissions = array_remove(revoked_permissions, 'automations.manage')"
    )
    op.execute("ALTER TABLE memberships FORCE ROW LEVEL SECURITY")
    _rename("webhooks.manage", "webhooks.write")
