-- The university demo: the set-up of the service's manual, then a student
-- and a member of staff using it.
\set ON_ERROR_STOP 1
\pset null '(null)'
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION quota;
RESET client_min_messages;
SET search_path = public, quota;

\echo '--- the maintenance job pg_cron runs every minute'
SELECT jobname, schedule, command FROM cron.job;

\echo '--- models and prices (credits per 1M tokens); the on-premise model is free'
SELECT quota_set_model('gpt-4.1', 2, 8, cached_input_price => 0.5) \g /dev/null
SELECT quota_set_model('gpt-4.1-mini', 0.4, 1.6, cached_input_price => 0.1) \g /dev/null
SELECT quota_set_model('claude-sonnet-4', 3, 15) \g /dev/null
SELECT quota_set_model('text-embedding-3', 0.02, 0, 'embedding') \g /dev/null
SELECT quota_set_model('qwen3-moe-onprem', 0, 0) \g /dev/null
\echo '--- chat is discounted to 80%'
SELECT quota_set_discount('chat', 0.8);
SELECT model, service, input_price, cached_input_price, output_price FROM quota.models ORDER BY model;

\echo '--- staff get a personal account restored every Friday 01:00 Hong Kong time'
SELECT quota_personal_policy('staff', 20, '0 1 * * 5', 'Asia/Hong_Kong') \g /dev/null
SELECT quota_set_user('s1234567', '{student}') \g /dev/null
SELECT quota_set_user('s7654321', '{student}') \g /dev/null
SELECT quota_set_user('chan.tm', '{staff,dept:physics}') \g /dev/null
SELECT quota_set_user('wong.kl', '{staff,dept:physics}') \g /dev/null

\echo '--- the Students Pool, and a department pool with its own monthly schedule'
SELECT quota_create_pool('Students Pool', 5, reset_cron => '0 1 * * 5',
                         reset_timezone => 'Asia/Hong_Kong') \g /dev/null
SELECT quota_grant_group('Students Pool', 'student') \g /dev/null
SELECT quota_set_pool_models('Students Pool', '{gpt-4.1-mini,qwen3-moe-onprem}') \g /dev/null
SELECT quota_create_pool('Physics Research', 200, reset_cron => '0 0 1 * *',
                         reset_timezone => 'Asia/Hong_Kong', reset_policy => 'add',
                         member_limit => 50) \g /dev/null
SELECT quota_grant_group('Physics Research', 'dept:physics') \g /dev/null
SELECT quota_add_member('Physics Research', 'chan.tm', 'admin') \g /dev/null
SELECT pool, kind, allowance, balance, reset_cron, reset_timezone,
       to_char(next_reset_at, 'Dy YYYY-MM-DD HH24:MI TZ') AS next_reset
  FROM quota.pools ORDER BY kind DESC, pool;

\echo '--- a student chats: the active pool is the Students Pool'
SELECT quota_active_pool('s1234567');
SELECT * FROM quota_check('gpt-4.1-mini', 's1234567');
SELECT pool, original_cost, discount_rate, final_cost, balance
  FROM quota_charge('gpt-4.1-mini', 12000, 3000, 'req-0001', 'conv-a', user_id => 's1234567');
\echo '--- the gateway retries the same request: billed once'
SELECT charge_id, final_cost
  FROM quota_charge('gpt-4.1-mini', 12000, 3000, 'req-0001', 'conv-a', user_id => 's1234567');
\echo '--- a streaming call: reserve the worst case, settle the actual usage'
SELECT request_id, pool, held FROM quota_reserve('gpt-4.1-mini', 20000, 4000, 'req-0002', user_id => 's1234567');
SELECT pool, final_cost, balance
  FROM quota_charge('gpt-4.1-mini', 15000, 2500, 'req-0002', 'conv-a', user_id => 's1234567');
\echo '--- a model the Students Pool does not pay for'
DO $$ BEGIN
    PERFORM quota.quota_charge('claude-sonnet-4', 1000, 1000, 'req-0003', user_id => 's1234567');
EXCEPTION WHEN SQLSTATE 'QU002' THEN RAISE NOTICE 'QU002: %', SQLERRM;
END $$;
\echo '--- the student burns through the pool (a listener hears the 80% and 95% warnings);'
\echo '--- the next request is refused with help'
LISTEN quota_alert;
SELECT final_cost, balance FROM quota_charge('gpt-4.1-mini', 500000, 3000000, 'req-0004', user_id => 's1234567');
SELECT final_cost, balance FROM quota_charge('gpt-4.1-mini', 100000, 600000, 'req-0004b', user_id => 's1234567');
DO $$
DECLARE msg text; hint text;
BEGIN
    PERFORM quota.quota_charge('gpt-4.1-mini', 0, 1000000, 'req-0005', user_id => 's1234567');
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE E'QU001: %\nHINT: %', msg, hint;
END $$;
SELECT pool, threshold, used, allowance, user_id FROM quota.alerts ORDER BY alert_id;
UNLISTEN quota_alert;
\echo '--- the free on-premise model still works with an empty pool'
SELECT pool, final_cost, balance
  FROM quota_charge('qwen3-moe-onprem', 30000, 8000, 'req-0006', 'conv-a', user_id => 's1234567');
