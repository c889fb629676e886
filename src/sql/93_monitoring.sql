
-- ---------------------------------------------------------------------------
-- Monitoring with Prometheus (0.3): the figures monitoring/postgres_exporter.yaml
-- reads, one function per metric family, for the exporter's role (pg_monitor:
-- figures per pool, never a user's name); and when maintenance last succeeded
-- ---------------------------------------------------------------------------

CREATE TABLE quota.maintenance (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_run_at     timestamptz NOT NULL,
    last_success_at timestamptz,
    statements_due_at timestamptz
);
COMMENT ON TABLE quota.maintenance IS
    'when quota_run_due() last ran, and last ran without a failure (one row)';
COMMENT ON COLUMN quota.maintenance.singleton IS 'always true: the table has at most one row';
COMMENT ON COLUMN quota.maintenance.last_run_at IS 'the end of the last run';
COMMENT ON COLUMN quota.maintenance.last_success_at IS 'the end of the last run in which every reset, expiry and the seal succeeded';
COMMENT ON COLUMN quota.maintenance.statements_due_at IS 'when a month of some pool ends that has no statement yet: quota_run_due() closes statements from then on (NULL: at its next run)';
ALTER TABLE quota.maintenance ENABLE ROW LEVEL SECURITY;
CREATE POLICY maintenance_read ON quota.maintenance FOR SELECT USING (true);
COMMENT ON POLICY maintenance_read ON quota.maintenance IS
    'when maintenance ran is no secret';
GRANT SELECT ON quota.maintenance TO quota_admin, pg_monitor;
-- the exporter's role (pg_monitor) reaches the functions below
GRANT USAGE ON SCHEMA quota TO pg_monitor;

CREATE FUNCTION quota.metrics_pools()
    RETURNS TABLE(pool text, balance float8, available float8, held float8,
                  allowance float8, used float8, next_reset_timestamp_seconds float8,
                  low_threshold float8)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT d.pool, m.balance::numeric::float8,
           (m.balance::numeric - coalesce(h.held, 0))::float8,
           coalesce(h.held, 0)::float8,
           d.allowance::numeric::float8,
           (d.period_funds::numeric - m.balance::numeric)::float8,
           extract(epoch FROM d.next_reset_at)::float8,
           (d.allowance::numeric * (1 - (SELECT min(w) FROM unnest(d.warn_at) w)))::float8
      FROM quota.pool_defs d
     CROSS JOIN LATERAL quota._pool_money(d.pool) m
      LEFT JOIN LATERAL (SELECT sum(r.held::numeric) AS held FROM quota.reservations r
                          WHERE r.pool = d.pool AND r.settled_at IS NULL
                            AND r.expires_at > now()) h ON true
     WHERE d.kind <> 'personal'
$$;
COMMENT ON FUNCTION quota.metrics_pools() IS
    'monitoring: balance, available, held, allowance, use this period, next reset (Unix time) and the available amount below which the pool is low, per pool but personal ones';

CREATE FUNCTION quota.metrics_personal()
    RETURNS TABLE(state text, pools float8)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 3
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    WITH holds AS (
        SELECT r.pool, sum(r.held::numeric) AS held FROM quota.reservations r
         WHERE r.settled_at IS NULL AND r.expires_at > now() GROUP BY r.pool),
    personal AS (
        SELECT CASE WHEN m.balance::numeric - coalesce(h.held, 0) <= 0 THEN 'exhausted'
                    WHEN d.period_funds::numeric - m.balance::numeric
                         >= d.allowance::numeric * (SELECT min(w) FROM unnest(d.warn_at) w)
                    THEN 'low'
                    ELSE 'ok' END AS state
          FROM quota.pool_defs d
         CROSS JOIN LATERAL quota._pool_money(d.pool) m
          LEFT JOIN holds h ON h.pool = d.pool
         WHERE d.kind = 'personal')
    SELECT s.state, (SELECT count(*) FROM personal p WHERE p.state = s.state)::float8
      FROM unnest(ARRAY['ok', 'low', 'exhausted']) s(state)
$$;
COMMENT ON FUNCTION quota.metrics_personal() IS
    'monitoring: personal pools counted by state: exhausted (nothing available), low (the period''s use passed the lowest warning threshold), ok';

