
-- ---------------------------------------------------------------------------
-- Usage restrictions (0.2): spending caps per day, week and month, and the
-- account centre's views of limits and usage.  The gate is in caps.c.
-- ---------------------------------------------------------------------------

CREATE TABLE quota.pool_caps (
    pool        text NOT NULL REFERENCES quota.pool_defs (pool),
    per         text NOT NULL CHECK (per IN ('day', 'week', 'month')),
    scope       text NOT NULL CHECK (scope IN ('member', 'pool')),
    amount      quota.credits NOT NULL CHECK (amount >= '0'),
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool, per, scope)
);
COMMENT ON TABLE quota.pool_caps IS
    'spending caps of pools per calendar day, week or month in the pool''s reset_timezone (quota_set_cap)';
COMMENT ON COLUMN quota.pool_caps.pool IS 'the capped pool';
COMMENT ON COLUMN quota.pool_caps.per IS 'the window: day (from local midnight), week (from Monday) or month (from the 1st), in the pool''s reset_timezone';
COMMENT ON COLUMN quota.pool_caps.scope IS 'member: each member separately; pool: all members together';
COMMENT ON COLUMN quota.pool_caps.amount IS 'most credits charged or held in one window (charges dated in it plus active holds)';
COMMENT ON COLUMN quota.pool_caps.set_at IS 'when the cap was last set';

CREATE FUNCTION quota._cap_window(per text, timezone text, at timestamptz,
        OUT window_start timestamptz, OUT window_end timestamptz)
    AS 'MODULE_PATHNAME', 'quota_cap_window'
    LANGUAGE C STABLE;
COMMENT ON FUNCTION quota._cap_window(text, text, timestamptz) IS
    'internal: the calendar window (day, week or month in the zone, by the cron engine''s DST rules) that contains at';

CREATE FUNCTION quota.quota_set_cap(pool text, per text, amount numeric,
        scope text DEFAULT 'member') RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
DECLARE
    cap quota.credits;
BEGIN
    PERFORM quota._require(ARRAY['pool', 'per', 'scope'],
                           ARRAY[pool IS NULL, per IS NULL, scope IS NULL]);
    IF per NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'invalid cap period "%"', per
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''day'', ''week'' or ''month''.';
    END IF;
    IF scope NOT IN ('member', 'pool') THEN
        RAISE EXCEPTION 'invalid cap scope "%"', scope
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''member'' (each member separately) or ''pool'' (all members together).';
    END IF;
    IF amount < 0 THEN
        RAISE EXCEPTION 'cap amount must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the most credits per window, or NULL to remove the cap.';
    END IF;
    cap := amount;
    PERFORM quota._pool_exists(pool);
    PERFORM quota._may_manage(pool);
    IF amount IS NULL THEN
        DELETE FROM quota.pool_caps c
         WHERE c.pool = quota_set_cap.pool AND c.per = quota_set_cap.per
           AND c.scope = quota_set_cap.scope;
    ELSE
        INSERT INTO quota.pool_caps AS c (pool, per, scope, amount)
        VALUES (pool, per, scope, cap)
        ON CONFLICT ON CONSTRAINT pool_caps_pkey DO UPDATE
            SET amount = excluded.amount, set_at = now();
    END IF;
END
$$;
COMMENT ON FUNCTION quota.quota_set_cap(text, text, numeric, text) IS
    'cap what a pool''s members (scope member) or the pool (scope pool) may spend per calendar day, week or month; NULL amount removes the cap';

ALTER TABLE quota.pool_caps ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_caps_read ON quota.pool_caps FOR SELECT
    USING (quota._sees_pool(pool));
COMMENT ON POLICY pool_caps_read ON quota.pool_caps IS
    'caps are visible with their pool: to its users, its administrators and quota_admin';

-- quota.pool_limits: one place for every restriction of a pool (rate
-- limits join this definition when they are added).
CREATE VIEW quota.pool_limits WITH (security_invoker = true) AS
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
       d.reset_timezone
  FROM quota.pool_defs d;
COMMENT ON VIEW quota.pool_limits IS
    'per pool: the restrictions on its use (model list, member limit, spending caps per day, week and month)';
