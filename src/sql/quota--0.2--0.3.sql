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
    'apply every due reset and credit-grant expiry once, release expired reservations (each pool on its own) and seal the ledger (run every minute by pg_cron)';

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
