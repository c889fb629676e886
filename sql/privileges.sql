-- privileges: no internal function is executable by PUBLIC (an explicit
-- allow-list with reasons), nobody can attach quota's trigger functions to
-- their own tables, and who crossed a warning threshold is shown to the
-- pool's administrators and quota_admin only.
\set VERBOSITY default

-- Every function of quota that PUBLIC may execute, apart from those of the
-- money type (its input and output, operators, casts, aggregates and
-- operator classes), with the reason it may; a NULL reason is a leak.
WITH ext AS (
    SELECT p.oid, p.proname, p.prokind
      FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
     WHERE d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')),
type_support AS (
    SELECT unnest(ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend])::oid AS oid
      FROM pg_type t WHERE t.oid = 'quota.credits'::regtype
    UNION SELECT o.oprcode::oid FROM pg_operator o
     WHERE 'quota.credits'::regtype IN (o.oprleft, o.oprright, o.oprresult)
    UNION SELECT c.castfunc FROM pg_cast c
     WHERE 'quota.credits'::regtype IN (c.castsource, c.casttarget)
    UNION SELECT unnest(ARRAY[a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                              a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn,
                              a.aggmfinalfn])::oid
      FROM pg_aggregate a JOIN ext ON ext.oid = a.aggfnoid
    UNION SELECT ap.amproc::oid FROM pg_amproc ap
     WHERE 'quota.credits'::regtype IN (ap.amproclefttype, ap.amprocrighttype)
    UNION SELECT ext.oid FROM ext WHERE ext.prokind = 'a'),
allowed(name, reason) AS (VALUES
    ('quota_cost', 'SPEC: a pure calculation of a request''s cost from public prices'),
    ('quota_next_reset', 'SPEC: a pure calculation of a cron schedule'))
SELECT ext.oid::regprocedure AS executable_by_public, allowed.reason
  FROM ext LEFT JOIN allowed ON allowed.name = ext.proname
 WHERE has_function_privilege('public', ext.oid, 'EXECUTE')
   AND ext.oid NOT IN (SELECT oid FROM type_support WHERE oid <> 0)
 ORDER BY ext.oid::regprocedure::text COLLATE "C";
-- the money type's functions stay executable by everyone
SELECT bool_and(has_function_privilege('public', p.oid, 'EXECUTE')) AS money_type_functions_public
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
   AND p.proname LIKE 'credits%';

-- Who may execute each internal function (names starting with "_", trigger
-- functions, and the identity helper of the row-level policies).
SELECT p.oid::regprocedure AS internal_function,
       coalesce((SELECT string_agg(r, ', ' ORDER BY r)
                   FROM unnest(ARRAY['quota_admin', 'quota_app', 'quota_user']) r
                  WHERE has_function_privilege(r, p.oid, 'EXECUTE')), '-') AS executable_by
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
   AND (p.proname LIKE '\_%' OR p.prorettype = 'trigger'::regtype
        OR p.proname = 'current_user_id')
 ORDER BY p.oid::regprocedure::text COLLATE "C";

-- A role cannot attach quota's trigger functions to a table of its own.
CREATE SCHEMA regress_priv;
GRANT USAGE, CREATE ON SCHEMA regress_priv TO regress_alice;
SET ROLE regress_alice;
CREATE TABLE regress_priv.mine (x int);
SELECT f, try(format('CREATE TRIGGER t AFTER INSERT ON regress_priv.mine
                      FOR EACH STATEMENT EXECUTE FUNCTION %s', f)) AS create_trigger
  FROM unnest(ARRAY['quota._routes_changed()', 'quota._catalog_changed()',
                    'quota._append_only()', 'quota._pools_update()',
                    'quota._pool_defs_changed()', 'quota._ledger_guard()',
                    'quota._rate_limits_changed()']) f
 ORDER BY f COLLATE "C";
SELECT count(*) AS triggers_attached FROM pg_trigger WHERE tgrelid = 'regress_priv.mine'::regclass;
RESET ROLE;
DROP SCHEMA regress_priv CASCADE;

-- quota.alerts: a member sees the pool's warnings, but not who crossed
-- them; the pool's administrator and quota_admin do; a non-member sees none.
SELECT quota_set_model('priv-m', 1000000, 0, 'api');
SELECT quota_create_pool('Priv Pool', 100);
SELECT quota_add_member('Priv Pool', 'regress_alice');
SELECT quota_add_member('Priv Pool', 'regress_bob');
SELECT quota_add_member('Priv Pool', 'regress_carol', 'admin');
SELECT final_cost FROM quota_charge('priv-m', 85, 0, 'priv-1', user_id => 'regress_bob',
                                    pool => 'Priv Pool');
SET ROLE regress_alice;
SELECT pool, threshold, used, user_id, request_id, at IS NOT NULL AS has_at
  FROM quota.alerts WHERE pool = 'Priv Pool';
-- a filter on the hidden column finds nothing, and the table behind it is closed
SELECT count(*) AS rows_with_user FROM quota.alerts
 WHERE pool = 'Priv Pool' AND user_id IS NOT NULL;
SELECT try($$SELECT * FROM quota.alert_log$$);
SELECT try($$DELETE FROM quota.alerts$$);
SET ROLE regress_bob;
SELECT pool, threshold, used, user_id, request_id FROM quota.alerts WHERE pool = 'Priv Pool';
SET ROLE regress_carol;
SELECT pool, threshold, used, user_id, request_id FROM quota.alerts WHERE pool = 'Priv Pool';
SET ROLE regress_admin;
SELECT pool, threshold, used, user_id, request_id FROM quota.alerts WHERE pool = 'Priv Pool';
SET ROLE regress_app;
SET quota.user_id = 'regress_alice';
SELECT pool, threshold, used, user_id, request_id FROM quota.alerts WHERE pool = 'Priv Pool';
RESET quota.user_id;
SET ROLE regress_dave;
SELECT count(*) AS non_member_sees FROM quota.alerts WHERE pool = 'Priv Pool';
RESET ROLE;
-- the views and policies still work for every quota role
SET ROLE regress_alice;
SELECT pool, balance FROM quota.pools WHERE pool = 'Priv Pool';
SELECT pool, used FROM quota.pool_status WHERE pool = 'Priv Pool';
SELECT pool, role FROM quota.my_pools WHERE pool = 'Priv Pool';
RESET ROLE;
SET ROLE regress_carol;
UPDATE quota.pools SET warn_at = '{0.5}' WHERE pool = 'Priv Pool';
SELECT warn_at FROM quota.pools WHERE pool = 'Priv Pool';
RESET ROLE;
SELECT * FROM invariant() WHERE pool = 'Priv Pool';
