-- quota: upgrade from 0.1 to 0.2

\echo Use "ALTER EXTENSION quota UPDATE TO '0.2'" to load this file. \quit

-- Every change of release 0.2 is made here as well as in the install script
-- (src/sql/NN_*.sql); test/t/010_upgrade.pl checks that the two agree.

-- 14.10: rows enter the ledger through quota's functions only (or a
-- restore's load into an empty ledger); the ledger's triggers fire whatever
-- session_replication_role says
CREATE FUNCTION quota._ledger_guard() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_ledger_guard'
    LANGUAGE C;
COMMENT ON FUNCTION quota._ledger_guard() IS
    'internal: let into the ledger only the rows quota''s functions write, or a restore''s load into an empty ledger';
CREATE TRIGGER ledger_insert_guard BEFORE INSERT ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION quota._ledger_guard();
COMMENT ON TRIGGER ledger_insert_guard ON quota.ledger IS
    'rows enter the ledger through quota''s functions only (or a restore into an empty ledger)';
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_insert_guard;
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_append_only;
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_no_truncate;
