-- setup: create the extension once for the whole regression run, and the
-- roles and helpers the other tests use.
\set VERBOSITY default
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
RESET client_min_messages;
CREATE EXTENSION quota CASCADE;
SELECT extname, extversion, extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'quota';
-- the maintenance job was scheduled because pg_cron is present
SELECT jobname, schedule, command FROM cron.job ORDER BY jobname;
-- the three roles exist and cannot log in
SELECT rolname, rolcanlogin FROM pg_roles
 WHERE rolname IN ('quota_admin', 'quota_app', 'quota_user') ORDER BY rolname;
-- every object of the extension has a comment (but the types PostgreSQL
-- makes by itself: a table's or view's row type and every array type, which
-- PostgreSQL 17 and later record as members too)
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS uncommented
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
   AND d.deptype = 'e'
   AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)::name) IS NULL
   AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class r ON r.oid = t.typrelid
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (r.relkind <> 'c' OR t.typcategory = 'A'))
 ORDER BY 1;

-- Tests run with quota on the search path, in UTC.
SET search_path = public, quota;
ALTER DATABASE contrib_regression SET search_path = public, quota;
ALTER DATABASE contrib_regression SET timezone = 'UTC';

-- Roles for privilege and row-level security tests.
CREATE ROLE regress_admin NOLOGIN IN ROLE quota_admin;
CREATE ROLE regress_app NOLOGIN IN ROLE quota_app;
CREATE ROLE regress_alice NOLOGIN IN ROLE quota_user;   -- student
CREATE ROLE regress_bob NOLOGIN IN ROLE quota_user;     -- student
CREATE ROLE regress_carol NOLOGIN IN ROLE quota_user;   -- staff, physics pool admin
CREATE ROLE regress_dave NOLOGIN IN ROLE quota_user;    -- staff
CREATE ROLE regress_mallory NOLOGIN;                    -- no quota role at all

-- try(sql): run a statement and show its SQLSTATE and message instead of failing.
CREATE FUNCTION public.try(sql text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION public.try(text) TO PUBLIC;

-- invariant(): every pool's balance equals the sum of its ledger, and its
-- held amount the sum of its active holds.
CREATE FUNCTION public.invariant() RETURNS TABLE(pool text, ok boolean)
    LANGUAGE sql AS $$
    SELECT d.pool,
           (quota._pool_money(d.pool)).balance
               = coalesce((SELECT quota.sum(l.amount) FROM quota.ledger l
                            WHERE l.pool = d.pool), '0')
           AND (quota._pool_money(d.pool)).held
               = coalesce((SELECT quota.sum(r.held) FROM quota.reservations r
                            WHERE r.pool = d.pool AND r.settled_at IS NULL), '0')
      FROM quota.pool_defs d
     ORDER BY d.pool COLLATE "C"
$$;

-- try_full(sql): the SQLSTATE, message, detail and hint of an error, with
-- timestamps masked so the output does not depend on the day it runs.
CREATE FUNCTION public.try_full(sql text)
    RETURNS TABLE(state text, message text, detail text, hint text)
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    state := 'ok';
    RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    hint := regexp_replace(hint, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?',
                           '<time>', 'g');
    -- a pool's next restore, in its own zone (its name follows)
    hint := regexp_replace(hint, 'restored at \d{4}-\d\d-\d\d \d\d:\d\d', 'restored at <time>', 'g');
    RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION public.try_full(text) TO PUBLIC;