CREATE FUNCTION quota.metrics_refusals()
    RETURNS TABLE(pool text, sqlstate text, total float8)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT CASE WHEN d.kind = 'personal' THEN '(personal)' ELSE r.pool END, r.sqlstate,
           sum(r.refused)::float8
      FROM quota._refusal_counts() r
      LEFT JOIN quota.pool_defs d ON d.pool = r.pool
     GROUP BY 1, 2
$$;
COMMENT ON FUNCTION quota.metrics_refusals() IS
    'monitoring: refused requests since the server started, per pool (personal pools together) and SQLSTATE';

CREATE FUNCTION quota.metrics_reservations()
    RETURNS TABLE(pool text, active float8)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT CASE WHEN d.kind = 'personal' THEN '(personal)' ELSE d.pool END,
           count(r.request_id)::float8
      FROM quota.pool_defs d
      LEFT JOIN quota.reservations r
        ON r.pool = d.pool AND r.settled_at IS NULL AND r.expires_at > now()
     GROUP BY 1
$$;
COMMENT ON FUNCTION quota.metrics_reservations() IS
    'monitoring: active reservations per pool (personal pools together)';

CREATE FUNCTION quota.metrics_grants()
    RETURNS TABLE(pool text, expiring_7d float8)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    -- what live credit grants have left that expires within 7 days
    SELECT d.pool,
           CASE WHEN d.next_expiry_at <= now() + interval '7 days' THEN
           coalesce((SELECT sum(x.remaining::numeric)
                       FROM quota.credit_grants g
                       JOIN quota._grant_remainders(d.pool) x ON x.grant_id = g.grant_id
                      WHERE g.pool = d.pool AND g.end_kind IS NULL
                        AND g.expires_at <= now() + interval '7 days'), 0)
           ELSE 0 END::float8
      FROM quota.pool_defs d WHERE d.kind <> 'personal'
$$;
COMMENT ON FUNCTION quota.metrics_grants() IS
    'monitoring: credits of grants that expire within 7 days, per pool but personal ones';

CREATE FUNCTION quota.metrics_maintenance()
    RETURNS TABLE(last_success_timestamp_seconds float8)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT coalesce(extract(epoch FROM (SELECT m.last_success_at FROM quota.maintenance m)), 0)::float8
$$;
COMMENT ON FUNCTION quota.metrics_maintenance() IS
    'monitoring: when quota_run_due() last succeeded (Unix time; 0: never)';

CREATE FUNCTION quota.metrics_ledger()
    RETURNS TABLE(consistent float8)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp
    -- the planner cannot know the tail is a minute of entries: it estimates
    -- a third of the ledger, and would JIT-compile (0.3 s at 50 million rows)
    SET jit = off
AS $$
    -- every pool's balance against its sealed sum plus the entries after
    -- the seal (a minute of entries), not against all history
    WITH s AS (SELECT coalesce((SELECT x.sealed_upto FROM quota.ledger_seal x), 0) AS upto),
    tail AS (SELECT l.pool, sum(l.amount::numeric) AS total
               FROM quota.ledger l, s WHERE l.entry_id > s.upto GROUP BY l.pool)
    SELECT CASE WHEN bool_and((quota._pool_money(d.pool)).balance::numeric
                              = coalesce(c.balance, 0) + coalesce(t.total, 0))
                     IS NOT FALSE
                THEN 1 ELSE 0 END::float8
      FROM quota.pool_defs d
      LEFT JOIN quota.pool_seals c ON c.pool = d.pool
      LEFT JOIN tail t ON t.pool = d.pool
$$;
COMMENT ON FUNCTION quota.metrics_ledger() IS
    'monitoring: 1 when every pool''s balance equals its ledger (its sealed sum plus the later entries), else 0';

REVOKE ALL ON FUNCTION quota.metrics_pools(), quota.metrics_personal(), quota.metrics_refusals(),
    quota.metrics_reservations(), quota.metrics_grants(), quota.metrics_maintenance(),
    quota.metrics_ledger() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.metrics_pools(), quota.metrics_personal(), quota.metrics_refusals(),
    quota.metrics_reservations(), quota.metrics_grants(), quota.metrics_maintenance(),
    quota.metrics_ledger() TO pg_monitor, quota_admin;
