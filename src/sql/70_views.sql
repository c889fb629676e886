
-- ---------------------------------------------------------------------------
-- Views (security_invoker: row-level security of the tables applies)
-- ---------------------------------------------------------------------------

CREATE FUNCTION quota._sees_pool(pool text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT quota._caller_is_admin()
        OR EXISTS (SELECT FROM quota._usable_pools(quota.current_user_id()) u
                    WHERE u.pool = $1)
$$;
COMMENT ON FUNCTION quota._sees_pool(text) IS
    'internal (row-level security): may the calling user see this pool';

CREATE FUNCTION quota._admins_pool(pool text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT quota._caller_is_admin()
        OR EXISTS (SELECT FROM quota.pool_members m
                    WHERE m.pool = $1 AND m.role = 'admin'
                      AND m.user_id = quota.current_user_id())
$$;
COMMENT ON FUNCTION quota._admins_pool(text) IS
    'internal (row-level security): is the calling user quota_admin or an administrator of this pool';

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

CREATE FUNCTION quota._pool_figures(pool text, OUT balance quota.credits,
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

CREATE VIEW quota.pools WITH (security_invoker = true) AS
SELECT d.pool, d.kind, d.owner, d.allowance, f.balance, d.reset_cron,
       d.reset_timezone, d.reset_policy, d.next_reset_at, d.member_limit,
       d.warn_at, d.enabled, d.models, d.period_start, d.created_at
  FROM quota.pool_defs d
 CROSS JOIN LATERAL quota._pool_figures(d.pool) f;
COMMENT ON VIEW quota.pools IS
    'one row per pool with its balance; schedule, policy, allowance, limits, thresholds and enabled may be changed with UPDATE, the balance may not';

CREATE FUNCTION quota._pools_update() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    sets text[] := '{}';
    admin_only text[];
BEGIN
    IF NEW.balance IS DISTINCT FROM OLD.balance THEN
        RAISE EXCEPTION 'permission denied to change the balance of pool "%"', OLD.pool
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'A balance is the sum of the pool''s ledger and changes only through quota''s functions.',
                  HINT = 'Use quota_topup() or quota_adjust().';
    END IF;
    IF (NEW.pool, NEW.kind, NEW.owner, NEW.next_reset_at, NEW.period_start, NEW.created_at)
       IS DISTINCT FROM
       (OLD.pool, OLD.kind, OLD.owner, OLD.next_reset_at, OLD.period_start, OLD.created_at) THEN
        RAISE EXCEPTION 'permission denied to change the identity or period of pool "%"', OLD.pool
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'pool, kind, owner, next_reset_at, period_start and created_at are kept by quota.',
                  HINT = 'Change reset_cron or reset_timezone to move the next reset.';
    END IF;
    -- a pool administrator may change the schedule and the warnings only
    IF NOT quota._caller_is_admin() THEN
        admin_only := array_remove(ARRAY[
            CASE WHEN NEW.allowance IS DISTINCT FROM OLD.allowance THEN 'allowance' END,
            CASE WHEN NEW.member_limit IS DISTINCT FROM OLD.member_limit THEN 'member_limit' END,
            CASE WHEN NEW.reset_policy IS DISTINCT FROM OLD.reset_policy THEN 'reset_policy' END,
            CASE WHEN NEW.enabled IS DISTINCT FROM OLD.enabled THEN 'enabled' END,
            CASE WHEN NEW.models IS DISTINCT FROM OLD.models THEN 'models' END], NULL);
        IF admin_only <> '{}' THEN
            RAISE EXCEPTION 'permission denied to change % of pool "%"',
                    array_to_string(admin_only, ', '), OLD.pool
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'A pool''s administrators may change reset_cron, reset_timezone and warn_at; quota_admin changes the rest.',
                      HINT = 'Ask a member of quota_admin to make this change.';
        END IF;
    END IF;
    IF NEW.allowance IS DISTINCT FROM OLD.allowance THEN
        sets := sets || format('allowance = %L::quota.credits', NEW.allowance);
    END IF;
    IF NEW.member_limit IS DISTINCT FROM OLD.member_limit THEN
        sets := sets || format('member_limit = %L::quota.credits', NEW.member_limit);
    END IF;
    IF NEW.reset_cron IS DISTINCT FROM OLD.reset_cron THEN
        sets := sets || format('reset_cron = %L', NEW.reset_cron);
    END IF;
    IF NEW.reset_timezone IS DISTINCT FROM OLD.reset_timezone THEN
        sets := sets || format('reset_timezone = %L', NEW.reset_timezone);
    END IF;
    IF NEW.reset_policy IS DISTINCT FROM OLD.reset_policy THEN
        sets := sets || format('reset_policy = %L', NEW.reset_policy);
    END IF;
    IF NEW.warn_at IS DISTINCT FROM OLD.warn_at THEN
        sets := sets || format('warn_at = %L::numeric[]', NEW.warn_at);
    END IF;
    IF NEW.enabled IS DISTINCT FROM OLD.enabled THEN
        sets := sets || format('enabled = %L::boolean', NEW.enabled);
    END IF;
    IF NEW.models IS DISTINCT FROM OLD.models THEN
        sets := sets || format('models = %L::text[]', NEW.models);
    END IF;
    IF sets <> '{}' THEN
        EXECUTE format('UPDATE quota.pool_defs SET %s WHERE pool = $1',
                       array_to_string(sets, ', '))
            USING OLD.pool;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION quota._pools_update() IS
    'internal: UPDATE of quota.pools, column by column, under the caller''s privileges; the balance is refused';

CREATE TRIGGER pools_update INSTEAD OF UPDATE ON quota.pools
    FOR EACH ROW EXECUTE FUNCTION quota._pools_update();
COMMENT ON TRIGGER pools_update ON quota.pools IS
    'configuration changes go to quota.pool_defs; balance changes are refused';

CREATE FUNCTION quota._pool_defs_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    IF (NEW.reset_cron, NEW.reset_timezone, NEW.reset_policy)
       IS DISTINCT FROM (OLD.reset_cron, OLD.reset_timezone, OLD.reset_policy) THEN
        NEW.next_reset_at := quota._check_schedule(NEW.reset_cron, NEW.reset_timezone,
                                                   NEW.reset_policy);
    END IF;
    IF NEW.warn_at IS DISTINCT FROM OLD.warn_at THEN
        IF NEW.warn_at IS NULL THEN
            RAISE EXCEPTION 'warning thresholds of pool "%" must not be null', NEW.pool
                USING ERRCODE = 'null_value_not_allowed',
                      HINT = 'Use ''{}'' for a pool without warnings.';
        END IF;
        IF array_ndims(NEW.warn_at) > 1 OR cardinality(NEW.warn_at) > 16
           OR EXISTS (SELECT FROM unnest(NEW.warn_at) t WHERE t IS NULL OR t <= 0 OR t > 1) THEN
            RAISE EXCEPTION 'invalid warning thresholds "%" for pool "%"', NEW.warn_at, NEW.pool
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Each threshold is a fraction of the allowance, greater than 0 and at most 1; a pool has at most 16.',
                      HINT = 'Use for example ''{0.8,0.95}'', or ''{}'' for no warnings.';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION quota._pool_defs_changed() IS
    'internal: validate a changed schedule (recomputing next_reset_at) and warning thresholds';

CREATE TRIGGER pool_defs_schedule BEFORE UPDATE ON quota.pool_defs
    FOR EACH ROW EXECUTE FUNCTION quota._pool_defs_changed();
COMMENT ON TRIGGER pool_defs_schedule ON quota.pool_defs IS
    'a changed schedule recomputes next_reset_at; thresholds are validated';

CREATE VIEW quota.pool_status WITH (security_invoker = true) AS
SELECT d.pool, d.kind, d.allowance, f.balance, f.held, f.available, f.used,
       CASE WHEN d.allowance > 0
            THEN round(f.used::numeric * 100 / d.allowance::numeric, 2) END AS used_pct,
       d.next_reset_at, d.enabled
  FROM quota.pool_defs d
 CROSS JOIN LATERAL quota._pool_figures(d.pool) f;
COMMENT ON VIEW quota.pool_status IS
    'per pool: allowance, balance, held, available, used this period (and percent of allowance), next reset';

CREATE FUNCTION quota._my_pools()
    RETURNS TABLE(pool text, role text, active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT u.pool, u.role, u.pool IS NOT DISTINCT FROM a.active
      FROM quota._usable_pools(quota.current_user_id()) u,
           (SELECT quota.quota_active_pool() AS active) a
$$;
COMMENT ON FUNCTION quota._my_pools() IS
    'internal: the calling user''s usable pools, role and which one is active';

CREATE VIEW quota.my_pools WITH (security_invoker = true) AS
SELECT m.pool, d.kind, m.role, m.active, f.balance, f.held, f.available,
       d.next_reset_at, d.enabled,
       array_position((SELECT u.fallback_pools FROM quota.users u
                        WHERE u.user_id = quota.current_user_id()), m.pool) AS fallback_order
  FROM quota._my_pools() m
  JOIN quota.pool_defs d ON d.pool = m.pool
 CROSS JOIN LATERAL quota._pool_figures(m.pool) f;
COMMENT ON VIEW quota.my_pools IS
    'the calling user''s usable pools with available balance, role, which one is active, and the order of each in their fallback list';

CREATE VIEW quota.charges WITH (security_invoker = true) AS
SELECT l.entry_id AS charge_id, l.at, l.pool, l.user_id, l.model, l.service,
       l.request_id, l.conversation_id, l.input_tokens, l.cached_input_tokens,
       l.output_tokens, p.input_price, p.cached_input_price, p.output_price,
       p.request_price, l.original_cost, l.discount_rate, l.final_cost
  FROM quota.ledger l
  LEFT JOIN quota.model_prices p ON p.price_id = l.price_id
 WHERE l.kind = 'charge';
COMMENT ON VIEW quota.charges IS
    'the ledger''s charge entries (original cost crossed out, final cost charged)';

CREATE VIEW quota.conversation_costs WITH (security_invoker = true) AS
SELECT c.conversation_id, c.user_id, count(*) AS requests,
       sum(c.input_tokens) + sum(c.cached_input_tokens) + sum(c.output_tokens) AS tokens,
       quota._sum_or_null(c.original_cost) AS original_cost,
       quota._sum_or_null(c.final_cost) AS final_cost,
       min(c.at) AS first_at, max(c.at) AS last_at
  FROM quota.charges c
 WHERE c.conversation_id IS NOT NULL
 GROUP BY c.conversation_id, c.user_id;
COMMENT ON VIEW quota.conversation_costs IS 'cost of each conversation per user';

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
