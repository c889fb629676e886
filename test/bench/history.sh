#!/usr/bin/env bash
# Issue 17's bench: what years of ledger history cost, measured against an
# empty ledger in the same run and on the same instance.
#
#   bash test/bench/history.sh                      # 50,000,000 charges
#   QUOTA_HISTORY_ROWS=2000000 bash test/bench/history.sh
#   QUOTA_HISTORY_KEEP=/var/tmp/hist bash test/bench/history.sh   # keep the instance
#   QUOTA_HISTORY_KEEP=/var/tmp/hist bash test/bench/history.sh   # again: measure only
#
# Two databases get the same pools, users and models (history_setup.sql):
# "empty" has one grant per pool, "hist" has QUOTA_HISTORY_ROWS charges over
# the last 365 days besides, loaded through the bulk (restore) path and
# sealed.  Printed: load and seal times, bytes per charge, the first charge
# and pool_status after a restart (warm and, where the kernel lets us drop
# the page cache, cold), usage_daily for a week, a month and all days of one
# pool, charges/s, locked mode (no shared_preload_libraries), and reads on
# a streaming standby.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ensure_packages
build_install

rows=${QUOTA_HISTORY_ROWS:-50000000}
secs=${QUOTA_HISTORY_SECONDS:-10}
port=${QUOTA_BENCH_PORT:-55434}
standby_port=$((port + 1))
bench=$QUOTA_ROOT/test/bench

keep=${QUOTA_HISTORY_KEEP:-}
warmup=${QUOTA_HISTORY_WARMUP:-10}
if [ -n "$keep" ] && [ -f "$keep/loaded" ]; then
    # a kept instance: start it and measure again
    dir=$keep
    pg="$dir/pg"
    BENCH_DIR=$dir
    BENCH_PORT=$port
    rm -rf "$dir/standby"
    need=$(as_pg postgres -D "$pg" -C shared_memory_size_in_huge_pages)
    if [ "${QUOTA_BENCH_HUGE_PAGES:-on}" = on ] && bench_huge_reserve "$need"; then
        echo "huge_pages = on" >> "$pg/postgresql.conf"
    else
        echo "huge_pages = off" >> "$pg/postgresql.conf"
    fi
    as_pg pg_ctl -D "$pg" -l "$dir/server.log" -w start >/dev/null
    rows=$(cat "$dir/loaded")
    reuse=1
else
    say "temporary instance on port $port"
    bench_instance "$port" "shared_buffers = '1GB'" "max_wal_size = '2GB'" \
        "checkpoint_timeout = '1d'" "wal_level = replica" "max_wal_senders = 4" \
        "hot_standby = on"
    dir=$BENCH_DIR
    pg="$dir/pg"
    reuse=0
fi
psql_() { bench_psql "$@"; }
stop_standby() { as_pg pg_ctl -D "$dir/standby" -m immediate stop >/dev/null 2>&1 || true; }
if [ -n "$keep" ]; then
    trap 'stop_standby; as_pg pg_ctl -D "$pg" -m fast stop >/dev/null 2>&1 || true; bench_huge_release' EXIT
else
    trap 'stop_standby; as_pg pg_ctl -D "$pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; bench_huge_release' EXIT
fi

