-- quota: upgrade from 0.1 to 0.2

\echo Use "ALTER EXTENSION quota UPDATE TO '0.2'" to load this file. \quit

-- Every change of release 0.2 is made here as well as in the install script
-- (src/sql/NN_*.sql); test/t/010_upgrade.pl checks that the two agree.

-- 14.2: views never raise because of one pool's figures (NULL where a figure
-- or a sum of costs does not fit quota.credits; token totals summed in
-- numeric), a restore reset of a pool far below zero posts as many entries as
-- its amount needs, and
-- quota_run_due() resets and expires each pool in its own subtransaction
CREATE FUNCTION quota._credits_or_null(value numeric) RETURNS quota.credits
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT CASE WHEN $1 BETWEEN -9223372036.854775807 AND 9223372036.854775807
                THEN $1::quota.credits END
$$;
COMMENT ON FUNCTION quota._credits_or_null(numeric) IS
    'internal: an exact figure as credits, or NULL when it does not fit the type (views never raise for one pool)';

CREATE FUNCTION quota._sum_or_null_final(internal) RETURNS quota.credits
    AS 'MODULE_PATHNAME', 'credits_sum_final_or_null' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION quota._sum_or_null_final(internal) IS
    'internal: final function of quota._sum_or_null';
CREATE AGGREGATE quota._sum_or_null(quota.credits) (
    SFUNC = quota.credits_agg_accum, STYPE = internal, SSPACE = 32,
    FINALFUNC = quota._sum_or_null_final,
    COMBINEFUNC = quota.credits_agg_combine,
    SERIALFUNC = quota.credits_agg_serialize,
    DESERIALFUNC = quota.credits_agg_deserialize,
    MSFUNC = quota.credits_agg_accum, MINVFUNC = quota.credits_agg_accum_inv,
    MSTYPE = internal, MSSPACE = 32, MFINALFUNC = quota._sum_or_null_final,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE quota._sum_or_null(quota.credits) IS
    'internal (views): exact sum of credits, NULL over no rows or when the sum does not fit the type';

CREATE OR REPLACE FUNCTION quota._pool_figures(pool text, OUT balance quota.credits,
        OUT held quota.credits, OUT available quota.credits, OUT used quota.credits)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    funds quota.credits;
    holds numeric;
BEGIN
    SELECT d.period_funds INTO funds FROM quota.pool_defs d WHERE d.pool = _pool_figures.pool;
    IF NOT FOUND OR NOT quota._sees_pool(pool) THEN
        RETURN;
    END IF;
    -- exact, in numeric: a figure that does not fit quota.credits (a pool
    -- far below zero) is NULL, never an error for every reader of the view
    balance := (quota._pool_money(pool)).balance;
    SELECT coalesce(sum(r.held::numeric), 0) INTO holds FROM quota.reservations r
     WHERE r.pool = _pool_figures.pool AND r.settled_at IS NULL AND r.expires_at > now();
    held := quota._credits_or_null(holds);
    available := quota._credits_or_null(balance::numeric - holds);
    -- the period's charges: what it was funded with, less what is left
    used := quota._credits_or_null(funds::numeric - balance::numeric);
END
$$;
COMMENT ON FUNCTION quota._pool_figures(text) IS
    'internal: balance, active unexpired holds, available and this period''s usage of a pool the caller may see (NULL where a figure does not fit quota.credits)';

CREATE OR REPLACE VIEW quota.conversation_costs WITH (security_invoker = true) AS
SELECT c.conversation_id, c.user_id, count(*) AS requests,
       sum(c.input_tokens) + sum(c.cached_input_tokens) + sum(c.output_tokens) AS tokens,
       quota._sum_or_null(c.original_cost) AS original_cost,
       quota._sum_or_null(c.final_cost) AS final_cost,
       min(c.at) AS first_at, max(c.at) AS last_at
  FROM quota.charges c
 WHERE c.conversation_id IS NOT NULL
 GROUP BY c.conversation_id, c.user_id;
COMMENT ON VIEW quota.conversation_costs IS 'cost of each conversation per user';

CREATE OR REPLACE VIEW quota.usage_daily WITH (security_invoker = true) AS
SELECT c.at::date AS day, c.pool, c.model, count(*) AS requests,
       sum(c.input_tokens) + sum(c.cached_input_tokens) + sum(c.output_tokens) AS tokens,
       quota._sum_or_null(c.original_cost) AS original_cost,
       quota._sum_or_null(c.final_cost) AS final_cost
  FROM quota.charges c
 GROUP BY 1, 2, 3;
COMMENT ON VIEW quota.usage_daily IS
    'per day (in the session''s time zone), pool and model: requests, tokens and costs';

CREATE OR REPLACE FUNCTION quota.quota_run_due()
    RETURNS TABLE(resets integer, holds_expired integer)
    LANGUAGE plpgsql SECURITY DEFINER ROWS 1
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    p record;
    detail text;
BEGIN
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
            RAISE WARNING 'quota_run_due: could not release the expired holds of pool "%": %',
                          p.pool, SQLERRM
                USING DETAIL = format('SQLSTATE %s. %s', SQLSTATE, detail),
                      HINT = 'The other pools'' holds were released; these are retried by the next run.';
        END;
    END LOOP;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION quota.quota_run_due() IS
    'apply every due reset once and release expired reservations, each pool on its own (run every minute by pg_cron)';

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
    rest := CASE p.reset_policy
                WHEN 'restore' THEN p.allowance::numeric
                                    - ((quota._pool_money(p.pool)).balance)::numeric
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
COMMENT ON FUNCTION quota._apply_reset(text, boolean) IS
    'internal: apply a pool''s reset policy once (restore or add), under the pool''s row lock';
