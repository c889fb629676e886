-- quota: upgrade from 0.2 to 0.3

\echo Use "ALTER EXTENSION quota UPDATE TO '0.3'" to load this file. \quit

-- Every change of release 0.3 is made here as well as in the install script
-- (src/sql/NN_*.sql); TAP test 010 checks that an installation walked from
-- 0.1 has exactly the objects of a fresh one.
--
-- 0.3 builds from one source tree for PostgreSQL 15, 17 and 18; the
-- library of 0.3 serves 0.1 and 0.2 installations until they are updated.

-- ---------------------------------------------------------------------------
-- Users the gateway has not seen (0.3): with quota_auto_register(groups) set,
-- the first call for an unknown user id registers that user with those
-- groups (src/pools.c, QuotaCheckUserExists), as quota_set_user would
-- ---------------------------------------------------------------------------

CREATE TABLE quota.registration (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    groups      text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE quota.registration IS
    'auto-registration of unknown users (quota_auto_register): one row while it is on';
COMMENT ON COLUMN quota.registration.singleton IS 'always true: the table has at most one row';
COMMENT ON COLUMN quota.registration.groups IS 'the groups a user registered at their first call gets';
COMMENT ON COLUMN quota.registration.updated_at IS 'when auto-registration was last set';
SELECT pg_catalog.pg_extension_config_dump('quota.registration', '');
ALTER TABLE quota.registration ENABLE ROW LEVEL SECURITY;
CREATE POLICY registration_read ON quota.registration FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY registration_read ON quota.registration IS
    'quota_admin sees the setting';
GRANT SELECT ON quota.registration TO quota_admin;

CREATE FUNCTION quota._apply_personal_policies(user_id text, groups text[])
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    pol record;
BEGIN
    FOR pol IN SELECT * FROM quota.personal_policies p
               WHERE p.group_name = ANY (_apply_personal_policies.groups)
               ORDER BY p.group_name LOOP
        PERFORM quota._ensure_personal(_apply_personal_policies.user_id, pol.allowance,
                                       pol.reset_cron, pol.reset_timezone);
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._apply_personal_policies(text, text[]) IS
    'internal: give a user the personal pools of their groups'' policies (quota_set_user, auto-registration)';

CREATE FUNCTION quota.quota_auto_register(groups text[] DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF groups IS NULL THEN
        DELETE FROM quota.registration;
        RETURN;
    END IF;
    IF array_position(groups, NULL) IS NOT NULL OR '' = ANY (groups) THEN
        RAISE EXCEPTION 'group names must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass group names such as ''student'' or ''dept:physics'', or NULL to turn auto-registration off.';
    END IF;
    INSERT INTO quota.registration AS r (groups)
    VALUES (ARRAY(SELECT DISTINCT g FROM unnest(groups) g ORDER BY g))
    ON CONFLICT ON CONSTRAINT registration_pkey DO UPDATE
        SET groups = excluded.groups, updated_at = now();
END
$$;
COMMENT ON FUNCTION quota.quota_auto_register(text[]) IS
    'register unknown users at their first call with these groups (NULL: off, unknown users get 42704)';

CREATE FUNCTION quota._auto_register(user_id text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    g text[];
BEGIN
    SELECT r.groups INTO g FROM quota.registration r;
    IF NOT FOUND OR _auto_register.user_id = '' OR char_length(_auto_register.user_id) > 200 THEN
        RETURN false;
    END IF;
    -- a concurrent first request of the same user waits here for the other's
    -- row and then inserts nothing: the user and their pools come once
    INSERT INTO quota.users AS u (user_id, groups)
    VALUES (_auto_register.user_id, g)
    ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING;
    IF FOUND THEN
        PERFORM quota._apply_personal_policies(_auto_register.user_id, g);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION quota._auto_register(text) IS
    'internal: register an unknown user as quota.registration says; false when auto-registration is off';
REVOKE ALL ON FUNCTION quota._apply_personal_policies(text, text[]), quota._auto_register(text),
    quota.quota_auto_register(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_auto_register(text[]) TO quota_admin;

-- quota_set_user applies its groups' personal policies through the helper
-- auto-registration shares
CREATE OR REPLACE FUNCTION quota.quota_set_user(user_id text, groups text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['user_id', 'groups'],
                           ARRAY[user_id IS NULL, groups IS NULL]);
    IF user_id = '' OR char_length(user_id) > 200 THEN
        RAISE EXCEPTION 'invalid user id "%"', user_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A user id has 1 to 200 characters.';
    END IF;
    IF array_position(groups, NULL) IS NOT NULL OR '' = ANY (groups) THEN
        RAISE EXCEPTION 'group names must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass group names such as ''student'' or ''dept:physics''.';
    END IF;
    INSERT INTO quota.users AS u (user_id, groups)
    VALUES (quota_set_user.user_id, ARRAY(SELECT DISTINCT g FROM unnest(groups) g ORDER BY g))
    ON CONFLICT ON CONSTRAINT users_pkey DO UPDATE
        SET groups = excluded.groups, updated_at = now();
    PERFORM quota._apply_personal_policies(quota_set_user.user_id, quota_set_user.groups);
END
$$;

-- Locked mode (quota not preloaded): the admissions of the last minute, per
-- pool with a rate limit (src/ratelimit.c); unlogged, like the counters of
-- shared memory they stand in for
CREATE UNLOGGED TABLE quota.rate_window (
    pool        text NOT NULL,
    user_id     text NOT NULL,
    admitted_at timestamptz NOT NULL,
    tokens      bigint NOT NULL
);
CREATE INDEX rate_window_pool ON quota.rate_window (pool, admitted_at);
CREATE INDEX rate_window_member ON quota.rate_window (pool, user_id, admitted_at);
COMMENT ON TABLE quota.rate_window IS
    'locked mode only: requests admitted within the last minute by pools with rate limits (unlogged: lost at a crash, as rate limits are)';
COMMENT ON COLUMN quota.rate_window.pool IS 'the pool';
COMMENT ON COLUMN quota.rate_window.user_id IS 'the member';
COMMENT ON COLUMN quota.rate_window.admitted_at IS 'when the request was admitted (clock time)';
COMMENT ON COLUMN quota.rate_window.tokens IS 'its tokens (a reservation''s declared maxima)';
COMMENT ON INDEX quota.rate_window_pool IS 'a pool''s last minute';
COMMENT ON INDEX quota.rate_window_member IS 'a member''s last minute';
-- no policy and no grant: only quota's own functions read it
ALTER TABLE quota.rate_window ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON quota.rate_window FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Monitoring with Prometheus (0.3): the figures monitoring/postgres_exporter.yaml
-- reads, one function per metric family, for the exporter's role (pg_monitor:
-- figures per pool, never a user's name); and when maintenance last succeeded
-- ---------------------------------------------------------------------------

CREATE TABLE quota.maintenance (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_run_at     timestamptz NOT NULL,
    last_success_at timestamptz
);
COMMENT ON TABLE quota.maintenance IS
    'when quota_run_due() last ran, and last ran without a failure (one row)';
COMMENT ON COLUMN quota.maintenance.singleton IS 'always true: the table has at most one row';
COMMENT ON COLUMN quota.maintenance.last_run_at IS 'the end of the last run';
COMMENT ON COLUMN quota.maintenance.last_success_at IS 'the end of the last run in which every reset, expiry and the seal succeeded';
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
    -- no credit grants expire yet: every pool but personal ones shows 0
    SELECT d.pool, 0::float8 FROM quota.pool_defs d WHERE d.kind <> 'personal'
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

-- quota_run_due() records when it ran, and when it last ran without a failure
CREATE OR REPLACE FUNCTION quota.quota_run_due()
    RETURNS TABLE(resets integer, holds_expired integer)
    LANGUAGE plpgsql SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p record;
    detail text;
    ok boolean := true;
BEGIN
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION 'cannot change quota''s data on a hot standby'
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = 'This server is a standby in recovery: quota''s functions and views read the replicated data on it, and nothing can be charged, reserved or changed.',
                  HINT = 'Connect to the primary server.';
    END IF;
    -- One pool's trouble never stops the others: each pool's reset and
    -- expiry runs in its own subtransaction; a failure is logged and the
    -- pool, still due, is retried by the next run.
    resets := 0;
    FOR p IN SELECT d.pool FROM quota.pool_defs d
              WHERE d.next_reset_at <= now()
              ORDER BY d.next_reset_at, d.pool LOOP
        BEGIN
            IF quota._apply_reset(p.pool, false) THEN
                resets := resets + 1;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            ok := false;
            RAISE WARNING 'quota_run_due: could not reset pool "%": %', p.pool, SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'The other pools were reset; this one is retried by the next run.';
        END;
    END LOOP;
    holds_expired := 0;
    FOR p IN SELECT DISTINCT r.pool FROM quota.reservations r
              WHERE r.settled_at IS NULL AND r.expires_at <= now()
              ORDER BY r.pool LOOP
        BEGIN
            holds_expired := holds_expired + quota._expire_holds(p.pool);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            ok := false;
            RAISE WARNING 'quota_run_due: could not release the expired holds of pool "%": %',
                          p.pool, SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'The other pools'' holds were released; these are retried by the next run.';
        END;
    END LOOP;
    -- Seal the ledger up to now (seal.c): what restarts, standbys, locked
    -- mode and usage_daily read instead of history.  A seal needs a READ
    -- COMMITTED transaction; a writer left open postpones it to a later run.
    IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
        BEGIN
            PERFORM quota._seal('100 milliseconds', true);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            ok := false;
            RAISE WARNING 'quota_run_due: could not seal the ledger: %', SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'Balances stay exact; the next run tries again.';
        END;
    END IF;
    -- for monitoring: when maintenance last ran, and last ran without a failure
    INSERT INTO quota.maintenance AS m (last_run_at, last_success_at)
    VALUES (pg_catalog.clock_timestamp(), CASE WHEN ok THEN pg_catalog.clock_timestamp() END)
    ON CONFLICT ON CONSTRAINT maintenance_pkey DO UPDATE
        SET last_run_at = excluded.last_run_at,
            last_success_at = coalesce(excluded.last_success_at, m.last_success_at);
    RETURN NEXT;
END
$$;

-- ---------------------------------------------------------------------------
-- One shared-memory design (src/shmem.c): three settings size five tables,
-- so quota_shared_memory() names what each table holds beside its setting.
-- ---------------------------------------------------------------------------

DROP FUNCTION quota.quota_shared_memory();
CREATE FUNCTION quota.quota_shared_memory()
    RETURNS TABLE(setting text, holds text, used bigint, size bigint)
    AS 'MODULE_PATHNAME', 'quota_shared_memory'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION quota.quota_shared_memory() IS
    'entries in use in each of quota''s fixed-size shared tables (all databases of the server): the setting that sizes it, what the table holds, entries used and its size; no rows when quota is not preloaded';
REVOKE ALL ON FUNCTION quota.quota_shared_memory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_shared_memory() TO quota_admin;
