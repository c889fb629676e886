-- guard: what may write quota.ledger and quota.reservations.  A DBA's BEFORE
-- row trigger or rule, which could change or skip the row quota computed, is
-- refused before anything changes (55000); so is a column whose type a DBA
-- changed (42804, with the command that restores it); a row inserted into the
-- ledger by anything but quota's functions is refused for every role,
-- superusers included (42501).  After each attempt every balance is still
-- the sum of its ledger.
\set VERBOSITY default

SET client_min_messages = warning;
SELECT quota_set_model('guard-model', 0, 1000000, 'guard');   -- 1 credit per output token
SELECT quota_set_user('regress_guard');
SELECT quota_create_pool('Guard Pool', 100);
SELECT quota_add_member('Guard Pool', 'regress_guard');
RESET client_min_messages;

-- the pool's money as the escrow sees it, and its ledger and active holds
CREATE FUNCTION public.guard_money() RETURNS TABLE(balance quota.credits,
        ledger quota.credits, held quota.credits, holds quota.credits, ledger_rows bigint)
    LANGUAGE sql AS $$
    SELECT m.balance, (SELECT quota.sum(amount) FROM quota.ledger WHERE pool = 'Guard Pool'),
           m.held, coalesce((SELECT quota.sum(r.held) FROM quota.reservations r
                              WHERE r.pool = 'Guard Pool' AND r.settled_at IS NULL), '0'),
           (SELECT count(*) FROM quota.ledger WHERE pool = 'Guard Pool')
      FROM quota._pool_money('Guard Pool') m
$$;
SELECT * FROM guard_money();

-- 7. A BEFORE INSERT trigger that doubles the amount, or skips the row.
CREATE FUNCTION public.guard_double() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.amount := NEW.amount * 2; RETURN NEW; END $$;
CREATE FUNCTION public.guard_skip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NULL; END $$;
CREATE TRIGGER regress_double BEFORE INSERT ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION public.guard_double();
SELECT * FROM try_full($$SELECT quota_charge('guard-model', 0, 5, 'guard-1', user_id => 'regress_guard')$$);
SELECT try($$SELECT quota_topup('Guard Pool', 1)$$);
SELECT * FROM guard_money();
DROP TRIGGER regress_double ON quota.ledger;

CREATE TRIGGER regress_skip BEFORE INSERT ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION public.guard_skip();
SELECT try($$SELECT quota_charge('guard-model', 0, 5, 'guard-1', user_id => 'regress_guard')$$);
-- 8. the top-up whose INSERT ... RETURNING came back empty (a crash before)
SELECT try($$SELECT quota_topup('Guard Pool', 1)$$);
SELECT * FROM guard_money();
-- disabled, the trigger changes nothing and quota writes again
ALTER TABLE quota.ledger DISABLE TRIGGER regress_skip;
SELECT charge_id > 0 AS charged, final_cost
  FROM quota_charge('guard-model', 0, 5, 'guard-1', user_id => 'regress_guard');
SELECT quota_topup('Guard Pool', 1);
SELECT * FROM guard_money();
DROP TRIGGER regress_skip ON quota.ledger;

-- A BEFORE UPDATE trigger on reservations that skips the settling update
-- would free a hold twice: refused, on the direct path (settle) and on the
-- SQL one (release) alike.
SELECT held FROM quota_reserve('guard-model', 0, 8, 'guard-2', user_id => 'regress_guard');
CREATE TRIGGER regress_skip BEFORE UPDATE ON quota.reservations
    FOR EACH ROW EXECUTE FUNCTION public.guard_skip();
SELECT * FROM try_full($$SELECT quota_release('guard-2')$$);
SELECT try($$SELECT quota_release('guard-2')$$);
SELECT try($$SELECT quota_charge('guard-model', 0, 8, 'guard-2', user_id => 'regress_guard')$$);
SELECT try($$SELECT quota_reserve('guard-model', 0, 1, 'guard-3', user_id => 'regress_guard')$$);
SELECT * FROM guard_money();
DROP TRIGGER regress_skip ON quota.reservations;
SELECT quota_release('guard-2');
SELECT quota_release('guard-2');
SELECT * FROM guard_money();

-- Rules would do the same to quota's SQL writes: refused too.
CREATE RULE regress_rule AS ON INSERT TO quota.ledger DO ALSO NOTIFY regress_rule;
SELECT * FROM try_full($$SELECT quota_topup('Guard Pool', 1)$$);
SELECT try($$SELECT quota_charge('guard-model', 0, 1, 'guard-4', user_id => 'regress_guard')$$);
DROP RULE regress_rule ON quota.ledger;
SELECT * FROM guard_money();