# Milliseconds of statement $LAST in a new session (-d DB -c ...), after
# a statement that loads quota's library and model cache but touches no pool.
ms() {
    psql_ "$@" -c "SELECT quota.quota_cost('model-2', 1, 1)" -c '\timing on' -c "$LAST" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
# Restart the primary (and drop the page cache if allowed).
restart() {
    as_pg pg_ctl -D "$pg" -m fast stop >/dev/null
    if [ "${1:-}" = cold ]; then
        sync
        echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || return 1
    fi
    as_pg pg_ctl -D "$pg" -l "$dir/server.log" -w start >/dev/null || {
        tail -20 "$dir/server.log"
        exit 1
    }
}

if [ "$reuse" = 0 ]; then
psql_ -c "CREATE DATABASE empty" -c "CREATE DATABASE hist"
say "loading: empty ledger"
psql_ -d empty -v ON_ERROR_STOP=1 -v rows=0 -f "$bench/history_setup.sql" >/dev/null
say "loading: $rows charges over 365 days (bulk path: one restore-style transaction)"
t0=$(date +%s)
psql_ -d hist -v ON_ERROR_STOP=1 -v rows="$rows" -f "$bench/history_setup.sql" >/dev/null
t1=$(date +%s)
seal_empty=$(LAST="SELECT quota.quota_seal('1 minute')" ms -d empty)
seal_hist=$(LAST="SELECT quota.quota_seal('1 minute')" ms -d hist)
t2=$(date +%s)
for db in empty hist; do
    psql_ -d "$db" -c "VACUUM (ANALYZE) quota.ledger" -c "ANALYZE" \
        -c "CREATE ROLE bench_admin_$db IN ROLE quota_admin" >/dev/null
done
psql_ -c CHECKPOINT
t3=$(date +%s)
say "load $((t1 - t0)) s, first seal ${seal_hist} ms, vacuum and analyze $((t3 - t2)) s"
if [ -n "$keep" ]; then
    # move the kept instance to where it stays, and remember what it holds
    as_pg pg_ctl -D "$pg" -m fast stop >/dev/null
    mkdir -p "$keep"
    [ "$(id -u)" -ne 0 ] || chown "$PG_USER": "$keep"
    mv "$pg" "$keep/pg"
    rm -rf "$dir"
    dir=$keep
    pg="$dir/pg"
    BENCH_DIR=$dir
    sed -i "s|^unix_socket_directories = .*|unix_socket_directories = '$dir'|" "$pg/postgresql.conf"
    echo "$rows" > "$dir/loaded"
    as_pg pg_ctl -D "$pg" -l "$dir/server.log" -w start >/dev/null
fi
else
    seal_empty=kept; seal_hist=kept
fi

# Storage: the ledger's heap and indexes per entry, and the rollups'.
sizes=$(psql_ -d hist -At -F ' ' -c "
SELECT count(*), pg_total_relation_size('quota.ledger'),
       pg_relation_size('quota.ledger'),
       pg_total_relation_size('quota.ledger') - pg_relation_size('quota.ledger'),
       (SELECT count(*) FROM quota.usage_rollup),
       pg_total_relation_size('quota.usage_rollup')
  FROM quota.ledger")
read -r n total heap idx rollups rollup_bytes <<< "$sizes"
say "storage: $n ledger rows, $((total / 1024 / 1024)) MB (heap $((heap / 1024 / 1024)) MB, indexes $((idx / 1024 / 1024)) MB): $((total / n)) bytes per entry; rollups $rollups rows, $((rollup_bytes / 1024 / 1024)) MB: $((rollup_bytes / n)) bytes per entry"
psql_ -d hist -c "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) AS size
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'quota' AND c.relname LIKE 'ledger%' ORDER BY pg_relation_size(c.oid) DESC"

# What the maintenance job does every minute in production (this instance
# has no pg_cron): seal the ledger, so the tail after the seal holds only
# the last minute's charges.
seal_all() {
    local db
    for db in empty hist; do
        psql_ -d "$db" -Atc "SELECT quota.quota_seal('1 minute')" >/dev/null
    done
}
seal_all

charge() { echo "SELECT quota.quota_charge('model-2', 1200, 300, 'probe-' || pg_backend_pid() || '-' || clock_timestamp(), user_id => '$1')"; }
declare -A R
# After a restart: the first charge on the Students Pool (rebuilds its
# escrow entry), the first on a personal pool, pool_status of a third pool.
measure_restart() {
    local mode=$1 db
    for db in empty hist; do
        if ! restart "$mode"; then
            as_pg pg_ctl -D "$pg" -l "$dir/server.log" -w start >/dev/null
            R[$mode-first-$db]=n/a; R[$mode-personal-$db]=n/a; R[$mode-status-$db]=n/a
            continue
        fi
        R[$mode-first-$db]=$(LAST=$(charge student1) ms -d "$db")
        R[$mode-personal-$db]=$(LAST=$(charge staff2) ms -d "$db")
        R[$mode-status-$db]=$(LAST="SELECT * FROM quota.pool_status WHERE pool = 'personal:staff3'" ms -d "$db")
    done
}
say "restarts, warm page cache"
measure_restart warm

# A monthly cap for the whole Students Pool (never reached): after a
# restart its first charge also reads the month's use of the pool, from
# the usage rollups and the charges after the seal.
set_pool_cap() {
    local db
    for db in empty hist; do
        psql_ -d "$db" -Atc "SELECT quota.quota_set_cap('Students Pool', 'month', $1, 'pool')" >/dev/null
    done
}
say "a monthly pool cap on the Students Pool: first charge after a restart"
set_pool_cap 1000000000
seal_all
for db in empty hist; do
    restart
    R[cap-first-$db]=$(LAST=$(charge student4) ms -d "$db")
    # what reading that month from the ledger instead costs (0.2 before the rollups were used)
    R[cap-ledger-$db]=$(LAST="SELECT -sum(l.amount::numeric) FROM quota.ledger l, quota.pool_defs d,
        LATERAL quota._cap_window('month', d.reset_timezone, now()) w
        WHERE d.pool = 'Students Pool' AND l.pool = d.pool AND l.kind = 'charge'
          AND l.at >= w.window_start AND l.at < w.window_end" ms -d "$db")
done
set_pool_cap NULL

say "restarts, cold page cache"
measure_restart cold || true


say "usage_daily and pool_status as a quota_admin member (the query's second run in its session)"
for db in empty hist; do
    for span in 7 30; do
        q="SELECT count(*) FROM quota.usage_daily WHERE pool = 'Students Pool' AND day > current_date - $span"
        R[usage$span-$db]=$(LAST=$q ms -d "$db" -c "SET ROLE bench_admin_$db" -c "$q")
    done
    q="SELECT count(*) FROM quota.usage_daily WHERE pool = 'Students Pool'"
    R[usageall-$db]=$(LAST=$q ms -d "$db" -c "SET ROLE bench_admin_$db" -c "$q")
    q="SELECT * FROM quota.pool_status WHERE pool = 'Students Pool'"
    R[status-$db]=$(LAST=$q ms -d "$db" -c "SET ROLE bench_admin_$db" -c "$q")
done

say "one Prometheus scrape: the seven queries of monitoring/postgres_exporter.yaml, as a pg_monitor role"
scrape="SELECT count(*) FROM quota.metrics_pools(); SELECT count(*) FROM quota.metrics_personal();
SELECT count(*) FROM quota.metrics_refusals(); SELECT count(*) FROM quota.metrics_reservations();
SELECT count(*) FROM quota.metrics_grants(); SELECT count(*) FROM quota.metrics_maintenance();
SELECT count(*) FROM quota.metrics_ledger();"
psql_ -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_monitor') THEN CREATE ROLE bench_monitor IN ROLE pg_monitor; END IF; END \$\$" >/dev/null
for db in empty hist; do
    # the second scrape in a session (the first after a restart also builds
    # every pool's balance in shared memory, as any first look does)
    R[scrape-$db]=$(psql_ -d "$db" -c "SET ROLE bench_monitor" -c "$scrape" -c '\timing on' -c "$scrape" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | paste -sd+ | bc -l | xargs printf '%.1f')
done

say "charges/s: 8 clients on the Students Pool, ${warmup} s of warm-up, then 2 rounds of ${secs} s per database"
tps() {
    as_pg pgbench -n -h "$dir" -p "$port" -U postgres -c 8 -j 2 -T "${2:-$secs}" -f "$bench/c_shared.sql" "$1" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
tps empty "$warmup" >/dev/null
tps hist "$warmup" >/dev/null
e=0; h=0
for round in 1 2; do
    a=$(tps empty); b=$(tps hist)
    echo "round $round: empty $a, hist $b"
    e=$(echo "$e + $a" | bc -l); h=$(echo "$h + $b" | bc -l)
done
R[tps-empty]=$(printf '%.0f' "$(echo "$e / 2" | bc -l)")
R[tps-hist]=$(printf '%.0f' "$(echo "$h / 2" | bc -l)")

seal_all
say "locked mode (quota not in shared_preload_libraries)"
cp "$pg/postgresql.auto.conf" "$dir/auto.conf"
echo "shared_preload_libraries = ''" >> "$pg/postgresql.auto.conf"
restart
for db in empty hist; do
    R[locked-first-$db]=$(LAST=$(charge student2) ms -d "$db")
    R[locked-tps-$db]=$(as_pg pgbench -n -h "$dir" -p "$port" -U postgres -c 1 -t 200 -f "$bench/c_shared.sql" "$db" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')
done
cp "$dir/auto.conf" "$pg/postgresql.auto.conf"
restart

seal_all
say "streaming standby (pg_basebackup)"
as_pg pg_basebackup -h "$dir" -p "$port" -U postgres -D "$dir/standby" -R -X stream >/dev/null
{
    echo "port = $standby_port"
    echo "hot_standby = on"
    echo "huge_pages = try"     # the primary's reservation is the primary's
} >> "$dir/standby/postgresql.conf"
as_pg pg_ctl -D "$dir/standby" -l "$dir/standby.log" -w start >/dev/null
sps() { as_pg psql -X -q -h "$dir" -p "$standby_port" -U postgres "$@"; }
for db in empty hist; do
    q="SELECT * FROM quota.quota_check('model-2', 'student3')"
    R[standby-check-$db]=$(sps -d "$db" -c "$q" -c '\timing on' -c "$q" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
    q="SELECT * FROM quota.pool_status WHERE pool = 'Students Pool'"
    R[standby-status-$db]=$(sps -d "$db" -c "$q" -c '\timing on' -c "$q" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
done
stop_standby

row() { printf '| %-58s | %12s | %12s |\n' "$1" "${R[$2-empty]:-}" "${R[$2-hist]:-}"; }
say "results: $rows charges over 365 days vs an empty ledger (times in ms)"
printf '| %-58s | %12s | %12s |\n' "measure" "empty" "$rows rows"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})"
row "first charge after a restart, Students Pool (warm cache)" warm-first
row "first charge after a restart, a personal pool (warm)" warm-personal
row "pool_status of an untouched pool after a restart (warm)" warm-status
row "first charge after a restart, Students Pool (cold cache)" cold-first
row "first charge after a restart, a personal pool (cold)" cold-personal
row "pool_status of an untouched pool after a restart (cold)" cold-status
row "first charge after a restart, with a monthly pool cap (warm)" cap-first
row "  the month of the Students Pool summed from the ledger" cap-ledger
row "pool_status, Students Pool (second call in a session)" status
row "usage_daily, Students Pool, a week (second call)" usage7
row "usage_daily, Students Pool, a month (second call)" usage30
row "usage_daily, Students Pool, all days (second call)" usageall
row "one Prometheus scrape (the seven metric queries, pg_monitor)" scrape
row "charges/s, 8 clients (tps)" tps
row "locked mode: first charge" locked-first
row "locked mode: charges/s, 1 client (tps)" locked-tps
row "standby: quota_check (second call in a session)" standby-check
row "standby: pool_status, Students Pool (second call)" standby-status
echo "charges/s ratio hist/empty: $(printf '%.2f' "$(echo "${R[tps-hist]} / ${R[tps-empty]}" | bc -l)")"
echo "locked mode ratio hist/empty: $(printf '%.2f' "$(echo "${R[locked-tps-hist]} / ${R[locked-tps-empty]}" | bc -l)")"
echo "first seal of the loaded history: ${seal_hist} ms (empty: ${seal_empty} ms)"
