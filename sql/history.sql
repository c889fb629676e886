-- history: seals of the ledger (quota_seal), usage rollups (usage_daily),
-- archiving (quota_archive), quota_verify, and their errors.
\set VERBOSITY default
CREATE ROLE regress_hana NOLOGIN IN ROLE quota_user;
CREATE ROLE regress_ivan NOLOGIN IN ROLE quota_user;
SELECT quota_set_user('regress_hana', '{hist}');
SELECT quota_set_user('regress_ivan', '{hist}');
SELECT quota_set_model('hist-m', 1, 2);
SELECT quota_create_pool('Hist Pool', 100, reset_timezone => 'Pacific/Kiritimati');
SELECT quota_grant_group('Hist Pool', 'hist');
SELECT quota_add_member('Hist Pool', 'regress_carol', 'admin');
SELECT count(*) AS charged
  FROM generate_series(1, 6) i,
       LATERAL quota_charge('hist-m', 1000, 1000, 'hist-' || i,
                            user_id => CASE WHEN i % 2 = 0 THEN 'regress_hana' ELSE 'regress_ivan' END);

-- a seal covers every entry so far; a second one has nothing more to do
SELECT quota_seal() = (SELECT max(entry_id) FROM quota.ledger) AS sealed_to_the_end;
SELECT quota_seal() = (SELECT sealed_upto FROM quota.ledger_seal) AS idempotent;
SELECT balance, entries FROM quota.pool_seals WHERE pool = 'Hist Pool';
SELECT requests, input_tokens, output_tokens, original_cost, final_cost,
       day = (now() AT TIME ZONE 'Pacific/Kiritimati')::date AS kiritimati_today
  FROM quota.usage_rollup WHERE pool = 'Hist Pool';

-- two more charges stay in the unsealed tail; every view counts both parts
SELECT final_cost FROM quota_charge('hist-m', 1000, 0, 'hist-7', user_id => 'regress_hana');
SELECT final_cost FROM quota_charge('hist-m', 0, 1000, 'hist-8', user_id => 'regress_ivan');
SELECT requests, tokens, original_cost, final_cost,
       day = (now() AT TIME ZONE 'Pacific/Kiritimati')::date AS kiritimati_today
  FROM quota.usage_daily WHERE pool = 'Hist Pool';
SELECT balance FROM quota.pool_status WHERE pool = 'Hist Pool';
SELECT * FROM quota_verify() WHERE pool = 'Hist Pool';
SELECT count(*) FILTER (WHERE NOT ok) AS mismatches FROM quota_verify();

-- usage_daily under row-level security: a member sees their own charges,
-- the pool's administrator the whole pool, sealed and unsealed
SET ROLE regress_hana;
SELECT pool, requests, tokens, final_cost FROM quota.usage_daily;
SELECT count(*) FROM quota.usage_rollup;
RESET ROLE;
SET ROLE regress_carol;
SELECT pool, requests, tokens, final_cost FROM quota.usage_daily WHERE pool = 'Hist Pool';
SELECT pool, requests FROM quota.usage_rollup WHERE pool = 'Hist Pool';
SELECT pool, entries FROM quota.pool_seals WHERE pool = 'Hist Pool';
RESET ROLE;
SELECT quota_seal() > 0 AS sealed;
SET ROLE regress_carol;
SELECT pool, requests, tokens, final_cost FROM quota.usage_daily WHERE pool = 'Hist Pool';
RESET ROLE;

-- only quota_admin seals, archives and verifies
SET ROLE regress_alice;
SELECT try($$SELECT quota.quota_seal()$$);
SELECT try($$SELECT * FROM quota.quota_archive(now())$$);
SELECT try($$SELECT * FROM quota.quota_verify()$$);
SELECT try($$SELECT * FROM quota.ledger_archive$$);
RESET ROLE;
SET ROLE regress_admin;
SELECT quota_seal() = (SELECT max(entry_id) FROM quota.ledger) AS admin_seals;
SELECT count(*) AS nothing_old_enough FROM quota_archive(now());
RESET ROLE;

-- bad input changes nothing
SELECT sealed_upto AS before FROM quota.ledger_seal \gset
SELECT quota_seal(NULL);
SELECT quota_seal('-1 second');
SELECT quota_seal('2 hours');
SELECT * FROM quota_archive(NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT quota_seal();
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT * FROM quota_archive(now() - interval '1 year');
ROLLBACK;
SELECT sealed_upto = :before AS unchanged FROM quota.ledger_seal;

-- quota_run_due seals too, quietly; in REPEATABLE READ it leaves it
SELECT quota_charge('hist-m', 10, 10, 'hist-9', user_id => 'regress_hana') IS NOT NULL AS charged;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT resets >= 0 AS ran FROM quota_run_due();
SELECT sealed_upto = :before AS not_sealed_in_rr FROM quota.ledger_seal;
COMMIT;
SELECT resets >= 0 AS ran FROM quota_run_due();
SELECT sealed_upto = (SELECT max(entry_id) FROM quota.ledger) AS sealed_by_run_due FROM quota.ledger_seal;

-- the ledger stays append-only: only quota_archive deletes
SELECT try($$DELETE FROM quota.ledger WHERE request_id = 'hist-1'$$);
SELECT try($$UPDATE quota.ledger SET amount = 0 WHERE request_id = 'hist-1'$$);
SELECT try($$TRUNCATE quota.ledger$$);
SELECT * FROM invariant() WHERE NOT ok;

-- seals need the ledger's ids handed out in order: no sequence cache
ALTER SEQUENCE quota.ledger_entry_id_seq CACHE 10;
SELECT quota_seal();
ALTER SEQUENCE quota.ledger_entry_id_seq CACHE 1;
SELECT quota_seal() >= :before AS seals_again;

-- a pool cap's window: its sealed days from the rollups (the pool's first
-- rollups were counted in its zone: since -infinity), its unsealed
-- charges from the ledger; the same sum as the ledger's
SELECT zone, zone_since FROM quota.pool_seals WHERE pool = 'Hist Pool';
SELECT final_cost FROM quota_charge('hist-m', 1000, 1000, 'hist-10', user_id => 'regress_hana');
CREATE FUNCTION pg_temp.ledger_window(p text, s timestamptz, e timestamptz) RETURNS numeric
    LANGUAGE sql AS $$
    SELECT coalesce(-sum(amount::numeric), 0) FROM quota.ledger
     WHERE pool = p AND kind = 'charge' AND at >= s AND at < e $$;
