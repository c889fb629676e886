
-- ---------------------------------------------------------------------------
-- pg_cron scheduling and pg_dump
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota.quota_schedule(cron text DEFAULT '* * * * *') RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    PERFORM quota._require(ARRAY['cron'], ARRAY[cron IS NULL]);
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron (it must be in shared_preload_libraries), then call quota_schedule() again.';
    END IF;
    PERFORM quota.quota_next_reset(cron, 'UTC', now());     -- 22023 for a bad expression
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
        USING 'quota-maintenance', cron, 'SELECT quota.quota_run_due()';
    RETURN job;
END
$$;
COMMENT ON FUNCTION quota.quota_schedule(text) IS
    '(re)create the pg_cron job quota-maintenance that runs quota_run_due(); returns the job id';
REVOKE ALL ON FUNCTION quota.quota_schedule(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_schedule(text) TO quota_admin;

-- A restore brings the job in cron.job's own data, with its schedule, and
-- creating it here too would collide with that row.  pg_dump's scripts (and
-- pg_restore) run with row_security off, which sessions otherwise leave on:
-- then the job is left to the dump.
DO $cron$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        IF pg_catalog.current_setting('row_security') <> 'off' THEN
            PERFORM quota.quota_schedule();
        END IF;
    ELSE
        -- CREATE EXTENSION hides notices of its script; this one should be seen
        IF pg_catalog.current_setting('client_min_messages') = 'warning' THEN
            PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        END IF;
        RAISE NOTICE 'pg_cron is not installed: quota resets happen lazily on first use'
            USING HINT = 'For timely resets and expiry, CREATE EXTENSION pg_cron and call quota.quota_schedule().';
    END IF;
END
$cron$;

COMMENT ON SEQUENCE quota.discounts_discount_id_seq IS 'ids of quota.discounts';
COMMENT ON SEQUENCE quota.model_prices_price_id_seq IS 'ids of quota.model_prices';
COMMENT ON SEQUENCE quota.pool_defs_pool_id_seq IS 'ids of quota.pool_defs';
COMMENT ON SEQUENCE quota.ledger_entry_id_seq IS 'ids of quota.ledger entries (and charge ids)';
COMMENT ON SEQUENCE quota.alert_log_alert_id_seq IS 'ids of quota.alert_log (quota.alerts)';

-- Every table's data is dumped by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('quota.models', '');
SELECT pg_catalog.pg_extension_config_dump('quota.model_prices', '');
SELECT pg_catalog.pg_extension_config_dump('quota.model_prices_price_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.discounts', '');
SELECT pg_catalog.pg_extension_config_dump('quota.users', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_defs', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_members', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_groups', '');
SELECT pg_catalog.pg_extension_config_dump('quota.personal_policies', '');
SELECT pg_catalog.pg_extension_config_dump('quota.user_state', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('quota.reservations', '');
SELECT pg_catalog.pg_extension_config_dump('quota.alert_log', '');
SELECT pg_catalog.pg_extension_config_dump('quota.alert_log_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.discounts_discount_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_defs_pool_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger_entry_id_seq', '');

-- DROP EXTENSION quota takes the pg_cron job quota-maintenance along: this
-- event trigger loads quota's library at the start of every DROP EXTENSION,
-- and the library's object access hook deletes the job when the extension
-- dropped is quota (src/uninstall.c).
CREATE FUNCTION quota._drop_starting() RETURNS event_trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'quota_drop_starting';
COMMENT ON FUNCTION quota._drop_starting() IS
    'internal: loads quota''s library when DROP EXTENSION starts, so that dropping quota removes its pg_cron job';
REVOKE ALL ON FUNCTION quota._drop_starting() FROM PUBLIC;

CREATE EVENT TRIGGER quota_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION quota._drop_starting();
COMMENT ON EVENT TRIGGER quota_drop_extension IS
    'removes the pg_cron job quota-maintenance when the extension quota is dropped';

-- Say so when quota is not preloaded: it then runs in locked mode.
DO $preload$
BEGIN
    IF pg_catalog.translate(pg_catalog.current_setting('shared_preload_libraries'), ' "', '')
            OPERATOR(pg_catalog.!~) '(^|,|/)quota(\.so)?(,|$)' THEN
        IF pg_catalog.current_setting('client_min_messages') = 'warning' THEN
            PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        END IF;
        RAISE NOTICE 'quota is not in shared_preload_libraries: it runs in locked mode'
            USING DETAIL = 'Each pool''s charges are serialised by a lock and its balance is summed from the ledger: exact, but slower.',
                  HINT = 'Add quota to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;
END
$preload$;
