-- pools: users, pools, membership, personal accounts, money functions.
\set VERBOSITY default

-- the user directory
SELECT quota_set_user('regress_alice', '{student}');
SELECT quota_set_user('regress_bob', '{student}');
SELECT quota_set_user('regress_carol', '{staff,dept:physics}');
SELECT quota_set_user('regress_dave', '{staff}');
SELECT quota_set_user('regress_erin', '{}');
-- groups are a set: duplicates collapse, order is canonical
SELECT quota_set_user('regress_erin', '{visitor,visitor,alumni}');
SELECT user_id, groups FROM quota.users ORDER BY user_id COLLATE "C";

-- personal accounts for staff: Friday 01:00 Hong Kong time
SELECT quota_personal_policy('staff', 100, '0 1 * * 5', 'Asia/Hong_Kong');
-- a new staff member gets one when registered
SELECT quota_set_user('regress_frank', '{staff}');
SELECT pool, kind, owner, allowance, balance, reset_cron, reset_timezone,
       reset_policy, next_reset_at IS NOT NULL AS scheduled,
       extract(isodow FROM next_reset_at AT TIME ZONE 'Asia/Hong_Kong') AS dow,
       (next_reset_at AT TIME ZONE 'Asia/Hong_Kong')::time AS local_time
  FROM quota.pools ORDER BY pool COLLATE "C";

-- shared pools
SELECT quota_create_pool('Students Pool', 10, 'shared', '0 1 * * 5', 'Asia/Hong_Kong');
SELECT quota_grant_group('Students Pool', 'student');
SELECT quota_create_pool('Physics Dept', 50, reset_cron => '0 0 1 * *',
                         reset_policy => 'add', owner => 'regress_carol');
SELECT quota_add_member('Physics Dept', 'regress_carol', 'admin');
SELECT quota_add_member('Physics Dept', 'regress_dave');
SELECT quota_add_member('Physics Dept', 'regress_alice', member_limit => 2);
SELECT quota_create_pool('Archive', 5, reset_policy => 'none');
SELECT pool, kind, owner, allowance, balance, reset_policy, member_limit, enabled
  FROM quota.pools ORDER BY pool COLLATE "C";
SELECT pool, user_id, role, member_limit FROM quota.pool_members
 ORDER BY pool COLLATE "C", user_id COLLATE "C";
SELECT pool, group_name FROM quota.pool_groups ORDER BY pool COLLATE "C";

-- adding again updates the role and limit
SELECT quota_add_member('Physics Dept', 'regress_alice', member_limit => 3);
SELECT member_limit FROM quota.pool_members WHERE user_id = 'regress_alice';

-- model lists
SELECT quota_set_pool_models('Students Pool', '{gpt-test,qwen3-moe-onprem,nano}');
SELECT models FROM quota.pools WHERE pool = 'Students Pool';
SELECT quota_set_pool_models('Archive', NULL);
SELECT models IS NULL AS every_model FROM quota.pools WHERE pool = 'Archive';

-- money: top-up, adjustment, resets by policy
SELECT quota_topup('Archive', 2.5, 'grant from the library');
SELECT quota_adjust('Archive', -0.5, 'double grant corrected');
SELECT quota_reset('Archive');                      -- policy none: nothing changes
SELECT quota_topup('Physics Dept', 5);
SELECT quota_reset('Physics Dept');                 -- add: + allowance
SELECT quota_topup('Students Pool', 3);
SELECT quota_reset('Students Pool');                -- restore: back to the allowance
SELECT pool, kind, amount, note FROM quota.ledger
 ORDER BY entry_id;
SELECT * FROM invariant();

-- enable and disable
SELECT quota_set_pool_enabled('Archive', false);
SELECT enabled FROM quota.pools WHERE pool = 'Archive';
SELECT quota_set_pool_enabled('Archive', true);

-- plain UPDATE of the configuration through quota.pools
UPDATE quota.pools SET member_limit = 4, warn_at = '{0.5,0.9}' WHERE pool = 'Physics Dept';
UPDATE quota.pools SET reset_cron = '30 2 * * 1', reset_timezone = 'Europe/London'
 WHERE pool = 'Archive';
