
-- ---------------------------------------------------------------------------
-- Using the service: switching, checking, reserving, charging (C)
-- ---------------------------------------------------------------------------

-- No SET clause, so that the planner inlines it into the charge path's
-- queries (a SET would make it an opaque function scan, joined by hashing
-- every pool on each call).  Every name and operator is qualified; its
-- callers are SECURITY DEFINER functions with a pinned search_path.
CREATE FUNCTION quota._usable_pools(user_id text)
    RETURNS TABLE(pool text, role text)
    LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (x.pool) x.pool, x.role
      FROM (SELECT p.pool, 'owner'::pg_catalog.text AS role, 1 AS rank
              FROM quota.pool_defs p WHERE p.owner OPERATOR(pg_catalog.=) $1
            UNION ALL
            SELECT m.pool, m.role,
                   CASE WHEN m.role OPERATOR(pg_catalog.=) 'admin' THEN 2 ELSE 3 END
              FROM quota.pool_members m WHERE m.user_id OPERATOR(pg_catalog.=) $1
            UNION ALL
            SELECT g.pool, 'member'::pg_catalog.text, 4
              FROM quota.users u
              JOIN quota.pool_groups g
                ON g.group_name OPERATOR(pg_catalog.=) ANY (u.groups)
             WHERE u.user_id OPERATOR(pg_catalog.=) $1) x
     ORDER BY x.pool, x.rank
$$;
COMMENT ON FUNCTION quota._usable_pools(text) IS
    'internal: the pools a user can use (owner, direct member or group member) and the user''s role';

CREATE FUNCTION quota.quota_switch(pool text, user_id text DEFAULT NULL)
    RETURNS TABLE(pool text, available quota.credits, next_reset_at timestamptz)
    AS 'MODULE_PATHNAME', 'quota_switch'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_switch(text, text) IS
    'make a pool the active one for new requests (requests in flight keep their pool)';

CREATE FUNCTION quota.quota_active_pool(user_id text DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'quota_active_pool'
    LANGUAGE C STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_active_pool(text) IS
    'the pool new requests of the user are billed to: the last switch, else the personal pool, else the first usable shared pool by name';

CREATE FUNCTION quota.quota_check(model text, user_id text DEFAULT NULL,
        pool text DEFAULT NULL)
    RETURNS TABLE(allowed boolean, pool text, available quota.credits, reason text,
                  retry_after interval)
    AS 'MODULE_PATHNAME', 'quota_check'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_check(text, text, text) IS
    'could a new request start now? (access, pool enabled, model permitted, available > 0 and member limit for paid models, rate limits); reason names the first rule that fails, retry_after when a rate limit refuses';

CREATE FUNCTION quota.quota_reserve(model text, max_input_tokens bigint,
        max_output_tokens bigint, request_id text, user_id text DEFAULT NULL,
        pool text DEFAULT NULL, ttl interval DEFAULT '15 minutes')
    RETURNS TABLE(request_id text, pool text, held quota.credits, expires_at timestamptz)
    AS 'MODULE_PATHNAME', 'quota_reserve'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_reserve(text, bigint, bigint, text, text, text, interval) IS
    'hold the worst-case final cost of a streaming request; settle it with quota_charge() using the same request_id';

CREATE FUNCTION quota.quota_charge(model text, input_tokens bigint, output_tokens bigint,
        request_id text, conversation_id text DEFAULT NULL,
        cached_input_tokens bigint DEFAULT 0, user_id text DEFAULT NULL,
        pool text DEFAULT NULL)
    RETURNS TABLE(charge_id bigint, pool text, original_cost quota.credits,
                  discount_rate numeric, final_cost quota.credits,
                  balance quota.credits)
    AS 'MODULE_PATHNAME', 'quota_charge'
    LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text) IS
    'bill a request exactly once per request_id: settles its reservation, or must fit in available and the member limit';

CREATE FUNCTION quota.quota_release(request_id text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'quota_release'
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp;
COMMENT ON FUNCTION quota.quota_release(text) IS
    'free a reservation''s hold without charging; false when it had already ended';

CREATE FUNCTION quota._expire_holds(pool text) RETURNS integer
    AS 'MODULE_PATHNAME', 'quota_expire_holds'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._expire_holds(text) IS
    'internal: release the expired holds of a pool (NULL: of every pool)';

CREATE FUNCTION quota.quota_run_due()
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
