
-- ---------------------------------------------------------------------------
-- Years of history (0.2): sealed balances, usage rollups, archiving
-- ---------------------------------------------------------------------------

-- One row (created by the first seal): entries up to sealed_upto are
-- summed in quota.pool_seals and quota.usage_rollup (seal.c).
CREATE TABLE quota.ledger_seal (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    sealed_upto     bigint NOT NULL CHECK (sealed_upto >= 0),
    sealed_at       timestamptz
);
COMMENT ON TABLE quota.ledger_seal IS
    'how far the ledger is sealed: every entry up to sealed_upto is final and summed in pool_seals and usage_rollup';
COMMENT ON COLUMN quota.ledger_seal.only_row IS 'always true: the table has at most one row';
COMMENT ON COLUMN quota.ledger_seal.sealed_upto IS 'the last sealed entry_id (0: nothing sealed)';
COMMENT ON COLUMN quota.ledger_seal.sealed_at IS 'when the last seal ran';

CREATE TABLE quota.pool_seals (
    pool            text PRIMARY KEY,
    balance         numeric NOT NULL,
    entries         bigint NOT NULL,
    zone            text,
    zone_since      timestamptz
);
COMMENT ON TABLE quota.pool_seals IS
    'per pool: the sum and count of its ledger entries up to ledger_seal.sealed_upto; balance = this sum + the later entries';
COMMENT ON COLUMN quota.pool_seals.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_seals.balance IS 'sum of the pool''s sealed entries';
COMMENT ON COLUMN quota.pool_seals.entries IS 'number of the pool''s sealed entries (archived ones count as their carry-forward entry)';
COMMENT ON COLUMN quota.pool_seals.zone IS 'the time zone in which the last seal counted the pool''s rollup days';
COMMENT ON COLUMN quota.pool_seals.zone_since IS 'every sealed charge of the pool dated from then on has its rollup day in zone (so a cap window that starts then or later is summed from the rollups)';

CREATE TABLE quota.usage_rollup (
    pool                text NOT NULL,
    day                 date NOT NULL,
    model               text NOT NULL,
    requests            bigint NOT NULL,
    input_tokens        numeric NOT NULL,
    cached_input_tokens numeric NOT NULL,
    output_tokens       numeric NOT NULL,
    original_cost       numeric NOT NULL,
    final_cost          numeric NOT NULL,
    PRIMARY KEY (pool, day, model)
);
COMMENT ON TABLE quota.usage_rollup IS
    'sealed charges per pool, day (in the pool''s time zone) and model: what quota.usage_daily reads instead of the ledger (kept after archiving)';
COMMENT ON COLUMN quota.usage_rollup.pool IS 'the pool charged';
COMMENT ON COLUMN quota.usage_rollup.day IS 'the day in the pool''s time zone (reset_timezone) when the charges were sealed';
COMMENT ON COLUMN quota.usage_rollup.model IS 'the model';
COMMENT ON COLUMN quota.usage_rollup.requests IS 'number of charges';
COMMENT ON COLUMN quota.usage_rollup.input_tokens IS 'input tokens, cached input excluded';
COMMENT ON COLUMN quota.usage_rollup.cached_input_tokens IS 'cached input tokens';
COMMENT ON COLUMN quota.usage_rollup.output_tokens IS 'output tokens';
COMMENT ON COLUMN quota.usage_rollup.original_cost IS 'sum of the costs before discount';
COMMENT ON COLUMN quota.usage_rollup.final_cost IS 'sum of the costs charged';

-- Archived entries wait here until the DBA has exported them.
CREATE TABLE quota.ledger_archive (LIKE quota.ledger);
COMMENT ON TABLE quota.ledger_archive IS
    'ledger entries removed by quota_archive(), each replaced in the ledger by its pool''s carry-forward entry; export, then TRUNCATE';
