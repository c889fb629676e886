
-- ---------------------------------------------------------------------------
-- Rate limits (0.2): requests and tokens per minute, counted in shared
-- memory (src/ratelimit.c); refused requests (src/refusals.c); the price list
-- ---------------------------------------------------------------------------

CREATE TABLE quota.rate_limits (
    pool                text NOT NULL REFERENCES quota.pool_defs (pool),
    scope               text NOT NULL CHECK (scope IN ('member', 'pool')),
    requests_per_minute integer CHECK (requests_per_minute > 0),
    tokens_per_minute   bigint CHECK (tokens_per_minute > 0),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool, scope),
    CHECK (requests_per_minute IS NOT NULL OR tokens_per_minute IS NOT NULL)
);
COMMENT ON TABLE quota.rate_limits IS
    'requests and tokens per minute of a pool, per member or for the pool as a whole (set with quota_set_rate_limit)';
COMMENT ON COLUMN quota.rate_limits.pool IS 'the pool';
COMMENT ON COLUMN quota.rate_limits.scope IS 'member: each member separately; pool: all members together';
COMMENT ON COLUMN quota.rate_limits.requests_per_minute IS 'new requests admitted over any 60 seconds (NULL: no limit)';
COMMENT ON COLUMN quota.rate_limits.tokens_per_minute IS 'tokens of new requests (input, cached input and output; a reservation''s declared maxima) over any 60 seconds (NULL: no limit)';
COMMENT ON COLUMN quota.rate_limits.updated_at IS 'when the limit was last set';
SELECT pg_catalog.pg_extension_config_dump('quota.rate_limits', '');

ALTER TABLE quota.rate_limits ENABLE ROW LEVEL SECURITY;
CREATE POLICY rate_limits_read ON quota.rate_limits FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY rate_limits_read ON quota.rate_limits IS
    'rate limits are visible with their pool';
GRANT SELECT ON quota.rate_limits TO quota_admin, quota_app, quota_user;

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

CREATE FUNCTION quota._rate_limits_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'quota_rate_limits_changed' LANGUAGE C;
COMMENT ON FUNCTION quota._rate_limits_changed() IS
    'internal: tell every backend to re-read rate limits and caps once the change commits';
CREATE TRIGGER rate_limits_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.rate_limits FOR EACH STATEMENT EXECUTE FUNCTION quota._rate_limits_changed();
COMMENT ON TRIGGER rate_limits_changed ON quota.rate_limits IS
    'backends cache rate limits: a change makes them read again';

-- backends cache each pool's caps too (src/caps.c): a change of caps makes
-- them read again, as for rate limits
CREATE TRIGGER pool_caps_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON quota.pool_caps FOR EACH STATEMENT EXECUTE FUNCTION quota._rate_limits_changed();
COMMENT ON TRIGGER pool_caps_changed ON quota.pool_caps IS
    'backends cache caps: a change makes them read again';

CREATE FUNCTION quota.quota_set_rate_limit(pool text, requests_per_minute integer,
        tokens_per_minute bigint DEFAULT NULL, scope text DEFAULT 'member')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
BEGIN
    PERFORM quota._require(ARRAY['pool', 'scope'], ARRAY[pool IS NULL, scope IS NULL]);
    IF scope NOT IN ('member', 'pool') THEN
        RAISE EXCEPTION 'invalid rate limit scope "%"', scope
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''member'' (each member separately) or ''pool'' (all members together).';
    END IF;
    IF requests_per_minute <= 0 OR tokens_per_minute <= 0 THEN
        RAISE EXCEPTION 'rate limits must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('requests_per_minute was %s and tokens_per_minute %s.',
                                  coalesce(requests_per_minute::text, 'NULL'),
                                  coalesce(tokens_per_minute::text, 'NULL')),
                  HINT = 'Pass NULL to remove a limit; quota_set_pool_enabled() stops a pool.';
    END IF;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._may_manage(pool);
    IF requests_per_minute IS NULL AND tokens_per_minute IS NULL THEN
        DELETE FROM quota.rate_limits r
         WHERE r.pool = quota_set_rate_limit.pool AND r.scope = quota_set_rate_limit.scope;
    ELSE
        INSERT INTO quota.rate_limits AS r (pool, scope, requests_per_minute, tokens_per_minute)
        VALUES (pool, scope, requests_per_minute, tokens_per_minute)
        ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE
            SET requests_per_minute = excluded.requests_per_minute,
                tokens_per_minute = excluded.tokens_per_minute,
                updated_at = now();
    END IF;
END
$$;
COMMENT ON FUNCTION quota.quota_set_rate_limit(text, integer, bigint, text) IS
    'limit the new requests and tokens of a pool over any 60 seconds, per member or for the pool (QU006); NULLs remove the limits';

CREATE FUNCTION quota._refusal_counts(OUT pool text, OUT user_id text,
        OUT sqlstate text, OUT refused bigint, OUT last_at timestamptz)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'quota_refusal_counts'
    LANGUAGE C VOLATILE;
COMMENT ON FUNCTION quota._refusal_counts() IS
    'internal: every refusal count of this database''s quota kept in shared memory (read through quota.refusals)';

CREATE FUNCTION quota._refusals()
    RETURNS TABLE(pool text, user_id text, sqlstate text, refused bigint,
                  last_at timestamptz)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT r.pool, r.user_id, r.sqlstate, r.refused, r.last_at
      FROM quota._refusal_counts() r
     WHERE r.user_id = quota.current_user_id() OR quota._admins_pool(r.pool)
$$;
COMMENT ON FUNCTION quota._refusals() IS
    'internal: the refusal counts the calling user may see (their own, their pools'' as administrator, all for quota_admin)';