SELECT per, quota._pool_window_charges('Hist Pool', w.window_start, w.window_end) AS charges,
       quota._pool_window_charges('Hist Pool', w.window_start, w.window_end)
         = pg_temp.ledger_window('Hist Pool', w.window_start, w.window_end) AS as_ledger
  FROM unnest(ARRAY['day', 'week', 'month']) per,
       LATERAL quota._cap_window(per, 'Pacific/Kiritimati', now()) w;
-- (the rollups are read indeed: a change to them shows; rolled back)
BEGIN;
UPDATE quota.usage_rollup SET final_cost = final_cost + 1000 WHERE pool = 'Hist Pool';
SELECT quota._pool_window_charges('Hist Pool', w.window_start, w.window_end)
         - pg_temp.ledger_window('Hist Pool', w.window_start, w.window_end) AS from_rollups
  FROM quota._cap_window('day', 'Pacific/Kiritimati', now()) w;
-- a window that is not whole days of the zone is summed from the ledger
-- (compared, not shown: in the zone's first hour of the day it is empty)
SELECT quota._pool_window_charges('Hist Pool', w.window_start + interval '1 hour', w.window_end)
         = pg_temp.ledger_window('Hist Pool', w.window_start + interval '1 hour', w.window_end) AS from_ledger
  FROM quota._cap_window('day', 'Pacific/Kiritimati', now()) w;
ROLLBACK;
-- after a change of the pool's zone the rollups' days do not match its
-- windows: the next seal notes the new zone from now on, and windows that
-- began before are summed from the ledger
UPDATE quota.pools SET reset_timezone = 'Asia/Hong_Kong' WHERE pool = 'Hist Pool';
SELECT final_cost FROM quota_charge('hist-m', 1000, 1000, 'hist-11', user_id => 'regress_hana');
SELECT quota_seal() = (SELECT max(entry_id) FROM quota.ledger) AS sealed;
SELECT zone, zone_since > now() - interval '1 hour' AND zone_since <= clock_timestamp() AS since_this_seal
  FROM quota.pool_seals WHERE pool = 'Hist Pool';
BEGIN;
UPDATE quota.usage_rollup SET final_cost = final_cost + 1000 WHERE pool = 'Hist Pool';
SELECT per, quota._pool_window_charges('Hist Pool', w.window_start, w.window_end)
         = pg_temp.ledger_window('Hist Pool', w.window_start, w.window_end) AS from_ledger
  FROM unnest(ARRAY['day', 'week', 'month']) per,
       LATERAL quota._cap_window(per, 'Asia/Hong_Kong', now()) w;
ROLLBACK;
SELECT * FROM quota._pool_window_charges(NULL, now(), now());
SELECT quota._pool_window_charges('No Such Pool', now() - interval '1 day', now()) AS no_pool;

-- Prices change: setting the same prices keeps the model's row of
-- quota.model_prices; new prices get a new row, which later charges
-- record; earlier charges keep theirs.
SELECT price_id AS old_prices FROM quota.models WHERE model = 'hist-m' \gset
SELECT quota_set_model('hist-m', 1, 2);
SELECT price_id = :old_prices AS same_row FROM quota.models WHERE model = 'hist-m';
SELECT quota_set_model('hist-m', 2, 4, cached_input_price => 0.5, request_price => 0.001);
SELECT price_id > :old_prices AS new_row FROM quota.models WHERE model = 'hist-m';
SELECT final_cost FROM quota_charge('hist-m', 1000, 500, 'hist-price', user_id => 'regress_hana');
SELECT request_id, input_price, cached_input_price, output_price, request_price,
       original_cost, final_cost
  FROM quota.charges WHERE request_id IN ('hist-1', 'hist-price') ORDER BY request_id;
SELECT model, input_price, cached_input_price, output_price, request_price
  FROM quota.model_prices WHERE model = 'hist-m' ORDER BY price_id;
-- back to the old prices: a row of their own again (rows are only added)
SELECT quota_set_model('hist-m', 1, 2);
SELECT count(*) AS rows_of_hist_m FROM quota.model_prices WHERE model = 'hist-m';
-- a change written into quota.models directly gets its row too
UPDATE quota.models SET output_price = 3, price_id = 1 WHERE model = 'hist-m';
SELECT m.output_price, p.output_price AS recorded, m.price_id > 1 AS own_row
  FROM quota.models m JOIN quota.model_prices p USING (price_id) WHERE m.model = 'hist-m';
SELECT quota_set_model('hist-m', 1, 2);
-- a role of the service reads the prices, cannot change them
SET ROLE regress_hana;
SELECT input_price FROM quota.charges WHERE request_id = 'hist-price';
SELECT try($$UPDATE quota.model_prices SET input_price = 0$$);
SELECT try($$INSERT INTO quota.model_prices (model, input_price, cached_input_price, output_price, request_price) VALUES ('x', 0, 0, 0, 0)$$);
RESET ROLE;
SELECT count(*) FILTER (WHERE NOT ok) AS mismatches FROM quota_verify();
