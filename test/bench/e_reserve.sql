\set u random(1, 9000)
\set r random(1, 1000000000000)
SELECT quota.quota_reserve('model-2', 4000, 1000, 'e' || :client_id || '-' || :r, user_id => 'student' || :u);
SELECT quota.quota_charge('model-2', 1200, 300, 'e' || :client_id || '-' || :r, user_id => 'student' || :u);