CREATE VIEW quota.refusals WITH (security_invoker = true) AS
SELECT r.pool, r.user_id, r.sqlstate, r.refused, r.last_at
  FROM quota._refusals() r;
COMMENT ON VIEW quota.refusals IS
    'refused quota_charge and quota_reserve calls since the server started, per pool, user and SQLSTATE (counted outside the rolled back transaction)';
COMMENT ON COLUMN quota.refusals.pool IS 'the pool the request was for (NULL: none was chosen)';
COMMENT ON COLUMN quota.refusals.user_id IS 'the user';
COMMENT ON COLUMN quota.refusals.sqlstate IS 'the refusal: QU001 (insufficient quota) .. QU006 (rate limited)';
COMMENT ON COLUMN quota.refusals.refused IS 'refused requests since the server started';
COMMENT ON COLUMN quota.refusals.last_at IS 'the last refusal';

CREATE VIEW quota.price_list WITH (security_invoker = true) AS
SELECT m.model, m.service, p.pool, m.input_price, m.cached_input_price,
       m.output_price, m.request_price, c.discount_rate,
       quota._credits_or_null(m.input_price::numeric * c.discount_rate) AS discounted_input_price,
       quota._credits_or_null(m.output_price::numeric * c.discount_rate) AS discounted_output_price
  FROM quota._my_pools() p
  JOIN quota.pool_defs d ON d.pool = p.pool
  JOIN quota.models m ON m.enabled AND (d.models IS NULL OR m.model = ANY (d.models))
 CROSS JOIN LATERAL quota.quota_cost(m.model, 0, 0, 0, p.pool, now()) c;
COMMENT ON VIEW quota.price_list IS
    'per enabled model and pool the calling user may use: prices, the discount rate in force now and the discounted prices';
COMMENT ON COLUMN quota.price_list.model IS 'the model';
COMMENT ON COLUMN quota.price_list.service IS 'the model''s service';
COMMENT ON COLUMN quota.price_list.pool IS 'a pool the user may use that permits the model';
COMMENT ON COLUMN quota.price_list.input_price IS 'credits per 1,000,000 input tokens (cached input excluded), before discount';
COMMENT ON COLUMN quota.price_list.cached_input_price IS 'credits per 1,000,000 cached input tokens, before discount';
COMMENT ON COLUMN quota.price_list.output_price IS 'credits per 1,000,000 output tokens, before discount';
COMMENT ON COLUMN quota.price_list.request_price IS 'credits per request, before discount';
COMMENT ON COLUMN quota.price_list.discount_rate IS 'the rate that applies now to the model in this pool (1: no discount)';
COMMENT ON COLUMN quota.price_list.discounted_input_price IS 'input_price x discount_rate: what is charged now';
COMMENT ON COLUMN quota.price_list.discounted_output_price IS 'output_price x discount_rate: what is charged now';

GRANT SELECT ON quota.refusals, quota.price_list TO quota_admin, quota_app, quota_user;

REVOKE ALL ON FUNCTION
    quota.quota_set_rate_limit(text, integer, bigint, text),
    quota._rate_limits_changed(),
    quota._refusal_counts(),
    quota._refusals()
    FROM PUBLIC;
-- pool administrators (quota_user members) limit their own pools
GRANT EXECUTE ON FUNCTION quota.quota_set_rate_limit(text, integer, bigint, text)
    TO quota_admin, quota_user;
-- quota.refusals
GRANT EXECUTE ON FUNCTION quota._refusals() TO quota_admin, quota_app, quota_user;

-- quota.pool_limits gains the pool's rate limits (defined with the caps in
-- 75_caps.sql; extended here, where quota.rate_limits exists)
CREATE OR REPLACE VIEW quota.pool_limits WITH (security_invoker = true) AS
SELECT d.pool, d.models, d.member_limit,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'day' AND c.scope = 'member') AS member_day_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'week' AND c.scope = 'member') AS member_week_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'month' AND c.scope = 'member') AS member_month_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'day' AND c.scope = 'pool') AS pool_day_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'week' AND c.scope = 'pool') AS pool_week_cap,
       (SELECT c.amount FROM quota.pool_caps c
         WHERE c.pool = d.pool AND c.per = 'month' AND c.scope = 'pool') AS pool_month_cap,
       d.reset_timezone,
       mr.requests_per_minute AS member_requests_per_minute,
       mr.tokens_per_minute AS member_tokens_per_minute,
       pr.requests_per_minute AS pool_requests_per_minute,
       pr.tokens_per_minute AS pool_tokens_per_minute
  FROM quota.pool_defs d
  LEFT JOIN quota.rate_limits mr ON mr.pool = d.pool AND mr.scope = 'member'
  LEFT JOIN quota.rate_limits pr ON pr.pool = d.pool AND pr.scope = 'pool';
COMMENT ON VIEW quota.pool_limits IS
    'per pool: the restrictions on its use (model list, member limit, spending caps per day, week and month, rate limits)';
COMMENT ON COLUMN quota.pool_limits.member_requests_per_minute IS 'most requests each member may start in any 60 seconds; NULL: no limit';
COMMENT ON COLUMN quota.pool_limits.member_tokens_per_minute IS 'most tokens each member may use in any 60 seconds; NULL: no limit';
COMMENT ON COLUMN quota.pool_limits.pool_requests_per_minute IS 'most requests all members together may start in any 60 seconds; NULL: no limit';
COMMENT ON COLUMN quota.pool_limits.pool_tokens_per_minute IS 'most tokens all members together may use in any 60 seconds; NULL: no limit';
