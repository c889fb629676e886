-- Bench data set: 10,000 users (1,000 staff with personal pools, 9,000
-- students sharing one pool), 20 models, discounts, and the naive baseline.
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;

SELECT quota_set_model('model-' || i, (i % 5 + 1)::numeric * 0.25, (i % 7 + 1)::numeric * 1.5,
                       CASE WHEN i % 4 = 0 THEN 'api' ELSE 'chat' END,
                       (i % 5 + 1)::numeric * 0.125)
  FROM generate_series(1, 19) i;
SELECT quota_set_model('qwen3-moe-onprem', 0, 0);
SELECT quota_set_discount('chat', 0.8);
SELECT quota_set_discount('chat', 0.5, 'model-3', valid_from => now() - interval '1 day',
                          valid_until => now() + interval '30 days');

SELECT quota_personal_policy('staff', 1000000, '0 1 * * 5', 'Asia/Hong_Kong');
SELECT quota_create_pool('Students Pool', 9000000000, reset_cron => '0 1 * * 5',
                         reset_timezone => 'Asia/Hong_Kong');
SELECT quota_grant_group('Students Pool', 'student');
SELECT quota_set_discount('api', 0.9, pool => 'Students Pool');
-- C2 (c_limited): C's charges on a second shared pool of the same students
-- with the usage restrictions of issue 18 active; every restriction's
-- set-up goes here.  Its name sorts after 'Students Pool', which stays the
-- students' default pool (C); C2 names its pool.  The limits are high
-- enough never to refuse at the bench's speed: what is measured is the cost
-- of enforcing them.
SELECT quota_create_pool('Students Pool (limited)', 9000000000, reset_cron => '0 1 * * 5',
                         reset_timezone => 'Asia/Hong_Kong');
SELECT quota_grant_group('Students Pool (limited)', 'student');
SELECT quota_set_discount('api', 0.9, pool => 'Students Pool (limited)');
SELECT quota_set_rate_limit('Students Pool (limited)', 1000, 100000000);
SELECT quota_set_rate_limit('Students Pool (limited)', 100000000, 1000000000000, 'pool');
SELECT quota_set_cap('Students Pool (limited)', 'day', 1000, 'member');
SELECT quota_set_cap('Students Pool (limited)', 'week', 9000000000, 'pool');

SELECT quota_set_user('staff' || i, '{staff}') FROM generate_series(1, 1000) i;
SELECT quota_set_user('student' || i, '{student}') FROM generate_series(1, 9000) i;

-- A and B write a table like the ledger (its columns, defaults, identity and
-- indexes): quota.ledger itself takes rows from quota's functions only.
CREATE TABLE naive_ledger (LIKE quota.ledger INCLUDING ALL);

-- B: the naive baseline every gateway starts from: one balance row, locked
-- until commit, and a ledger row.
CREATE TABLE naive_balance (pool text PRIMARY KEY, balance numeric NOT NULL);
INSERT INTO naive_balance VALUES ('Students Pool', 9000000000);
CREATE FUNCTION naive_charge(p_pool text, p_user text, p_model text, p_in bigint,
                             p_out bigint, p_request text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    m quota.models;
    cost numeric;
BEGIN
    SELECT * INTO m FROM quota.models WHERE model = p_model;
    cost := round((p_in * m.input_price::numeric + p_out * m.output_price::numeric) / 1000000, 9) * 0.8;
    UPDATE naive_balance SET balance = balance - cost
     WHERE pool = p_pool AND balance >= cost;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insufficient quota' USING ERRCODE = 'QU001';
    END IF;
    INSERT INTO naive_ledger (pool, user_id, kind, amount, model, service, request_id,
                              input_tokens, cached_input_tokens, output_tokens,
                              original_cost, discount_rate, final_cost)
    VALUES (p_pool, p_user, 'charge', -cost, p_model, m.service, p_request,
            p_in, 0, p_out, cost, 0.8, cost);
    RETURN cost;
END
$$;

-- F: one million requests to price.
CREATE TABLE requests AS
SELECT 'model-' || (i % 19 + 1) AS model, (i * 7919 % 100000)::bigint AS input_tokens,
       (i * 104729 % 20000)::bigint AS output_tokens, (i % 1000)::bigint AS cached_tokens
  FROM generate_series(1::bigint, 1000000) i;
CREATE TABLE amounts AS
SELECT (i * 7919 % 1000000000)::numeric / 1000000 AS n,
       ((i * 7919 % 1000000000)::numeric / 1000000)::quota.credits AS c
  FROM generate_series(1::bigint, 1000000) i;
VACUUM ANALYZE;
