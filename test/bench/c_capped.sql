\set u random(1, 9000)
\set r random(1, 1000000000000)
SELECT quota.quota_charge('model-2', 1200, 300, 'k' || :client_id || '-' || :r, user_id => 'student' || :u, pool => 'Students Pool (capped)');