COMMENT ON COLUMN quota.ledger_archive.entry_id IS 'the archived entry''s entry_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.at IS 'the archived entry''s at (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.pool IS 'the archived entry''s pool (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.user_id IS 'the archived entry''s user_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.kind IS 'the archived entry''s kind (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.amount IS 'the archived entry''s amount (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.model IS 'the archived entry''s model (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.service IS 'the archived entry''s service (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.conversation_id IS 'the archived entry''s conversation_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.request_id IS 'the archived entry''s request_id (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.input_tokens IS 'the archived entry''s input_tokens (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.cached_input_tokens IS 'the archived entry''s cached_input_tokens (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.output_tokens IS 'the archived entry''s output_tokens (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.original_cost IS 'the archived entry''s original_cost (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.discount_rate IS 'the archived entry''s discount_rate (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.final_cost IS 'the archived entry''s final_cost (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.balance_after IS 'the archived entry''s balance_after (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.note IS 'the archived entry''s note (as in quota.ledger)';
COMMENT ON COLUMN quota.ledger_archive.price_id IS 'the archived entry''s price_id (as in quota.ledger; quota.model_prices keeps the prices)';
COMMENT ON COLUMN quota.ledger_archive.grant_id IS 'the archived entry''s grant_id (as in quota.ledger)';

-- The two parts of usage_daily that read the ledger, as SECURITY DEFINER
-- functions that filter by the caller themselves: row-level security would
-- call a policy function for every row of the ledger and of pool_defs.
CREATE FUNCTION quota._unsealed_usage()
    RETURNS TABLE(day date, pool text, model text, tokens numeric,
                  original_cost numeric, final_cost numeric)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    upto bigint := coalesce((SELECT s.sealed_upto FROM quota.ledger_seal s), 0);
BEGIN
    -- planned with the value: the primary key's range above the seal
    RETURN QUERY EXECUTE format(
        'SELECT timezone(d.reset_timezone, l.at)::date, l.pool, l.model, '
        '       coalesce(l.input_tokens, 0)::numeric + coalesce(l.cached_input_tokens, 0) '
        '        + coalesce(l.output_tokens, 0), '
        '       l.original_cost::numeric, l.final_cost::numeric '
        '  FROM quota.ledger l JOIN quota.pool_defs d ON d.pool = l.pool '
        ' WHERE l.entry_id > %s AND l.kind = ''charge'' '
        '   AND (quota._caller_is_admin() '
        '        OR l.pool IN (SELECT m.pool FROM quota.pool_members m '
        '                       WHERE m.user_id = quota.current_user_id() '
        '                         AND m.role = ''admin''))', upto);
END
$$;
COMMENT ON FUNCTION quota._unsealed_usage() IS
    'internal (usage_daily): the charges not yet in usage_rollup of the pools the caller administers';

CREATE FUNCTION quota._own_usage()
    RETURNS TABLE(day date, pool text, model text, tokens numeric,
                  original_cost numeric, final_cost numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT timezone(d.reset_timezone, l.at)::date, l.pool, l.model,
           coalesce(l.input_tokens, 0)::numeric + coalesce(l.cached_input_tokens, 0)
           + coalesce(l.output_tokens, 0),
           l.original_cost::numeric, l.final_cost::numeric
      FROM quota.ledger l JOIN quota.pool_defs d ON d.pool = l.pool
     WHERE l.user_id = quota.current_user_id() AND l.kind = 'charge'
       AND NOT quota._caller_is_admin()
       AND l.pool NOT IN (SELECT m.pool FROM quota.pool_members m
                           WHERE m.user_id = quota.current_user_id()
                             AND m.role = 'admin')
$$;
COMMENT ON FUNCTION quota._own_usage() IS
    'internal (usage_daily): the caller''s own charges in the pools they do not administer';

-- Pools the caller administers: the rollups (row-level security of
-- usage_rollup) and the unsealed charges; other pools: the caller's own
-- charges.  What the ledger's row-level security shows, counted per day in
-- each pool's time zone, without reading a pool's history.
CREATE VIEW quota.usage_daily WITH (security_invoker = true) AS
SELECT u.day, u.pool, u.model, sum(u.requests)::bigint AS requests,
       sum(u.tokens) AS tokens,
       quota._credits_or_null(sum(u.original_cost)) AS original_cost,
       quota._credits_or_null(sum(u.final_cost)) AS final_cost
  FROM (SELECT r.day, r.pool, r.model, r.requests,
               r.input_tokens + r.cached_input_tokens + r.output_tokens AS tokens,
               r.original_cost, r.final_cost
          FROM quota.usage_rollup r
        UNION ALL
        SELECT t.day, t.pool, t.model, 1, t.tokens, t.original_cost, t.final_cost
          FROM quota._unsealed_usage() t
        UNION ALL
        SELECT o.day, o.pool, o.model, 1, o.tokens, o.original_cost, o.final_cost
          FROM quota._own_usage() o) u
 GROUP BY 1, 2, 3;
COMMENT ON VIEW quota.usage_daily IS
    'per day (in the pool''s time zone), pool and model: requests, tokens and costs (pool administrators: the whole pool; users: their own charges)';

CREATE FUNCTION quota.quota_seal(wait interval DEFAULT '1 second') RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_seal'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_seal(interval) IS
    'seal the ledger up to its last entry (sums per pool and usage rollups); NULL when a transaction writing the ledger stayed open longer than wait';

CREATE FUNCTION quota._seal(wait interval, quiet boolean) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_seal'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._seal(interval, boolean) IS
    'internal (quota_run_due): quota_seal(), with no NOTICE when quiet';

CREATE FUNCTION quota._pool_window_charges(pool text, window_start timestamptz,
        window_end timestamptz) RETURNS numeric
    AS 'MODULE_PATHNAME', 'quota_pool_window_charges'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION quota._pool_window_charges(text, timestamptz, timestamptz) IS
    'internal (pool caps): the charges of a pool dated in a window, from the usage rollups and the unsealed entries where the window is whole days of the rollups'' time zone, else from the ledger';

CREATE FUNCTION quota.quota_archive(before timestamptz)
    RETURNS TABLE(pool text, entries bigint, carried quota.credits)
    AS 'MODULE_PATHNAME', 'quota_archive'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_archive(timestamptz) IS
    'move sealed entries dated before a time (and before each pool''s current period and the last 32 days) to quota.ledger_archive, leaving one carry-forward entry per pool; every balance stays the same';

CREATE FUNCTION quota.quota_verify()
    RETURNS TABLE(pool text, ledger_sum quota.credits, sealed_sum quota.credits,
                  ok boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    WITH s AS (SELECT coalesce((SELECT x.sealed_upto FROM quota.ledger_seal x), 0) AS upto),
    full_sum AS (SELECT l.pool, sum(l.amount::numeric) AS total FROM quota.ledger l GROUP BY l.pool),
    tail AS (SELECT l.pool, sum(l.amount::numeric) AS total
               FROM quota.ledger l, s WHERE l.entry_id > s.upto GROUP BY l.pool),
    sealed AS (SELECT coalesce(c.pool, t.pool) AS pool,
                      coalesce(c.balance, 0) + coalesce(t.total, 0) AS total
                 FROM quota.pool_seals c FULL JOIN tail t ON t.pool = c.pool)
    SELECT coalesce(f.pool, x.pool),
           quota._credits_or_null(coalesce(f.total, 0)),
           quota._credits_or_null(coalesce(x.total, 0)),
           coalesce(f.total, 0) = coalesce(x.total, 0)
      FROM full_sum f FULL JOIN sealed x ON x.pool = f.pool
     ORDER BY 1
$$;
COMMENT ON FUNCTION quota.quota_verify() IS
    'per pool: the sum of its whole ledger next to its sealed total plus later entries (reads all history: for audits and tests)';

ALTER TABLE quota.ledger_seal ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_seal_read ON quota.ledger_seal FOR SELECT USING (true);
COMMENT ON POLICY ledger_seal_read ON quota.ledger_seal IS
    'how far the ledger is sealed is no secret';
ALTER TABLE quota.pool_seals ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_seals_read ON quota.pool_seals FOR SELECT
    USING (quota._admins_pool(pool));
COMMENT ON POLICY pool_seals_read ON quota.pool_seals IS
    'sealed totals: pool administrators their pool''s; quota_admin all';
ALTER TABLE quota.usage_rollup ENABLE ROW LEVEL SECURITY;
-- the pools the caller administers, found once per query (not per row)
CREATE POLICY usage_rollup_read ON quota.usage_rollup FOR SELECT
    USING (quota._caller_is_admin()
           OR pool IN (SELECT m.pool FROM quota.pool_members m
                        WHERE m.user_id = quota.current_user_id() AND m.role = 'admin'));
COMMENT ON POLICY usage_rollup_read ON quota.usage_rollup IS
    'pool-wide usage: pool administrators their pool''s; quota_admin all';
ALTER TABLE quota.ledger_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_archive_read ON quota.ledger_archive FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY ledger_archive_read ON quota.ledger_archive IS
    'archived entries: quota_admin';

REVOKE ALL ON quota.ledger_seal, quota.pool_seals, quota.usage_rollup,
    quota.ledger_archive FROM PUBLIC;
GRANT SELECT ON quota.ledger_seal, quota.usage_rollup
    TO quota_admin, quota_app, quota_user;
GRANT SELECT ON quota.pool_seals TO quota_admin, quota_user;
GRANT SELECT, TRUNCATE ON quota.ledger_archive TO quota_admin;

REVOKE ALL ON FUNCTION
    quota.quota_seal(interval),
    quota.quota_archive(timestamptz),
    quota.quota_verify(),
    quota._unsealed_usage(),
    quota._own_usage(),
    quota._seal(interval, boolean),
    quota._pool_window_charges(text, timestamptz, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota.quota_seal(interval),
    quota.quota_archive(timestamptz),
    quota.quota_verify()
    TO quota_admin;
GRANT EXECUTE ON FUNCTION quota._unsealed_usage(), quota._own_usage()
    TO quota_admin, quota_app, quota_user;

SELECT pg_catalog.pg_extension_config_dump('quota.ledger_seal', '');
SELECT pg_catalog.pg_extension_config_dump('quota.pool_seals', '');
SELECT pg_catalog.pg_extension_config_dump('quota.usage_rollup', '');
SELECT pg_catalog.pg_extension_config_dump('quota.ledger_archive', '');
