-- The university demo, told as a story: each step's SQL (echoed by psql),
-- its result, then one line of why.  Run by make demo (test/scripts/demo.sh)
-- on a throwaway cluster with pg_cron; the gateway acts for users with the
-- user_id argument, as it should behind a pooler.
\set ON_ERROR_STOP 1
\set QUIET on
\pset null '(null)'
\pset footer off
\set ECHO queries

CREATE EXTENSION pg_cron;
CREATE EXTENSION quota;
SET search_path = public, quota;
SELECT jobname, schedule, command FROM cron.job;
\echo '>> quota scheduled its maintenance job with pg_cron: due resets, expired holds and seals, every minute.'

\echo
\echo '== 1. The service: models, prices, a chat discount'
SELECT quota_set_model('gpt-4.1', 2, 8, cached_input_price => 0.5) \g /dev/null
SELECT quota_set_model('gpt-4.1-mini', 0.4, 1.6, cached_input_price => 0.1) \g /dev/null
SELECT quota_set_model('claude-sonnet-4', 3, 15) \g /dev/null
SELECT quota_set_model('text-embedding-3', 0.02, 0, 'embedding') \g /dev/null
SELECT quota_set_model('qwen3-moe-onprem', 0, 0) \g /dev/null
SELECT quota_set_discount('chat', 0.8) AS discount_id;
SELECT model, service, input_price, cached_input_price, output_price FROM quota.models ORDER BY model;
\echo '>> Prices are credits per million tokens; the on-premise model costs nothing, and chat is billed at 80 %.'

\echo
\echo '== 2. Users and pools, as in the service manual'
SELECT quota_personal_policy('staff', 20, '0 1 * * 5', 'Asia/Hong_Kong') \g /dev/null
SELECT quota_set_user('s1234567', '{student}') \g /dev/null
SELECT quota_set_user('s7654321', '{student}') \g /dev/null
SELECT quota_set_user('chan.tm', '{staff,dept:physics}') \g /dev/null
SELECT quota_set_user('wong.kl', '{staff,dept:physics}') \g /dev/null
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
       to_char(next_reset_at AT TIME ZONE reset_timezone, 'Dy YYYY-MM-DD HH24:MI') AS next_reset_local
  FROM quota.pools ORDER BY kind DESC, pool;
\echo '>> Staff got personal accounts from their group''s policy; every weekly pool restores on Friday 01:00 Hong Kong time.'

\echo
\echo '== 3. A student chats: the gateway reserves the worst case, calls the model, settles what it served'
SELECT request_id, pool, held
  FROM quota_reserve('gpt-4.1-mini', 12000, 4000, 'req-0001', user_id => 's1234567');
SELECT pool, original_cost, discount_rate, final_cost, balance
  FROM quota_charge('gpt-4.1-mini', 12000, 3000, 'req-0001', 'conv-a', user_id => 's1234567');
\echo '>> The hold covered 4,000 output tokens; the model wrote 3,000, so 0.00768 was billed and the hold freed.'
SELECT charge_id, final_cost
  FROM quota_charge('gpt-4.1-mini', 12000, 3000, 'req-0001', 'conv-a', user_id => 's1234567');
\echo '>> The gateway lost the reply and sent the settlement again: the same request_id returns the first charge, billed once.'
SELECT request_id, held FROM quota_reserve('gpt-4.1-mini', 20000, 4000, 'req-0002', user_id => 's1234567');
SELECT pool, final_cost, balance
  FROM quota_charge('gpt-4.1-mini', 15000, 900, 'req-0002', 'conv-a', user_id => 's1234567');
\echo '>> The student closed the stream after 900 tokens: the gateway bills those 900, never releases a request that produced tokens.'
DO $$ BEGIN
    PERFORM quota.quota_reserve('claude-sonnet-4', 1000, 1000, 'req-0003', user_id => 's1234567');
EXCEPTION WHEN SQLSTATE 'QU002' THEN RAISE NOTICE 'QU002: %', SQLERRM;
END $$;
\echo '>> The Students Pool pays only for the models on its list: refused before the model runs.'

\echo
\echo '== 4. The pool runs dry; a listener hears the warnings'
LISTEN quota_alert;
SELECT final_cost, balance FROM quota_charge('gpt-4.1-mini', 500000, 3000000, 'req-0004', user_id => 's1234567');
SELECT final_cost, balance FROM quota_charge('gpt-4.1-mini', 100000, 600000, 'req-0005', user_id => 's1234567');
\echo '>> Two big requests used past 80 % and 95 % of the allowance: each threshold notified once (the NOTIFY lines).'
DO $$
DECLARE msg text; detail text; hint text;
BEGIN
    PERFORM quota.quota_reserve('gpt-4.1-mini', 50000, 1000000, 'req-0006', user_id => 's1234567');
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE E'QU001: %\nDETAIL: %\nHINT: %', msg, detail, hint;
END $$;
\echo '>> The next reservation does not fit: nothing ran, nothing billed, and the hint says what the manual tells users.'
SELECT pool, threshold, used, allowance, user_id FROM quota.alerts ORDER BY alert_id;
UNLISTEN quota_alert;
SELECT pool, final_cost, balance
  FROM quota_charge('qwen3-moe-onprem', 30000, 8000, 'req-0007', 'conv-a', user_id => 's1234567');
