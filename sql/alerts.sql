-- alerts: usage warnings once per threshold per period (quota.alerts; the
-- NOTIFY itself is tested in test/t/005_alerts.pl).
\set VERBOSITY default

-- A priced model at 1 credit per token, a pool of 100 and one member.
SELECT quota_set_model('alert-m', 1000000, 1000000, 'api');
SELECT quota_set_user('regress_alert_user', '{}');
SELECT quota_set_user('regress_alert_other', '{}');
SELECT quota_create_pool('Alert Lab', 100);
SELECT quota_add_member('Alert Lab', 'regress_alert_user');
SELECT pool, p.warn_at, d.period_funds, p.balance
  FROM quota.pools p JOIN quota.pool_defs d USING (pool) WHERE pool = 'Alert Lab';

-- Below 80 % nothing; the charge reaching 80 writes the 0.8 warning.
SELECT final_cost, balance FROM quota_charge('alert-m', 79, 0, 'al-1', user_id => 'regress_alert_user');
SELECT count(*) AS alerts FROM quota.alerts WHERE pool = 'Alert Lab';
SELECT final_cost, balance FROM quota_charge('alert-m', 1, 0, 'al-2', user_id => 'regress_alert_user');
SELECT pool, threshold, used, allowance, user_id, request_id,
       period_start = (SELECT period_start FROM quota.pool_defs WHERE pool = 'Alert Lab') AS this_period
  FROM quota.alerts WHERE pool = 'Alert Lab' ORDER BY alert_id;
-- further charges below 95 % add nothing; the one reaching 96 writes 0.95
SELECT final_cost FROM quota_charge('alert-m', 10, 0, 'al-3', user_id => 'regress_alert_user');
SELECT count(*) AS alerts FROM quota.alerts WHERE pool = 'Alert Lab';
SELECT final_cost FROM quota_charge('alert-m', 6, 0, 'al-4', user_id => 'regress_alert_user');
SELECT threshold, used, request_id FROM quota.alerts WHERE pool = 'Alert Lab' ORDER BY alert_id;
-- past both: nothing more, and a repeated request is not a new charge
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'al-5', user_id => 'regress_alert_user');
SELECT final_cost FROM quota_charge('alert-m', 6, 0, 'al-4', user_id => 'regress_alert_user');
SELECT count(*) AS alerts FROM quota.alerts WHERE pool = 'Alert Lab';

-- A top-up adds funds, not usage: used stays 97, no new warning.
SELECT quota_topup('Alert Lab', 100);
SELECT d.period_funds, p.balance, d.period_funds - p.balance AS used
  FROM quota.pools p JOIN quota.pool_defs d USING (pool) WHERE pool = 'Alert Lab';
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'al-6', user_id => 'regress_alert_user');
SELECT count(*) AS alerts FROM quota.alerts WHERE pool = 'Alert Lab';

-- A reset starts a new period: its warnings start again from zero.
SELECT quota_reset('Alert Lab');
SELECT d.period_funds, p.balance FROM quota.pools p JOIN quota.pool_defs d USING (pool)
 WHERE pool = 'Alert Lab';
SELECT final_cost FROM quota_charge('alert-m', 85, 0, 'al-7', user_id => 'regress_alert_user');
SELECT threshold, used, request_id, period_start = (SELECT period_start FROM quota.pool_defs
                                                     WHERE pool = 'Alert Lab') AS this_period
  FROM quota.alerts WHERE pool = 'Alert Lab' ORDER BY alert_id;

-- A rolled-back charge leaves no warning; the next charge writes it.
BEGIN;
SELECT final_cost FROM quota_charge('alert-m', 11, 0, 'al-8', user_id => 'regress_alert_user');
SELECT count(*) AS alerts_in_xact FROM quota.alerts WHERE pool = 'Alert Lab';
ROLLBACK;
SELECT count(*) AS alerts_after_rollback FROM quota.alerts WHERE pool = 'Alert Lab';
SELECT final_cost FROM quota_charge('alert-m', 11, 0, 'al-9', user_id => 'regress_alert_user');
SELECT threshold, used, request_id FROM quota.alerts WHERE pool = 'Alert Lab' ORDER BY alert_id;

