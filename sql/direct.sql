-- direct: the charge and reservation paths write quota.ledger and
-- quota.reservations without SQL statements (src/direct.c).  What a DBA may
-- add to those tables still applies: AFTER row triggers, CHECK constraints
-- and column defaults; and a refused row changes nothing.
\set VERBOSITY default

SET client_min_messages = warning;
SELECT quota_set_user('regress_direct');
SELECT quota_create_pool('Direct Pool', 10);
SELECT quota_add_member('Direct Pool', 'regress_direct');
RESET client_min_messages;

-- Row triggers: AFTER INSERT fires and sees the row; a BEFORE row trigger,
-- which could change or skip the row quota computed, is refused (guard.sql).
CREATE TABLE public.direct_audit (tab text, request_id text, note text, outcome text);
CREATE FUNCTION public.direct_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.note := 'noted by a trigger'; RETURN NEW; END $$;
CREATE FUNCTION public.direct_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'ledger' THEN
        INSERT INTO public.direct_audit VALUES (TG_TABLE_NAME, NEW.request_id, NEW.note, NULL);
    ELSE
        INSERT INTO public.direct_audit VALUES (TG_TABLE_NAME, NEW.request_id, NULL,
                                                coalesce(NEW.outcome, TG_OP));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER regress_note BEFORE INSERT ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION public.direct_note();
CREATE TRIGGER regress_audit AFTER INSERT ON quota.ledger
    FOR EACH ROW EXECUTE FUNCTION public.direct_audit();
CREATE TRIGGER regress_audit AFTER INSERT OR UPDATE ON quota.reservations
    FOR EACH ROW EXECUTE FUNCTION public.direct_audit();
SELECT try($$SELECT quota_charge('gpt-test', 1000, 500, 'direct-1', user_id => 'regress_direct')$$);
DROP TRIGGER regress_note ON quota.ledger;

SELECT pool, final_cost FROM quota_charge('gpt-test', 1000, 500, 'direct-1',
                                          user_id => 'regress_direct');
SELECT request_id, note FROM quota.ledger WHERE request_id = 'direct-1';
SELECT pool, held FROM quota_reserve('gpt-test', 1000, 1000, 'direct-2',
                                     user_id => 'regress_direct');
SELECT pool, final_cost FROM quota_charge('gpt-test', 1000, 500, 'direct-2',
                                          user_id => 'regress_direct');
SELECT * FROM public.direct_audit ORDER BY tab, request_id, outcome;

-- A CHECK constraint added by a DBA refuses the row: 23514, nothing changes.
ALTER TABLE quota.ledger ADD CONSTRAINT regress_small_requests
    CHECK (output_tokens < 100000) NOT VALID;
SELECT balance, held FROM quota.pool_status WHERE pool = 'Direct Pool';
SELECT try($$SELECT quota_charge('gpt-test', 0, 200000, 'direct-3', user_id => 'regress_direct')$$);
SELECT balance, held FROM quota.pool_status WHERE pool = 'Direct Pool';
SELECT (quota._pool_money('Direct Pool')).*;
SELECT count(*) AS rows_of_direct_3 FROM quota.ledger WHERE request_id = 'direct-3';
ALTER TABLE quota.ledger DROP CONSTRAINT regress_small_requests;

-- A column added with a default gets it; the next charge sees the new column.
ALTER TABLE quota.ledger ADD COLUMN regress_channel text DEFAULT 'web';
SELECT pool, final_cost FROM quota_charge('gpt-test', 1000, 500, 'direct-4',
                                          user_id => 'regress_direct');
SELECT request_id, regress_channel, note FROM quota.ledger WHERE request_id = 'direct-4';
ALTER TABLE quota.ledger DROP COLUMN regress_channel;
SELECT pool, final_cost FROM quota_charge('gpt-test', 1000, 500, 'direct-5',
                                          user_id => 'regress_direct');

-- A column the direct paths need, dropped: a clear error, nothing held.
BEGIN;
ALTER TABLE quota.reservations DROP COLUMN max_output_tokens;
SELECT try($$SELECT quota_reserve('gpt-test', 10, 10, 'direct-6', user_id => 'regress_direct')$$);
SELECT held FROM quota.pool_status WHERE pool = 'Direct Pool';
ROLLBACK;

-- The balance is still the sum of the ledger.
SELECT p.balance = (SELECT quota.sum(l.amount) FROM quota.ledger l WHERE l.pool = p.pool)
       AS balance_is_ledger
  FROM quota.pool_status p WHERE p.pool = 'Direct Pool';

DROP TRIGGER regress_audit ON quota.ledger;
DROP TRIGGER regress_audit ON quota.reservations;
DROP FUNCTION public.direct_note(), public.direct_audit();
DROP TABLE public.direct_audit;
