-- overdrawn: one pool far below zero (or otherwise in trouble) breaks no one:
-- views, checks and hints answer, and quota_run_due() resets every other
-- due pool (issue 14, item 2).
\set VERBOSITY default

CREATE ROLE regress_olga NOLOGIN IN ROLE quota_user;
SELECT quota_set_user('regress_olga');
SELECT quota_set_model('deep-m', 0.000000001, 0, 'api');
SELECT quota_set_model('due-m', 1000000, 1000000, 'api');     -- 1 credit a token
SELECT quota_set_model('huge-free', 0, 0, 'api');
SELECT quota_create_pool('Deep Pool', 1000000000, reset_cron => '0 1 * * 5');
SELECT quota_create_pool('Due Pool', 10, reset_cron => '0 1 * * 5');
SELECT quota_create_pool('Rich Pool', 5000000000, reset_cron => '0 1 * * 5',
                         reset_policy => 'add');
SELECT quota_create_pool('Spare Pool', 5, reset_policy => 'none');
SELECT quota_add_member(p, 'regress_olga')
  FROM unnest(ARRAY['Deep Pool', 'Due Pool', 'Rich Pool', 'Spare Pool']) p;
-- (only this test's models, so that hints do not list other tests' free models)
SELECT quota_set_pool_models(p, ARRAY['deep-m', 'due-m', 'huge-free'])
  FROM unnest(ARRAY['Deep Pool', 'Due Pool', 'Rich Pool', 'Spare Pool']) p;

-- Deep Pool is pushed far below zero by settlements within their maxima
-- (the price rose 9e18-fold after the reservations were made).
SET ROLE regress_olga;
SELECT r.request_id, r.held
  FROM generate_series(1, 3) i,
       LATERAL quota_reserve('deep-m', 1000000, 0, 'd-' || i, pool => 'Deep Pool') r;
RESET ROLE;
SELECT quota_set_model('deep-m', 9000000000, 0, 'api');
SET ROLE regress_olga;
SELECT final_cost, balance FROM quota_charge('deep-m', 1000000, 0, 'd-1', 'conv-deep');
SELECT final_cost, balance FROM quota_charge('deep-m', 111111, 0, 'd-2', 'conv-deep');
-- huge token counts of a free model
SELECT final_cost, balance
  FROM quota_charge('huge-free', 9223372036854775807, 9223372036854775807,
                    'd-free', 'conv-deep', 9223372036854775807, pool => 'Deep Pool');
SELECT final_cost, balance FROM quota_charge('due-m', 4, 0, 'due-1', pool => 'Due Pool');
RESET ROLE;

-- Every view answers: a figure or sum that does not fit quota.credits is
-- NULL (Deep Pool's usage this period is 9,999,999,000 credits).
SELECT pool, allowance, balance, held, available, used, used_pct
  FROM quota.pool_status
 WHERE pool IN ('Deep Pool', 'Due Pool', 'Rich Pool', 'Spare Pool')
 ORDER BY pool COLLATE "C";
SELECT pool, balance FROM quota.pools
 WHERE pool IN ('Deep Pool', 'Due Pool', 'Rich Pool', 'Spare Pool')
 ORDER BY pool COLLATE "C";
SELECT pool, model, requests, tokens, original_cost, final_cost
  FROM quota.usage_daily
 WHERE pool IN ('Deep Pool', 'Due Pool') ORDER BY pool COLLATE "C", model COLLATE "C";
SET ROLE regress_olga;
SELECT pool, role, balance, held, available FROM quota.my_pools ORDER BY pool COLLATE "C";
SELECT pool, available FROM quota.pool_status ORDER BY pool COLLATE "C";
SELECT conversation_id, requests, tokens, original_cost, final_cost
  FROM quota.conversation_costs ORDER BY conversation_id COLLATE "C";
SELECT allowed, pool, available, reason FROM quota_check('due-m', pool => 'Deep Pool');
SELECT allowed, pool, available, reason FROM quota_check('due-m', pool => 'Due Pool');
-- the QU001 hint lists the other pools that can pay, Deep Pool not among them
SELECT * FROM try_full($$SELECT quota_charge('due-m', 6, 0, 'spare-1', pool => 'Spare Pool')$$);
RESET ROLE;
SELECT * FROM invariant()
 WHERE pool IN ('Deep Pool', 'Due Pool', 'Rich Pool', 'Spare Pool');

-- Rich Pool cannot be reset (adding its allowance would pass the type's
-- maximum): quota_run_due() logs it and resets the other due pools.  (In
-- one transaction, so that the every-minute pg_cron job cannot run first.)
SELECT quota_topup('Rich Pool', 4000000000);
BEGIN;
UPDATE quota.pool_defs SET next_reset_at = now() - interval '2 hours'
 WHERE pool = 'Rich Pool';
UPDATE quota.pool_defs SET next_reset_at = now() - interval '1 hour'
 WHERE pool IN ('Deep Pool', 'Due Pool');
SELECT resets >= 2 AS reset_others FROM quota_run_due();
COMMIT;
SELECT pool, balance, used, next_reset_at > now() AS rescheduled
  FROM quota.pool_status
 WHERE pool IN ('Deep Pool', 'Due Pool', 'Rich Pool')
 ORDER BY pool COLLATE "C";
-- a restore of a pool far below zero takes two entries
SELECT kind, amount FROM quota.ledger
 WHERE pool = 'Deep Pool' AND kind = 'reset' ORDER BY entry_id;
-- Rich Pool stays due and is retried (and logged) by the next run
SELECT resets >= 0 AS ran FROM quota_run_due();
SELECT * FROM invariant()
 WHERE pool IN ('Deep Pool', 'Due Pool', 'Rich Pool', 'Spare Pool');
-- (stop retrying Rich Pool, so that the pg_cron job leaves the log alone)
UPDATE quota.pool_defs SET next_reset_at = NULL WHERE pool = 'Rich Pool';
