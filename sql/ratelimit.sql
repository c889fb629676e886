-- ratelimit: requests and tokens per minute (quota_set_rate_limit), refused
-- with QU006 naming the limit and the seconds to wait; quota_check's
-- retry_after; a repeated request and a settlement are never refused or
-- counted; a rolled back request is taken back.  Every request here comes
-- well within one minute of the first, so the counts are deterministic; the
-- seconds to wait are checked to lie in 1..61.
\set VERBOSITY default

-- rl(sql): the SQLSTATE, message, detail and hint a statement raises ('ok'
-- when it does not), with the seconds of a "Retry in N seconds." hint checked.
CREATE FUNCTION public.rl(sql text)
    RETURNS TABLE(state text, message text, detail text, hint text)
    LANGUAGE plpgsql AS $$
DECLARE
    secs int;
BEGIN
    EXECUTE sql;
    RETURN QUERY SELECT 'ok', NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    secs := substring(hint FROM 'Retry in (\d+) seconds')::int;
    IF secs IS NOT NULL THEN
        hint := replace(hint, secs::text,
                        CASE WHEN secs BETWEEN 1 AND 61 THEN '<1..61>' ELSE 'BAD ' || secs END);
    END IF;
    RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION public.rl(text) TO PUBLIC;

CREATE ROLE regress_rl_admin NOLOGIN IN ROLE quota_user;   -- administers Rate Lab
CREATE ROLE regress_rl_member NOLOGIN IN ROLE quota_user;  -- a member of Rate Lab
SELECT quota_set_model('rl-m', 1000000, 1000000, 'api');   -- 1 credit per token
SELECT quota_set_model('rl-free', 0, 0, 'api');
SELECT quota_set_user(u, '{}')
  FROM unnest(ARRAY['regress_rl_admin', 'regress_rl_member', 'regress_rl_a',
                    'regress_rl_b', 'regress_rl_c']) u;
SELECT quota_create_pool(p, 10000)
  FROM unnest(ARRAY['Rate Lab', 'Token Lab', 'Both Lab']) p;
SELECT quota_add_member(p, u)
  FROM unnest(ARRAY['Rate Lab', 'Token Lab', 'Both Lab']) p,
       unnest(ARRAY['regress_rl_member', 'regress_rl_a', 'regress_rl_b', 'regress_rl_c']) u;
SELECT quota_add_member('Rate Lab', 'regress_rl_admin', 'admin');

-- Bad arguments change nothing.
SELECT * FROM rl($$SELECT quota_set_rate_limit(NULL, 3)$$);
SELECT * FROM rl($$SELECT quota_set_rate_limit('Rate Lab', 3, scope => NULL)$$);
SELECT * FROM rl($$SELECT quota_set_rate_limit('Rate Lab', 3, scope => 'team')$$);
SELECT * FROM rl($$SELECT quota_set_rate_limit('Rate Lab', 0)$$);
SELECT * FROM rl($$SELECT quota_set_rate_limit('Rate Lab', NULL, -1)$$);
SELECT * FROM rl($$SELECT quota_set_rate_limit('No Such Lab', 3)$$);
-- a member may not limit the pool; a role without quota may not call it at all
SET ROLE regress_rl_member;
SELECT * FROM rl($$SELECT quota_set_rate_limit('Rate Lab', 3)$$);
SET ROLE regress_mallory;
SELECT * FROM rl($$SELECT quota.quota_set_rate_limit('Rate Lab', 3)$$);
RESET ROLE;
SELECT count(*) AS rate_limits FROM quota.rate_limits;

-- The pool's administrator sets 3 requests per minute per member; members
-- see it with their pool.
SET ROLE regress_rl_admin;
SELECT quota_set_rate_limit('Rate Lab', 3);
SET ROLE regress_rl_member;
SELECT pool, scope, requests_per_minute, tokens_per_minute FROM quota.rate_limits;
RESET ROLE;

-- Three requests of a member pass (free models count too); the fourth is
-- refused with QU006 and charges nothing.
SELECT final_cost FROM quota_charge('rl-m', 10, 5, 'rl-a1', user_id => 'regress_rl_a', pool => 'Rate Lab');
SELECT final_cost FROM quota_charge('rl-free', 10, 5, 'rl-a2', user_id => 'regress_rl_a', pool => 'Rate Lab');
SELECT pool, held FROM quota_reserve('rl-m', 10, 10, 'rl-a3', user_id => 'regress_rl_a', pool => 'Rate Lab');
SELECT allowed, pool, reason, retry_after BETWEEN '1 s' AND '61 s' AS retry_after_in_1_61
  FROM quota_check('rl-m', 'regress_rl_a', 'Rate Lab');
