"""the clients trigger builds the search text from the row it fires for

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 23:30:00

Before, the trigger called `crm_refresh_client_search`, which looked the client up again in
`clients`. Inside one big insert that lookup's plan was chosen while the table looked empty,
and a sequential scan per inserted row made a bulk insert quadratic (100k clients took more
than five minutes). The trigger now takes the company name from NEW; only the contacts are
looked up, by their (tenant_id, client_id) index. Contacts' trigger is unchanged.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FROM_NEW_ROW = """
CREATE OR REPLACE FUNCTION crm_clients_search_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO client_search (tenant_id, client_id, search_text)
  VALUES (NEW.tenant_id, NEW.id, lower(concat_ws(' ', NEW.company_name, (
    SELECT string_agg(concat_ws(' ', k.name, k.email), ' ' ORDER BY k.id)
    FROM contacts k WHERE k.tenant_id = NEW.tenant_id AND k.client_id = NEW.id))))
  ON CONFLICT (tenant_id, client_id) DO UPDATE SET search_text = EXCLUDED.search_text;
  RETURN NULL;
END $$"""

BY_LOOKUP = """
CREATE OR REPLACE FUNCTION crm_clients_search_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM crm_refresh_client_search(NEW.tenant_id, NEW.id);
  RETURN NULL;
END $$"""


def upgrade() -> None:
    op.execute(FROM_NEW_ROW)


def downgrade() -> None:
    op.execute(BY_LOOKUP)