\echo '--- the Students Pool gets a rate limit of 3 requests a minute per student;'
\echo '--- another student sends four quick requests: the fourth is told to wait'
SELECT quota_set_rate_limit('Students Pool', 3) \g /dev/null
SELECT pool, scope, requests_per_minute, tokens_per_minute FROM quota.rate_limits;
SELECT 'req-200' || i AS request_id, c.pool, c.final_cost
  FROM generate_series(1, 3) i,
       LATERAL quota_charge('qwen3-moe-onprem', 2000, 500, 'req-200' || i, user_id => 's7654321') c;
SELECT allowed, reason, retry_after > '0' AS must_wait
  FROM quota_check('qwen3-moe-onprem', 's7654321');
DO $$
DECLARE msg text; detail text; hint text;
BEGIN
    PERFORM quota.quota_charge('qwen3-moe-onprem', 2000, 500, 'req-2004', user_id => 's7654321');
EXCEPTION WHEN SQLSTATE 'QU006' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    -- the seconds (60 or 61 here) vary with the clock: shown as N
    RAISE NOTICE E'QU006: %\nDETAIL: %\nHINT: %', msg, detail,
        regexp_replace(hint, '[0-9]+ seconds', 'N seconds');
END $$;
\echo '--- the gateway retries an admitted request: not refused, not counted'
SELECT charge_id IS NOT NULL AS first_charge_returned
  FROM quota_charge('qwen3-moe-onprem', 2000, 500, 'req-2001', user_id => 's7654321');
\echo '--- the department adds the student to its research pool, with a member limit of 1 credit'
SELECT quota_add_member('Physics Research', 's1234567', member_limit => 1) \g /dev/null
\echo '--- the student switches to it; the next request goes there'
SELECT * FROM quota_switch('Physics Research', 's1234567');
SELECT pool, final_cost FROM quota_charge('gpt-4.1-mini', 100000, 100000, 'req-0007', user_id => 's1234567');

\echo '--- staff use their personal account first'
SELECT quota_active_pool('chan.tm');
SELECT pool, original_cost, final_cost, balance
  FROM quota_charge('gpt-4.1', 40000, 6000, 'req-1001', 'conv-b', user_id => 'chan.tm');
SELECT pool, final_cost FROM quota_charge('text-embedding-3', 800000, 0, 'req-1002', user_id => 'chan.tm');

\echo '--- monitoring'
SELECT pool, allowance, balance, held, available, used, used_pct FROM quota.pool_status ORDER BY pool;
SELECT conversation_id, user_id, requests, tokens, original_cost, final_cost FROM quota.conversation_costs ORDER BY 1, 2;
SELECT pool, model, requests, tokens, original_cost, final_cost FROM quota.usage_daily ORDER BY pool, model;
\echo '--- what the student sees as themself (row-level security)'
SET quota.user_id = 's1234567';
CREATE ROLE "s1234567" IN ROLE quota_user;
SET ROLE "s1234567";
SELECT pool, role, active, available FROM quota.my_pools ORDER BY pool;
SELECT request_id, pool, model, original_cost, final_cost FROM quota.charges ORDER BY charge_id;
\echo '--- the price list: the crossed-out price and what is charged now'
SELECT model, pool, input_price, output_price, discount_rate,
       discounted_input_price, discounted_output_price
  FROM quota.price_list ORDER BY pool, model;
\echo '--- the requests refused (counted although each refused call rolled back)'
SELECT pool, user_id, sqlstate, refused FROM quota.refusals ORDER BY pool, sqlstate;
RESET ROLE;
RESET quota.user_id;
\echo '--- the week ends: the reset restores the Students Pool'
SELECT quota_reset('Students Pool');
SELECT pool, balance FROM quota.pools WHERE pool = 'Students Pool';
SELECT * FROM quota_run_due();
\echo '--- the maintenance run also sealed the ledger: balances and usage never re-read history'
SELECT sealed_upto = (SELECT max(entry_id) FROM quota.ledger) AS all_sealed FROM quota.ledger_seal;
SELECT pool, balance, entries FROM quota.pool_seals ORDER BY pool;
SELECT count(*) FILTER (WHERE NOT ok) AS mismatches FROM quota_verify();
\echo '--- the Students Pool gets a daily cap: each student at most 2 credits a day'
SELECT quota_set_cap('Students Pool', 'day', 2) \g /dev/null
SELECT pool, models, member_limit, member_day_cap, reset_timezone
  FROM quota.pool_limits ORDER BY pool;
\echo '--- a new student spends 1.6 today; the next request would pass 2 and is refused, with why'
SELECT quota_set_user('s1357913', '{student}') \g /dev/null
SELECT final_cost FROM quota_charge('gpt-4.1-mini', 0, 1250000, 'req-3001', user_id => 's1357913');
DO $$
DECLARE msg text; detail text; hint text;
BEGIN
    PERFORM quota.quota_charge('gpt-4.1-mini', 0, 500000, 'req-3002', user_id => 's1357913');
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE E'QU001: %\nDETAIL: %\nHINT: %', msg, detail, hint;
END $$;
SELECT allowed, reason FROM quota_check('gpt-4.1-mini', 's1357913');
\echo '--- the account centre: what each student used today against the cap'
SELECT pool, user_id, used, day_used, day_cap, remaining
  FROM quota.member_usage WHERE pool = 'Students Pool' ORDER BY user_id;
\echo '--- every balance is the sum of its ledger'
SELECT d.pool, (quota._pool_money(d.pool)).balance
        = (SELECT quota.sum(amount) FROM quota.ledger l WHERE l.pool = d.pool) AS exact
  FROM quota.pool_defs d ORDER BY 1;
