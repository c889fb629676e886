-- caps: spending caps per day, week and month (quota_set_cap): the calendar
-- windows and their DST rules, argument errors, enforcement by quota_check,
-- quota_reserve and unreserved quota_charge (holds counted, settlements and
-- repeats never refused), member and pool scope, and the views
-- quota.pool_limits and quota.member_usage with their row rules.
\set VERBOSITY default
SET timezone = 'UTC';

-- cap_try(sql): like try_full, with the window's end masked.
CREATE FUNCTION public.cap_try(sql text)
    RETURNS TABLE(state text, message text, detail text, hint text)
    LANGUAGE sql AS $$
    SELECT t.state, t.message, t.detail,
           regexp_replace(t.hint, '\d{4}-\d\d-\d\d \d\d:\d\d', '<local time>', 'g')
      FROM public.try_full(sql) t
$$;

-- Windows: a day from local midnight, a week from Monday, a month from the 1st.
SELECT per, w.*
  FROM unnest(ARRAY['day', 'week', 'month']) per,
       quota._cap_window(per, 'Asia/Hong_Kong', '2026-12-02 20:00+00') w;
-- DST gap at midnight (Santiago, 2024-09-08 00:00 -> 01:00): the day starts
-- at the first instant after the gap and lasts 23 hours.
SELECT w.*, w.window_end - w.window_start AS length
  FROM quota._cap_window('day', 'America/Santiago', '2024-09-08 12:00-03') w;
-- A repeated midnight (Havana, 2025-11-02 01:00 CDT -> 00:00 CST): the day
-- starts at its first occurrence and lasts 25 hours.
SELECT w.*, w.window_end - w.window_start AS length
  FROM quota._cap_window('day', 'America/Havana', '2025-11-02 12:00-05') w;
-- A window's bounds: its start is in it, its end is the next window's start.
SELECT (quota._cap_window('day', 'UTC', '2026-12-02 00:00+00')).window_start AS start_in,
       (quota._cap_window('day', 'UTC', '2026-12-01 23:59:59.999999+00')).window_end AS end_before;
SELECT try($$SELECT quota._cap_window('year', 'UTC', now())$$);
SELECT try($$SELECT quota._cap_window('day', 'Mars/Olympus', now())$$);

-- Set up: a model at 1 credit per 100,000 output tokens, a pool, members.
SELECT quota_set_model('cap-model', 0, 10);
SELECT quota_create_pool('Cap Pool', 100, reset_timezone => 'Europe/Paris');
SELECT quota_set_user(u, '{}')
  FROM unnest(ARRAY['cap_u1', 'cap_u2', 'cap_u3']) u;
SELECT quota_add_member('Cap Pool', u)
  FROM unnest(ARRAY['cap_u1', 'cap_u2', 'cap_u3', 'regress_alice']) u;
SELECT quota_add_member('Cap Pool', 'regress_carol', 'admin');

-- Argument errors change nothing.
SELECT try($$SELECT quota_set_cap('Cap Pool', 'year', 1)$$);
SELECT try($$SELECT quota_set_cap('Cap Pool', 'day', 1, 'group')$$);
SELECT try($$SELECT quota_set_cap('Cap Pool', 'day', -1)$$);
SELECT try($$SELECT quota_set_cap('Cap Pool', 'day', 10000000000)$$);
SELECT try($$SELECT quota_set_cap('No Such Pool', 'day', 1)$$);
SELECT try($$SELECT quota_set_cap(NULL, 'day', 1)$$);
SELECT try($$SELECT quota_set_cap('Cap Pool', NULL, 1)$$);
SELECT try($$SELECT quota_set_cap('Cap Pool', 'day', 1, NULL)$$);
SELECT count(*) AS caps_after_errors FROM quota.pool_caps;
-- Only quota_admin and the pool's administrators set caps (42501).
SET ROLE regress_dave;
SELECT try($$SELECT quota_set_cap('Cap Pool', 'day', 1)$$);
RESET ROLE;
SET ROLE regress_mallory;
SELECT try($$SELECT quota_set_cap('Cap Pool', 'day', 1)$$);
RESET ROLE;
SET ROLE regress_carol;
SELECT quota_set_cap('Cap Pool', 'day', 2);
RESET ROLE;
SELECT pool, per, scope, amount FROM quota.pool_caps ORDER BY 1, 2, 3;

