-- The source database of the cross-major test (test/major): a university
-- holding every kind of quota data, written by the oldest supported major.
-- Loaded by test/scripts/cross-major.sh into a database "univ".
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;

-- models, a price change (price history) and discounts
SELECT quota_set_model('gpt-test', 2.5, 10);
SELECT quota_set_model('gpt-big', 15, 60, cached_input_price => 1.5, request_price => 0.002);
SELECT quota_set_model('qwen3-moe-onprem', 0, 0);
SELECT quota_set_discount('chat', 0.8) IS NOT NULL;

-- users and groups, personal pools by policy, shared pools
SELECT quota_personal_policy('staff', 100, '0 1 * * 5', 'Asia/Hong_Kong');
SELECT quota_set_user('u' || i, CASE WHEN i % 5 = 0 THEN '{staff,dept:physics}'
                                     ELSE '{student}' END::text[])
  FROM generate_series(1, 40) i;
SELECT quota_create_pool('Students Pool', 500, reset_cron => '0 1 * * 5',
                         reset_timezone => 'Asia/Hong_Kong', member_limit => 40);
SELECT quota_grant_group('Students Pool', 'student');
SELECT quota_create_pool('Physics', 2000, reset_cron => '@monthly',
                         reset_timezone => 'Europe/Zurich', reset_policy => 'add');
SELECT quota_grant_group('Physics', 'dept:physics');
SELECT quota_add_member('Physics', 'u1', 'admin', member_limit => 300);
SELECT quota_set_pool_models('Physics', '{gpt-big,qwen3-moe-onprem}');
SELECT quota_create_pool('Workshop', 50, reset_policy => 'none');
SELECT quota_add_member('Workshop', 'u2');
SELECT quota_set_pool_enabled('Workshop', false);
UPDATE quota.pools SET warn_at = '{0.5,0.9}' WHERE pool = 'Physics';
SELECT quota_set_discount('chat', 0.5, model => 'gpt-big', pool => 'Physics',
                          valid_from => '2026-01-01', valid_until => '2099-01-01') IS NOT NULL;
SELECT quota_set_user('tutor', '{}');
SELECT quota_create_pool('Lab', 0.05);
SELECT quota_add_member('Lab', 'tutor');

-- restrictions
SELECT quota_set_cap('Students Pool', 'day', 25);
SELECT quota_set_cap('Students Pool', 'month', 5000, 'pool');
SELECT quota_set_cap('Physics', 'week', 800);
SELECT quota_set_rate_limit('Students Pool', 100000, 100000000);
SELECT quota_set_rate_limit('Physics', 100000, NULL, 'pool');

-- money: top-ups, an adjustment, thousands of charges (crossing warning
-- thresholds: alerts), a price change between them, a seal with rollups,
-- more charges after it, a held reservation, switches
SELECT quota_topup('Students Pool', 2500, 'term bonus');
SELECT quota_adjust('Physics', -12.5, 'correction');
SELECT count(*) FROM (
  SELECT quota_charge('gpt-test', 1000 + i % 700, 100 + i % 300, 'a' || i, 'conv' || (i % 97),
                      cached_input_tokens => i % 50, user_id => 'u' || (1 + i % 40))
    FROM generate_series(1, 2000) i WHERE i % 5 <> 0) c;
SELECT count(*) FROM (
  SELECT quota_charge('gpt-big', 2000 + i, 400, 'b' || i, 'phys' || (i % 7),
                      user_id => 'u' || (5 * (1 + i % 8)), pool => 'Physics')
    FROM generate_series(1, 400) i) c;
-- 17 charges of 0.0028 cross the Lab's warnings at 80 % and 95 % (alerts)
SELECT count(*) FROM (
  SELECT quota_charge('gpt-test', 1000, 100, 'lab' || i, user_id => 'tutor')
    FROM generate_series(1, 17) i) c;
SELECT quota_set_model('gpt-test', 3, 12);
SELECT quota_seal() IS NOT NULL;
SELECT count(*) FROM (
  SELECT quota_charge(CASE WHEN i % 10 = 0 THEN 'qwen3-moe-onprem' ELSE 'gpt-test' END,
                      500 + i, 80, 'c' || i, user_id => 'u' || (1 + i % 40))
    FROM generate_series(1, 1500) i WHERE i % 5 <> 0) c;
SELECT request_id FROM quota_reserve('gpt-test', 20000, 4000, 'held-1', user_id => 'u3');
SELECT request_id FROM quota_reserve('gpt-big', 10000, 2000, 'held-2', user_id => 'u10',
                                     pool => 'Physics');
SELECT pool FROM quota_switch('Physics', 'u5');
SELECT pool FROM quota_switch('Students Pool', 'u2');