COMMENT ON COLUMN quota.pool_limits.pool IS 'the pool';
COMMENT ON COLUMN quota.pool_limits.models IS 'models the pool pays for; NULL: every enabled model';
COMMENT ON COLUMN quota.pool_limits.member_limit IS 'most credits a member may use per reset period (a member''s own limit is in quota.member_usage); NULL: none';
COMMENT ON COLUMN quota.pool_limits.member_day_cap IS 'most credits each member may spend per calendar day; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.member_week_cap IS 'most credits each member may spend per calendar week (from Monday); NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.member_month_cap IS 'most credits each member may spend per calendar month; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.pool_day_cap IS 'most credits all members together may spend per calendar day; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.pool_week_cap IS 'most credits all members together may spend per calendar week (from Monday); NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.pool_month_cap IS 'most credits all members together may spend per calendar month; NULL: no cap';
COMMENT ON COLUMN quota.pool_limits.reset_timezone IS 'the time zone of the pool''s calendar windows (and of its reset schedule)';

CREATE FUNCTION quota._cap_spent(pool text, user_id text, window_start timestamptz,
        window_end timestamptz) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    SELECT CASE WHEN $2 IS NULL THEN quota._pool_window_charges($1, $3, $4)
                ELSE coalesce((SELECT -sum(l.amount::numeric) FROM quota.ledger l
                                WHERE l.pool = $1 AND l.user_id = $2
                                  AND l.kind = 'charge' AND l.at >= $3 AND l.at < $4), 0)
           END
         + coalesce((SELECT sum(r.held::numeric) FROM quota.reservations r
                      WHERE r.pool = $1 AND ($2 IS NULL OR r.user_id = $2)
                        AND r.settled_at IS NULL), 0)
$$;
COMMENT ON FUNCTION quota._cap_spent(text, text, timestamptz, timestamptz) IS
    'internal: what a member (or with a NULL user_id the whole pool) spent in a window: charges dated in it plus active holds';

CREATE FUNCTION quota._member_usage()
    RETURNS TABLE(pool text, user_id text, used quota.credits,
                  member_limit quota.credits, day_used quota.credits,
                  day_cap quota.credits, week_used quota.credits,
                  week_cap quota.credits, month_used quota.credits,
                  month_cap quota.credits, remaining quota.credits)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, quota, pg_temp
AS $$
    WITH members AS (
        SELECT DISTINCT ON (x.pool, x.user_id) x.pool, x.user_id, x.member_limit
          FROM (SELECT m.pool, m.user_id, m.member_limit, 1 AS rank
                  FROM quota.pool_members m
                UNION ALL
                SELECT p.pool, p.owner, NULL, 2
                  FROM quota.pool_defs p WHERE p.owner IS NOT NULL
                UNION ALL
                SELECT g.pool, u.user_id, NULL, 3
                  FROM quota.pool_groups g
                  JOIN quota.users u ON g.group_name = ANY (u.groups)) x
         WHERE x.user_id = quota.current_user_id() OR quota._admins_pool(x.pool)
         ORDER BY x.pool, x.user_id, x.rank),
    -- once per pool (not per member): room under the pool's own caps
    pool_room AS (
        SELECT c.pool,
               min(c.amount::numeric - quota._cap_spent(c.pool, NULL, w.window_start, w.window_end)) AS headroom
          FROM quota.pool_caps c
          JOIN quota.pool_defs d ON d.pool = c.pool
         CROSS JOIN LATERAL quota._cap_window(c.per, d.reset_timezone, now()) w
         WHERE c.scope = 'pool' AND c.pool IN (SELECT s.pool FROM members s)
         GROUP BY c.pool),
    figures AS (
        SELECT m.pool, m.user_id,
               coalesce(m.member_limit, d.member_limit) AS member_limit,
               s.period + h.held AS used, s.day + h.held AS day_used,
               s.week + h.held AS week_used, s.month + h.held AS month_used,
               cd.amount AS day_cap, cw.amount AS week_cap, cm.amount AS month_cap,
               pr.headroom AS pool_headroom
          FROM members m
          JOIN quota.pool_defs d ON d.pool = m.pool
          LEFT JOIN pool_room pr ON pr.pool = m.pool
         CROSS JOIN LATERAL quota._cap_window('day', d.reset_timezone, now()) wd
         CROSS JOIN LATERAL quota._cap_window('week', d.reset_timezone, now()) ww
         CROSS JOIN LATERAL quota._cap_window('month', d.reset_timezone, now()) wm
         CROSS JOIN LATERAL (
               SELECT coalesce(sum(r.held::numeric), 0) AS held
                 FROM quota.reservations r
                WHERE r.pool = m.pool AND r.user_id = m.user_id
                  AND r.settled_at IS NULL) h
         CROSS JOIN LATERAL (
               SELECT coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= d.period_start), 0) AS period,
                      coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= wd.window_start AND l.at < wd.window_end), 0) AS day,
                      coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= ww.window_start AND l.at < ww.window_end), 0) AS week,
                      coalesce(-sum(l.amount::numeric) FILTER (WHERE l.at >= wm.window_start AND l.at < wm.window_end), 0) AS month
                 FROM quota.ledger l
                WHERE l.pool = m.pool AND l.user_id = m.user_id AND l.kind = 'charge'
                  AND l.at >= LEAST(d.period_start, wd.window_start, ww.window_start, wm.window_start)) s
          LEFT JOIN quota.pool_caps cd ON cd.pool = m.pool AND cd.per = 'day' AND cd.scope = 'member'
          LEFT JOIN quota.pool_caps cw ON cw.pool = m.pool AND cw.per = 'week' AND cw.scope = 'member'
          LEFT JOIN quota.pool_caps cm ON cm.pool = m.pool AND cm.per = 'month' AND cm.scope = 'member')
    SELECT f.pool, f.user_id, quota._credits_or_null(f.used), f.member_limit,
           quota._credits_or_null(f.day_used), f.day_cap,
           quota._credits_or_null(f.week_used), f.week_cap,
           quota._credits_or_null(f.month_used), f.month_cap,
           quota._credits_or_null(CASE WHEN r.headroom < 0 THEN 0 ELSE r.headroom END)
      FROM figures f
     CROSS JOIN LATERAL (
           SELECT LEAST(f.member_limit::numeric - f.used, f.day_cap::numeric - f.day_used,
                        f.week_cap::numeric - f.week_used, f.month_cap::numeric - f.month_used,
                        f.pool_headroom) AS headroom) r
