-- quota: upgrade from 0.1 to 0.2

\echo Use "ALTER EXTENSION quota UPDATE TO '0.2'" to load this file. \quit

-- Every change of release 0.2 is made here as well as in the install script
-- (src/sql/NN_*.sql); test/t/010_upgrade.pl checks that the two agree.

-- 14.12: who crossed a warning threshold (user_id, request_id) is shown to
-- the pool's administrators and quota_admin only: the rows move to
-- quota.alert_log, read through the view quota.alerts
ALTER TABLE quota.alerts RENAME TO alert_log;
ALTER TABLE quota.alert_log RENAME CONSTRAINT alerts_pkey TO alert_log_pkey;
ALTER TABLE quota.alert_log RENAME CONSTRAINT alerts_pool_period_start_threshold_key
    TO alert_log_pool_period_start_threshold_key;
ALTER SEQUENCE quota.alerts_alert_id_seq RENAME TO alert_log_alert_id_seq;
COMMENT ON TABLE quota.alert_log IS
    'one row per pool, period and warning threshold crossed; each row was also sent as NOTIFY quota_alert; read through quota.alerts';
COMMENT ON SEQUENCE quota.alert_log_alert_id_seq IS 'ids of quota.alert_log (quota.alerts)';
COMMENT ON POLICY alerts_read ON quota.alert_log IS
    'warnings are visible with their pool: to its users, its administrators and quota_admin (read through quota.alerts)';
REVOKE SELECT ON quota.alert_log FROM quota_admin, quota_app, quota_user;

-- Who crossed a threshold is for the pool's administrators and quota_admin:
-- the view reads quota.alert_log with its owner's rights, keeps the rows of
-- the pools the caller may see, and blanks user_id and request_id unless the
-- caller administers the pool.  A security barrier, so that no function of
-- the caller's query sees the rows or values it hides.
CREATE VIEW quota.alerts WITH (security_barrier = true) AS
SELECT a.alert_id, a.pool, a.threshold, a.period_start, a.used, a.allowance,
       CASE WHEN quota._admins_pool(a.pool) THEN a.user_id END AS user_id,
       CASE WHEN quota._admins_pool(a.pool) THEN a.request_id END AS request_id,
       a.at
  FROM quota.alert_log a
 WHERE quota._sees_pool(a.pool);
COMMENT ON VIEW quota.alerts IS
    'usage warnings of the pools the caller may see; user_id and request_id only for the pool''s administrators and quota_admin';
GRANT SELECT ON quota.alerts TO quota_admin, quota_app, quota_user;

-- 14.12: no internal function is executable by PUBLIC.  Trigger functions
-- are called by their triggers whatever the privileges; EXECUTE only lets a
-- role attach them to its own tables, so nobody gets it.  Helpers of
-- row-level security and of the views run as the role that reads, so the
-- three quota roles keep them.
REVOKE ALL ON FUNCTION
    quota.current_user_id(),
    quota._require(text[], boolean[]),
    quota._caller_is_admin(),
    quota._catalog_changed(),
    quota._append_only(),
    quota._routes_changed(),
    quota._sees_pool(text),
    quota._admins_pool(text),
    quota._pool_figures(text),
    quota._pools_update(),
    quota._pool_defs_changed(),
    quota._my_pools()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota.current_user_id(),
    quota._caller_is_admin(),
    quota._sees_pool(text),
    quota._admins_pool(text),
    quota._pool_figures(text),
    quota._my_pools()
    TO quota_admin, quota_app, quota_user;
GRANT EXECUTE ON FUNCTION quota._require(text[], boolean[])
    TO quota_admin, quota_user;