-- 9. A retyped column: a clean error telling what to restore (a crash before).
BEGIN;
ALTER TABLE quota.ledger ALTER COLUMN balance_after TYPE numeric USING balance_after::text::numeric;
SELECT * FROM try_full($$SELECT quota_charge('guard-model', 0, 1, 'guard-5', user_id => 'regress_guard')$$);
SELECT * FROM try_full($$SELECT quota_topup('Guard Pool', 1)$$);
ROLLBACK;
BEGIN;
ALTER TABLE quota.reservations ALTER COLUMN held TYPE numeric USING held::text::numeric;
SELECT * FROM try_full($$SELECT quota_reserve('guard-model', 0, 1, 'guard-5', user_id => 'regress_guard')$$);
ROLLBACK;
BEGIN;
ALTER TABLE quota.reservations ALTER COLUMN max_output_tokens TYPE integer;
SELECT try($$SELECT quota_reserve('guard-model', 0, 1, 'guard-5', user_id => 'regress_guard')$$);
ROLLBACK;
SELECT * FROM guard_money();

-- 10. A direct INSERT into the ledger is refused, for a superuser too, also
-- with triggers in replica mode and with row_security off (the ledger is
-- not empty, so this is no restore).
SELECT * FROM try_full($$INSERT INTO quota.ledger (pool, kind, amount) VALUES ('Guard Pool', 'topup', 50)$$);
SET session_replication_role = replica;
SELECT try($$INSERT INTO quota.ledger (pool, kind, amount) VALUES ('Guard Pool', 'topup', 50)$$);
RESET session_replication_role;
SET row_security = off;
SELECT try($$INSERT INTO quota.ledger (pool, kind, amount) VALUES ('Guard Pool', 'topup', 50)$$);
SELECT try($$COPY quota.ledger (pool, kind, amount) FROM PROGRAM 'printf ''Guard Pool\ttopup\t50\n'''$$);
RESET row_security;
SELECT try($$INSERT INTO quota.ledger (pool, kind, amount)
             SELECT pool, 'adjust', -amount FROM quota.ledger WHERE pool = 'Guard Pool'$$);
-- a role given INSERT on the ledger is refused as well
CREATE ROLE regress_guard_dba NOLOGIN;
GRANT USAGE ON SCHEMA quota TO regress_guard_dba;
GRANT INSERT ON quota.ledger TO regress_guard_dba;
CREATE POLICY regress_insert ON quota.ledger FOR INSERT TO regress_guard_dba WITH CHECK (true);
SET ROLE regress_guard_dba;
SELECT try($$INSERT INTO quota.ledger (pool, kind, amount) VALUES ('Guard Pool', 'topup', 50)$$);
RESET ROLE;
DROP POLICY regress_insert ON quota.ledger;
REVOKE ALL ON quota.ledger FROM regress_guard_dba;
REVOKE ALL ON SCHEMA quota FROM regress_guard_dba;
DROP ROLE regress_guard_dba;
-- quota's own write announces one row: a DBA's column default that slips in
-- a row of the same pool, kind and amount takes its place, and quota's row
-- is refused: nothing is written
CREATE FUNCTION public.guard_smuggle() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('regress.smuggle', true) = 'on' THEN
        PERFORM set_config('regress.smuggle', 'off', true);
        INSERT INTO quota.ledger (pool, kind, amount, note)
        VALUES ('Guard Pool', 'topup', 7, 'smuggled');
    END IF;
    RETURN 'x';
END $$;
ALTER TABLE quota.ledger ADD COLUMN regress_smuggle text DEFAULT public.guard_smuggle();
SET regress.smuggle = on;
SELECT try($$SELECT quota_topup('Guard Pool', 7)$$);
RESET regress.smuggle;
ALTER TABLE quota.ledger DROP COLUMN regress_smuggle;
-- the guard belongs on the ledger only
CREATE TABLE public.guard_other (x int);
CREATE TRIGGER regress_guard BEFORE INSERT ON public.guard_other
    FOR EACH ROW EXECUTE FUNCTION quota._ledger_guard();
SELECT try($$INSERT INTO public.guard_other VALUES (1)$$);
DROP TABLE public.guard_other;
-- and switched off, or left to session_replication_role, quota refuses to
-- write until it is enabled always again
ALTER TABLE quota.ledger DISABLE TRIGGER ledger_insert_guard;
SELECT * FROM try_full($$SELECT quota_topup('Guard Pool', 1)$$);
ALTER TABLE quota.ledger ENABLE TRIGGER ledger_insert_guard;
SELECT try($$SELECT quota_charge('guard-model', 0, 1, 'guard-5', user_id => 'regress_guard')$$);
ALTER TABLE quota.ledger ENABLE ALWAYS TRIGGER ledger_insert_guard;
SELECT * FROM guard_money();

-- quota's own writes pass: top-up, adjustment, charge, reservation and
-- settlement, reset; the balance stays the sum of the ledger
SELECT quota_topup('Guard Pool', 50);
SELECT quota_adjust('Guard Pool', -2, 'guard test');
SELECT final_cost FROM quota_charge('guard-model', 0, 3, 'guard-6', user_id => 'regress_guard');
SELECT held FROM quota_reserve('guard-model', 0, 4, 'guard-7', user_id => 'regress_guard');
SELECT final_cost FROM quota_charge('guard-model', 0, 2, 'guard-7', user_id => 'regress_guard');
SELECT quota_reset('Guard Pool');
SELECT * FROM guard_money();
SELECT * FROM invariant() WHERE NOT ok;

DROP FUNCTION public.guard_money(), public.guard_double(), public.guard_skip(),
    public.guard_smuggle();
