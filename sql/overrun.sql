-- overrun: a settlement within its reservation's declared maxima always
-- settles, beyond them it is gated like a new charge, and no amount can wrap
-- a balance around (issue 14, item 1; SPEC rule 4).
\set VERBOSITY default

CREATE ROLE regress_wendy NOLOGIN IN ROLE quota_user;
SELECT quota_set_user('regress_wendy');
SELECT quota_set_model('wrap-m', 1000000, 1000000, 'api');     -- 1 credit a token
SELECT quota_create_pool('Wrap Pool', 100, reset_policy => 'none');
SELECT quota_add_member('Wrap Pool', 'regress_wendy');
-- (only its own model, so that hints do not list other tests' free models)
SELECT quota_set_pool_models('Wrap Pool', ARRAY['wrap-m']);

-- ttl is at most quota.max_reservation_ttl (default 1 day, superuser only)
SHOW quota.max_reservation_ttl;
SET ROLE regress_wendy;
SELECT * FROM try_full($$SELECT quota_reserve('wrap-m', 1, 1, 'w-ttl', pool => 'Wrap Pool', ttl => '25 hours')$$);
SELECT * FROM try_full($$SELECT quota_reserve('wrap-m', 1, 1, 'w-ttl', pool => 'Wrap Pool', ttl => '1 mon')$$);
SELECT try($$SET quota.max_reservation_ttl = '3d'$$);
SELECT request_id, held FROM quota_reserve('wrap-m', 1, 1, 'w-ttl', pool => 'Wrap Pool', ttl => '1 day');
SELECT quota_release('w-ttl');
RESET ROLE;
SET quota.max_reservation_ttl = '3d';
SELECT request_id, held, expires_at - now() AS ttl
  FROM quota_reserve('wrap-m', 1, 1, 'w-ttl-2', user_id => 'regress_wendy',
                     pool => 'Wrap Pool', ttl => '2 days');
SELECT quota_release('w-ttl-2');
RESET quota.max_reservation_ttl;

-- The issue's scenario, as a plain member: two reservations of one token
-- each, settled with 9,000,000,000 input tokens.  Usage beyond the maxima
-- must fit in available plus the hold it frees: QU001, nothing changes.
SET ROLE regress_wendy;
SELECT request_id, pool, held FROM quota_reserve('wrap-m', 1, 1, 'w-1', pool => 'Wrap Pool');
SELECT request_id, pool, held FROM quota_reserve('wrap-m', 1, 1, 'w-2', pool => 'Wrap Pool');
SELECT * FROM try_full($$SELECT quota_charge('wrap-m', 9000000000, 0, 'w-1')$$);
SELECT * FROM try_full($$SELECT quota_charge('wrap-m', 9000000000, 0, 'w-2')$$);
SELECT allowed, available, reason FROM quota_check('wrap-m', pool => 'Wrap Pool');
SELECT try($$SELECT quota_charge('wrap-m', 1000, 0, 'w-3', pool => 'Wrap Pool')$$);
RESET ROLE;
SELECT pool, balance, held, available, used FROM quota.pool_status WHERE pool = 'Wrap Pool';
SELECT quota.sum(amount) AS ledger_sum FROM quota.ledger WHERE pool = 'Wrap Pool';
SELECT count(*) AS charges FROM quota.ledger WHERE pool = 'Wrap Pool' AND kind = 'charge';

-- beyond the maxima but within available plus the freed hold: billed
SET ROLE regress_wendy;
SELECT final_cost, balance FROM quota_charge('wrap-m', 90, 8, 'w-1');
-- cached input tokens count against max_input_tokens
SELECT try($$SELECT quota_charge('wrap-m', 1, 0, 'w-2', cached_input_tokens => 100)$$);
SELECT final_cost, balance FROM quota_charge('wrap-m', 0, 1, 'w-2', cached_input_tokens => 1);
RESET ROLE;

-- beyond the maxima, a member limit applies too (the freed hold counted)
SELECT quota_topup('Wrap Pool', 1000);
SELECT quota_add_member('Wrap Pool', 'regress_wendy', member_limit => 110);
SET ROLE regress_wendy;
SELECT request_id, held FROM quota_reserve('wrap-m', 1, 1, 'w-4', pool => 'Wrap Pool');
SELECT * FROM try_full($$SELECT quota_charge('wrap-m', 11, 0, 'w-4')$$);
SELECT final_cost, balance FROM quota_charge('wrap-m', 3, 0, 'w-4');
RESET ROLE;
SELECT quota_add_member('Wrap Pool', 'regress_wendy');

-- Within the maxima a settlement always succeeds, even past zero and after
-- its reservation was released: here prices rose a billionfold after the
-- reservations were made.
SELECT quota_set_model('wrap-m', 0.000000001, 0.000000001, 'api');
SET ROLE regress_wendy;
SELECT request_id, held FROM quota_reserve('wrap-m', 9000000000, 0, 'w-5', pool => 'Wrap Pool');
SELECT request_id, held FROM quota_reserve('wrap-m', 9000000000, 0, 'w-6', pool => 'Wrap Pool');
SELECT request_id, held FROM quota_reserve('wrap-m', 1000, 1000, 'w-7', pool => 'Wrap Pool');
SELECT quota_release('w-7');
RESET ROLE;
SELECT quota_set_model('wrap-m', 1000000, 1000000, 'api');
SET ROLE regress_wendy;
SELECT final_cost, balance FROM quota_charge('wrap-m', 1000, 1000, 'w-7');
SELECT final_cost, balance FROM quota_charge('wrap-m', 9000000000, 0, 'w-5');
-- a second one would take the pool out of range: 22003, nothing changes
SELECT * FROM try_full($$SELECT quota_charge('wrap-m', 9000000000, 0, 'w-6')$$);
-- the pool is blocked, not wrapped around
SELECT allowed, available, reason FROM quota_check('wrap-m', pool => 'Wrap Pool');
SELECT try($$SELECT quota_charge('wrap-m', 1000, 0, 'w-8', pool => 'Wrap Pool')$$);
RESET ROLE;
SELECT pool, balance, available FROM quota.pool_status WHERE pool = 'Wrap Pool';
SELECT quota.sum(amount) AS ledger_sum FROM quota.ledger WHERE pool = 'Wrap Pool';
SELECT request_id, outcome FROM quota.reservations
 WHERE pool = 'Wrap Pool' ORDER BY request_id COLLATE "C";

-- administrators' corrections are checked the same way
SELECT try($$SELECT quota_adjust('Wrap Pool', -300000000, 'too far')$$);
SELECT try($$SELECT quota_adjust('Wrap Pool', -9223372036.854775807, 'far too far')$$);
SELECT quota_create_pool('Full Pool', 9000000000, reset_policy => 'none');
SELECT try($$SELECT quota_topup('Full Pool', 300000000)$$);
-- two top-ups in one transaction that do not fit together
BEGIN;
SELECT quota_topup('Full Pool', 200000000);
SELECT try($$SELECT quota_topup('Full Pool', 200000000)$$);
COMMIT;
SELECT pool, balance FROM quota.pools WHERE pool IN ('Full Pool', 'Wrap Pool')
 ORDER BY pool COLLATE "C";
SELECT * FROM invariant() WHERE pool IN ('Full Pool', 'Wrap Pool');