-- Thresholds are configurable: new ones count from the period's usage.
SELECT quota_reset('Alert Lab');
UPDATE quota.pools SET warn_at = '{0.25,0.5}' WHERE pool = 'Alert Lab';
SELECT final_cost FROM quota_charge('alert-m', 30, 0, 'al-10', user_id => 'regress_alert_user');
SELECT threshold, used FROM quota.alerts
 WHERE pool = 'Alert Lab' AND period_start = (SELECT period_start FROM quota.pool_defs
                                              WHERE pool = 'Alert Lab')
 ORDER BY alert_id;
SELECT * FROM try_full($$UPDATE quota.pools SET warn_at = '{0,0.5}' WHERE pool = 'Alert Lab'$$);
SELECT * FROM try_full($$UPDATE quota.pools SET warn_at = '{1.5}' WHERE pool = 'Alert Lab'$$);
SELECT * FROM try_full($$UPDATE quota.pools SET warn_at = '{0.5,NULL}' WHERE pool = 'Alert Lab'$$);
SELECT * FROM try_full($$UPDATE quota.pools SET warn_at = NULL WHERE pool = 'Alert Lab'$$);
SELECT * FROM try_full($$UPDATE quota.pool_defs SET warn_at = '{{0.5},{0.6}}' WHERE pool = 'Alert Lab'$$);
SELECT warn_at FROM quota.pools WHERE pool = 'Alert Lab';

-- A reservation's settlement counts when it is charged, not when held.
SELECT held FROM quota_reserve('alert-m', 40, 0, 'al-11', user_id => 'regress_alert_user');
SELECT count(*) AS alerts_after_hold FROM quota.alerts
 WHERE pool = 'Alert Lab' AND threshold = 0.5
   AND period_start = (SELECT period_start FROM quota.pool_defs WHERE pool = 'Alert Lab');
SELECT final_cost FROM quota_charge('alert-m', 25, 0, 'al-11', user_id => 'regress_alert_user');
SELECT threshold, used, request_id FROM quota.alerts
 WHERE pool = 'Alert Lab'
   AND period_start = (SELECT period_start FROM quota.pool_defs WHERE pool = 'Alert Lab')
 ORDER BY alert_id;

-- Free models and pools without an allowance never warn.
SELECT quota_set_model('alert-free', 0, 0, 'api');
SELECT quota_create_pool('Alert Zero', 0);
SELECT quota_topup('Alert Zero', 10);
SELECT quota_add_member('Alert Zero', 'regress_alert_user');
SELECT final_cost FROM quota_charge('alert-m', 9, 0, 'al-12', user_id => 'regress_alert_user',
                                    pool => 'Alert Zero');
SELECT final_cost FROM quota_charge('alert-free', 1000, 1000, 'al-13', user_id => 'regress_alert_user',
                                    pool => 'Alert Zero');
SELECT count(*) AS zero_pool_alerts FROM quota.alerts WHERE pool = 'Alert Zero';
-- and '{}' turns a pool's warnings off
UPDATE quota.pools SET warn_at = '{}' WHERE pool = 'Alert Lab';
SELECT final_cost FROM quota_charge('alert-m', 40, 0, 'al-14', user_id => 'regress_alert_user');
SELECT count(*) AS alerts_when_off FROM quota.alerts
 WHERE pool = 'Alert Lab'
   AND period_start = (SELECT period_start FROM quota.pool_defs WHERE pool = 'Alert Lab');
-- the pool's usage as quota.pool_status shows it
SELECT pool, allowance, balance, used, used_pct FROM quota.pool_status WHERE pool LIKE 'Alert%'
 ORDER BY pool COLLATE "C";