-- Member scope: each member at most 2 credits a day.
SELECT final_cost FROM quota_charge('cap-model', 0, 100000, 'cap-1', user_id => 'cap_u1', pool => 'Cap Pool');
SELECT final_cost FROM quota_charge('cap-model', 0, 100000, 'cap-2', user_id => 'cap_u1', pool => 'Cap Pool');
SELECT * FROM cap_try($$SELECT quota_charge('cap-model', 0, 50000, 'cap-3', user_id => 'cap_u1', pool => 'Cap Pool')$$);
SELECT count(*) AS refused_charge_recorded FROM quota.ledger WHERE request_id = 'cap-3';
-- a repeat of a charged request returns its first result, never refused
SELECT final_cost FROM quota_charge('cap-model', 0, 100000, 'cap-2', user_id => 'cap_u1', pool => 'Cap Pool');
-- quota_check names the cap; another member is not affected
SELECT allowed, pool, reason FROM quota_check('cap-model', 'cap_u1', 'Cap Pool');
SELECT allowed, pool, reason FROM quota_check('cap-model', 'cap_u2', 'Cap Pool');
-- free models are not capped
SELECT quota_set_model('cap-free', 0, 0);
SELECT final_cost FROM quota_charge('cap-free', 0, 100000, 'cap-4', user_id => 'cap_u1', pool => 'Cap Pool');
SELECT allowed, reason FROM quota_check('cap-free', 'cap_u1', 'Cap Pool');

-- Holds count: cap_u2 reserves 1.5, then 1 more does not fit.
SELECT pool, held FROM quota_reserve('cap-model', 0, 150000, 'cap-r1', 'cap_u2', 'Cap Pool');
SELECT * FROM cap_try($$SELECT quota_charge('cap-model', 0, 100000, 'cap-5', user_id => 'cap_u2', pool => 'Cap Pool')$$);
SELECT * FROM cap_try($$SELECT quota_reserve('cap-model', 0, 100000, 'cap-r2', 'cap_u2', 'Cap Pool')$$);
-- a repeat of the reservation returns it, never refused
SELECT pool, held FROM quota_reserve('cap-model', 0, 150000, 'cap-r1', 'cap_u2', 'Cap Pool');
-- the settlement is never refused by the cap, even when the cap is lowered below it
SELECT quota_set_cap('Cap Pool', 'day', 1);
SELECT final_cost FROM quota_charge('cap-model', 0, 150000, 'cap-r1', user_id => 'cap_u2', pool => 'Cap Pool');
SELECT quota_set_cap('Cap Pool', 'day', 2);
-- a released hold no longer counts
SELECT pool, held FROM quota_reserve('cap-model', 0, 50000, 'cap-r3', 'cap_u2', 'Cap Pool');
SELECT * FROM cap_try($$SELECT quota_charge('cap-model', 0, 10000, 'cap-6', user_id => 'cap_u2', pool => 'Cap Pool')$$);
SELECT quota_release('cap-r3');
SELECT final_cost FROM quota_charge('cap-model', 0, 50000, 'cap-6', user_id => 'cap_u2', pool => 'Cap Pool');

