-- views: pool_status, my_pools, charges, conversation_costs, usage_daily.
\set VERBOSITY default

SELECT pool, kind, allowance, balance, held, available, used, used_pct, enabled
  FROM quota.pool_status ORDER BY pool COLLATE "C";

-- what bob sees as himself
SET ROLE regress_bob;
SELECT pool, kind, role, active, balance, held, available, enabled
  FROM quota.my_pools ORDER BY pool COLLATE "C";
SELECT request_id, pool, model, input_tokens, output_tokens, original_cost,
       discount_rate, final_cost
  FROM quota.charges ORDER BY charge_id;
SELECT conversation_id, user_id, requests, tokens, original_cost, final_cost,
       first_at <= last_at AS ordered
  FROM quota.conversation_costs ORDER BY conversation_id;
SELECT day = (SELECT (now() AT TIME ZONE p.reset_timezone)::date FROM quota.pools p
               WHERE p.pool = u.pool) AS today,
       pool, model, requests, tokens, original_cost, final_cost
  FROM quota.usage_daily u ORDER BY pool COLLATE "C", model COLLATE "C";
RESET ROLE;

-- alice sees her own charges only, in both of her pools
SET ROLE regress_alice;
SELECT pool, role, active FROM quota.my_pools ORDER BY pool COLLATE "C";
SELECT user_id, request_id, pool FROM quota.charges ORDER BY charge_id;
RESET ROLE;

-- an administrator sees every charge
SET ROLE regress_admin;
SELECT user_id, count(*) AS charges, quota.sum(final_cost) AS billed
  FROM quota.charges GROUP BY user_id ORDER BY user_id COLLATE "C";
RESET ROLE;

-- Every object of the extension, and every column users see, has a comment.
SELECT without_comment FROM (
    SELECT pg_describe_object(d.classid, d.objid, 0) AS without_comment
      FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'quota')
       AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)::name) IS NULL
       -- not the row and array types PostgreSQL makes (17 and later list them)
       AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class r ON r.oid = t.typrelid
                        WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                          AND (r.relkind <> 'c' OR t.typcategory = 'A'))) x
 ORDER BY without_comment COLLATE "C";
SELECT c.relname, a.attname AS column_without_comment
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'quota'::regnamespace AND c.relkind IN ('r', 'v', 'p')
   AND c.relname <> 'alert_log'          -- read by quota's functions only
   AND col_description(c.oid, a.attnum) IS NULL
 ORDER BY 1, 2;
