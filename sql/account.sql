-- account: what users see about themselves and pool admins about their
-- pools: quota.price_list (prices, the discount in force, discounted prices)
-- and quota.refusals (refused requests, counted outside the rolled back
-- transaction), each with the usual row rules.
\set VERBOSITY default

CREATE ROLE regress_acct_student NOLOGIN IN ROLE quota_user;  -- member of Acct Lab
CREATE ROLE regress_acct_head NOLOGIN IN ROLE quota_user;     -- administers Acct Lab
CREATE ROLE regress_acct_other NOLOGIN IN ROLE quota_user;    -- member of Acct Other
SELECT quota_set_user(u, '{}')
  FROM unnest(ARRAY['regress_acct_student', 'regress_acct_head', 'regress_acct_other']) u;
SELECT quota_set_model('acct-a', 2, 4, 'acct', cached_input_price => 1, request_price => 0.001);
SELECT quota_set_model('acct-b', 3, 6, 'acct');
SELECT quota_set_model('acct-off', 3, 6, 'acct', enabled => false);
SELECT quota_create_pool('Acct Lab', 10);
SELECT quota_set_pool_models('Acct Lab', '{acct-a,acct-b,acct-off}');
SELECT quota_create_pool('Acct Other', 10);
SELECT quota_create_pool('Acct Closed', 10);
SELECT quota_set_pool_enabled('Acct Closed', false);
SELECT quota_add_member('Acct Lab', 'regress_acct_student');
SELECT quota_add_member('Acct Closed', 'regress_acct_student');
SELECT quota_add_member('Acct Lab', 'regress_acct_head', 'admin');
SELECT quota_add_member('Acct Other', 'regress_acct_other');
-- the service at 0.8, acct-a in Acct Lab at 0.5; a later discount is not in force yet
SELECT quota_set_discount('acct', 0.8) IS NOT NULL AS service_discount;
SELECT quota_set_discount('acct', 0.5, 'acct-a', 'Acct Lab') IS NOT NULL AS lab_discount;
SELECT quota_set_discount('acct', 0.1, valid_from => now() + interval '1 day') IS NOT NULL AS later;

-- price_list: one row per enabled model and pool the caller may use
SET ROLE regress_acct_student;
SELECT model, service, pool, input_price, cached_input_price, output_price, request_price,
       discount_rate, discounted_input_price, discounted_output_price
  FROM quota.price_list WHERE model LIKE 'acct-%'
 ORDER BY pool COLLATE "C", model COLLATE "C";
SET ROLE regress_acct_other;
SELECT model, pool, discount_rate, discounted_input_price, discounted_output_price
  FROM quota.price_list WHERE model LIKE 'acct-%'
 ORDER BY pool COLLATE "C", model COLLATE "C";
-- the discounted price is what a charge costs: 1M input tokens of acct-a in
-- Acct Lab cost 1, plus its request price at the same rate (0.0005)
RESET ROLE;
SELECT final_cost FROM quota_cost('acct-a', 1000000, 0, 0, 'Acct Lab');
-- a role without quota sees nothing
SET ROLE regress_mallory;
SELECT try('SELECT * FROM quota.price_list');
RESET ROLE;

-- Refusals of each kind (QU001..QU005; QU006 is in sql/ratelimit.sql).
SET ROLE regress_acct_student;
SELECT try($$SELECT quota_charge('acct-a', 10000000, 0, 'acct-s1', pool => 'Acct Lab')$$);     -- QU001
SELECT try($$SELECT quota_reserve('acct-b', 10000000, 0, 'acct-s2', pool => 'Acct Lab')$$);    -- QU001
SELECT try($$SELECT quota_charge('acct-off', 1, 0, 'acct-s3', pool => 'Acct Other')$$);        -- QU003
SELECT try($$SELECT quota_charge('acct-a', 1, 0, 'acct-s4', pool => 'Acct Closed')$$);         -- QU004
SELECT final_cost FROM quota_charge('acct-a', 1, 0, 'acct-s5', pool => 'Acct Lab');
SELECT try($$SELECT quota_charge('acct-a', 2, 0, 'acct-s5', pool => 'Acct Lab')$$);            -- QU005
-- quota_check answers a question: its "no" is not a refused request
SELECT allowed, reason FROM quota_check('acct-a', pool => 'Acct Closed');
SET ROLE regress_acct_other;
SELECT try($$SELECT quota_charge('acct-a', 10000000, 0, 'acct-o1')$$);                         -- QU001
SELECT try($$SELECT quota_charge('acct-a', 1, 0, 'acct-o2', pool => 'Acct Lab')$$);            -- QU003
RESET ROLE;
SELECT try($$SELECT quota_set_pool_models('Acct Other', '{acct-b}')$$);
SET ROLE regress_acct_other;
SELECT try($$SELECT quota_charge('acct-a', 1, 0, 'acct-o3')$$);                                -- QU002
-- other errors are not refusals
SELECT try($$SELECT quota_charge('acct-a', -1, 0, 'acct-o4')$$);
SELECT try($$SELECT quota_charge('no-such-model', 1, 0, 'acct-o5')$$);
RESET ROLE;

-- quota_admin sees every row
SET ROLE regress_admin;
SELECT pool, user_id, sqlstate, refused, last_at IS NOT NULL AS has_last_at
  FROM quota.refusals WHERE user_id LIKE 'regress_acct_%'
 ORDER BY user_id COLLATE "C", pool COLLATE "C", sqlstate COLLATE "C";
-- users see their own rows
SET ROLE regress_acct_student;
SELECT pool, user_id, sqlstate, refused FROM quota.refusals
 ORDER BY user_id COLLATE "C", pool COLLATE "C", sqlstate COLLATE "C";
SET ROLE regress_acct_other;
SELECT pool, user_id, sqlstate, refused FROM quota.refusals
 ORDER BY user_id COLLATE "C", pool COLLATE "C", sqlstate COLLATE "C";
-- a pool's administrator sees the rows of their pool
SET ROLE regress_acct_head;
SELECT pool, user_id, sqlstate, refused FROM quota.refusals
 ORDER BY user_id COLLATE "C", pool COLLATE "C", sqlstate COLLATE "C";
-- the counts are not readable around the view
SELECT try('SELECT * FROM quota._refusal_counts()');
SET ROLE regress_mallory;
SELECT try('SELECT * FROM quota.refusals');
RESET ROLE;