-- Week and month caps per member: the tightest refuses.
SELECT quota_set_cap('Cap Pool', 'day', 10);
SELECT quota_set_cap('Cap Pool', 'week', 3);
SELECT quota_set_cap('Cap Pool', 'month', 2.5);
SELECT final_cost FROM quota_charge('cap-model', 0, 200000, 'cap-7', user_id => 'cap_u3', pool => 'Cap Pool');
SELECT * FROM cap_try($$SELECT quota_charge('cap-model', 0, 60000, 'cap-8', user_id => 'cap_u3', pool => 'Cap Pool')$$);
SELECT allowed, reason FROM quota_check('cap-model', 'cap_u3', 'Cap Pool');
SELECT quota_set_cap('Cap Pool', 'month', NULL);
SELECT final_cost FROM quota_charge('cap-model', 0, 60000, 'cap-8', user_id => 'cap_u3', pool => 'Cap Pool');

-- Pool scope: all members together at most 7 credits a week (6.6 spent).
SELECT quota_set_cap('Cap Pool', 'week', 7, 'pool');
SELECT * FROM cap_try($$SELECT quota_charge('cap-model', 0, 100000, 'cap-9', user_id => 'regress_alice', pool => 'Cap Pool')$$);
SELECT * FROM cap_try($$SELECT quota_reserve('cap-model', 0, 100000, 'cap-r4', 'regress_alice', 'Cap Pool')$$);
SELECT allowed, reason FROM quota_check('cap-model', 'regress_alice', 'Cap Pool');
SELECT final_cost FROM quota_charge('cap-model', 0, 40000, 'cap-9', user_id => 'regress_alice', pool => 'Cap Pool');
SELECT allowed, reason FROM quota_check('cap-model', 'regress_alice', 'Cap Pool');
-- a zero cap refuses every paid request
SELECT quota_set_cap('Cap Pool', 'week', NULL, 'pool');
SELECT quota_set_cap('Cap Pool', 'month', 0, 'pool');
SELECT * FROM cap_try($$SELECT quota_charge('cap-model', 0, 1, 'cap-10', user_id => 'cap_u1', pool => 'Cap Pool')$$);
SELECT quota_set_cap('Cap Pool', 'month', NULL, 'pool');
SELECT quota_set_cap('Cap Pool', 'week', 10, 'pool');

-- The views.
SELECT * FROM quota.pool_limits WHERE pool = 'Cap Pool';
SELECT * FROM quota.member_usage WHERE pool = 'Cap Pool' ORDER BY user_id COLLATE "C";
-- a member sees their own rows and the limits of the pools they may use
SET ROLE regress_alice;
SELECT pool, user_id, used, day_used, day_cap, remaining FROM quota.member_usage
 ORDER BY pool COLLATE "C", user_id COLLATE "C";
SELECT pool, member_day_cap, pool_week_cap FROM quota.pool_limits
 WHERE pool = 'Cap Pool';
SELECT count(*) AS caps_seen FROM quota.pool_caps;
RESET ROLE;
-- the pool's administrator sees its members; someone else sees no caps
SET ROLE regress_carol;
SELECT pool, user_id, used FROM quota.member_usage WHERE pool = 'Cap Pool'
 ORDER BY user_id COLLATE "C";
RESET ROLE;
SET ROLE regress_dave;
SELECT count(*) AS caps_seen FROM quota.pool_caps;
SELECT count(*) AS limits_seen FROM quota.pool_limits WHERE pool = 'Cap Pool';
SELECT count(*) AS usage_rows_seen FROM quota.member_usage WHERE pool = 'Cap Pool';
RESET ROLE;
-- caps are written only through quota_set_cap
SET ROLE regress_admin;
SELECT try($$DELETE FROM quota.pool_caps$$);
RESET ROLE;

-- pg_dump keeps the caps
SELECT 'quota.pool_caps'::regclass = ANY (extconfig) AS dumped
  FROM pg_extension WHERE extname = 'quota';

-- the members charged above have counters in shared memory
SELECT used > 0 AS members_counted FROM quota.quota_shared_memory()
 WHERE holds = 'member slots';

-- Clean up what later tests should not see.
SELECT quota_set_cap('Cap Pool', per, NULL, scope) FROM quota.pool_caps;
SELECT * FROM invariant() WHERE NOT ok;
