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
    -- Statements (0.3): early on the 1st (of each pool's time zone), close
    -- the months that have ended, first, before this run writes entries.
    -- A transaction still open from last month postpones it to a later run.
    IF pg_catalog.current_setting('transaction_isolation') = 'read committed'
       AND now() >= coalesce((SELECT m.statements_due_at FROM quota.maintenance m), '-infinity') THEN
        BEGIN
            PERFORM quota._close_statements(now(), '100 milliseconds', true);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            ok := false;
            RAISE WARNING 'quota_run_due: could not close the monthly statements: %', SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'Nothing was closed; the next run tries again.';
        END;
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
    -- [issue 29] credit grants: each pool's due expiries, once (src/grants.c)
    FOR p IN SELECT DISTINCT g.pool FROM quota.credit_grants g
              WHERE g.end_kind IS NULL AND g.expires_at <= now()
              ORDER BY g.pool LOOP
        BEGIN
            PERFORM quota._expire_grants(p.pool);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            ok := false;
            RAISE WARNING 'quota_run_due: could not expire the credit grants of pool "%": %',
                          p.pool, SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'The other pools'' grants were expired; these are retried by the next run.';
        END;
    END LOOP;
    -- [end issue 29]
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
COMMENT ON FUNCTION quota.quota_run_due() IS
    'close the monthly statements of months that have ended, apply every due reset and credit-grant expiry once, release expired reservations (each pool on its own) and seal the ledger (run every minute by pg_cron)';


-- ---------------------------------------------------------------------------
-- Statements and audit (0.3): one statement per pool and calendar month of
-- its time zone, hashed so that a change to a closed month shows
-- (src/statement.c); re-rating after a wrong price
-- ---------------------------------------------------------------------------

CREATE TABLE quota.statements (
    statement_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    pool            text NOT NULL,
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    opening_balance quota.credits NOT NULL,
    grants          quota.credits NOT NULL,
    topups          quota.credits NOT NULL,
    charges         quota.credits NOT NULL,
    original        quota.credits NOT NULL,
    resets          quota.credits NOT NULL,
    adjustments     quota.credits NOT NULL,
    expired         quota.credits NOT NULL,
    closing_balance quota.credits NOT NULL,
    entries         bigint NOT NULL,
    hash            text NOT NULL,
    previous_hash   text,
    closed_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (pool, period_start),
    CHECK (period_end > period_start)
);
COMMENT ON TABLE quota.statements IS
    'closed monthly statements: one per pool and calendar month of its time zone; opening + grants + topups - charges + resets + adjustments - expired = closing';
COMMENT ON COLUMN quota.statements.statement_id IS 'the statement''s id';
COMMENT ON COLUMN quota.statements.pool IS 'the pool';
COMMENT ON COLUMN quota.statements.period_start IS 'start of the month in the pool''s time zone (the previous statement''s period_end)';
COMMENT ON COLUMN quota.statements.period_end IS 'start of the next month in the pool''s time zone (excluded)';
COMMENT ON COLUMN quota.statements.opening_balance IS 'the previous statement''s closing_balance (0 for a pool''s first)';
COMMENT ON COLUMN quota.statements.grants IS 'sum of the period''s grant entries';
COMMENT ON COLUMN quota.statements.topups IS 'sum of the period''s topup entries';
COMMENT ON COLUMN quota.statements.charges IS 'the period''s charges, final (after discounts), positive: minus the sum of its charge entries';
COMMENT ON COLUMN quota.statements.original IS 'the period''s charges before discounts (sum of original_cost)';
COMMENT ON COLUMN quota.statements.resets IS 'sum of the period''s reset entries (signed)';
COMMENT ON COLUMN quota.statements.adjustments IS 'sum of the period''s adjust entries (signed; corrections, re-ratings, carry-forwards) and of any other kind';
COMMENT ON COLUMN quota.statements.expired IS 'credits of grants that expired in the period, positive: minus the sum of its expire entries';
COMMENT ON COLUMN quota.statements.closing_balance IS 'opening_balance plus the sum of the period''s entries';
COMMENT ON COLUMN quota.statements.entries IS 'number of ledger entries in the period';
COMMENT ON COLUMN quota.statements.hash IS 'SHA-256 (hex) of the statement''s canonical text: previous_hash, pool and period, every entry in entry_id order, the figures (see the README)';
COMMENT ON COLUMN quota.statements.previous_hash IS 'hash of the pool''s previous statement (NULL for its first)';
COMMENT ON COLUMN quota.statements.closed_at IS 'when the statement was closed';
COMMENT ON SEQUENCE quota.statements_statement_id_seq IS 'ids of quota.statements';

CREATE TABLE quota.statement_lines (
    statement_id        bigint NOT NULL,
    user_id             text,
    model               text,
    service             text,
    requests            bigint NOT NULL,
    input_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    original_cost       quota.credits NOT NULL,
    final_cost          quota.credits NOT NULL
);
CREATE INDEX statement_lines_statement ON quota.statement_lines (statement_id);
CREATE INDEX statement_lines_user ON quota.statement_lines (user_id);
COMMENT ON TABLE quota.statement_lines IS
    'a closed statement''s charges per user, model and service (the chargeback detail)';
COMMENT ON COLUMN quota.statement_lines.statement_id IS 'the statement (quota.statements)';
COMMENT ON COLUMN quota.statement_lines.user_id IS 'the user charged';
COMMENT ON COLUMN quota.statement_lines.model IS 'the model';
COMMENT ON COLUMN quota.statement_lines.service IS 'the model''s service';
COMMENT ON COLUMN quota.statement_lines.requests IS 'number of charges';
COMMENT ON COLUMN quota.statement_lines.input_tokens IS 'input tokens, cached input excluded';
COMMENT ON COLUMN quota.statement_lines.cached_input_tokens IS 'cached input tokens';
COMMENT ON COLUMN quota.statement_lines.output_tokens IS 'output tokens';
COMMENT ON COLUMN quota.statement_lines.original_cost IS 'sum of the costs before discount';
COMMENT ON COLUMN quota.statement_lines.final_cost IS 'sum of the costs charged';
COMMENT ON INDEX quota.statement_lines_statement IS 'a statement''s lines';
COMMENT ON INDEX quota.statement_lines_user IS 'a user''s lines';

CREATE TABLE quota.statement_entries (
    statement_id    bigint NOT NULL,
    chunk           integer NOT NULL,
    entry_ids       bigint[] NOT NULL,
    fingerprints    bigint[] NOT NULL,
    PRIMARY KEY (statement_id, chunk)
);
COMMENT ON TABLE quota.statement_entries IS
    'per closed statement: its entries'' ids and 64-bit fingerprints of their canonical lines, by which quota_verify_statements names an entry changed, deleted or inserted';
COMMENT ON COLUMN quota.statement_entries.statement_id IS 'the statement (quota.statements)';
COMMENT ON COLUMN quota.statement_entries.chunk IS 'position of this chunk (up to 10,000 entries) in entry_id order';
COMMENT ON COLUMN quota.statement_entries.entry_ids IS 'the entries'' ids, ascending';
COMMENT ON COLUMN quota.statement_entries.fingerprints IS 'hash_bytes_extended of each entry''s canonical line (not cryptographic: the statement''s hash is)';
-- stored as they are: compressing 10,000 ids and random fingerprints to a
-- row cost a close of 5 million entries seconds (pglz) for little room
ALTER TABLE quota.statement_entries ALTER COLUMN entry_ids SET STORAGE EXTERNAL,
    ALTER COLUMN fingerprints SET STORAGE EXTERNAL;

CREATE TABLE quota.rerated (
    charge_id   bigint NOT NULL,
    adjust_id   bigint NOT NULL,
    pool        text NOT NULL,
    user_id     text,
    billed      quota.credits NOT NULL,
    corrected   quota.credits NOT NULL,
    PRIMARY KEY (charge_id, adjust_id)
);
CREATE INDEX rerated_adjust ON quota.rerated (adjust_id);
COMMENT ON TABLE quota.rerated IS
    'which charges each re-rating adjust entry corrects, and to what (quota_rerate); a charge''s cost is its latest corrected value';
COMMENT ON COLUMN quota.rerated.charge_id IS 'the charge entry corrected (quota.ledger.entry_id)';
COMMENT ON COLUMN quota.rerated.adjust_id IS 'the adjust entry that posted the correction (quota.ledger.entry_id)';
COMMENT ON COLUMN quota.rerated.pool IS 'the charge''s pool';
COMMENT ON COLUMN quota.rerated.user_id IS 'the charge''s user';
COMMENT ON COLUMN quota.rerated.billed IS 'the charge''s cost before this correction (its final_cost, or its previous correction)';
COMMENT ON COLUMN quota.rerated.corrected IS 'the charge''s cost at the re-rating''s prices';
COMMENT ON INDEX quota.rerated_adjust IS 'the charges an adjust entry corrects';

-- A closed statement never changes: refuse updates, deletes and TRUNCATE,
-- for everyone (ENABLE ALWAYS); quota_verify_statements finds what a
-- superuser does with the triggers disabled.
CREATE FUNCTION quota._statements_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'table "quota.%" is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Closed statements and re-ratings are never changed.',
              HINT = 'Correct a closed month with quota_adjust() or quota_rerate(): the correction appears in the current period.';
END
$$;
COMMENT ON FUNCTION quota._statements_append_only() IS
    'internal: refuse changes to closed statements, their lines and entries, and re-ratings';
CREATE TRIGGER statements_append_only BEFORE UPDATE OR DELETE ON quota.statements
    FOR EACH ROW EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER statements_no_truncate BEFORE TRUNCATE ON quota.statements
    FOR EACH STATEMENT EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER statement_lines_append_only BEFORE UPDATE OR DELETE ON quota.statement_lines
    FOR EACH ROW EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER statement_lines_no_truncate BEFORE TRUNCATE ON quota.statement_lines
    FOR EACH STATEMENT EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER statement_entries_append_only BEFORE UPDATE OR DELETE ON quota.statement_entries
    FOR EACH ROW EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER statement_entries_no_truncate BEFORE TRUNCATE ON quota.statement_entries
    FOR EACH STATEMENT EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER rerated_append_only BEFORE UPDATE OR DELETE ON quota.rerated
    FOR EACH ROW EXECUTE FUNCTION quota._statements_append_only();
CREATE TRIGGER rerated_no_truncate BEFORE TRUNCATE ON quota.rerated
    FOR EACH STATEMENT EXECUTE FUNCTION quota._statements_append_only();
COMMENT ON TRIGGER statements_append_only ON quota.statements IS 'a closed statement never changes';
COMMENT ON TRIGGER statements_no_truncate ON quota.statements IS 'a closed statement never changes';
COMMENT ON TRIGGER statement_lines_append_only ON quota.statement_lines IS 'a closed statement never changes';
COMMENT ON TRIGGER statement_lines_no_truncate ON quota.statement_lines IS 'a closed statement never changes';
COMMENT ON TRIGGER statement_entries_append_only ON quota.statement_entries IS 'a closed statement never changes';
COMMENT ON TRIGGER statement_entries_no_truncate ON quota.statement_entries IS 'a closed statement never changes';
COMMENT ON TRIGGER rerated_append_only ON quota.rerated IS 're-ratings are append-only, like the ledger';
COMMENT ON TRIGGER rerated_no_truncate ON quota.rerated IS 're-ratings are append-only, like the ledger';
ALTER TABLE quota.statements ENABLE ALWAYS TRIGGER statements_append_only;
ALTER TABLE quota.statements ENABLE ALWAYS TRIGGER statements_no_truncate;
ALTER TABLE quota.statement_lines ENABLE ALWAYS TRIGGER statement_lines_append_only;
ALTER TABLE quota.statement_lines ENABLE ALWAYS TRIGGER statement_lines_no_truncate;
ALTER TABLE quota.statement_entries ENABLE ALWAYS TRIGGER statement_entries_append_only;
ALTER TABLE quota.statement_entries ENABLE ALWAYS TRIGGER statement_entries_no_truncate;
ALTER TABLE quota.rerated ENABLE ALWAYS TRIGGER rerated_append_only;
ALTER TABLE quota.rerated ENABLE ALWAYS TRIGGER rerated_no_truncate;

-- Calendar months of a time zone
CREATE FUNCTION quota._month_start(t timestamptz, tz text) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT pg_catalog.timezone($2, pg_catalog.date_trunc('month', pg_catalog.timezone($2, $1)))
$$;
COMMENT ON FUNCTION quota._month_start(timestamptz, text) IS
    'internal (statements): the start of the calendar month of a time zone that contains t';

CREATE FUNCTION quota._month_end(t timestamptz, tz text) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT pg_catalog.timezone($2, pg_catalog.date_trunc('month', pg_catalog.timezone($2, $1))
                                   + '1 month'::pg_catalog.interval)
$$;
COMMENT ON FUNCTION quota._month_end(timestamptz, text) IS
    'internal (statements): the start of the calendar month of a time zone that follows the one containing t';

-- The canonical text's first and last lines (the README's auditor's query
-- builds the same text)
CREATE FUNCTION quota._statement_head(pool text, period_start timestamptz,
        period_end timestamptz, previous_hash text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT pg_catalog.concat_ws('|', 'quota statement 1',
               pg_catalog.char_length($1) || ':' || $1,
               (EXTRACT(epoch FROM $2) * 1000000)::bigint,
               (EXTRACT(epoch FROM $3) * 1000000)::bigint,
               coalesce($4, '-')) || E'\n'
$$;
COMMENT ON FUNCTION quota._statement_head(text, timestamptz, timestamptz, text) IS
    'internal (statements): the first line of a statement''s canonical text';

CREATE FUNCTION quota._statement_tail(s quota.statements) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT pg_catalog.concat_ws('|', $1.opening_balance::text, $1.grants::text, $1.topups::text,
               $1.charges::text, $1.original::text, $1.resets::text, $1.adjustments::text,
               $1.expired::text, $1.closing_balance::text, $1.entries) || E'\n'
$$;
COMMENT ON FUNCTION quota._statement_tail(quota.statements) IS
    'internal (statements): the last line of a statement''s canonical text, its figures';

CREATE FUNCTION quota._statement_scan(statement_id bigint, pool text, period_start timestamptz,
        period_end timestamptz, first boolean, head text, tail text,
        opening_balance quota.credits, record boolean)
    RETURNS TABLE(kind text, user_id text, model text, service text, requests bigint,
                  amount quota.credits, input_tokens bigint, cached_input_tokens bigint,
                  output_tokens bigint, original_cost quota.credits, final_cost quota.credits,
                  entry_id bigint, change text, tail text)
    AS 'MODULE_PATHNAME', 'quota_statement_scan'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._statement_scan(bigint, text, timestamptz, timestamptz, boolean, text,
        text, quota.credits, boolean) IS
    'internal (statements): read the period''s entries once (hashed in entry_id order): one row per kind, user, model and service with its sums; hash head, the entries and tail (NULL: the figures line of these groups after opening_balance); record their fingerprints, or name the entries changed, deleted or inserted since; the last row (kind and entry_id NULL) is the SHA-256 and the figures line hashed';

CREATE FUNCTION quota._statement_wait(pids integer[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'quota_statement_wait'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._statement_wait(integer[]) IS
    'internal (statements): wait (bounded by lock_timeout) for the transaction each of these backends runs now to end';

-- The figures of a period from its groups
CREATE FUNCTION quota._statement_figures(groups jsonb,
        OUT grants numeric, OUT topups numeric, OUT charges numeric, OUT original numeric,
        OUT resets numeric, OUT adjustments numeric, OUT expired numeric, OUT total numeric,
        OUT entries bigint)
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT coalesce(sum(g.amount) FILTER (WHERE g.kind = 'grant'), 0),
           coalesce(sum(g.amount) FILTER (WHERE g.kind = 'topup'), 0),
           coalesce(-sum(g.amount) FILTER (WHERE g.kind = 'charge'), 0),
           coalesce(sum(g.original_cost) FILTER (WHERE g.kind = 'charge'), 0),
           coalesce(sum(g.amount) FILTER (WHERE g.kind = 'reset'), 0),
           coalesce(sum(g.amount) FILTER (WHERE g.kind NOT IN
                    ('grant', 'topup', 'charge', 'reset', 'expire')), 0),
           coalesce(-sum(g.amount) FILTER (WHERE g.kind = 'expire'), 0),
           coalesce(sum(g.amount), 0), coalesce(sum(g.requests), 0)::bigint
      FROM jsonb_to_recordset($1) AS g(kind text, amount numeric, original_cost numeric,
                                      requests bigint)
$$;
COMMENT ON FUNCTION quota._statement_figures(jsonb) IS
    'internal (statements): a statement''s figures from its period''s groups (the rows of quota._statement_scan as JSON)';

-- Close one pool's period: lines, entries' fingerprints, the statement
CREATE FUNCTION quota._close_period(p_pool text, p_start timestamptz, p_end timestamptz,
        p_previous quota.statements) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    s quota.statements;
    f record;
    groups jsonb;
    hashed_tail text;
    first boolean := p_previous.statement_id IS NULL;
BEGIN
    s.statement_id := nextval('quota.statements_statement_id_seq');
    s.pool := p_pool;
    s.period_start := p_start;
    s.period_end := p_end;
    s.previous_hash := p_previous.hash;
    s.opening_balance := coalesce(p_previous.closing_balance, '0');
    -- one reading of the month (src/statement.c): its groups give the
    -- figures and the lines, and its entries the hash and fingerprints
    SELECT coalesce(jsonb_agg(to_jsonb(c)) FILTER (WHERE c.kind IS NOT NULL), '[]'),
           max(c.change) FILTER (WHERE c.kind IS NULL AND c.entry_id IS NULL),
           max(c.tail) FILTER (WHERE c.kind IS NULL AND c.entry_id IS NULL)
      INTO groups, s.hash, hashed_tail
      FROM quota._statement_scan(s.statement_id, p_pool, p_start, p_end, first,
                                 quota._statement_head(p_pool, p_start, p_end, s.previous_hash),
                                 NULL, s.opening_balance, true) c;
    SELECT * INTO f FROM quota._statement_figures(groups);
    s.grants := f.grants;
    s.topups := f.topups;
    s.charges := f.charges;
    s.original := f.original;
    s.resets := f.resets;
    s.adjustments := f.adjustments;
    s.expired := f.expired;
    s.closing_balance := s.opening_balance::numeric + f.total;
    s.entries := f.entries;
    s.closed_at := now();
    -- the hash covers the figures line written in C: it must be this one
    IF hashed_tail IS DISTINCT FROM quota._statement_tail(s) THEN
        RAISE EXCEPTION 'quota: the figures hashed for statement % of pool "%" are not its figures', s.statement_id, p_pool
            USING ERRCODE = 'internal_error',
                  DETAIL = format('Hashed: %s; figures: %s.', rtrim(hashed_tail, E'\n'),
                                  rtrim(quota._statement_tail(s), E'\n'));
    END IF;
    INSERT INTO quota.statement_lines AS x (statement_id, user_id, model, service, requests,
            input_tokens, cached_input_tokens, output_tokens, original_cost, final_cost)
    SELECT s.statement_id, g.user_id, g.model, g.service, g.requests, g.input_tokens,
           g.cached_input_tokens, g.output_tokens, g.original_cost, g.final_cost
      FROM jsonb_to_recordset(groups) AS g(kind text, user_id text, model text, service text,
               requests bigint, input_tokens bigint, cached_input_tokens bigint,
               output_tokens bigint, original_cost quota.credits, final_cost quota.credits)
     WHERE g.kind = 'charge';
    INSERT INTO quota.statements SELECT (s).*;
END
$$;
COMMENT ON FUNCTION quota._close_period(text, timestamptz, timestamptz, quota.statements) IS
    'internal (statements): close one period of a pool, after the pool''s previous statement (NULL: its first)';

CREATE FUNCTION quota._statements_next_end() RETURNS timestamptz
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    -- per pool: the end of the month after its last statement's, or of the
    -- month it was created in
    SELECT min(quota._month_end(coalesce(l.last_end,
                                         quota._month_start(d.created_at, d.reset_timezone)),
                                d.reset_timezone))
      FROM quota.pool_defs d
      LEFT JOIN LATERAL (SELECT max(s.period_end) AS last_end FROM quota.statements s
                          WHERE s.pool = d.pool) l ON true
$$;
COMMENT ON FUNCTION quota._statements_next_end() IS
    'internal (statements): when the first month ends that no statement covers yet (NULL: no pools)';

CREATE FUNCTION quota._close_statements(p_until timestamptz, p_wait interval, p_quiet boolean)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p record;
    prev quota.statements;
    v_start timestamptz;
    v_end timestamptz;
    pids integer[];
    old_timeout text := current_setting('lock_timeout');
    open_count integer;
    closed integer := 0;
    due timestamptz;
BEGIN
    PERFORM quota._require(ARRAY['until', 'wait'], ARRAY[p_until IS NULL, p_wait IS NULL]);
    IF p_until > now() THEN
        RAISE EXCEPTION 'cannot close statements until %: that is later than now', p_until
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A statement is closed once its month has ended.',
                  HINT = 'Call quota_close_statements() without an argument to close every month that has ended.';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION '"quota_close_statements" must run in a READ COMMITTED transaction'
            USING ERRCODE = 'invalid_transaction_state',
                  DETAIL = 'It reads entries committed while it waits, which a REPEATABLE READ or SERIALIZABLE snapshot does not see.',
                  HINT = 'Run it in its own transaction at the default isolation level, as pg_cron does.';
    END IF;
    -- one close at a time (it blocks neither charges nor readers)
    LOCK TABLE quota.statements IN SHARE ROW EXCLUSIVE MODE;
    IF coalesce(quota._statements_next_end() <= p_until, false) THEN
        -- Wait for every transaction of this database that started before
        -- until: it may still commit an entry dated in a month closed now
        -- (src/statement.c).  Not for those waiting for this one (another close).
        IF EXISTS (SELECT FROM pg_catalog.pg_locks k
                    WHERE k.relation = 'quota.ledger'::regclass AND k.pid IS NULL) THEN
            open_count := 1;
        ELSE
            PERFORM pg_catalog.pg_stat_clear_snapshot();
            pids := ARRAY(SELECT a.pid FROM pg_catalog.pg_stat_activity a
                           WHERE a.datname = pg_catalog.current_database()
                             AND a.pid <> pg_catalog.pg_backend_pid()
                             AND a.backend_type NOT IN ('autovacuum worker', 'autovacuum launcher')
                             AND (a.xact_start IS NULL OR a.xact_start < p_until)
                             AND NOT pg_catalog.pg_backend_pid() = ANY (pg_catalog.pg_blocking_pids(a.pid)));
            PERFORM pg_catalog.set_config('lock_timeout',
                greatest(1, (extract(epoch FROM p_wait) * 1000)::bigint)::text || 'ms', true);
            BEGIN
                PERFORM quota._statement_wait(pids);
                open_count := 0;
            EXCEPTION WHEN lock_not_available THEN
                open_count := 1;
            END;
            PERFORM pg_catalog.set_config('lock_timeout', old_timeout, true);
        END IF;
        IF open_count > 0 THEN
            IF p_quiet THEN
                RETURN NULL;
            END IF;
            RAISE EXCEPTION 'statements not closed: a transaction that started before % is still open', p_until
                USING ERRCODE = 'lock_not_available',
                      DETAIL = 'It may still add entries dated in a month to be closed; a closed statement never changes, so closing waits for it.',
                      HINT = 'Look for sessions idle in transaction and prepared transactions (pg_stat_activity, pg_prepared_xacts), then call quota_close_statements() again.';
        END IF;
    END IF;

    FOR p IN SELECT d.pool, d.reset_timezone, d.created_at FROM quota.pool_defs d
              ORDER BY d.pool LOOP
        SELECT s.* INTO prev FROM quota.statements s
         WHERE s.pool = p.pool ORDER BY s.period_start DESC LIMIT 1;
        IF prev.statement_id IS NULL THEN
            v_start := quota._month_start(p.created_at, p.reset_timezone);
        ELSE
            v_start := prev.period_end;
        END IF;
        v_end := quota._month_end(v_start, p.reset_timezone);
        WHILE v_end <= p_until LOOP
            PERFORM quota._close_period(p.pool, v_start, v_end, prev);
            closed := closed + 1;
            SELECT s.* INTO prev FROM quota.statements s
             WHERE s.pool = p.pool AND s.period_start = v_start;
            v_start := v_end;
            v_end := quota._month_end(v_start, p.reset_timezone);
        END LOOP;
    END LOOP;

    -- when the maintenance job closes next: when the first month ends that
    -- has no statement, at the latest when the earliest time zone starts
    -- the next UTC month (for pools created meanwhile)
    due := pg_catalog.timezone('UTC', pg_catalog.date_trunc('month', pg_catalog.timezone('UTC', now()))
                                      + '1 month'::pg_catalog.interval) - '14 hours'::pg_catalog.interval;
    IF due <= now() THEN
        due := due + '1 month'::pg_catalog.interval;
    END IF;
    due := least(due, quota._statements_next_end());
    UPDATE quota.maintenance SET statements_due_at = due;
    RETURN closed;
END
$$;
COMMENT ON FUNCTION quota._close_statements(timestamptz, interval, boolean) IS
    'internal: quota_close_statements(), waiting at most wait for transactions that started before until; NULL instead of an error when quiet';

CREATE FUNCTION quota.quota_close_statements(until timestamptz DEFAULT date_trunc('month', now()))
    RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT quota._close_statements($1, '10 seconds', false)
$$;
COMMENT ON FUNCTION quota.quota_close_statements(timestamptz) IS
    'close every pool''s monthly statements that end by until (default: the start of this month); returns how many were closed';

CREATE FUNCTION quota._verify_statements(p_pool text)
    RETURNS TABLE(o_pool text, o_statement_id bigint, o_problem text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    s quota.statements;
    prev quota.statements;
    f record;
    c record;
    first boolean;
    recomputed text;
    differing bigint;
    changes text[];
    changed_ids bigint[];
    changed_how text[];
    groups jsonb;
BEGIN
    FOR s IN SELECT * FROM quota.statements x
              WHERE p_pool IS NULL OR x.pool = p_pool
              ORDER BY x.pool, x.period_start, x.statement_id LOOP
        o_pool := s.pool;
        o_statement_id := s.statement_id;
        first := s.previous_hash IS NULL;
        -- the chain
        IF prev.pool IS DISTINCT FROM s.pool THEN
            prev := NULL;
        END IF;
        IF prev.statement_id IS NULL AND NOT first THEN
            o_problem := 'the statement before it is missing (no statement of the pool has its previous_hash)';
            RETURN NEXT;
        ELSIF prev.statement_id IS NOT NULL THEN
            IF first THEN
                o_problem := format('previous_hash is missing: statement %s comes before it', prev.statement_id);
                RETURN NEXT;
            ELSIF s.previous_hash <> prev.hash THEN
                o_problem := format('previous_hash does not match the hash of statement %s', prev.statement_id);
                RETURN NEXT;
            END IF;
            IF s.period_start <> prev.period_end THEN
                o_problem := format('the statements between %s and %s are missing', prev.period_end, s.period_start);
                RETURN NEXT;
            END IF;
            IF s.opening_balance <> prev.closing_balance THEN
                o_problem := format('opening_balance %s does not match the closing_balance %s of statement %s',
                                    s.opening_balance, prev.closing_balance, prev.statement_id);
                RETURN NEXT;
            END IF;
        END IF;
        IF first AND s.opening_balance <> 0 THEN
            o_problem := format('opening_balance of the pool''s first statement is %s, not 0', s.opening_balance);
            RETURN NEXT;
        END IF;
        IF s.opening_balance::numeric + s.grants + s.topups - s.charges + s.resets
           + s.adjustments - s.expired <> s.closing_balance::numeric THEN
            o_problem := format('its figures do not add up: opening and movements give %s, closing_balance is %s',
                                trim_scale(s.opening_balance::numeric + s.grants + s.topups - s.charges
                                           + s.resets + s.adjustments - s.expired), s.closing_balance);
            RETURN NEXT;
        END IF;
        -- one reading of the month (src/statement.c): its groups, its
        -- entries changed since, and its hash with the stored figures
        SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.n) FILTER (WHERE r.kind IS NOT NULL), '[]'),
               coalesce(array_agg(r.entry_id ORDER BY r.n) FILTER (WHERE r.entry_id IS NOT NULL), '{}'),
               coalesce(array_agg(r.change ORDER BY r.n) FILTER (WHERE r.entry_id IS NOT NULL), '{}'),
               max(r.change) FILTER (WHERE r.kind IS NULL AND r.entry_id IS NULL)
          INTO groups, changed_ids, changed_how, recomputed
          FROM quota._statement_scan(s.statement_id, s.pool, s.period_start, s.period_end, first,
                   quota._statement_head(s.pool, s.period_start, s.period_end, s.previous_hash),
                   quota._statement_tail(s), s.opening_balance, false) WITH ORDINALITY
               AS r(kind, user_id, model, service, requests, amount, input_tokens,
                    cached_input_tokens, output_tokens, original_cost, final_cost, entry_id,
                    change, tail, n);
        -- the figures against the ledger
        SELECT * INTO f FROM quota._statement_figures(groups);
        FOR c IN SELECT * FROM (VALUES
                    ('grants', s.grants::numeric, f.grants),
                    ('topups', s.topups::numeric, f.topups),
                    ('charges', s.charges::numeric, f.charges),
                    ('original', s.original::numeric, f.original),
                    ('resets', s.resets::numeric, f.resets),
                    ('adjustments', s.adjustments::numeric, f.adjustments),
                    ('expired', s.expired::numeric, f.expired),
                    ('closing_balance', s.closing_balance::numeric, s.opening_balance::numeric + f.total),
                    ('entries', s.entries::numeric, f.entries::numeric)) v(figure, stored, ledger)
                  WHERE v.stored <> v.ledger LOOP
            o_problem := format('%s is %s, the ledger now gives %s', c.figure,
                                trim_scale(c.stored), trim_scale(c.ledger));
            RETURN NEXT;
        END LOOP;
        -- the lines against the ledger: the stored ones no longer there,
        -- and the ledger's that are not stored
        WITH fresh AS (
            SELECT g.user_id, g.model, g.service, g.requests, g.input_tokens,
                   g.cached_input_tokens, g.output_tokens, g.original_cost::numeric AS original_cost,
                   g.final_cost::numeric AS final_cost
              FROM jsonb_to_recordset(groups) AS g(kind text, user_id text, model text,
                       service text, requests bigint, input_tokens bigint,
                       cached_input_tokens bigint, output_tokens bigint,
                       original_cost numeric, final_cost numeric)
             WHERE g.kind = 'charge'),
        stored AS (
            SELECT l.user_id, l.model, l.service, l.requests, l.input_tokens,
                   l.cached_input_tokens, l.output_tokens, l.original_cost::numeric AS original_cost,
                   l.final_cost::numeric AS final_cost
              FROM quota.statement_lines l WHERE l.statement_id = s.statement_id)
        SELECT greatest((SELECT count(*) FROM (SELECT * FROM stored EXCEPT ALL SELECT * FROM fresh) a),
                        (SELECT count(*) FROM (SELECT * FROM fresh EXCEPT ALL SELECT * FROM stored) b))
          INTO differing;
        IF differing > 0 THEN
            o_problem := format('%s of its lines no longer match%s the ledger', differing,
                                CASE WHEN differing = 1 THEN 'es' ELSE '' END);
            RETURN NEXT;
        END IF;
        -- every entry, and the hash
        changes := '{}';
        FOR i IN 1 .. cardinality(changed_ids) LOOP
            IF changed_how[i] = 'deleted' AND EXISTS (SELECT FROM quota.ledger_archive a
                                                       WHERE a.entry_id = changed_ids[i]) THEN
                changes := changes || format('entry %s was archived (quota_archive) after the statement was closed', changed_ids[i]);
            ELSE
                changes := changes || format('entry %s was %s after the statement was closed', changed_ids[i], changed_how[i]);
            END IF;
        END LOOP;
        IF recomputed IS NOT DISTINCT FROM s.hash AND cardinality(changes) > 0 THEN
            -- the entries match the hash: what changed is the fingerprints
            o_problem := 'its fingerprints in quota.statement_entries were changed (its entries still match its hash)';
            RETURN NEXT;
        ELSE
            FOREACH o_problem IN ARRAY changes LOOP
                RETURN NEXT;
            END LOOP;
        END IF;
        IF recomputed IS DISTINCT FROM s.hash THEN
            o_problem := 'its hash does not match its previous_hash, figures and entries';
            RETURN NEXT;
        END IF;
        prev := s;
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._verify_statements(text) IS
    'internal: quota_verify_statements()';

CREATE FUNCTION quota.quota_verify_statements(pool text DEFAULT NULL)
    RETURNS TABLE(pool text, statement_id bigint, problem text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT v.o_pool, v.o_statement_id, v.o_problem FROM quota._verify_statements($1) v
$$;
COMMENT ON FUNCTION quota.quota_verify_statements(text) IS
    'recompute every closed statement (of one pool, or all) from the ledger and its hash: one row per problem (an entry changed, deleted or inserted, figures, lines, chain); no rows: all intact';

CREATE FUNCTION quota._rerate(p_model text, p_since timestamptz, p_until timestamptz,
        p_input numeric, p_output numeric, p_cached numeric, p_request numeric, p_note text)
    RETURNS TABLE(o_pool text, o_user_id text, o_charges bigint, o_billed quota.credits,
                  o_corrected quota.credits, o_adjustment quota.credits)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    g record;
    adjust_id bigint;
    note text;
BEGIN
    PERFORM quota._require(ARRAY['model', 'since', 'until'],
                           ARRAY[p_model IS NULL, p_since IS NULL, p_until IS NULL]);
    IF least(p_input, p_output, p_cached, p_request) < 0 THEN
        RAISE EXCEPTION 'prices must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Prices given: input %s, output %s, cached input %s, request %s.',
                                  coalesce(p_input::text, 'as billed'), coalesce(p_output::text, 'as billed'),
                                  coalesce(p_cached::text, 'as billed'), coalesce(p_request::text, 'as billed')),
                  HINT = 'Pass the model''s correct prices, in credits per 1,000,000 tokens (per request for request_price), or NULL to keep a price as billed.';
    END IF;
    -- prices are credits, as quota_set_model keeps them (22003 out of range)
    p_input := p_input::quota.credits;
    p_output := p_output::quota.credits;
    p_cached := p_cached::quota.credits;
    p_request := p_request::quota.credits;
    IF p_since >= p_until THEN
        RAISE EXCEPTION 'since % is not before until %', p_since, p_until
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Charges dated in [since, until) are re-rated: since must come first.';
    END IF;
    IF NOT EXISTS (SELECT FROM quota.models m WHERE m.model = p_model) THEN
        RAISE EXCEPTION 'model "%" does not exist', p_model
            USING ERRCODE = 'undefined_object',
                  HINT = 'Models are listed in quota.models.';
    END IF;
    -- one re-rating at a time: each sees the corrections of the one before
    LOCK TABLE quota.rerated IN SHARE ROW EXCLUSIVE MODE;
    note := format('re-rated charges of model "%s" dated from %s to %s', p_model, p_since, p_until)
            || coalesce(': ' || nullif(p_note, ''), '');
    FOR g IN
        WITH c AS (
            SELECT l.entry_id, l.pool, l.user_id,
                   coalesce((SELECT r.corrected FROM quota.rerated r
                              WHERE r.charge_id = l.entry_id
                              ORDER BY r.adjust_id DESC LIMIT 1), l.final_cost)::numeric AS billed,
                   l.discount_rate, l.input_tokens, l.cached_input_tokens, l.output_tokens,
                   coalesce(p_input, mp.input_price::numeric) AS ip,
                   coalesce(p_cached, mp.cached_input_price::numeric) AS cp,
                   coalesce(p_output, mp.output_price::numeric) AS op,
                   coalesce(p_request, mp.request_price::numeric) AS rp
              FROM quota.ledger l
              LEFT JOIN quota.model_prices mp ON mp.price_id = l.price_id
             WHERE l.kind = 'charge' AND l.model = p_model
               AND l.at >= p_since AND l.at < p_until),
        k AS (
            -- the cost formula (SPEC "Cost"), per charge, rounded as quota_cost rounds
            SELECT c.*, round(round((coalesce(c.input_tokens, 0) * c.ip + coalesce(c.cached_input_tokens, 0) * c.cp
                                     + coalesce(c.output_tokens, 0) * c.op) * 0.000001, 9) + c.rp, 9) AS original
              FROM c),
        x AS (
            SELECT k.entry_id, k.pool, k.user_id, k.billed,
                   round(k.original * coalesce(k.discount_rate, 1), 9) AS corrected
              FROM k WHERE k.original IS NOT NULL)
        SELECT x.pool, x.user_id, count(*) AS n, sum(x.billed) AS billed,
               sum(x.corrected) AS corrected,
               array_agg(x.entry_id ORDER BY x.entry_id) AS ids,
               array_agg(x.billed ORDER BY x.entry_id) AS billeds,
               array_agg(x.corrected ORDER BY x.entry_id) AS correcteds
          FROM x WHERE x.corrected <> x.billed
         GROUP BY x.pool, x.user_id
         ORDER BY x.pool, x.user_id
    LOOP
        o_pool := g.pool;
        o_user_id := g.user_id;
        o_charges := g.n;
        o_billed := g.billed;
        o_corrected := g.corrected;
        o_adjustment := g.billed - g.corrected;
        IF o_adjustment <> 0 THEN
            adjust_id := quota._post(g.pool, 'adjust', o_adjustment, g.user_id, note);
        ELSE
            -- the corrections cancel out: no entry, but the charges are re-rated
            adjust_id := 0;
        END IF;
        INSERT INTO quota.rerated AS r (charge_id, adjust_id, pool, user_id, billed, corrected)
        SELECT u.id, adjust_id, g.pool, g.user_id, u.b, u.c
          FROM unnest(g.ids, g.billeds, g.correcteds) u(id, b, c);
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._rerate(text, timestamptz, timestamptz, numeric, numeric, numeric,
        numeric, text) IS
    'internal: quota_rerate()';

CREATE FUNCTION quota.quota_rerate(model text, since timestamptz, until timestamptz,
        input_price numeric, output_price numeric,
        cached_input_price numeric DEFAULT NULL, request_price numeric DEFAULT NULL,
        note text DEFAULT NULL)
    RETURNS TABLE(pool text, user_id text, charges bigint, billed quota.credits,
                  corrected quota.credits, adjustment quota.credits)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT * FROM quota._rerate($1, $2, $3, $4, $5, $6, $7, $8)
$$;
COMMENT ON FUNCTION quota.quota_rerate(text, timestamptz, timestamptz, numeric, numeric, numeric,
        numeric, text) IS
    're-rate the charges of a model dated in [since, until) at the given prices (NULL: as billed): one adjust entry per pool and user for the difference, dated now; charges already re-rated to these prices post nothing';

-- Row-level security: pool administrators their pools, quota_admin all,
-- members their own lines
ALTER TABLE quota.statements ENABLE ROW LEVEL SECURITY;
CREATE POLICY statements_read ON quota.statements FOR SELECT
    USING (quota._admins_pool(pool));
COMMENT ON POLICY statements_read ON quota.statements IS
    'statements: pool administrators their pools''; quota_admin all';
ALTER TABLE quota.statement_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY statement_lines_read ON quota.statement_lines FOR SELECT
    USING (user_id = quota.current_user_id()
           OR statement_id IN (SELECT s.statement_id FROM quota.statements s));
COMMENT ON POLICY statement_lines_read ON quota.statement_lines IS
    'statement lines: users their own; pool administrators their pools'' (the statements they see); quota_admin all';
ALTER TABLE quota.statement_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY statement_entries_read ON quota.statement_entries FOR SELECT
    USING (quota._caller_is_admin());
COMMENT ON POLICY statement_entries_read ON quota.statement_entries IS
    'statements'' fingerprints: quota_admin';
ALTER TABLE quota.rerated ENABLE ROW LEVEL SECURITY;
CREATE POLICY rerated_read ON quota.rerated FOR SELECT
    USING (user_id = quota.current_user_id() OR quota._admins_pool(pool));
COMMENT ON POLICY rerated_read ON quota.rerated IS
    're-rated charges: users their own; pool administrators their pools''; quota_admin all';

REVOKE ALL ON quota.statements, quota.statement_lines, quota.statement_entries, quota.rerated
    FROM PUBLIC;
GRANT SELECT ON quota.statements, quota.statement_lines, quota.rerated
    TO quota_admin, quota_app, quota_user;
GRANT SELECT ON quota.statement_entries TO quota_admin;

REVOKE ALL ON FUNCTION
    quota._statements_append_only(),
    quota._month_start(timestamptz, text),
    quota._month_end(timestamptz, text),
    quota._statement_head(text, timestamptz, timestamptz, text),
    quota._statement_tail(quota.statements),
    quota._statement_scan(bigint, text, timestamptz, timestamptz, boolean, text, text,
                          quota.credits, boolean),
    quota._statement_wait(integer[]),
    quota._statement_figures(jsonb),
    quota._statements_next_end(),
    quota._close_period(text, timestamptz, timestamptz, quota.statements),
    quota._close_statements(timestamptz, interval, boolean),
    quota._verify_statements(text),
    quota._rerate(text, timestamptz, timestamptz, numeric, numeric, numeric, numeric, text),
    quota.quota_close_statements(timestamptz),
    quota.quota_verify_statements(text),
    quota.quota_rerate(text, timestamptz, timestamptz, numeric, numeric, numeric, numeric, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota.quota_close_statements(timestamptz),
    quota.quota_verify_statements(text),
    quota.quota_rerate(text, timestamptz, timestamptz, numeric, numeric, numeric, numeric, text)
    TO quota_admin;

SELECT pg_catalog.pg_extension_config_dump('quota.statements', '');
SELECT pg_catalog.pg_extension_config_dump('quota.statements_statement_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('quota.statement_lines', '');
SELECT pg_catalog.pg_extension_config_dump('quota.statement_entries', '');
SELECT pg_catalog.pg_extension_config_dump('quota.rerated', '');

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

-- ---------------------------------------------------------------------------
-- [issue 29] Credit grants that expire (src/grants.c, src/sql/77_grants.sql):
-- the ledger's expire kind and grant_id, the pools' next expiry, resets on
-- the allowance part only.
-- ---------------------------------------------------------------------------

ALTER TABLE quota.pool_defs ADD COLUMN next_expiry_at timestamptz;
COMMENT ON COLUMN quota.pool_defs.next_expiry_at IS
    'the earliest expiry of the pool''s live credit grants (quota.credit_grants), applied lazily by the first call after it';
ALTER TABLE quota.ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE quota.ledger ADD CONSTRAINT ledger_kind_check
    CHECK (kind IN ('grant', 'charge', 'topup', 'adjust', 'reset', 'expire'));
ALTER TABLE quota.ledger ADD COLUMN grant_id bigint;
COMMENT ON COLUMN quota.ledger.grant_id IS
    'for grant and expire entries of credit grants: the grant (quota.pool_grants)';
ALTER TABLE quota.ledger_archive ADD COLUMN grant_id bigint;
COMMENT ON COLUMN quota.ledger_archive.grant_id IS 'the archived entry''s grant_id (as in quota.ledger)';

CREATE TABLE quota.credit_grants (
    grant_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool            text NOT NULL,
    amount          quota.credits NOT NULL CHECK (amount > '0'),
    priority        integer NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    note            text,
    entry_id        bigint NOT NULL,
    ended_at        timestamptz,
    end_kind        text CHECK (end_kind IN ('expired', 'revoked')),
    end_amount      quota.credits,
    end_entry_id    bigint,
    CHECK ((end_kind IS NULL) = (ended_at IS NULL)
           AND (end_kind IS NULL) = (end_amount IS NULL)
           AND (end_kind IS NULL) = (end_entry_id IS NULL))
);
CREATE INDEX credit_grants_live ON quota.credit_grants (pool, expires_at)
    WHERE end_kind IS NULL;
COMMENT ON TABLE quota.credit_grants IS
    'credit grants (read them through quota.pool_grants, which adds what is left)';
COMMENT ON COLUMN quota.credit_grants.grant_id IS 'the grant''s id (quota_grant_credits() returns it)';
COMMENT ON COLUMN quota.credit_grants.pool IS 'the pool granted the credits';
COMMENT ON COLUMN quota.credit_grants.amount IS 'the credits granted';
COMMENT ON COLUMN quota.credit_grants.priority IS 'spent in order of priority (lower first), then expires_at, then grant_id';
COMMENT ON COLUMN quota.credit_grants.granted_at IS 'when the credits were granted';
COMMENT ON COLUMN quota.credit_grants.expires_at IS 'when the remainder leaves the pool; NULL: never';
COMMENT ON COLUMN quota.credit_grants.note IS 'the administrator''s note';
COMMENT ON COLUMN quota.credit_grants.ended_at IS 'when the grant expired or was revoked';
COMMENT ON COLUMN quota.credit_grants.entry_id IS 'the grant''s ledger entry (kind grant)';
COMMENT ON COLUMN quota.credit_grants.end_kind IS 'expired or revoked; NULL while live';
COMMENT ON COLUMN quota.credit_grants.end_amount IS
    'the remainder its expire entry removed (amount minus what spending drew from it)';
COMMENT ON COLUMN quota.credit_grants.end_entry_id IS 'the grant''s ledger entry of kind expire';
COMMENT ON SEQUENCE quota.credit_grants_grant_id_seq IS 'ids of quota.credit_grants';
-- one grant entry and one expire entry per grant, whoever posts them
CREATE UNIQUE INDEX ledger_grant_once ON quota.ledger (grant_id, kind)
    WHERE grant_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('quota.credit_grants', '');
SELECT pg_catalog.pg_extension_config_dump('quota.credit_grants_grant_id_seq', '');

CREATE FUNCTION quota._post_grant(pool text, kind text, amount quota.credits,
                                  grant_id bigint, note text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'quota_post_grant'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._post_grant(text, text, quota.credits, bigint, text) IS
    'internal: post a grant or expire entry carrying its grant_id (as quota._post does the others)';

CREATE FUNCTION quota._lock_grants(pool_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'quota_lock_grants'
    LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION quota._lock_grants(bigint) IS
    'internal: wait until no transaction has an uncommitted debit on the pool, and keep new ones out until commit';

-- What each live grant of a pool has left: the pool's ledger replayed in
-- entry order from the first entry at which a grant still relevant was
-- live.  Debits (charge and adjust entries below zero) draw from the live
-- grants by priority, expires_at (none last), grant_id, the rest from the
-- allowance part; every other entry moves the allowance part only.
CREATE FUNCTION quota._grant_remainders(pool text)
    RETURNS TABLE(grant_id bigint, remaining quota.credits)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    start bigint;
    earlier bigint;
    ids bigint[];
    rem numeric[];
    live boolean[];
    e record;
    i integer;
    need numeric;
    d numeric;
BEGIN
    SELECT min(g.entry_id) INTO start FROM quota.credit_grants g
     WHERE g.pool = _grant_remainders.pool AND g.end_kind IS NULL;
    IF start IS NULL THEN
        RETURN;
    END IF;
    -- a grant that ended after start was live there: start at its grant
    LOOP
        SELECT min(g.entry_id) INTO earlier FROM quota.credit_grants g
         WHERE g.pool = _grant_remainders.pool AND g.entry_id < start
           AND g.end_entry_id > start;
        EXIT WHEN earlier IS NULL;
        start := earlier;
    END LOOP;
    SELECT array_agg(g.grant_id ORDER BY g.priority, g.expires_at NULLS LAST, g.grant_id)
      INTO ids FROM quota.credit_grants g
     WHERE g.pool = _grant_remainders.pool AND g.entry_id >= start;
    rem := array_fill(0::numeric, ARRAY[cardinality(ids)]);
    live := array_fill(false, ARRAY[cardinality(ids)]);
    -- quota_archive() leaves these entries in the ledger (src/archive.c)
    FOR e IN SELECT l.kind, l.amount::numeric AS amount, l.grant_id
               FROM quota.ledger l
              WHERE l.pool = _grant_remainders.pool AND l.entry_id >= start
                AND (l.grant_id IS NOT NULL
                     OR (l.amount < '0' AND l.kind IN ('charge', 'adjust')))
              ORDER BY l.entry_id LOOP
        IF e.grant_id IS NOT NULL THEN
            i := array_position(ids, e.grant_id);
            CONTINUE WHEN i IS NULL;
            IF e.kind = 'grant' THEN
                live[i] := true;
                rem[i] := e.amount;
            ELSE
                live[i] := false;
                rem[i] := 0;
            END IF;
        ELSE
            need := -e.amount;
            FOR j IN 1 .. cardinality(ids) LOOP
                EXIT WHEN need = 0;
                IF live[j] AND rem[j] > 0 THEN
                    d := least(rem[j], need);
                    rem[j] := rem[j] - d;
                    need := need - d;
                END IF;
            END LOOP;
        END IF;
    END LOOP;
    FOR j IN 1 .. cardinality(ids) LOOP
        IF live[j] THEN
            grant_id := ids[j];
            remaining := rem[j]::quota.credits;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION quota._grant_remainders(text) IS
    'internal: what each live grant of the pool has left, replayed from the ledger (src/grants.c)';

-- The pool's earliest live expiry, which the charge path reads with the
-- pool (src/pools.c) to expire lazily.
CREATE FUNCTION quota._grants_changed(pool text) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    UPDATE quota.pool_defs d
       SET next_expiry_at = (SELECT min(g.expires_at) FROM quota.credit_grants g
                              WHERE g.pool = $1 AND g.end_kind IS NULL)
     WHERE d.pool = $1
$$;
COMMENT ON FUNCTION quota._grants_changed(text) IS
    'internal: set the pool''s next_expiry_at from its live grants';

-- End one grant now: its remainder leaves the pool as one expire entry.
-- The caller holds the pool's row lock and quota._lock_grants().
CREATE FUNCTION quota._end_grant(g quota.credit_grants, how text, rest quota.credits, why text)
    RETURNS quota.credits
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    entry bigint;
BEGIN
    entry := quota._post_grant(g.pool, 'expire', (-(rest::numeric))::quota.credits,
                               g.grant_id, why);
    UPDATE quota.credit_grants c
       SET ended_at = now(), end_kind = how, end_amount = rest, end_entry_id = entry
     WHERE c.grant_id = g.grant_id;
    RETURN rest;
END
$$;
COMMENT ON FUNCTION quota._end_grant(quota.credit_grants, text, quota.credits, text) IS
    'internal: post a grant''s expire entry and mark it expired or revoked';

-- Apply every due expiry of a pool once (quota_run_due() and the first
-- call that touches the pool); returns how many grants expired.
CREATE FUNCTION quota._expire_grants(pool text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    pid bigint;
    g quota.credit_grants;
    r record;
    n integer := 0;
BEGIN
    SELECT d.pool_id INTO pid FROM quota.pool_defs d
     WHERE d.pool = _expire_grants.pool FOR UPDATE;
    IF pid IS NULL THEN
        RETURN 0;
    END IF;
    IF NOT EXISTS (SELECT FROM quota.credit_grants c
                    WHERE c.pool = _expire_grants.pool AND c.end_kind IS NULL
                      AND c.expires_at <= now()) THEN
        RETURN 0;                   -- another session expired them first
    END IF;
    PERFORM quota._lock_grants(pid);
    FOR r IN SELECT c.grant_id, coalesce(x.remaining, '0') AS remaining
               FROM quota.credit_grants c
               LEFT JOIN quota._grant_remainders(_expire_grants.pool) x
                      ON x.grant_id = c.grant_id
              WHERE c.pool = _expire_grants.pool AND c.end_kind IS NULL
                AND c.expires_at <= now()
              ORDER BY c.expires_at, c.grant_id LOOP
        SELECT * INTO g FROM quota.credit_grants c WHERE c.grant_id = r.grant_id;
        PERFORM quota._end_grant(g, 'expired', r.remaining, 'grant expired');
        n := n + 1;
    END LOOP;
    PERFORM quota._grants_changed(_expire_grants.pool);
    RETURN n;
END
$$;
COMMENT ON FUNCTION quota._expire_grants(text) IS
    'internal: post the expire entry of every due grant of the pool, exactly once';

CREATE FUNCTION quota.quota_grant_credits(pool text, amount numeric,
                                          expires_at timestamptz DEFAULT NULL,
                                          priority integer DEFAULT 10,
                                          note text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    id bigint;
    entry bigint;
BEGIN
    PERFORM quota._require(ARRAY['pool', 'amount', 'priority'],
                           ARRAY[pool IS NULL, amount IS NULL, priority IS NULL]);
    amount := amount::quota.credits;    -- rounded at 1e-9 as the cast does (22003)
    IF amount <= 0 THEN
        RAISE EXCEPTION 'grant amount must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The amount given was %s.', amount),
                  HINT = 'Use quota_revoke_credits() to take a grant back.';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION 'grant expiry must be in the future'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The expiry given was %s.', expires_at),
                  HINT = 'Pass a later expires_at, or NULL for credits that do not expire.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM FROM quota.pool_defs d WHERE d.pool = quota_grant_credits.pool FOR UPDATE;
    id := nextval('quota.credit_grants_grant_id_seq');
    entry := quota._post_grant(pool, 'grant', amount::quota.credits, id, note);
    INSERT INTO quota.credit_grants
           (grant_id, pool, amount, priority, expires_at, note, entry_id)
    OVERRIDING SYSTEM VALUE VALUES (id, pool, amount::quota.credits, priority, expires_at, note, entry);
    PERFORM quota._grants_changed(pool);
    RETURN id;
END
$$;
COMMENT ON FUNCTION quota.quota_grant_credits(text, numeric, timestamptz, integer, text) IS
    'grant credits to a pool, spent before its allowance (lower priority first) and removed at expires_at; returns the grant_id';

CREATE FUNCTION quota.quota_revoke_credits(grant_id bigint, note text DEFAULT NULL)
    RETURNS quota.credits
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    g quota.credit_grants;
    pid bigint;
    rest quota.credits;
BEGIN
    PERFORM quota._require(ARRAY['grant_id'], ARRAY[grant_id IS NULL]);
    SELECT * INTO g FROM quota.credit_grants c WHERE c.grant_id = quota_revoke_credits.grant_id;
    IF g.grant_id IS NULL THEN
        RAISE EXCEPTION 'credit grant % does not exist', grant_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Grants are listed in quota.pool_grants.';
    END IF;
    SELECT d.pool_id INTO pid FROM quota.pool_defs d WHERE d.pool = g.pool FOR UPDATE;
    -- read again under the pool's lock: an expiry may have ended it meanwhile
    SELECT * INTO g FROM quota.credit_grants c WHERE c.grant_id = quota_revoke_credits.grant_id;
    IF g.end_kind IS NOT NULL THEN
        RETURN '0';                 -- already expired or revoked: nothing is left
    END IF;
    PERFORM quota._lock_grants(pid);
    SELECT x.remaining INTO rest FROM quota._grant_remainders(g.pool) x
     WHERE x.grant_id = g.grant_id;
    PERFORM quota._end_grant(g, 'revoked', coalesce(rest, '0'),
                             coalesce(note, 'grant revoked'));
    PERFORM quota._grants_changed(g.pool);
    RETURN coalesce(rest, '0');
END
$$;
COMMENT ON FUNCTION quota.quota_revoke_credits(bigint, text) IS
    'remove a grant''s remainder from its pool now; returns the credits removed';

-- what the caller may know of a pool's grants (the view's figures)
CREATE FUNCTION quota._grants_left(pool text)
    RETURNS TABLE(grant_id bigint, remaining quota.credits)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT x.grant_id, x.remaining FROM quota._grant_remainders($1) x
     WHERE quota._sees_pool($1)
$$;
COMMENT ON FUNCTION quota._grants_left(text) IS
    'internal: what each live grant of a pool the caller may see has left (quota.pool_grants)';

CREATE VIEW quota.pool_grants WITH (security_barrier = true) AS
SELECT g.grant_id, g.pool, g.amount,
       CASE WHEN g.end_kind IS NULL THEN coalesce(x.remaining, '0')
            ELSE '0' END::quota.credits AS remaining,
       g.priority, g.granted_at, g.expires_at, g.note,
       CASE WHEN g.end_kind IS NOT NULL THEN g.end_kind
            WHEN x.remaining > '0' THEN 'live'
            ELSE 'spent' END AS state
  FROM quota.credit_grants g
  LEFT JOIN LATERAL (SELECT l.remaining FROM quota._grants_left(g.pool) l
                      WHERE l.grant_id = g.grant_id) x ON g.end_kind IS NULL
 WHERE quota._sees_pool(g.pool);
COMMENT ON VIEW quota.pool_grants IS
    'credit grants of the pools the caller may see, with what each has left and its state (live, spent, expired, revoked)';
COMMENT ON COLUMN quota.pool_grants.grant_id IS 'the grant''s id';
COMMENT ON COLUMN quota.pool_grants.pool IS 'the pool granted the credits';
COMMENT ON COLUMN quota.pool_grants.amount IS 'the credits granted';
COMMENT ON COLUMN quota.pool_grants.remaining IS 'what spending has left of them (0 once expired, revoked or spent)';
COMMENT ON COLUMN quota.pool_grants.priority IS 'spent in order of priority (lower first), then expires_at, then grant_id';
COMMENT ON COLUMN quota.pool_grants.granted_at IS 'when the credits were granted';
COMMENT ON COLUMN quota.pool_grants.expires_at IS 'when the remainder leaves the pool; NULL: never';
COMMENT ON COLUMN quota.pool_grants.note IS 'the administrator''s note';
COMMENT ON COLUMN quota.pool_grants.state IS 'live, spent (nothing left), expired or revoked';
GRANT SELECT ON quota.pool_grants TO quota_admin, quota_app, quota_user;

-- read through quota.pool_grants only
REVOKE ALL ON quota.credit_grants FROM PUBLIC;
ALTER TABLE quota.credit_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY credit_grants_read ON quota.credit_grants FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY credit_grants_read ON quota.credit_grants IS
    'grants are visible with their pool: to its users, its administrators and quota_admin (read through quota.pool_grants)';

REVOKE ALL ON FUNCTION
    quota._post_grant(text, text, quota.credits, bigint, text),
    quota._lock_grants(bigint),
    quota._grant_remainders(text),
    quota._grants_changed(text),
    quota._end_grant(quota.credit_grants, text, quota.credits, text),
    quota._expire_grants(text),
    quota.quota_grant_credits(text, numeric, timestamptz, integer, text),
    quota.quota_revoke_credits(bigint, text),
    quota._grants_left(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    quota.quota_grant_credits(text, numeric, timestamptz, integer, text),
    quota.quota_revoke_credits(bigint, text)
    TO quota_admin;
GRANT EXECUTE ON FUNCTION quota._grants_left(text) TO quota_admin, quota_app, quota_user;

CREATE OR REPLACE FUNCTION quota._apply_reset(pool text, manual boolean) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p quota.pool_defs;
    amount quota.credits;
    rest numeric;
    boundary timestamptz;
BEGIN
    SELECT * INTO p FROM quota.pool_defs d WHERE d.pool = _apply_reset.pool FOR UPDATE;
    IF NOT manual AND (p.next_reset_at IS NULL OR p.next_reset_at > now()) THEN
        RETURN false;               -- another session reset it first
    END IF;
    IF p.reset_policy = 'none' THEN
        RETURN false;
    END IF;
    -- with live credit grants, the allowance part is read with no debit in
    -- flight (src/grants.c)
    IF EXISTS (SELECT FROM quota.credit_grants g
                WHERE g.pool = p.pool AND g.end_kind IS NULL) THEN
        PERFORM quota._lock_grants(p.pool_id);
    END IF;
    -- restore sets the allowance part only: live credit grants keep their
    -- remainders (src/grants.c)
    rest := CASE p.reset_policy
                WHEN 'restore' THEN p.allowance::numeric
                                    - ((quota._pool_money(p.pool)).balance)::numeric
                                    + coalesce((SELECT sum(x.remaining::numeric)
                                                  FROM quota._grant_remainders(p.pool) x), 0)
                ELSE p.allowance::numeric END;
    -- restoring a pool far below zero may need more than one entry's range
    LOOP
        amount := greatest(least(rest, 9223372036.854775807), -9223372036.854775807);
        PERFORM quota._post(p.pool, 'reset', amount, NULL,
                            CASE WHEN manual THEN 'manual reset' ELSE 'scheduled reset' END);
        rest := rest - amount::numeric;
        EXIT WHEN rest = 0;
    END LOOP;
    boundary := now();
    IF NOT manual THEN
        -- several missed boundaries make one reset, dated at the latest
        boundary := p.next_reset_at;
        WHILE quota.quota_next_reset(p.reset_cron, p.reset_timezone, boundary) <= now() LOOP
            boundary := quota.quota_next_reset(p.reset_cron, p.reset_timezone, boundary);
        END LOOP;
    END IF;
    UPDATE quota.pool_defs d
       SET period_start = boundary,
           period_funds = (quota._pool_money(p.pool)).balance,
           next_reset_at = CASE WHEN d.reset_cron IS NULL THEN NULL
                                ELSE quota.quota_next_reset(d.reset_cron, d.reset_timezone, now()) END
     WHERE d.pool = p.pool;
    RETURN true;
END
$$;
CREATE OR REPLACE FUNCTION quota.metrics_grants()
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
COMMENT ON FUNCTION quota.quota_run_due() IS
    'close the monthly statements of months that have ended, apply every due reset and credit-grant expiry once, release expired reservations (each pool on its own) and seal the ledger (run every minute by pg_cron)';

-- [end issue 29]

-- ---------------------------------------------------------------------------
-- [issue 29] Fallback pools (src/fallback.c, src/sql/78_fallback.sql)
-- ---------------------------------------------------------------------------

ALTER TABLE quota.users ADD COLUMN fallback_pools text[];
COMMENT ON COLUMN quota.users.fallback_pools IS
    'the pools to try, in order, when the active pool cannot pay (quota_set_fallback); NULL: none';
CREATE OR REPLACE VIEW quota.my_pools WITH (security_invoker = true) AS
SELECT m.pool, d.kind, m.role, m.active, f.balance, f.held, f.available,
       d.next_reset_at, d.enabled,
       array_position((SELECT u.fallback_pools FROM quota.users u
                        WHERE u.user_id = quota.current_user_id()), m.pool) AS fallback_order
  FROM quota._my_pools() m
  JOIN quota.pool_defs d ON d.pool = m.pool
 CROSS JOIN LATERAL quota._pool_figures(m.pool) f;
COMMENT ON VIEW quota.my_pools IS
    'the calling user''s usable pools with available balance, role, which one is active, and the order of each in their fallback list';

CREATE FUNCTION quota._acting_user(user_id text) RETURNS text
    AS 'MODULE_PATHNAME', 'quota_acting_user'
    LANGUAGE C STABLE;
COMMENT ON FUNCTION quota._acting_user(text) IS
    'internal: the user a call acts for: the caller, or any user for quota_app and quota_admin (else 42501)';

CREATE FUNCTION quota.quota_set_fallback(pools text[], user_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    uid text;
    p text;
    list text[] := ARRAY[]::text[];
BEGIN
    PERFORM quota._require(ARRAY['user_id'], ARRAY[false]);   -- 25006 on a standby
    uid := quota._acting_user(user_id);
    PERFORM quota._user_exists(uid);
    IF array_ndims(pools) > 1 THEN
        RAISE EXCEPTION 'fallback pools must be a one-dimensional list'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the pools in the order to try them, such as ARRAY[''Students Pool''].';
    END IF;
    FOREACH p IN ARRAY coalesce(pools, ARRAY[]::text[]) LOOP
        IF p IS NULL THEN
            RAISE EXCEPTION 'fallback pools must not contain null'
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = 'Name each pool to try, or pass NULL or an empty list for none.';
        END IF;
        PERFORM quota._pool_exists(p);
        IF NOT p = ANY (list) THEN
            list := list || p;
        END IF;
    END LOOP;
    UPDATE quota.users u
       SET fallback_pools = CASE WHEN cardinality(list) > 0 THEN list END,
           updated_at = now()
     WHERE u.user_id = uid;
END
$$;
COMMENT ON FUNCTION quota.quota_set_fallback(text[], text) IS
    'set the pools to try, in order, when the user''s active pool cannot pay (NULL or an empty list: none)';

REVOKE ALL ON FUNCTION quota._acting_user(text), quota.quota_set_fallback(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION quota.quota_set_fallback(text[], text)
    TO quota_admin, quota_app, quota_user;
COMMENT ON COLUMN quota.my_pools.fallback_order IS
    'the pool''s place in the caller''s fallback list (quota_set_fallback), 1 first; NULL: not in it';

-- [end issue 29: fallback pools]
