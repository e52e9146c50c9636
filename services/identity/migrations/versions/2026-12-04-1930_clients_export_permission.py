"""clients.export: roles an agency tuned before the permission existed keep exporting

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:30:00

Exporting the client list became its own permission, held by managers and admins by default.
An agency that had tuned the manager or admin role stored that role's whole set, without the
new name, so its managers would have lost the export they had (it needed `clients.read`). Such
a stored set that can read clients gains `clients.export`; the owner's set is always every
permission and is never stored. Members never had it by default and get nothing.

The rows of every agency are updated at once, so FORCE ROW LEVEL SECURITY is lifted for the
owner role inside this transaction and put back before it commits.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE role_permissions SET permissions = array_append(permissions, 'clients.export') "
        "WHERE role IN ('admin', 'manager') "
        "AND 'clients.read' = ANY(permissions) AND NOT 'clients.export' = ANY(permissions)"
    )
    op.execute("ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute("ALTER TABLE role_permissions NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE role_permissions SET permissions = array_remove(permissions, 'clients.export')"
    )
    op.execute("ALTER TABLE role_permissions FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE memberships SET "
        "granted_permissions = array_remove(granted_permissions, 'clients.export'), "
        "revoked_permissions = array_remove(revoked_permissions, 'clients.export')"
    )
    op.execute("ALTER TABLE memberships FORCE ROW LEVEL SECURITY")