-- A crossing that rolled back is announced by the next one, once, on the
-- same connection: after a ROLLBACK, a rolled-back savepoint and an
-- exception block, each having charged across 0.8 twice.
SELECT quota_create_pool(p, 100) FROM unnest(ARRAY['Alert Undo', 'Alert Savepoint', 'Alert Block']) p;
SELECT quota_add_member(p, 'regress_alert_user')
  FROM unnest(ARRAY['Alert Undo', 'Alert Savepoint', 'Alert Block']) p;
BEGIN;
SELECT final_cost FROM quota_charge('alert-m', 85, 0, 'au-1', user_id => 'regress_alert_user', pool => 'Alert Undo');
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'au-2', user_id => 'regress_alert_user', pool => 'Alert Undo');
ROLLBACK;
SELECT count(*) AS alerts_after_rollback FROM quota.alerts WHERE pool = 'Alert Undo';
SELECT final_cost FROM quota_charge('alert-m', 85, 0, 'au-3', user_id => 'regress_alert_user', pool => 'Alert Undo');
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'au-4', user_id => 'regress_alert_user', pool => 'Alert Undo');
BEGIN;
SAVEPOINT s;
SELECT final_cost FROM quota_charge('alert-m', 85, 0, 'as-1', user_id => 'regress_alert_user', pool => 'Alert Savepoint');
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'as-2', user_id => 'regress_alert_user', pool => 'Alert Savepoint');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS alerts_after_savepoint FROM quota.alerts WHERE pool = 'Alert Savepoint';
SELECT final_cost FROM quota_charge('alert-m', 85, 0, 'as-3', user_id => 'regress_alert_user', pool => 'Alert Savepoint');
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'as-4', user_id => 'regress_alert_user', pool => 'Alert Savepoint');
COMMIT;
DO $$
BEGIN
    PERFORM quota_charge('alert-m', 85, 0, 'ab-1', user_id => 'regress_alert_user', pool => 'Alert Block');
    PERFORM quota_charge('alert-m', 1, 0, 'ab-2', user_id => 'regress_alert_user', pool => 'Alert Block');
    RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
    NULL;
END
$$;
SELECT count(*) AS alerts_after_block FROM quota.alerts WHERE pool = 'Alert Block';
SELECT final_cost FROM quota_charge('alert-m', 85, 0, 'ab-3', user_id => 'regress_alert_user', pool => 'Alert Block');
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'ab-4', user_id => 'regress_alert_user', pool => 'Alert Block');
-- exactly one warning each, by the charge that crossed after the rollback
SELECT pool, threshold, used, request_id FROM quota.alerts
 WHERE pool IN ('Alert Undo', 'Alert Savepoint', 'Alert Block')
 ORDER BY pool COLLATE "C", threshold;
-- and once known, it is not written again
SELECT final_cost FROM quota_charge('alert-m', 1, 0, 'au-5', user_id => 'regress_alert_user', pool => 'Alert Undo');
SELECT count(*) AS alerts_undo FROM quota.alerts WHERE pool = 'Alert Undo';

-- Row-level security: the pool's member sees its warnings, another user not;
-- nobody but quota's functions writes them.
CREATE ROLE regress_alert_user NOLOGIN IN ROLE quota_user;
CREATE ROLE regress_alert_other NOLOGIN IN ROLE quota_user;
SET ROLE regress_alert_user;
SELECT count(*) > 0 AS member_sees FROM quota.alerts WHERE pool = 'Alert Lab';
SELECT try($$DELETE FROM quota.alerts$$);
SELECT try($$INSERT INTO quota.alerts (pool, threshold, period_start, used, allowance)
             VALUES ('Alert Lab', 0.1, now(), 1, 1)$$);
SET ROLE regress_alert_other;
SELECT count(*) AS other_sees FROM quota.alerts WHERE pool = 'Alert Lab';
RESET ROLE;
SELECT * FROM invariant() WHERE pool LIKE 'Alert%';
DROP ROLE regress_alert_user, regress_alert_other;
