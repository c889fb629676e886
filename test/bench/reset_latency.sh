#!/usr/bin/env bash
# Charge latency while one quota_run_due() resets many personal pools
# (issue 5): pgbench charges the shared pool and personal pools that are not
# due, logging every transaction, while quota_run_due() resets
# QUOTA_RESET_POOLS (default 100,000) weekly personal pools in one call.
# Prints the longest and 99th-percentile charge latency before and during it.
#
#   bash test/bench/reset_latency.sh
#   QUOTA_RESET_POOLS=10000 bash test/bench/reset_latency.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ensure_packages
build_install

npools=${QUOTA_RESET_POOLS:-100000}
clients=${QUOTA_BENCH_CLIENTS:-8}
port=${QUOTA_BENCH_PORT:-55434}

say "temporary instance on port $port"
bench_instance "$port" "quota.max_pools = $((npools + 10000))"

say "creating $npools due personal pools, 100 other personal pools and a shared pool"
bench_psql -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION quota;
SET search_path = public, quota;
SELECT quota_set_model('m', 1, 2);
-- one transaction per 1,000 pools (each charge holds its request lock to commit)
CREATE PROCEDURE make_weekly(n int) LANGUAGE plpgsql AS \$\$
BEGIN
    FOR i IN 1 .. n LOOP
        PERFORM quota_set_user('w' || i, '{weekly}');
        PERFORM quota_create_pool('personal:w' || i, 100, kind => 'personal', owner => 'w' || i,
                                  reset_cron => '0 1 * * 5', reset_timezone => 'Asia/Hong_Kong');
        IF i % 10 = 0 THEN      -- some accounts have been used this week
            PERFORM quota_charge('m', 1000000, 0, 'spent-' || i, user_id => 'w' || i);
        END IF;
        IF i % 1000 = 0 THEN COMMIT; END IF;
    END LOOP;
END \$\$;
CALL make_weekly($npools);
SELECT quota_set_user('o' || i, '{other}') FROM generate_series(1, 100) i;
SELECT quota_create_pool('personal:o' || i, 1000000, kind => 'personal', owner => 'o' || i)
  FROM generate_series(1, 100) i;
SELECT quota_set_user('s' || i, '{student}') FROM generate_series(1, 100) i;
SELECT quota_create_pool('Students Pool', 1000000000);
SELECT quota_grant_group('Students Pool', 'student');
-- make them all due
UPDATE pool_defs SET next_reset_at = now() - interval '1 minute'
 WHERE pool LIKE 'personal:w%';
CHECKPOINT;
VACUUM ANALYZE;
SQL

cat > "$BENCH_DIR/charge.sql" <<'SQL'
\set u random(1, 100)
\set shared random(0, 1)
SELECT quota.quota_charge('m', 1000, 100, 'b-' || :client_id || '-' || txid_current(),
                          user_id => CASE WHEN :shared = 1 THEN 's' ELSE 'o' END || :u);
SQL
chown -R "$PG_USER": "$BENCH_DIR" 2>/dev/null || true

say "pgbench: $clients clients charging the shared pool and 100 personal pools; quota_run_due() after 10 s"
(cd "$BENCH_DIR" && as_pg pgbench -n -M prepared -c "$clients" -j 2 -T 10000 \
    -l --log-prefix="$BENCH_DIR/lat" -f "$BENCH_DIR/charge.sql" \
    -h "$BENCH_DIR" -p "$port" -U postgres postgres >"$BENCH_DIR/pgbench.out" 2>&1) &
pgb=$!
sleep 10
t0=$(date +%s%N)
resets=$(bench_psql -At -c "SELECT resets FROM quota.quota_run_due()")
t1=$(date +%s%N)
sleep 5
as_pg psql -X -q -h "$BENCH_DIR" -p "$port" -U postgres -d postgres -c \
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbench'" >/dev/null
wait "$pgb" || true

# pgbench log lines: client tx latency_us script epoch_s epoch_us
cat "$BENCH_DIR"/lat.* | awk -v t0="$t0" -v t1="$t1" '
    { end = ($5 * 1000000 + $6) * 1000; start = end - $3 * 1000
      if (end < t0) print "before", $3
      else if (start <= t1) print "during", $3 }' > "$BENCH_DIR/lat.all"
# Summarise the latencies of one phase.
phase() {
    awk -v p="$1" '$1 == p { print $2 }' "$BENCH_DIR/lat.all" | sort -n | awk -v p="$1" '
        { a[n++] = $1 }
        END { if (n == 0) { print p " quota_run_due: no charges"; exit }
              printf "%s quota_run_due: %d charges, p99 %.1f ms, max %.1f ms\n",
                     p, n, a[int(n * 0.99)] / 1000, a[n - 1] / 1000 }'
}

say "results"
echo "quota_run_due(): $resets resets in $(( (t1 - t0) / 1000000 )) ms"
phase before
phase during
