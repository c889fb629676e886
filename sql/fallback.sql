-- fallback: a pool that pays when the active one cannot (issue 29):
-- quota_set_fallback and its errors, quota.my_pools.fallback_order, which
-- refusals fall back (QU001 only) and which never do, quota_check and
-- reservations on the pool that would pay.
\set VERBOSITY default

CREATE ROLE regress_fb_student NOLOGIN IN ROLE quota_user;
CREATE ROLE regress_fb_peer NOLOGIN IN ROLE quota_user;
SELECT quota_set_user(u, '{}')
  FROM unnest(ARRAY['regress_fb_student', 'regress_fb_peer']) u;
SELECT quota_set_model('fb-m', 0, 1, 'fbtest');
SELECT quota_set_model('fb-rare', 0, 1, 'fbtest');
SELECT quota_create_pool('FB Course', 1, reset_policy => 'none');
SELECT quota_create_pool('FB Students', 10, reset_policy => 'none');
SELECT quota_create_pool('FB Broke', 0, reset_policy => 'none');
SELECT quota_create_pool('FB Locked', 10, reset_policy => 'none');  -- the student is not a member
SELECT quota_create_pool('FB Narrow', 10, reset_policy => 'none');
SELECT quota_set_pool_models('FB Narrow', ARRAY['fb-rare']);
SELECT quota_add_member(p, 'regress_fb_student')
  FROM unnest(ARRAY['FB Course', 'FB Students', 'FB Broke', 'FB Narrow']) p;
SELECT quota_set_pool_models('FB Course', ARRAY['fb-m']);
SELECT pool FROM quota_switch('FB Course', 'regress_fb_student');

-- The student sets their own list; unusable pools are passed over.
SET ROLE regress_fb_student;
SELECT quota_set_fallback(ARRAY['FB Locked', 'FB Narrow', 'FB Students', 'FB Students']);
SELECT pool, active, fallback_order FROM quota.my_pools ORDER BY pool COLLATE "C";
RESET ROLE;
SELECT fallback_pools FROM quota.users WHERE user_id = 'regress_fb_student';

-- Course has 1 credit: a charge of 2 falls back; the result names the pool billed.
SELECT pool, final_cost, balance FROM quota_charge('fb-m', 0, 2000000, 'fb-1',
                                                   user_id => 'regress_fb_student');
SELECT pool, amount FROM quota.ledger WHERE request_id = 'fb-1';
-- a retry returns that charge
SELECT pool, final_cost FROM quota_charge('fb-m', 0, 2000000, 'fb-1', user_id => 'regress_fb_student');
-- a charge Course can pay stays on Course
SELECT pool, final_cost, balance FROM quota_charge('fb-m', 0, 1000000, 'fb-2',
                                                   user_id => 'regress_fb_student');
-- Course is empty: quota_check answers for the pool that would be billed
SELECT allowed, pool, available, reason FROM quota_check('fb-m', 'regress_fb_student');
SELECT allowed, pool, available, reason FROM quota_check('fb-m', 'regress_fb_student', 'FB Course');

-- An explicit pool never falls back.
SELECT * FROM try_full($$SELECT quota_charge('fb-m', 0, 1000000, 'fb-3', user_id => 'regress_fb_student', pool => 'FB Course')$$);

-- A reservation holds on the pool that accepted it and settles there.
SELECT request_id, pool, held FROM quota_reserve('fb-m', 0, 3000000, 'fb-r1',
                                                 user_id => 'regress_fb_student');
SELECT pool, final_cost FROM quota_charge('fb-m', 0, 2500000, 'fb-r1', user_id => 'regress_fb_student');
SELECT pool, outcome FROM quota.reservations WHERE request_id = 'fb-r1';

-- QU002 (the model) is not fallen back from, though Students permits it.
SELECT * FROM try_full($$SELECT quota_charge('fb-rare', 0, 1000, 'fb-4', user_id => 'regress_fb_student')$$);
-- QU004 (the pool disabled) neither.
SELECT quota_set_pool_enabled('FB Course', false);
SELECT * FROM try_full($$SELECT quota_charge('fb-m', 0, 1000, 'fb-5', user_id => 'regress_fb_student')$$);
SELECT quota_set_pool_enabled('FB Course', true);
-- QU006 (a rate limit) neither: Course can pay, but not now.
SELECT quota_topup('FB Course', 5);
SELECT quota_set_rate_limit('FB Course', 1);
SELECT pool FROM quota_charge('fb-m', 0, 0, 'fb-6', user_id => 'regress_fb_student');
SELECT try($$SELECT quota_charge('fb-m', 0, 1000000, 'fb-7', user_id => 'regress_fb_student')$$);
SELECT quota_set_rate_limit('FB Course', NULL);

-- A member limit on the active pool is a QU001: it falls back.
SELECT quota_add_member('FB Course', 'regress_fb_student', member_limit => 0.5);
SELECT pool, final_cost FROM quota_charge('fb-m', 0, 1000000, 'fb-8', user_id => 'regress_fb_student');
SELECT quota_add_member('FB Course', 'regress_fb_student');

-- When no pool of the list can pay: QU001 of the active pool, the pools tried named.
SELECT quota_set_fallback(ARRAY['FB Broke', 'FB Locked'], 'regress_fb_student');
SELECT * FROM try_full($$SELECT quota_charge('fb-m', 0, 9000000, 'fb-9', user_id => 'regress_fb_student')$$);
SELECT * FROM try_full($$SELECT quota_reserve('fb-m', 0, 9000000, 'fb-r2', user_id => 'regress_fb_student')$$);
SELECT count(*) AS nothing_written FROM quota.ledger WHERE request_id IN ('fb-9', 'fb-r2');
SELECT count(*) AS no_hold FROM quota.reservations WHERE request_id = 'fb-r2';

-- Removing the list: NULL or an empty one.
SELECT quota_set_fallback(NULL, 'regress_fb_student');
SELECT fallback_pools IS NULL AS removed FROM quota.users WHERE user_id = 'regress_fb_student';
SELECT quota_set_fallback(ARRAY['FB Students'], 'regress_fb_student');
SELECT quota_set_fallback('{}', 'regress_fb_student');
SELECT fallback_pools IS NULL AS removed FROM quota.users WHERE user_id = 'regress_fb_student';
SELECT * FROM try_full($$SELECT quota_charge('fb-m', 0, 9000000, 'fb-10', user_id => 'regress_fb_student')$$);

-- Errors, each changing nothing.
SELECT quota_set_fallback(ARRAY['FB Students'], 'regress_fb_student');
SELECT * FROM try_full($$SELECT quota_set_fallback(ARRAY['FB Students', NULL], 'regress_fb_student')$$);
SELECT * FROM try_full($$SELECT quota_set_fallback(ARRAY['No Such Pool'], 'regress_fb_student')$$);
SELECT * FROM try_full($$SELECT quota_set_fallback(ARRAY['FB Students'], 'regress_nobody')$$);
SET ROLE regress_fb_peer;
SELECT * FROM try_full($$SELECT quota_set_fallback(ARRAY['FB Broke'], 'regress_fb_student')$$);
SET ROLE regress_mallory;
SELECT try($$SELECT quota.quota_set_fallback(ARRAY['FB Broke'])$$);
SET ROLE regress_app;
SELECT quota_set_fallback(ARRAY['FB Students', 'FB Course'], 'regress_fb_peer');
RESET ROLE;
SELECT user_id, fallback_pools FROM quota.users
 WHERE user_id IN ('regress_fb_student', 'regress_fb_peer') ORDER BY user_id;

SELECT * FROM invariant() WHERE pool LIKE 'FB%';
