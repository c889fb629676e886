-- registration: users the gateway has not seen.  With quota_auto_register
-- set, the first call for an unknown user id registers the user with the
-- setting's groups (personal pools of their policies included); off, an
-- unknown user gets 42704.  Admin only; every error path changes nothing.
\set VERBOSITY default

-- off by default: an unknown user is 42704, and nothing is written
SELECT count(*) AS setting_rows FROM quota.registration;
SET ROLE regress_app;
SELECT try($$SELECT quota_charge('gpt-test', 10, 10, 'reg-1', user_id => 'new.student')$$);
RESET ROLE;
SELECT count(*) AS registered FROM quota.users WHERE user_id = 'new.student';

-- only quota_admin may turn it on; bad groups are refused
SET ROLE regress_app;
SELECT try($$SELECT quota_auto_register('{student}')$$);
RESET ROLE;
SET ROLE regress_alice;
SELECT try($$SELECT quota_auto_register(NULL)$$);
RESET ROLE;
SET ROLE regress_admin;
SELECT try($$SELECT quota_auto_register('{student,NULL}')$$);
SELECT try($$SELECT quota_auto_register('{""}')$$);
SELECT count(*) AS setting_rows FROM quota.registration;
-- on: groups are kept sorted and without repeats
SELECT quota_auto_register('{student,student}');
SELECT quota_auto_register('{student,dept:chem}');
SELECT groups FROM quota.registration;
RESET ROLE;
-- the setting is quota_admin's to see
SET ROLE regress_app;
SELECT try($$SELECT count(*) FROM quota.registration$$) AS seen_by_app;
RESET ROLE;

-- the gateway's first request of a new student registers them and bills it
SET ROLE regress_app;
SELECT pool, final_cost > 0 AS billed
  FROM quota_charge('gpt-test', 1000, 500, 'reg-2', user_id => 'new.student');
-- a retry is the same request: billed once
SELECT pool, final_cost > 0 AS billed
  FROM quota_charge('gpt-test', 1000, 500, 'reg-2', user_id => 'new.student');
RESET ROLE;
SELECT user_id, groups FROM quota.users WHERE user_id = 'new.student';
SELECT count(*) AS charges FROM quota.ledger WHERE request_id = 'reg-2';

-- a reservation, a check and a switch register too; quota_active_pool
-- (a read-only function) does not
SET ROLE regress_app;
SELECT pool FROM quota_reserve('gpt-test', 100, 100, 'reg-3', user_id => 'new.reserver');
SELECT allowed, pool FROM quota_check('gpt-test', 'new.checker');
SELECT pool FROM quota_switch('Students Pool', 'new.switcher');
SELECT try($$SELECT quota_active_pool('new.reader')$$);
RESET ROLE;
SELECT user_id, groups FROM quota.users WHERE user_id LIKE 'new.%' ORDER BY user_id COLLATE "C";

-- a user id quota_set_user would refuse is not registered
SET ROLE regress_app;
SELECT left(try($$SELECT quota_charge('gpt-test', 1, 1, 'reg-4', user_id => repeat('x', 201))$$), 12)
       AS refused, (SELECT count(*) FROM quota.users WHERE user_id LIKE 'xxx%') AS registered;
RESET ROLE;

-- personal-account policies of the groups apply: a new member of staff gets
-- a personal pool and is billed from it
SET ROLE regress_admin;
SELECT quota_auto_register('{staff}');
RESET ROLE;
SET ROLE regress_app;
SELECT pool FROM quota_charge('gpt-test', 1000, 500, 'reg-5', user_id => 'new.lecturer');
RESET ROLE;
SELECT pool, kind, owner, allowance FROM quota.pools WHERE owner = 'new.lecturer';

-- a role acting for itself is registered too
CREATE ROLE regress_newcomer NOLOGIN IN ROLE quota_user;
SET ROLE regress_newcomer;
SELECT pool FROM quota_charge('gpt-test', 10, 10, 'reg-6');
RESET ROLE;
SELECT user_id, groups FROM quota.users WHERE user_id = 'regress_newcomer';

-- off again: unknown users get 42704 and nothing is written
SET ROLE regress_admin;
SELECT quota_auto_register(NULL);
SELECT count(*) AS setting_rows FROM quota.registration;
RESET ROLE;
SET ROLE regress_app;
SELECT try($$SELECT quota_charge('gpt-test', 10, 10, 'reg-7', user_id => 'late.student')$$);
RESET ROLE;
SELECT count(*) AS registered FROM quota.users WHERE user_id = 'late.student';
SELECT * FROM invariant() WHERE NOT ok;