SELECT pool, member_limit, warn_at, reset_cron, reset_timezone, next_reset_at IS NULL AS no_reset
  FROM quota.pools WHERE pool IN ('Physics Dept', 'Archive') ORDER BY pool COLLATE "C";
UPDATE quota.pools SET reset_policy = 'restore' WHERE pool = 'Archive';
SELECT extract(isodow FROM next_reset_at AT TIME ZONE 'Europe/London') AS dow,
       (next_reset_at AT TIME ZONE 'Europe/London')::time AS local_time
  FROM quota.pools WHERE pool = 'Archive';
-- the balance cannot be written, not even by a superuser
UPDATE quota.pools SET balance = 1000 WHERE pool = 'Archive';
SELECT try($$UPDATE quota.pools SET kind = 'personal' WHERE pool = 'Archive'$$);
SELECT try($$UPDATE quota.pool_defs SET reset_cron = 'every friday' WHERE pool = 'Archive'$$);
SELECT try($$UPDATE quota.pools SET reset_timezone = 'Mars/Olympus' WHERE pool = 'Archive'$$);
-- the ledger is append-only
SELECT try($$UPDATE quota.ledger SET amount = 0$$);
SELECT try($$DELETE FROM quota.ledger$$);
SELECT try($$TRUNCATE quota.ledger$$);

-- removing a member and revoking a group
SELECT quota_add_member('Archive', 'regress_erin');
SELECT quota_remove_member('Archive', 'regress_erin');
SELECT quota_grant_group('Archive', 'alumni');
SELECT quota_grant_group('Archive', 'alumni');     -- again: no error, no duplicate
SELECT quota_revoke_group('Archive', 'alumni');