SELECT balance AS balance_before FROM quota.pools WHERE pool = 'Rate Lab';
SELECT * FROM rl($$SELECT quota_charge('rl-m', 10, 5, 'rl-a4', user_id => 'regress_rl_a', pool => 'Rate Lab')$$);
SELECT * FROM rl($$SELECT quota_reserve('rl-m', 10, 5, 'rl-a5', user_id => 'regress_rl_a', pool => 'Rate Lab')$$);
SELECT balance AS balance_after FROM quota.pools WHERE pool = 'Rate Lab';
SELECT count(*) AS charged FROM quota.ledger WHERE request_id IN ('rl-a4', 'rl-a5');
SELECT count(*) AS reserved FROM quota.reservations WHERE request_id IN ('rl-a4', 'rl-a5');
-- a repeat of an admitted request returns its first result: never refused, never counted
SELECT final_cost FROM quota_charge('rl-m', 10, 5, 'rl-a1', user_id => 'regress_rl_a', pool => 'Rate Lab');
SELECT request_id, held FROM quota_reserve('rl-m', 10, 10, 'rl-a3', user_id => 'regress_rl_a', pool => 'Rate Lab');
-- a settlement is never refused (nor counted)
SELECT final_cost FROM quota_charge('rl-m', 8, 8, 'rl-a3', user_id => 'regress_rl_a');
SELECT final_cost FROM quota_charge('rl-m', 8, 8, 'rl-a3', user_id => 'regress_rl_a');
-- another member has a window of their own
SELECT allowed, reason, retry_after FROM quota_check('rl-m', 'regress_rl_b', 'Rate Lab');
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-b1', user_id => 'regress_rl_b', pool => 'Rate Lab');

-- A request whose transaction rolls back was not admitted: it is taken
-- back, so its retry counts once.  Likewise for a rolled back savepoint.
BEGIN;
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c1', user_id => 'regress_rl_c', pool => 'Rate Lab');
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c2', user_id => 'regress_rl_c', pool => 'Rate Lab');
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c3', user_id => 'regress_rl_c', pool => 'Rate Lab');
ROLLBACK;
BEGIN;
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c1', user_id => 'regress_rl_c', pool => 'Rate Lab');
SAVEPOINT s;
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c2', user_id => 'regress_rl_c', pool => 'Rate Lab');
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c3', user_id => 'regress_rl_c', pool => 'Rate Lab');
ROLLBACK TO SAVEPOINT s;
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c2', user_id => 'regress_rl_c', pool => 'Rate Lab');
COMMIT;
SELECT final_cost FROM quota_charge('rl-m', 1, 1, 'rl-c3', user_id => 'regress_rl_c', pool => 'Rate Lab');
SELECT * FROM rl($$SELECT quota_charge('rl-m', 1, 1, 'rl-c4', user_id => 'regress_rl_c', pool => 'Rate Lab')$$);

-- NULLs remove the limit: the member may go on at once.
SET ROLE regress_rl_admin;
SELECT quota_set_rate_limit('Rate Lab', NULL);
RESET ROLE;
SELECT count(*) AS rate_limits FROM quota.rate_limits WHERE pool = 'Rate Lab';
SELECT allowed, reason, retry_after FROM quota_check('rl-m', 'regress_rl_a', 'Rate Lab');
SELECT final_cost FROM quota_charge('rl-m', 10, 5, 'rl-a4', user_id => 'regress_rl_a', pool => 'Rate Lab');

-- Tokens per minute for the pool as a whole: input, cached input and output
-- of a charge, a reservation's declared maxima.
SELECT quota_set_rate_limit('Token Lab', NULL, 100, 'pool');
SELECT pool, scope, requests_per_minute, tokens_per_minute FROM quota.rate_limits
 WHERE pool = 'Token Lab';
SELECT final_cost FROM quota_charge('rl-m', 30, 20, 'tl-a1', cached_input_tokens => 10,
                                    user_id => 'regress_rl_a', pool => 'Token Lab');
SELECT held FROM quota_reserve('rl-m', 20, 10, 'tl-b1', user_id => 'regress_rl_b', pool => 'Token Lab');
-- 90 tokens in the window: 11 more are refused, 10 pass
SELECT * FROM rl($$SELECT quota_charge('rl-m', 6, 5, 'tl-c1', user_id => 'regress_rl_c', pool => 'Token Lab')$$);
SELECT * FROM rl($$SELECT quota_reserve('rl-m', 6, 5, 'tl-c2', user_id => 'regress_rl_c', pool => 'Token Lab')$$);
SELECT final_cost FROM quota_charge('rl-m', 5, 5, 'tl-c3', user_id => 'regress_rl_c', pool => 'Token Lab');
SELECT allowed, reason, retry_after BETWEEN '1 s' AND '61 s' AS retry_after_in_1_61
  FROM quota_check('rl-m', 'regress_rl_a', 'Token Lab');
