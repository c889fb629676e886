\set u random(1, 9000)
\set r random(1, 1000000000000)
SELECT naive_charge('Students Pool', 'student' || :u, 'model-2', 1200, 300, 'b' || :client_id || '-' || :r);