-- Errors (SQLSTATEs of the contract); nothing changes.
SELECT count(*) AS ledger_before FROM quota.ledger \gset
SELECT try($$SELECT quota_set_user(NULL)$$);
SELECT try($$SELECT quota_set_user('x', NULL)$$);
SELECT try($$SELECT quota_set_user('')$$);
SELECT try($$SELECT quota_set_user('x', '{NULL}')$$);
SELECT try($$SELECT quota_set_user('x', '{""}')$$);
SELECT try($$SELECT quota_create_pool(NULL, 1)$$);
SELECT try($$SELECT quota_create_pool('p', NULL)$$);
SELECT try($$SELECT quota_create_pool('p', 1, NULL)$$);
SELECT try($$SELECT quota_create_pool('p', 1, 'team')$$);
SELECT try($$SELECT quota_create_pool('p', -1)$$);
SELECT try($$SELECT quota_create_pool('p', 1, member_limit => -1)$$);
SELECT try($$SELECT quota_create_pool('p', 1, 'personal')$$);
SELECT try($$SELECT quota_create_pool('p', 1, 'personal', owner => 'nobody')$$);
SELECT try($$SELECT quota_create_pool('p', 1, reset_cron => '61 * * * *')$$);
SELECT try($$SELECT quota_create_pool('p', 1, reset_cron => '0 1 * * 5', reset_timezone => 'Mars/Olympus')$$);
SELECT try($$SELECT quota_create_pool('p', 1, reset_timezone => NULL)$$);
SELECT try($$SELECT quota_create_pool('p', 1, reset_policy => 'rollover')$$);
SELECT try($$SELECT quota_create_pool('p', 1, reset_policy => NULL)$$);
SELECT try($$SELECT quota_create_pool('Archive', 1)$$);
SELECT try($$SELECT quota_create_pool('', 1)$$);
SELECT try($$SELECT quota_create_pool('p', 'lots')$$);
SELECT try($$SELECT quota_create_pool('p', 10000000000)$$);
SELECT try($$SELECT quota_add_member(NULL, 'regress_bob')$$);
SELECT try($$SELECT quota_add_member('Archive', NULL)$$);
SELECT try($$SELECT quota_add_member('Archive', 'regress_bob', NULL)$$);
SELECT try($$SELECT quota_add_member('Archive', 'regress_bob', 'owner')$$);
SELECT try($$SELECT quota_add_member('Archive', 'regress_bob', member_limit => -1)$$);
SELECT try($$SELECT quota_add_member('Nowhere', 'regress_bob')$$);
SELECT try($$SELECT quota_add_member('Archive', 'nobody')$$);
SELECT try($$SELECT quota_remove_member('Archive', 'regress_bob')$$);
SELECT try($$SELECT quota_remove_member('Nowhere', 'regress_bob')$$);
SELECT try($$SELECT quota_remove_member(NULL, 'regress_bob')$$);
SELECT try($$SELECT quota_grant_group('Nowhere', 'student')$$);
SELECT try($$SELECT quota_grant_group('Archive', NULL)$$);
SELECT try($$SELECT quota_grant_group('Archive', '')$$);
SELECT try($$SELECT quota_revoke_group('Archive', 'student')$$);
SELECT try($$SELECT quota_revoke_group(NULL, 'student')$$);
SELECT try($$SELECT quota_set_pool_models('Nowhere', '{nano}')$$);
SELECT try($$SELECT quota_set_pool_models('Archive', '{no-such-model}')$$);
SELECT try($$SELECT quota_set_pool_models('Archive', '{NULL}')$$);
SELECT try($$SELECT quota_set_pool_models(NULL, '{nano}')$$);
SELECT try($$SELECT quota_set_pool_enabled('Nowhere', true)$$);
SELECT try($$SELECT quota_set_pool_enabled('Archive', NULL)$$);
SELECT try($$SELECT quota_topup('Archive', 0)$$);
SELECT try($$SELECT quota_topup('Archive', -1)$$);
SELECT try($$SELECT quota_topup('Archive', NULL)$$);
SELECT try($$SELECT quota_topup(NULL, 1)$$);
SELECT try($$SELECT quota_topup('Nowhere', 1)$$);
SELECT try($$SELECT quota_topup('Archive', 9223372036.854775807)$$);
SELECT try($$SELECT quota_adjust('Archive', 0, 'nothing')$$);
SELECT try($$SELECT quota_adjust('Archive', 1, NULL)$$);
SELECT try($$SELECT quota_adjust('Archive', 1, '')$$);
SELECT try($$SELECT quota_adjust('Nowhere', 1, 'x')$$);
SELECT try($$SELECT quota_reset('Nowhere')$$);
SELECT try($$SELECT quota_reset(NULL)$$);
SELECT try($$SELECT quota_personal_policy(NULL, 1)$$);
SELECT try($$SELECT quota_personal_policy('staff', NULL)$$);
SELECT try($$SELECT quota_personal_policy('staff', -1)$$);
SELECT try($$SELECT quota_personal_policy('staff', 1, 'never')$$);
SELECT try($$SELECT quota_personal_policy('staff', 1, '0 1 * * 5', 'Nowhere/Else')$$);
SELECT try($$SELECT quota_personal_policy('', 1)$$);
SELECT count(*) = :ledger_before AS ledger_unchanged FROM quota.ledger;
SELECT count(*) AS pools FROM quota.pool_defs;
SELECT * FROM invariant();

-- Two-phase commit of a change to users or pools: it takes effect at
-- COMMIT PREPARED (the other backends' caches hear of it then: TAP 027).
BEGIN;
SELECT quota_set_user('regress_2pc', '{}');
PREPARE TRANSACTION 'quota-2pc-route';
SELECT count(*) AS registered FROM quota.users WHERE user_id = 'regress_2pc';
COMMIT PREPARED 'quota-2pc-route';
SELECT count(*) AS registered FROM quota.users WHERE user_id = 'regress_2pc';
DELETE FROM quota.users WHERE user_id = 'regress_2pc';
-- a top-up is refused as a movement of money, not as a change of users
BEGIN;
SELECT quota_topup('Archive', 1) IS NOT NULL AS topped_up;
PREPARE TRANSACTION 'quota-2pc-topup';
