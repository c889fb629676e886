-- ---------------------------------------------------------------------------
-- How full quota's shared tables are (src/shmem_usage.c)
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.quota_shared_memory()
    RETURNS TABLE(setting text, holds text, used bigint, size bigint)
    AS 'MODULE_PATHNAME', 'quota_shared_memory'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION quota.quota_shared_memory() IS
    'entries in use in each of quota''s fixed-size shared tables (all databases of the server): the setting that sizes it, what the table holds, entries used and its size; no rows when quota is not preloaded';
REVOKE ALL ON FUNCTION quota.quota_shared_memory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_shared_memory() TO quota_admin;
