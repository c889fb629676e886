-- attacks: a hostile user (a real quota_user role) with a schema of their
-- own tries to escalate through search_path, shadowing functions and
-- operators, leaky functions, row locks, role and setting changes, and
-- DDL on quota's objects.  Every attempt fails or sees only their own rows.
\set VERBOSITY terse

CREATE SCHEMA regress_evil AUTHORIZATION regress_bob;

SET ROLE regress_bob;
-- shadows of quota's identity function, of text equality and of sum, first
-- on the search_path
CREATE FUNCTION regress_evil.current_user_id() RETURNS text
    LANGUAGE sql AS $$ SELECT 'regress_carol'::text $$;
CREATE FUNCTION regress_evil.always(text, text) RETURNS boolean
    LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text,
                                FUNCTION = regress_evil.always);
CREATE FUNCTION regress_evil.sum(quota.credits) RETURNS quota.credits
    LANGUAGE sql AS $$ SELECT '1000000'::quota.credits $$;
CREATE FUNCTION regress_evil.trig() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
-- a leaky function that records every row it is shown
CREATE TABLE regress_evil.seen (user_id text);
CREATE FUNCTION regress_evil.leak(text) RETURNS boolean
    LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    INSERT INTO regress_evil.seen VALUES ($1);
    RETURN true;
END $$;
SET search_path = regress_evil, public, quota, pg_catalog;

-- still bob: the pinned search_path of quota's functions ignores the shadows
SELECT quota.quota_active_pool() IS NOT NULL AS has_pool;
SELECT try($$SELECT quota.quota_active_pool('regress_carol')$$);
SELECT try($$SELECT quota.quota_charge('nano', 1, 1, 'evil-1', user_id => 'regress_carol')$$);
-- the views and policies see bob's rows only, whatever = and sum mean here
SELECT DISTINCT user_id FROM quota.charges;
SELECT count(*) FILTER (WHERE user_id OPERATOR(pg_catalog.<>) 'regress_bob') AS others_charges
  FROM quota.ledger;
-- the leaky function runs after row-level security: it sees bob's rows only
SELECT count(*) > 0 AS ran FROM quota.ledger WHERE regress_evil.leak(user_id);
SELECT DISTINCT user_id FROM regress_evil.seen;
DELETE FROM regress_evil.seen;
SELECT count(*) > 0 AS ran FROM quota.reservations WHERE regress_evil.leak(user_id);
SELECT count(*) AS others_seen FROM regress_evil.seen
 WHERE user_id OPERATOR(pg_catalog.<>) 'regress_bob';
RESET search_path;

-- acting as someone else: by setting, or by holding another role
SET quota.user_id = 'regress_carol';
SELECT try($$SELECT quota.quota_charge('nano', 1, 1, 'evil-2')$$);
RESET quota.user_id;
-- (SET ROLE is checked against the session user, a superuser here, so
-- what matters is that bob holds no other role)
SELECT r AS role, pg_has_role('regress_bob', r, 'MEMBER') AS bob_is_member
  FROM unnest(ARRAY['quota_admin', 'quota_app', 'regress_admin', 'regress_carol']) r;

-- locking rows or tables to stall others
SELECT current_user, count(*) AS visible FROM quota.pool_defs;
SELECT count(*) AS locked FROM (SELECT FROM quota.pool_defs FOR UPDATE) x;
SELECT try($$LOCK TABLE quota.ledger IN ACCESS EXCLUSIVE MODE$$);
SELECT try($$LOCK TABLE quota.pool_defs IN EXCLUSIVE MODE$$);

-- DDL on quota's objects and schema
SELECT try($$CREATE FUNCTION quota.current_user_id() RETURNS text LANGUAGE sql AS 'SELECT 1::text'$$);
SELECT try($$CREATE TABLE quota.mine (x int)$$);
SELECT try($$ALTER TABLE quota.ledger DISABLE ROW LEVEL SECURITY$$);
SELECT try($$CREATE TRIGGER t BEFORE INSERT ON quota.ledger FOR EACH ROW EXECUTE FUNCTION regress_evil.trig()$$);
SELECT try($$ALTER FUNCTION quota.quota_charge(text, bigint, bigint, text, text, bigint, text, text) SECURITY INVOKER$$);
SELECT try($$DROP POLICY ledger_read ON quota.ledger$$);
SELECT try($$TRUNCATE quota.ledger$$);
SELECT try($$SELECT quota._apply_reset('Students Pool', true)$$);
SELECT try($$SELECT quota._expire_holds(NULL)$$);
SELECT try($$SELECT quota.quota_schedule('* * * * *')$$);
SELECT try($$SELECT cron.schedule('evil', '* * * * *', 'SELECT quota.quota_topup(''Students Pool'', 1000)')$$);
RESET ROLE;

-- nothing changed hands: every pool is still the sum of its ledger, and
-- bob's schema is all he made
SELECT * FROM invariant();
SELECT count(*) AS evil_jobs FROM cron.job WHERE jobname = 'evil';
DROP SCHEMA regress_evil CASCADE;
