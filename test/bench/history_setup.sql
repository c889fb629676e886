-- History bench data set (issue 17), loaded through the bulk path: the
-- restore path of pg_dump/pg_restore.  Pool definitions are inserted as a
-- restore inserts them, then the whole ledger is loaded in one transaction
-- with row_security off into an empty ledger (the ledger guard admits such
-- a load and books it into the balances), then the ledger is sealed.
--   psql -v rows=50000000 -f history_setup.sql
-- 1,001 pools: the Students Pool (70% of the charges, 9,000 students, all
-- 19 priced models) and 1,000 staff personal pools (30%, 3 models), :rows
-- charges spread evenly over the last 365 days, each with its own
-- request_id, 20 to a conversation; the pools reset every Friday (a
-- 'reset' entry per pool and week gives back the week's charges).
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;

SELECT quota_set_model('model-' || i, (i % 5 + 1)::numeric * 0.25, (i % 7 + 1)::numeric * 1.5,
                       'chat', (i % 5 + 1)::numeric * 0.125)
  FROM generate_series(1, 19) i;
SELECT quota_set_user('staff' || i, '{staff}') FROM generate_series(1, 1000) i;
SELECT quota_set_user('student' || i, '{student}') FROM generate_series(1, 9000) i;

INSERT INTO quota.pool_defs (pool, kind, owner, allowance, reset_cron, reset_timezone,
                             reset_policy, next_reset_at, period_start, period_funds)
SELECT p.pool, p.kind, p.owner, p.allowance, '0 1 * * 5', 'Asia/Hong_Kong', 'restore',
       quota.quota_next_reset('0 1 * * 5', 'Asia/Hong_Kong', now()),
       now() - interval '2 days', p.allowance
  FROM (SELECT 'Students Pool' AS pool, 'shared' AS kind, NULL AS owner,
               9000000000::quota.credits AS allowance
        UNION ALL
        SELECT 'personal:staff' || i, 'personal', 'staff' || i, 1000000::quota.credits
          FROM generate_series(1, 1000) i) p;
SELECT quota_grant_group('Students Pool', 'student');

BEGIN;
SET LOCAL row_security = off;
SELECT set_config('quota_bench.rows', :'rows', true);
INSERT INTO quota.ledger (at, pool, kind, amount, note)
SELECT now() - interval '366 days', d.pool, 'grant', d.allowance, 'initial allowance'
  FROM quota.pool_defs d;
DO $$
DECLARE
    total bigint := current_setting('quota_bench.rows')::bigint;
    step bigint := 1000000;
    lo bigint := 1;
    -- each charge names the row of its model's prices (quota.model_prices)
    price_ids integer[] := (SELECT array_agg(m.price_id ORDER BY split_part(m.model, '-', 2)::int)
                              FROM quota.models m);
BEGIN
    WHILE lo <= total LOOP
        INSERT INTO quota.ledger (at, pool, user_id, kind, amount, model, service,
                                  conversation_id, request_id, input_tokens,
                                  cached_input_tokens, output_tokens, price_id,
                                  original_cost, discount_rate, final_cost)
        SELECT now() - interval '365 days' + g * (interval '365 days' / total),
               CASE WHEN g % 10 < 7 THEN 'Students Pool' ELSE 'personal:staff' || (g / 10 % 1000 + 1) END,
               CASE WHEN g % 10 < 7 THEN 'student' || (g / 10 % 9000 + 1) ELSE 'staff' || (g / 10 % 1000 + 1) END,
               'charge', '-0.00288',
               'model-' || x.m, 'chat', 'conv-' || (g / 20), 'h' || g, 1200, 0, 300,
               price_ids[x.m], '0.0036', 0.8, '0.00288'
          FROM generate_series(lo, least(lo + step - 1, total)) g,
               LATERAL (SELECT CASE WHEN g % 10 < 7 THEN g / 7 % 19 + 1
                                    ELSE g / 10 % 3 + 1 END AS m) x;
        lo := lo + step;
    END LOOP;
END
$$;
-- the weekly resets (policy restore): each pool gets back what it spent
INSERT INTO quota.ledger (at, pool, kind, amount, note)
SELECT now() - interval '365 days' + w * interval '7 days', l.pool, 'reset',
       -sum(l.amount::numeric), 'weekly reset'
  FROM quota.ledger l,
       LATERAL (SELECT floor(extract(epoch FROM l.at - (now() - interval '365 days'))
                             / (7 * 86400))::int + 1 AS w) x
 WHERE l.kind = 'charge' AND x.w <= 52
 GROUP BY w, l.pool;
COMMIT;