$$;
COMMENT ON FUNCTION quota._member_usage() IS
    'internal: per pool and member the caller may see (themself; pool administrators their pools'' members): use this period and in each cap''s window, limits and the least headroom';

CREATE VIEW quota.member_usage WITH (security_invoker = true) AS
SELECT u.pool, u.user_id, u.used, u.member_limit, u.day_used, u.day_cap,
       u.week_used, u.week_cap, u.month_used, u.month_cap, u.remaining
  FROM quota._member_usage() u;
COMMENT ON VIEW quota.member_usage IS
    'per pool and member: use this period and in the current day, week and month, the member limit and caps, and the headroom left';
COMMENT ON COLUMN quota.member_usage.pool IS 'the pool';
COMMENT ON COLUMN quota.member_usage.user_id IS 'the member (direct, through a group, or the owner)';
COMMENT ON COLUMN quota.member_usage.used IS 'credits the member used this reset period, active holds included';
COMMENT ON COLUMN quota.member_usage.member_limit IS 'most credits the member may use per reset period (their own limit, else the pool''s); NULL: none';
COMMENT ON COLUMN quota.member_usage.day_used IS 'credits the member spent today (charges dated today in the pool''s time zone) plus active holds';
COMMENT ON COLUMN quota.member_usage.day_cap IS 'the pool''s daily cap per member; NULL: none';
COMMENT ON COLUMN quota.member_usage.week_used IS 'credits the member spent this week (from Monday, in the pool''s time zone) plus active holds';
COMMENT ON COLUMN quota.member_usage.week_cap IS 'the pool''s weekly cap per member; NULL: none';
COMMENT ON COLUMN quota.member_usage.month_used IS 'credits the member spent this calendar month (in the pool''s time zone) plus active holds';
COMMENT ON COLUMN quota.member_usage.month_cap IS 'the pool''s monthly cap per member; NULL: none';
COMMENT ON COLUMN quota.member_usage.remaining IS 'the least headroom of the member limit, the member caps and the pool''s own caps (never below 0); NULL: nothing limits the member but the pool''s balance';

GRANT SELECT ON quota.pool_caps, quota.pool_limits, quota.member_usage
    TO quota_admin, quota_app, quota_user;
REVOKE ALL ON FUNCTION
    quota.quota_set_cap(text, text, numeric, text),
    quota._cap_window(text, text, timestamptz),
    quota._cap_spent(text, text, timestamptz, timestamptz),
    quota._member_usage()
    FROM PUBLIC;
-- pool administrators (quota_user members) cap their own pools
GRANT EXECUTE ON FUNCTION quota.quota_set_cap(text, text, numeric, text)
    TO quota_admin, quota_user;
-- quota.member_usage runs as the role that reads it
GRANT EXECUTE ON FUNCTION quota._member_usage() TO quota_admin, quota_app, quota_user;

SELECT pg_catalog.pg_extension_config_dump('quota.pool_caps', '');
