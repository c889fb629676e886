-- quota: exact LLM quota pools and billing (install script)

\echo Use "CREATE EXTENSION quota" to load this file. \quit

-- The three roles of the contract, created when missing (roles are global,
-- so they outlive DROP EXTENSION and are shared by every database).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'quota_admin') THEN
        CREATE ROLE quota_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'quota_app') THEN
        CREATE ROLE quota_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'quota_user') THEN
        CREATE ROLE quota_user NOLOGIN;
    END IF;
END
$roles$;

COMMENT ON SCHEMA quota IS 'quota: LLM quota pools, reservations and the billing ledger';

REVOKE ALL ON SCHEMA quota FROM PUBLIC;
GRANT USAGE ON SCHEMA quota TO quota_admin, quota_app, quota_user;
