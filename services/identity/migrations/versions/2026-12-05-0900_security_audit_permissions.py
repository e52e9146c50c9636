"""security.manage and audit.read: the permissions of the agency's security settings and its
audit log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:00:00

`security.manage` (two-factor enforcement, single sign-on, session policy) is the owner's
alone by default, and the owner's set is every permission and never stored: nothing to add.
`audit.read` is held by owners and admins: a stored admin set that can manage members gains
it, as the default set does.

Every agency's rows are updated at once, so FORCE ROW LEVEL SECURITY is lifted for the owner
role inside this transaction and put back before it commits.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE role_permissions SET permissions = array_append(permissions, 'audit.read') "
        "WHERE role = 'admin' "
        "AND 'members.write' = ANY(permissions) AND NOT 'audit.read' = ANY(permissions)"
    )
    op.execute("ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    for table, columns in (
        ("role_permissions", ("permissions",)),
        ("memberships", ("granted_permissions", "revoked_permissions")),
    ):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        for permission in ("audit.read", "security.manage"):
            sets = ", ".join(f"{c} = array_remove({c}, '{permission}')" for c in columns)
            op.execute(f"UPDATE {table} SET {sets}")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