\echo '>> The free on-premise model still works with an empty pool, and is recorded at cost 0.'

\echo
\echo '== 5. A rate limit: 3 requests a minute per student'
SELECT quota_set_rate_limit('Students Pool', 3) \g /dev/null
SELECT c.pool, c.final_cost
  FROM generate_series(1, 3) i,
       LATERAL quota_charge('qwen3-moe-onprem', 2000, 500, 'req-200' || i, user_id => 's7654321') c;
SELECT allowed, reason, retry_after IS NOT NULL AS must_wait
  FROM quota_check('qwen3-moe-onprem', 's7654321');
DO $$
DECLARE msg text; hint text;
BEGIN
    PERFORM quota.quota_charge('qwen3-moe-onprem', 2000, 500, 'req-2004', user_id => 's7654321');
EXCEPTION WHEN SQLSTATE 'QU006' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE E'QU006: %\nHINT: %', msg, hint;
END $$;
\echo '>> The fourth request within a minute is refused with the seconds to wait (rate limits apply to free models too).'
SELECT charge_id IS NOT NULL AS first_charge_returned
  FROM quota_charge('qwen3-moe-onprem', 2000, 500, 'req-2001', user_id => 's7654321');
\echo '>> A retry of an admitted request is the same request: not refused, not counted again.'

\echo
\echo '== 6. Switching pools'
SELECT quota_add_member('Physics Research', 's1234567', member_limit => 1) \g /dev/null
SELECT * FROM quota_switch('Physics Research', 's1234567');
SELECT pool, final_cost FROM quota_charge('gpt-4.1-mini', 100000, 100000, 'req-0008', user_id => 's1234567');
\echo '>> The department took the student into its pool (at most 1 credit a period); after the switch new requests go there.'
SELECT quota_active_pool('chan.tm');
SELECT pool, original_cost, final_cost, balance
  FROM quota_charge('gpt-4.1', 40000, 6000, 'req-1001', 'conv-b', user_id => 'chan.tm');
SELECT pool, final_cost FROM quota_charge('text-embedding-3', 800000, 0, 'req-1002', user_id => 'chan.tm');
\echo '>> Staff pay from their personal account first; embeddings are not chat, so they get no discount.'

\echo
\echo '== 7. Monitoring'
SELECT pool, allowance, balance, held, available, used, used_pct FROM quota.pool_status ORDER BY pool;
SELECT conversation_id, user_id, requests, tokens, original_cost, final_cost
  FROM quota.conversation_costs ORDER BY 1, 2;
SELECT pool, user_id, sqlstate, refused FROM quota.refusals ORDER BY pool, sqlstate;
\echo '>> Balances, usage per conversation, and the refused requests (counted although each refused call rolled back).'
CREATE ROLE "s1234567" IN ROLE quota_user;
SET ROLE "s1234567";
SELECT pool, role, active, available FROM quota.my_pools ORDER BY pool;
SELECT request_id, pool, model, original_cost, final_cost FROM quota.charges ORDER BY charge_id;
SELECT model, pool, input_price, discount_rate, discounted_input_price
  FROM quota.price_list ORDER BY pool, model;
RESET ROLE;
\echo '>> Connected as themself, the student sees only their own pools and charges (row-level security).'

\echo
\echo '== 8. The week ends'
SELECT quota_reset('Students Pool');
SELECT pool, balance FROM quota.pools WHERE pool = 'Students Pool';
SELECT * FROM quota_run_due();
\echo '>> The reset restored the weekly allowance; the maintenance run also sealed the ledger.'
\echo
\echo '== 9. A daily cap: each student at most 2 credits a day'
SELECT quota_set_cap('Students Pool', 'day', 2) \g /dev/null
SELECT quota_set_user('s1357913', '{student}') \g /dev/null
SELECT final_cost FROM quota_charge('gpt-4.1-mini', 0, 1250000, 'req-3001', user_id => 's1357913');
DO $$
DECLARE msg text; detail text; hint text;
BEGIN
    PERFORM quota.quota_reserve('gpt-4.1-mini', 0, 500000, 'req-3002', user_id => 's1357913');
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE E'QU001: %\nDETAIL: %\nHINT: %', msg, detail, hint;
END $$;
\echo '>> A new student spent 1.6 today; a request that could cost 0.64 more would pass the cap and is refused.'
SELECT allowed, reason FROM quota_check('gpt-4.1-mini', 's1357913');
\echo '>> quota_check still says a new request could start: 0.4 of the cap is left, and it does not know the request''s size.'
\echo '>> That is why the gateway reserves each request''s maxima: the reservation, not the check, is the gate.'
SELECT pool, user_id, day_used, day_cap, remaining
  FROM quota.member_usage WHERE pool = 'Students Pool' ORDER BY user_id;

\echo
\echo '== 10. The books balance'
SELECT pool, ledger_sum, sealed_sum, ok FROM quota_verify() ORDER BY pool;
\echo '>> Every balance equals the sum of its ledger, and the seals agree.'
