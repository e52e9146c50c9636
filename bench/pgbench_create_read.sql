-- The SQL floor of "create a client, then read it back" (bench/run.py runs this with pgbench
-- as the application role, `-M prepared`, against the crm database).
--
-- Variables (`-D`): tenant = the agency id, user = its owner's user id.
--
-- It is the statement sequence crm runs for POST /v1/clients and GET /v1/clients/{id}
-- (agencyos.common.db.Database.transaction, ClientService.create, outbox.publish,
-- Repository.get), put into one transaction. Left out, because they are not SQL: the gRPC
-- GetMember call to identity, JWT verification, HTTP and JSON. The outbox row is written
-- with published_at already set so that crm's running relay does not publish these rows.
BEGIN;
SELECT set_config('app.tenant_id', :tenant, true);
SELECT set_config('app.user_id', :user, true);
INSERT INTO clients (tenant_id, id, company_name, status, industry, website, notes, currency,
                     owner_id, created_by, created_at, updated_at)
VALUES (:tenant, gen_random_uuid(), 'pgbench client', 'lead', NULL, NULL, NULL, NULL,
        :user, :user, now(), now())
RETURNING id AS client_id \gset
SELECT current_setting('app.tenant_id', true);
INSERT INTO outbox (tenant_id, event_id, topic, event_type, envelope, headers, published_at)
VALUES (:tenant, gen_random_uuid(), 'crm.events', 'crm.client.created',
        jsonb_build_object(
            'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/agencyos/crm',
            'type', 'crm.client.created', 'subject', 'clients/' || CAST(:client_id AS text),
            'time', now(), 'datacontenttype', 'application/json',
            'dataschema', 'https://agencyos.dev/schemas/events/crm.client.created/v1',
            'tenantid', CAST(:tenant AS text),
            'data', jsonb_build_object(
                'client_id', CAST(:client_id AS text), 'company_name', 'pgbench client',
                'status', 'lead', 'owner_id', CAST(:user AS text),
                'created_by', CAST(:user AS text))),
        '{}'::jsonb, now());
SELECT tenant_id, id, company_name, status, industry, website, notes, currency, owner_id,
       created_by, created_at, updated_at
FROM clients
WHERE id = :client_id;
COMMIT;
