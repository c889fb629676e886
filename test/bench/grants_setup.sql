-- test/bench/grants.sh: a pool without grants, one with three live grants,
-- users b1..b16 (active pool Big) and f1..f16 (active pool Empty, falling
-- back to Big).
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('bm', 0, 1, 'bench');
SELECT quota.quota_create_pool('NoGrants', 1000000, reset_policy => 'none');
SELECT quota.quota_create_pool('Grants3', 1000000, reset_policy => 'none');
SELECT quota.quota_create_pool('Big', 1000000, reset_policy => 'none');
SELECT quota.quota_create_pool('Empty', 0, reset_policy => 'none');
SELECT quota.quota_set_user('b' || i, '{bench}') FROM generate_series(1, 16) i;
SELECT quota.quota_set_user('f' || i, '{bench}') FROM generate_series(1, 16) i;
SELECT quota.quota_grant_group(p, 'bench') FROM unnest(ARRAY['NoGrants', 'Grants3', 'Big', 'Empty']) p;
SELECT quota.quota_grant_credits('Grants3', 100000, now() + interval '30 days', note => 'term');
SELECT quota.quota_grant_credits('Grants3', 100000, now() + interval '60 days', note => 'course');
SELECT quota.quota_grant_credits('Grants3', 100000, priority => 5, note => 'workshop');
SELECT (quota.quota_switch('Big', 'b' || i)).pool FROM generate_series(1, 16) i;
SELECT (quota.quota_switch('Empty', 'f' || i)).pool FROM generate_series(1, 16) i;
SELECT quota.quota_set_fallback(ARRAY['Big'], 'f' || i) FROM generate_series(1, 16) i;
