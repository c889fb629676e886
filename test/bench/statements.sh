#!/usr/bin/env bash
# Issue 30's bench: what closing a month costs for a pool with millions of
# charges in it, and what verifying it and the auditor's query cost.
#
#   bash test/bench/statements.sh                       # 5,000,000 charges a month
#   QUOTA_STATEMENT_ROWS=1000000 bash test/bench/statements.sh
#   QUOTA_PG_BIN=/tmp/pgc/usr/lib/postgresql/15/bin bash test/bench/statements.sh
#
# One temporary instance: the pool "Big" (Europe/Zurich) gets
# QUOTA_STATEMENT_ROWS charges in November 2026 and a fifth as many in
# October,
# loaded through the bulk (restore) path as history_setup.sql does, and 1,000
# personal pools a few charges each.  Printed: the load, then the time of
# quota_close_statements for October (the first month: every pool's first
# statement) and for November (the chained one), quota_verify_statements of
# the pool, and the README's auditor's query for November, whose result is
# compared with the stored hash.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

build_install

rows=${QUOTA_STATEMENT_ROWS:-5000000}
port=${QUOTA_BENCH_PORT:-55436}

say "temporary instance on port $port"
bench_instance "$port" "shared_buffers = '1GB'" "max_wal_size = '4GB'" "work_mem = '64MB'"
psql_() { bench_psql "$@"; }

say "loading $rows charges in November, $((rows / 5)) in October"
start=$(date +%s.%N)
psql_ -v ON_ERROR_STOP=1 -v rows="$rows" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('model-1', 1.25, 10, 'chat', 0.125);
SELECT count(*) AS users FROM generate_series(1, 1000) i, LATERAL quota.quota_set_user('u' || i, '{staff}') u;
INSERT INTO quota.pool_defs (pool, kind, owner, allowance, reset_timezone, period_funds, created_at)
SELECT 'personal:u' || i, 'personal', 'u' || i, 100, 'Europe/Zurich', 100, '2026-10-01 00:00+02'::timestamptz
  FROM generate_series(1, 1000) i
UNION ALL
SELECT 'Big', 'shared', NULL, 1000000, 'Europe/Zurich', 1000000, '2026-10-01 00:00+02';
SELECT quota.quota_grant_group('Big', 'staff');
BEGIN;
SET LOCAL row_security = off;
INSERT INTO quota.ledger (at, pool, kind, amount, note)
SELECT '2026-10-01 00:00+02', d.pool, 'grant', d.allowance, 'initial allowance'
  FROM quota.pool_defs d;
-- Big: QUOTA_STATEMENT_ROWS charges in November and a fifth as many in
-- October, evenly spread over the month; the personal pools a ninth of
-- that besides (a tenth of all charges); every charge costs 0.0036 at 0.8
INSERT INTO quota.ledger (at, pool, user_id, kind, amount, model, service, conversation_id,
                          request_id, input_tokens, cached_input_tokens, output_tokens,
                          price_id, original_cost, discount_rate, final_cost, balance_after)
SELECT m.start + (g - 1) * ((m.finish - m.start) / m.n),
       CASE WHEN m.big THEN 'Big' ELSE 'personal:u' || (g % 1000 + 1) END,
       'u' || (g % 1000 + 1), 'charge', '-0.00288', 'model-1', 'chat',
       'conv-' || g / 20, m.tag || g, 800, 400, 250,
       (SELECT price_id FROM quota.models WHERE model = 'model-1'),
       '0.0036', 0.8, '0.00288', 0
  FROM (VALUES ('oct-', '2026-10-01 00:00+02'::timestamptz, '2026-11-01 00:00+01'::timestamptz, :rows / 5, true),
               ('oct-p-', '2026-10-01 00:00+02'::timestamptz, '2026-11-01 00:00+01'::timestamptz, :rows / 45, false),
               ('nov-', '2026-11-01 00:00+01'::timestamptz, '2026-12-01 00:00+01'::timestamptz, :rows, true),
               ('nov-p-', '2026-11-01 00:00+01'::timestamptz, '2026-12-01 00:00+01'::timestamptz, :rows / 9, false))
       m(tag, start, finish, n, big),
       generate_series(1, m.n) g
 ORDER BY 1;
