-- charge: pool choice, access rules, charging, idempotency, exhaustion,
-- free models, switching, checks and member limits.
\set VERBOSITY default

SELECT quota_set_discount('chat', 0.8, pool => 'Students Pool') AS student_discount \gset

-- Which pool: personal first, else the first usable shared pool by name.
SELECT u AS user_id, quota_active_pool(u)
  FROM unnest(ARRAY['regress_alice', 'regress_bob', 'regress_carol',
                    'regress_dave', 'regress_erin']) u;

-- A charge: 1000 in, 500 out of gpt-test = 0.0075, x 0.8 = 0.006.
SELECT * FROM quota_charge('gpt-test', 1000, 500, 'req-1', 'conv-1',
                           user_id => 'regress_bob');
-- Repeating it returns the first charge and debits nothing.
SELECT * FROM quota_charge('gpt-test', 1000, 500, 'req-1', 'conv-1',
                           user_id => 'regress_bob');
SELECT count(*) AS charges, quota.sum(amount) AS debited
  FROM quota.ledger WHERE request_id = 'req-1';
-- Reusing the request_id with other arguments: QU005.
SELECT try($$SELECT quota_charge('gpt-test', 1001, 500, 'req-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('gpt-test', 1000, 500, 'req-1', user_id => 'regress_alice')$$);
SELECT try($$SELECT quota_charge('nano', 1000, 500, 'req-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('gpt-test', 1000, 500, 'req-1', 'conv-2', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('gpt-test', 1000, 500, 'req-1', user_id => 'regress_bob', pool => 'Archive')$$);
-- The ledger entry keeps costs, the discount and its prices' row, which
-- quota.charges shows.
SELECT l.pool, l.user_id, l.kind, l.amount, l.model, l.service, l.conversation_id,
       l.request_id, l.input_tokens, l.cached_input_tokens, l.output_tokens,
       p.input_price, p.cached_input_price, p.output_price, p.request_price,
       l.original_cost, l.discount_rate, l.final_cost, l.balance_after,
       l.price_id = m.price_id AS current_prices
  FROM quota.ledger l JOIN quota.model_prices p USING (price_id)
  JOIN quota.models m ON m.model = l.model
 WHERE l.request_id = 'req-1';
SELECT input_price, cached_input_price, output_price, request_price
  FROM quota.charges WHERE request_id = 'req-1';

-- Exhaustion: 1,000,000 output tokens cost 10 x 0.8 = 8; the second does not fit.
SELECT pool, final_cost, balance
  FROM quota_charge('gpt-test', 0, 1000000, 'req-2', user_id => 'regress_bob');
SELECT * FROM try_full($$SELECT quota_charge('gpt-test', 0, 1000000, 'req-3', user_id => 'regress_bob')$$);
SELECT count(*) AS failed_charge_recorded FROM quota.ledger WHERE request_id = 'req-3';
-- the hint gives the restore time as the pool's own wall-clock time, and
-- names the zone, whatever the session's zone (the pool restores at 01:00
-- in Hong Kong)
DO $$
DECLARE
    h text;
    p record;
BEGIN
    PERFORM quota_charge('gpt-test', 0, 1000000, 'req-3', user_id => 'regress_bob');
EXCEPTION WHEN SQLSTATE 'QU001' THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    SELECT * INTO p FROM quota.pools WHERE pool = 'Students Pool';
    RAISE NOTICE 'pool zone %: restore shown as local time %, at 01:00 %', p.reset_timezone,
        h LIKE '%is next restored at '
               || to_char(p.next_reset_at AT TIME ZONE p.reset_timezone, 'YYYY-MM-DD HH24:MI')
               || ' (' || p.reset_timezone || ').%',
        h ~ 'restored at \d{4}-\d\d-\d\d 01:00 \(Asia/Hong_Kong\)';
END
$$;
-- the same for alice, who has another pool that can pay
SELECT * FROM try_full($$SELECT quota_charge('gpt-test', 0, 1000000, 'req-4', user_id => 'regress_alice', pool => 'Students Pool')$$);
-- a free model works with an empty pool and is recorded at cost 0
SELECT pool, original_cost, final_cost
  FROM quota_charge('gpt-test', 0, 0, 'req-5', user_id => 'regress_bob');
SELECT pool, original_cost, discount_rate, final_cost, balance
  FROM quota_charge('qwen3-moe-onprem', 5000, 5000, 'req-6', 'conv-1', user_id => 'regress_bob');
SELECT (quota_charge('gpt-test', 0, 200000, 'req-7', user_id => 'regress_bob')).final_cost;
SELECT * FROM try_full($$SELECT quota_charge('gpt-test', 0, 1000000, 'req-8', user_id => 'regress_bob')$$);

-- Rules: model not permitted (QU002), pool not usable (QU003), disabled (QU004).
SELECT * FROM try_full($$SELECT quota_charge('bulk', 1, 1, 'req-9', user_id => 'regress_bob')$$);
SELECT * FROM try_full($$SELECT quota_charge('nano', 1, 1, 'req-10', user_id => 'regress_bob', pool => 'Physics Dept')$$);
SELECT quota_set_pool_enabled('Archive', false);
SELECT quota_add_member('Archive', 'regress_bob');
SELECT * FROM try_full($$SELECT quota_charge('nano', 1, 1, 'req-11', user_id => 'regress_bob', pool => 'Archive')$$);
SELECT quota_set_model('nano', 0.000000001, 0, 'api', enabled => false);
SELECT * FROM try_full($$SELECT quota_charge('nano', 1, 1, 'req-12', user_id => 'regress_bob')$$);
SELECT quota_set_model('nano', 0.000000001, 0, 'api');

-- Switching: takes effect for the next request.
SELECT try($$SELECT quota_switch('Archive', 'regress_bob')$$);
SELECT quota_set_pool_enabled('Archive', true);
SELECT pool, available, next_reset_at IS NOT NULL AS scheduled
  FROM quota_switch('Archive', 'regress_bob');
SELECT quota_active_pool('regress_bob');
SELECT pool, final_cost FROM quota_charge('nano', 1000000, 0, 'req-13', user_id => 'regress_bob');
SELECT try($$SELECT quota_switch('Physics Dept', 'regress_bob')$$);
SELECT try($$SELECT quota_switch('Nowhere', 'regress_bob')$$);
SELECT try($$SELECT quota_switch(NULL, 'regress_bob')$$);
SELECT try($$SELECT quota_switch('Archive', 'nobody')$$);
-- removing the member falls back to the default pool
SELECT quota_remove_member('Archive', 'regress_bob');
SELECT quota_active_pool('regress_bob');

-- quota_check: never raises for a refusal, names the first rule that fails.
SELECT * FROM quota_check('gpt-test', 'regress_bob');
SELECT * FROM quota_check('qwen3-moe-onprem', 'regress_bob');
SELECT * FROM quota_check('bulk', 'regress_bob');
SELECT * FROM quota_check('nano', 'regress_bob', 'Physics Dept');
SELECT * FROM quota_check('gpt-test', 'regress_erin');
SELECT quota_set_pool_enabled('Archive', false);
SELECT * FROM quota_check('nano', 'regress_dave', 'Archive');
SELECT quota_set_pool_enabled('Archive', true);
SELECT * FROM quota_check('gpt-test', 'regress_carol');
SELECT try($$SELECT quota_check(NULL, 'regress_bob')$$);
SELECT try($$SELECT quota_check('no-such-model', 'regress_bob')$$);
SELECT try($$SELECT quota_check('gpt-test', 'nobody')$$);
SELECT try($$SELECT quota_check('gpt-test', 'regress_bob', 'Nowhere')$$);

-- Member limits: alice may use 3 credits of Physics Dept per period.
SELECT pool, final_cost FROM quota_charge('gpt-test', 0, 200000, 'req-14', user_id => 'regress_alice', pool => 'Physics Dept');
SELECT * FROM quota_check('gpt-test', 'regress_alice', 'Physics Dept');
SELECT * FROM try_full($$SELECT quota_charge('gpt-test', 0, 200000, 'req-15', user_id => 'regress_alice', pool => 'Physics Dept')$$);
SELECT pool, final_cost FROM quota_charge('gpt-test', 0, 100000, 'req-16', user_id => 'regress_alice', pool => 'Physics Dept');
SELECT * FROM quota_check('gpt-test', 'regress_alice', 'Physics Dept');
-- the free model is still allowed
SELECT * FROM quota_check('qwen3-moe-onprem', 'regress_alice', 'Physics Dept');

-- Reservations: hold the worst case, settle the actual cost, release.
SELECT quota_reset('Students Pool');
SELECT request_id, pool, held, expires_at > now() AS in_future
  FROM quota_reserve('gpt-test', 1000, 100000, 'req-20', user_id => 'regress_bob');
-- worst case (1000 x 2.5 + 100000 x 10) / 1e6 x 0.8 = 0.802
SELECT balance, held, available FROM quota.pool_status WHERE pool = 'Students Pool';
-- again: the same reservation
SELECT request_id, pool, held FROM quota_reserve('gpt-test', 1000, 100000, 'req-20', user_id => 'regress_bob');
SELECT try($$SELECT quota_reserve('gpt-test', 1000, 100001, 'req-20', user_id => 'regress_bob')$$);
-- settle with the actual usage, after a switch: it stays on its pool
SELECT quota_add_member('Archive', 'regress_bob');
SELECT pool FROM quota_switch('Archive', 'regress_bob');
SELECT pool, final_cost, balance FROM quota_charge('gpt-test', 800, 50000, 'req-20', user_id => 'regress_bob');
SELECT balance, held, available FROM quota.pool_status WHERE pool = 'Students Pool';
SELECT outcome FROM quota.reservations WHERE request_id = 'req-20';
-- settling twice bills once
SELECT pool, final_cost FROM quota_charge('gpt-test', 800, 50000, 'req-20', user_id => 'regress_bob');
SELECT count(*) FROM quota.ledger WHERE request_id = 'req-20';
-- release
SELECT held FROM quota_reserve('gpt-test', 0, 100000, 'req-21', user_id => 'regress_bob', pool => 'Students Pool');
SELECT quota_release('req-21');
SELECT quota_release('req-21');
SELECT try($$SELECT quota_release('no-such-request')$$);
SELECT try($$SELECT quota_release(NULL)$$);
-- a reservation that does not fit: QU001
SELECT * FROM try_full($$SELECT quota_reserve('gpt-test', 0, 10000000, 'req-22', user_id => 'regress_bob', pool => 'Students Pool')$$);
SELECT try($$SELECT quota_reserve('gpt-test', -1, 1, 'req-23', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_reserve('gpt-test', 1, NULL, 'req-23', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_reserve('gpt-test', 1, 1, 'req-23', user_id => 'regress_bob', ttl => '0 seconds')$$);
SELECT try($$SELECT quota_reserve('gpt-test', 1, 1, 'req-23', user_id => 'regress_bob', ttl => '-1 minute')$$);
SELECT try($$SELECT quota_reserve('gpt-test', 1, 1, 'req-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_reserve('gpt-test', 1, 1, 'req-20', user_id => 'regress_alice')$$);

-- Bad input to quota_charge: every required argument, negative tokens,
-- unknown names.  Nothing is recorded.
SELECT count(*) AS ledger_before FROM quota.ledger \gset
SELECT try($$SELECT quota_charge(NULL, 1, 1, 'bad-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', NULL, 1, 'bad-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, NULL, 'bad-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, NULL, user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, 'bad-1', cached_input_tokens => NULL, user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', -1, 1, 'bad-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, -1, 'bad-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, 'bad-1', cached_input_tokens => -1, user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, '', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('no-such-model', 1, 1, 'bad-1', user_id => 'regress_bob')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, 'bad-1', user_id => 'nobody')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, 'bad-1', user_id => 'regress_bob', pool => 'Nowhere')$$);
SELECT try($$SELECT quota_charge('nano', 1, 1, 'bad-1', user_id => 'regress_erin')$$);
SELECT try($$SELECT quota_charge('max', 9223372036854775807, 0, 'bad-1', user_id => 'regress_bob')$$);
SELECT count(*) = :ledger_before AS nothing_recorded FROM quota.ledger;

-- A charge rolled back by its transaction leaves the balance untouched.
SELECT balance AS before FROM quota.pools WHERE pool = 'Students Pool' \gset
BEGIN;
SELECT final_cost FROM quota_charge('gpt-test', 0, 100000, 'req-30', user_id => 'regress_bob', pool => 'Students Pool');
ROLLBACK;
SELECT balance = :'before' AS unchanged FROM quota.pools WHERE pool = 'Students Pool';
-- and so does one in a rolled back savepoint
BEGIN;
SAVEPOINT s;
SELECT final_cost FROM quota_charge('gpt-test', 0, 100000, 'req-31', user_id => 'regress_bob', pool => 'Students Pool');
ROLLBACK TO SAVEPOINT s;
SELECT final_cost FROM quota_charge('gpt-test', 0, 200000, 'req-32', user_id => 'regress_bob', pool => 'Students Pool');
COMMIT;
SELECT balance = :'before'::quota.credits - 1.6 AS one_charge FROM quota.pools WHERE pool = 'Students Pool';
-- two-phase commit of a charge is refused
BEGIN;
SELECT final_cost FROM quota_charge('gpt-test', 0, 100000, 'req-33', user_id => 'regress_bob', pool => 'Students Pool');
PREPARE TRANSACTION 'quota-2pc';
SELECT count(*) FROM quota.ledger WHERE request_id = 'req-33';

SELECT * FROM invariant();
SELECT quota_drop_discount(:student_discount);
