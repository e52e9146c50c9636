-- Roles and databases of the Docker dev stack (deploy/SERVICES.md). Run once by the postgres
-- image's entrypoint, as the superuser, on an empty data directory.
--
-- agencyos_owner owns every database and its schema public and runs the migrations;
-- agencyos_app is what the services connect as: it owns nothing and cannot bypass RLS.

CREATE ROLE agencyos_owner LOGIN CREATEDB PASSWORD 'agencyos_owner';
CREATE ROLE agencyos_app LOGIN NOBYPASSRLS PASSWORD 'agencyos_app';

-- Prepare template1 first: CREATE DATABASE copies it, so schema ownership and the default
-- privileges below land in every database created afterwards (including per-test databases).
\connect template1
ALTER SCHEMA public OWNER TO agencyos_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO agencyos_app;
-- Tables and sequences the owner creates later (migrations) are usable by the app role.
ALTER DEFAULT PRIVILEGES FOR ROLE agencyos_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agencyos_app;
ALTER DEFAULT PRIVILEGES FOR ROLE agencyos_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO agencyos_app;

\connect postgres
CREATE DATABASE agencyos_identity OWNER agencyos_owner;
CREATE DATABASE agencyos_crm OWNER agencyos_owner;
CREATE DATABASE agencyos_work OWNER agencyos_owner;
CREATE DATABASE agencyos_time OWNER agencyos_owner;
CREATE DATABASE agencyos_billing OWNER agencyos_owner;
CREATE DATABASE agencyos_notification OWNER agencyos_owner;
CREATE DATABASE agencyos_portal OWNER agencyos_owner;

-- Database ACLs are not copied from the template: only the two roles may connect.
REVOKE ALL ON DATABASE agencyos_identity, agencyos_crm, agencyos_work, agencyos_time,
    agencyos_billing, agencyos_notification, agencyos_portal FROM PUBLIC;
GRANT CONNECT ON DATABASE agencyos_identity, agencyos_crm, agencyos_work, agencyos_time,
    agencyos_billing, agencyos_notification, agencyos_portal TO agencyos_app;
