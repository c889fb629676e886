-- security: identity rule, admin functions, direct writes, row-level
-- security, pool administrators and the app role, all with real roles.
\set VERBOSITY default

-- A user acts for themself; naming another user is refused.
SET ROLE regress_dave;
SELECT quota_active_pool();
SELECT pool FROM quota_switch('Physics Dept');
SELECT quota_active_pool();
SELECT try($$SELECT quota_active_pool('regress_carol')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, 'sec-1', user_id => 'regress_carol')$$);
SET quota.user_id = 'regress_carol';
SELECT try($$SELECT quota_active_pool()$$);
SELECT try($$SELECT count(*) FROM quota.charges$$);
RESET quota.user_id;
-- naming oneself is fine
SELECT quota_active_pool('regress_dave');
SELECT pool, final_cost FROM quota_charge('nano', 1000000, 0, 'sec-2');
-- admin functions are refused
SELECT try($$SELECT quota_topup('Physics Dept', 100)$$);
SELECT try($$SELECT quota_set_model('free-for-me', 0, 0)$$);
SELECT try($$SELECT quota_create_pool('mine', 1000)$$);
SELECT try($$SELECT quota_run_due()$$);
SELECT try($$SELECT quota_add_member('Physics Dept', 'regress_bob')$$);
SELECT try($$SELECT quota._post('Physics Dept', 'topup', '100', NULL, NULL)$$);
-- direct writes are refused
SELECT try($$UPDATE quota.pools SET balance = 1000 WHERE pool = 'Physics Dept'$$);
SELECT try($$UPDATE quota.pool_defs SET allowance = 1000 WHERE pool = 'Physics Dept'$$);
SELECT try($$INSERT INTO quota.ledger (pool, kind, amount) VALUES ('Physics Dept', 'topup', 1000)$$);
SELECT try($$DELETE FROM quota.ledger WHERE user_id = 'regress_dave'$$);
SELECT try($$INSERT INTO quota.user_state VALUES ('regress_dave', 'Students Pool')$$);
-- row-level security: own charges and usable pools only
SELECT DISTINCT user_id FROM quota.ledger;
SELECT pool FROM quota.pools ORDER BY pool COLLATE "C";
SELECT user_id FROM quota.users;
SELECT count(*) AS reservations_of_others FROM quota.reservations;
RESET ROLE;

-- A role outside the quota roles cannot even reach the schema.
SET ROLE regress_mallory;
SELECT try($$SELECT quota.quota_active_pool()$$);
SELECT try($$SELECT * FROM quota.ledger$$);
RESET ROLE;

-- A pool administrator manages members and the schedule of their pool only.
SET ROLE regress_carol;
SELECT quota_add_member('Physics Dept', 'regress_bob');
SELECT user_id, role FROM quota.pool_members WHERE pool = 'Physics Dept'
 ORDER BY user_id COLLATE "C";
SELECT try($$SELECT quota_add_member('Physics Dept', 'regress_bob', 'admin')$$);
SELECT try($$SELECT quota_add_member('Students Pool', 'regress_dave')$$);
SELECT quota_remove_member('Physics Dept', 'regress_bob');
UPDATE quota.pools SET reset_cron = '0 0 1 */3 *', warn_at = '{0.9}' WHERE pool = 'Physics Dept';
SELECT reset_cron, warn_at FROM quota.pools WHERE pool = 'Physics Dept';
SELECT try($$UPDATE quota.pools SET allowance = 1000 WHERE pool = 'Physics Dept'$$);
-- another pool is invisible to them: the update finds no row
UPDATE quota.pools SET reset_cron = '* * * * *' WHERE pool = 'Students Pool';
SELECT count(*) FROM quota.pools WHERE pool = 'Students Pool';
-- the pool's ledger is visible to its administrator, other pools' are not
SELECT DISTINCT pool FROM quota.ledger ORDER BY 1;
RESET ROLE;

-- The app acts for any user, by argument or by setting, but configures nothing.
SET ROLE regress_app;
SELECT quota_active_pool('regress_bob');
SET quota.user_id = 'regress_alice';
SELECT quota_active_pool();
SELECT user_id, count(*) FROM quota.charges GROUP BY user_id;
SELECT pool FROM quota.my_pools ORDER BY pool COLLATE "C";
RESET quota.user_id;
SELECT pool, final_cost FROM quota_charge('qwen3-moe-onprem', 10, 10, 'sec-3', user_id => 'regress_bob');
-- a gateway that forgets user_id is told to pass it, not to register itself
SELECT * FROM try_full($$SELECT quota_charge('qwen3-moe-onprem', 10, 10, 'sec-4')$$);
SELECT try($$SELECT quota_topup('Students Pool', 100)$$);
SELECT try($$UPDATE quota.pools SET allowance = 1 WHERE pool = 'Students Pool'$$);
SELECT try($$SELECT quota_set_discount('chat', 0)$$);
RESET ROLE;

-- quota_admin configures everything and sees everything.
SET ROLE regress_admin;
SELECT quota_topup('Archive', 1);
UPDATE quota.pools SET allowance = 6 WHERE pool = 'Archive';
SELECT allowance FROM quota.pools WHERE pool = 'Archive';
SELECT reset_cron FROM quota.pools WHERE pool = 'Students Pool';
SELECT count(DISTINCT pool) > 3 AS sees_all FROM quota.ledger;
SELECT try($$UPDATE quota.pools SET balance = 0 WHERE pool = 'Archive'$$);
RESET ROLE;

-- Every SECURITY DEFINER function pins its search_path.
SELECT p.proname
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
   AND p.prosecdef
   AND NOT coalesce(p.proconfig::text LIKE '%search_path%', false)
 ORDER BY 1;
-- No function that writes is executable by PUBLIC.
SELECT p.proname
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
   AND p.provolatile = 'v' AND p.prorettype <> 'trigger'::regtype
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;
-- Every table with user data has row-level security.
SELECT c.relname, c.relrowsecurity
  FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
   AND c.relkind = 'r'
 ORDER BY 1;
SELECT * FROM invariant();