-- a request larger than the limit is refused whatever the wait
SELECT * FROM rl($$SELECT quota_charge('rl-m', 101, 0, 'tl-a2', user_id => 'regress_rl_a', pool => 'Token Lab')$$);
-- the settlement of tl-b1, beyond the window's tokens, is not refused
SELECT final_cost FROM quota_charge('rl-m', 20, 10, 'tl-b1', user_id => 'regress_rl_b');

-- A member limit and a pool limit together: the first that refuses is named.
SELECT quota_set_rate_limit('Both Lab', 2);
SELECT quota_set_rate_limit('Both Lab', 3, scope => 'pool');
SELECT quota_set_rate_limit('Both Lab', 3, 1000, 'pool');  -- changes the pool's row
SELECT pool, scope, requests_per_minute, tokens_per_minute FROM quota.rate_limits
 WHERE pool = 'Both Lab' ORDER BY scope COLLATE "C";
SELECT final_cost FROM quota_charge('rl-free', 1, 0, 'bl-a1', user_id => 'regress_rl_a', pool => 'Both Lab');
SELECT final_cost FROM quota_charge('rl-free', 1, 0, 'bl-a2', user_id => 'regress_rl_a', pool => 'Both Lab');
SELECT * FROM rl($$SELECT quota_charge('rl-free', 1, 0, 'bl-a3', user_id => 'regress_rl_a', pool => 'Both Lab')$$);
SELECT final_cost FROM quota_charge('rl-free', 1, 0, 'bl-b1', user_id => 'regress_rl_b', pool => 'Both Lab');
SELECT * FROM rl($$SELECT quota_charge('rl-free', 1, 0, 'bl-c1', user_id => 'regress_rl_c', pool => 'Both Lab')$$);
SELECT allowed, reason, retry_after BETWEEN '1 s' AND '61 s' AS retry_after_in_1_61
  FROM quota_check('rl-free', 'regress_rl_c', 'Both Lab');
-- a refusal by the pool's limit counted nothing in the member's window
SELECT quota_set_rate_limit('Both Lab', NULL, scope => 'pool');
SELECT final_cost FROM quota_charge('rl-free', 1, 0, 'bl-c1', user_id => 'regress_rl_c', pool => 'Both Lab');
SELECT final_cost FROM quota_charge('rl-free', 1, 0, 'bl-c2', user_id => 'regress_rl_c', pool => 'Both Lab');

-- Tokens count only where a tokens limit is set (no sum can overflow), from
-- the moment it is set.
SELECT final_cost FROM quota_charge('rl-free', 9223372036854775807, 0, 'bl-m1',
                                    user_id => 'regress_rl_member', pool => 'Both Lab');
SELECT quota_set_rate_limit('Both Lab', 3, 100);
SELECT final_cost FROM quota_charge('rl-free', 60, 0, 'bl-m2', user_id => 'regress_rl_member', pool => 'Both Lab');
SELECT * FROM rl($$SELECT quota_charge('rl-free', 41, 0, 'bl-m3', user_id => 'regress_rl_member', pool => 'Both Lab')$$);
SELECT final_cost FROM quota_charge('rl-free', 40, 0, 'bl-m3', user_id => 'regress_rl_member', pool => 'Both Lab');

-- quota_check's row in 0.2 (the 0.1 row has no retry_after: test/t/010_upgrade.pl)
SELECT pg_get_function_result('quota.quota_check(text, text, text)'::regprocedure);

-- Refused requests are counted outside their rolled back transactions.
SELECT pool, user_id, sqlstate, refused, last_at IS NOT NULL AS has_last_at
  FROM quota.refusals WHERE pool IN ('Rate Lab', 'Token Lab', 'Both Lab')
 ORDER BY pool COLLATE "C", user_id COLLATE "C", sqlstate COLLATE "C";

-- quota_shared_memory: how full each shared table is, beside its setting
-- (this database's rate limited members and pools are counted, at least:
-- a rate limited member has a member slot, which links its rate window).
-- Three settings size five tables: rate windows are a fifth of
-- quota.max_members, refusal counts a twentieth of quota.max_users.
SELECT setting, holds, used > 0 AS in_use,
       size = CASE holds
                WHEN 'rate windows' THEN greatest(current_setting(setting)::bigint / 5, 100)
                WHEN 'refusal counts' THEN greatest(current_setting(setting)::bigint / 20, 100)
                ELSE current_setting(setting)::bigint END AS sized
  FROM quota.quota_shared_memory() ORDER BY setting COLLATE "C", holds COLLATE "C";
SELECT used >= 5 AS counted_members_and_pools FROM quota.quota_shared_memory()
 WHERE holds = 'rate windows';
-- a pool administrator may not look (quota_admin only)
SET ROLE regress_rl_admin;
SELECT try($$SELECT * FROM quota.quota_shared_memory()$$);
RESET ROLE;