COMMIT;
VACUUM ANALYZE quota.ledger;
SELECT quota.quota_seal();
SQL
end=$(date +%s.%N)
printf 'load: %.1f s\n' "$(echo "$end - $start" | bc)"
psql_ -At -c "SELECT 'ledger rows: ' || count(*) FROM quota.ledger"
psql_ -At -c "SELECT 'charges of Big in November: ' || count(*) FROM quota.ledger
              WHERE pool = 'Big' AND at >= '2026-11-01 00:00+01' AND at < '2026-12-01 00:00+01'"

say "closing Big alone (rolled back): October, then November"
psql_ -At <<'SQL'
\timing on
BEGIN;
SELECT 'Big October' AS closing, quota._close_period('Big', '2026-10-01 00:00+02', '2026-11-01 00:00+01', NULL);
SELECT 'Big November' AS closing, quota._close_period('Big', '2026-11-01 00:00+01', '2026-12-01 00:00+01',
                                               (SELECT s FROM quota.statements s WHERE pool = 'Big'));
ROLLBACK;
SQL

say "closing every pool (1,001 pools): up to November, then November"
for until in "2026-11-01 00:00+01" "2026-12-01 00:00+01"; do
    psql_ -At <<SQL
\\timing on
SELECT 'statements closed up to $until: ' || quota.quota_close_statements('$until');
SQL
done
psql_ -At -c "SELECT format('Big %s: %s entries, charges %s, hash %s', to_char(period_start AT TIME ZONE 'Europe/Zurich', 'YYYY-MM'),
                             entries, charges, left(hash, 16))
              FROM quota.statements WHERE pool = 'Big' ORDER BY period_start"

say "verifying the pool Big (both months)"
psql_ -At <<'SQL'
\timing on
SELECT 'problems: ' || count(*) FROM quota.quota_verify_statements('Big');
SQL

say "the auditor's query (README) for November of Big"
psql_ -At <<'SQL'
\timing on
WITH s AS (SELECT * FROM quota.statements WHERE pool = 'Big' AND period_start = '2026-11-01 00:00+01'),
e AS (
    SELECT string_agg(concat_ws('|', l.entry_id,
               (extract(epoch FROM l.at) * 1000000)::bigint,
               coalesce(char_length(l.user_id) || ':' || l.user_id, '-'),
               coalesce(char_length(l.kind) || ':' || l.kind, '-'),
               l.amount::text,
               coalesce(char_length(l.model) || ':' || l.model, '-'),
               coalesce(char_length(l.service) || ':' || l.service, '-'),
               coalesce(char_length(l.conversation_id) || ':' || l.conversation_id, '-'),
               coalesce(char_length(l.request_id) || ':' || l.request_id, '-'),
               coalesce(l.input_tokens::text, '-'),
               coalesce(l.cached_input_tokens::text, '-'),
               coalesce(l.output_tokens::text, '-'),
               coalesce(l.original_cost::text, '-'),
               coalesce(l.discount_rate::text, '-'),
               coalesce(l.final_cost::text, '-'),
               coalesce(l.balance_after::text, '-'),
               coalesce(char_length(l.note) || ':' || l.note, '-'),
               coalesce(l.price_id::text, '-')) || E'\n', '' ORDER BY l.entry_id) AS lines
      FROM quota.ledger l, s
     WHERE l.pool = s.pool AND l.at < s.period_end
       AND (l.at >= s.period_start OR s.previous_hash IS NULL))
SELECT 'auditor agrees: ' || (s.hash = encode(sha256(convert_to(
           concat_ws('|', 'quota statement 1', char_length(s.pool) || ':' || s.pool,
                     (extract(epoch FROM s.period_start) * 1000000)::bigint,
                     (extract(epoch FROM s.period_end) * 1000000)::bigint,
                     coalesce(s.previous_hash, '-')) || E'\n'
           || coalesce(e.lines, '')
           || concat_ws('|', s.opening_balance, s.grants, s.topups, s.charges, s.original,
                        s.resets, s.adjustments, s.expired, s.closing_balance, s.entries)
           || E'\n', 'UTF8')), 'hex'))::text
  FROM s, e;
SQL
