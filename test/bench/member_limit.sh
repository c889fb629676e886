#!/usr/bin/env bash
# What a member limit costs a charge as the member's period grows (issue
# 27, "the member's period use" in the member slot): one member charges a
# pool with a member limit (L) and a pool without (N), one client, after
# the member has H charges in this period on each, for each H of
# QUOTA_MEMBER_HISTORY (default "0 10000 50000"). Prints the mean charge
# latency on both pools and their ratio L/N. With the member's period use
# in the member slot (member_caps.c) L/N stays flat; a build that sums the
# member's period from the ledger per charge (before 0.3's member slots,
# or without a slot: locked mode, quota.max_members used up) grows with H.
#
#   bash test/bench/member_limit.sh
#   QUOTA_PG_BIN=/tmp/m27-pg-after/usr/lib/postgresql/15/bin bash test/bench/member_limit.sh
#
# QUOTA_PG_BIN: an installation with quota in it (private-build.sh prints
# one); without it the system's, built and installed from this tree.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

if [ -z "${QUOTA_PG_BIN:-}" ]; then
    ensure_packages
    build_install
else
    export PATH="$QUOTA_PG_BIN:$PATH"
fi
history=${QUOTA_MEMBER_HISTORY:-0 10000 50000}
n=${QUOTA_MEMBER_CHARGES:-2000}
port=${QUOTA_BENCH_PORT:-55623}
export QUOTA_BENCH_HUGE_PAGES=${QUOTA_BENCH_HUGE_PAGES:-off}

say "temporary instance on port $port"
bench_instance "$port"
bench_psql -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION quota;
SELECT quota.quota_set_model('m', 0, 1);
SELECT quota.quota_create_pool(p, 1000000000, reset_cron => '0 1 * * 5',
                               reset_timezone => 'Asia/Hong_Kong',
                               member_limit => CASE p WHEN 'L' THEN 1000000 END)
  FROM unnest(ARRAY['L', 'N']) p;
SELECT quota.quota_set_user('a', '{}');
SELECT quota.quota_add_member(p, 'a') FROM unnest(ARRAY['L', 'N']) p;
-- a member's history on both pools, a commit every 500 charges
CREATE PROCEDURE public.history(n int, tag text) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. n LOOP
        PERFORM quota.quota_charge('m', 0, 1, tag || '-L-' || i, user_id => 'a', pool => 'L');
        PERFORM quota.quota_charge('m', 0, 1, tag || '-N-' || i, user_id => 'a', pool => 'N');
        IF i % 500 = 0 THEN COMMIT; END IF;
    END LOOP;
END $$;
SQL
for p in L N; do
    printf '%s\n' '\set r random(1, 1000000000000)' \
        "SELECT count(*) FROM quota.quota_charge('m', 0, 1, 'x-' || :r, user_id => 'a', pool => '$p');" \
        > "$BENCH_DIR/$p.sql"
done
chown -R "$PG_USER": "$BENCH_DIR"

done_so_far=0
for h in $history; do
    if [ "$h" -gt "$done_so_far" ]; then
        bench_psql -v ON_ERROR_STOP=1 -c "CALL public.history($((h - done_so_far)), 'h$h')" >/dev/null
        done_so_far=$h
    fi
    declare -A lat=()
    for p in L N; do
        lat[$p]=$(as_pg pgbench -n -M prepared -c 1 -t "$n" -f "$BENCH_DIR/$p.sql" \
                      -h "$BENCH_DIR" -p "$port" -U postgres postgres 2>&1 |
                  awk '/latency average/ {print $4}')
    done
    used=$(bench_psql -At -c "SELECT count(*) FROM quota.ledger WHERE pool = 'L' AND user_id = 'a' AND kind = 'charge'")
    echo "  the member's charges on L this period: $used; mean charge latency L ${lat[L]} ms, N ${lat[N]} ms, L/N $(awk "BEGIN{printf \"%.2f\", ${lat[L]} / ${lat[N]}}")"
done
